//! Synchronisation building blocks shared by every primitive: futex waiting
//! with deadlines, event words, spinning, and the robust process-shared mutex.

mod futex;
mod robust_mutex;
mod spin;

pub use futex::{futex_wait, futex_wake_all, Deadline, EventWord, RECHECK_INTERVAL};
pub use robust_mutex::{LockState, RobustMutex, RobustMutexGuard};
pub use spin::AdaptiveSpin;
