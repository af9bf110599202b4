//! `mp_cond_*`: named Condition, used with an `mp_lock`.

use super::boundary::{check_not_null, open_named, set_status_bool, try_status, unlink_named, with_handle, Castable};
use super::lock::mp_lock;
use super::status::{mp_status, set_last_error, MP_OK};
use mpipc::sync::{CondWait, Condition, Deadline};
use std::ffi::c_char;

/// A named process-shared condition variable (Python's `Condition`),
/// waited on with a held `mp_lock` (Lock or RLock). Thread-safe. At most
/// 256 threads wait on one condition at once. Notify wakes the oldest
/// waiters, exactly as many as asked (no spurious wake-ups). Segment:
/// `/dev/shm/mpipc.cond.<name>`, mode 0600.
///
/// Methods: `mp_cond_open`, `mp_cond_wait`, `mp_cond_notify`,
/// `mp_cond_notify_all`, `mp_cond_close`, `mp_cond_unlink`; the wait in
/// steps, for a caller that must run code while it waits (e.g. a binding
/// that lets Ctrl-C through every 100 ms): `mp_cond_wait_begin`,
/// `mp_cond_wait_slice`, `mp_cond_wait_end`.
pub struct mp_cond {
    _private: [u8; 0],
}

impl Castable for mp_cond {
    type Rust = Condition;
}

/// Opens (creates or attaches to) the condition `name`.
///
/// # Returns
/// `MP_OK`; `MP_E_INVAL`; `MP_E_EXISTS`; `MP_E_NOTFOUND`; `MP_E_CORRUPT`.
///
/// # Safety
/// `name` is a NUL-terminated string; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn mp_cond_open(name: *const c_char, flags: u32, out: *mut *mut mp_cond) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { open_named(name, flags, 0, out, Condition::open) }
}

/// Releases `lock` (held by this thread, at any RLock depth), waits for a
/// notification at most `timeout_ms` (negative = forever), then re-acquires
/// `lock` at its former depth (always, even on timeout).
///
/// # Returns
/// `MP_OK` (notified); `MP_E_TIMEOUT`; `MP_E_PERM` (the lock is not held
/// by this thread); `MP_E_FULL` (256 threads already wait);
/// `MP_E_OWNER_DEAD` (notified or not, the lock was re-acquired from a
/// holder that died holding it).
///
/// # Safety
/// `c` and `lock` live.
#[no_mangle]
pub unsafe extern "C" fn mp_cond_wait(c: *mut mp_cond, lock: *mut mp_lock, timeout_ms: i64) -> mp_status {
    // SAFETY: c is a live handle or NULL (checked); so is lock.
    unsafe {
        with_handle(c, |c| {
            with_handle(lock, |l| {
                set_status_bool(
                    c.wait(l, &Deadline::from_timeout_ms(timeout_ms)),
                    "timed out waiting for a notification",
                )
            })
        })
    }
}

/// A wait in progress (`mp_cond_wait_begin` to `mp_cond_wait_end`): plain
/// data, pass it back unchanged, on the thread that began the wait.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct mp_cond_waiting {
    /// The waiter's slot in the condition (opaque).
    pub slot: u32,
    /// The lock depth to restore (opaque).
    pub depth: u32,
}

/// The first step of a wait in steps: from now on this thread counts as a
/// waiter (a notify may pick it), and `lock` (held by this thread, at any
/// RLock depth) is released. Then call `mp_cond_wait_slice` as often as
/// needed, and always end with `mp_cond_wait_end` on the same thread, which
/// re-acquires the lock. Together they are `mp_cond_wait`, with the caller
/// able to run between slices without missing a notification (a
/// notification that arrives between slices is kept for the next slice or
/// the end).
///
/// # Returns
/// `MP_OK` with the wait in `*out`; `MP_E_PERM` (the lock is not held by
/// this thread); `MP_E_FULL` (256 threads already wait); `MP_E_NULL`.
///
/// # Safety
/// `c` and `lock` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_cond_wait_begin(
    c: *mut mp_cond,
    lock: *mut mp_lock,
    out: *mut mp_cond_waiting,
) -> mp_status {
    // SAFETY: c is a live handle or NULL (checked); so is lock.
    unsafe {
        with_handle(c, |c| {
            with_handle(lock, |l| {
                check_not_null!(out);
                let w = try_status!(c.wait_begin(l));
                *out = mp_cond_waiting { slot: w.slot, depth: w.depth };
                MP_OK
            })
        })
    }
}

/// Waits at most `timeout_ms` (negative = forever) for the wait `w` to be
/// notified. The lock stays released either way.
///
/// # Returns
/// `MP_OK` (notified: end the wait with `mp_cond_wait_end`);
/// `MP_E_TIMEOUT` (not yet: slice again or end the wait); `MP_E_INVAL`
/// (`w` is no wait of this thread in progress); `MP_E_NULL`.
///
/// # Safety
/// `c` live; `w` valid.
#[no_mangle]
pub unsafe extern "C" fn mp_cond_wait_slice(c: *mut mp_cond, w: *const mp_cond_waiting, timeout_ms: i64) -> mp_status {
    // SAFETY: c is a live handle or NULL (checked).
    unsafe {
        with_handle(c, |c| {
            check_not_null!(w);
            let w = CondWait { slot: (*w).slot, depth: (*w).depth };
            set_status_bool(
                c.wait_notified(&w, &Deadline::from_timeout_ms(timeout_ms)),
                "timed out waiting for a notification",
            )
        })
    }
}

/// Ends the wait `w`: this thread stops counting as a waiter, then `lock`
/// is re-acquired at the depth it had when the wait began.
///
/// # Returns
/// `MP_OK` (the wait was notified); `MP_E_TIMEOUT` (it was not);
/// `MP_E_OWNER_DEAD` (notified or not, the lock was re-acquired from a
/// holder that died holding it); `MP_E_INVAL` (`w` is no wait of this
/// thread in progress; nothing changed); `MP_E_NULL`.
///
/// # Safety
/// `c` and `lock` live (`lock` the one given to `mp_cond_wait_begin`); `w`
/// valid.
#[no_mangle]
pub unsafe extern "C" fn mp_cond_wait_end(c: *mut mp_cond, lock: *mut mp_lock, w: *const mp_cond_waiting) -> mp_status {
    // SAFETY: c is a live handle or NULL (checked); so is lock.
    unsafe {
        with_handle(c, |c| {
            with_handle(lock, |l| {
                check_not_null!(w);
                let w = CondWait { slot: (*w).slot, depth: (*w).depth };
                set_status_bool(c.wait_end(&w, l), "not notified")
            })
        })
    }
}

/// Wakes up to `n` of the threads waiting now (oldest first). Call with the
/// lock held, as Python requires (not checked).
///
/// # Safety
/// `c` live.
#[no_mangle]
pub unsafe extern "C" fn mp_cond_notify(c: *mut mp_cond, n: usize) -> mp_status {
    // SAFETY: c is a live handle or NULL (checked).
    unsafe {
        with_handle(c, |c| match c.notify(n) {
            Ok(_) => MP_OK,
            Err(e) => set_last_error(&e),
        })
    }
}

/// Wakes every thread waiting now.
///
/// # Safety
/// `c` live.
#[no_mangle]
pub unsafe extern "C" fn mp_cond_notify_all(c: *mut mp_cond) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { mp_cond_notify(c, usize::MAX) }
}

/// Frees the handle. NULL is a no-op.
///
/// # Safety
/// `c` is NULL or live, and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mp_cond_close(c: *mut mp_cond) {
    // SAFETY: per the contract.
    super::boundary::boundary_or((), || unsafe { super::boundary::free_handle(c) })
}

/// Removes the name; open handles keep working.
///
/// # Safety
/// `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mp_cond_unlink(name: *const c_char) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { unlink_named(name, Condition::unlink) }
}
