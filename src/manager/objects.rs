//! The manager's objects: one trait every kind implements, the table of
//! kinds, and the registry of named objects (docs/PROTOCOL.md §4 lists
//! every method with its arguments, result and errors).
//!
//! Each kind is its own type in its own file under src/manager/kinds/,
//! registered by one row of [`KINDS`]: its protocol name, its constructor,
//! and its method table as data. The table is what the server dispatches on (a method not in it
//! is refused before the object is reached), what
//! docs/manager-methods.json is generated from, and what every binding's
//! test of its proxies reads. A new kind is one file and one row.
//!
//! A method runs entirely under its object's mutex, which is what makes
//! `incr`, `compare_and_set`, `setdefault`, `pop` and `update` atomic
//! (Python's manager makes `d[k] += 1` two round trips, a race).
//!
//! Ownership: locks and semaphores remember which connection holds them,
//! so the server can release them when that connection drops.

use super::cbor::{decode, encode_into};
use super::protocol::{RawItem, MAX_DEPTH};
#[cfg(test)]
use super::replica::Writer;
use crate::error::{Error, ErrorKind, Result};
use ciborium::Value;
use indexmap::IndexMap;
use parking_lot::Mutex;
use std::borrow::Cow;
use std::sync::Arc;

pub use super::kinds::KINDS;

/// Identifies a client connection (for lock ownership).
pub type ConnId = u64;

/// One row of [`KINDS`]: a kind of object.
pub struct KindSpec {
    /// The protocol name (`dict`, `list`, ...).
    pub name: &'static str,
    /// The methods an object of this kind answers (besides `create`,
    /// which the server handles for every kind), by protocol name.
    pub methods: &'static [&'static str],
    /// Makes an object from the `create` method's arguments.
    pub(crate) new: fn(&[Value]) -> Result<Box<dyn ManagerObject>>,
}

impl std::fmt::Debug for KindSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// A kind of object: a row of [`KINDS`].
#[derive(Clone, Copy, Debug)]
pub struct Kind(&'static KindSpec);

impl PartialEq for Kind {
    fn eq(&self, other: &Kind) -> bool {
        // Each kind is one row of a static table.
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Kind {}

impl Kind {
    /// The kind of a protocol name ([`ErrorKind::Unsupported`] for none).
    pub fn parse(name: &str) -> Result<Kind> {
        KINDS
            .iter()
            .find(|k| k.name == name)
            .map(Kind)
            .ok_or_else(|| Error::new(ErrorKind::Unsupported, format!("no object kind {name:?}")))
    }

    /// The protocol name.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// The methods its objects answer (its row's method table).
    pub fn methods(self) -> &'static [&'static str] {
        self.0.methods
    }
}

/// What every kind of object does. The server calls it only with a method
/// of the kind's table ([`KindSpec::methods`]).
pub trait ManagerObject: Send + Sync + std::fmt::Debug {
    /// Runs `method` with `args`.
    fn call(&self, method: &str, args: &[Value], ctx: &CallCtx) -> Result<Value>;

    /// Runs `method` with `args`, appending the result's encoding to `out`
    /// (nothing on an error): the server's path. By default the items are
    /// decoded and the result encoded; a dict serves them as they arrived.
    fn call_into(&self, method: &str, args: Args<'_>, ctx: &CallCtx, out: &mut Vec<u8>) -> Result<()> {
        let v = self.call(method, &args.values()?, ctx)?;
        encode_into(&v, out);
        Ok(())
    }

    /// Releases whatever `conn` holds (its connection dropped); true if
    /// something was released. Nothing to release by default.
    fn release_owner(&self, _conn: ConnId) -> bool {
        false
    }

    /// Wakes every waiter (shutdown). None by default.
    fn wake_all(&self) {}

    /// Stops keeping a dict's replica (the object was deleted, or the
    /// server is stopping). Nothing by default.
    fn retire_replica(&self) {}

    /// Runs `f` on a dict's replica writer, if it has one.
    #[cfg(test)]
    fn with_replica(&self, _f: &mut dyn FnMut(&Writer)) -> bool {
        false
    }
}

/// A method's arguments: decoded values, or the items as they arrived
/// (each checked well-formed). Either is accepted by every kind; dicts are
/// served from raw items without decoding, the others decode them.
#[derive(Clone, Copy, Debug)]
pub enum Args<'a> {
    /// Decoded values.
    Values(&'a [Value]),
    /// The items as they arrived.
    Raw(&'a [RawItem<'a>]),
}

impl Args<'_> {
    /// The arguments as values (decoding raw items).
    pub fn values(&self) -> Result<Cow<'_, [Value]>> {
        Ok(match self {
            Args::Values(v) => Cow::Borrowed(*v),
            Args::Raw(items) => Cow::Owned(items.iter().map(decode_item).collect::<Result<_>>()?),
        })
    }
}

/// The value of a raw item (well-formed: its decoding does not fail, but a
/// failure would be reported, not unwrapped).
pub(crate) fn decode_item(a: &RawItem) -> Result<Value> {
    decode(a.bytes, MAX_DEPTH)
}

/// What a call needs to know about its caller and the server.
pub struct CallCtx<'a> {
    /// The calling connection.
    pub conn: ConnId,
    /// Set when the server is shutting down: blocking waits give up.
    pub stopping: &'a std::sync::atomic::AtomicBool,
    /// Whether the caller is on a Unix socket (same host, able to receive
    /// a descriptor): only such a caller is given a dict's replica.
    pub local: bool,
    /// A descriptor to send with this call's reply (the dict `replica`
    /// method sets it; the connection loop sends it, SCM_RIGHTS).
    pub pass_fd: std::cell::Cell<Option<std::os::fd::OwnedFd>>,
}

/// One named object: its kind and its state (the kind's type).
#[derive(Debug)]
pub struct Object {
    /// Its kind (fixed at creation).
    pub kind: Kind,
    imp: Box<dyn ManagerObject>,
}

impl Object {
    /// A new object of `kind`, with creation arguments (`create` method:
    /// initial value for value/semaphores, maxsize, parties, an array's
    /// typecode and length; none for the others).
    pub fn new(kind: Kind, args: &[Value]) -> Result<Object> {
        Ok(Object { kind, imp: (kind.0.new)(args)? })
    }

    /// The error for a method the kind does not have.
    fn check(&self, method: &str) -> Result<()> {
        if self.kind.methods().contains(&method) {
            Ok(())
        } else {
            Err(no_method(self.kind.name(), method))
        }
    }

    /// Stops keeping a dict's replica (the object was deleted, or the
    /// server is stopping): its segment is marked retired, so clients
    /// stop reading it and ask the server (which no longer serves one).
    pub fn retire_replica(&self) {
        self.imp.retire_replica()
    }

    /// Runs `f` on a dict's replica writer, if it has one (tests play a
    /// corrupt segment or a writer that died mid-write with it).
    #[cfg(test)]
    pub(crate) fn with_replica(&self, f: impl FnOnce(&Writer)) -> bool {
        let mut f = Some(f);
        self.imp.with_replica(&mut |w| {
            if let Some(f) = f.take() {
                f(w)
            }
        })
    }

    /// Wakes every waiter (shutdown).
    pub fn wake_all(&self) {
        self.imp.wake_all()
    }

    /// Releases whatever `conn` holds on this object (its connection
    /// dropped). Returns true if something was released.
    pub fn release_owner(&self, conn: ConnId) -> bool {
        self.imp.release_owner(conn)
    }

    /// Runs `method` with `args`, appending the result's encoding to `out`
    /// (nothing on an error). The server's path: a dict is served from
    /// the items as they arrived, its stored bytes copied out.
    pub fn call_into(&self, method: &str, args: Args<'_>, ctx: &CallCtx, out: &mut Vec<u8>) -> Result<()> {
        self.check(method)?;
        self.imp.call_into(method, args, ctx, out)
    }

    /// Runs `method` with `args`.
    pub fn call(&self, method: &str, args: &[Value], ctx: &CallCtx) -> Result<Value> {
        self.check(method)?;
        self.imp.call(method, args, ctx)
    }
}

/// The error for a method `kind` does not have.
pub(crate) fn no_method(kind: &str, method: &str) -> Error {
    Error::new(ErrorKind::Unsupported, format!("{kind} has no method {method:?}"))
}

/// The error for a key a dict or set does not have (Python's KeyError),
/// the key written as the user wrote it (`KeyError: "x"`,
/// [`super::values::display`]), never in Rust's debug form.
pub(crate) fn key_error(key: &Value) -> Error {
    Error::new(ErrorKind::NotFound, format!("KeyError: {}", super::values::display(key)))
}

/// The registry of named objects.
#[derive(Debug, Default)]
pub struct Registry {
    objects: Mutex<IndexMap<String, Arc<Object>>>,
}

impl Registry {
    /// The object `name` of `kind`, created (with `create_args`) if absent.
    /// [`ErrorKind::Type`] if it exists with another kind.
    pub fn get_or_create(&self, kind: Kind, name: &str, create_args: &[Value]) -> Result<(Arc<Object>, bool)> {
        let mut objs = self.objects.lock();
        if let Some(o) = objs.get(name) {
            if o.kind != kind {
                return Err(Error::new(
                    ErrorKind::Type,
                    format!("object {name:?} is a {}, not a {}", o.kind.name(), kind.name()),
                ));
            }
            return Ok((o.clone(), false));
        }
        let o = Arc::new(Object::new(kind, create_args)?);
        objs.insert(name.to_owned(), o.clone());
        Ok((o, true))
    }

    /// Removes `name`; true if it existed.
    pub fn delete(&self, name: &str) -> bool {
        let gone = self.objects.lock().shift_remove(name);
        if let Some(o) = &gone {
            // Clients reading its replica must not go on seeing it.
            o.retire_replica();
        }
        gone.is_some()
    }

    /// `[name, kind]` of every object, in creation order.
    pub fn list(&self) -> Vec<(String, Kind)> {
        self.objects.lock().iter().map(|(n, o)| (n.clone(), o.kind)).collect()
    }

    /// Every object (for releasing a dropped connection's holdings, and
    /// waking waiters at shutdown).
    pub fn all(&self) -> Vec<Arc<Object>> {
        self.objects.lock().values().cloned().collect()
    }
}

/// docs/manager-methods.json: every kind's methods, from [`KINDS`], one
/// kind a line (the bindings' proxy tests read the file; a test keeps it
/// equal to this).
pub fn methods_json() -> String {
    let rows: Vec<String> = KINDS
        .iter()
        .map(|k| {
            let ms: Vec<String> = k.methods.iter().map(|m| format!("\"{m}\"")).collect();
            format!("  \"{}\": [{}]", k.name, ms.join(", "))
        })
        .collect();
    format!("{{\n{}\n}}\n", rows.join(",\n"))
}
