//! # mpipc
//!
//! Python `multiprocessing`'s primitives for processes written in any
//! language: one Rust core, exported as a stable C ABI (`include/mpipc.h`),
//! with Go, Node and Python bindings on top of that ABI.
//!
//! This crate is both the Rust API (this page) and the C library (the
//! [`ffi`] module, built as `libmpipc.so` / `libmpipc.a`). Layering is
//! one-way: `ffi` -> Rust API -> primitives -> `shm` / `sync`.
//!
//! Available now:
//! - [`Queue`]: a named, bounded MPMC queue in shared memory with the
//!   semantics of `multiprocessing.JoinableQueue` (plus Python 3.13's
//!   `shutdown`), which survives any participant being killed.
//! - [`Connection`], [`Listener`]: Python-compatible pipes and sockets.
//! - [`ManagerServer`], [`ManagerClient`]: shared dicts, lists and more.
//! - [`SharedMemory`], [`Array`] (and `Value`), [`ShareableList`]: named
//!   shared memory.
//! - [`Lock`] (and RLock), [`Semaphore`], [`Event`], [`Condition`],
//!   [`Barrier`]: named, robust, process-shared synchronisation.
#![warn(missing_docs, unsafe_op_in_unsafe_fn)]

// The shared-memory layouts (docs/PROTOCOL.md) embed glibc's x86-64
// pthread_mutex_t (40 bytes; 48 on aarch64): say so rather than fail on a
// size assertion.
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
compile_error!("mpipc's shared-memory layouts are defined for x86-64 Linux (glibc) only; see docs/PROTOCOL.md");

// The header is generated from `ffi` only: the core modules are marked
// `cbindgen:ignore` so that their Rust-side items stay out of it.

/// SharedMemory, Array and Value.
/// cbindgen:ignore
pub mod array;
/// Errors of the Rust API.
/// cbindgen:ignore
pub mod error;
pub mod ffi;
/// Entry points for the fuzz targets (fuzz/, docs/FUZZING.md): not a
/// supported API, built only with the `fuzzing` feature.
/// cbindgen:ignore
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
/// The Manager: server and client of shared named objects.
/// cbindgen:ignore
pub mod manager;
/// Pipe / Connection / Listener / Client.
/// cbindgen:ignore
pub mod pipe;
/// The shared-memory queue.
/// cbindgen:ignore
pub mod queue;
/// ShareableList.
/// cbindgen:ignore
pub mod shareable_list;
/// Named shared-memory segments.
/// cbindgen:ignore
pub mod shm;
/// Futexes, deadlines, spinning, the robust mutex, and the named
/// Lock/RLock, Semaphore, Event, Condition and Barrier.
/// cbindgen:ignore
pub mod sync;

pub use array::{Array, Guarded, Number, SharedMemory, TypeCode};
pub use error::{Error, ErrorKind, Result};
pub use manager::{ManagerClient, ManagerServer};
pub use pipe::{Connection, Listener, ListenerOptions};
pub use queue::{Queue, QueueOptions};
pub use shareable_list::ShareableList;
pub use shm::OpenMode;
pub use sync::{Barrier, Condition, Event, Lock, OpenOptions, Semaphore};

/// The library version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
