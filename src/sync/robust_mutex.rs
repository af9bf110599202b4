//! A process-shared, *robust* mutex living in shared memory.
//!
//! It is glibc's `pthread_mutex_t` with `PTHREAD_PROCESS_SHARED` and
//! `PTHREAD_MUTEX_ROBUST`: when the holder dies (SIGKILL included), the
//! kernel walks the dead thread's robust list, marks the lock word
//! `FUTEX_OWNER_DIED` and wakes a waiter; the next locker gets `EOWNERDEAD`
//! and owns the lock. Only the kernel's robust list can report a death
//! without polling, and glibc owns that list for every thread, so we use
//! glibc's mutex rather than a hand-made one.
//!
//! Two traps (DESIGN.md §3) shape how it is used:
//! - A holder killed inside `pthread_mutex_unlock`, after the word is
//!   released but before waiters are woken, could leave them asleep on a
//!   free lock. So nobody sleeps on it without a bound: [`RobustMutex::lock`]
//!   waits in slices of [`RECHECK_INTERVAL`] with `pthread_mutex_clocklock`.
//! - A process-shared condition variable is not robust, so none is used;
//!   waiting for state changes goes through [`super::EventWord`].
//!
//! Recovery contract: [`RobustMutex::lock`] reports [`LockState::OwnerDied`];
//! the caller checks or repairs the guarded data and calls
//! [`RobustMutexGuard::mark_consistent`] before the guard drops. A guard
//! dropped without that makes the mutex permanently unusable
//! (`ENOTRECOVERABLE`), reported as [`ErrorKind::Corrupt`] to every later
//! locker — the right outcome when the data could not be repaired.

use super::futex::RECHECK_INTERVAL;
use crate::error::{Error, ErrorKind, Result};
use std::cell::UnsafeCell;

extern "C" {
    // glibc >= 2.30; not (yet) in the libc crate. Like
    // pthread_mutex_timedlock but on a clock of our choosing, so that a
    // wall-clock jump cannot stretch a wait.
    fn pthread_mutex_clocklock(
        mutex: *mut libc::pthread_mutex_t,
        clockid: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
}

/// How a lock was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockState {
    /// The previous holder released it normally.
    Clean,
    /// The previous holder died holding it; the guarded data may hold a
    /// half-finished update and must be checked before use.
    OwnerDied,
}

/// A robust process-shared mutex, placed in shared memory with
/// [`RobustMutex::init`]. `#[repr(C)]`, 40 bytes on x86_64 glibc.
#[repr(C)]
pub struct RobustMutex {
    inner: UnsafeCell<libc::pthread_mutex_t>,
}

// SAFETY: the pthread mutex is designed for concurrent use from many
// threads and processes; all access goes through pthread calls.
unsafe impl Sync for RobustMutex {}
// SAFETY: as above; it holds no thread-bound data.
unsafe impl Send for RobustMutex {}

impl RobustMutex {
    /// Initialises the mutex in place.
    ///
    /// # Safety
    /// `this` must point to writable memory, aligned for
    /// `pthread_mutex_t`, that no other thread or process uses yet.
    pub unsafe fn init(this: *mut RobustMutex) -> Result<()> {
        // SAFETY: the attr is initialised before use and destroyed after;
        // `this` is valid and unshared per the caller's contract.
        unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            check(libc::pthread_mutexattr_init(&mut attr), "pthread_mutexattr_init")?;
            let rc = (|| {
                check(
                    libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED),
                    "pthread_mutexattr_setpshared",
                )?;
                check(libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST), "setrobust")?;
                check(libc::pthread_mutex_init((*this).inner.get(), &attr), "pthread_mutex_init")
            })();
            libc::pthread_mutexattr_destroy(&mut attr);
            rc
        }
    }

    /// Locks, waiting as long as needed (in bounded slices, see the module
    /// doc). Returns a guard and whether the previous holder died.
    pub fn lock(&self) -> Result<(RobustMutexGuard<'_>, LockState)> {
        // A short spin with trylock first: critical sections are a few
        // hundred nanoseconds, far shorter than a futex sleep and wake.
        for i in 0..64u32 {
            if let Some(r) = self.try_lock()? {
                return Ok(r);
            }
            for _ in 0..(1u32 << (i / 8).min(6)) {
                std::hint::spin_loop();
            }
        }
        loop {
            let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: `now` is a valid out-pointer.
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
            let slice_ns = RECHECK_INTERVAL.as_nanos() as i64;
            let total = now.tv_nsec + slice_ns;
            let abstime = libc::timespec {
                tv_sec: now.tv_sec + (total / 1_000_000_000) as libc::time_t,
                tv_nsec: (total % 1_000_000_000) as libc::c_long,
            };
            // SAFETY: the mutex was initialised by `init` (the segment was
            // validated before any handle could reach here).
            let rc = unsafe { pthread_mutex_clocklock(self.inner.get(), libc::CLOCK_MONOTONIC, &abstime) };
            match rc {
                libc::ETIMEDOUT => continue,
                rc => return self.outcome(rc).map(|r| r.expect("clocklock does not return EBUSY")),
            }
        }
    }

    /// Locks if free. `Ok(None)` when another holder has it.
    pub fn try_lock(&self) -> Result<Option<(RobustMutexGuard<'_>, LockState)>> {
        // SAFETY: the mutex was initialised by `init`.
        let rc = unsafe { libc::pthread_mutex_trylock(self.inner.get()) };
        self.outcome(rc)
    }

    fn outcome(&self, rc: libc::c_int) -> Result<Option<(RobustMutexGuard<'_>, LockState)>> {
        let guard = RobustMutexGuard { mutex: self };
        match rc {
            0 => Ok(Some((guard, LockState::Clean))),
            libc::EOWNERDEAD => Ok(Some((guard, LockState::OwnerDied))),
            libc::EBUSY => {
                std::mem::forget(guard);
                Ok(None)
            }
            libc::ENOTRECOVERABLE => {
                std::mem::forget(guard);
                Err(Error::new(
                    ErrorKind::Corrupt,
                    "lock not recoverable: a holder died and the guarded state could not be repaired",
                ))
            }
            rc => {
                std::mem::forget(guard);
                Err(Error::from_io("pthread_mutex_lock", std::io::Error::from_raw_os_error(rc)))
            }
        }
    }
}

/// Holds a [`RobustMutex`]; unlocks on drop.
pub struct RobustMutexGuard<'a> {
    mutex: &'a RobustMutex,
}

impl RobustMutexGuard<'_> {
    /// Declares the guarded data consistent after an
    /// [`LockState::OwnerDied`] acquisition, so the mutex stays usable.
    pub fn mark_consistent(&self) {
        // SAFETY: we hold the mutex. EINVAL (not in owner-died state) is
        // harmless and ignored.
        unsafe { libc::pthread_mutex_consistent(self.mutex.inner.get()) };
    }
}

impl Drop for RobustMutexGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: the guard exists only while this thread holds the mutex.
        unsafe { libc::pthread_mutex_unlock(self.mutex.inner.get()) };
    }
}

fn check(rc: libc::c_int, what: &str) -> Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::from_io(what, std::io::Error::from_raw_os_error(rc)))
    }
}
