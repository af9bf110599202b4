//! The manager at a Redis / Valkey address (`redis://host:port[/db][?ns=]`,
//! docs/REDIS.md "Manager on Redis"): the same kinds, methods, argument
//! shapes, results and error kinds as the manager server
//! (docs/PROTOCOL.md §4), kept on the server in Redis types and changed
//! atomically by single commands, `MULTI` blocks or the `mpipc_1` function
//! library. [`crate::manager::ManagerClient`] dispatches here when its
//! address has a scheme.
//!
//! One file per kind (docs/LAYOUT.md rule 5): `dict`, `list`, `namespace`,
//! `value`, `lock` (lock, rlock), `semaphore` (semaphore,
//! bounded_semaphore), `event`, `queue`. Each turns a call into a [`Plan`]:
//! the commands it sends in one write and what makes the result of their
//! replies (which may take further round trips, or block). A call runs its
//! plan; a batch (`pipeline`, `mp_mgr_call_many`) sends the commands of
//! consecutive plans as one pipeline.
//!
//! Results are CBOR encoded exactly as the manager server encodes them
//! (stored values are the canonical bytes mpipc wrote), so the C ABI and
//! every binding see the same bytes from either backend.
//!
//! Locks and semaphores are leases: renewed by this process's lease keeper
//! (`lease.rs`) while held, released when this client is dropped, and
//! freed by the server when the lease ends (the holder died, or lost the
//! server for longer than the lease).

mod dict;
mod event;
mod lease;
mod list;
mod lock;
mod namespace;
mod queue;
mod semaphore;
mod value;

#[cfg(test)]
mod tests;

use crate::error::{Error, ErrorKind, Result};
use crate::manager::cbor::{encode, encode_i64, scan, Form};
use crate::manager::objects::{no_method, Kind};
use crate::manager::protocol::MAX_DEPTH;
use crate::pipe::ListenerOptions;
use crate::redis::{
    block_seconds, endpoint_of, is_transport, prefix, random_u64, Endpoint, DEFAULT_TIMEOUT, MAX_BLOCK,
};
use ciborium::Value as CValue;
use parking_lot::{Mutex, MutexGuard};
use redis::{Cmd, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The lease of locks and semaphore permits unless the address says
/// otherwise (`?lease_ms=`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// The CBOR of `null`, `true`, `false`.
const NULL: &[u8] = &[0xf6];
const TRUE: &[u8] = &[0xf5];
const FALSE: &[u8] = &[0xf4];

/// The CBOR of a boolean.
fn boolean(b: bool) -> Vec<u8> {
    (if b { TRUE } else { FALSE }).to_vec()
}

/// The CBOR of an integer.
fn int(i: i64) -> Vec<u8> {
    let mut buf = [0u8; 9];
    encode_i64(i, &mut buf).to_vec()
}

/// What the result of the replies to a plan's commands is (it may take
/// further round trips through the manager it is given).
pub(super) type Finish<'a> = Box<dyn FnOnce(&RedisManager, Vec<Value>) -> Result<Vec<u8>> + 'a>;

/// Dependent round trips making a result (see [`Plan::Steps`]).
pub(super) type Steps<'a> = Box<dyn FnOnce(&RedisManager) -> Result<Vec<u8>> + 'a>;

/// What one call does on the server.
pub(super) enum Plan<'a> {
    /// Answered without the server (bad arguments, nothing to do).
    Done(Result<Vec<u8>>),
    /// Commands sent together (one write), and what makes the result of
    /// their replies, server errors included as [`Value::ServerError`].
    Send(Vec<Cmd>, Finish<'a>),
    /// Round trips that depend on each other on one connection (`WATCH`):
    /// a batch runs them in their turn, after the commands before them.
    Steps(Steps<'a>),
}

impl<'a> Plan<'a> {
    fn err(e: Error) -> Plan<'a> {
        Plan::Done(Err(e))
    }

    /// One command and what makes the result of its reply.
    fn one(cmd: Cmd, finish: impl FnOnce(&RedisManager, Value) -> Result<Vec<u8>> + 'a) -> Plan<'a> {
        Plan::Send(vec![cmd], Box::new(move |m, mut r| finish(m, r.pop().expect("one reply per command"))))
    }
}

/// `Ok(x)` or a [`Plan::Done`] with the error (argument checks).
macro_rules! check {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return $crate::manager::redis::Plan::err(e),
        }
    };
}
use check;

/// `FCALL name numkeys keys...`: the start of a call of the function
/// library (arguments follow).
fn fcall(name: &str, keys: &[&str]) -> Cmd {
    let mut c = redis::cmd("FCALL");
    c.arg(name).arg(keys.len()).arg(keys);
    c
}

/// `FCALL_RO`: [`fcall`] of a function that writes nothing.
fn fcall_ro(name: &str, keys: &[&str]) -> Cmd {
    let mut c = redis::cmd("FCALL_RO");
    c.arg(name).arg(keys.len()).arg(keys);
    c
}

/// A manager at a Redis address (see the module doc).
pub(crate) struct RedisManager {
    ep: Arc<Endpoint>,
    /// `mpipc:` or `mpipc:NS:`.
    prefix: String,
    lease: Duration,
    /// `<host>:` and `:<random>` around the pid in owner ids: a lock is
    /// owned by one client of one process.
    host: String,
    nonce: u64,
    /// The next semaphore holder id's number (ids are per acquisition).
    next_holder: AtomicU64,
    /// Whether the last call reached the server (`is_connected`). Relaxed:
    /// a status hint, ordering nothing.
    reached: AtomicBool,
    held: Mutex<Held>,
    /// The queues of the `queue` kind this client has used, open (see
    /// `queue.rs`).
    queues: Mutex<HashMap<String, Arc<crate::queue::redis::RedisQueue>>>,
}

/// What this client holds, with the leases the keeper renews for it.
#[derive(Default)]
struct Held {
    /// The process these belong to (a child after fork() holds nothing of
    /// its parent's).
    pid: u32,
    /// Locks and rlocks held (kind, name): the owner id is the client's.
    locks: HashMap<(&'static str, String), Holding>,
    /// Semaphore permits held, by (kind, name), the latest last.
    permits: HashMap<(&'static str, String), Vec<Holding>>,
}

/// One thing held: its holder id, its fencing token and its renewal.
struct Holding {
    holder: String,
    fence: i64,
    _lease: lease::Lease,
}

impl std::fmt::Debug for RedisManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisManager").field("server", &self.ep.shown()).field("prefix", &self.prefix).finish()
    }
}

impl RedisManager {
    /// Connects to the server at `address` (a manager address: no object
    /// name), authenticating with the address's password or, when it has
    /// none, `opts.authkey` (both given and different: [`ErrorKind::Invalid`]).
    /// `timeout` bounds connecting (and each reply) when the address has no
    /// `timeout_ms` (at least 1 s, at most the default 10 s).
    pub(crate) fn connect(address: &str, opts: &ListenerOptions, timeout: Option<Duration>) -> Result<RedisManager> {
        let (ep, mut addr) = endpoint_of(address, false)?;
        if let Some(key) = opts.authkey.as_deref().filter(|k| !k.is_empty()) {
            let key = std::str::from_utf8(key).map_err(|_| {
                Error::new(
                    ErrorKind::Invalid,
                    "the authkey of a Redis manager is the server's password: it must be UTF-8",
                )
            })?;
            match &addr.password {
                None => addr.password = Some(key.to_owned()),
                Some(p) if p == key => {}
                Some(_) => {
                    return Err(Error::new(
                        ErrorKind::Invalid,
                        format!(
                            "{}: the address has a password and the authkey is another one: give the password in \
                             one place",
                            ep.shown()
                        ),
                    ))
                }
            }
        }
        if addr.timeout_ms.is_none() {
            if let Some(t) = timeout {
                addr.timeout_ms = Some(t.clamp(Duration::from_secs(1), DEFAULT_TIMEOUT).as_millis() as u64);
            }
        }
        let ep = Arc::new(Endpoint::new(&addr, ep.shown())?);
        ep.check()?;
        Ok(RedisManager {
            prefix: prefix(addr.ns.as_deref()),
            lease: addr.lease_ms.map_or(DEFAULT_LEASE, |ms| Duration::from_millis(ms.max(1))),
            host: hostname(),
            nonce: random_u64(),
            next_holder: AtomicU64::new(1),
            reached: AtomicBool::new(true),
            held: Mutex::new(Held::default()),
            queues: Mutex::new(HashMap::new()),
            ep,
        })
    }

    /// Whether the last call reached the server (see
    /// `ManagerClient::is_connected`).
    pub(crate) fn is_connected(&self) -> bool {
        self.reached.load(Ordering::Relaxed)
    }

    /// Drops the pooled connections and dials anew, retrying while the
    /// server is unreachable until `timeout` (`None`: for ever).
    pub(crate) fn reconnect(&self, timeout: Option<Duration>) -> Result<()> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut pause = Duration::from_millis(1);
        loop {
            self.ep.disconnect();
            match self.ep.check() {
                Ok(()) => {
                    self.reached.store(true, Ordering::Relaxed);
                    return Ok(());
                }
                Err(e) if is_transport(&e) => {
                    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    if left == Some(Duration::ZERO) {
                        return Err(Error::new(
                            ErrorKind::Timeout,
                            format!(
                                "reconnect to {}: the server did not answer in time ({})",
                                self.ep.shown(),
                                e.message()
                            ),
                        ));
                    }
                    // Nothing to wait on for a server coming back: retry
                    // with a growing pause.
                    std::thread::sleep(left.map_or(pause, |l| l.min(pause)));
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs `method` of object `name` of `kind` with `args`; the result
    /// CBOR encoded, as the manager server encodes it.
    pub(crate) fn call(&self, kind: &str, name: &str, method: &str, args: &[CValue]) -> Result<Vec<u8>> {
        let plan = self.plan(kind, name, method, args);
        self.execute(plan)
    }

    /// `get` or `contains` of dict `name` with arguments as the caller
    /// encoded them, when the key is a plain key (its bytes are the field)
    /// and a default is canonical: the hot path of the C ABI, with nothing
    /// decoded or re-encoded. `None`: any other call ([`RedisManager::call`]
    /// serves it).
    pub(crate) fn dict_read(
        &self,
        kind: &str,
        name: &str,
        method: &str,
        args: &[(&[u8], Form)],
    ) -> Option<Result<Vec<u8>>> {
        if kind != "dict" {
            return None;
        }
        dict::read(self, name, method, args)
    }

    /// Runs the requests `(kind, name, method, args)` in order and returns
    /// each one's result (CBOR encoded). The commands of consecutive
    /// requests go out as one pipeline (one write, replies in order); a
    /// request that needs dependent round trips on one connection (list
    /// `sort`/`reverse`) runs in its turn between pipelines, and one whose
    /// result needs more round trips after its first reply (a blocking
    /// `acquire` or `wait` that had to wait, a `compare_and_set` retried,
    /// a `remove`) takes them after the commands of the requests sent with
    /// it. The outer error is a transport failure.
    pub(crate) fn pipeline(&self, reqs: &[(&str, &str, &str, &[CValue])]) -> Result<Vec<Result<Vec<u8>>>> {
        let mut out: Vec<Result<Vec<u8>>> = Vec::with_capacity(reqs.len());
        let mut cmds: Vec<Cmd> = Vec::new();
        // The requests whose commands are in `cmds`: their index, how many
        // commands, and their finish.
        let mut pending: Vec<(usize, usize, Finish<'_>)> = Vec::new();
        for (i, (kind, name, method, args)) in reqs.iter().enumerate() {
            out.push(Ok(Vec::new()));
            match self.plan(kind, name, method, args) {
                Plan::Done(r) => out[i] = r,
                Plan::Send(c, finish) => {
                    pending.push((i, c.len(), finish));
                    cmds.extend(c);
                }
                Plan::Steps(steps) => {
                    self.flush(&mut cmds, &mut pending, &mut out)?;
                    out[i] = steps(self);
                }
            }
        }
        self.flush(&mut cmds, &mut pending, &mut out)?;
        Ok(out)
    }

    /// Sends `cmds` as one pipeline and finishes the `pending` requests
    /// with their replies.
    fn flush<'a>(
        &self,
        cmds: &mut Vec<Cmd>,
        pending: &mut Vec<(usize, usize, Finish<'a>)>,
        out: &mut [Result<Vec<u8>>],
    ) -> Result<()> {
        if cmds.is_empty() {
            pending.clear();
            return Ok(());
        }
        let mut replies = self.send(cmds)?.into_iter();
        cmds.clear();
        for (i, n, finish) in pending.drain(..) {
            let mine: Vec<Value> = replies.by_ref().take(n).collect();
            out[i] = finish(self, mine);
        }
        Ok(())
    }

    fn execute(&self, plan: Plan<'_>) -> Result<Vec<u8>> {
        match plan {
            Plan::Done(r) => r,
            Plan::Send(cmds, finish) => {
                let replies = self.send(&cmds)?;
                finish(self, replies)
            }
            Plan::Steps(steps) => steps(self),
        }
    }

    /// What `method` of `kind` `name` does (see [`Plan`]).
    fn plan<'a>(&self, kind: &str, name: &'a str, method: &str, args: &'a [CValue]) -> Plan<'a> {
        if kind == "manager" {
            return self.manager_plan(name, method, args);
        }
        let k = check!(Kind::parse(kind));
        let kind = k.name();
        if matches!(kind, "set" | "condition" | "barrier" | "array") {
            return Plan::err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "the {kind} kind is not available on a Redis manager (dict, list, namespace, value, queue, lock, \
                     rlock, semaphore, bounded_semaphore and event are; docs/REDIS.md)"
                ),
            ));
        }
        let extra = matches!((kind, method), ("lock" | "rlock", "fence"));
        if method != "create" && !extra && !k.methods().contains(&method) {
            return Plan::err(no_method(kind, method));
        }
        let o = Obj { kind, name };
        match kind {
            "dict" => dict::plan(self, o, method, args),
            "list" => list::plan(self, o, method, args),
            "namespace" => namespace::plan(self, o, method, args),
            "value" => value::plan(self, o, method, args),
            "lock" | "rlock" => lock::plan(self, o, method, args),
            "semaphore" | "bounded_semaphore" => semaphore::plan(self, o, method, args),
            "event" => event::plan(self, o, method, args),
            "queue" => queue::plan(self, o, method, args),
            _ => Plan::err(no_method(kind, method)),
        }
    }

    /// The `manager` kind's methods (docs/PROTOCOL.md §4, "manager").
    fn manager_plan<'a>(&self, name: &'a str, method: &str, _args: &[CValue]) -> Plan<'a> {
        match method {
            "ping" => Plan::one(redis::cmd("PING"), |m, r| m.ok(r).map(|_| NULL.to_vec())),
            "delete" => {
                // A queue's processing lists (at-least-once) first: the
                // library finds them through its consumers.
                let q: Vec<String> = ["items", "meta", "room", "done", "shut", "consumers"]
                    .iter()
                    .map(|s| self.key("q", name, &format!(":{s}")))
                    .collect();
                let q: Vec<&str> = q.iter().map(String::as_str).collect();
                let mut c = redis::cmd("UNLINK");
                for k in self.keys_of(name) {
                    c.arg(k);
                }
                Plan::Send(
                    vec![fcall("mpipc_1_q_unlink", &q), c],
                    Box::new(move |m, r| {
                        m.queues.lock().remove(name);
                        let mut n = 0;
                        for v in r {
                            n += m.int(v)?;
                        }
                        Ok(boolean(n > 0))
                    }),
                )
            }
            "list" => Plan::Steps(Box::new(|m: &RedisManager| m.list_objects())),
            "stats" => Plan::err(Error::new(
                ErrorKind::Unsupported,
                "manager stats: a Redis manager has no server of ours to count (use INFO on the Redis server)",
            )),
            m => Plan::err(Error::new(ErrorKind::Unsupported, format!("manager has no method {m:?}"))),
        }
    }

    /// Every key an object named `name` may have, of every kind (`manager
    /// delete`); the fencing counters (`...:seq`) are kept, so tokens keep
    /// growing if the name is used again.
    fn keys_of(&self, name: &str) -> Vec<String> {
        let parts: &[(&str, &[&str])] = &[
            ("d", &["", ":keys"]),
            ("l", &[""]),
            ("n", &[""]),
            ("v", &[""]),
            ("lock", &["", ":wake"]),
            ("rlock", &["", ":wake"]),
            ("sem", &["", ":meta", ":wake"]),
            ("ev", &["", ":wake"]),
            ("q", &[":items", ":meta", ":room", ":done", ":shut", ":consumers"]),
        ];
        let mut keys = Vec::new();
        for (kind, suffixes) in parts {
            for s in *suffixes {
                keys.push(self.key(kind, name, s));
            }
        }
        keys
    }

    /// `manager list`: `[name, kind]` of every object that holds state on
    /// the server (an unheld lock or an unset event has none), by name.
    fn list_objects(&self) -> Result<Vec<u8>> {
        let pattern = format!("{}*", self.prefix);
        let mut found: Vec<(String, &'static str)> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = self.run(None, |con| {
                redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000).query(con)
            })?;
            for k in keys {
                let Some(rest) = k.strip_prefix(self.prefix.as_bytes()) else { continue };
                let Ok(rest) = std::str::from_utf8(rest) else { continue };
                if let Some(object) = object_of_key(rest) {
                    found.push(object);
                }
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        found.sort();
        found.dedup();
        let list =
            found.into_iter().map(|(n, k)| CValue::Array(vec![CValue::Text(n), CValue::Text(k.into())])).collect();
        Ok(encode(&CValue::Array(list)))
    }

    /// The key of object `name` of the kind whose key part is `kind`
    /// (`d`, `l`, `lock`, ...), with `suffix`: `P kind:{NAME}suffix`.
    fn key(&self, kind: &str, name: &str, suffix: &str) -> String {
        format!("{}{kind}:{{{name}}}{suffix}", self.prefix)
    }

    /// The owner id of this client in this process (locks): a child after
    /// fork() is another owner.
    fn owner(&self) -> String {
        format!("{}:{}:{:016x}", self.host, crate::os::current_pid(), self.nonce)
    }

    /// A new holder id (one semaphore acquisition).
    fn holder(&self) -> String {
        // Relaxed: a unique number, nothing is ordered by it.
        let n = self.next_holder.fetch_add(1, Ordering::Relaxed);
        format!("{}:{n}", self.owner())
    }

    /// The lease in milliseconds, as the functions take it.
    fn lease_ms(&self) -> u64 {
        self.lease.as_millis().max(1) as u64
    }

    /// What this client holds, in this process.
    fn held(&self) -> MutexGuard<'_, Held> {
        let mut h = self.held.lock();
        let pid = crate::os::current_pid();
        if h.pid != pid {
            // A child after fork(): its parent's holdings are its
            // parent's (their leases are renewed there).
            h.locks.clear();
            h.permits.clear();
            h.pid = pid;
        }
        h
    }

    /// Runs `f` on a pooled connection (see [`Endpoint::run`]), noting
    /// whether the server was reached.
    fn run<T>(
        &self,
        block: Option<Duration>,
        f: impl FnMut(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T> {
        let r = self.ep.run(block, f);
        let reached = r.as_ref().err().is_none_or(|e| !is_transport(e));
        if !reached {
            // The other idle connections are most likely dead too (a
            // restarted server): the next call dials a fresh one rather
            // than meeting the same failure again.
            self.ep.disconnect();
        }
        self.reached.store(reached, Ordering::Relaxed);
        r
    }

    /// Sends `cmds` in one write and returns their replies in order,
    /// server errors as [`Value::ServerError`] (see [`RedisManager::ok`]).
    fn send(&self, cmds: &[Cmd]) -> Result<Vec<Value>> {
        let mut packed = Vec::new();
        for c in cmds {
            c.write_packed_command(&mut packed);
        }
        let wait = self.ep.timeout();
        self.run(None, |con| crate::redis::replies_within(con, &packed, cmds.len(), wait))
    }

    /// One command's reply, server errors included.
    fn send_one(&self, cmd: &Cmd) -> Result<Value> {
        Ok(self.send(std::slice::from_ref(cmd))?.pop().expect("one reply"))
    }

    /// Blocks on the latch list `key` for at most `block` (a server-side
    /// `BLMPOP`); whether a token was taken.
    fn block_on(&self, key: &str, block: Duration) -> Result<bool> {
        let block = block.min(MAX_BLOCK);
        let r: Value = self.run(Some(block), |con| {
            redis::cmd("BLMPOP").arg(block_seconds(block)).arg(1).arg(key).arg("LEFT").query(con)
        })?;
        Ok(!matches!(r, Value::Nil))
    }

    /// The reply, or its server error as an [`Error`].
    fn ok(&self, v: Value) -> Result<Value> {
        match v {
            Value::ServerError(e) => Err(self.server_error(&redis::RedisError::from(e))),
            v => Ok(v),
        }
    }

    /// The [`Error`] of a server error reply: a key of another Redis type
    /// is [`ErrorKind::Type`], the rest as [`Endpoint::error`] maps it.
    fn server_error(&self, e: &redis::RedisError) -> Error {
        if e.code() == Some("WRONGTYPE") {
            return Error::new(
                ErrorKind::Type,
                format!(
                    "{}: the object's key holds another Redis type (written by another program?): {}",
                    self.ep.shown(),
                    e.detail().unwrap_or("")
                ),
            );
        }
        self.ep.error(e)
    }

    /// An integer reply.
    fn int(&self, v: Value) -> Result<i64> {
        match self.ok(v)? {
            Value::Int(i) => Ok(i),
            other => Err(self.odd("an integer", &other)),
        }
    }

    /// A bulk string reply, `None` for nil.
    fn bulk(&self, v: Value) -> Result<Option<Vec<u8>>> {
        match self.ok(v)? {
            Value::Nil => Ok(None),
            Value::BulkString(b) => Ok(Some(b)),
            other => Err(self.odd("a string", &other)),
        }
    }

    /// An array reply (a map reply as its flat array of pairs).
    fn array(&self, v: Value) -> Result<Vec<Value>> {
        match self.ok(v)? {
            Value::Array(a) => Ok(a),
            Value::Map(m) => Ok(m.into_iter().flat_map(|(k, v)| [k, v]).collect()),
            Value::Nil => Ok(Vec::new()),
            other => Err(self.odd("an array", &other)),
        }
    }

    /// Stored bytes checked to be one CBOR item (another program may have
    /// written anything at the key): they are returned as they are.
    fn cbor(&self, b: Vec<u8>, o: &Obj<'_>) -> Result<Vec<u8>> {
        match scan(&b, MAX_DEPTH) {
            Ok(_) => Ok(b),
            Err(e) => Err(Error::new(
                ErrorKind::Corrupt,
                format!(
                    "{} {:?} on {}: a stored value is not mpipc's CBOR (written by another program?): {}",
                    o.kind,
                    o.name,
                    self.ep.shown(),
                    e.message()
                ),
            )),
        }
    }

    /// A stored value's bytes, or the error of a nil reply.
    fn cbor_item(&self, v: Value, o: &Obj<'_>) -> Result<Vec<u8>> {
        match self.bulk(v)? {
            Some(b) => self.cbor(b, o),
            None => Err(self.odd("a value", &Value::Nil)),
        }
    }

    #[cold]
    fn odd(&self, want: &str, got: &Value) -> Error {
        Error::new(ErrorKind::Corrupt, format!("{}: expected {want} in the reply, got {got:?}", self.ep.shown()))
    }
}

impl Drop for RedisManager {
    /// Gives back what this client holds (as the manager server does when
    /// a connection ends): every level of its locks and rlocks, and its
    /// semaphore permits. Best effort: a server that is gone frees them
    /// when their leases end.
    fn drop(&mut self) {
        let (locks, permits) = {
            let h = self.held.get_mut();
            if h.pid != crate::os::current_pid() {
                return;
            }
            (std::mem::take(&mut h.locks), std::mem::take(&mut h.permits))
        };
        let owner = self.owner();
        for ((kind, name), _holding) in locks {
            let keys = lock::keys(self, kind, &name);
            let release = lock::release_cmd(&keys, &owner);
            // Every level of an rlock: each release returns the depth left.
            for _ in 0..64 {
                match self.send_one(&release).and_then(|r| self.int(r)) {
                    Ok(d) if d > 0 => continue,
                    _ => break,
                }
            }
        }
        for ((kind, name), holdings) in permits {
            let cmds: Vec<Cmd> =
                holdings.iter().map(|h| semaphore::release_cmd(self, kind, &name, &h.holder, 1)).collect();
            let _ = self.send(&cmds);
        }
    }
}

/// An object: its kind (a protocol name) and its name.
#[derive(Clone, Copy, Debug)]
pub(super) struct Obj<'a> {
    kind: &'static str,
    name: &'a str,
}

/// The object a key (without the prefix) is the main key of: `d:{NAME}`,
/// `sem:{NAME}:meta`, `q:{NAME}:meta`, ... (`manager list`).
fn object_of_key(rest: &str) -> Option<(String, &'static str)> {
    let (part, tail) = rest.split_once(":{")?;
    let (name, suffix) = tail.rsplit_once('}')?;
    let kind = match (part, suffix) {
        ("d", "") => "dict",
        ("l", "") => "list",
        ("n", "") => "namespace",
        ("v", "") => "value",
        ("lock", "") => "lock",
        ("rlock", "") => "rlock",
        ("sem", ":meta") => "semaphore",
        ("ev", "") => "event",
        ("q", ":meta") => "queue",
        _ => return None,
    };
    Some((name.to_owned(), kind))
}

/// This machine's host name (owner ids: a lock names who holds it).
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return "localhost".to_owned();
    }
    let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..n]).into_owned()
}
