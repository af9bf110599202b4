//! The Manager: a server holding named shared objects (dict, list, set,
//! namespace, value, locks, semaphores, events) that clients in any
//! language operate on by name, over the Connection framing and
//! authentication (Python's `multiprocessing.Manager()`, plus atomic
//! read-modify-write and lock release on disconnect).
//!
//! Typed access: [`ManagerClient::dict`](crate::manager::ManagerClient::dict),
//! [`list`](crate::manager::ManagerClient::list),
//! [`value`](crate::manager::ManagerClient::value),
//! [`lock`](crate::manager::ManagerClient::lock) give proxies
//! ([`Dict`](crate::manager::Dict), [`List`](crate::manager::List),
//! [`Value`](crate::manager::Value), [`Lock`](crate::manager::Lock)) whose
//! keys and values are serde types;
//! [`call`](crate::manager::ManagerClient::call) is the dynamic path.
//!
//! Protocol: [`protocol`](crate::manager::protocol); methods:
//! [`objects`](crate::manager::objects); docs/PROTOCOL.md §4.

pub mod cbor;
mod client;
mod kinds;
pub mod objects;
pub mod protocol;
mod proxies;
/// The manager at a Redis / Valkey address (docs/REDIS.md, "Manager on
/// Redis").
#[cfg(feature = "redis")]
pub(crate) mod redis;
pub(crate) mod replica;
pub(crate) mod server;
pub mod values;

pub use client::{Item, ManagerClient, RawArgs};
pub use protocol::MAX_REQUEST;
pub use proxies::{Dict, List, Lock, LockGuard, Value};
pub use server::ManagerServer;

#[cfg(test)]
mod tests;
