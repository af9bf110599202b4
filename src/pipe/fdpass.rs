//! Passing a descriptor with one frame over a Unix stream socket
//! (SCM_RIGHTS), beside the [`Connection`](super::Connection) framing: the
//! manager hands a local client the memfd of a dict's read replica this
//! way (src/manager/replica.rs).
//!
//! Both ends bypass the connection's own buffering for that one frame, so
//! each caller makes sure nothing else is in flight on the stream: the
//! server sends the frame when every earlier reply is out, the client
//! reads it when its receive buffer is empty and no other request is
//! outstanding. Plain reads of a stream that carries a descriptor would
//! lose it (the kernel closes it), never misframe the stream.

use crate::error::{Error, ErrorKind, Result};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Whether `sock` is a Unix-domain socket (the only kind that can carry a
/// descriptor; a TCP peer may be on another host).
pub fn is_unix_socket(sock: RawFd) -> bool {
    // SAFETY: getsockname into a zeroed sockaddr_storage of the right size.
    unsafe {
        let mut ss: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        libc::getsockname(sock, (&mut ss as *mut libc::sockaddr_storage).cast(), &mut len) == 0
            && i32::from(ss.ss_family) == libc::AF_UNIX
    }
}

/// Sends `payload` as one frame (the 4-byte big-endian length header of
/// docs/PROTOCOL.md §3, then the bytes) with `fd` attached to its first
/// byte. Blocks until every byte is written.
pub fn send_frame_with_fd(sock: RawFd, payload: &[u8], fd: RawFd) -> Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&n| n <= i32::MAX as u32)
        .ok_or_else(|| Error::new(ErrorKind::TooBig, "a frame with a descriptor must be short"))?;
    let header = len.to_be_bytes();
    // The control message: one descriptor. u64 storage keeps it aligned
    // for cmsghdr.
    let mut cbuf = [0u64; 8];
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    assert!(space <= std::mem::size_of_val(&cbuf));
    let mut iov = [
        libc::iovec { iov_base: header.as_ptr() as *mut libc::c_void, iov_len: 4 },
        libc::iovec { iov_base: payload.as_ptr() as *mut libc::c_void, iov_len: payload.len() },
    ];
    // SAFETY: msghdr points to live iovecs and a control buffer of
    // `space` bytes holding one well-formed cmsghdr (written through the
    // CMSG_* accessors, inside the buffer).
    let n = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = 2;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<RawFd>(), fd);
        loop {
            let n = libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL);
            if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break n;
        }
    };
    if n < 0 {
        return Err(Error::from_io("send (descriptor)", std::io::Error::last_os_error()));
    }
    // The descriptor went with the first byte; the rest, if the kernel
    // took less, follows plainly.
    let mut sent = n as usize;
    let total = 4 + payload.len();
    while sent < total {
        let rest: &[u8] = if sent < 4 { &header[sent..] } else { &payload[sent - 4..] };
        // SAFETY: a live slice.
        let n = unsafe { libc::send(sock, rest.as_ptr().cast(), rest.len(), libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(Error::from_io("send", e));
        }
        sent += n as usize;
    }
    Ok(())
}

/// Receives one frame (at most `max` bytes of payload) and the descriptor
/// that came with it, if any, blocking. [`ErrorKind::Eof`] if the peer
/// closed first, [`ErrorKind::TooBig`] over `max` (the stream is then out
/// of step: the caller drops it).
pub fn recv_frame_with_fd(sock: RawFd, max: usize) -> Result<(Vec<u8>, Option<OwnedFd>)> {
    let mut header = [0u8; 4];
    let mut cbuf = [0u64; 8];
    let mut fd = None;
    let mut got = 0;
    while got < 4 {
        let mut iov = libc::iovec { iov_base: header[got..].as_mut_ptr().cast(), iov_len: 4 - got };
        // SAFETY: msghdr points to a live iovec and control buffer; the
        // kernel writes at most their sizes.
        let (n, msg) = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cbuf.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&cbuf);
            (libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC), msg)
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(Error::from_io("recv (descriptor)", e));
        }
        if n == 0 {
            return Err(Error::new(ErrorKind::Eof, "the peer closed the connection"));
        }
        // SAFETY: walking the control messages the kernel wrote, within
        // msg_controllen, with the CMSG_* accessors.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(c);
                    let count = ((*c).cmsg_len - (data as usize - c as usize)) / std::mem::size_of::<RawFd>();
                    for i in 0..count {
                        let raw = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                        // Every descriptor received is ours to close: keep
                        // the first, close any other.
                        let owned = OwnedFd::from_raw_fd(raw);
                        if fd.is_none() {
                            fd = Some(owned);
                        }
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        got += n as usize;
    }
    let len = i32::from_be_bytes(header);
    if len < 0 || len as usize > max {
        return Err(Error::new(ErrorKind::TooBig, format!("a frame with a descriptor of {len} bytes")));
    }
    let mut payload = vec![0u8; len as usize];
    let mut got = 0;
    while got < payload.len() {
        // SAFETY: reading into the unfilled rest of `payload`.
        let n = unsafe { libc::recv(sock, payload[got..].as_mut_ptr().cast(), payload.len() - got, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(Error::from_io("recv", e));
        }
        if n == 0 {
            return Err(Error::new(ErrorKind::Eof, "the peer closed the connection mid-frame"));
        }
        got += n as usize;
    }
    Ok((payload, fd))
}
