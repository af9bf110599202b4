//! The Manager: a server holding named shared objects (dict, list, set,
//! namespace, value, locks, semaphores, events) that clients in any
//! language operate on by name, over the Connection framing and
//! authentication (Python's `multiprocessing.Manager()`, plus atomic
//! read-modify-write and lock release on disconnect).
//!
//! Protocol: [`protocol`](crate::manager::protocol); methods:
//! [`objects`](crate::manager::objects); docs/PROTOCOL.md §4.

pub mod cbor;
mod client;
mod kinds;
pub mod objects;
pub mod protocol;
pub(crate) mod replica;
pub(crate) mod server;
pub mod values;

pub use client::{Item, ManagerClient, RawArgs};
pub use protocol::MAX_REQUEST;
pub use server::ManagerServer;

#[cfg(test)]
mod tests;
