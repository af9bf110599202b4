//! `mp_listener_*`: Python's `multiprocessing.connection.Listener`.

use super::boundary::{
    boundary, boundary_or, check_not_null, copy_text_out, endpoint_args, free_handle, into_handle, try_arg, try_status,
    with_handle, Castable,
};
use super::pipe::mp_pipe;
use super::status::{mp_status, set_last_error, MP_OK};
use super::timeout_of_ms;
use mpipc::error::{Error, ErrorKind};
use mpipc::pipe::Listener;
use std::ffi::c_char;

/// A listening socket that accepts authenticated connections: Python's
/// `Listener(address, authkey=...)`, speaking its wire format and
/// handshake, so a stock Python `Client` can connect.
///
/// Created by `mp_listener_bind`, freed by `mp_listener_close` (which
/// removes a Unix socket file it created). Thread-safe.
///
/// Under the hood: `Box<Listener>` owning the socket.
///
/// Methods: `mp_listener_bind`, `mp_listener_bind_ex`, `mp_listener_accept`,
/// `mp_listener_address`, `mp_listener_close`.
pub struct mp_listener {
    _private: [u8; 0],
}

impl Castable for mp_listener {
    type Rust = Listener;
}

/// `mp_listener_bind_ex` flag: allow a TCP listener without an authkey.
/// Nothing then authenticates the peers: anyone who can reach the port
/// can connect (a trusted network only). An mpipc client must opt in too
/// (`mp_pipe_connect_ex` with `MP_PIPE_CONNECT_ALLOW_TCP_WITHOUT_AUTHKEY`);
/// a stock Python `Client` without an authkey connects as it is.
pub const MP_LISTENER_ALLOW_TCP_WITHOUT_AUTHKEY: u32 = 1;
/// `mp_listener_bind_ex` flag: on a Unix socket without an authkey, accept
/// peers running as other users too. By default such a listener checks the
/// peer's uid (`SO_PEERCRED`) and refuses anyone but its own user and root
/// (`MP_E_PERM` at accept): an abstract name (`unix:@name`) has no file
/// permissions, so without the check any local user could connect. Use it
/// for a socket shared on purpose (a chmod-ed path, a group), or better, an
/// authkey.
pub const MP_LISTENER_ALLOW_OTHER_USERS: u32 = 2;

/// Binds a listener at `address` (`unix:/path`, `unix:@name`,
/// `tcp:host:port`, port 0 = any). With `keylen > 0`, every accepted peer
/// must pass the HMAC handshake with `authkey`. TCP without an authkey is
/// refused (`MP_E_INVAL`); see `mp_listener_bind_ex` to opt in. A Unix
/// socket file is created mode 0600; without an authkey, peers of other
/// users are refused at accept (see `MP_LISTENER_ALLOW_OTHER_USERS`).
///
/// # Returns
/// `MP_OK`; `MP_E_INVAL`; `MP_E_EXISTS` (address in use / file exists);
/// `MP_E_PERM`; `MP_E_IO`.
///
/// # Safety
/// `address` is a NUL-terminated string; `authkey` points to `keylen`
/// bytes (NULL if 0); `out` is valid.
#[no_mangle]
pub unsafe extern "C" fn mp_listener_bind(
    address: *const c_char,
    authkey: *const u8,
    keylen: usize,
    out: *mut *mut mp_listener,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { mp_listener_bind_ex(address, authkey, keylen, 0, out) }
}

/// `mp_listener_bind` with `flags` (`MP_LISTENER_ALLOW_TCP_WITHOUT_AUTHKEY`,
/// `MP_LISTENER_ALLOW_OTHER_USERS`).
///
/// # Safety
/// As `mp_listener_bind`.
#[no_mangle]
pub unsafe extern "C" fn mp_listener_bind_ex(
    address: *const c_char,
    authkey: *const u8,
    keylen: usize,
    flags: u32,
    out: *mut *mut mp_listener,
) -> mp_status {
    boundary(|| {
        check_not_null!(out);
        if flags & !(MP_LISTENER_ALLOW_TCP_WITHOUT_AUTHKEY | MP_LISTENER_ALLOW_OTHER_USERS) != 0 {
            return set_last_error(&Error::new(ErrorKind::Invalid, format!("unknown flags {flags:#x}")));
        }
        // SAFETY: per the contract.
        let (address, mut opts) = try_arg!(unsafe { endpoint_args(address, authkey, keylen) });
        opts.allow_tcp_without_authkey = flags & MP_LISTENER_ALLOW_TCP_WITHOUT_AUTHKEY != 0;
        opts.allow_other_users = flags & MP_LISTENER_ALLOW_OTHER_USERS != 0;
        let l = try_status!(Listener::bind(address, &opts));
        // SAFETY: out is non-NULL and writable.
        unsafe { *out = into_handle::<mp_listener>(l) };
        MP_OK
    })
}

/// Accepts one connection, waiting at most `timeout_ms` (Python's accept
/// has no timeout; we do), then authenticates it if the listener has a key.
/// The timeout bounds the wait for a peer; the handshake of a peer that
/// has connected gets its own 10 s, so accepting in short slices never
/// drops a peer mid-handshake.
///
/// # Returns
/// `MP_OK` with the new connection in `*out`; `MP_E_TIMEOUT`; `MP_E_AUTH`
/// (the peer failed the handshake and was dropped); `MP_E_PERM` (a keyless
/// Unix listener's peer runs as another user and was dropped, see
/// `MP_LISTENER_ALLOW_OTHER_USERS`); `MP_E_EOF` (the peer left during the
/// handshake). The listener stays usable after any of these: an accept
/// loop should treat them all as "that peer is gone" and go on.
///
/// # Safety
/// `l` is a live handle; `out` is valid.
#[no_mangle]
pub unsafe extern "C" fn mp_listener_accept(l: *mut mp_listener, timeout_ms: i64, out: *mut *mut mp_pipe) -> mp_status {
    // SAFETY: l is a live handle or NULL (checked).
    unsafe {
        with_handle(l, |l| {
            check_not_null!(out);
            let c = try_status!(l.accept(timeout_of_ms(timeout_ms)));
            *out = into_handle::<mp_pipe>(c);
            MP_OK
        })
    }
}

/// Copies the bound address (e.g. `tcp:127.0.0.1:40123` after binding port
/// 0), NUL-terminated, into `buf`.
///
/// # Returns
/// `MP_OK` with the length (without NUL) in `*out_len`; `MP_E_BUFSIZE` with
/// the size needed (with NUL) in `*out_len`.
///
/// # Safety
/// `l` live; `buf` has `cap` writable bytes (NULL if 0); `out_len` valid.
#[no_mangle]
pub unsafe extern "C" fn mp_listener_address(
    l: *const mp_listener,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> mp_status {
    // SAFETY: l is a live handle or NULL (checked).
    unsafe {
        with_handle(l, |l| {
            check_not_null!(out_len);
            copy_text_out(&l.address().to_string(), buf, cap, out_len)
        })
    }
}

/// Stops listening and frees the handle; a Unix socket file it created is
/// removed. Accepted connections stay open. NULL is a no-op.
///
/// # Safety
/// `l` is NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mp_listener_close(l: *mut mp_listener) {
    // SAFETY: per the contract.
    boundary_or((), || unsafe { free_handle(l) })
}
