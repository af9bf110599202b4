//! The manager's objects and their methods (docs/PROTOCOL.md §4 lists
//! every method with its arguments, result and errors).
//!
//! Each object is a `Mutex`-guarded state plus a `Condvar` for the blocking
//! kinds; a method runs entirely under the object's mutex, which is what
//! makes `incr`, `compare_and_set`, `setdefault`, `pop` and `update`
//! atomic (Python's manager makes `d[k] += 1` two round trips, a race).
//!
//! Ownership: locks and semaphores remember which connection holds them, so
//! the server can release them when that connection drops.

use super::cbor::{decode, encode, encode_into, head, scan};
use super::protocol::{RawItem, MAX_DEPTH};
use super::replica::Writer;
use super::values::*;
use crate::error::{Error, ErrorKind, Result};
use ciborium::Value;
use indexmap::IndexMap;
use std::borrow::Cow;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Identifies a client connection (for lock ownership).
pub type ConnId = u64;

/// The kinds of object, by their protocol names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `dict`: ordered map with arbitrary hashable CBOR keys.
    Dict,
    /// `list`.
    List,
    /// `set`.
    Set,
    /// `namespace`: attributes by text name.
    Namespace,
    /// `value`: one CBOR value.
    Value,
    /// `lock`: non-recursive, owned by the acquiring connection.
    Lock,
    /// `rlock`: recursive.
    RLock,
    /// `semaphore`.
    Semaphore,
    /// `bounded_semaphore`: release past the initial value is an error.
    BoundedSemaphore,
    /// `event`.
    Event,
    /// `queue`: FIFO with maxsize and JoinableQueue's task accounting.
    Queue,
    /// `condition`: a recursive lock with wait / notify.
    Condition,
    /// `barrier`.
    Barrier,
    /// `array`: fixed length, elements of one Python typecode.
    Array,
}

impl Kind {
    /// The kind of a protocol name.
    pub fn parse(name: &str) -> Result<Kind> {
        Ok(match name {
            "dict" => Kind::Dict,
            "list" => Kind::List,
            "set" => Kind::Set,
            "namespace" => Kind::Namespace,
            "value" => Kind::Value,
            "lock" => Kind::Lock,
            "rlock" => Kind::RLock,
            "semaphore" => Kind::Semaphore,
            "bounded_semaphore" => Kind::BoundedSemaphore,
            "event" => Kind::Event,
            "queue" => Kind::Queue,
            "condition" => Kind::Condition,
            "barrier" => Kind::Barrier,
            "array" => Kind::Array,
            other => return Err(Error::new(ErrorKind::Unsupported, format!("no object kind {other:?}"))),
        })
    }

    /// The protocol name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Dict => "dict",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::Namespace => "namespace",
            Kind::Value => "value",
            Kind::Lock => "lock",
            Kind::RLock => "rlock",
            Kind::Semaphore => "semaphore",
            Kind::BoundedSemaphore => "bounded_semaphore",
            Kind::Event => "event",
            Kind::Queue => "queue",
            Kind::Condition => "condition",
            Kind::Barrier => "barrier",
            Kind::Array => "array",
        }
    }
}

/// Who holds a lock (or a condition's lock), and how many times.
#[derive(Debug, Default)]
struct Owner {
    holder: Option<ConnId>,
    depth: u64,
}

impl Owner {
    /// Whether `me` may take it now (free, or already mine).
    fn free_for(&self, me: ConnId) -> bool {
        self.holder.is_none() || self.holder == Some(me)
    }

    /// Gives up one level; errors if `me` does not hold it. True when it
    /// became free.
    fn release(&mut self, me: ConnId, what: &str) -> Result<bool> {
        if self.holder != Some(me) {
            return Err(Error::new(ErrorKind::Permission, format!("release of a {what} this client does not hold")));
        }
        self.depth -= 1;
        if self.depth == 0 {
            self.holder = None;
        }
        Ok(self.holder.is_none())
    }
}

/// The state of one object.
#[derive(Debug)]
enum State {
    /// By canonical key bytes (`values::key_bytes`), with its replica.
    Dict(DictState),
    List(Vec<Value>),
    Set(IndexMap<Vec<u8>, Value>),
    Namespace(IndexMap<String, Value>),
    Value(Value),
    /// Lock and RLock.
    Lock(Owner),
    /// Semaphores: counter, bound (for bounded ones) and per-connection
    /// acquisitions not yet released.
    Semaphore {
        value: u64,
        bound: Option<u64>,
        held: IndexMap<ConnId, u64>,
    },
    Event(bool),
    Queue {
        items: std::collections::VecDeque<Value>,
        maxsize: usize,
        unfinished: u64,
    },
    /// A recursive lock plus waiters' tickets: `waiting` in arrival order,
    /// `notified` the tickets released by notify.
    Condition {
        lock: Owner,
        next_ticket: u64,
        waiting: Vec<u64>,
        notified: Vec<u64>,
    },
    /// `generation` advances when the barrier trips or is reset;
    /// `reset_to` is the generation a reset started, so waiters of the
    /// generation before it know they were broken, not released.
    Barrier {
        parties: u64,
        count: u64,
        generation: u64,
        broken: bool,
        reset_to: u64,
    },
    Array {
        typecode: char,
        items: Vec<Value>,
    },
}

/// Bytes held inline when short (most keys and many values are: an
/// integer, a short text), else boxed: a short key is compared without
/// visiting another allocation, and storing it allocates nothing.
/// Hashes and compares as the `[u8]` it holds (so maps keyed by it are
/// looked up by `&[u8]`).
#[derive(Clone)]
enum Bytes {
    Inline { len: u8, data: [u8; INLINE] },
    Boxed(Box<[u8]>),
}

/// The longest [`Bytes`] held inline: the size of a boxed slice and a tag
/// leave room for 22.
const INLINE: usize = 22;

impl Bytes {
    fn new(b: &[u8]) -> Bytes {
        if b.len() <= INLINE {
            let mut data = [0u8; INLINE];
            data[..b.len()].copy_from_slice(b);
            Bytes::Inline { len: b.len() as u8, data }
        } else {
            Bytes::Boxed(b.into())
        }
    }

    fn from_vec(v: Vec<u8>) -> Bytes {
        if v.len() <= INLINE {
            Bytes::new(&v)
        } else {
            Bytes::Boxed(v.into_boxed_slice())
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Inline { len, data } => &data[..*len as usize],
            Bytes::Boxed(b) => b,
        }
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::borrow::Borrow<[u8]> for Bytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Bytes) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Bytes {}

impl std::hash::Hash for Bytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As `[u8]` hashes: `Borrow<[u8]>` requires the same hash.
        self.as_slice().hash(state)
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02x?}", self.as_slice())
    }
}

/// A dict's state: its entries (the source of truth) and the read replica
/// the server keeps in step with them once a local client asked for one
/// (src/manager/replica.rs). Every change to `map` is followed by the
/// matching `replicate_*` call, under the same mutex, before the reply.
#[derive(Debug, Default)]
struct DictState {
    map: IndexMap<Bytes, Entry>,
    replica: Replica,
    /// The generation of the last replica made (each new segment, after
    /// a growth, gets the next).
    generation: u64,
}

/// Whether a dict is replicated.
#[derive(Debug, Default)]
enum Replica {
    /// Nobody asked yet: nothing kept.
    #[default]
    Off,
    /// Kept current (its segment).
    On(Writer),
    /// Given up: the dict outgrew [`super::replica::MAX_SEGMENT`], or the
    /// server is stopping. Clients use the RPC. Dropping the writer marked
    /// its segment retired.
    Disabled,
}

impl DictState {
    /// After `map[kb]` was set: the same in the replica (rebuilt, larger
    /// if need be, when it does not fit).
    fn replicate_put(&mut self, kb: &[u8]) {
        if let Replica::On(w) = &mut self.replica {
            let value = &self.map.get(kb).expect("just set").value;
            if !w.put(kb, value) {
                self.rebuild();
            }
        }
    }

    /// After `kb` was removed from `map`.
    fn replicate_remove(&mut self, kb: &[u8]) {
        if let Replica::On(w) = &mut self.replica {
            w.remove(kb);
        }
    }

    /// After `map` was emptied.
    fn replicate_clear(&mut self) {
        if let Replica::On(w) = &mut self.replica {
            w.fill(std::iter::empty());
        }
    }

    /// Makes the replica hold `map` again: compacted in place when the
    /// segment has the room (readers see the old contents or the new),
    /// else in a new, larger segment (the old one is retired, readers map
    /// the new one), else given up (over the size limit).
    fn rebuild(&mut self) {
        let DictState { map, replica, generation } = self;
        let entries = map.iter().map(|(k, e)| (&k[..], &e.value[..]));
        if let Replica::On(w) = replica {
            if w.fill(entries.clone()) {
                return;
            }
        }
        let bytes: usize = map.iter().map(|(k, e)| Writer::record_len(k, &e.value)).sum();
        *generation += 1;
        *replica = match Writer::sized_for(map.len(), bytes, *generation) {
            Some(Ok(mut w)) => {
                if w.fill(entries) {
                    Replica::On(w)
                } else {
                    Replica::Disabled
                }
            }
            Some(Err(e)) => {
                eprintln!("mpipc manager: cannot make a dict replica: {e}");
                Replica::Disabled
            }
            None => Replica::Disabled,
        };
    }

    /// The `replica` method: a read-only replica's descriptor for a local
    /// caller (made on the first request), sent with the reply; the reply
    /// is `[generation, size]`.
    fn replica_for(&mut self, ctx: &CallCtx, out: &mut Vec<u8>) -> Result<()> {
        if !ctx.local {
            return Err(Error::new(ErrorKind::Unsupported, "replica: only for clients on a Unix socket of this host"));
        }
        if matches!(self.replica, Replica::Off) {
            self.rebuild();
        }
        let Replica::On(w) = &self.replica else {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "replica: this dict is not replicated (over the size limit)",
            ));
        };
        let fd = w.fd().try_clone().map_err(|e| Error::from_io("dup (dict replica)", e))?;
        head(out, 4, 2);
        head(out, 0, w.generation());
        head(out, 0, w.size() as u64);
        ctx.pass_fd.set(Some(fd));
        Ok(())
    }
}

/// A dict entry, kept encoded: the bytes a reply carries, so that a `get`
/// copies them out and a `set` stores the caller's bytes (when they are
/// canonical, see [`super::cbor::Form`]) without decoding either.
#[derive(Debug)]
struct Entry {
    /// The key as last written (its canonical encoding); `None` when that
    /// is the map key itself, as it is for every plain key (integers,
    /// text, bytes, arrays of them, non-integral floats).
    key: Option<Bytes>,
    /// The value's canonical encoding.
    value: Bytes,
}

impl Entry {
    /// The key's encoding, `map_key` being the entry's map key.
    fn key<'a>(&'a self, map_key: &'a [u8]) -> &'a [u8] {
        self.key.as_deref().unwrap_or(map_key)
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
fn decode_item(a: &RawItem) -> Result<Value> {
    decode(a.bytes, MAX_DEPTH)
}

/// One named object.
#[derive(Debug)]
pub struct Object {
    /// Its kind (fixed at creation).
    pub kind: Kind,
    state: Mutex<State>,
    cond: Condvar,
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

fn timeout_ms(args: &[Value], i: usize, method: &str) -> Result<Option<Duration>> {
    let t = opt_int(args, i, -1, method)?;
    Ok(if t < 0 { None } else { Some(Duration::from_millis(t as u64)) })
}

impl Object {
    /// A new object of `kind`, with creation arguments (`create` method:
    /// initial value for value/semaphores; none for the others).
    pub fn new(kind: Kind, args: &[Value]) -> Result<Object> {
        let state = match kind {
            Kind::Dict => State::Dict(DictState::default()),
            Kind::List => State::List(Vec::new()),
            Kind::Set => State::Set(IndexMap::new()),
            Kind::Namespace => State::Namespace(IndexMap::new()),
            Kind::Value => State::Value(args.first().cloned().unwrap_or(Value::Null)),
            Kind::Lock | Kind::RLock => State::Lock(Owner::default()),
            Kind::Semaphore | Kind::BoundedSemaphore => {
                let v = opt_int(args, 0, 1, "create")?;
                if v < 0 {
                    return Err(Error::new(ErrorKind::Invalid, "semaphore initial value must be >= 0"));
                }
                let bound = (kind == Kind::BoundedSemaphore).then_some(v as u64);
                State::Semaphore { value: v as u64, bound, held: IndexMap::new() }
            }
            Kind::Event => State::Event(false),
            Kind::Queue => {
                let maxsize = opt_int(args, 0, 0, "create")?;
                State::Queue { items: Default::default(), maxsize: maxsize.max(0) as usize, unfinished: 0 }
            }
            Kind::Condition => {
                State::Condition { lock: Owner::default(), next_ticket: 0, waiting: vec![], notified: vec![] }
            }
            Kind::Barrier => {
                let parties = opt_int(args, 0, 0, "create")?;
                if parties < 1 {
                    return Err(Error::new(ErrorKind::Invalid, "create a barrier with its number of parties (>= 1)"));
                }
                State::Barrier { parties: parties as u64, count: 0, generation: 0, broken: false, reset_to: 0 }
            }
            Kind::Array => {
                let code = text_arg(args, 0, "create (typecode)")?;
                let typecode = match code.as_bytes() {
                    [c] if b"cbBhHiIlLqQfd".contains(c) => *c as char,
                    _ => return Err(Error::new(ErrorKind::Invalid, format!("unknown array typecode {code:?}"))),
                };
                let items = match arg(args, 1, "create (length or items)")? {
                    Value::Integer(n) => {
                        let n = usize::try_from(i128::from(*n))
                            .ok()
                            .filter(|&n| n <= 1 << 24)
                            .ok_or_else(|| Error::new(ErrorKind::Invalid, "array length must be 0 to 2^24"))?;
                        let zero = if typecode == 'f' || typecode == 'd' {
                            Value::Float(0.0)
                        } else {
                            Value::Integer(0.into())
                        };
                        vec![zero; n]
                    }
                    Value::Array(a) => a.iter().map(|v| check_element(typecode, v)).collect::<Result<_>>()?,
                    _ => {
                        return Err(Error::new(ErrorKind::Type, "create: the second argument is a length or an array"))
                    }
                };
                State::Array { typecode, items }
            }
        };
        Ok(Object { kind, state: Mutex::new(state), cond: Condvar::new() })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic inside a method cannot leave the state half-updated in a
        // way later calls could not handle (methods validate first, then
        // mutate), so a poisoned mutex is recovered.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops keeping a dict's replica (the object was deleted, or the
    /// server is stopping): its segment is marked retired, so clients
    /// stop reading it and ask the server (which no longer serves one).
    pub fn retire_replica(&self) {
        if let State::Dict(d) = &mut *self.lock() {
            d.replica = Replica::Disabled;
        }
    }

    /// Runs `f` on a dict's replica writer, if it has one (tests play a
    /// corrupt segment or a writer that died mid-write with it).
    #[cfg(test)]
    pub(crate) fn with_replica(&self, f: impl FnOnce(&Writer)) -> bool {
        match &*self.lock() {
            State::Dict(DictState { replica: Replica::On(w), .. }) => {
                f(w);
                true
            }
            _ => false,
        }
    }

    /// Wakes every waiter (shutdown).
    pub fn wake_all(&self) {
        let _g = self.lock();
        self.cond.notify_all();
    }

    /// Releases whatever `conn` holds on this object (its connection
    /// dropped). Returns true if something was released.
    pub fn release_owner(&self, conn: ConnId) -> bool {
        let mut st = self.lock();
        let released = match &mut *st {
            State::Lock(lock) | State::Condition { lock, .. } if lock.holder == Some(conn) => {
                *lock = Owner::default();
                true
            }
            State::Semaphore { value, held, bound } => match held.shift_remove(&conn) {
                Some(n) if n > 0 => {
                    // Never past a bounded semaphore's initial value.
                    *value = value.saturating_add(n).min(bound.unwrap_or(u64::MAX));
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if released {
            self.cond.notify_all();
        }
        released
    }

    /// Waits on the condvar until `ready(state)` or the timeout; returns the
    /// guard and whether it became ready.
    fn wait_until<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        timeout: Option<Duration>,
        ctx: &CallCtx,
        ready: impl Fn(&State) -> bool,
    ) -> Result<(MutexGuard<'a, State>, bool)> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if ready(&st) {
                return Ok((st, true));
            }
            if ctx.stopping.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(Error::new(ErrorKind::Shutdown, "the manager is shutting down"));
            }
            // Bounded slices so a shutdown is noticed even without a notify.
            let slice = Duration::from_millis(100);
            let wait = match deadline {
                None => slice,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(slice),
                    _ => return Ok((st, false)),
                },
            };
            st = self.cond.wait_timeout(st, wait).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Runs `method` with `args`, appending the result's encoding to `out`
    /// (nothing on an error). The server's path: a dict is served from
    /// the items as they arrived, its stored bytes copied out.
    pub fn call_into(&self, method: &str, args: Args<'_>, ctx: &CallCtx, out: &mut Vec<u8>) -> Result<()> {
        if self.kind == Kind::Dict {
            let mut st = self.lock();
            let State::Dict(d) = &mut *st else { unreachable!("a dict's state") };
            if method == "replica" {
                return d.replica_for(ctx, out);
            }
            return match args {
                Args::Raw(items) => dict_call(d, method, items, out),
                Args::Values(values) => {
                    let encoded: Vec<Vec<u8>> = values.iter().map(encode).collect();
                    let items = encoded
                        .iter()
                        .map(|b| Ok(RawItem { bytes: b, form: scan(b, usize::MAX)? }))
                        .collect::<Result<Vec<_>>>()?;
                    dict_call(d, method, &items, out)
                }
            };
        }
        let v = self.call(method, &args.values()?, ctx)?;
        encode_into(&v, out);
        Ok(())
    }

    /// Runs `method` with `args`.
    pub fn call(&self, method: &str, args: &[Value], ctx: &CallCtx) -> Result<Value> {
        if self.kind == Kind::Dict {
            let mut out = Vec::new();
            self.call_into(method, Args::Values(args), ctx, &mut out)?;
            return decode(&out, usize::MAX);
        }
        let st = self.lock();
        match self.kind {
            Kind::Dict => unreachable!("served above"),
            Kind::List => list_call(st, method, args),
            Kind::Set => set_call(st, method, args),
            Kind::Namespace => namespace_call(st, method, args),
            Kind::Value => value_call(st, method, args),
            Kind::Lock | Kind::RLock => self.lock_call(st, method, args, ctx),
            Kind::Semaphore | Kind::BoundedSemaphore => self.sem_call(st, method, args, ctx),
            Kind::Event => self.event_call(st, method, args, ctx),
            Kind::Queue => self.queue_call(st, method, args, ctx),
            Kind::Condition => self.condition_call(st, method, args, ctx),
            Kind::Barrier => self.barrier_call(st, method, args, ctx),
            Kind::Array => array_call(st, method, args),
        }
    }

    /// Takes the lock of a Lock, RLock or Condition for `ctx.conn`,
    /// waiting at most the timeout in `args[0]`; returns whether it got it.
    fn acquire(&self, st: MutexGuard<'_, State>, args: &[Value], ctx: &CallCtx, recursive: bool) -> Result<Value> {
        arity(args, 0, 1, "acquire")?;
        let me = ctx.conn;
        let owner = |s: &State| match s {
            State::Lock(o) | State::Condition { lock: o, .. } => o.free_for(me),
            _ => unreachable!("acquire is for locks"),
        };
        if let State::Lock(o) = &*st {
            if o.holder == Some(me) && !recursive {
                return Err(Error::new(ErrorKind::Invalid, "lock already held by this client (not recursive)"));
            }
        }
        let (mut st, ok) = self.wait_until(st, timeout_ms(args, 0, "acquire")?, ctx, owner)?;
        if ok {
            let (State::Lock(o) | State::Condition { lock: o, .. }) = &mut *st else { unreachable!() };
            o.holder = Some(me);
            o.depth += 1;
        }
        Ok(Value::Bool(ok))
    }

    /// Gives up one level of a Lock, RLock or Condition held by `ctx.conn`.
    fn release(&self, mut st: MutexGuard<'_, State>, ctx: &CallCtx) -> Result<Value> {
        let (what, lock) = match &mut *st {
            State::Lock(o) => ("lock", o),
            State::Condition { lock, .. } => ("condition", lock),
            _ => unreachable!("release is for locks"),
        };
        if lock.release(ctx.conn, what)? {
            self.cond.notify_all();
        }
        Ok(Value::Null)
    }

    fn lock_call(&self, st: MutexGuard<'_, State>, method: &str, args: &[Value], ctx: &CallCtx) -> Result<Value> {
        match method {
            "acquire" => self.acquire(st, args, ctx, self.kind == Kind::RLock),
            "release" => {
                arity(args, 0, 0, method)?;
                self.release(st, ctx)
            }
            "locked" => {
                let State::Lock(o) = &*st else { unreachable!() };
                Ok(Value::Bool(o.holder.is_some()))
            }
            _ => Err(no_method(self.kind, method)),
        }
    }

    fn sem_call(&self, st: MutexGuard<'_, State>, method: &str, args: &[Value], ctx: &CallCtx) -> Result<Value> {
        match method {
            "acquire" => {
                arity(args, 0, 1, method)?;
                let (mut st, ok) = self.wait_until(
                    st,
                    timeout_ms(args, 0, method)?,
                    ctx,
                    |s| matches!(s, State::Semaphore { value, .. } if *value > 0),
                )?;
                if ok {
                    let State::Semaphore { value, held, .. } = &mut *st else { unreachable!() };
                    *value -= 1;
                    *held.entry(ctx.conn).or_insert(0) += 1;
                }
                Ok(Value::Bool(ok))
            }
            "release" => {
                arity(args, 0, 1, method)?;
                let n = opt_int(args, 0, 1, method)?;
                if n < 1 {
                    return Err(Error::new(ErrorKind::Invalid, "release count must be >= 1"));
                }
                let mut st = st;
                let State::Semaphore { value, bound, held } = &mut *st else { unreachable!() };
                let new = value
                    .checked_add(n as u64)
                    .filter(|v| bound.is_none_or(|b| *v <= b))
                    .ok_or_else(|| Error::new(ErrorKind::Invalid, "semaphore released too many times"))?;
                *value = new;
                if let Some(h) = held.get_mut(&ctx.conn) {
                    *h = h.saturating_sub(n as u64);
                }
                self.cond.notify_all();
                Ok(Value::Null)
            }
            "get_value" => {
                let State::Semaphore { value, .. } = &*st else { unreachable!() };
                Ok(Value::Integer((*value).into()))
            }
            _ => Err(no_method(self.kind, method)),
        }
    }

    fn event_call(&self, st: MutexGuard<'_, State>, method: &str, args: &[Value], ctx: &CallCtx) -> Result<Value> {
        let mut st = st;
        match method {
            "set" => {
                *st = State::Event(true);
                self.cond.notify_all();
                Ok(Value::Null)
            }
            "clear" => {
                *st = State::Event(false);
                Ok(Value::Null)
            }
            "is_set" => Ok(Value::Bool(matches!(*st, State::Event(true)))),
            "wait" => {
                arity(args, 0, 1, method)?;
                let (_guard, ok) =
                    self.wait_until(st, timeout_ms(args, 0, method)?, ctx, |s| matches!(s, State::Event(true)))?;
                Ok(Value::Bool(ok))
            }
            _ => Err(no_method(self.kind, method)),
        }
    }
}

impl Object {
    fn queue_call(&self, st: MutexGuard<'_, State>, method: &str, args: &[Value], ctx: &CallCtx) -> Result<Value> {
        let full =
            |s: &State| matches!(s, State::Queue { items, maxsize, .. } if *maxsize > 0 && items.len() >= *maxsize);
        match method {
            "put" => {
                arity(args, 1, 2, method)?;
                let (mut st, ok) = self.wait_until(st, timeout_ms(args, 1, method)?, ctx, |s| !full(s))?;
                if !ok {
                    return Err(Error::new(ErrorKind::Full, "queue full"));
                }
                let State::Queue { items, unfinished, .. } = &mut *st else { unreachable!() };
                items.push_back(args[0].clone());
                *unfinished += 1;
                self.cond.notify_all();
                Ok(Value::Null)
            }
            "get" => {
                arity(args, 0, 1, method)?;
                let (mut st, ok) = self.wait_until(
                    st,
                    timeout_ms(args, 0, method)?,
                    ctx,
                    |s| matches!(s, State::Queue { items, .. } if !items.is_empty()),
                )?;
                if !ok {
                    return Err(Error::new(ErrorKind::Empty, "queue empty"));
                }
                let State::Queue { items, .. } = &mut *st else { unreachable!() };
                let v = items.pop_front().expect("checked non-empty");
                self.cond.notify_all();
                Ok(v)
            }
            "task_done" => {
                let mut st = st;
                let State::Queue { unfinished, .. } = &mut *st else { unreachable!() };
                if *unfinished == 0 {
                    return Err(Error::new(ErrorKind::Invalid, "task_done() called too many times"));
                }
                *unfinished -= 1;
                self.cond.notify_all();
                Ok(Value::Null)
            }
            "join" => {
                arity(args, 0, 1, method)?;
                let (_guard, ok) = self.wait_until(st, timeout_ms(args, 0, method)?, ctx, |s| {
                    matches!(s, State::Queue { unfinished: 0, .. })
                })?;
                if ok {
                    Ok(Value::Null)
                } else {
                    Err(Error::new(ErrorKind::Timeout, "join timed out"))
                }
            }
            "qsize" | "empty" | "full" => {
                let State::Queue { items, .. } = &*st else { unreachable!() };
                Ok(match method {
                    "qsize" => Value::Integer(items.len().into()),
                    "empty" => Value::Bool(items.is_empty()),
                    _ => Value::Bool(full(&st)),
                })
            }
            _ => Err(no_method(self.kind, method)),
        }
    }

    fn condition_call(&self, st: MutexGuard<'_, State>, method: &str, args: &[Value], ctx: &CallCtx) -> Result<Value> {
        let me = ctx.conn;
        let mut st = st;
        let owned = |s: &State| matches!(s, State::Condition { lock, .. } if lock.holder == Some(me));
        match method {
            "acquire" => self.acquire(st, args, ctx, true),
            "release" => self.release(st, ctx),
            "notify" | "notify_all" => {
                if !owned(&st) {
                    return Err(Error::new(ErrorKind::Permission, "notify on a condition this client does not hold"));
                }
                let n = if method == "notify" { opt_int(args, 0, 1, method)?.max(0) as usize } else { usize::MAX };
                let State::Condition { waiting, notified, .. } = &mut *st else { unreachable!() };
                let k = n.min(waiting.len());
                notified.extend(waiting.drain(..k));
                self.cond.notify_all();
                Ok(Value::Null)
            }
            "wait" => {
                arity(args, 0, 1, method)?;
                if !owned(&st) {
                    return Err(Error::new(ErrorKind::Permission, "wait on a condition this client does not hold"));
                }
                // Release fully, wait for a notify (or the timeout), then
                // take the lock back at its old depth, as Python does.
                let State::Condition { lock, next_ticket, waiting, .. } = &mut *st else { unreachable!() };
                let ticket = *next_ticket;
                *next_ticket += 1;
                waiting.push(ticket);
                let saved = std::mem::take(&mut lock.depth);
                lock.holder = None;
                self.cond.notify_all();
                let res = self.wait_until(
                    st,
                    timeout_ms(args, 0, method)?,
                    ctx,
                    |s| matches!(s, State::Condition { notified, .. } if notified.contains(&ticket)),
                );
                let (st2, notified_ok) = match res {
                    Ok(r) => r,
                    Err(e) => {
                        let mut g = self.lock();
                        if let State::Condition { waiting, notified, .. } = &mut *g {
                            waiting.retain(|t| *t != ticket);
                            notified.retain(|t| *t != ticket);
                        }
                        return Err(e);
                    }
                };
                let mut st = st2;
                if let State::Condition { waiting, notified, .. } = &mut *st {
                    waiting.retain(|t| *t != ticket);
                    notified.retain(|t| *t != ticket);
                }
                let (mut st, _) = self.wait_until(
                    st,
                    None,
                    ctx,
                    |s| matches!(s, State::Condition { lock, .. } if lock.holder.is_none()),
                )?;
                let State::Condition { lock, .. } = &mut *st else { unreachable!() };
                lock.holder = Some(me);
                lock.depth = saved;
                Ok(Value::Bool(notified_ok))
            }
            _ => Err(no_method(self.kind, method)),
        }
    }

    fn barrier_call(&self, st: MutexGuard<'_, State>, method: &str, args: &[Value], ctx: &CallCtx) -> Result<Value> {
        let broken_err = || Error::new(ErrorKind::Broken, "BrokenBarrierError: the barrier is broken");
        let mut st = st;
        match method {
            "wait" => {
                arity(args, 0, 1, method)?;
                let State::Barrier { parties, count, generation, broken, .. } = &mut *st else { unreachable!() };
                if *broken {
                    return Err(broken_err());
                }
                let index = *count;
                *count += 1;
                if *count == *parties {
                    *count = 0;
                    *generation += 1;
                    self.cond.notify_all();
                    return Ok(Value::Integer(index.into()));
                }
                let gen = *generation;
                let (mut st, ok) = self.wait_until(
                    st,
                    timeout_ms(args, 0, method)?,
                    ctx,
                    |s| matches!(s, State::Barrier { generation, broken, .. } if *generation != gen || *broken),
                )?;
                let State::Barrier { generation, broken, reset_to, .. } = &mut *st else { unreachable!() };
                if *generation != gen && !*broken && *reset_to != gen + 1 {
                    return Ok(Value::Integer(index.into()));
                }
                if !ok {
                    // A timed-out wait breaks the barrier for everyone.
                    *broken = true;
                    self.cond.notify_all();
                }
                Err(broken_err())
            }
            "abort" => {
                let State::Barrier { broken, .. } = &mut *st else { unreachable!() };
                *broken = true;
                self.cond.notify_all();
                Ok(Value::Null)
            }
            "reset" => {
                // Current waiters are released broken; the barrier is new.
                let State::Barrier { count, generation, broken, reset_to, .. } = &mut *st else { unreachable!() };
                *count = 0;
                *generation += 1;
                *reset_to = *generation;
                *broken = false;
                self.cond.notify_all();
                Ok(Value::Null)
            }
            "parties" | "n_waiting" | "broken" => {
                let State::Barrier { parties, count, broken, .. } = &*st else { unreachable!() };
                Ok(match method {
                    "parties" => Value::Integer((*parties).into()),
                    "n_waiting" => Value::Integer((*count).into()),
                    _ => Value::Bool(*broken),
                })
            }
            _ => Err(no_method(self.kind, method)),
        }
    }
}

/// Checks `v` fits an array of `typecode` (Python's array module ranges,
/// 64-bit Linux sizes).
fn check_element(typecode: char, v: &Value) -> Result<Value> {
    let range: (i128, i128) = match typecode {
        'c' | 'B' => (0, 255),
        'b' => (-128, 127),
        'h' => (-32768, 32767),
        'H' => (0, 65535),
        'i' => (i32::MIN as i128, i32::MAX as i128),
        'I' => (0, u32::MAX as i128),
        'l' | 'q' => (i64::MIN as i128, i64::MAX as i128),
        'L' | 'Q' => (0, u64::MAX as i128),
        'f' | 'd' => {
            return match v {
                Value::Float(_) => Ok(v.clone()),
                Value::Integer(i) => Ok(Value::Float(i128::from(*i) as f64)),
                _ => Err(Error::new(ErrorKind::Type, format!("array {typecode:?} holds numbers"))),
            };
        }
        _ => unreachable!("typecode validated at creation"),
    };
    match v {
        Value::Integer(i) if (range.0..=range.1).contains(&i128::from(*i)) => Ok(v.clone()),
        Value::Integer(_) => {
            Err(Error::new(ErrorKind::Invalid, format!("value out of range for typecode {typecode:?}")))
        }
        _ => Err(Error::new(ErrorKind::Type, format!("array {typecode:?} holds integers"))),
    }
}

fn array_call(mut st: MutexGuard<'_, State>, method: &str, args: &[Value]) -> Result<Value> {
    let State::Array { typecode, items } = &mut *st else { unreachable!() };
    let tc = *typecode;
    if let Some(r) = sequence_read(items, method, args) {
        return r;
    }
    Ok(match method {
        "setitem" => {
            arity(args, 2, 2, method)?;
            let i = index(int_arg(args, 0, method)?, items.len(), method)?;
            items[i] = check_element(tc, &args[1])?;
            Value::Null
        }
        "setslice" => {
            arity(args, 3, 3, method)?;
            let (a, b) = slice_bounds(&args[..2], items.len(), method)?;
            let new: Vec<Value> =
                array_arg(args, 2, method)?.iter().map(|v| check_element(tc, v)).collect::<Result<_>>()?;
            if new.len() != b - a {
                return Err(Error::new(ErrorKind::Invalid, "an array slice assignment cannot change its length"));
            }
            items.splice(a..b, new);
            Value::Null
        }
        "tolist" => Value::Array(items.clone()),
        "typecode" => Value::Text(tc.to_string()),
        "incr" => {
            arity(args, 1, 2, method)?;
            let i = index(int_arg(args, 0, method)?, items.len(), method)?;
            let new = check_element(tc, &add_int(Some(&items[i]), opt_int(args, 1, 1, method)?, "incr")?)?;
            items[i] = new.clone();
            new
        }
        _ => return Err(no_method(Kind::Array, method)),
    })
}

fn no_method(kind: Kind, method: &str) -> Error {
    Error::new(ErrorKind::Unsupported, format!("{} has no method {method:?}", kind.name()))
}

pub(crate) fn key_error(key: &Value) -> Error {
    Error::new(ErrorKind::NotFound, format!("KeyError: {key:?}"))
}

/// The canonical key bytes of `a` (`values::key_bytes` of its value): the
/// item's own bytes when they are a plain key, the common case, so a
/// lookup allocates nothing.
fn key_of<'a>(a: &RawItem<'a>) -> Result<Cow<'a, [u8]>> {
    if a.form.plain_key() {
        return Ok(Cow::Borrowed(a.bytes));
    }
    Ok(Cow::Owned(key_bytes(&decode_item(a)?)?))
}

/// The canonical encoding of `a`'s value: its own bytes when canonical.
fn stored(a: &RawItem) -> Result<Bytes> {
    Ok(if a.form.canonical() { Bytes::new(a.bytes) } else { Bytes::from_vec(encode(&decode_item(a)?)) })
}

/// What an entry keeps of key `a` whose key bytes are `kb` (see
/// [`Entry::key`]).
fn stored_key(a: &RawItem, kb: &[u8]) -> Result<Option<Bytes>> {
    if a.form.plain_key() {
        return Ok(None);
    }
    let enc = stored(a)?;
    Ok((*enc != *kb).then_some(enc))
}

/// Appends the canonical encoding of `a`'s value.
fn write_value(a: &RawItem, out: &mut Vec<u8>) -> Result<()> {
    if a.form.canonical() {
        out.extend_from_slice(a.bytes);
    } else {
        encode_into(&decode_item(a)?, out);
    }
    Ok(())
}

/// Sets the entry `kb` (key item `key`) to `value` (encoded), keeping its
/// place if it exists, as `IndexMap::insert` does.
fn put_entry(d: &mut DictState, kb: Cow<'_, [u8]>, key: &RawItem, value: Bytes) -> Result<()> {
    let key = stored_key(key, &kb)?;
    match d.map.get_mut(&*kb) {
        Some(e) => *e = Entry { key, value },
        None => {
            d.map.insert(Bytes::new(&kb), Entry { key, value });
        }
    }
    d.replicate_put(&kb);
    Ok(())
}

const NULL: u8 = 0xf6;

fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.push(if b { 0xf5 } else { 0xf4 });
}

fn dict_call(d: &mut DictState, method: &str, args: &[RawItem], out: &mut Vec<u8>) -> Result<()> {
    let key_error_of = |a: &RawItem| -> Error {
        match decode_item(a) {
            Ok(k) => key_error(&k),
            Err(e) => e,
        }
    };
    match method {
        "get" => {
            arity_of(args.len(), 1, 2, method)?;
            let kb = key_of(&args[0])?;
            match d.map.get(&*kb) {
                Some(e) => out.extend_from_slice(&e.value),
                None if args.len() > 1 => write_value(&args[1], out)?,
                None => return Err(key_error_of(&args[0])),
            }
        }
        "set" => {
            arity_of(args.len(), 2, 2, method)?;
            let kb = key_of(&args[0])?;
            put_entry(d, kb, &args[0], stored(&args[1])?)?;
            out.push(NULL);
        }
        "del" => {
            arity_of(args.len(), 1, 1, method)?;
            let kb = key_of(&args[0])?;
            d.map.shift_remove(&*kb).ok_or_else(|| key_error_of(&args[0]))?;
            d.replicate_remove(&kb);
            out.push(NULL);
        }
        "len" => head(out, 0, d.map.len() as u64),
        "contains" => {
            arity_of(args.len(), 1, 1, method)?;
            let kb = key_of(&args[0])?;
            write_bool(out, d.map.contains_key(&*kb));
        }
        "keys" | "values" | "items" | "copy" => {
            head(out, if method == "copy" { 5 } else { 4 }, d.map.len() as u64);
            for (k, e) in d.map.iter() {
                if method == "items" {
                    out.push(0x82);
                }
                if method != "values" {
                    out.extend_from_slice(e.key(k));
                }
                if method != "keys" {
                    out.extend_from_slice(&e.value);
                }
            }
        }
        "clear" => {
            d.map.clear();
            d.replicate_clear();
            out.push(NULL);
        }
        "pop" => {
            arity_of(args.len(), 1, 2, method)?;
            let kb = key_of(&args[0])?;
            match d.map.shift_remove(&*kb) {
                Some(e) => {
                    out.extend_from_slice(&e.value);
                    d.replicate_remove(&kb);
                }
                None if args.len() > 1 => write_value(&args[1], out)?,
                None => return Err(key_error_of(&args[0])),
            }
        }
        "popitem" => {
            let (k, e) =
                d.map.pop().ok_or_else(|| Error::new(ErrorKind::NotFound, "popitem(): dictionary is empty"))?;
            out.push(0x82);
            out.extend_from_slice(e.key(&k));
            out.extend_from_slice(&e.value);
            d.replicate_remove(&k);
        }
        "setdefault" | "get_or_set" => {
            arity_of(args.len(), 1, 2, method)?;
            let kb = key_of(&args[0])?;
            if let Some(e) = d.map.get(&*kb) {
                out.extend_from_slice(&e.value);
            } else {
                let value = match args.get(1) {
                    Some(v) => stored(v)?,
                    None => Bytes::new(&[NULL]),
                };
                out.extend_from_slice(&value);
                put_entry(d, kb, &args[0], value)?;
            }
        }
        "update" => {
            arity_of(args.len(), 1, 1, method)?;
            // Validate every key first, then apply: all or nothing.
            let pairs: Vec<(Value, Value)> = match decode_item(&args[0])? {
                Value::Map(m) => m,
                Value::Array(a) => a
                    .into_iter()
                    .map(|p| match p {
                        Value::Array(kv) if kv.len() == 2 => {
                            let [k, v]: [Value; 2] = kv.try_into().expect("2 elements");
                            Ok((k, v))
                        }
                        _ => Err(Error::new(ErrorKind::Type, "update: pairs must be 2-element arrays")),
                    })
                    .collect::<Result<_>>()?,
                _ => return Err(Error::new(ErrorKind::Type, "update: argument must be a map or an array of pairs")),
            };
            let keyed: Vec<(Bytes, Entry)> = pairs
                .into_iter()
                .map(|(k, v)| {
                    let kb = key_bytes(&k)?;
                    let enc = encode(&k);
                    let key = (enc != kb).then(|| Bytes::from_vec(enc));
                    Ok((Bytes::from_vec(kb), Entry { key, value: Bytes::from_vec(encode(&v)) }))
                })
                .collect::<Result<_>>()?;
            let touched: Vec<Bytes> = keyed.iter().map(|(k, _)| k.clone()).collect();
            d.map.extend(keyed);
            for k in &touched {
                d.replicate_put(k);
            }
            out.push(NULL);
        }
        "incr" => {
            arity_of(args.len(), 1, 2, method)?;
            let kb = key_of(&args[0])?;
            let delta = opt_int_value(args.get(1).map(decode_item).transpose()?.as_ref(), 1, 1, method)?;
            let current = d.map.get(&*kb).map(|e| decode(&e.value, usize::MAX)).transpose()?;
            let new = Bytes::from_vec(encode(&add_int(current.as_ref(), delta, "incr")?));
            out.extend_from_slice(&new);
            put_entry(d, kb, &args[0], new)?;
        }
        "compare_and_set" => {
            arity_of(args.len(), 3, 3, method)?;
            let kb = key_of(&args[0])?;
            let swapped = match d.map.get(&*kb) {
                Some(e) => value_bytes(&decode(&e.value, usize::MAX)?) == value_bytes(&decode_item(&args[1])?),
                None => false,
            };
            if swapped {
                put_entry(d, kb, &args[0], stored(&args[2])?)?;
            }
            write_bool(out, swapped);
        }
        _ => return Err(no_method(Kind::Dict, method)),
    }
    Ok(())
}

/// Resolves a Python-style index (negative counts from the end).
fn index(i: i64, len: usize, method: &str) -> Result<usize> {
    let j = if i < 0 { i + len as i64 } else { i };
    if j < 0 || j >= len as i64 {
        return Err(Error::new(ErrorKind::Index, format!("{method}: list index {i} out of range (len {len})")));
    }
    Ok(j as usize)
}

/// Resolves Python slice bounds (clamped; null = default) for step 1.
fn slice_bounds(args: &[Value], len: usize, method: &str) -> Result<(usize, usize)> {
    let clamp = |v: i64| -> usize {
        let v = if v < 0 { v + len as i64 } else { v };
        v.clamp(0, len as i64) as usize
    };
    let start = clamp(opt_int(args, 0, 0, method)?);
    let stop = clamp(opt_int(args, 1, len as i64, method)?);
    Ok((start, stop.max(start)))
}

/// The read-only sequence methods list and array share: `len`,
/// `getitem`, `getslice`. `None` for any other method.
fn sequence_read(items: &[Value], method: &str, args: &[Value]) -> Option<Result<Value>> {
    let run = || -> Result<Value> {
        Ok(match method {
            "len" => Value::Integer(items.len().into()),
            "getitem" => {
                arity(args, 1, 1, method)?;
                items[index(int_arg(args, 0, method)?, items.len(), method)?].clone()
            }
            _ => {
                arity(args, 0, 2, method)?;
                let (a, b) = slice_bounds(args, items.len(), method)?;
                Value::Array(items[a..b].to_vec())
            }
        })
    };
    matches!(method, "len" | "getitem" | "getslice").then(run)
}

fn list_call(mut st: MutexGuard<'_, State>, method: &str, args: &[Value]) -> Result<Value> {
    let State::List(l) = &mut *st else { unreachable!() };
    if let Some(r) = sequence_read(l, method, args) {
        return r;
    }
    let position = |l: &Vec<Value>, x: &Value, from: usize, to: usize| {
        let want = value_bytes(x);
        l[from..to].iter().position(|v| value_bytes(v) == want).map(|p| p + from)
    };
    Ok(match method {
        "append" => {
            arity(args, 1, 1, method)?;
            l.push(args[0].clone());
            Value::Null
        }
        "extend" => {
            arity(args, 1, 1, method)?;
            l.extend_from_slice(array_arg(args, 0, method)?);
            Value::Null
        }
        "insert" => {
            arity(args, 2, 2, method)?;
            let i = int_arg(args, 0, method)?;
            let len = l.len() as i64;
            let at = if i < 0 { (i + len).max(0) } else { i.min(len) } as usize;
            l.insert(at, args[1].clone());
            Value::Null
        }
        "index" => {
            arity(args, 1, 3, method)?;
            let (from, to) = slice_bounds(&args[1..], l.len(), method)?;
            let p = position(l, &args[0], from, to)
                .ok_or_else(|| Error::new(ErrorKind::NotFound, "list.index(x): x not in list"))?;
            Value::Integer(p.into())
        }
        "count" => {
            arity(args, 1, 1, method)?;
            let want = value_bytes(&args[0]);
            Value::Integer(l.iter().filter(|v| value_bytes(v) == want).count().into())
        }
        "remove" => {
            arity(args, 1, 1, method)?;
            let p = position(l, &args[0], 0, l.len())
                .ok_or_else(|| Error::new(ErrorKind::NotFound, "list.remove(x): x not in list"))?;
            l.remove(p);
            Value::Null
        }
        "pop" => {
            arity(args, 0, 1, method)?;
            if l.is_empty() {
                return Err(Error::new(ErrorKind::Index, "pop from empty list"));
            }
            let i = index(opt_int(args, 0, -1, method)?, l.len(), method)?;
            l.remove(i)
        }
        "reverse" => {
            l.reverse();
            Value::Null
        }
        "sort" => {
            arity(args, 0, 1, method)?;
            let reverse = matches!(args.first(), Some(Value::Bool(true)));
            // Sort a copy, so that a type error leaves the list as it was;
            // a stable sort with the comparison reversed keeps equal
            // elements in their order, as Python's reverse=True does.
            let mut sorted = l.clone();
            let mut failed = None;
            sorted.sort_by(|a, b| {
                let (x, y) = if reverse { (b, a) } else { (a, b) };
                compare(x, y).unwrap_or_else(|e| {
                    failed.get_or_insert(e);
                    std::cmp::Ordering::Equal
                })
            });
            if let Some(e) = failed {
                return Err(e);
            }
            *l = sorted;
            Value::Null
        }
        "setitem" => {
            arity(args, 2, 2, method)?;
            let i = index(int_arg(args, 0, method)?, l.len(), method)?;
            l[i] = args[1].clone();
            Value::Null
        }
        "delitem" => {
            arity(args, 1, 1, method)?;
            let i = index(int_arg(args, 0, method)?, l.len(), method)?;
            l.remove(i);
            Value::Null
        }
        "setslice" => {
            arity(args, 3, 3, method)?;
            let (a, b) = slice_bounds(&args[..2], l.len(), method)?;
            let items = array_arg(args, 2, method)?.to_vec();
            l.splice(a..b, items);
            Value::Null
        }
        "delslice" => {
            arity(args, 0, 2, method)?;
            let (a, b) = slice_bounds(args, l.len(), method)?;
            l.drain(a..b);
            Value::Null
        }
        "contains" => {
            arity(args, 1, 1, method)?;
            Value::Bool(position(l, &args[0], 0, l.len()).is_some())
        }
        "clear" => {
            l.clear();
            Value::Null
        }
        "copy" => Value::Array(l.clone()),
        _ => return Err(no_method(Kind::List, method)),
    })
}

fn set_call(mut st: MutexGuard<'_, State>, method: &str, args: &[Value]) -> Result<Value> {
    let State::Set(s) = &mut *st else { unreachable!() };
    Ok(match method {
        "add" => {
            arity(args, 1, 1, method)?;
            s.insert(key_bytes(&args[0])?, args[0].clone());
            Value::Null
        }
        "discard" | "remove" => {
            arity(args, 1, 1, method)?;
            if s.shift_remove(&key_bytes(&args[0])?).is_none() && method == "remove" {
                return Err(key_error(&args[0]));
            }
            Value::Null
        }
        "contains" => {
            arity(args, 1, 1, method)?;
            Value::Bool(s.contains_key(&key_bytes(&args[0])?))
        }
        "len" => Value::Integer(s.len().into()),
        "pop" => s.pop().ok_or_else(|| Error::new(ErrorKind::NotFound, "pop from an empty set"))?.1,
        "clear" => {
            s.clear();
            Value::Null
        }
        "update" => {
            arity(args, 1, 1, method)?;
            let items: Vec<(Vec<u8>, Value)> =
                array_arg(args, 0, method)?.iter().map(|v| Ok((key_bytes(v)?, v.clone()))).collect::<Result<_>>()?;
            s.extend(items);
            Value::Null
        }
        "members" | "copy" => Value::Array(s.values().cloned().collect()),
        _ => return Err(no_method(Kind::Set, method)),
    })
}

fn namespace_call(mut st: MutexGuard<'_, State>, method: &str, args: &[Value]) -> Result<Value> {
    let State::Namespace(ns) = &mut *st else { unreachable!() };
    let attr_err = |n: &str| Error::new(ErrorKind::NotFound, format!("AttributeError: no attribute {n:?}"));
    Ok(match method {
        "getattr" => {
            arity(args, 1, 2, method)?;
            let n = text_arg(args, 0, method)?;
            match ns.get(n) {
                Some(v) => v.clone(),
                None => args.get(1).cloned().ok_or_else(|| attr_err(n))?,
            }
        }
        "setattr" => {
            arity(args, 2, 2, method)?;
            ns.insert(text_arg(args, 0, method)?.to_owned(), args[1].clone());
            Value::Null
        }
        "delattr" => {
            arity(args, 1, 1, method)?;
            let n = text_arg(args, 0, method)?;
            ns.shift_remove(n).ok_or_else(|| attr_err(n))?;
            Value::Null
        }
        "dict" => Value::Map(ns.iter().map(|(k, v)| (Value::Text(k.clone()), v.clone())).collect()),
        _ => return Err(no_method(Kind::Namespace, method)),
    })
}

fn value_call(mut st: MutexGuard<'_, State>, method: &str, args: &[Value]) -> Result<Value> {
    let State::Value(v) = &mut *st else { unreachable!() };
    Ok(match method {
        "get" => v.clone(),
        "set" => {
            arity(args, 1, 1, method)?;
            *v = args[0].clone();
            Value::Null
        }
        "incr" => {
            arity(args, 0, 1, method)?;
            let new = add_int(Some(v), opt_int(args, 0, 1, method)?, "incr")?;
            *v = new.clone();
            new
        }
        "compare_and_set" => {
            arity(args, 2, 2, method)?;
            let ok = value_bytes(v) == value_bytes(&args[0]);
            if ok {
                *v = args[1].clone();
            }
            Value::Bool(ok)
        }
        _ => return Err(no_method(Kind::Value, method)),
    })
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
        let mut objs = self.objects.lock().unwrap_or_else(|e| e.into_inner());
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
        let gone = self.objects.lock().unwrap_or_else(|e| e.into_inner()).shift_remove(name);
        if let Some(o) = &gone {
            // Clients reading its replica must not go on seeing it.
            o.retire_replica();
        }
        gone.is_some()
    }

    /// `[name, kind]` of every object, in creation order.
    pub fn list(&self) -> Vec<(String, Kind)> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(n, o)| (n.clone(), o.kind)).collect()
    }

    /// Every object (for releasing a dropped connection's holdings, and
    /// waking waiters at shutdown).
    pub fn all(&self) -> Vec<Arc<Object>> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }
}
