//! `mp_event_*`: named Event.

use super::boundary::{open_named, set_status_bool, unlink_named, with_handle, write_out, Castable};
use super::status::{mp_status, MP_OK};
use mpipc::sync::{Deadline, Event};
use std::ffi::c_char;

/// A named process-shared event (Python's `Event`). Thread-safe. Segment:
/// `/dev/shm/mpipc.ev.<name>`, mode 0600.
///
/// Methods: `mp_event_open`, `mp_event_set`, `mp_event_clear`,
/// `mp_event_is_set`, `mp_event_wait`, `mp_event_close`, `mp_event_unlink`.
pub struct mp_event {
    _private: [u8; 0],
}

impl Castable for mp_event {
    type Rust = Event;
}

/// Opens (creates clear, or attaches to) the event `name`.
///
/// # Returns
/// `MP_OK`; `MP_E_INVAL`; `MP_E_EXISTS`; `MP_E_NOTFOUND`; `MP_E_CORRUPT`.
///
/// # Safety
/// `name` is a NUL-terminated string; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn mp_event_open(name: *const c_char, flags: u32, out: *mut *mut mp_event) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { open_named(name, flags, 0, out, Event::open) }
}

/// Sets the flag, waking every waiter.
///
/// # Safety
/// `e` live.
#[no_mangle]
pub unsafe extern "C" fn mp_event_set(e: *mut mp_event) -> mp_status {
    // SAFETY: e is a live handle or NULL (checked).
    unsafe {
        with_handle(e, |e| {
            e.set();
            MP_OK
        })
    }
}

/// Clears the flag.
///
/// # Safety
/// `e` live.
#[no_mangle]
pub unsafe extern "C" fn mp_event_clear(e: *mut mp_event) -> mp_status {
    // SAFETY: e is a live handle or NULL (checked).
    unsafe {
        with_handle(e, |e| {
            e.clear();
            MP_OK
        })
    }
}

/// Whether the flag is set.
///
/// # Safety
/// `e` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_event_is_set(e: *mut mp_event, out: *mut bool) -> mp_status {
    // SAFETY: e is a live handle or NULL (checked); out per the contract.
    unsafe { with_handle(e, |e| write_out(out, e.is_set())) }
}

/// Waits until the flag is set, at most `timeout_ms` (negative = forever).
///
/// # Returns
/// `MP_OK` (set); `MP_E_TIMEOUT`.
///
/// # Safety
/// `e` live.
#[no_mangle]
pub unsafe extern "C" fn mp_event_wait(e: *mut mp_event, timeout_ms: i64) -> mp_status {
    // SAFETY: e is a live handle or NULL (checked).
    unsafe {
        with_handle(e, |e| {
            set_status_bool(Ok(e.wait(&Deadline::from_timeout_ms(timeout_ms))), "timed out waiting for the event")
        })
    }
}

/// Frees the handle. NULL is a no-op.
///
/// # Safety
/// `e` is NULL or live, and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mp_event_close(e: *mut mp_event) {
    // SAFETY: per the contract.
    super::boundary::boundary_or((), || unsafe { super::boundary::free_handle(e) })
}

/// Removes the name; open handles keep working.
///
/// # Safety
/// `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mp_event_unlink(name: *const c_char) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { unlink_named(name, Event::unlink) }
}
