//! `mp_sem_*`: named Semaphore and BoundedSemaphore.

use super::boundary::{open_named, set_status_bool, status_of, unlink_named, with_handle, write_out, Castable};
use super::status::mp_status;
use mpipc::sync::{Deadline, Semaphore};
use std::ffi::c_char;

/// A named process-shared semaphore (Python's `Semaphore` /
/// `BoundedSemaphore`). Thread-safe. A semaphore has no owner: units taken
/// by a process that dies stay taken, as in Python. Segment:
/// `/dev/shm/mpipc.sem.<name>`, mode 0600.
///
/// Methods: `mp_sem_open`, `mp_sem_acquire`, `mp_sem_release`,
/// `mp_sem_value`, `mp_sem_close`, `mp_sem_unlink`.
pub struct mp_sem {
    _private: [u8; 0],
}

impl Castable for mp_sem {
    type Rust = Semaphore;
}

/// `mp_sem_open` flag: a BoundedSemaphore (releasing above the initial
/// value is `MP_E_INVAL`).
pub const MP_SEM_BOUNDED: u32 = 0x100;

/// Opens the semaphore `name`, creating it with `value` units (at most
/// 2^31 - 1; ignored when attaching).
///
/// # Returns
/// `MP_OK`; `MP_E_TYPE` (bounded vs not, differs from the existing one);
/// `MP_E_INVAL`; `MP_E_EXISTS`; `MP_E_NOTFOUND`; `MP_E_CORRUPT`.
///
/// # Safety
/// `name` is a NUL-terminated string; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn mp_sem_open(name: *const c_char, value: u32, flags: u32, out: *mut *mut mp_sem) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        open_named(name, flags, MP_SEM_BOUNDED, out, |n, o| Semaphore::open(n, value, flags & MP_SEM_BOUNDED != 0, o))
    }
}

/// Takes one unit, waiting at most `timeout_ms` (negative = forever).
///
/// # Returns
/// `MP_OK`; `MP_E_TIMEOUT`.
///
/// # Safety
/// `s` live.
#[no_mangle]
pub unsafe extern "C" fn mp_sem_acquire(s: *mut mp_sem, timeout_ms: i64) -> mp_status {
    // SAFETY: s is a live handle or NULL (checked).
    unsafe {
        with_handle(s, |s| {
            set_status_bool(s.acquire(&Deadline::from_timeout_ms(timeout_ms)), "timed out waiting for the semaphore")
        })
    }
}

/// Returns one unit, waking a waiter.
///
/// # Returns
/// `MP_OK`; `MP_E_INVAL`: a BoundedSemaphore released above its initial
/// value (nothing changes; Python's ValueError).
///
/// # Safety
/// `s` live.
#[no_mangle]
pub unsafe extern "C" fn mp_sem_release(s: *mut mp_sem) -> mp_status {
    // SAFETY: s is a live handle or NULL (checked).
    unsafe { with_handle(s, |s| status_of(s.release(1))) }
}

/// The current count (a snapshot).
///
/// # Safety
/// `s` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_sem_value(s: *mut mp_sem, out: *mut u32) -> mp_status {
    // SAFETY: s is a live handle or NULL (checked); out per the contract.
    unsafe { with_handle(s, |s| write_out(out, s.value())) }
}

/// Frees the handle. NULL is a no-op.
///
/// # Safety
/// `s` is NULL or live, and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mp_sem_close(s: *mut mp_sem) {
    // SAFETY: per the contract.
    super::boundary::boundary_or((), || unsafe { super::boundary::free_handle(s) })
}

/// Removes the name; open handles keep working.
///
/// # Safety
/// `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mp_sem_unlink(name: *const c_char) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { unlink_named(name, Semaphore::unlink) }
}
