//! Synchronisation: the building blocks shared by every primitive (futex
//! waiting with deadlines, event words, spinning, the robust process-shared
//! mutex) and the named primitives built on them (Lock/RLock, Semaphore,
//! Event, Condition, Barrier).

mod barrier;
mod condition;
mod cpu_gate;
mod event;
mod futex;
mod lock;
mod named;
mod robust_mutex;
mod semaphore;
mod spin;
mod thread_id;

pub use barrier::{Arrival, Barrier};
pub use condition::{CondWait, Condition, COND_MAX_WAITERS};
pub use event::Event;
pub use futex::{futex_wait, futex_wake, futex_wake_all, Deadline, EventWord, RECHECK_INTERVAL};
pub use lock::{Lock, LockWord};
pub use named::{tail_offset, NamedSegment, OpenOptions, DEFAULT_MODE, STATE_OFFSET};
pub use robust_mutex::{LockState, Probe, RobustMutex, RobustMutexGuard};
pub use semaphore::{Semaphore, SEM_VALUE_MAX};
pub use spin::AdaptiveSpin;
pub use thread_id::current_tid;

#[cfg(test)]
mod tests;
