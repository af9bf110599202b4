//! `Condition`: named, process-shared, used with a [`Lock`].
//!
//! Not a pthread condition variable (glibc's is not robust, DESIGN §3).
//! Each waiter takes a slot in a fixed table inside the segment, with an
//! arrival ticket, releases the lock and sleeps on the slot's own state
//! word. `notify(n)` marks the `n` oldest waiting slots notified and wakes
//! exactly those, which gives Python's semantics: notify wakes waiters that
//! were waiting at the time, oldest first, and no more than asked (no
//! spurious wake-ups).
//!
//! **Dead waiters.** While it waits, a waiter holds its slot's `alive`
//! robust mutex. When its thread dies (SIGKILL included) the kernel marks
//! that mutex owner-dead at once, even before the process is reaped, so
//! a notifier's trylock tells a live waiter (busy) from a dead one
//! (`EOWNERDEAD`): dead slots are freed and skipped instead of swallowing
//! the notification, and a full table is swept the same way.
//!
//! The table is guarded by an internal robust mutex, so the condition stays
//! consistent even if callers misuse their lock. Slot state changes are CAS
//! operations, so a timing-out waiter and a notifier racing for the same
//! slot agree on the outcome.

use super::lock::Lock;
use crate::error::{Error, ErrorKind, Result};
use crate::os::{current_tid, futex_wait, futex_wake, Deadline, LockState, RobustMutex};
use crate::segment::{self, NamedSegment, OpenOptions, SegmentKind};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// How many threads may wait on one condition at once.
pub const COND_MAX_WAITERS: usize = 256;

const FREE: u32 = 0;
const WAITING: u32 = 1;
const NOTIFIED: u32 = 2;

#[repr(C)]
struct Slot {
    /// FREE, WAITING or NOTIFIED; the waiter's futex word.
    state: AtomicU32,
    _reserved: u32,
    /// Arrival order.
    ticket: AtomicU64,
    /// Held by the waiter while its slot is WAITING (see the module doc).
    alive: RobustMutex,
}

/// Orderings: `next_ticket` and `ticket` are used under `table_lock` only
/// (Relaxed). A slot's `state` is also read and CASed by its waiter
/// without the table lock: states are published with Release and read with
/// Acquire, and the WAITING -> NOTIFIED / WAITING -> FREE races are settled
/// by AcqRel CAS.
#[repr(C)]
struct CondState {
    /// Guards `next_ticket`, slot claims and notifications.
    table_lock: RobustMutex,
    next_ticket: AtomicU64,
    slots: [Slot; COND_MAX_WAITERS],
}

const COND_LAYOUT: u32 = 1;

// The layout documented in docs/PROTOCOL.md §5.
const _: () = assert!(std::mem::size_of::<Slot>() == 56);
const _: () = assert!(std::mem::offset_of!(CondState, slots) == 48);

/// What a notifier learns about a WAITING slot's owner.
enum Waiter {
    /// Asleep or about to sleep (or just leaving on a timeout).
    Live,
    /// Its thread died; the slot has been freed.
    Dead,
}

/// A wait in progress, between [`Condition::wait_begin`] and
/// [`Condition::wait_end`]: the slot the waiting thread holds and the lock
/// depth it gave up. Plain data (the C ABI hands it to the caller); it
/// belongs to the thread that began the wait, which is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CondWait {
    /// The claimed slot's index.
    pub slot: u32,
    /// The RLock depth to restore.
    pub depth: u32,
}

/// A named condition variable. Thread-safe.
pub struct Condition {
    seg: NamedSegment<CondState>,
    /// The waits in progress through this handle, `(slot, thread id)`:
    /// what the steps of a wait check a [`CondWait`] against. Kept in
    /// process memory, not read from the segment, so that a damaged
    /// segment cannot make a wait's end skip freeing its slot (whose
    /// `alive` mutex this thread holds). A handle dropped with a wait in
    /// progress keeps its mapping: glibc links held robust mutexes into the
    /// thread's robust list through the mutexes themselves.
    waits: std::sync::Mutex<Vec<(u32, i32)>>,
}

impl Drop for Condition {
    fn drop(&mut self) {
        let open = self.waits.get_mut().map_or(true, |w| !w.is_empty());
        if open {
            self.seg.keep_mapped();
        }
    }
}

impl Condition {
    /// Opens (creates or attaches to) the condition `name`.
    pub fn open(name: &str, opts: &OpenOptions) -> Result<Condition> {
        let seg = NamedSegment::open(SegmentKind::Condition, name, COND_LAYOUT, 0, opts, |st: *mut CondState, _| {
            // SAFETY: the zeroed, unpublished state.
            unsafe {
                RobustMutex::init(std::ptr::addr_of_mut!((*st).table_lock))?;
                for i in 0..COND_MAX_WAITERS {
                    RobustMutex::init(std::ptr::addr_of_mut!((*st).slots[i].alive))?;
                }
            }
            Ok(())
        })?;
        Ok(Condition { seg, waits: std::sync::Mutex::new(Vec::new()) })
    }

    /// Removes the name.
    pub fn unlink(name: &str) -> Result<()> {
        segment::unlink(SegmentKind::Condition, name)
    }

    fn st(&self) -> &CondState {
        self.seg.state()
    }

    /// Runs `f` under the table lock. Nothing to repair on owner death:
    /// every table update is a single CAS or store, consistent at any
    /// instant.
    fn with_table<R>(&self, f: impl FnOnce(&CondState) -> R) -> Result<R> {
        let st = self.st();
        let _guard = st.table_lock.lock_self_consistent()?;
        Ok(f(st))
    }

    /// Probes the owner of a WAITING or NOTIFIED slot. Under the table
    /// lock. A live waiter holds the slot's `alive` mutex from its claim
    /// until after it has set the slot FREE, so a trylock that succeeds
    /// means its thread died (owner-dead) or left a stale slot; either way
    /// the slot is freed.
    fn probe(s: &Slot) -> Waiter {
        match s.alive.try_acquire() {
            // Held: the waiter is there.
            Ok(None) => Waiter::Live,
            Ok(Some(st)) => {
                if st == LockState::OwnerDied {
                    s.alive.mark_consistent();
                }
                let _ = s.alive.release();
                // Release: the slot is reusable. (The state is WAITING or
                // NOTIFIED; nobody else changes a dead waiter's slot.)
                s.state.store(FREE, Ordering::Release);
                Waiter::Dead
            }
            // Unrecoverable or unexpected: count it as live, harmless.
            Err(_) => Waiter::Live,
        }
    }

    /// Releases `lock` (which this thread must hold, at any RLock depth),
    /// waits for a notification or `deadline`, then re-acquires the lock at
    /// its former depth. Returns whether it was notified (false: timed
    /// out). If the lock's holder died while this thread waited, the lock
    /// is re-acquired and [`ErrorKind::OwnerDead`] is returned.
    pub fn wait(&self, lock: &Lock, deadline: &Deadline) -> Result<bool> {
        let w = self.wait_begin(lock)?;
        // An error here leaves the slot to wait_end, which frees it.
        let _ = self.wait_notified(&w, deadline);
        self.wait_end(&w, lock)
    }

    /// The first step of a wait taken in steps (an interruptible wait:
    /// the caller can run between [`Condition::wait_notified`] slices,
    /// e.g. Python's signal handlers): claims a slot, so that every notify
    /// from now on counts this thread, then releases `lock` fully. The
    /// caller must end the wait with [`Condition::wait_end`] on the same
    /// thread, whatever happens in between; a thread that exits first
    /// leaves a slot that the next notify or claim frees.
    pub fn wait_begin(&self, lock: &Lock) -> Result<CondWait> {
        let word = lock.word();
        if !word.held_by_me() {
            return Err(Error::new(ErrorKind::Permission, "wait on a condition without holding its lock"));
        }
        let slot = self.with_table(|st| {
            // A FREE slot whose `alive` is still held belongs to a waiter
            // that has freed it and is about to unlock: skip it.
            let claim = |st: &CondState| {
                st.slots.iter().position(|s| {
                    // Acquire: pairs with the Release that freed the slot.
                    s.state.load(Ordering::Acquire) == FREE
                        && match s.alive.try_acquire() {
                            Ok(Some(LockState::OwnerDied)) => {
                                s.alive.mark_consistent();
                                true
                            }
                            Ok(Some(LockState::Clean)) => true,
                            _ => false,
                        }
                })
            };
            let mut pick = claim(st);
            if pick.is_none() {
                // Full: free the slots of waiters that died (waiting, or
                // notified but gone before leaving).
                for s in &st.slots {
                    if s.state.load(Ordering::Acquire) != FREE {
                        Self::probe(s);
                    }
                }
                pick = claim(st);
            }
            let i = pick?;
            let s = &st.slots[i];
            // Relaxed: ticket and next_ticket are only used under the
            // table lock.
            s.ticket.store(st.next_ticket.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
            // Release: the ticket is visible to a notifier that sees WAITING.
            s.state.store(WAITING, Ordering::Release);
            Some(i)
        })?;
        let Some(i) = slot else {
            return Err(Error::new(ErrorKind::Full, format!("more than {COND_MAX_WAITERS} waiters on one condition")));
        };
        match word.release_fully() {
            Ok(depth) => {
                self.waits.lock().unwrap_or_else(|p| p.into_inner()).push((i as u32, current_tid()));
                Ok(CondWait { slot: i as u32, depth })
            }
            Err(e) => {
                Self::leave(&self.st().slots[i]);
                Err(e)
            }
        }
    }

    /// Waits until the wait `w` is notified (true) or `deadline` passes
    /// (false: still waiting, nothing changed; wait again or end it).
    /// [`ErrorKind::Invalid`] if `w` is not a wait this thread began and
    /// has not ended.
    pub fn wait_notified(&self, w: &CondWait, deadline: &Deadline) -> Result<bool> {
        let s = self.own_slot(w)?;
        loop {
            // Acquire: pairs with the notifier's CAS.
            if s.state.load(Ordering::Acquire) == NOTIFIED {
                return Ok(true);
            }
            match deadline.next_sleep() {
                Some(sleep) => futex_wait(&s.state, WAITING, sleep),
                None => return Ok(false),
            }
        }
    }

    /// Ends the wait `w`: leaves the slot (a notification that arrives
    /// meanwhile still counts), then re-acquires `lock` at the depth the
    /// wait began with. Returns whether the wait was notified; the lock's
    /// owner-death as in [`Condition::wait`].
    pub fn wait_end(&self, w: &CondWait, lock: &Lock) -> Result<bool> {
        let s = self.own_slot(w)?;
        {
            let mut waits = self.waits.lock().unwrap_or_else(|p| p.into_inner());
            let me = (w.slot, current_tid());
            waits.retain(|&x| x != me);
        }
        // AcqRel: races with a notifier's CAS; one wins. Lost the race (or
        // already NOTIFIED): the notification is this waiter's.
        let notified = s.state.compare_exchange(WAITING, FREE, Ordering::AcqRel, Ordering::Acquire).is_err();
        Self::leave(s);
        match lock.word().reacquire(w.depth)? {
            LockState::Clean => Ok(notified),
            LockState::OwnerDied => {
                Err(Error::new(ErrorKind::OwnerDead, "re-acquired the lock from a holder that died holding it"))
            }
        }
    }

    /// Frees a slot this thread holds: the state first, then `alive`, so
    /// that a waiter killed in between leaves a FREE slot whose `alive`
    /// the next claim finds owner-dead, never a WAITING slot that looks
    /// alive.
    fn leave(s: &Slot) {
        s.state.store(FREE, Ordering::Release);
        let _ = s.alive.release();
    }

    /// The slot of the wait `w`, checked against this handle's record of
    /// the calling thread's waits in progress (never against the segment:
    /// see `waits`), so a stale or forged `w`, or another thread's, is
    /// refused rather than acted upon.
    fn own_slot(&self, w: &CondWait) -> Result<&Slot> {
        let mine = self.waits.lock().unwrap_or_else(|p| p.into_inner()).contains(&(w.slot, current_tid()));
        match self.st().slots.get(w.slot as usize) {
            Some(s) if mine => Ok(s),
            _ => Err(Error::new(ErrorKind::Invalid, "no wait of this thread in progress on this condition")),
        }
    }

    /// Wakes up to `n` of the threads waiting now, oldest first; returns
    /// how many it woke. Call with the lock held, as Python requires (not
    /// checked: the condition does not know which lock its waiters use).
    pub fn notify(&self, n: usize) -> Result<usize> {
        let woken = self.with_table(|st| {
            let mut waiting: Vec<(u64, usize)> = st
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.state.load(Ordering::Acquire) == WAITING)
                .map(|(i, s)| (s.ticket.load(Ordering::Relaxed), i))
                .collect();
            waiting.sort_unstable();
            let mut woken = Vec::new();
            for (_, i) in waiting {
                if woken.len() >= n {
                    break;
                }
                let s = &st.slots[i];
                if let Waiter::Dead = Self::probe(s) {
                    continue;
                }
                // AcqRel: a waiter timing out races with us; one CAS wins.
                if s.state.compare_exchange(WAITING, NOTIFIED, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                    woken.push(i);
                }
            }
            woken
        })?;
        for &i in &woken {
            futex_wake(&self.st().slots[i].state, 1);
        }
        Ok(woken.len())
    }

    /// Wakes every thread waiting now; returns how many.
    pub fn notify_all(&self) -> Result<usize> {
        self.notify(usize::MAX)
    }

    /// How many threads wait now (a snapshot; a dead waiter counts until a
    /// notify or a full table frees its slot).
    pub fn waiters(&self) -> usize {
        self.st().slots.iter().filter(|s| s.state.load(Ordering::Relaxed) == WAITING).count()
    }
}
