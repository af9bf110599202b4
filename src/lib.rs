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
#![warn(missing_docs, unsafe_op_in_unsafe_fn)]

pub mod error;
pub mod ffi;
pub mod queue;
pub mod shm;
pub mod sync;

pub use error::{Error, ErrorKind, Result};
pub use queue::{Queue, QueueOptions};
pub use shm::OpenMode;

/// The library version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
