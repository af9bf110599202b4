//! The layer over the kernel and glibc that every object waits and locks
//! with: futex words and deadlines, the robust process-shared mutex,
//! cached thread ids, and the spinning policy (the adaptive spin and the
//! idle-CPU gate) that decides when to poll rather than sleep.
//!
//! Nothing here is an object a user opens by name; the queue, the pipe,
//! the array, the shareable list and the named primitives of
//! [`crate::sync`] are built on it (docs/LAYOUT.md).

mod cpu_gate;
mod futex;
mod robust_mutex;
mod signals;
mod spin;
mod thread_id;

pub(crate) use futex::wait_while_zero;
pub use futex::{futex_wait, futex_wake, futex_wake_all, Deadline, EventWord, RECHECK_INTERVAL};
pub(crate) use robust_mutex::acquired_raw;
pub use robust_mutex::{LockState, Probe, RobustMutex, RobustMutexGuard};
pub use signals::AsyncSignalsBlocked;
pub use spin::AdaptiveSpin;
pub use thread_id::{current_pid, current_tid};
