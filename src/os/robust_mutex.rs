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
//!   waits in slices of [`crate::os::RECHECK_INTERVAL`] with `pthread_mutex_clocklock`.
//! - A process-shared condition variable is not robust, so none is used;
//!   waiting for state changes goes through [`super::EventWord`].
//!
//! Recovery contract: [`RobustMutex::lock`] reports [`LockState::OwnerDied`];
//! the caller checks or repairs the guarded data and calls
//! [`RobustMutexGuard::mark_consistent`] before the guard drops. A guard
//! dropped without that makes the mutex permanently unusable
//! (`ENOTRECOVERABLE`), reported as [`ErrorKind::Corrupt`] to every later
//! locker — the right outcome when the data could not be repaired.

use super::futex::Deadline;
use std::sync::atomic::{AtomicI32, Ordering};

/// How long a locker polls the lock word (with a growing backoff of
/// `pause` instructions between polls) before it sleeps in the kernel: far
/// longer than any of our critical sections, far shorter than a time slice.
const SPIN_LIMIT: std::time::Duration = std::time::Duration::from_micros(20);

/// The longest backoff between two polls, in `pause` instructions.
const MAX_PAUSE: u32 = 256;

/// The TID bits of a robust futex word (`FUTEX_TID_MASK` of
/// `<linux/futex.h>`, not in the libc crate).
const FUTEX_TID_MASK: i32 = 0x3fff_ffff;
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

/// What a non-blocking lock attempt found ([`RobustMutex::probe`]): unlike
/// [`RobustMutex::try_acquire`], it tells "this thread holds it" and "not
/// recoverable" apart from errors, for code that uses a mutex as a
/// liveness token (the queue's claim slots).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Taken now (the caller holds it).
    Acquired(LockState),
    /// Another live thread holds it.
    Busy,
    /// The calling thread already holds it (`EDEADLK`: the mutex is
    /// error-checking).
    Mine,
    /// `ENOTRECOVERABLE`: nobody holds it and it cannot be locked again
    /// until re-initialised.
    Unrecoverable,
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
    /// Initialises the mutex in place (not recursive).
    ///
    /// # Safety
    /// `this` must point to writable memory, aligned for
    /// `pthread_mutex_t`, that no other thread or process uses yet.
    pub unsafe fn init(this: *mut RobustMutex) -> Result<()> {
        // SAFETY: forwarded contract.
        unsafe { RobustMutex::init_with(this, false) }
    }

    /// Initialises the mutex in place; a `recursive` one may be locked
    /// again by the thread holding it (and must be unlocked as often).
    ///
    /// # Safety
    /// As [`RobustMutex::init`].
    pub unsafe fn init_with(this: *mut RobustMutex, recursive: bool) -> Result<()> {
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
                // ERRORCHECK: locking twice from one thread is EDEADLK, not
                // a silent self-deadlock (robust mutexes check the owner on
                // unlock whatever the type).
                let ty = if recursive { libc::PTHREAD_MUTEX_RECURSIVE } else { libc::PTHREAD_MUTEX_ERRORCHECK };
                check(libc::pthread_mutexattr_settype(&mut attr, ty), "pthread_mutexattr_settype")?;
                check(libc::pthread_mutex_init((*this).inner.get(), &attr), "pthread_mutex_init")
            })();
            libc::pthread_mutexattr_destroy(&mut attr);
            rc
        }
    }

    /// Locks, waiting as long as needed (in bounded slices, see the module
    /// doc). Returns a guard and whether the previous holder died.
    pub fn lock(&self) -> Result<(RobustMutexGuard<'_>, LockState)> {
        let state = self.acquire(&Deadline::Never)?.expect("an endless wait does not time out");
        Ok((RobustMutexGuard { mutex: self }, state))
    }

    /// Locks as [`RobustMutex::lock`], waiting until `deadline`: `Ok(None)`
    /// when it passed first (a holder stopped or hung inside its critical
    /// section; see `Queue::stats`, which tools use to report "busy").
    pub fn lock_until(&self, deadline: &Deadline) -> Result<Option<(RobustMutexGuard<'_>, LockState)>> {
        Ok(self.acquire(deadline)?.map(|state| (RobustMutexGuard { mutex: self }, state)))
    }

    /// Locks for state that every single store leaves consistent, so that a
    /// holder's death needs no repair: an owner-died acquisition is marked
    /// consistent at once and reported as nothing special.
    pub fn lock_self_consistent(&self) -> Result<RobustMutexGuard<'_>> {
        let (guard, state) = self.lock()?;
        if state == LockState::OwnerDied {
            guard.mark_consistent();
        }
        Ok(guard)
    }

    /// Locks without a guard, waiting until `deadline`: `Ok(None)` when it
    /// passed. The caller unlocks with [`RobustMutex::release`] (a lock
    /// held across calls of a C API). After [`LockState::OwnerDied`] the
    /// caller must call [`RobustMutex::mark_consistent`] before releasing,
    /// or the mutex becomes unusable.
    pub fn acquire(&self, deadline: &Deadline) -> Result<Option<LockState>> {
        // Spin first: critical sections are tens to hundreds of
        // nanoseconds, far shorter than a futex sleep and wake. Spin on a
        // plain read of the lock word and try only when it reads free
        // (test-and-test-and-set), so that waiting does not keep stealing
        // the cache line from the holder.
        if let Some(st) = self.try_acquire()? {
            return Ok(Some(st));
        }
        if matches!(deadline, Deadline::Now) {
            return Ok(None);
        }
        // Exponential backoff between polls: a holder that releases and
        // re-acquires at once keeps the cache line for a run of critical
        // sections instead of handing it over every time, which is what
        // bounds throughput under contention (a line transfer costs ~100 ns
        // here, the critical section far less).
        let mut pause = 1u32;
        let started = std::time::Instant::now();
        loop {
            if self.looks_free() {
                if let Some(st) = self.try_acquire()? {
                    return Ok(Some(st));
                }
            }
            for _ in 0..pause {
                std::hint::spin_loop();
            }
            if pause < MAX_PAUSE {
                pause *= 2;
            } else if started.elapsed() >= SPIN_LIMIT {
                break;
            }
        }
        loop {
            let Some(slice) = deadline.next_sleep() else { return Ok(None) };
            let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: `now` is a valid out-pointer.
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
            let total = now.tv_nsec + slice.as_nanos() as i64;
            let abstime = libc::timespec {
                tv_sec: now.tv_sec + (total / 1_000_000_000) as libc::time_t,
                tv_nsec: (total % 1_000_000_000) as libc::c_long,
            };
            // SAFETY: the mutex was initialised by `init` (the segment was
            // validated before any handle could reach here).
            let rc = unsafe { pthread_mutex_clocklock(self.inner.get(), libc::CLOCK_MONOTONIC, &abstime) };
            if rc == libc::ETIMEDOUT {
                continue;
            }
            return acquired(rc).map(|st| Some(st.expect("clocklock does not return EBUSY")));
        }
    }

    /// The pthread mutex, for callers that need a raw pthread call.
    pub(crate) fn as_ptr(&self) -> *mut libc::pthread_mutex_t {
        self.inner.get()
    }

    /// Whether the lock word reads 0 (free, no waiters, no dead owner).
    fn looks_free(&self) -> bool {
        // SAFETY: glibc's pthread_mutex_t begins with the `int __lock`
        // futex word (struct __pthread_mutex_s, public in
        // <bits/struct_mutex.h>, unchanged on x86_64 and aarch64 for the
        // whole robust-mutex era); an aligned 4-byte atomic read of it is a
        // hint only, every decision is made by pthread_mutex_trylock.
        // Relaxed: a hint.
        unsafe { (*self.inner.get().cast::<AtomicI32>()).load(Ordering::Relaxed) == 0 }
    }

    /// The kernel thread id of the thread holding the mutex, 0 when free
    /// (also when its holder died and nobody has taken it since). A
    /// snapshot, for queries (who holds it, is it held): it never takes or
    /// disturbs the mutex, so a dead holder stays reported to the next
    /// acquirer.
    pub fn holder_tid(&self) -> i32 {
        // SAFETY: as in looks_free: the mutex begins with glibc's futex
        // word, read atomically. For a robust mutex that word is also the
        // kernel's robust-futex ABI (Documentation/locking/robust-futex-ABI):
        // the holder's TID in the low 30 bits, FUTEX_WAITERS and
        // FUTEX_OWNER_DIED above; the kernel clears the TID when the
        // holder dies. So the answer is the kernel's own notion of owner.
        // Relaxed: a snapshot that publishes nothing; a thread reading its
        // own tid here wrote it itself (program order), and any other
        // answer may be stale the moment it is read anyway.
        let word = unsafe { (*self.inner.get().cast::<AtomicI32>()).load(Ordering::Relaxed) };
        word & FUTEX_TID_MASK
    }

    /// Locks without a guard if free: `Ok(None)` when another holder has it.
    pub fn try_acquire(&self) -> Result<Option<LockState>> {
        // SAFETY: the mutex was initialised by `init`.
        acquired(unsafe { libc::pthread_mutex_trylock(self.inner.get()) })
    }

    /// Locks if free and says what it found (see [`Probe`]). Any other
    /// outcome (`EINVAL`: the mutex's bytes were damaged) is
    /// [`ErrorKind::Corrupt`].
    pub fn probe(&self) -> Result<Probe> {
        // SAFETY: the mutex was initialised by `init` (or damaged from
        // outside, which glibc reports as EINVAL rather than acting on).
        Ok(match unsafe { libc::pthread_mutex_trylock(self.inner.get()) } {
            0 => Probe::Acquired(LockState::Clean),
            libc::EOWNERDEAD => Probe::Acquired(LockState::OwnerDied),
            libc::EBUSY => Probe::Busy,
            libc::EDEADLK => Probe::Mine,
            libc::ENOTRECOVERABLE => Probe::Unrecoverable,
            rc => {
                return Err(Error::new(
                    ErrorKind::Corrupt,
                    format!("pthread_mutex_trylock: {} (damaged mutex)", std::io::Error::from_raw_os_error(rc)),
                ))
            }
        })
    }

    /// Unlocks a mutex taken with [`RobustMutex::acquire`].
    /// [`ErrorKind::Permission`] if this thread does not hold it.
    pub fn release(&self) -> Result<()> {
        // SAFETY: the mutex was initialised by `init`; unlocking a robust
        // mutex we do not own is refused by glibc with EPERM, no harm done.
        match unsafe { libc::pthread_mutex_unlock(self.inner.get()) } {
            0 => Ok(()),
            libc::EPERM => Err(Error::new(ErrorKind::Permission, "the lock is not held by this thread")),
            rc => Err(Error::from_io("pthread_mutex_unlock", std::io::Error::from_raw_os_error(rc))),
        }
    }

    /// Declares the guarded data consistent after an
    /// [`LockState::OwnerDied`] acquisition (see [`RobustMutex::acquire`]).
    /// Harmless otherwise; call only while holding the mutex.
    pub fn mark_consistent(&self) {
        // SAFETY: the mutex was initialised; EINVAL (not in owner-died
        // state, or not held) is harmless and ignored.
        unsafe { libc::pthread_mutex_consistent(self.inner.get()) };
    }
}

/// The outcome of a pthread lock call: `Ok(None)` for EBUSY (for callers
/// that make the pthread call themselves).
pub(crate) fn acquired_raw(rc: libc::c_int) -> Result<Option<LockState>> {
    acquired(rc)
}

/// The outcome of a pthread lock call: `Ok(None)` for EBUSY.
fn acquired(rc: libc::c_int) -> Result<Option<LockState>> {
    match rc {
        0 => Ok(Some(LockState::Clean)),
        libc::EOWNERDEAD => Ok(Some(LockState::OwnerDied)),
        libc::EBUSY => Ok(None),
        libc::EDEADLK => Err(Error::new(ErrorKind::Invalid, "this thread already holds the lock (not an RLock)")),
        libc::ENOTRECOVERABLE => Err(Error::new(
            ErrorKind::Corrupt,
            "lock not recoverable: a holder died and the guarded state could not be repaired",
        )),
        rc => Err(Error::from_io("pthread_mutex_lock", std::io::Error::from_raw_os_error(rc))),
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
        self.mutex.mark_consistent();
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
