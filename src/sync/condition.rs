//! `Condition`: named, process-shared, used with a [`Lock`].
//!
//! Not a pthread condition variable (glibc's is not robust, DESIGN §3).
//! Each waiter takes a slot in a fixed table inside the segment, records
//! its pid and an arrival ticket, releases the lock and sleeps on the
//! slot's own state word. `notify(n)` marks the `n` oldest waiting slots
//! notified and wakes exactly those, which gives Python's semantics:
//! notify wakes waiters that were waiting at the time, oldest first, and no
//! more than asked (no spurious wake-ups).
//!
//! The table is guarded by an internal robust mutex, so the condition stays
//! consistent even if callers misuse the lock. A waiter killed while
//! waiting leaves its slot marked waiting; notify checks a chosen slot's
//! pid and frees the slots of dead processes instead of spending the
//! notification on them, and a full table is swept the same way.
//! Slot state changes are CAS operations, so a timing-out waiter and a
//! notifier racing for the same slot agree on the outcome.

use super::futex::{futex_wait, futex_wake, Deadline};
use super::lock::Lock;
use super::named::{NamedSegment, OpenOptions};
use super::robust_mutex::{LockState, RobustMutex};
use crate::error::{Error, ErrorKind, Result};
use crate::shm::{self, SegmentKind};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

/// How many processes/threads may wait on one condition at once.
pub const COND_MAX_WAITERS: usize = 256;

const FREE: u32 = 0;
const WAITING: u32 = 1;
const NOTIFIED: u32 = 2;

#[repr(C)]
struct Slot {
    /// FREE, WAITING or NOTIFIED; the waiter's futex word.
    state: AtomicU32,
    /// The waiter's pid (for dead-waiter detection).
    pid: AtomicI32,
    /// Arrival order.
    ticket: AtomicU64,
}

#[repr(C)]
struct CondState {
    /// Guards `next_ticket` and slot allocation/notification.
    table_lock: RobustMutex,
    next_ticket: AtomicU64,
    slots: [Slot; COND_MAX_WAITERS],
}

const COND_LAYOUT: u32 = 1;

// The layout documented in docs/PROTOCOL.md §5.
const _: () = assert!(std::mem::size_of::<Slot>() == 16);
const _: () = assert!(std::mem::offset_of!(CondState, slots) == 48);

/// A named condition variable. Thread-safe.
pub struct Condition {
    seg: NamedSegment<CondState>,
}

/// Whether process `pid` no longer exists.
fn is_dead(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence and permission.
    unsafe { libc::kill(pid, 0) != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) }
}

impl Condition {
    /// Opens (creates or attaches to) the condition `name`.
    pub fn open(name: &str, opts: &OpenOptions) -> Result<Condition> {
        let seg = NamedSegment::open(SegmentKind::Condition, name, COND_LAYOUT, 0, opts, |st: *mut CondState, _| {
            // SAFETY: the zeroed, unpublished state.
            unsafe { RobustMutex::init(std::ptr::addr_of_mut!((*st).table_lock)) }
        })?;
        Ok(Condition { seg })
    }

    /// Removes the name.
    pub fn unlink(name: &str) -> Result<()> {
        shm::unlink(SegmentKind::Condition, name)
    }

    fn st(&self) -> &CondState {
        self.seg.state()
    }

    /// Runs `f` under the table lock (repairing nothing on owner death:
    /// every table update is a single CAS or a ticket bump, consistent at
    /// any instant).
    fn with_table<R>(&self, f: impl FnOnce(&CondState) -> R) -> Result<R> {
        let st = self.st();
        let (guard, state) = st.table_lock.lock()?;
        if state == LockState::OwnerDied {
            guard.mark_consistent();
        }
        Ok(f(st))
    }

    /// Releases `lock` (which this thread must hold, at any RLock depth),
    /// waits for a notification or `deadline`, then re-acquires the lock at
    /// its former depth. Returns whether it was notified (false: timed
    /// out). If the lock's holder died while this thread waited, the lock
    /// is re-acquired and [`ErrorKind::OwnerDead`] is returned.
    pub fn wait(&self, lock: &Lock, deadline: &Deadline) -> Result<bool> {
        let word = lock.word();
        if !word.held_by_me() {
            return Err(Error::new(ErrorKind::Permission, "wait on a condition without holding its lock"));
        }
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        let slot = self.with_table(|st| {
            let mut pick = st.slots.iter().position(|s| s.state.load(Ordering::Relaxed) == FREE);
            if pick.is_none() {
                // Sweep the slots of dead waiters.
                for s in &st.slots {
                    if s.state.load(Ordering::Relaxed) == WAITING && is_dead(s.pid.load(Ordering::Relaxed)) {
                        let _ = s.state.compare_exchange(WAITING, FREE, Ordering::AcqRel, Ordering::Relaxed);
                    }
                }
                pick = st.slots.iter().position(|s| s.state.load(Ordering::Relaxed) == FREE);
            }
            let i = pick?;
            let s = &st.slots[i];
            // Relaxed: pid, ticket and next_ticket are read and written
            // under the table lock only.
            s.pid.store(pid, Ordering::Relaxed);
            s.ticket.store(st.next_ticket.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
            // Release: pid and ticket are visible to a notifier that sees
            // WAITING (it reads them under the table lock anyway).
            s.state.store(WAITING, Ordering::Release);
            Some(i)
        })?;
        let Some(i) = slot else {
            return Err(Error::new(ErrorKind::Full, format!("more than {COND_MAX_WAITERS} waiters on one condition")));
        };
        let depth = match word.release_fully() {
            Ok(d) => d,
            Err(e) => {
                self.st().slots[i].state.store(FREE, Ordering::Release);
                return Err(e);
            }
        };
        let s = &self.st().slots[i];
        let notified = loop {
            // Acquire: pairs with the notifier's CAS.
            if s.state.load(Ordering::Acquire) == NOTIFIED {
                s.state.store(FREE, Ordering::Release);
                break true;
            }
            match deadline.next_sleep() {
                Some(sleep) => futex_wait(&s.state, WAITING, sleep),
                None => match s.state.compare_exchange(WAITING, FREE, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => break false,
                    // Notified while timing out: take the notification.
                    Err(_) => {
                        s.state.store(FREE, Ordering::Release);
                        break true;
                    }
                },
            }
        };
        match word.reacquire(depth)? {
            LockState::Clean => Ok(notified),
            LockState::OwnerDied => {
                Err(Error::new(ErrorKind::OwnerDead, "re-acquired the lock from a holder that died holding it"))
            }
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
                if is_dead(s.pid.load(Ordering::Relaxed)) {
                    let _ = s.state.compare_exchange(WAITING, FREE, Ordering::AcqRel, Ordering::Relaxed);
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

    /// How many threads wait now (a snapshot, dead waiters included until
    /// the next notify sweeps them).
    pub fn waiters(&self) -> usize {
        self.st().slots.iter().filter(|s| s.state.load(Ordering::Relaxed) == WAITING).count()
    }
}
