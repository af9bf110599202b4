//! # mpipc-ffi: the C library of mpipc
//!
//! The C ABI (`include/mpipc.h`, generated from this crate by cbindgen),
//! built as `libmpipc.so` (soname `libmpipc.so.0`) and `libmpipc.a` over the
//! Rust API of the [`mpipc`] crate. Supported platform: x86-64 Linux with
//! glibc (the `mpipc` crate refuses to build elsewhere).
//!
//! Rules (DESIGN.md §5, STYLE.md): every fallible function returns
//! `mp_status` with results in trailing out-parameters written only on
//! `MP_OK` (documented exceptions: `MP_E_BUFSIZE` reports the size needed);
//! every body runs inside the panic boundary; every pointer is NULL-checked;
//! `*_close(NULL)` / `*_free(NULL)` are no-ops; timeouts are `int64_t`
//! milliseconds (negative = forever, 0 = do not block). This module holds no
//! logic the Rust API lacks: it converts arguments, calls the core, and maps
//! errors to codes. One file per exported object.
#![allow(non_camel_case_types)]
#![warn(missing_docs, unsafe_op_in_unsafe_fn)]

pub mod array;
pub mod barrier;
pub(crate) mod boundary;
pub mod bytes;
pub mod cond;
pub mod event;
pub mod json;
pub mod listener;
pub mod lock;
pub mod manager;
pub mod manager_server;
pub mod pipe;
pub mod queue;
pub mod sem;
pub mod shareable_list;
pub mod shm;
pub mod status;
pub mod status_text;
pub mod version;

pub use bytes::mp_buf;
pub use status::mp_status;

/// Pass as a timeout to wait as long as it takes.
pub const MP_WAIT_FOREVER: i64 = -1;
/// Pass as a timeout to not block at all.
pub const MP_NO_WAIT: i64 = 0;

/// `flags` of every `mp_<kind>_open`: fail with `MP_E_EXISTS` if the name
/// exists (same value as `MPQ_CREATE_ONLY`).
pub const MP_OPEN_CREATE_ONLY: u32 = 1;
/// `flags` of every `mp_<kind>_open`: fail with `MP_E_NOTFOUND` if the
/// name does not exist (same value as `MPQ_ATTACH_ONLY`).
pub const MP_OPEN_ATTACH_ONLY: u32 = 2;
/// `flags` of every `mp_<kind>_open`: attach even if the object belongs to
/// another user (same value as `MPQ_ANY_OWNER`). Without it, a private
/// object owned by another user is `MP_E_PERM`: another local user could
/// otherwise create the name first, world-writable, and read what this
/// process puts into it (name squatting). For objects shared across users
/// on purpose, and for inspection as root.
pub const MP_OPEN_ANY_OWNER: u32 = 4;

/// The C ABI's `int64_t timeout_ms` as the Rust API's timeout.
pub(crate) fn timeout_of_ms(timeout_ms: i64) -> Option<std::time::Duration> {
    match timeout_ms {
        t if t < 0 => None,
        t => Some(std::time::Duration::from_millis(t as u64)),
    }
}
