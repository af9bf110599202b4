//! `mp_barrier_*`: named Barrier.

use super::boundary::{open_named, status_of, unlink_named, with_handle, write_out, Castable};
use super::status::{mp_status, set_last_error, MP_OK};
use mpipc::error::{Error, ErrorKind};
use mpipc::sync::{Barrier, Deadline};
use std::ffi::c_char;

/// `mp_barrier_arrive` flag: if this party is the last to arrive, hold the
/// generation (nobody is released) until it calls `mp_barrier_trip` (or
/// `mp_barrier_abort`): the time to run an action before any party
/// returns, as Python's `Barrier(action=...)` promises.
pub const MP_BARRIER_HOLD: u32 = 0x1;

/// `mp_barrier_leave` flag: break the barrier for everyone (a wait that
/// timed out) instead of withdrawing this party's arrival.
pub const MP_BARRIER_BREAK: u32 = 0x2;

fn unknown_flags(flags: u32) -> mp_status {
    set_last_error(&Error::new(ErrorKind::Invalid, format!("unknown flags {flags:#x}")))
}

/// A named process-shared barrier (Python's `Barrier`). Thread-safe.
/// Segment: `/dev/shm/mpipc.bar.<name>`, mode 0600.
///
/// Methods: `mp_barrier_open`, `mp_barrier_wait`, `mp_barrier_abort`,
/// `mp_barrier_reset`, `mp_barrier_parties`, `mp_barrier_n_waiting`,
/// `mp_barrier_broken`, `mp_barrier_close`, `mp_barrier_unlink`; the wait
/// in two phases (an action that runs before anyone is released, waits in
/// slices): `mp_barrier_arrive`, `mp_barrier_await`, `mp_barrier_trip`,
/// `mp_barrier_leave`.
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

/// The first phase of a wait: counts this party in. Writes its arrival
/// index (0 .. parties-1) to `out_index` and the generation's ticket (for
/// `mp_barrier_await` / `mp_barrier_trip` / `mp_barrier_leave`) to
/// `out_ticket` (either may be NULL). Index parties-1 means this party was
/// the last: it has released everyone — or, with `MP_BARRIER_HOLD`, it
/// holds the generation and must call `mp_barrier_trip` (or
/// `mp_barrier_abort`, which breaks it). Any other index: wait for the
/// trip with `mp_barrier_await`. While another party holds a generation,
/// waits at most `timeout_ms` (negative = forever) for it to end, then
/// arrives in the next one.
///
/// # Returns
/// `MP_OK`; `MP_E_TIMEOUT` (a held generation did not end in time; not
/// counted in); `MP_E_BROKEN`; `MP_E_INVAL` (unknown flags).
///
/// # Safety
/// `b` live; `out_index` and `out_ticket` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mp_barrier_arrive(
    b: *mut mp_barrier,
    timeout_ms: i64,
    flags: u32,
    out_index: *mut u32,
    out_ticket: *mut u32,
) -> mp_status {
    if flags & !MP_BARRIER_HOLD != 0 {
        return unknown_flags(flags);
    }
    // SAFETY: b is a live handle or NULL (checked); the outs per the contract.
    unsafe {
        with_handle(b, |b| match b.arrive(&Deadline::from_timeout_ms(timeout_ms), flags & MP_BARRIER_HOLD != 0) {
            Ok(a) => {
                if !out_index.is_null() {
                    *out_index = a.index;
                }
                if !out_ticket.is_null() {
                    *out_ticket = a.ticket;
                }
                MP_OK
            }
            Err(e) => set_last_error(&e),
        })
    }
}

/// The second phase: waits at most `timeout_ms` (negative = forever) for
/// the generation `ticket` (from `mp_barrier_arrive`) to end. A wait that
/// runs out breaks nothing: call again (a binding waits in slices so that
/// its signal handlers run), or end it with `mp_barrier_leave`.
///
/// # Returns
/// `MP_OK` (tripped: every party arrived, and a held generation was
/// released); `MP_E_TIMEOUT` (still waiting; the arrival stands);
/// `MP_E_BROKEN`.
///
/// # Safety
/// `b` live.
#[no_mangle]
pub unsafe extern "C" fn mp_barrier_await(b: *mut mp_barrier, ticket: u32, timeout_ms: i64) -> mp_status {
    // SAFETY: b is a live handle or NULL (checked).
    unsafe {
        with_handle(b, |b| match b.await_trip(ticket, &Deadline::from_timeout_ms(timeout_ms)) {
            Ok(true) => MP_OK,
            Ok(false) => {
                set_last_error(&Error::new(ErrorKind::Timeout, "the barrier has not tripped yet (still waiting)"))
            }
            Err(e) => set_last_error(&e),
        })
    }
}

/// Releases the generation `ticket` that this party holds (it arrived last
/// with `MP_BARRIER_HOLD`, and its action succeeded): every waiter
/// returns. (If the action failed, call `mp_barrier_abort` instead: every
/// waiter gets `MP_E_BROKEN`.)
///
/// # Returns
/// `MP_OK`; `MP_E_BROKEN` (aborted or reset while held: the waiters got
/// `MP_E_BROKEN`); `MP_E_INVAL` (`ticket` is not a held generation).
///
/// # Safety
/// `b` live.
#[no_mangle]
pub unsafe extern "C" fn mp_barrier_trip(b: *mut mp_barrier, ticket: u32) -> mp_status {
    // SAFETY: b is a live handle or NULL (checked).
    unsafe { with_handle(b, |b| status_of(b.trip(ticket))) }
}

/// Ends a wait on generation `ticket` before it ended: withdraws this
/// party's arrival (flags 0: a wait interrupted, e.g. by Ctrl-C, as
/// Python's Barrier does) or breaks the barrier for everyone
/// (`MP_BARRIER_BREAK`: a wait that timed out). Writes to `out_left`
/// (may be NULL) whether it did: false when the generation has ended or is
/// held (every party arrived), whose outcome `mp_barrier_await` then
/// gives.
///
/// # Returns
/// `MP_OK`; `MP_E_INVAL` (unknown flags).
///
/// # Safety
/// `b` live; `out_left` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mp_barrier_leave(
    b: *mut mp_barrier,
    ticket: u32,
    flags: u32,
    out_left: *mut bool,
) -> mp_status {
    if flags & !MP_BARRIER_BREAK != 0 {
        return unknown_flags(flags);
    }
    // SAFETY: b is a live handle or NULL (checked); out_left per the contract.
    unsafe {
        with_handle(b, |b| match b.leave(ticket, flags & MP_BARRIER_BREAK != 0) {
            Ok(left) => {
                if !out_left.is_null() {
                    *out_left = left;
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
