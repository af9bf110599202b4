//! The plumbing of the Redis / Valkey backend (docs/REDIS.md): addresses,
//! connections, the server-side function library and the mapping of the
//! server's errors onto [`ErrorKind`]. The objects built on it are the
//! queue at a `redis://` address (`crate::queue`) and the manager at one
//! (`crate::manager`).
//!
//! Connections: an [`Endpoint`](crate::redis::Endpoint) is one server (address, database,
//! credentials) and a small pool of connections to it. A call takes an
//! idle connection (or dials one), runs, and gives it back unless the
//! transport failed; so calls from several threads use several
//! connections, and a blocking call never holds up another thread's call.
//! The `redis` crate's synchronous client is used: no async runtime, whose
//! threads a `fork()` would leave behind in the child.
//!
//! Fork: every pooled connection records the pid that dialled it; a
//! process that finds connections of another pid in the pool (a child
//! after `fork()`) drops them (closing only its own copies of the
//! sockets: the parent's connections are untouched) and dials its own, so
//! parent and child never share a connection.

pub mod address;

use crate::error::{Error, ErrorKind, Result};
use address::{Address, Server};
use parking_lot::Mutex;
use redis::{ConnectionAddr, ConnectionInfo, ConnectionLike, ProtocolVersion, RedisConnectionInfo, Value};
use std::time::{Duration, Instant};

/// The server-side library, loaded into the server with `FUNCTION LOAD`
/// the first time a connection finds it missing or older (docs/REDIS.md,
/// "Functions").
pub const LIBRARY: &str = include_str!("mpipc_1.lua");
/// The library's name: the key layout's version is part of it.
pub const LIBRARY_NAME: &str = "mpipc_1";
/// The revision `mpipc_1_revision` returns for [`LIBRARY`]: a server whose
/// library is older gets this one (`FUNCTION LOAD REPLACE`); a newer one
/// (loaded by a newer mpipc of the same layout) is kept.
pub const LIBRARY_REVISION: i64 = 1;

/// Connecting, and each reply of a call that does not block, is bounded by
/// this unless the address says otherwise (`?timeout_ms=`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest single server-side block: a blocking call waits in slices
/// of at most this, so a wake-up that was lost (a waiter killed between
/// taking a latch's token and putting it back) costs at most one slice,
/// as `crate::os::RECHECK_INTERVAL` bounds the shared-memory waits.
pub const MAX_BLOCK: Duration = Duration::from_secs(1);
/// Idle connections kept per endpoint.
const MAX_IDLE: usize = 8;
/// A connection idle for longer is checked with a `PING` before use: the
/// server's `timeout` setting may have closed it, and a command written to
/// a closed connection cannot tell whether it ran.
const STALE_AFTER: Duration = Duration::from_secs(30);

/// One connection of the pool.
struct Conn {
    con: redis::Connection,
    /// The process that dialled it (see the module doc, "Fork").
    pid: u32,
    last_used: Instant,
    /// The read timeout set on the socket, to skip the syscall when the
    /// next call wants the same.
    read_timeout: Option<Duration>,
}

impl Conn {
    fn set_read_timeout(&mut self, t: Duration) -> redis::RedisResult<()> {
        // Zero is refused by the socket call; a reply is never expected
        // within less than a millisecond anyway.
        let t = t.max(Duration::from_millis(1));
        if self.read_timeout != Some(t) {
            self.con.set_read_timeout(Some(t))?;
            self.read_timeout = Some(t);
        }
        Ok(())
    }
}

/// A server and a pool of connections to it (see the module doc).
pub struct Endpoint {
    addr: Address,
    /// The address as messages show it (no password).
    shown: String,
    timeout: Duration,
    idle: Mutex<Vec<Conn>>,
    /// The process whose connections `idle` holds. A child after `fork()`
    /// finds another pid here and must not wait for `idle`'s lock: a
    /// thread of the parent (a lease keeper) may have held it at the fork,
    /// and that thread does not exist in the child. Relaxed: it only
    /// changes under `idle`'s lock, in a process with one thread so far
    /// using this endpoint; a stale read only sends a call to `try_lock`.
    owner_pid: std::sync::atomic::AtomicU32,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("server", &self.shown).finish()
    }
}

impl Endpoint {
    /// The endpoint of `addr` (no connection yet: see [`Endpoint::check`]).
    /// [`ErrorKind::Unsupported`] for TLS, which this build does not ship
    /// (docs/REDIS.md, "TLS").
    pub fn new(addr: &Address, shown: &str) -> Result<Endpoint> {
        if let Server::Tcp { tls: true, .. } = addr.server {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{shown}: TLS (rediss://, valkeys://) is not in this build of mpipc; use redis:// on a private \
                     network or a local TLS proxy (docs/REDIS.md, \"TLS\")"
                ),
            ));
        }
        let timeout = addr.timeout_ms.map_or(DEFAULT_TIMEOUT, |ms| Duration::from_millis(ms.max(1)));
        Ok(Endpoint {
            addr: addr.clone(),
            shown: shown.to_owned(),
            timeout,
            idle: Mutex::new(Vec::new()),
            owner_pid: std::sync::atomic::AtomicU32::new(crate::os::current_pid()),
        })
    }

    /// The server as messages show it: `redis://host:port/db` or the
    /// socket path, never the password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The address this endpoint was made from.
    pub fn address(&self) -> &Address {
        &self.addr
    }

    /// The bound of connecting and of each non-blocking reply.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Dials a connection now (authenticating, selecting the database and
    /// loading the function library), so that an unreachable server, a
    /// wrong password or an old server is reported by the open rather than
    /// by the first call; keeps it for the next call.
    pub fn check(&self) -> Result<()> {
        self.run(None, |_| Ok(()))
    }

    /// Drops every pooled connection (the next call dials anew).
    pub fn disconnect(&self) {
        if let Some(mut idle) = self.pool() {
            idle.clear();
        }
    }

    /// Runs `f` on a connection of the pool. `block` is how long `f`'s
    /// command may block on the server (`BLMPOP`'s timeout): the socket
    /// waits that long plus the endpoint's timeout for the reply.
    ///
    /// A server error reply leaves the connection in the pool; a
    /// transport failure (lost, timed out) drops it, since a late reply
    /// could then answer the next command. A server still loading its data
    /// after a restart (`-LOADING`: the command did not run) is retried
    /// until the endpoint's timeout.
    pub fn run<T>(
        &self,
        block: Option<Duration>,
        mut f: impl FnMut(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(5);
        loop {
            // No signal may interrupt a socket call of this thread while it
            // waits for a reply (crate::os::AsyncSignalsBlocked says why).
            let _quiet = crate::os::AsyncSignalsBlocked::new();
            let mut conn = match self.take() {
                Ok(conn) => conn,
                // A server restarted a moment ago answers the handshake's
                // library check with -LOADING too.
                Err(e) if is_loading(&e) && started.elapsed() < self.timeout => {
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(200));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let wait = self.timeout + block.unwrap_or(Duration::ZERO);
            let result = conn.set_read_timeout(wait).and_then(|()| f(&mut conn.con));
            match result {
                Ok(v) => {
                    self.give_back(conn);
                    return Ok(v);
                }
                Err(e) if e.kind() == redis::ErrorKind::BusyLoadingError && started.elapsed() < self.timeout => {
                    self.give_back(conn);
                    // The server answers -LOADING until its data is read
                    // back: waiting for that state has no event to wait
                    // on, so poll it with a growing interval.
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(200));
                }
                Err(e) => {
                    if is_server_reply(&e) {
                        self.give_back(conn);
                    }
                    return Err(self.error(&e));
                }
            }
        }
    }

    /// The pool, locked, if it is this process's: a child after `fork()`
    /// takes it over (dropping the parent's connections: that closes only
    /// the child's copies of their sockets) unless its lock was held at
    /// the fork, in which case `None`: the child's calls then dial a
    /// connection each, never waiting for a lock nobody will release.
    fn pool(&self) -> Option<parking_lot::MutexGuard<'_, Vec<Conn>>> {
        use std::sync::atomic::Ordering::Relaxed;
        let pid = crate::os::current_pid();
        if self.owner_pid.load(Relaxed) == pid {
            return Some(self.idle.lock());
        }
        let mut idle = self.idle.try_lock()?;
        idle.clear();
        self.owner_pid.store(pid, Relaxed);
        Some(idle)
    }

    /// An idle connection of this process, or a new one.
    fn take(&self) -> Result<Conn> {
        loop {
            let popped = self.pool().and_then(|mut idle| idle.pop());
            let Some(mut conn) = popped else { return self.dial() };
            if !conn.con.is_open() {
                continue;
            }
            if conn.last_used.elapsed() > STALE_AFTER {
                let alive = conn
                    .set_read_timeout(self.timeout)
                    .and_then(|()| redis::cmd("PING").query::<String>(&mut conn.con));
                if alive.is_err() {
                    continue;
                }
            }
            return Ok(conn);
        }
    }

    fn give_back(&self, mut conn: Conn) {
        if !conn.con.is_open() || conn.pid != crate::os::current_pid() {
            return;
        }
        conn.last_used = Instant::now();
        if let Some(mut idle) = self.pool() {
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
    }

    /// Dials, authenticates, selects the database and makes sure the
    /// function library is there, all within the endpoint's timeout.
    fn dial(&self) -> Result<Conn> {
        let deadline = Instant::now() + self.timeout;
        let addr = match &self.addr.server {
            Server::Tcp { host, port, .. } => ConnectionAddr::Tcp(host.clone(), *port),
            Server::Unix(path) => ConnectionAddr::Unix(path.clone()),
        };
        // No password and database 0 for the crate: then it sends nothing
        // during its own handshake, whose timeout is per reply rather than
        // total; ours follows, pipelined, under one deadline.
        let info = ConnectionInfo {
            addr,
            redis: RedisConnectionInfo { db: 0, username: None, password: None, protocol: ProtocolVersion::RESP2 },
        };
        let client = redis::Client::open(info).map_err(|e| self.error(&e))?;
        let con = client.get_connection_with_timeout(self.timeout).map_err(|e| self.connect_error(&e))?;
        let mut conn = Conn { con, pid: crate::os::current_pid(), last_used: Instant::now(), read_timeout: None };
        let mut pipe = redis::pipe();
        if let Some(password) = &self.addr.password {
            let auth = pipe.cmd("AUTH");
            if let Some(user) = &self.addr.user {
                auth.arg(user);
            }
            auth.arg(password);
        }
        if self.addr.db != 0 {
            pipe.cmd("SELECT").arg(self.addr.db);
        }
        pipe.cmd("FCALL_RO").arg("mpipc_1_revision").arg(0);
        let replies = self.replies_until(&mut conn, &pipe, deadline)?;
        let revision = replies.last().expect("the pipeline's last command");
        for reply in &replies[..replies.len() - 1] {
            if let Value::ServerError(e) = reply {
                return Err(self.error(&redis::RedisError::from(e.clone())));
            }
        }
        let load = match revision {
            Value::Int(r) => *r < LIBRARY_REVISION,
            Value::ServerError(e) if e.details().is_some_and(|d| d.contains("not found")) => true,
            Value::ServerError(e) => return Err(self.error(&redis::RedisError::from(e.clone()))),
            other => {
                return Err(Error::new(
                    ErrorKind::Version,
                    format!("{}: mpipc_1_revision answered {other:?}, not a revision number", self.shown),
                ))
            }
        };
        if load {
            let mut pipe = redis::pipe();
            pipe.cmd("FUNCTION").arg("LOAD").arg("REPLACE").arg(LIBRARY);
            let reply = self.replies_until(&mut conn, &pipe, deadline)?;
            if let Some(Value::ServerError(e)) = reply.first() {
                let e = redis::RedisError::from(e.clone());
                // Two processes loading at once: the other one's REPLACE
                // is as good as ours. Anything else is the server's no.
                let text = e.to_string();
                if text.contains("unknown command") || text.contains("Unknown subcommand") {
                    return Err(self.too_old());
                }
                return Err(self.error(&e));
            }
        }
        Ok(conn)
    }

    /// Sends `pipe` and reads its replies, each read bounded by what is
    /// left until `deadline` (the crate's own pipelined read would wait
    /// its timeout per reply). Server errors are returned as values.
    fn replies_until(&self, conn: &mut Conn, pipe: &redis::Pipeline, deadline: Instant) -> Result<Vec<Value>> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.handshake_timeout());
        }
        let fail = |e: redis::RedisError| self.connect_error(&e);
        conn.con.set_write_timeout(Some(left.max(Duration::from_millis(1)))).map_err(fail)?;
        let out = pipeline_within(&mut conn.con, pipe, left).map_err(fail)?;
        // pipeline_within left the socket's read timeout at `left`.
        conn.read_timeout = Some(left.max(Duration::from_millis(1)));
        conn.con.set_write_timeout(None).map_err(fail)?;
        Ok(out)
    }

    fn handshake_timeout(&self) -> Error {
        Error::new(
            ErrorKind::Timeout,
            format!("{}: no answer to the handshake within {:?} (is it a Redis server?)", self.shown, self.timeout),
        )
    }

    fn too_old(&self) -> Error {
        Error::new(
            ErrorKind::Version,
            format!("{}: mpipc needs Redis >= 7.0 or Valkey >= 7.2 (Redis Functions, BLMPOP)", self.shown),
        )
    }

    /// The error of a failure while connecting.
    fn connect_error(&self, e: &redis::RedisError) -> Error {
        if e.is_timeout() {
            return self.handshake_timeout();
        }
        if e.is_io_error() && !e.is_connection_dropped() {
            return Error::new(ErrorKind::Io, format!("cannot reach {}: {e}", self.shown));
        }
        self.error(e)
    }

    /// The [`Error`] of a failed call (docs/REDIS.md, "Errors").
    pub fn error(&self, e: &redis::RedisError) -> Error {
        let shown = &self.shown;
        if let Some(code) = e.code() {
            let detail = e.detail().unwrap_or("");
            if let Some(kind) = code.strip_prefix("MPIPC_") {
                return Error::new(mpipc_kind(kind), detail.to_owned());
            }
            let kind = match code {
                "NOAUTH" | "WRONGPASS" => ErrorKind::Auth,
                "NOPERM" | "READONLY" => ErrorKind::Permission,
                "OOM" => ErrorKind::Full,
                "LOADING" => ErrorKind::Timeout,
                // A key of the object holds another type (a plain client
                // wrote it): the name is taken by something else.
                "WRONGTYPE" => ErrorKind::Type,
                "ERR" if detail.contains("unknown command") => return self.too_old(),
                // An ACL refusal met inside a function comes back as a
                // plain error, not -NOPERM.
                "ERR" if detail.contains("can't run this command") || detail.contains("no permissions") => {
                    ErrorKind::Permission
                }
                "ERR" if detail.contains("invalid password") || detail.contains("AUTH") => ErrorKind::Auth,
                _ => ErrorKind::Io,
            };
            return Error::new(kind, format!("{shown}: {code} {detail}"));
        }
        match e.kind() {
            redis::ErrorKind::AuthenticationFailed => Error::new(ErrorKind::Auth, format!("{shown}: {e}")),
            redis::ErrorKind::ReadOnly => Error::new(ErrorKind::Permission, format!("{shown}: {e}")),
            redis::ErrorKind::IoError if e.is_timeout() => Error::new(
                ErrorKind::Timeout,
                format!(
                    "{shown}: no reply within {:?}: the call may or may not have been applied (the connection is \
                     dropped; the next call dials anew)",
                    self.timeout
                ),
            ),
            redis::ErrorKind::IoError if e.is_connection_refusal() => {
                Error::new(ErrorKind::Io, format!("cannot reach {shown}: connection refused"))
            }
            redis::ErrorKind::IoError => Error::new(
                ErrorKind::Eof,
                format!(
                    "connection to {shown} lost ({e}): the call may or may not have been applied; the next call \
                     reconnects"
                ),
            ),
            _ => Error::new(ErrorKind::Corrupt, format!("{shown}: unexpected reply: {e}")),
        }
    }
}

/// Sends the `count` commands packed in `packed` in one write and reads
/// their replies (server errors as [`Value::ServerError`], in order), all
/// within `wait` from now. The crate's own pipelined read would wait its
/// whole read timeout again for every reply once one had timed out (a
/// stopped server held a batch of 20 for 20 timeouts). `wait` must be what
/// [`Endpoint::run`] set for the call (the endpoint's timeout, plus the
/// block of a blocking command): the socket gets it back at the end.
pub fn replies_within(
    con: &mut redis::Connection,
    packed: &[u8],
    count: usize,
    wait: Duration,
) -> redis::RedisResult<Vec<Value>> {
    let deadline = Instant::now() + wait;
    con.send_packed_command(packed)?;
    let mut out = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::from(std::io::ErrorKind::TimedOut).into());
        }
        con.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        out.push(con.recv_response()?);
    }
    con.set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
    Ok(out)
}

/// [`replies_within`] of the commands of `pipe`.
pub fn pipeline_within(
    con: &mut redis::Connection,
    pipe: &redis::Pipeline,
    wait: Duration,
) -> redis::RedisResult<Vec<Value>> {
    replies_within(con, &pipe.get_packed_pipeline(), pipe.cmd_iter().count(), wait)
}

/// Whether `e` is a transport failure (the server was not reached, or the
/// connection broke: the call may or may not have run) rather than the
/// server's answer.
pub fn is_transport(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Timeout | ErrorKind::Eof | ErrorKind::Io)
}

/// A random 64-bit number for consumer and owner ids (they only need to
/// differ between clients; not a secret). `RandomState` is seeded from the
/// OS's randomness per process and differs per instance within one.
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(crate::os::current_pid());
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.finish()
}

/// Whether `e` is a `-LOADING` answer (see [`Endpoint::error`]).
fn is_loading(e: &Error) -> bool {
    e.kind() == ErrorKind::Timeout && e.message().contains(": LOADING ")
}

/// Whether `e` is the server's answer (the connection is in step and can
/// be reused) rather than a transport failure.
fn is_server_reply(e: &redis::RedisError) -> bool {
    e.code().is_some() || matches!(e.kind(), redis::ErrorKind::TypeError)
}

/// The kind of a `-MPIPC_<KIND> text` error reply of the library.
fn mpipc_kind(kind: &str) -> ErrorKind {
    match kind {
        "INVAL" => ErrorKind::Invalid,
        "TYPE" => ErrorKind::Type,
        "NOTFOUND" => ErrorKind::NotFound,
        "EXISTS" => ErrorKind::Exists,
        "SHUTDOWN" => ErrorKind::Shutdown,
        "PERM" => ErrorKind::Permission,
        "BROKEN" => ErrorKind::Broken,
        "VERSION" => ErrorKind::Version,
        "INDEX" => ErrorKind::Index,
        "FULL" => ErrorKind::Full,
        "TOOBIG" => ErrorKind::TooBig,
        _ => ErrorKind::Corrupt,
    }
}

/// The key prefix of objects in namespace `ns`: `mpipc:` or `mpipc:NS:`.
pub fn prefix(ns: Option<&str>) -> String {
    match ns {
        Some(ns) => format!("mpipc:{ns}:"),
        None => "mpipc:".to_owned(),
    }
}

/// A server-side block of `d`, as the seconds `BLMPOP` takes: at least a
/// millisecond (0 would mean for ever), three decimals.
pub fn block_seconds(d: Duration) -> String {
    let ms = d.as_millis().max(1);
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Parses `text` (a queue's address when `object`, else a manager's: see
/// [`address::parse`]) and makes its endpoint, without connecting.
/// [`ErrorKind::Invalid`] naming the wrong part of a bad address.
pub fn endpoint_of(text: &str, object: bool) -> Result<(Endpoint, Address)> {
    let addr = address::parse(text, object).map_err(|why| Error::new(ErrorKind::Invalid, why))?;
    let shown = match &addr.server {
        Server::Tcp { host, port, tls } => {
            let scheme = if *tls { "rediss" } else { "redis" };
            let host = if host.contains(':') { format!("[{host}]") } else { host.clone() };
            format!("{scheme}://{host}:{port}/{}", addr.db)
        }
        Server::Unix(path) => format!("redis+unix://{}?db={}", path.display(), addr.db),
    };
    Ok((Endpoint::new(&addr, &shown)?, addr))
}

#[cfg(test)]
pub(crate) mod test_server;
