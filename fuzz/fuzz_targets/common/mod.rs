//! Helpers shared by the fuzz targets: an independent reading of the
//! frame format (docs/PROTOCOL.md §3) used as the *oracle* the library's
//! own decoder is checked against, and small input-slicing helpers.
#![allow(dead_code)]

use std::io::Write;
use std::os::fd::OwnedFd;

/// What the frame format says the next receive must produce.
#[derive(Debug, PartialEq, Eq)]
pub enum Expect<'a> {
    /// A whole message, and the number of bytes it took on the wire.
    Message(&'a [u8], usize),
    /// EOF with nothing left (clean) or in the middle of a frame.
    Eof,
    /// A negative length other than -1.
    Corrupt,
    /// A length above `max_frame`.
    TooBig(u64),
}

/// The next frame of `b` for a receiver whose limit is `max_frame`, the
/// stream having been closed after `b`.
pub fn next_frame(b: &[u8], max_frame: u64) -> Expect<'_> {
    if b.len() < 4 {
        return Expect::Eof;
    }
    let short = i32::from_be_bytes(b[..4].try_into().unwrap());
    let (len, hdr) = match short {
        n if n >= 0 => (n as u64, 4usize),
        -1 => {
            if b.len() < 12 {
                return Expect::Eof;
            }
            (u64::from_be_bytes(b[4..12].try_into().unwrap()), 12)
        }
        _ => return Expect::Corrupt,
    };
    if len > max_frame {
        return Expect::TooBig(len);
    }
    if ((b.len() - hdr) as u64) < len {
        return Expect::Eof;
    }
    let len = len as usize;
    Expect::Message(&b[hdr..hdr + len], hdr + len)
}

/// The length a complete, valid header at the start of `b` announces.
pub fn announced(b: &[u8]) -> Option<u64> {
    let short = i32::from_be_bytes(b.get(..4)?.try_into().unwrap());
    match short {
        n if n >= 0 => Some(n as u64),
        -1 => Some(u64::from_be_bytes(b.get(4..12)?.try_into().unwrap())),
        _ => None,
    }
}

/// Frames `body` as Python's `send_bytes` does.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

/// Writes `bytes` to the hostile end and closes its writing direction.
/// The kernel's socket buffer (>= 200 KiB) holds every input the targets
/// accept, so this never blocks.
pub fn send_and_close(fd: &OwnedFd, bytes: &[u8]) {
    let mut s = std::os::unix::net::UnixStream::from(fd.try_clone().expect("dup"));
    s.write_all(bytes).expect("write to the hostile end");
    mpipc::fuzzing::shutdown_write(fd);
}

/// Reads what the library wrote to the hostile end so far (non-blocking).
pub fn drain(fd: &OwnedFd) -> Vec<u8> {
    use std::io::Read;
    let mut s = std::os::unix::net::UnixStream::from(fd.try_clone().expect("dup"));
    s.set_nonblocking(true).expect("nonblocking");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    s.set_nonblocking(false).expect("blocking");
    out
}

/// Splits the stream the library wrote into whole frames.
pub fn split_frames(mut b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Expect::Message(m, used) = next_frame(b, u64::MAX) {
        out.push(m.to_vec());
        b = &b[used..];
    }
    out
}

/// Largest stream the targets write to a socket in one go.
pub const MAX_STREAM: usize = 128 * 1024;
