//! Entry points for the fuzz targets in `fuzz/` (docs/FUZZING.md); compiled
//! only with the `fuzzing` feature, and not part of the supported API.
//!
//! Each function drives a *real* code path with hostile input: the
//! authentication handshake and the manager's connection loop run on one
//! end of a socketpair whose other end carries the fuzzer's bytes, and
//! segment files are written to `/dev/shm` byte for byte before the
//! ordinary `open` attaches to them. Nothing here re-implements a decoder.

use crate::error::{Error, ErrorKind, Result};
use crate::manager::protocol::Reply;
use crate::manager::server::{serve_connection, Shared, CONN_STACK};
use crate::os::RobustMutex;
use crate::pipe::{pipe, Connection};
use crate::segment::{segment_path, SegmentKind};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// `deliver_challenge` of the authentication handshake (our side
/// challenges the peer), as the listener and the manager server run it.
pub fn deliver_challenge(conn: &Connection, key: &[u8], timeout: Duration) -> Result<()> {
    crate::pipe::auth::deliver_challenge(conn, key, timeout)
}

/// `answer_challenge` of the authentication handshake (our side proves it
/// knows the key), as `connect` and the manager client run it.
pub fn answer_challenge(conn: &Connection, key: &[u8], timeout: Duration) -> Result<()> {
    crate::pipe::auth::answer_challenge(conn, key, timeout)
}

/// A Unix stream socketpair as two `OwnedFd`s (the hostile end is used
/// raw, so the fuzzer controls every byte on the wire).
pub fn socketpair() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } != 0 {
        return Err(Error::last_os_error("socketpair"));
    }
    // SAFETY: both descriptors were just created and belong to nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Ends the writing direction of a socket (the reader then sees EOF once
/// it has read what was sent).
pub fn shutdown_write(fd: &OwnedFd) {
    // SAFETY: fd is an open socket; shutdown(2) only changes its state.
    unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_WR) };
}

/// What the manager server answered to one client byte stream.
#[derive(Debug)]
pub struct ManagerSession {
    /// The reply frames, in order, decoded (every frame the server sends
    /// must be a well-formed reply: a decoding failure is an `Err` here).
    pub replies: Vec<Result<Reply>>,
    /// Request frames the server counted.
    pub requests: u64,
}

/// Runs the manager's connection loop (`serve_connection`, the code a
/// real server runs for each authenticated client, on a thread with the
/// same stack size) over a socketpair whose client end sends `stream` and
/// then closes its writing direction; returns every reply.
///
/// The server is marked as shutting down before the loop starts, so a
/// request that would block (a queue `get` on an empty queue, a lock held
/// elsewhere) answers `MP_E_SHUTDOWN` at once instead of hanging the fuzzer;
/// everything else (decoding, dispatch, every non-blocking method, the
/// reply encoding and batching) runs as in production.
pub fn manager_session(stream: &[u8]) -> Result<ManagerSession> {
    let (server_end, client) = socketpair()?;
    let conn = Connection::from_owned_fd(server_end)?;
    conn.set_max_frame(crate::manager::MAX_REQUEST);
    let shared = std::sync::Arc::new(Shared::default());
    shared.stopping.store(true, Ordering::Relaxed);
    let s2 = shared.clone();
    let server = std::thread::Builder::new()
        .name("mpipc-fuzz-conn".into())
        .stack_size(CONN_STACK)
        .spawn(move || serve_connection(1, &conn, &s2))
        .map_err(|e| Error::from_io("spawn", e))?;
    let mut client = std::os::unix::net::UnixStream::from(client);
    // Write on another thread: the server may answer (and fill its send
    // buffer) before it has read everything, and this thread must be
    // reading replies by then.
    let input = stream.to_vec();
    let writer_sock = client.try_clone().map_err(|e| Error::from_io("dup", e))?;
    let writer = std::thread::spawn(move || {
        let mut w = writer_sock;
        // A server that closed early (a refused frame) gives EPIPE: fine.
        let _ = w.write_all(&input);
        let _ = w.shutdown(std::net::Shutdown::Write);
    });
    let mut out = Vec::new();
    let _ = client.read_to_end(&mut out);
    let _ = writer.join();
    server.join().map_err(|_| Error::new(ErrorKind::Io, "the connection thread panicked"))?;
    let mut replies = Vec::new();
    let mut rest = &out[..];
    while !rest.is_empty() {
        if rest.len() < 4 {
            replies.push(Err(Error::new(ErrorKind::Corrupt, "truncated reply header")));
            break;
        }
        let n = u32::from_be_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        if n > 0x7fff_ffff || rest.len() < 4 + n {
            replies.push(Err(Error::new(ErrorKind::Corrupt, "truncated or invalid reply frame")));
            break;
        }
        replies.push(Reply::decode(&rest[4..4 + n]));
        rest = &rest[4 + n..];
    }
    Ok(ManagerSession { replies, requests: shared.requests.load(Ordering::Relaxed) })
}

/// Where a kind keeps its robust mutexes (offsets from the segment start,
/// docs/PROTOCOL.md §2 and §5), so that [`write_segment`] can put healthy
/// locks into an otherwise hostile segment.
fn mutex_offsets(kind: SegmentKind) -> Vec<usize> {
    match kind {
        // Queue: the lock block at 64, then each claim slot (64 bytes from
        // 448) has its `alive` mutex first.
        SegmentKind::Queue => {
            let mut v = vec![64];
            v.extend((0..crate::queue::MAX_CLAIMS).map(|i| 448 + 64 * i));
            v
        }
        // Array and Lock: the lock word's mutex at 64. Barrier and
        // ShareableList: the mutex at 64.
        SegmentKind::Array | SegmentKind::Lock | SegmentKind::Barrier | SegmentKind::ShareableList => vec![64],
        // Condition: the table lock at 64, then each of the 256 slots (56
        // bytes from 112) has its `alive` mutex 16 bytes in.
        SegmentKind::Condition => {
            let mut v = vec![64];
            v.extend((0..crate::sync::COND_MAX_WAITERS).map(|i| 112 + 56 * i + 16));
            v
        }
        SegmentKind::Block | SegmentKind::Semaphore | SegmentKind::Event => vec![],
    }
}

/// The 40 bytes of an unlocked, freshly initialised robust mutex.
fn fresh_mutex(recursive: bool) -> Result<[u8; 40]> {
    #[repr(C, align(64))]
    struct Slot([u8; 64]);
    let mut slot = Slot([0; 64]);
    // SAFETY: a zeroed, aligned, private buffer large enough for the mutex.
    unsafe { RobustMutex::init_with(slot.0.as_mut_ptr().cast(), recursive)? };
    let mut out = [0u8; 40];
    out.copy_from_slice(&slot.0[..40]);
    Ok(out)
}

/// How [`write_segment`] shapes the hostile bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct SegmentShape {
    /// Write a correct common header (magic, the kind's layout version, kind, total
    /// size) over the first 32 bytes, so that the kind's own validation is
    /// reached; otherwise the header is the fuzzer's too.
    pub fix_header: bool,
    /// Overwrite the kind's mutexes with unlocked, initialised ones. A
    /// process that can write the segment can always hold its lock forever
    /// (a denial of service no check can prevent); what must hold is that
    /// every *other* byte is survived.
    pub heal_locks: bool,
    /// Make the healed mutexes recursive (an RLock's, an array's).
    pub recursive: bool,
    /// The file is at least this long (zero-filled past the input).
    pub min_len: usize,
}

impl SegmentShape {
    /// Splits a fuzz input laid out as `[kind][flags][min length / 256]
    /// [segment bytes]` (flags: 1 fix_header, 2 heal_locks, 4 recursive;
    /// the other bits are the target's) into the kind, the flags byte, the
    /// shape and the bytes; `None` when too short.
    pub fn parse(data: &[u8]) -> Option<(SegmentKind, u8, SegmentShape, &[u8])> {
        let [kind, flags, min_len, bytes @ ..] = data else { return None };
        let kind = SegmentKind::ALL[*kind as usize % SegmentKind::ALL.len()];
        let shape = SegmentShape {
            fix_header: flags & 1 != 0,
            heal_locks: flags & 2 != 0,
            recursive: flags & 4 != 0,
            min_len: *min_len as usize * 256,
        };
        Some((kind, *flags, shape, bytes))
    }
}

/// Writes `bytes` as the segment file of `kind` named `name` (replacing
/// any), shaped by `shape`. Returns the file's length.
pub fn write_segment(kind: SegmentKind, name: &str, bytes: &[u8], shape: SegmentShape) -> Result<usize> {
    let path = segment_path(kind, name)?;
    let len = bytes.len().max(shape.min_len);
    let mut data = bytes.to_vec();
    data.resize(len, 0);
    if shape.fix_header && len >= 32 {
        data[0..8].copy_from_slice(&crate::segment::SEGMENT_MAGIC.to_le_bytes());
        // Every kind is at layout version 1 but the queue.
        let version = if kind == SegmentKind::Queue { crate::queue::LAYOUT_VERSION } else { 1 };
        data[8..12].copy_from_slice(&version.to_le_bytes());
        data[12..16].copy_from_slice(&(kind as u32).to_le_bytes());
        data[16..24].copy_from_slice(&(len as u64).to_le_bytes());
    }
    if shape.heal_locks {
        let m = fresh_mutex(shape.recursive)?;
        for off in mutex_offsets(kind) {
            if off + 40 <= len {
                data[off..off + 40].copy_from_slice(&m);
            }
        }
    }
    let _ = std::fs::remove_file(&path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::from_io("create segment file", e))?;
    f.write_all(&data).map_err(|e| Error::from_io("write segment file", e))?;
    Ok(len)
}

/// Removes the segment file of `kind` named `name`, if any.
pub fn remove_segment(kind: SegmentKind, name: &str) {
    if let Ok(path) = segment_path(kind, name) {
        let _ = std::fs::remove_file(path);
    }
}

/// A connected pair for the frame decoder: `(reader, hostile end)`.
pub fn frame_pair() -> Result<(Connection, OwnedFd)> {
    let (a, b) = socketpair()?;
    Ok((Connection::from_owned_fd(a)?, b))
}

/// Both ends of an in-process duplex pipe (for seeding corpora with what
/// the library itself writes).
pub fn duplex() -> Result<(Connection, Connection)> {
    pipe(true)
}
