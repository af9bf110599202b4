//! `mp_mgr_serve` / `mp_mgr_server_*`: an embedded manager server.

use super::boundary::{
    boundary, check_not_null, copy_text_out, endpoint_args, free_handle, into_handle, try_arg, try_status, with_handle,
    Castable,
};
use super::status::{mp_status, MP_OK};
use mpipc::manager::ManagerServer;
use std::ffi::c_char;

/// A manager server running in this process (an accept thread and one
/// thread per client), holding named shared objects for clients in any
/// language.
///
/// Created by `mp_mgr_serve`; stopped and freed by
/// `mp_mgr_server_shutdown`. Thread-safe.
///
/// Under the hood: `Box<ManagerServer>`.
///
/// Methods: `mp_mgr_serve`, `mp_mgr_server_address`,
/// `mp_mgr_server_shutdown`.
pub struct mp_mgr_server {
    _private: [u8; 0],
}

impl Castable for mp_mgr_server {
    type Rust = ManagerServer;
}

/// Starts a manager server at `address` (`unix:/path`, `unix:@name`, or
/// `tcp:host:port`, which requires an authkey). With `keylen > 0` every
/// client must authenticate with `authkey`.
///
/// # Returns
/// `MP_OK` with the server in `*out`; `MP_E_INVAL`; `MP_E_EXISTS`
/// (address in use); `MP_E_IO`.
///
/// # Safety
/// `address` is a NUL-terminated string; `authkey` points to `keylen`
/// bytes (NULL if 0); `out` is valid.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_serve(
    address: *const c_char,
    authkey: *const u8,
    keylen: usize,
    out: *mut *mut mp_mgr_server,
) -> mp_status {
    boundary(|| {
        check_not_null!(out);
        // SAFETY: per the contract.
        let (address, opts) = try_arg!(unsafe { endpoint_args(address, authkey, keylen) });
        let s = try_status!(ManagerServer::serve(address, &opts));
        // SAFETY: out is non-NULL and writable.
        unsafe { *out = into_handle::<mp_mgr_server>(s) };
        MP_OK
    })
}

/// Copies the server's address (e.g. the real port after `tcp:...:0`),
/// NUL-terminated, into `buf`.
///
/// # Returns
/// `MP_OK` with the length (without NUL) in `*out_len`; `MP_E_BUFSIZE`
/// with the size needed (with NUL) in `*out_len`.
///
/// # Safety
/// `s` live; `buf` has `cap` writable bytes (NULL if 0); `out_len` valid.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_server_address(
    s: *const mp_mgr_server,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> mp_status {
    // SAFETY: s is a live handle or NULL (checked).
    unsafe {
        with_handle(s, |s| {
            check_not_null!(out_len);
            copy_text_out(&s.address().to_string(), buf, cap, out_len)
        })
    }
}

/// Stops serving: no new clients, every client disconnected (blocked
/// calls fail with `MP_E_SHUTDOWN`), server threads joined, all objects
/// dropped; then frees `s`. Consumes `s` on every path.
///
/// # Returns
/// `MP_OK`; `MP_E_NULL` if `s` is NULL.
///
/// # Safety
/// `s` is NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_server_shutdown(s: *mut mp_mgr_server) -> mp_status {
    boundary(|| {
        check_not_null!(s);
        // SAFETY: per the contract; dropping the server shuts it down.
        unsafe { free_handle(s) };
        MP_OK
    })
}
