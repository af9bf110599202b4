//! `mp_lock_*`: named Lock and RLock.

use super::boundary::{acquire_status, open_named, status_of, unlink_named, with_handle, write_out, Castable};
use super::status::mp_status;
use mpipc::sync::{Deadline, Lock};
use std::ffi::c_char;

/// A named, robust, process-shared Lock or RLock (Python's
/// `multiprocessing.Lock` / `RLock`, openable by name from any process).
///
/// Thread-safe; ownership is per thread: the thread that acquired releases.
/// When a holder dies (even by SIGKILL), the next acquirer gets the lock
/// with `MP_E_OWNER_DEAD`. Segment: `/dev/shm/mpipc.lock.<name>`, mode 0600.
///
/// Methods: `mp_lock_open`, `mp_lock_acquire`, `mp_lock_release`,
/// `mp_lock_owner_deaths`, `mp_lock_close`, `mp_lock_unlink`, and the
/// queries `mp_lock_held_by_me`, `mp_lock_locked`, `mp_lock_depth` (who
/// holds it, as the lock itself records it: bindings ask rather than
/// track).
pub struct mp_lock {
    _private: [u8; 0],
}

impl Castable for mp_lock {
    type Rust = Lock;
}

/// `mp_lock_open` flag: an RLock (the holder may acquire again; it must
/// release as many times).
pub const MP_LOCK_RECURSIVE: u32 = 0x100;

/// Opens (creates or attaches to) the lock `name`.
///
/// # Arguments
/// - `flags`: `MP_LOCK_RECURSIVE` for an RLock, plus `MP_OPEN_CREATE_ONLY`
///   or `MP_OPEN_ATTACH_ONLY`; 0 = a Lock, created or attached.
///
/// # Returns
/// `MP_OK`; `MP_E_TYPE` (the name is the other kind of lock);
/// `MP_E_INVAL` (bad name or flags); `MP_E_EXISTS`; `MP_E_NOTFOUND`;
/// `MP_E_CORRUPT` / `MP_E_VERSION` (not a valid lock segment); `MP_E_PERM`.
///
/// # Safety
/// `name` is a NUL-terminated string; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn mp_lock_open(name: *const c_char, flags: u32, out: *mut *mut mp_lock) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { open_named(name, flags, MP_LOCK_RECURSIVE, out, |n, o| Lock::open(n, flags & MP_LOCK_RECURSIVE != 0, o)) }
}

/// Acquires, waiting at most `timeout_ms` (negative = forever, 0 = try).
///
/// # Returns
/// `MP_OK`; `MP_E_TIMEOUT`; `MP_E_OWNER_DEAD`: acquired, but the previous
/// holder died holding it, so the data it guards may be half updated
/// (repair it; the lock is held and fully usable); `MP_E_INVAL`: a Lock
/// (not RLock) already held by this thread.
///
/// # Safety
/// `l` live.
#[no_mangle]
pub unsafe extern "C" fn mp_lock_acquire(l: *mut mp_lock, timeout_ms: i64) -> mp_status {
    // SAFETY: l is a live handle or NULL (checked).
    unsafe { with_handle(l, |l| acquire_status(l.acquire(&Deadline::from_timeout_ms(timeout_ms)))) }
}

/// Releases (one level of an RLock).
///
/// # Returns
/// `MP_OK`; `MP_E_PERM`: this thread does not hold it.
///
/// # Safety
/// `l` live.
#[no_mangle]
pub unsafe extern "C" fn mp_lock_release(l: *mut mp_lock) -> mp_status {
    // SAFETY: l is a live handle or NULL (checked).
    unsafe { with_handle(l, |l| status_of(l.release())) }
}

/// How many holders have died holding this lock since it was created.
///
/// # Safety
/// `l` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_lock_owner_deaths(l: *mut mp_lock, out: *mut u64) -> mp_status {
    // SAFETY: l is a live handle or NULL (checked); out per the contract.
    unsafe { with_handle(l, |l| write_out(out, l.owner_deaths())) }
}

/// Frees the handle (the lock stays; a lock held by this thread stays held
/// until the process exits, then goes to the next acquirer with
/// `MP_E_OWNER_DEAD`). NULL is a no-op.
///
/// # Safety
/// `l` is NULL or live, and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mp_lock_close(l: *mut mp_lock) {
    // SAFETY: per the contract.
    super::boundary::boundary_or((), || unsafe { super::boundary::free_handle(l) })
}

/// Removes the name; open handles keep working.
///
/// # Returns
/// `MP_OK`; `MP_E_NOTFOUND`; `MP_E_INVAL` (bad name).
///
/// # Safety
/// `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mp_lock_unlink(name: *const c_char) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { unlink_named(name, Lock::unlink) }
}

/// Whether the calling thread holds the lock (ownership is per OS thread:
/// another thread of this process holding it is "no"). Answered by the
/// lock itself: the same whichever handle of it did the acquiring.
///
/// # Returns
/// `MP_OK`.
///
/// # Safety
/// `l` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_lock_held_by_me(l: *mut mp_lock, out: *mut bool) -> mp_status {
    // SAFETY: l is a live handle or NULL (checked); out per the contract.
    unsafe { with_handle(l, |l| write_out(out, l.held_by_me())) }
}

/// Whether any thread of any process holds the lock (Python's `locked()`):
/// a snapshot, read without acquiring, so it never takes the lock from
/// another acquirer nor consumes a dead holder's `MP_E_OWNER_DEAD` (a lock
/// whose holder died reads as not locked; the next acquire reports it).
///
/// # Returns
/// `MP_OK`.
///
/// # Safety
/// `l` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_lock_locked(l: *mut mp_lock, out: *mut bool) -> mp_status {
    // SAFETY: l is a live handle or NULL (checked); out per the contract.
    unsafe { with_handle(l, |l| write_out(out, l.is_locked())) }
}

/// How many times the calling thread holds the lock: an RLock's recursion
/// depth, 1 for a held Lock, 0 when this thread does not hold it.
///
/// # Returns
/// `MP_OK`.
///
/// # Safety
/// `l` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_lock_depth(l: *mut mp_lock, out: *mut u32) -> mp_status {
    // SAFETY: l is a live handle or NULL (checked); out per the contract.
    unsafe { with_handle(l, |l| write_out(out, l.depth())) }
}
