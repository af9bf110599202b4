//! `Lock` and `RLock`: a named, robust, process-shared lock.
//!
//! [`LockWord`] is the lock itself (also embedded beside an array's data);
//! [`Lock`] is a named segment holding one.
//!
//! The mutex is glibc's robust one (see [`RobustMutex`]); on top of it the
//! word records its owner thread and a recursion depth, both written only
//! by the holder:
//! - an RLock taken again by its holder just counts (no pthread call);
//! - a Lock taken again by its holder is refused (`Invalid`) instead of
//!   deadlocking;
//! - release by a thread that does not hold it is `Permission`, checked
//!   against the recorded owner before anything changes;
//! - a Condition can release an RLock completely and restore its depth.
//!
//! The owner is a kernel thread id, unique among live threads. A dead
//! holder's id stays recorded until the next acquisition; a new thread that
//! happens to reuse that id is not fooled, because every "I already hold
//! it" answer is confirmed by the mutex itself (`EDEADLK` from trylock).

use crate::error::{Error, ErrorKind, Result};
use crate::os::{current_tid, Deadline, LockState, RobustMutex};
use crate::segment::{self, NamedSegment, OpenOptions, SegmentKind};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// A robust lock with an owner and a recursion depth. `#[repr(C)]`, 64
/// bytes, in shared memory.
#[repr(C)]
pub struct LockWord {
    mutex: RobustMutex,
    /// The holder's tid, 0 when free. Written only by the holder (Relaxed:
    /// the mutex orders it; a reader compares it with its own tid, which
    /// only its own thread can have written).
    owner_tid: AtomicI32,
    /// Recursion depth; meaningful only to the holder.
    depth: AtomicU32,
    /// How many times a holder died holding it (a statistic).
    owner_deaths: AtomicU64,
    /// 1 for an RLock.
    recursive: u32,
    _reserved: u32,
}

const _: () = assert!(std::mem::size_of::<LockWord>() == 64);

impl LockWord {
    /// Initialises the lock in place.
    ///
    /// # Safety
    /// `this` points to zeroed, writable, 8-aligned memory not yet shared.
    pub unsafe fn init(this: *mut LockWord, recursive: bool) -> Result<()> {
        // SAFETY: per the contract; the other fields are valid zeroed.
        unsafe {
            RobustMutex::init(std::ptr::addr_of_mut!((*this).mutex))?;
            (*this).recursive = recursive as u32;
        }
        Ok(())
    }

    /// Whether this is an RLock.
    pub fn is_recursive(&self) -> bool {
        self.recursive != 0
    }

    /// Acquires, waiting until `deadline`: `Ok(None)` on timeout,
    /// `Ok(Some(OwnerDied))` when acquired from a dead holder (the guarded
    /// data may need repair; the lock is usable again).
    pub fn acquire(&self, deadline: &Deadline) -> Result<Option<LockState>> {
        let me = current_tid();
        // Relaxed: only this thread can have stored its own tid here; the
        // mutex confirms the answer below.
        if self.owner_tid.load(Ordering::Relaxed) == me {
            // EDEADLK from trylock is the mutex's own "the caller holds
            // me" (any other error is an error, not a yes).
            let held = {
                // SAFETY: see RobustMutex::held_by_caller; a trylock that
                // succeeds here is kept (it is our acquisition).
                let rc = unsafe { libc::pthread_mutex_trylock(self.mutex.as_ptr()) };
                match rc {
                    libc::EDEADLK => true,
                    libc::EBUSY => false,
                    rc => match crate::os::acquired_raw(rc)? {
                        // A stale id (its holder died): we just took it.
                        Some(st) => return Ok(Some(self.took(st, me))),
                        None => false,
                    },
                }
            };
            if held {
                if !self.is_recursive() {
                    return Err(Error::new(ErrorKind::Invalid, "this thread already holds the lock (not an RLock)"));
                }
                let d = self.depth.load(Ordering::Relaxed);
                if d == u32::MAX {
                    return Err(Error::new(ErrorKind::Invalid, "RLock recursion too deep"));
                }
                self.depth.store(d + 1, Ordering::Relaxed);
                return Ok(Some(LockState::Clean));
            }
        }
        Ok(self.mutex.acquire(deadline)?.map(|st| self.took(st, me)))
    }

    fn took(&self, st: LockState, me: i32) -> LockState {
        if st == LockState::OwnerDied {
            // The guarded data is the caller's to repair; the lock word's
            // own fields are rewritten right here.
            self.mutex.mark_consistent();
            // Relaxed: a statistic.
            self.owner_deaths.fetch_add(1, Ordering::Relaxed);
        }
        // Relaxed: written under the mutex, read by the holder (see fields).
        self.owner_tid.store(me, Ordering::Relaxed);
        self.depth.store(1, Ordering::Relaxed);
        st
    }

    /// Releases one level (an RLock stays held until released as often as
    /// acquired). `Permission` if this thread does not hold it.
    pub fn release(&self) -> Result<()> {
        if !self.held_by_me() {
            return Err(Error::new(ErrorKind::Permission, "release of a lock this thread does not hold"));
        }
        let d = self.depth.load(Ordering::Relaxed);
        if d > 1 {
            self.depth.store(d - 1, Ordering::Relaxed);
            return Ok(());
        }
        self.release_fully().map(|_| ())
    }

    /// Releases completely, returning the depth it had (for a Condition).
    pub fn release_fully(&self) -> Result<u32> {
        if !self.held_by_me() {
            return Err(Error::new(ErrorKind::Permission, "release of a lock this thread does not hold"));
        }
        let d = self.depth.load(Ordering::Relaxed).max(1);
        self.depth.store(0, Ordering::Relaxed);
        self.owner_tid.store(0, Ordering::Relaxed);
        self.mutex.release()?;
        Ok(d)
    }

    /// Re-acquires (forever) and restores the depth saved by
    /// [`LockWord::release_fully`].
    pub fn reacquire(&self, depth: u32) -> Result<LockState> {
        let st = self.acquire(&Deadline::Never)?.expect("an endless wait does not time out");
        self.depth.store(depth.max(1), Ordering::Relaxed);
        Ok(st)
    }

    /// Whether the calling thread holds the lock. The recorded owner is
    /// confirmed by the mutex's own word ([`RobustMutex::holder_tid`]): a
    /// thread that reuses the id of a holder that died is not taken for
    /// the holder.
    pub fn held_by_me(&self) -> bool {
        let me = current_tid();
        // Relaxed: see the field; only this thread can have stored `me`.
        self.owner_tid.load(Ordering::Relaxed) == me && self.mutex.holder_tid() == me
    }

    /// Whether any thread (of any process) holds the lock: a snapshot,
    /// taken without touching the lock, so a holder that died is reported
    /// to the next acquirer as usual (and reads as not held).
    pub fn is_locked(&self) -> bool {
        self.mutex.holder_tid() != 0
    }

    /// How many times the calling thread holds the lock: its recursion
    /// depth (1 for a held Lock), 0 when it does not hold it.
    pub fn depth(&self) -> u32 {
        if self.held_by_me() {
            // Relaxed: written by this thread (the holder) only.
            self.depth.load(Ordering::Relaxed)
        } else {
            0
        }
    }

    /// How many holders died holding it.
    pub fn owner_deaths(&self) -> u64 {
        self.owner_deaths.load(Ordering::Relaxed)
    }
}

/// The layout version of lock segments.
const LOCK_LAYOUT: u32 = 1;

/// A named Lock or RLock in shared memory (`/dev/shm/mpipc.lock.<name>`).
/// Thread-safe; ownership is per thread, as with Python's `threading.RLock`
/// (and stricter than `multiprocessing.Lock`, which anyone may release).
pub struct Lock {
    seg: NamedSegment<LockWord>,
    /// Acquisitions through this handle not yet released (process-local):
    /// a handle dropped while it is above 0 keeps its mapping (see
    /// [`NamedSegment::keep_mapped`]).
    holds: AtomicUsize,
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Relaxed: the handle is being dropped, no call is in flight.
        if self.holds.load(Ordering::Relaxed) > 0 {
            self.seg.keep_mapped();
        }
    }
}

impl Lock {
    /// Opens (creates or attaches) the lock `name`. Attaching to a lock of
    /// the other kind (Lock vs RLock) is [`ErrorKind::Type`].
    pub fn open(name: &str, recursive: bool, opts: &OpenOptions) -> Result<Lock> {
        // SAFETY: init gets the zeroed, unpublished state.
        let seg = NamedSegment::open(SegmentKind::Lock, name, LOCK_LAYOUT, 0, opts, |st, _| unsafe {
            LockWord::init(st, recursive)
        })?;
        let is_rec = seg.state().is_recursive();
        if seg.state().recursive > 1 {
            return Err(Error::new(ErrorKind::Corrupt, format!("{name:?}: bad lock header")));
        }
        if is_rec != recursive {
            let (have, want) = if is_rec { ("an RLock", "a Lock") } else { ("a Lock", "an RLock") };
            return Err(Error::new(ErrorKind::Type, format!("{name:?} is {have}, opened as {want}")));
        }
        Ok(Lock { seg, holds: AtomicUsize::new(0) })
    }

    /// Removes the name; holders of open handles keep using the lock.
    pub fn unlink(name: &str) -> Result<()> {
        segment::unlink(SegmentKind::Lock, name)
    }

    /// The lock word (for Condition waits).
    pub fn word(&self) -> &LockWord {
        self.seg.state()
    }

    /// See [`LockWord::acquire`].
    pub fn acquire(&self, deadline: &Deadline) -> Result<Option<LockState>> {
        let r = self.word().acquire(deadline)?;
        if r.is_some() {
            // Relaxed: a process-local count, read only at drop.
            self.holds.fetch_add(1, Ordering::Relaxed);
        }
        Ok(r)
    }

    /// See [`LockWord::release`].
    pub fn release(&self) -> Result<()> {
        self.word().release()?;
        // Relaxed: as in acquire. Saturating: releases of acquisitions
        // made through another handle of the same lock are allowed.
        let _ = self.holds.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |h| h.checked_sub(1));
        Ok(())
    }

    /// Whether this is an RLock.
    pub fn is_recursive(&self) -> bool {
        self.word().is_recursive()
    }

    /// See [`LockWord::held_by_me`].
    pub fn held_by_me(&self) -> bool {
        self.word().held_by_me()
    }

    /// See [`LockWord::is_locked`].
    pub fn is_locked(&self) -> bool {
        self.word().is_locked()
    }

    /// See [`LockWord::depth`].
    pub fn depth(&self) -> u32 {
        self.word().depth()
    }

    /// How many holders died holding it.
    pub fn owner_deaths(&self) -> u64 {
        self.word().owner_deaths()
    }
}
