//! `mp_barrier_*`: named Barrier.

use super::boundary::{open_named, status_of, unlink_named, with_handle, write_out, Castable};
use super::status::{mp_status, set_last_error, MP_OK};
use mpipc::sync::{Barrier, Deadline};
use std::ffi::c_char;

/// A named process-shared barrier (Python's `Barrier`). Thread-safe.
/// Segment: `/dev/shm/mpipc.bar.<name>`, mode 0600.
///
/// Methods: `mp_barrier_open`, `mp_barrier_wait`, `mp_barrier_abort`,
/// `mp_barrier_reset`, `mp_barrier_parties`, `mp_barrier_n_waiting`,
/// `mp_barrier_broken`, `mp_barrier_close`, `mp_barrier_unlink`.
pub struct mp_barrier {
    _private: [u8; 0],
}

impl Castable for mp_barrier {
    type Rust = Barrier;
}

/// Opens the barrier `name` for `parties` parties: creates it, or attaches
/// (the count must match). `parties` 0 attaches only, to any count.
///
/// # Returns
/// `MP_OK`; `MP_E_INVAL` (a different count; 0 with `MP_OPEN_CREATE_ONLY`;
/// bad name or flags); `MP_E_EXISTS`; `MP_E_NOTFOUND` (missing, with
/// `MP_OPEN_ATTACH_ONLY` or `parties` 0); `MP_E_CORRUPT`.
///
/// # Safety
/// `name` is a NUL-terminated string; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn mp_barrier_open(
    name: *const c_char,
    parties: u32,
    flags: u32,
    out: *mut *mut mp_barrier,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { open_named(name, flags, 0, out, |n, o| Barrier::open(n, parties, o)) }
}

/// Waits until all parties have called wait, at most `timeout_ms`
/// (negative = forever). Writes this party's arrival index (0 ..
/// parties-1, distinct per generation) to `out_index` (may be NULL).
///
/// # Returns
/// `MP_OK`; `MP_E_BROKEN`: the barrier is broken (aborted, reset while
/// waiting, or a wait timed out — a timeout breaks it for everyone, as in
/// Python).
///
/// # Safety
/// `b` live; `out_index` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mp_barrier_wait(b: *mut mp_barrier, timeout_ms: i64, out_index: *mut u32) -> mp_status {
    // SAFETY: b is a live handle or NULL (checked); out_index per the contract.
    unsafe {
        with_handle(b, |b| match b.wait(&Deadline::from_timeout_ms(timeout_ms)) {
            Ok(i) => {
                if !out_index.is_null() {
                    *out_index = i;
                }
                MP_OK
            }
            Err(e) => set_last_error(&e),
        })
    }
}

/// Breaks the barrier: current and later waits fail with `MP_E_BROKEN`
/// until `mp_barrier_reset`.
///
/// # Safety
/// `b` live.
#[no_mangle]
pub unsafe extern "C" fn mp_barrier_abort(b: *mut mp_barrier) -> mp_status {
    // SAFETY: b is a live handle or NULL (checked).
    unsafe { with_handle(b, |b| status_of(b.abort())) }
}

/// Returns the barrier to its initial state; parties waiting now get
/// `MP_E_BROKEN`.
///
/// # Safety
/// `b` live.
#[no_mangle]
pub unsafe extern "C" fn mp_barrier_reset(b: *mut mp_barrier) -> mp_status {
    // SAFETY: b is a live handle or NULL (checked).
    unsafe { with_handle(b, |b| status_of(b.reset())) }
}

/// The number of parties.
///
/// # Safety
/// `b` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_barrier_parties(b: *mut mp_barrier, out: *mut u32) -> mp_status {
    // SAFETY: b is a live handle or NULL (checked); out per the contract.
    unsafe { with_handle(b, |b| write_out(out, b.parties())) }
}

/// Parties waiting now.
///
/// # Safety
/// `b` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_barrier_n_waiting(b: *mut mp_barrier, out: *mut u32) -> mp_status {
    // SAFETY: b is a live handle or NULL (checked); out per the contract.
    unsafe { with_handle(b, |b| write_out(out, b.n_waiting())) }
}

/// Whether the barrier is broken.
///
/// # Safety
/// `b` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_barrier_broken(b: *mut mp_barrier, out: *mut bool) -> mp_status {
    // SAFETY: b is a live handle or NULL (checked); out per the contract.
    unsafe { with_handle(b, |b| write_out(out, b.is_broken())) }
}

/// Frees the handle. NULL is a no-op.
///
/// # Safety
/// `b` is NULL or live, and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mp_barrier_close(b: *mut mp_barrier) {
    // SAFETY: per the contract.
    super::boundary::boundary_or((), || unsafe { super::boundary::free_handle(b) })
}

/// Removes the name; open handles keep working.
///
/// # Safety
/// `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mp_barrier_unlink(name: *const c_char) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { unlink_named(name, Barrier::unlink) }
}
