//! The lease keeper: one thread per process that renews the leases this
//! process holds on a Redis server (manager locks, rlocks and semaphore
//! permits, docs/REDIS.md "Manager on Redis"), each every third of its
//! lease, for as long as the holder keeps its [`Lease`].
//!
//! Lazy: the thread starts with the first lease and then sleeps on a
//! condvar while there is nothing to renew. A renewal runs outside the
//! keeper's mutex (it is a round trip), so taking or dropping a lease never
//! waits for the network.
//!
//! Fork: the thread does not exist in a child. A child that takes a lease
//! finds the keeper's state marked with its parent's pid, drops the
//! parent's entries (the parent goes on renewing them; the child must not)
//! and starts its own thread. `pthread_atfork` handlers hold the keeper's
//! mutex across `fork()`, so the child never inherits it locked by a thread
//! it does not have.

use crate::error::{Error, ErrorKind, Result};
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Renews one lease: `Ok(true)` renewed, `Ok(false)` lost (the server
/// says the holder no longer holds it: renewing stops), `Err` a failure
/// worth retrying (the server unreachable for a moment).
pub(super) type Renew = Box<dyn FnMut() -> Result<bool> + Send>;

/// After a failed renewal, the next try comes this soon (or at the usual
/// time, if that is sooner): a server restarting is back within a few of
/// these, well inside a lease.
const RETRY: Duration = Duration::from_millis(250);

/// A lease being renewed: dropping it stops the renewals (the holder
/// released what it held, or lost it).
#[derive(Debug)]
pub(super) struct Lease {
    id: u64,
    /// The process that took it: a child after fork() drops the handles it
    /// inherited without touching the keeper (which is its own by then).
    pid: u32,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut k = KEEPER.lock();
        if k.pid == self.pid {
            k.entries.retain(|e| e.id != self.id);
        }
    }
}

struct Entry {
    id: u64,
    every: Duration,
    due: Instant,
    /// `None` while the keeper runs it (outside the mutex).
    renew: Option<Renew>,
}

struct Keeper {
    /// The process whose thread serves `entries` (0: none yet).
    pid: u32,
    entries: Vec<Entry>,
    next_id: u64,
}

static KEEPER: Mutex<Keeper> = Mutex::new(Keeper { pid: 0, entries: Vec::new(), next_id: 1 });
/// Wakes the keeper thread: a new lease may be due sooner than it planned.
static WAKE: Condvar = Condvar::new();

/// Starts renewing a lease: `renew` runs every `every` (a third of the
/// lease) until the returned [`Lease`] is dropped or `renew` says the lease
/// is lost. [`ErrorKind::Io`] if the keeper thread cannot be started.
pub(super) fn keep(every: Duration, renew: Renew) -> Result<Lease> {
    register_atfork();
    let pid = crate::os::current_pid();
    let mut k = KEEPER.lock();
    if k.pid != pid {
        // The first lease of this process (or of this child: the parent's
        // entries are the parent's business, and its thread is not here).
        k.entries.clear();
        std::thread::Builder::new()
            .name("mpipc-redis-lease".into())
            .spawn(move || serve(pid))
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start the Redis lease keeper thread: {e}")))?;
        k.pid = pid;
    }
    let id = k.next_id;
    k.next_id += 1;
    let every = every.max(Duration::from_millis(1));
    k.entries.push(Entry { id, every, due: Instant::now() + every, renew: Some(renew) });
    drop(k);
    WAKE.notify_one();
    Ok(Lease { id, pid })
}

/// The keeper thread of process `pid`.
fn serve(pid: u32) {
    // The host program's signals are not this thread's business, and none
    // may interrupt its renewals (crate::os::AsyncSignalsBlocked).
    crate::os::AsyncSignalsBlocked::for_this_thread();
    let mut k = KEEPER.lock();
    loop {
        if k.pid != pid {
            return; // never in this process: its state is another's
        }
        let now = Instant::now();
        let due = k.entries.iter_mut().find(|e| e.renew.is_some() && e.due <= now);
        let Some(entry) = due else {
            let next = k.entries.iter().filter(|e| e.renew.is_some()).map(|e| e.due).min();
            // Spurious or early wake-ups are harmless: the loop looks again.
            match next {
                Some(t) => {
                    WAKE.wait_until(&mut k, t);
                }
                None => WAKE.wait(&mut k),
            }
            continue;
        };
        let (id, every) = (entry.id, entry.every);
        let mut renew = entry.renew.take().expect("filtered on Some");
        let result = MutexGuard::unlocked(&mut k, &mut renew);
        // The holder may have dropped its lease meanwhile: then the entry
        // is gone and `renew` goes with this scope.
        let Some(i) = k.entries.iter().position(|e| e.id == id) else { continue };
        match result {
            Ok(true) => {
                let e = &mut k.entries[i];
                e.renew = Some(renew);
                e.due = Instant::now() + every;
            }
            Ok(false) => {
                k.entries.remove(i);
            }
            Err(_) => {
                let e = &mut k.entries[i];
                e.renew = Some(renew);
                e.due = Instant::now() + every.min(RETRY);
            }
        }
    }
}

/// Whether the fork handlers are registered.
static REGISTERED: AtomicBool = AtomicBool::new(false);

/// Registers the fork handlers once (no `Once`: a thread inside
/// `call_once` at a fork would leave the child's `Once` running for ever).
fn register_atfork() {
    // AcqRel: the one thread that flips the flag registers; nothing else
    // is published through it.
    if !REGISTERED.swap(true, Ordering::AcqRel) {
        // SAFETY: registers handlers that only lock and unlock KEEPER.
        unsafe { libc::pthread_atfork(Some(before_fork), Some(after_fork), Some(after_fork)) };
    }
}

/// Holds the keeper's mutex across the fork: no thread can be inside it
/// when the child's copy of memory is taken (the keeper thread holds it
/// only between renewals, never across a round trip).
extern "C" fn before_fork() {
    std::mem::forget(KEEPER.lock());
}

/// Releases what [`before_fork`] took, in the parent and in the child.
extern "C" fn after_fork() {
    // SAFETY: before_fork locked KEEPER in this thread and forgot the
    // guard; nothing else unlocks it.
    unsafe { KEEPER.force_unlock() };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::sync::Arc;

    /// Renewals run while the lease is kept, stop when it is dropped, and
    /// stop by themselves when the lease is reported lost.
    #[test]
    fn renews_until_dropped_or_lost() {
        let count = Arc::new(AtomicU32::new(0));
        let (tx, rx) = std::sync::mpsc::channel();
        let c = count.clone();
        let lease = keep(
            Duration::from_millis(1),
            Box::new(move || {
                // Relaxed: a counter read after the channel says so.
                let n = c.fetch_add(1, Ordering::Relaxed) + 1;
                if n == 3 {
                    let _ = tx.send(());
                }
                Ok(true)
            }),
        )
        .unwrap();
        rx.recv().unwrap();
        let id = lease.id;
        drop(lease);
        assert!(!KEEPER.lock().entries.iter().any(|e| e.id == id), "dropping a lease unregisters it at once");

        let (tx, rx) = std::sync::mpsc::channel();
        let lost = keep(
            Duration::from_millis(1),
            Box::new(move || {
                let _ = tx.send(());
                Ok(false)
            }),
        )
        .unwrap();
        rx.recv().unwrap();
        let id = lost.id;
        // The keeper removes a lost entry right after its renewal returns.
        while KEEPER.lock().entries.iter().any(|e| e.id == id) {
            std::thread::yield_now();
        }
    }
}
