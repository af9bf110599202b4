//! `Event`: a named flag that processes can wait for.
//!
//! The flag is the futex word; `waiters` counts possible sleepers so that
//! `set` skips the wake syscall when nobody waits (SeqCst pair, as in the
//! semaphore). A set immediately followed by a clear may be missed by a
//! waiter that had not yet been scheduled (as with Python's Event across
//! processes, which is a condition variable over a flag).

use crate::error::Result;
use crate::os::{futex_wake_all, wait_while_zero, Deadline};
use crate::segment::{self, NamedSegment, OpenOptions, SegmentKind};
use std::sync::atomic::{AtomicU32, Ordering};

#[repr(C)]
struct EventState {
    /// 1 = set; the futex word.
    flag: AtomicU32,
    /// Processes that may be asleep on `flag`.
    waiters: AtomicU32,
}

const EVENT_LAYOUT: u32 = 1;

/// A named event. Thread-safe.
pub struct Event {
    seg: NamedSegment<EventState>,
}

impl Event {
    /// Opens (creates clear, or attaches to) the event `name`.
    pub fn open(name: &str, opts: &OpenOptions) -> Result<Event> {
        let seg = NamedSegment::open(SegmentKind::Event, name, EVENT_LAYOUT, 0, opts, |_: *mut EventState, _| Ok(()))?;
        Ok(Event { seg })
    }

    /// Removes the name.
    pub fn unlink(name: &str) -> Result<()> {
        segment::unlink(SegmentKind::Event, name)
    }

    fn st(&self) -> &EventState {
        self.seg.state()
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        let st = self.st();
        // SeqCst: the store must be ordered before the waiters read.
        st.flag.store(1, Ordering::SeqCst);
        // SeqCst: the load after the store, the other half of the
        // store-load pair with wait's announce-then-recheck.
        if st.waiters.load(Ordering::SeqCst) > 0 {
            futex_wake_all(&st.flag);
        }
    }

    /// Clears the flag.
    pub fn clear(&self) {
        // Relaxed: no data is published by clearing.
        self.st().flag.store(0, Ordering::Relaxed);
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        // Acquire: whatever the setter wrote before set() is visible.
        // Any nonzero value counts as set: a corrupted flag must not make
        // `wait` spin (it sleeps only while the flag is 0).
        self.st().flag.load(Ordering::Acquire) != 0
    }

    /// Waits until the flag is set or `deadline` passes; returns the flag.
    pub fn wait(&self, deadline: &Deadline) -> bool {
        let st = self.st();
        wait_while_zero(&st.flag, &st.waiters, deadline, || self.is_set())
    }
}
