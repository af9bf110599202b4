//! Typed proxies of manager objects: [`Dict`], [`List`], [`Value`] and
//! [`Lock`] (with its guard), over [`ManagerClient`]'s calls.
//!
//! A proxy is a name and a borrowed client, made by
//! [`ManagerClient::dict`], [`ManagerClient::list`],
//! [`ManagerClient::value`], [`ManagerClient::lock`] /
//! [`ManagerClient::rlock`]: as cheap as redis-rs's commands on a
//! connection, and typed as the Go binding's proxies are (its `DictProxy`,
//! `ListProxy`, ... name the same server methods). Keys and values are any
//! serde types, encoded following docs/TYPES.md ([`crate::codec`]); the
//! server compares keys as Python does (PROTOCOL.md §4: `1` and `1.0` are
//! one key, a tuple and the same array are one key). Another language sees
//! the same objects: a Python `manager.dict("stats")` (or Go's
//! `mgr.Dict("stats")`) reads what a `Dict<String, i64>` wrote.
//!
//! The object is created on first use, as every manager call does; a
//! result that does not decode as the proxy's type is a
//! [`Codec::Decode`](crate::Codec::Decode) error (the call itself took
//! effect). [`ManagerClient::call`] stays the dynamic path, with
//! [`ciborium::Value`] arguments and results.

use super::client::{Item, ManagerClient, RawArgs};
use crate::codec;
use crate::error::{Error, ErrorKind, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::time::Duration;

/// `Debug` shows the kind and the name (the client has no `Debug`).
macro_rules! debug_by_name {
    ($t:ident $(, $p:ident)*) => {
        impl<$($p),*> std::fmt::Debug for $t<'_ $(, $p)*> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t)).field("name", &self.name).finish()
            }
        }
    };
}
debug_by_name!(Dict, K, V);
debug_by_name!(List, T);
debug_by_name!(Value, T);
debug_by_name!(Lock);

impl std::fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard").field("name", &self.name).finish()
    }
}

/// Calls `method` on `kind` `name` with `args` (a tuple, encoded as the
/// args array; `None`: no arguments) and decodes the result as `R`.
fn call<R: DeserializeOwned>(
    client: &ManagerClient,
    kind: &str,
    name: &str,
    method: &str,
    args: Option<&impl Serialize>,
) -> Result<R> {
    match args {
        None => client.call_raw(kind, name, method, RawArgs::Items(&[]), codec::decode),
        Some(a) => {
            let enc = codec::encode(a)?;
            client.call_raw(kind, name, method, RawArgs::Array(Item::new(&enc)?), codec::decode)
        }
    }
}

/// `Ok(None)` for [`ErrorKind::NotFound`] (a missing key), the rest as it is.
fn found<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == ErrorKind::NotFound && e.codec().is_none() => Ok(None),
        Err(e) => Err(e),
    }
}

/// No arguments (the type of `None` for [`call`]).
const NO_ARGS: Option<&()> = None;

impl ManagerClient {
    /// The shared dict `name`, with keys of type `K` and values of type
    /// `V` (Python's `manager.dict()`, Go's `mgr.Dict(name)`).
    ///
    /// # Examples
    /// ```
    /// use mpipc::{ManagerClient, ManagerServer, ListenerOptions};
    /// # let dir = std::env::temp_dir().join(format!("doc-dict-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let address = format!("unix:{}/m.sock", dir.display());
    /// let server = ManagerServer::serve(&address, &ListenerOptions::default())?;
    /// let mgr = ManagerClient::connect(&address, &ListenerOptions::default(), None)?;
    /// let stats = mgr.dict::<String, i64>("stats");
    /// stats.set(&"seen".into(), &1)?;
    /// assert_eq!(stats.incr(&"seen".into(), 2)?, 3);
    /// assert_eq!(stats.get(&"seen".into())?, Some(3));
    /// assert_eq!(stats.get(&"other".into())?, None);
    /// # drop(mgr); server.shutdown();
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn dict<K, V>(&self, name: &str) -> Dict<'_, K, V> {
        Dict { client: self, name: name.to_owned(), types: PhantomData }
    }

    /// The shared list `name` of `T`s (Python's `manager.list()`).
    ///
    /// # Examples
    /// ```
    /// use mpipc::{ManagerClient, ManagerServer, ListenerOptions};
    /// # let dir = std::env::temp_dir().join(format!("doc-list-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let address = format!("unix:{}/m.sock", dir.display());
    /// # let server = ManagerServer::serve(&address, &ListenerOptions::default())?;
    /// let mgr = ManagerClient::connect(&address, &ListenerOptions::default(), None)?;
    /// let log = mgr.list::<(u32, String)>("log");
    /// log.append(&(1, "start".into()))?;
    /// log.extend(&[(2, "run".into()), (3, "stop".into())])?;
    /// assert_eq!(log.len()?, 3);
    /// assert_eq!(log.get(-1)?, (3, "stop".into()));
    /// assert_eq!(log.slice(1..)?.len(), 2);
    /// # drop(mgr); server.shutdown();
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn list<T>(&self, name: &str) -> List<'_, T> {
        List { client: self, name: name.to_owned(), types: PhantomData }
    }

    /// The shared value `name` of type `T` (Python's `manager.Value()`;
    /// null until set or created).
    ///
    /// # Examples
    /// ```
    /// use mpipc::{ManagerClient, ManagerServer, ListenerOptions};
    /// # let dir = std::env::temp_dir().join(format!("doc-value-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let address = format!("unix:{}/m.sock", dir.display());
    /// # let server = ManagerServer::serve(&address, &ListenerOptions::default())?;
    /// let mgr = ManagerClient::connect(&address, &ListenerOptions::default(), None)?;
    /// let hits = mgr.value::<i64>("hits");
    /// assert!(hits.create(&10)?);
    /// assert_eq!(hits.incr(5)?, 15);
    /// assert!(hits.compare_and_set(&15, &0)?);
    /// assert_eq!(hits.get()?, 0);
    /// # drop(mgr); server.shutdown();
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn value<T>(&self, name: &str) -> Value<'_, T> {
        Value { client: self, name: name.to_owned(), types: PhantomData }
    }

    /// The lock `name` held by the server (Python's `manager.Lock()`): held
    /// by this client's connection, released by the server if the
    /// connection closes, even when this process dies. Acquiring it twice
    /// on one connection is [`ErrorKind::Invalid`]; see
    /// [`ManagerClient::rlock`] for a recursive one.
    ///
    /// # Examples
    /// ```
    /// use mpipc::{ManagerClient, ManagerServer, ListenerOptions};
    /// # let dir = std::env::temp_dir().join(format!("doc-lock-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let address = format!("unix:{}/m.sock", dir.display());
    /// # let server = ManagerServer::serve(&address, &ListenerOptions::default())?;
    /// let mgr = ManagerClient::connect(&address, &ListenerOptions::default(), None)?;
    /// let lock = mgr.lock("accounts");
    /// {
    ///     let _held = lock.acquire()?;
    ///     assert!(lock.locked()?);
    /// } // released here
    /// assert!(!lock.locked()?);
    /// # drop(mgr); server.shutdown();
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn lock(&self, name: &str) -> Lock<'_> {
        Lock { client: self, kind: "lock", name: name.to_owned() }
    }

    /// The recursive lock `name` held by the server (Python's
    /// `manager.RLock()`): this connection may acquire it again while it
    /// holds it; each guard releases one level.
    ///
    /// # Examples
    /// ```
    /// use mpipc::{ManagerClient, ManagerServer, ListenerOptions};
    /// # let dir = std::env::temp_dir().join(format!("doc-rlock-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let address = format!("unix:{}/m.sock", dir.display());
    /// # let server = ManagerServer::serve(&address, &ListenerOptions::default())?;
    /// let mgr = ManagerClient::connect(&address, &ListenerOptions::default(), None)?;
    /// let r = mgr.rlock("tree");
    /// let outer = r.acquire()?;
    /// let inner = r.acquire()?; // the same connection: allowed
    /// inner.release()?;
    /// outer.release()?;
    /// assert!(!r.locked()?);
    /// # drop(mgr); server.shutdown();
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn rlock(&self, name: &str) -> Lock<'_> {
        Lock { client: self, kind: "rlock", name: name.to_owned() }
    }

    /// Atomically adds `delta` to the integer at `key` of dict `dict` (a
    /// missing key or a null counts as 0) and returns the new value, as
    /// C's `mp_mgr_dict_incr` does; [`Dict::incr`] is the same through a
    /// proxy. [`ErrorKind::Type`] if the value is not an integer,
    /// [`ErrorKind::Invalid`] on overflow.
    ///
    /// # Examples
    /// ```
    /// use mpipc::{ManagerClient, ManagerServer, ListenerOptions};
    /// # let dir = std::env::temp_dir().join(format!("doc-incr-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let address = format!("unix:{}/m.sock", dir.display());
    /// # let server = ManagerServer::serve(&address, &ListenerOptions::default())?;
    /// let mgr = ManagerClient::connect(&address, &ListenerOptions::default(), None)?;
    /// assert_eq!(mgr.dict_incr("stats", "requests", 1)?, 1);
    /// assert_eq!(mgr.dict_incr("stats", "requests", 41)?, 42);
    /// # drop(mgr); server.shutdown();
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn dict_incr<K: Serialize + ?Sized>(&self, dict: &str, key: &K, delta: i64) -> Result<i64> {
        call(self, "dict", dict, "incr", Some(&(key, delta)))
    }
}

/// A shared dict on a manager server, with keys `K` and values `V` (see
/// [`ManagerClient::dict`] and the [`manager`](crate::manager) module).
///
/// Keys and values are encoded following docs/TYPES.md
/// ([`crate::codec`]); the server compares keys as Python does
/// (PROTOCOL.md §4: `1` and `1.0` are one key, a tuple and the same array
/// are one key). A Python `manager.dict()`, a Go `DictProxy` or a C
/// `mp_mgr_dict_*` call sees the same entries. A result that does not
/// decode as `V` (another language stored something else) is a
/// [`Codec::Decode`](crate::Codec::Decode) error; the call itself took
/// effect. A proxy is a name and a borrowed client: making one costs
/// nothing and sends nothing (the object is created on first use).
///
/// # Examples
/// ```
/// use mpipc::{ManagerClient, ManagerServer, ListenerOptions};
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct User { name: String, age: u32 }
/// # let dir = std::env::temp_dir().join(format!("doc-dict-type-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # let address = format!("unix:{}/m.sock", dir.display());
/// # let server = ManagerServer::serve(&address, &ListenerOptions::default())?;
/// let mgr = ManagerClient::connect(&address, &ListenerOptions::default(), None)?;
/// let users = mgr.dict::<u64, User>("users");
/// users.set(&7, &User { name: "ann".into(), age: 31 })?;
/// assert_eq!(users.get(&7)?.map(|u| u.age), Some(31));
/// assert_eq!(users.keys()?, vec![7]);
/// # drop(mgr); server.shutdown();
/// # Ok::<(), mpipc::Error>(())
/// ```
pub struct Dict<'a, K, V> {
    client: &'a ManagerClient,
    name: String,
    /// `fn() -> (K, V)`: the proxy holds no K or V (Send and Sync whatever
    /// they are).
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Dict<'_, K, V> {
    /// The dict's name on the server.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// assert_eq!(mgr.dict::<String, i64>("stats").name(), "stats");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The number of entries (`len(d)`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let n = mgr.dict::<String, i64>("stats").len()?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn len(&self) -> Result<usize> {
        call(self.client, "dict", &self.name, "len", NO_ARGS)
    }

    /// Whether the dict has no entries.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// if mgr.dict::<String, i64>("stats").is_empty()? { println!("nothing yet"); }
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Removes every entry (`d.clear()`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// mgr.dict::<String, i64>("stats").clear()?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn clear(&self) -> Result<()> {
        call::<()>(self.client, "dict", &self.name, "clear", NO_ARGS)
    }
}

impl<K: Serialize, V: Serialize + DeserializeOwned> Dict<'_, K, V> {
    /// The value at `key`, `None` if absent (`d.get(key)`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let age: Option<u32> = mgr.dict::<&str, u32>("ages").get(&"ann")?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        found(call(self.client, "dict", &self.name, "get", Some(&(key,))))
    }

    /// Sets `key` to `value` (`d[key] = value`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// mgr.dict::<&str, f64>("scores").set(&"ann", &0.5)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn set(&self, key: &K, value: &V) -> Result<()> {
        call::<()>(self.client, "dict", &self.name, "set", Some(&(key, value)))
    }

    /// Removes `key`, returning its value, `None` if it was absent
    /// (`d.pop(key, None)`, as `HashMap::remove`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let old: Option<f64> = mgr.dict::<&str, f64>("scores").remove(&"ann")?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn remove(&self, key: &K) -> Result<Option<V>> {
        found(call(self.client, "dict", &self.name, "pop", Some(&(key,))))
    }

    /// Whether `key` is present (`key in d`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let known = mgr.dict::<&str, f64>("scores").contains_key(&"ann")?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn contains_key(&self, key: &K) -> Result<bool> {
        call(self.client, "dict", &self.name, "contains", Some(&(key,)))
    }

    /// The value at `key`, after setting it to `default` if it was absent,
    /// in one atomic step (`d.setdefault(key, default)`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let first_seen: u64 = mgr.dict::<&str, u64>("first").get_or_set(&"ann", &1_700_000_000)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn get_or_set(&self, key: &K, default: &V) -> Result<V> {
        call(self.client, "dict", &self.name, "setdefault", Some(&(key, default)))
    }

    /// Atomically adds `delta` to the integer at `key` (absent or null
    /// counts as 0) and returns the new value: `d[key] += delta` without
    /// the race it has in Python. [`ErrorKind::Type`] if the value is not
    /// an integer, [`ErrorKind::Invalid`] on overflow.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let n = mgr.dict::<&str, i64>("stats").incr(&"requests", 1)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn incr(&self, key: &K, delta: i64) -> Result<i64> {
        call(self.client, "dict", &self.name, "incr", Some(&(key, delta)))
    }

    /// Sets `key` to `new` if it is present and equal to `expected`
    /// (compared as Python compares: `1 == 1.0`), atomically; reports
    /// whether it did. It never inserts.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let state = mgr.dict::<&str, String>("jobs");
    /// if state.compare_and_set(&"job-1", &"queued".into(), &"running".into())? {
    ///     // this client won the job
    /// }
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn compare_and_set(&self, key: &K, expected: &V, new: &V) -> Result<bool> {
        call(self.client, "dict", &self.name, "compare_and_set", Some(&(key, expected, new)))
    }

    /// Sets every pair of `entries`, all or nothing (`d.update(...)`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// mgr.dict::<&str, i64>("stats").update([(&"a", &1), (&"b", &2)])?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn update<'e, I>(&self, entries: I) -> Result<()>
    where
        I: IntoIterator<Item = (&'e K, &'e V)>,
        K: 'e,
        V: 'e,
    {
        let map = Entries(std::cell::RefCell::new(Some(entries.into_iter())));
        call::<()>(self.client, "dict", &self.name, "update", Some(&(map,)))
    }

    /// Every value, in insertion order (`list(d.values())`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let total: i64 = mgr.dict::<String, i64>("stats").values()?.iter().sum();
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn values(&self) -> Result<Vec<V>> {
        call(self.client, "dict", &self.name, "values", NO_ARGS)
    }
}

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> Dict<'_, K, V> {
    /// Every key, in insertion order (`list(d.keys())`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let names: Vec<String> = mgr.dict::<String, i64>("stats").keys()?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn keys(&self) -> Result<Vec<K>> {
        call(self.client, "dict", &self.name, "keys", NO_ARGS)
    }

    /// Every entry, in insertion order (`list(d.items())`); collect them
    /// into the map you like.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let m: std::collections::HashMap<String, i64> = mgr.dict("stats").items()?.into_iter().collect();
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn items(&self) -> Result<Vec<(K, V)>> {
        call(self.client, "dict", &self.name, "items", NO_ARGS)
    }

    /// Removes and returns the last entry inserted, `None` if the dict is
    /// empty (`d.popitem()`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// while let Some((k, v)) = mgr.dict::<String, i64>("todo").pop_item()? { println!("{k}: {v}"); }
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn pop_item(&self) -> Result<Option<(K, V)>> {
        found(call(self.client, "dict", &self.name, "popitem", NO_ARGS))
    }
}

/// Pairs serialized as one CBOR map, taken from an iterator once.
struct Entries<I>(std::cell::RefCell<Option<I>>);

impl<'e, K: Serialize + 'e, V: Serialize + 'e, I: Iterator<Item = (&'e K, &'e V)>> Serialize for Entries<I> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let it = self.0.borrow_mut().take().ok_or_else(|| serde::ser::Error::custom("entries already used"))?;
        s.collect_map(it)
    }
}

/// A shared list on a manager server, of `T`s (see [`ManagerClient::list`]).
/// Indexes may be negative (from the end, as in Python); out of range is
/// [`ErrorKind::Index`].
///
/// # Examples
/// ```
/// use mpipc::{ManagerClient, ManagerServer, ListenerOptions};
/// # let dir = std::env::temp_dir().join(format!("doc-list-type-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # let address = format!("unix:{}/m.sock", dir.display());
/// # let server = ManagerServer::serve(&address, &ListenerOptions::default())?;
/// let mgr = ManagerClient::connect(&address, &ListenerOptions::default(), None)?;
/// let l = mgr.list::<f64>("samples");
/// l.extend(&[0.5, 0.25])?;
/// l.sort(false)?;
/// assert_eq!(l.to_vec()?, vec![0.25, 0.5]);
/// assert_eq!(l.get(5).unwrap_err().kind(), mpipc::ErrorKind::Index);
/// # drop(mgr); server.shutdown();
/// # Ok::<(), mpipc::Error>(())
/// ```
pub struct List<'a, T> {
    client: &'a ManagerClient,
    name: String,
    /// See [`Dict`]'s.
    types: PhantomData<fn() -> T>,
}

impl<T> List<'_, T> {
    /// The list's name on the server.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// assert_eq!(mgr.list::<i64>("log").name(), "log");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The number of elements (`len(l)`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let n = mgr.list::<i64>("log").len()?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn len(&self) -> Result<usize> {
        call(self.client, "list", &self.name, "len", NO_ARGS)
    }

    /// Whether the list has no elements.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let idle = mgr.list::<i64>("log").is_empty()?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Removes element `index` (`del l[index]`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// mgr.list::<i64>("log").delete(0)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn delete(&self, index: i64) -> Result<()> {
        call::<()>(self.client, "list", &self.name, "delitem", Some(&(index,)))
    }

    /// Removes every element.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// mgr.list::<i64>("log").clear()?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn clear(&self) -> Result<()> {
        call::<()>(self.client, "list", &self.name, "clear", NO_ARGS)
    }

    /// Reverses the list in place.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// mgr.list::<i64>("log").reverse()?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn reverse(&self) -> Result<()> {
        call::<()>(self.client, "list", &self.name, "reverse", NO_ARGS)
    }

    /// Sorts the list in place, stable, as Python orders values (numbers
    /// with numbers, text with text, ...); [`ErrorKind::Type`] for
    /// elements that cannot be ordered (the list is then unchanged).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// mgr.list::<i64>("scores").sort(true)?; // largest first
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn sort(&self, reverse: bool) -> Result<()> {
        call::<()>(self.client, "list", &self.name, "sort", Some(&(reverse,)))
    }
}

impl<T: Serialize + DeserializeOwned> List<'_, T> {
    /// Adds `value` at the end.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// mgr.list::<String>("log").append(&"started".into())?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn append(&self, value: &T) -> Result<()> {
        call::<()>(self.client, "list", &self.name, "append", Some(&(value,)))
    }

    /// Adds every element of `values` at the end, in one call.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// mgr.list::<i64>("log").extend(&[1, 2, 3])?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn extend(&self, values: &[T]) -> Result<()> {
        call::<()>(self.client, "list", &self.name, "extend", Some(&(values,)))
    }

    /// Inserts `value` before `index` (clamped to the list, as Python).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// mgr.list::<i64>("log").insert(0, &42)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn insert(&self, index: i64, value: &T) -> Result<()> {
        call::<()>(self.client, "list", &self.name, "insert", Some(&(index, value)))
    }

    /// Element `index` (`l[index]`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let last: i64 = mgr.list("log").get(-1)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn get(&self, index: i64) -> Result<T> {
        call(self.client, "list", &self.name, "getitem", Some(&(index,)))
    }

    /// Replaces element `index` (`l[index] = value`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// mgr.list::<i64>("log").set(0, &7)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn set(&self, index: i64, value: &T) -> Result<()> {
        call::<()>(self.client, "list", &self.name, "setitem", Some(&(index, value)))
    }

    /// Removes and returns element `index` (`l.pop(index)`; `-1` the
    /// last); [`ErrorKind::Index`] when out of range or empty.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let job: String = mgr.list("todo").pop(0)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn pop(&self, index: i64) -> Result<T> {
        call(self.client, "list", &self.name, "pop", Some(&(index,)))
    }

    /// Removes the first element equal to `value`; [`ErrorKind::NotFound`]
    /// if there is none.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// mgr.list::<String>("todo").remove(&"done".into())?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn remove(&self, value: &T) -> Result<()> {
        call::<()>(self.client, "list", &self.name, "remove", Some(&(value,)))
    }

    /// Whether an element equals `value`.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let queued = mgr.list::<String>("todo").contains(&"job-1".into())?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn contains(&self, value: &T) -> Result<bool> {
        call(self.client, "list", &self.name, "contains", Some(&(value,)))
    }

    /// The index of the first element equal to `value`, `None` if none.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let at: Option<usize> = mgr.list::<String>("todo").index(&"job-1".into())?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn index(&self, value: &T) -> Result<Option<usize>> {
        found(call(self.client, "list", &self.name, "index", Some(&(value,))))
    }

    /// How many elements equal `value`.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let n = mgr.list::<i64>("log").count(&0)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn count(&self, value: &T) -> Result<usize> {
        call(self.client, "list", &self.name, "count", Some(&(value,)))
    }

    /// The elements in `range` (`l[start:stop]`; negative bounds count
    /// from the end, out-of-range bounds are clamped, as Python slices).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let l = mgr.list::<i64>("log");
    /// let last_three = l.slice(-3..)?;
    /// let head = l.slice(..2)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn slice(&self, range: impl RangeBounds<i64>) -> Result<Vec<T>> {
        let (start, stop) = bounds(&range);
        call(self.client, "list", &self.name, "getslice", Some(&(start, stop)))
    }

    /// The whole list (`list(l)`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let all: Vec<i64> = mgr.list("log").to_vec()?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn to_vec(&self) -> Result<Vec<T>> {
        call(self.client, "list", &self.name, "copy", NO_ARGS)
    }
}

/// A Python slice's bounds from a Rust range (`None`: to the end).
fn bounds(range: &impl RangeBounds<i64>) -> (i64, Option<i64>) {
    let start = match range.start_bound() {
        Bound::Included(&a) => a,
        Bound::Excluded(&a) => a.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let stop = match range.end_bound() {
        Bound::Included(&-1) => None,
        Bound::Included(&b) => Some(b.saturating_add(1)),
        Bound::Excluded(&b) => Some(b),
        Bound::Unbounded => None,
    };
    (start, stop)
}

/// A shared value on a manager server, of type `T` (see
/// [`ManagerClient::value`]): one CBOR value, null until set, with atomic
/// [`Value::incr`] and [`Value::compare_and_set`].
///
/// # Examples
/// ```
/// use mpipc::{ManagerClient, ManagerServer, ListenerOptions};
/// # let dir = std::env::temp_dir().join(format!("doc-value-type-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # let address = format!("unix:{}/m.sock", dir.display());
/// # let server = ManagerServer::serve(&address, &ListenerOptions::default())?;
/// let mgr = ManagerClient::connect(&address, &ListenerOptions::default(), None)?;
/// let mode = mgr.value::<Option<String>>("mode");
/// assert_eq!(mode.get()?, None); // null until set
/// mode.set(&Some("fast".into()))?;
/// assert_eq!(mode.get()?.as_deref(), Some("fast"));
/// # drop(mgr); server.shutdown();
/// # Ok::<(), mpipc::Error>(())
/// ```
pub struct Value<'a, T> {
    client: &'a ManagerClient,
    name: String,
    /// See [`Dict`]'s.
    types: PhantomData<fn() -> T>,
}

impl<T> Value<'_, T> {
    /// The value's name on the server.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// assert_eq!(mgr.value::<i64>("hits").name(), "hits");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Atomically adds `delta` (a value never set counts as 0) and returns
    /// the new value; [`ErrorKind::Type`] if it is not an integer.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let n = mgr.value::<i64>("hits").incr(1)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn incr(&self, delta: i64) -> Result<i64> {
        call(self.client, "value", &self.name, "incr", Some(&(delta,)))
    }
}

impl<T: Serialize + DeserializeOwned> Value<'_, T> {
    /// Creates the value holding `initial` and reports whether it did
    /// (`false`: it existed, and `initial` was ignored).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let first = mgr.value::<f64>("rate").create(&1.0)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn create(&self, initial: &T) -> Result<bool> {
        call(self.client, "value", &self.name, "create", Some(&(initial,)))
    }

    /// The value (`v.value`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let rate: f64 = mgr.value("rate").get()?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn get(&self) -> Result<T> {
        call(self.client, "value", &self.name, "get", NO_ARGS)
    }

    /// Sets the value (`v.value = x`).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// mgr.value::<f64>("rate").set(&2.5)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn set(&self, value: &T) -> Result<()> {
        call::<()>(self.client, "value", &self.name, "set", Some(&(value,)))
    }

    /// Sets `new` if the value equals `expected` (as Python compares),
    /// atomically; reports whether it did.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let won = mgr.value::<String>("leader").compare_and_set(&"".into(), &"me".into())?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn compare_and_set(&self, expected: &T, new: &T) -> Result<bool> {
        call(self.client, "value", &self.name, "compare_and_set", Some(&(expected, new)))
    }
}

/// A lock or rlock held by a manager server (see [`ManagerClient::lock`]):
/// owned by the client's connection, released by the server when that
/// connection closes, even if this process dies.
///
/// # Examples
/// ```
/// use mpipc::{ErrorKind, ManagerClient, ManagerServer, ListenerOptions};
/// use std::time::Duration;
/// # let dir = std::env::temp_dir().join(format!("doc-lock-type-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # let address = format!("unix:{}/m.sock", dir.display());
/// # let server = ManagerServer::serve(&address, &ListenerOptions::default())?;
/// let a = ManagerClient::connect(&address, &ListenerOptions::default(), None)?;
/// let b = ManagerClient::connect(&address, &ListenerOptions::default(), None)?;
/// let held = a.lock("l").acquire()?;
/// let e = b.lock("l").acquire_timeout(Duration::ZERO).unwrap_err();
/// assert_eq!(e.kind(), ErrorKind::Timeout);
/// drop(held);
/// let _now_b = b.lock("l").acquire_timeout(Duration::ZERO)?;
/// # drop(_now_b); drop(a); drop(b); server.shutdown();
/// # Ok::<(), mpipc::Error>(())
/// ```
pub struct Lock<'a> {
    client: &'a ManagerClient,
    /// "lock" or "rlock".
    kind: &'static str,
    name: String,
}

impl<'a> Lock<'a> {
    /// The lock's name on the server.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// assert_eq!(mgr.lock("accounts").name(), "accounts");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits until the lock is acquired, and returns a guard that releases
    /// it when dropped. While it waits, other threads' calls on the same
    /// client wait too (one connection carries one call at a time): give
    /// each thread that contends for locks its own client.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let _guard = mgr.lock("accounts").acquire()?;
    /// // ... the critical section ...
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn acquire(&self) -> Result<LockGuard<'a>> {
        self.acquire_for(None)
    }

    /// [`Lock::acquire`] waiting at most `timeout` (zero: try once);
    /// [`ErrorKind::Timeout`] when it could not acquire the lock in time.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// match mgr.lock("accounts").acquire_timeout(std::time::Duration::from_millis(100)) {
    ///     Ok(_guard) => { /* ... */ }
    ///     Err(e) if e.kind() == mpipc::ErrorKind::Timeout => { /* busy */ }
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<LockGuard<'a>> {
        self.acquire_for(Some(timeout))
    }

    fn acquire_for(&self, timeout: Option<Duration>) -> Result<LockGuard<'a>> {
        let ok: bool = match timeout {
            None => call(self.client, self.kind, &self.name, "acquire", NO_ARGS)?,
            Some(t) => {
                let ms = i64::try_from(t.as_millis()).unwrap_or(i64::MAX);
                call(self.client, self.kind, &self.name, "acquire", Some(&(ms,)))?
            }
        };
        if !ok {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!("{} {:?} not acquired within {:?}", self.kind, self.name, timeout.unwrap_or_default()),
            ));
        }
        Ok(LockGuard { client: self.client, kind: self.kind, name: self.name.clone(), released: false })
    }

    /// Whether anyone holds the lock.
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// let busy = mgr.lock("accounts").locked()?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn locked(&self) -> Result<bool> {
        call(self.client, self.kind, &self.name, "locked", NO_ARGS)
    }
}

/// A held [`Lock`] (one level of an rlock): dropping it releases it. A
/// release that fails on drop (the connection lost: the server has then
/// released the lock itself) is ignored; [`LockGuard::release`] reports
/// it.
///
/// # Examples
/// ```no_run
/// # let mgr: mpipc::ManagerClient = unimplemented!();
/// let guard = mgr.lock("accounts").acquire()?;
/// // ...
/// guard.release()?; // or let it drop
/// # Ok::<(), mpipc::Error>(())
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct LockGuard<'a> {
    /// The client, not the [`Lock`] proxy: `mgr.lock("l").acquire()?`
    /// outlives its temporary proxy.
    client: &'a ManagerClient,
    kind: &'static str,
    name: String,
    released: bool,
}

impl LockGuard<'_> {
    /// Releases the lock now, reporting a failure (e.g.
    /// [`ErrorKind::Eof`] when the connection was lost, which released it
    /// on the server already).
    ///
    /// # Examples
    /// ```no_run
    /// # let mgr: mpipc::ManagerClient = unimplemented!();
    /// mgr.lock("accounts").acquire()?.release()?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn release(mut self) -> Result<()> {
        self.released = true;
        call::<()>(self.client, self.kind, &self.name, "release", NO_ARGS)
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        if !self.released {
            // Nothing to report to: see the type's documentation.
            let _ = call::<()>(self.client, self.kind, &self.name, "release", NO_ARGS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bounds;
    use std::ops::Bound;

    #[test]
    fn ranges_become_python_slices() {
        assert_eq!(bounds(&(1..3)), (1, Some(3)));
        assert_eq!(bounds(&(..)), (0, None));
        assert_eq!(bounds(&(-3..)), (-3, None));
        assert_eq!(bounds(&(..=2)), (0, Some(3)));
        assert_eq!(bounds(&(Bound::Included(0), Bound::Included(-1))), (0, None));
    }
}
