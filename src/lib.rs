//! # mpipc
//!
//! Python `multiprocessing`'s primitives for processes written in any
//! language: one Rust core, exported as a stable C ABI (`include/mpipc.h`),
//! with Go, Node and Python bindings on top of that ABI.
//!
//! This crate is the Rust API. The C library (`libmpipc.so` /
//! `libmpipc.a`, the header and the `mpipc` command) is the separate
//! `mpipc-ffi` crate built on this one, as rustls-ffi is on rustls: a Rust
//! program that depends on `mpipc` builds no C library. Layering is
//! one-way: C ABI (`mpipc-ffi`) -> Rust API -> primitives -> `segment` /
//! `os` (the layout of the sources: docs/LAYOUT.md).
//!
//! **Platform:** x86-64 Linux with glibc only; the crate refuses to build
//! elsewhere (its shared-memory layouts embed glibc's x86-64
//! `pthread_mutex_t`).
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
#[cfg(not(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu")))]
compile_error!("mpipc supports x86-64 Linux with glibc only: its shared-memory layouts embed glibc's x86-64 pthread_mutex_t (docs/PROTOCOL.md)");

/// Array and Value.
pub mod array;
/// Rust values as CBOR (serde), following docs/TYPES.md: what the typed
/// `put` / `get` / `send` / `recv` and the manager proxies use.
pub mod codec;
/// Errors of the Rust API.
pub mod error;
/// Entry points for the fuzz targets (fuzz/, docs/FUZZING.md): not a
/// supported API, built only with the `fuzzing` feature.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
/// The JSON bridge: JSON text to CBOR and back, following docs/TYPES.md
/// (what the C ABI's `mp_json_to_cbor`, `mpq_put_json`, ... use).
pub mod json;
/// The Manager: server and client of shared named objects.
pub mod manager;
/// Futexes, deadlines, the robust mutex, thread ids and spinning: what
/// every object waits and locks with.
pub mod os;
/// Pipe / Connection / Listener / Client.
pub mod pipe;
/// The shared-memory queue.
pub mod queue;
/// The Redis / Valkey backend's plumbing (docs/REDIS.md).
#[cfg(feature = "redis")]
pub mod redis;
/// Named shared-memory segments: the files in /dev/shm every named object
/// lives in, their common header and kinds.
pub mod segment;
/// ShareableList.
pub mod shareable_list;
/// SharedMemory (the C ABI's `mp_shm_*`).
pub mod shared_memory;
/// The named Lock/RLock, Semaphore, Event, Condition and Barrier.
pub mod sync;

pub use array::{Array, Guarded, Number, TypeCode};
pub use error::{Codec, Error, ErrorKind, Result};
pub use manager::{ManagerClient, ManagerServer};
pub use pipe::{Connection, Listener, ListenerOptions};
pub use queue::{Queue, QueueOptions};
pub use segment::OpenMode;
pub use shareable_list::ShareableList;
pub use shared_memory::SharedMemory;
pub use sync::{Arrival, Barrier, Condition, Event, Lock, OpenOptions, Semaphore};

/// The library version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
