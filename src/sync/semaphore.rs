//! `Semaphore` and `BoundedSemaphore`: a named counter in shared memory.
//!
//! The count is the futex word. Acquire decrements it with a CAS when it is
//! positive, else announces itself in `waiters` and sleeps while the count
//! is 0. Release increments it and wakes one sleeper if any announced. Both
//! sides use SeqCst for the count/waiters pair (a store-load pattern:
//! either the releaser sees the waiter's announcement, or the waiter sees
//! the new count, or the kernel's futex check does).
//!
//! A semaphore has no owner, so nothing is "recovered" when a process dies:
//! as in Python, units it acquired are gone until someone releases them.
//! A waiter killed while asleep leaves `waiters` one too high, which costs
//! later releases a superfluous wake syscall, nothing more; sleeps are
//! bounded ([`RECHECK_INTERVAL`](crate::os::RECHECK_INTERVAL)) anyway.

use crate::error::{Error, ErrorKind, Result};
use crate::os::{futex_wake, wait_while_zero, Deadline};
use crate::segment::{self, NamedSegment, OpenOptions, SegmentKind};
use std::sync::atomic::{AtomicU32, Ordering};

#[repr(C)]
struct SemState {
    /// The count; the futex word.
    value: AtomicU32,
    /// Processes that may be asleep on `value`.
    waiters: AtomicU32,
    /// For a BoundedSemaphore: the largest count (the initial value); 0
    /// for an unbounded one. Written once before publication.
    bound: u32,
    /// 1 for a BoundedSemaphore.
    bounded: u32,
}

const SEM_LAYOUT: u32 = 1;

/// The largest initial value (the count is a 32-bit futex word).
pub const SEM_VALUE_MAX: u32 = i32::MAX as u32;

/// A named semaphore. Thread-safe.
pub struct Semaphore {
    seg: NamedSegment<SemState>,
}

impl Semaphore {
    /// Opens the semaphore `name`, creating it with `value` units. A
    /// `bounded` one refuses releases above `value` (Python's
    /// BoundedSemaphore). Attaching ignores `value`; attaching to the other
    /// kind is [`ErrorKind::Type`].
    pub fn open(name: &str, value: u32, bounded: bool, opts: &OpenOptions) -> Result<Semaphore> {
        if value > SEM_VALUE_MAX {
            return Err(Error::new(ErrorKind::Invalid, format!("semaphore value {value} exceeds {SEM_VALUE_MAX}")));
        }
        let seg = NamedSegment::open(SegmentKind::Semaphore, name, SEM_LAYOUT, 0, opts, |st: *mut SemState, _| {
            // SAFETY: the zeroed, unpublished state.
            unsafe {
                (*st).value = AtomicU32::new(value);
                (*st).bound = if bounded { value } else { 0 };
                (*st).bounded = bounded as u32;
            }
            Ok(())
        })?;
        let st = seg.state();
        if st.bounded > 1 || st.bound > SEM_VALUE_MAX {
            return Err(Error::new(ErrorKind::Corrupt, format!("{name:?}: bad semaphore header")));
        }
        if (st.bounded == 1) != bounded {
            let (have, want) =
                if bounded { ("a Semaphore", "a BoundedSemaphore") } else { ("a BoundedSemaphore", "a Semaphore") };
            return Err(Error::new(ErrorKind::Type, format!("{name:?} is {have}, opened as {want}")));
        }
        Ok(Semaphore { seg })
    }

    /// Removes the name.
    pub fn unlink(name: &str) -> Result<()> {
        segment::unlink(SegmentKind::Semaphore, name)
    }

    fn st(&self) -> &SemState {
        self.seg.state()
    }

    fn try_take(&self) -> bool {
        let v = &self.st().value;
        // Relaxed: a first guess; the CAS below decides, with SeqCst.
        let mut cur = v.load(Ordering::Relaxed);
        while cur > 0 {
            // SeqCst: pairs with release's increment / waiters check.
            match v.compare_exchange_weak(cur, cur - 1, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
        false
    }

    /// Takes one unit, waiting until `deadline`; false on timeout.
    pub fn acquire(&self, deadline: &Deadline) -> Result<bool> {
        let st = self.st();
        Ok(wait_while_zero(&st.value, &st.waiters, deadline, || self.try_take()))
    }

    /// Adds `n` units and wakes up to `n` waiters. A BoundedSemaphore
    /// refuses (changing nothing) when the count would exceed its bound:
    /// [`ErrorKind::Invalid`], Python's ValueError.
    pub fn release(&self, n: u32) -> Result<()> {
        if n == 0 {
            return Err(Error::new(ErrorKind::Invalid, "release count must be at least 1"));
        }
        let st = self.st();
        let limit = if st.bounded == 1 { st.bound } else { SEM_VALUE_MAX };
        // Relaxed: a first guess; the CAS below decides.
        let mut cur = st.value.load(Ordering::Relaxed);
        loop {
            let next = match cur.checked_add(n) {
                Some(x) if x <= limit => x,
                _ if st.bounded == 1 => {
                    return Err(Error::new(ErrorKind::Invalid, "semaphore released too many times"))
                }
                _ => return Err(Error::new(ErrorKind::Invalid, format!("semaphore value would exceed {limit}"))),
            };
            // SeqCst: the increment must be ordered before the waiters read.
            match st.value.compare_exchange_weak(cur, next, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        // SeqCst: the load after the increment, the other half of the
        // store-load pair with acquire's announce-then-recheck.
        if st.waiters.load(Ordering::SeqCst) > 0 {
            futex_wake(&st.value, n);
        }
        Ok(())
    }

    /// The current count (Python's `get_value`; a snapshot).
    pub fn value(&self) -> u32 {
        // Relaxed: a snapshot, as Python's get_value.
        self.st().value.load(Ordering::Relaxed)
    }

    /// Whether this is a BoundedSemaphore.
    pub fn is_bounded(&self) -> bool {
        self.st().bounded == 1
    }
}
