//! The named synchronisation primitives: Lock/RLock, Semaphore, Event,
//! Condition, Barrier (the C ABI's `mp_lock_*`, `mp_sem_*`,
//! `mp_event_*`, `mp_cond_*`, `mp_barrier_*`). What they are built from
//! (futexes, deadlines, the robust mutex, spinning) is [`crate::os`]; the
//! named segment each one lives in is [`crate::segment`].
//!
//! [`Deadline`](crate::os::Deadline), [`LockState`](crate::os::LockState)
//! and [`OpenOptions`](crate::segment::OpenOptions) are re-exported here
//! because the primitives' methods take or return them.

mod barrier;
mod condition;
mod event;
mod lock;
mod semaphore;

pub use crate::os::{Deadline, LockState};
pub use crate::segment::OpenOptions;
pub use barrier::{Arrival, Barrier};
pub use condition::{CondWait, Condition, COND_MAX_WAITERS};
pub use event::Event;
pub use lock::{Lock, LockWord};
pub use semaphore::{Semaphore, SEM_VALUE_MAX};

#[cfg(test)]
mod tests;
