//! `mp_pipe_*` and `mp_wait`: Python's `Pipe()` / `Connection` /
//! `Client()` / `connection.wait`.

use super::boundary::{
    boundary, boundary_or, bytes_arg, bytes_arg_mut, check_not_null, endpoint_args, free_handle, into_handle,
    len_status, split_messages, status_of, try_arg, try_status, with_handle, Castable, Handle,
};
use super::bytes::mp_buf;
use super::json::{cbor_of_json_arg, json_of_received};
use super::status::{mp_status, set_last_error, MP_OK};
use super::timeout_of_ms;
use mpipc::error::{Error, ErrorKind};
use mpipc::pipe::{self, Connection};
use std::ffi::c_char;
use std::os::fd::{FromRawFd, OwnedFd};

/// One end of a pipe or socket connection carrying whole messages, framed
/// as Python's `multiprocessing.connection` frames them.
///
/// Created by `mp_pipe_new`, `mp_pipe_from_fd`, `mp_pipe_connect` or
/// `mp_listener_accept`; freed by `mp_pipe_close`. Thread-safe: sends are
/// serialised with each other and receives with each other, so one thread
/// may send while another receives.
///
/// Received bytes are buffered: a message may wait in the buffer while the
/// descriptor is not readable. `mp_pipe_poll` and `mp_wait` account for it;
/// an event loop watching `mp_pipe_fileno` should, once it is readable,
/// receive with timeout 0 until `MP_E_EMPTY`.
///
/// Under the hood: `Box<Connection>` owning the descriptor.
///
/// Methods: `mp_pipe_new`, `mp_pipe_from_fd`, `mp_pipe_connect`,
/// `mp_pipe_connect_ex`, `mp_pipe_send`, `mp_pipe_recv`,
/// `mp_pipe_recv_timeout`, `mp_pipe_recv_into`, `mp_pipe_poll`,
/// `mp_pipe_fileno`, `mp_pipe_has_buffered`, `mp_pipe_set_max_frame`,
/// `mp_pipe_set_spin`, `mp_wait`, `mp_pipe_close`; JSON (docs/TYPES.md,
/// "JSON bridge"): `mp_pipe_send_json`, `mp_pipe_recv_json`.
pub struct mp_pipe {
    _private: [u8; 0],
}

impl Castable for mp_pipe {
    type Rust = Connection;
}

/// Creates a connected pair of ends (Python's `Pipe(duplex)`): a Unix
/// socketpair when `duplex`, else a pipe whose `*a` end only receives and
/// `*b` end only sends.
///
/// # Returns
/// `MP_OK` with both ends (free each with `mp_pipe_close`); `MP_E_IO`.
///
/// # Safety
/// `a` and `b` are valid.
#[no_mangle]
pub unsafe extern "C" fn mp_pipe_new(duplex: bool, a: *mut *mut mp_pipe, b: *mut *mut mp_pipe) -> mp_status {
    boundary(|| {
        check_not_null!(a, b);
        let (x, y) = try_status!(pipe::pipe(duplex));
        // SAFETY: a and b are non-NULL and writable.
        unsafe {
            *a = into_handle::<mp_pipe>(x);
            *b = into_handle::<mp_pipe>(y);
        }
        MP_OK
    })
}

/// Wraps a descriptor (a socket or a pipe end, e.g. inherited from the
/// parent process). Takes ownership of `fd` on every path: it is closed on
/// failure, and by `mp_pipe_close` on success.
///
/// # Returns
/// `MP_OK`; `MP_E_INVAL` (negative fd, or neither a socket nor a pipe).
///
/// # Safety
/// `fd` is an open descriptor owned by the caller, not used afterwards;
/// `out` is valid.
#[no_mangle]
pub unsafe extern "C" fn mp_pipe_from_fd(fd: std::ffi::c_int, out: *mut *mut mp_pipe) -> mp_status {
    boundary(|| {
        if fd < 0 {
            return set_last_error(&Error::new(ErrorKind::Invalid, "negative file descriptor"));
        }
        // SAFETY: the caller hands over ownership of an open descriptor.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        check_not_null!(out);
        let c = try_status!(Connection::from_owned_fd(owned));
        // SAFETY: out is non-NULL and writable.
        unsafe { *out = into_handle::<mp_pipe>(c) };
        MP_OK
    })
}

/// Connects to a listener (mpipc's or Python's `Listener`) at `address`
/// (`unix:/path`, `unix:@name`, `tcp:host:port`) and, if `keylen > 0`,
/// runs the HMAC handshake in both directions, all within `timeout_ms`
/// (with 0 or a negative timeout, the handshake is still bounded by 10 s).
/// TCP requires an authkey. A Unix listener whose backlog stays full is
/// retried until the deadline (`MP_E_TIMEOUT`).
///
/// # Returns
/// `MP_OK`; `MP_E_AUTH` (keys differ); `MP_E_TIMEOUT`; `MP_E_NOTFOUND`
/// (nobody listens); `MP_E_INVAL` (bad address, TCP without key: see
/// `mp_pipe_connect_ex` to opt in).
///
/// # Safety
/// `address` is a NUL-terminated string; `authkey` points to `keylen`
/// bytes (NULL if 0); `out` is valid.
#[no_mangle]
pub unsafe extern "C" fn mp_pipe_connect(
    address: *const c_char,
    authkey: *const u8,
    keylen: usize,
    timeout_ms: i64,
    out: *mut *mut mp_pipe,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { mp_pipe_connect_ex(address, authkey, keylen, timeout_ms, 0, out) }
}

/// `mp_pipe_connect_ex` flag: connect over TCP without an authkey, to a
/// listener bound with `MP_LISTENER_ALLOW_TCP_WITHOUT_AUTHKEY` (or a stock
/// Python `Listener` without one). Nothing then proves who is at either
/// end: use it only on a network where every host that can reach the port
/// is trusted (docs/SECURITY.md). Both sides must opt in.
pub const MP_PIPE_CONNECT_ALLOW_TCP_WITHOUT_AUTHKEY: u32 = 1;

/// `mp_pipe_connect` with `flags` (`MP_PIPE_CONNECT_ALLOW_TCP_WITHOUT_AUTHKEY`;
/// 0 behaves exactly as `mp_pipe_connect`).
///
/// # Returns
/// As `mp_pipe_connect`; `MP_E_INVAL` also for an unknown flag.
///
/// # Safety
/// As `mp_pipe_connect`.
#[no_mangle]
pub unsafe extern "C" fn mp_pipe_connect_ex(
    address: *const c_char,
    authkey: *const u8,
    keylen: usize,
    timeout_ms: i64,
    flags: u32,
    out: *mut *mut mp_pipe,
) -> mp_status {
    boundary(|| {
        check_not_null!(out);
        if flags & !MP_PIPE_CONNECT_ALLOW_TCP_WITHOUT_AUTHKEY != 0 {
            return set_last_error(&Error::new(ErrorKind::Invalid, format!("unknown flags {flags:#x}")));
        }
        // SAFETY: per the contract.
        let (address, mut opts) = try_arg!(unsafe { endpoint_args(address, authkey, keylen) });
        opts.allow_tcp_without_authkey = flags & MP_PIPE_CONNECT_ALLOW_TCP_WITHOUT_AUTHKEY != 0;
        let c = try_status!(pipe::connect(address, &opts, timeout_of_ms(timeout_ms)));
        // SAFETY: out is non-NULL and writable.
        unsafe { *out = into_handle::<mp_pipe>(c) };
        MP_OK
    })
}

/// Sends one message (Python's `send_bytes`); large messages are streamed.
///
/// # Returns
/// `MP_OK` once the kernel holds every byte; `MP_E_EOF` (the peer closed);
/// `MP_E_INVAL` (a receive-only pipe end).
///
/// # Safety
/// `p` is a live handle; `data` points to `len` bytes (NULL if 0).
#[no_mangle]
pub unsafe extern "C" fn mp_pipe_send(p: *mut mp_pipe, data: *const u8, len: usize) -> mp_status {
    // SAFETY: p is a live handle or NULL (checked).
    unsafe {
        with_handle(p, |c| {
            let msg = try_arg!(bytes_arg(data, len, "data"));
            status_of(c.send_bytes(msg))
        })
    }
}

/// Sends `n` messages in as few syscalls as possible: the throughput path
/// for small messages. The messages lie back to back in `data`; message `i`
/// is `lens[i]` bytes. The peer receives them as `n` separate messages, in
/// order, exactly as after `n` calls of `mp_pipe_send`.
///
/// # Returns
/// `MP_OK` once all are sent; `MP_E_EOF`; `MP_E_INVAL`.
///
/// # Safety
/// `p` live; `lens` holds `n` lengths; `data` holds their sum in bytes.
#[no_mangle]
pub unsafe extern "C" fn mp_pipe_send_many(
    p: *mut mp_pipe,
    data: *const u8,
    lens: *const usize,
    n: usize,
) -> mp_status {
    // SAFETY: p is a live handle or NULL (checked).
    unsafe {
        with_handle(p, |c| {
            let msgs = try_arg!(split_messages(data, lens, n));
            status_of(c.send_many(&msgs))
        })
    }
}

/// Receives one message, blocking.
///
/// # Returns
/// `MP_OK` with the message in `*out` (free with `mp_buf_free`); `MP_E_EOF`
/// once the peer closed and nothing is left; `MP_E_TOOBIG` (a frame over
/// the maximum: refused before allocating, the connection is then
/// unusable); `MP_E_CORRUPT` (not a valid frame).
///
/// # Safety
/// `p` live; `out` valid.
#[no_mangle]
pub unsafe extern "C" fn mp_pipe_recv(p: *mut mp_pipe, out: *mut mp_buf) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { mp_pipe_recv_timeout(p, out, -1) }
}

/// Receives one message, waiting at most `timeout_ms` for it to start.
///
/// # Returns
/// As `mp_pipe_recv`, plus `MP_E_EMPTY` when nothing arrived in time.
///
/// # Safety
/// `p` live; `out` valid.
#[no_mangle]
pub unsafe extern "C" fn mp_pipe_recv_timeout(p: *mut mp_pipe, out: *mut mp_buf, timeout_ms: i64) -> mp_status {
    // SAFETY: p is a live handle or NULL (checked).
    unsafe {
        with_handle(p, |c| {
            check_not_null!(out);
            let v = try_status!(c.recv_bytes_timeout(timeout_of_ms(timeout_ms)));
            *out = mp_buf::from_vec(v);
            MP_OK
        })
    }
}

/// Receives one message into the caller's buffer.
///
/// # Returns
/// `MP_OK` with the length in `*out_len`; `MP_E_BUFSIZE` if `cap` is too
/// small: the message is kept and `*out_len` holds the size needed;
/// otherwise as `mp_pipe_recv_timeout`.
///
/// # Safety
/// `p` live; `buf` has `cap` writable bytes (NULL if 0); `out_len` valid.
#[no_mangle]
pub unsafe extern "C" fn mp_pipe_recv_into(
    p: *mut mp_pipe,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
    timeout_ms: i64,
) -> mp_status {
    // SAFETY: p is a live handle or NULL (checked).
    unsafe {
        with_handle(p, |c| {
            check_not_null!(out_len);
            let buf = try_arg!(bytes_arg_mut(buf, cap, "buf"));
            len_status(c.recv_into(buf, timeout_of_ms(timeout_ms)), out_len)
        })
    }
}

/// Writes to `*ready` whether a message (or EOF) can be received, waiting
/// at most `timeout_ms`.
///
/// # Safety
/// `p` live; `ready` valid.
#[no_mangle]
pub unsafe extern "C" fn mp_pipe_poll(p: *mut mp_pipe, timeout_ms: i64, ready: *mut bool) -> mp_status {
    // SAFETY: p is a live handle or NULL (checked).
    unsafe {
        with_handle(p, |c| {
            check_not_null!(ready);
            *ready = try_status!(c.poll(timeout_of_ms(timeout_ms)));
            MP_OK
        })
    }
}

/// The descriptor, for event loops; -1 if `p` is NULL. Owned by the handle:
/// do not close it.
///
/// # Safety
/// `p` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn mp_pipe_fileno(p: *const mp_pipe) -> std::ffi::c_int {
    boundary_or(-1, || {
        if p.is_null() {
            return -1;
        }
        // SAFETY: p is a live handle per the contract.
        unsafe { (*p.cast::<Handle<Connection>>()).inner().fileno() }
    })
}

/// Writes to `*out` whether received bytes wait in this handle's own
/// buffer (read from the descriptor but not yet returned by a receive), or
/// the stream is broken; false for a send-only end. A program handing the
/// descriptor to another process (e.g. Python pickling a Connection for a
/// spawned child) checks it first: buffered bytes would stay behind, and
/// the other process would start reading mid-stream.
///
/// # Returns
/// `MP_OK`; `MP_E_NULL`.
///
/// # Safety
/// `p` live; `out` valid.
#[no_mangle]
pub unsafe extern "C" fn mp_pipe_has_buffered(p: *const mp_pipe, out: *mut bool) -> mp_status {
    // SAFETY: p is a live handle or NULL (checked).
    unsafe {
        with_handle(p, |c| {
            check_not_null!(out);
            // A send-only end has no receive buffer: nothing to lose.
            *out = c.has_buffered().unwrap_or(false);
            MP_OK
        })
    }
}

/// Sets the largest incoming frame accepted (default 1 GiB).
///
/// # Safety
/// `p` live.
#[no_mangle]
pub unsafe extern "C" fn mp_pipe_set_max_frame(p: *mut mp_pipe, max_bytes: u64) -> mp_status {
    // SAFETY: p is a live handle or NULL (checked).
    unsafe {
        with_handle(p, |c| {
            c.set_max_frame(max_bytes);
            MP_OK
        })
    }
}

/// Sets how long a receive on this connection busy-polls for a message
/// before it sleeps in the kernel, in microseconds (default 0: never spin).
/// Spinning cuts round-trip latency when the peer answers within
/// microseconds, at the cost of CPU while waiting; the budget shrinks by
/// itself when messages come slowly. It happens only while a CPU is idle:
/// beside CPU-bound processes a receive sleeps at once (see
/// docs/DECISIONS.md, "Spinning only while a CPU is idle").
///
/// # Safety
/// `p` live.
#[no_mangle]
pub unsafe extern "C" fn mp_pipe_set_spin(p: *mut mp_pipe, spin_us: u32) -> mp_status {
    // SAFETY: p is a live handle or NULL (checked).
    unsafe {
        with_handle(p, |c| {
            c.set_spin_us(spin_us);
            MP_OK
        })
    }
}

/// Waits until at least one of `pipes[0..n]` has a message (or EOF) to
/// receive, at most `timeout_ms` (`multiprocessing.connection.wait`).
/// Writes the indexes of the ready ones to `ready_idx` (room for `n`) and
/// their number to `*nready`; 0 when the time ran out (not an error, as in
/// Python).
///
/// # Safety
/// `pipes` holds `n` live handles; `ready_idx` has room for `n`; `nready`
/// valid.
#[no_mangle]
pub unsafe extern "C" fn mp_wait(
    pipes: *const *mut mp_pipe,
    n: usize,
    timeout_ms: i64,
    ready_idx: *mut usize,
    nready: *mut usize,
) -> mp_status {
    boundary(|| {
        check_not_null!(nready);
        // SAFETY: per the contract, pipes holds n handles and ready_idx has n slots.
        let handles = try_arg!(unsafe { bytes_arg_mut(pipes.cast_mut(), n, "pipes") });
        // SAFETY: as above.
        let out = try_arg!(unsafe { bytes_arg_mut(ready_idx, n, "ready_idx") });
        let mut conns = Vec::with_capacity(n);
        for &h in handles.iter() {
            if h.is_null() {
                return super::boundary::null_arg("pipes[i]");
            }
            // SAFETY: each non-NULL entry is a live handle per the contract.
            conns.push(unsafe { (*h.cast::<Handle<Connection>>()).inner() });
        }
        let ready = try_status!(pipe::wait(&conns, timeout_of_ms(timeout_ms)));
        out[..ready.len()].copy_from_slice(&ready);
        // SAFETY: nready is non-NULL.
        unsafe { *nready = ready.len() };
        MP_OK
    })
}

/// Closes the connection (the peer then sees EOF) and frees the handle.
/// NULL is a no-op.
///
/// # Safety
/// `p` is NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mp_pipe_close(p: *mut mp_pipe) {
    // SAFETY: per the contract.
    boundary_or((), || unsafe { free_handle(p) })
}

/// Sends a JSON text as one CBOR message (Python's `send`): converted as
/// `mp_json_to_cbor` converts it (docs/TYPES.md, "JSON bridge") before
/// anything is sent, so a Python peer's `recv()` gives the dict, list, ...
/// the text spells.
///
/// # Arguments
/// - `json`: the text, UTF-8 and NUL-terminated.
///
/// # Returns
/// `MP_OK`; `MP_E_INVAL` (not JSON, an extended form with the wrong
/// content, nesting deeper than 128: nothing is sent); `MP_E_TYPE` (a
/// PICKLE tag); otherwise as `mp_pipe_send`.
///
/// # Safety
/// `p` is a live handle; `json` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mp_pipe_send_json(p: *mut mp_pipe, json: *const c_char) -> mp_status {
    // SAFETY: p is a live handle or NULL (checked); json per the contract.
    unsafe {
        with_handle(p, |c| {
            let cbor = try_arg!(cbor_of_json_arg(json, "json"));
            status_of(c.send_bytes(&cbor))
        })
    }
}

/// Receives one message, waiting at most `timeout_ms` for it to start,
/// and gives it as JSON text, converted as `mp_cbor_to_json` converts it
/// (a Python peer's `send({"id": 1})` reads `{"id":1}`).
///
/// # Arguments
/// - `out_json`: receives the text on `MP_OK`, UTF-8 and NUL-terminated;
///   free it with `mp_json_free`.
///
/// # Returns
/// `MP_OK`; `MP_E_CORRUPT` (the message is not valid CBOR) and
/// `MP_E_TYPE` (it holds a Python pickle, or an integer of more than 4300
/// digits): the message is consumed all the same, as the bindings' decode
/// errors consume it; otherwise as `mp_pipe_recv_timeout`.
///
/// # Safety
/// `p` live; `out_json` valid.
#[no_mangle]
pub unsafe extern "C" fn mp_pipe_recv_json(p: *mut mp_pipe, out_json: *mut *mut c_char, timeout_ms: i64) -> mp_status {
    // SAFETY: p is a live handle or NULL (checked); out_json per the contract.
    unsafe {
        with_handle(p, |c| {
            check_not_null!(out_json);
            let msg = try_status!(c.recv_bytes_timeout(timeout_of_ms(timeout_ms)));
            json_of_received(&msg, "message", out_json)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::mp_buf_free;
    use crate::listener::*;
    use crate::status::*;
    use std::ptr::{null, null_mut};

    #[test]
    fn pipe_calls_as_c_would() {
        // SAFETY: every pointer is NULL (on purpose) or valid.
        unsafe {
            assert_eq!(mp_pipe_new(true, null_mut(), null_mut()), MP_E_NULL);
            let (mut a, mut b) = (null_mut(), null_mut());
            assert_eq!(mp_pipe_new(true, &mut a, &mut b), MP_OK);
            assert!(mp_pipe_fileno(a) >= 0);
            assert_eq!(mp_pipe_fileno(null()), -1);
            assert_eq!(mp_pipe_send(a, b"hey".as_ptr(), 3), MP_OK);
            assert_eq!(mp_pipe_send(a, null(), 3), MP_E_NULL);
            let mut ready = false;
            assert_eq!(mp_pipe_poll(b, 1000, &mut ready), MP_OK);
            assert!(ready);
            let mut in_kernel = true;
            assert_eq!(mp_pipe_has_buffered(b, &mut in_kernel), MP_OK);
            assert!(!in_kernel, "poll reads nothing: the message is still in the kernel");
            let mut small = [0u8; 1];
            let mut n = 0usize;
            assert_eq!(mp_pipe_recv_into(b, small.as_mut_ptr(), 1, &mut n, 0), MP_E_BUFSIZE);
            assert_eq!(n, 3);
            let pipes = [a, b];
            let mut idx = [9usize; 2];
            let mut nready = 0usize;
            assert_eq!(mp_wait(pipes.as_ptr(), 2, 0, idx.as_mut_ptr(), &mut nready), MP_OK);
            assert_eq!((nready, idx[0]), (1, 1));
            let mut buffered = false;
            assert_eq!(mp_pipe_has_buffered(b, null_mut()), MP_E_NULL);
            assert_eq!(mp_pipe_has_buffered(null(), &mut buffered), MP_E_NULL);
            assert_eq!(mp_pipe_has_buffered(b, &mut buffered), MP_OK);
            assert!(buffered, "the refused recv_into read the message into the handle");
            let mut m = mp_buf { ptr: null_mut(), len: 0 };
            assert_eq!(mp_pipe_recv(b, &mut m), MP_OK);
            assert_eq!(std::slice::from_raw_parts(m.ptr, m.len), b"hey");
            assert_eq!(mp_pipe_has_buffered(b, &mut buffered), MP_OK);
            assert!(!buffered);
            mp_buf_free(&mut m);
            assert_eq!(mp_pipe_recv_timeout(b, &mut m, 0), MP_E_EMPTY);
            assert_eq!(mp_pipe_set_max_frame(b, 2), MP_OK);
            assert_eq!(mp_pipe_send(a, b"toolong".as_ptr(), 7), MP_OK);
            assert_eq!(mp_pipe_recv(b, &mut m), MP_E_TOOBIG);
            mp_pipe_close(a);
            mp_pipe_close(b);
            mp_pipe_close(null_mut());

            let mut p = null_mut();
            assert_eq!(mp_pipe_from_fd(-1, &mut p), MP_E_INVAL);
            let devnull = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
            assert_eq!(mp_pipe_from_fd(devnull, &mut p), MP_E_INVAL, "consumed and closed on error");
            assert_eq!(libc::fcntl(devnull, libc::F_GETFD), -1, "the descriptor was closed");
        }
    }

    #[test]
    fn listener_calls_as_c_would() {
        let addr = std::ffi::CString::new(format!("unix:@mpipc-ffi-{}", std::process::id())).unwrap();
        // SAFETY: every pointer is NULL (on purpose) or valid.
        unsafe {
            let mut l = null_mut();
            assert_eq!(mp_listener_bind(null(), null(), 0, &mut l), MP_E_NULL);
            assert_eq!(mp_listener_bind(c"tcp:127.0.0.1:0".as_ptr(), null(), 0, &mut l), MP_E_INVAL);
            assert_eq!(mp_listener_bind_ex(c"tcp:127.0.0.1:0".as_ptr(), null(), 0, 8, &mut l), MP_E_INVAL);
            assert_eq!(
                mp_listener_bind_ex(
                    c"tcp:127.0.0.1:0".as_ptr(),
                    null(),
                    0,
                    MP_LISTENER_ALLOW_TCP_WITHOUT_AUTHKEY,
                    &mut l
                ),
                MP_OK
            );
            let mut need = 0usize;
            assert_eq!(mp_listener_address(l, null_mut(), 0, &mut need), MP_E_BUFSIZE);
            let mut buf = vec![0 as c_char; need];
            let mut len = 0usize;
            assert_eq!(mp_listener_address(l, buf.as_mut_ptr(), need, &mut len), MP_OK);
            assert_eq!(len, need - 1);
            // A keyless TCP client: refused unless it opts in too.
            let mut c = null_mut();
            assert_eq!(mp_pipe_connect(buf.as_ptr(), null(), 0, 5000, &mut c), MP_E_INVAL);
            assert_eq!(mp_pipe_connect_ex(buf.as_ptr(), null(), 0, 5000, 8, &mut c), MP_E_INVAL);
            assert!(c.is_null());
            let tcp = std::ffi::CStr::from_ptr(buf.as_ptr()).to_owned();
            let t = std::thread::spawn(move || {
                let mut p = null_mut();
                let s = mp_pipe_connect_ex(
                    tcp.as_ptr(),
                    null(),
                    0,
                    5000,
                    MP_PIPE_CONNECT_ALLOW_TCP_WITHOUT_AUTHKEY,
                    &mut p,
                );
                assert_eq!(mp_pipe_send(p, b"plain".as_ptr(), 5), MP_OK);
                mp_pipe_close(p);
                s
            });
            assert_eq!(mp_listener_accept(l, 5000, &mut c), MP_OK);
            assert_eq!(t.join().unwrap(), MP_OK);
            let mut m = mp_buf { ptr: null_mut(), len: 0 };
            assert_eq!(mp_pipe_recv(c, &mut m), MP_OK);
            assert_eq!(std::slice::from_raw_parts(m.ptr, m.len), b"plain");
            mp_buf_free(&mut m);
            mp_pipe_close(c);
            mp_listener_close(l);

            assert_eq!(mp_listener_bind(addr.as_ptr(), b"k".as_ptr(), 1, &mut l), MP_OK);
            let mut c = null_mut();
            assert_eq!(mp_listener_accept(l, 0, &mut c), MP_E_TIMEOUT);
            let a2 = addr.clone();
            let t = std::thread::spawn(move || {
                let mut p = null_mut();
                let s = mp_pipe_connect(a2.as_ptr(), b"k".as_ptr(), 1, 5000, &mut p);
                mp_pipe_close(p);
                s
            });
            assert_eq!(mp_listener_accept(l, 5000, &mut c), MP_OK);
            assert_eq!(t.join().unwrap(), MP_OK);
            mp_pipe_close(c);
            mp_listener_close(l);
            mp_listener_close(null_mut());
            assert_eq!(mp_pipe_connect(c"unix:@mpipc-nobody-here".as_ptr(), null(), 0, 100, &mut c), MP_E_NOTFOUND);
        }
    }
}
