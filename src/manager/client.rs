//! The manager client: one connection, calls by (kind, name, method, args).
//!
//! When the server goes away (stopped, crashed, restarted) the connection
//! is *lost*: the call that noticed fails with [`ErrorKind::Eof`] and a
//! message saying so, and so does every later call, at once, until
//! [`ManagerClient::reconnect`] dials the address again. Nothing is retried
//! behind the caller's back: a request whose reply never came may or may
//! not have been applied (an `incr` sent twice would count twice), and a
//! restarted server starts empty, so only the caller can decide what to do.
//!
//! At a Redis / Valkey address (`redis://host:port[/db][?ns=app]`,
//! `redis+unix:///path`, `valkey://...`: docs/REDIS.md, "Manager on Redis")
//! the same calls work on the objects the Redis server keeps
//! (`super::redis`), with two differences in this contract: the client
//! reconnects by itself at the next call (the call that met the failure
//! returned [`ErrorKind::Eof`], and nothing was retried; the server kept
//! the data), and locks and semaphores are leases.

use super::cbor::{decode, encode, encode_into, head, read_head, scan, scan_item, Form};
use super::objects::key_error;
use super::protocol::{decode_value_reply, encode_value, Reply, ReplyView, MAX_DEPTH};
use super::replica::{Lookup, Mapping};
use super::values::key_bytes;
use crate::error::{Error, ErrorKind, Result};
use crate::pipe::{connect, fdpass, Connection, ListenerOptions};
use ciborium::Value;
use parking_lot::{Mutex, MutexGuard};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A connection to a manager. Thread-safe: calls from several threads are
/// serialised (each waits for its own reply); for throughput from one
/// thread, send many requests at once with [`ManagerClient::pipeline`].
///
/// At a Redis / Valkey address (see [`ManagerClient::connect`] and
/// docs/REDIS.md, "Manager on Redis") the objects are the server's; calls
/// from several threads run on connections of their own (none waits for
/// another's reply); a call that meets a lost connection fails with
/// [`ErrorKind::Eof`] and the next call reconnects by itself (nothing is
/// retried; the data is the server's and survives); locks and semaphore
/// permits are leases, renewed while this client holds them and given
/// back when it is dropped.
pub struct ManagerClient {
    /// Where and how to dial again ([`ManagerClient::reconnect`]).
    address: String,
    opts: ListenerOptions,
    /// The spin budget, re-applied to a new connection. Relaxed: a setting
    /// read when a connection is made, ordered by the `link` mutex anyway.
    spin_us: AtomicU32,
    /// Whether `link.conn` is set, readable without the `link` mutex (which
    /// a call holds while it waits for its reply, possibly for ever: a
    /// blocked `lock.acquire`). Written under the mutex; Relaxed: a status
    /// hint, ordering nothing.
    connected: AtomicBool,
    link: Mutex<Link>,
    /// Whether dict reads may be served from a local replica (see
    /// [`ManagerClient::set_local_reads`]). Relaxed: a setting, read per
    /// call.
    local_reads: AtomicBool,
    /// The dict replicas this connection mapped. Its own mutex, never held
    /// across a round trip, so local reads never wait for a call in
    /// progress; lock order: `link` before `replicas`.
    replicas: Mutex<Replicas>,
    /// When local reads last checked that the server is still there
    /// (coarse monotonic milliseconds; see `server_gone`). Relaxed: a
    /// rate limit, guarding no data.
    alive_checked_ms: std::sync::atomic::AtomicU64,
    /// The manager at a Redis address, which every call goes to (the
    /// fields above then serve nothing: `link` has no connection).
    #[cfg(feature = "redis")]
    redis: Option<Box<super::redis::RedisManager>>,
}

/// Returns what `$r` (the client's Redis manager) gives, when the client
/// is one; the pipe path follows otherwise.
macro_rules! on_redis {
    ($self:ident, $r:ident => $e:expr) => {
        #[cfg(feature = "redis")]
        if let Some($r) = &$self.redis {
            return $e;
        }
    };
}

/// The replicas of one connection (dropped with it: a reconnect, or the
/// connection found lost, forgets them all).
#[derive(Default)]
struct Replicas {
    by_name: HashMap<String, Local>,
    /// The result of a local read, reused by every one.
    scratch: Vec<u8>,
    /// Reads served locally, for [`ManagerClient::local_read_count`].
    served: u64,
    /// The epoch the next mapping gets: a version (see
    /// [`ManagerClient::local_version`]) names the mapping it was read
    /// from, so versions of two mappings never compare equal. Never
    /// reset (a reconnect keeps counting).
    next_epoch: u64,
}

impl Replicas {
    /// Remembers `local` for `name` (a mapping gets the next epoch).
    fn insert(&mut self, name: &str, local: Local) {
        let local = match local {
            Local::Mapped(m, _) => {
                self.next_epoch += 1;
                Local::Mapped(m, self.next_epoch)
            }
            other => other,
        };
        self.by_name.insert(name.to_owned(), local);
    }
}

/// A version: the mapping's epoch in the high 16 bits, its `seq` in the
/// low 48 (a dict would need 2^47 changes to wrap it).
fn version(epoch: u64, seq: u64) -> u64 {
    (epoch << 48) | (seq & ((1 << 48) - 1))
}

/// What a connection knows of one dict's replica.
enum Local {
    /// Mapped, read-only; with its epoch (see `Replicas::next_epoch`).
    Mapped(Mapping, u64),
    /// The server gave none (TCP, an older server, a dict over the size
    /// limit) or it was found corrupt: every read of this dict uses the
    /// RPC, until a reconnect.
    Refused,
}

/// One argument of a local read: its bytes (one well-formed item) and
/// their [`Form`].
type Arg<'a> = (&'a [u8], Form);

/// The dict methods a replica can answer: `get` (with its default and
/// KeyError), `contains`, `len`.
fn is_local_method(method: &str) -> bool {
    matches!(method, "get" | "contains" | "len")
}

/// Whether `MPIPC_MGR_LOCAL_READS` leaves local reads on (the default;
/// `0`, `false`, `off` or `no` turn them off for every client of the
/// process, in every language).
fn local_reads_default() -> bool {
    !matches!(
        std::env::var("MPIPC_MGR_LOCAL_READS").map(|v| v.trim().to_ascii_lowercase()).as_deref(),
        Ok("0" | "false" | "off" | "no")
    )
}

/// The current connection and its request ids, guarded together so ids and
/// replies stay in step.
struct Link {
    /// `None` once the connection is lost (until a reconnect).
    conn: Option<Connection>,
    /// Why it was lost (the first failure's message), repeated by every
    /// later call so that it is not only the first caller who learns it.
    lost_cause: String,
    /// The spin budget applied to `conn` (see `ManagerClient::spin_us`).
    applied_spin_us: u32,
    next_id: u64,
    /// The payloads of the requests being sent, back to back, and where
    /// each ends: reused by every call, so sending allocates nothing.
    tx: Vec<u8>,
    ends: Vec<usize>,
    /// The reply being read: reused, grown to the largest reply (and
    /// shrunk back after one over [`KEEP_BUFFER`]).
    rx: Vec<u8>,
}

impl Link {
    /// Gives back buffers a large call grew (see [`KEEP_BUFFER`]).
    fn trim(&mut self) {
        if self.tx.capacity() > KEEP_BUFFER {
            self.tx = Vec::new();
            self.ends = Vec::new();
        }
        if self.rx.len() > KEEP_BUFFER {
            self.rx = vec![0; RX_START];
        }
    }

    fn new(conn: Connection, spin_us: u32) -> Link {
        Link {
            conn: Some(conn),
            lost_cause: String::new(),
            applied_spin_us: spin_us,
            next_id: 1,
            tx: Vec::new(),
            ends: Vec::new(),
            rx: vec![0; RX_START],
        }
    }

    /// The link of a client at a Redis address: no pipe connection, ever.
    #[cfg(feature = "redis")]
    fn none() -> Link {
        Link {
            conn: None,
            lost_cause: "a manager at a Redis address has no pipe connection".to_owned(),
            applied_spin_us: 0,
            next_id: 1,
            tx: Vec::new(),
            ends: Vec::new(),
            rx: Vec::new(),
        }
    }
}

impl ManagerClient {
    /// Connects (and authenticates, with an authkey) within `timeout`.
    ///
    /// A Redis / Valkey address (`redis://[user[:password]@]host[:port][/db][?ns=NS&lease_ms=N&timeout_ms=N]`,
    /// `redis+unix:///path/to/redis.sock[?db=N...]`, `valkey://...`;
    /// docs/REDIS.md) connects to that server instead: `opts.authkey` is
    /// then the password when the address has none (both, and different:
    /// [`ErrorKind::Invalid`]); a wrong or missing password is
    /// [`ErrorKind::Auth`], an unreachable server [`ErrorKind::Io`] (or
    /// [`ErrorKind::Timeout`]), a bad address [`ErrorKind::Invalid`] naming
    /// the part that is wrong.
    pub fn connect(address: &str, opts: &ListenerOptions, timeout: Option<Duration>) -> Result<ManagerClient> {
        if address.contains("://") {
            return Self::connect_redis(address, opts, timeout);
        }
        let conn = Self::dial(address, opts, timeout, super::protocol::SPIN_US)?;
        Ok(ManagerClient {
            address: address.to_owned(),
            opts: opts.clone(),
            spin_us: AtomicU32::new(super::protocol::SPIN_US),
            connected: AtomicBool::new(true),
            link: Mutex::new(Link::new(conn, super::protocol::SPIN_US)),
            local_reads: AtomicBool::new(local_reads_default()),
            replicas: Mutex::new(Replicas::default()),
            alive_checked_ms: std::sync::atomic::AtomicU64::new(coarse_ms()),
            #[cfg(feature = "redis")]
            redis: None,
        })
    }

    /// [`ManagerClient::connect`] at a Redis address.
    #[cfg(feature = "redis")]
    fn connect_redis(address: &str, opts: &ListenerOptions, timeout: Option<Duration>) -> Result<ManagerClient> {
        let r = super::redis::RedisManager::connect(address, opts, timeout)?;
        Ok(ManagerClient {
            address: address.to_owned(),
            opts: opts.clone(),
            spin_us: AtomicU32::new(0),
            connected: AtomicBool::new(false),
            link: Mutex::new(Link::none()),
            local_reads: AtomicBool::new(false),
            replicas: Mutex::new(Replicas::default()),
            alive_checked_ms: std::sync::atomic::AtomicU64::new(0),
            redis: Some(Box::new(r)),
        })
    }

    /// [`ManagerClient::connect`] at a Redis address, in a build without
    /// the backend.
    #[cfg(not(feature = "redis"))]
    fn connect_redis(address: &str, _: &ListenerOptions, _: Option<Duration>) -> Result<ManagerClient> {
        let scheme = address.split("://").next().unwrap_or_default();
        Err(Error::new(
            ErrorKind::Unsupported,
            format!("{scheme}:// addresses need the Redis backend, which this build of mpipc leaves out (feature \"redis\")"),
        ))
    }

    fn dial(address: &str, opts: &ListenerOptions, timeout: Option<Duration>, spin_us: u32) -> Result<Connection> {
        let conn = connect(address, opts, timeout)?;
        // The reply to a small request comes back within microseconds:
        // spin for it rather than pay a wake-up (see protocol::SPIN_US).
        conn.set_spin_us(spin_us);
        Ok(conn)
    }

    fn link(&self) -> MutexGuard<'_, Link> {
        // parking_lot does not poison, which is right here: a panic while
        // holding the lock cannot leave the link half updated in a way
        // that matters (at worst ids are ahead).
        self.link.lock()
    }

    fn replicas(&self) -> MutexGuard<'_, Replicas> {
        // Not poisoned either: nothing in it can be left half updated by
        // a panic.
        self.replicas.lock()
    }

    /// Turns local dict reads on or off (default on, unless the
    /// environment variable `MPIPC_MGR_LOCAL_READS` is `0`).
    ///
    /// On: a dict's `get`, `contains` and `len` from a client on a Unix
    /// socket are read from a replica that the server keeps in shared
    /// memory (mapped read-only), without a round trip: the same results
    /// and errors as the RPC, the same linearizable semantics (the server
    /// updates the replica before it replies to a change). Over TCP, or
    /// for a dict the server does not replicate, the RPC serves them as
    /// before. Off: every call is a round trip. A client at a Redis
    /// address has no replica: accepted, no effect.
    pub fn set_local_reads(&self, on: bool) {
        self.local_reads.store(on, Ordering::Relaxed);
    }

    /// How many calls this client served from a local replica since the
    /// connection was made (tests and diagnostics).
    pub fn local_read_count(&self) -> u64 {
        self.replicas().served
    }

    /// A number that changes whenever dict `name`'s local replica does
    /// (every change to the dict moves it), 0 when its reads are not
    /// local (no replica mapped yet, a write under way, the connection
    /// lost). Two equal non-zero versions mean the dict did not change in
    /// between: a binding may keep values read at one version (see
    /// [`ManagerClient::dict_get_versioned`]) and serve them again while
    /// the version stays the same, as the Python binding does.
    pub fn local_version(&self, name: &str) -> u64 {
        on_redis!(self, _r => 0);
        if !self.connected.load(Ordering::Relaxed) || !self.local_reads.load(Ordering::Relaxed) || self.server_gone() {
            return 0;
        }
        match self.replicas().by_name.get(name) {
            Some(Local::Mapped(m, epoch)) => m.stable_seq().map_or(0, |s| version(*epoch, s)),
            _ => 0,
        }
    }

    /// `get` of `key` in dict `name`, as [`ManagerClient::call_raw`] does
    /// it, with the [`local_version`](ManagerClient::local_version) the
    /// value was read at: 0 when the round trip served it (nothing can be
    /// concluded), else a later `local_version` equal to it means the
    /// value is still the dict's.
    pub fn dict_get_versioned<T>(
        &self,
        name: &str,
        key: Item<'_>,
        read: impl FnOnce(&[u8]) -> Result<T>,
    ) -> Result<(T, u64)> {
        on_redis!(self, _r => self.call_raw("dict", name, "get", RawArgs::Items(&[key]), read).map(|t| (t, 0)));
        let mut read = Some(read);
        if self.local_reads.load(Ordering::Relaxed) {
            if let Some((r, v)) = self.local_read(name, "get", &[(key.0, key.1)], &mut read) {
                return r.map(|t| (t, v));
            }
        }
        let read = read.take().expect("not used by the local path");
        self.call_raw("dict", name, "get", RawArgs::Items(&[key]), read).map(|t| (t, 0))
    }

    /// Serves a dict read from the local replica: `Some` with the
    /// result's bytes handed to `read` (taken from its option) or the
    /// error the server would have given, and the version it was read at
    /// (see [`ManagerClient::local_version`]; 0 if unknown); `None` when
    /// the RPC must serve it (no replica, a value left out of it, writers
    /// too busy, anything unusual about the arguments: the server then
    /// gives its own answer).
    fn local_read<T>(
        &self,
        name: &str,
        method: &str,
        args: &[Arg<'_>],
        read: &mut Option<impl FnOnce(&[u8]) -> Result<T>>,
    ) -> Option<(Result<T>, u64)> {
        let arity_ok = match method {
            "get" => (1..=2).contains(&args.len()),
            "contains" => args.len() == 1,
            _ => args.is_empty(),
        };
        if !arity_ok || !self.connected.load(Ordering::Relaxed) || self.server_gone() {
            return None;
        }
        // The canonical key bytes, exactly as the server computes them
        // (objects.rs `key_of`): the item itself when it is a plain key.
        let key: Cow<'_, [u8]> = match args.first() {
            None => Cow::Borrowed(&[]),
            Some((b, form)) if form.plain_key() => Cow::Borrowed(b),
            Some((b, _)) => Cow::Owned(key_bytes(&decode(b, MAX_DEPTH).ok()?).ok()?),
        };
        let mut asked = false;
        loop {
            let mut guard = self.replicas();
            let reps = &mut *guard;
            let Some(local) = reps.by_name.get(name) else {
                if asked {
                    return None;
                }
                drop(guard);
                asked = true;
                match self.request_replica(name) {
                    Ok(true) => continue,
                    Ok(false) => return None,
                    Err(e) => return Some((Err(e), 0)),
                }
            };
            let Local::Mapped(m, epoch) = local else { return None };
            let out = &mut reps.scratch;
            // The version is the `seq` the read was consistent at when it
            // did not move around it (the read itself checks the same).
            let before = m.stable_seq();
            let found = match method {
                "get" => m.get(&key, out),
                "contains" => m.contains(&key),
                _ => m.len(),
            };
            let seen = match (before, m.stable_seq()) {
                (Some(a), Some(b)) if a == b => version(*epoch, a),
                _ => 0,
            };
            let result = match (found, method) {
                // `m.get` left the value's bytes in `out`.
                (Lookup::Found, "get") => Ok(()),
                (Lookup::Found, _) => {
                    out.clear();
                    out.push(0xf5);
                    Ok(())
                }
                (Lookup::Missing, "contains") => {
                    out.clear();
                    out.push(0xf4);
                    Ok(())
                }
                (Lookup::Missing, _) => {
                    out.clear();
                    match args.get(1) {
                        // The default, as the server writes it
                        // (objects.rs `write_value`).
                        Some((b, form)) if form.canonical() => {
                            out.extend_from_slice(b);
                            Ok(())
                        }
                        Some((b, _)) => {
                            encode_into(&decode(b, MAX_DEPTH).ok()?, out);
                            Ok(())
                        }
                        // KeyError, with the server's message.
                        None => Err(key_error(&decode(args[0].0, MAX_DEPTH).ok()?)),
                    }
                }
                (Lookup::Len(n), _) => {
                    out.clear();
                    head(out, 0, n);
                    Ok(())
                }
                (Lookup::Fallback, _) => return None,
                (Lookup::Retired, _) => {
                    // A newer segment (or none) replaced it: ask again,
                    // once per call.
                    reps.by_name.remove(name);
                    if asked {
                        return None;
                    }
                    continue;
                }
                (Lookup::Corrupt, _) => {
                    reps.insert(name, Local::Refused);
                    return None;
                }
            };
            reps.served += 1;
            let read = read.take().expect("read once");
            return Some((result.and_then(|()| read(&reps.scratch)), seen));
        }
    }

    /// Whether local reads found the server gone: at most every
    /// [`ALIVE_CHECK_MS`], a peek at the socket (EOF: the server closed it,
    /// stopped or died) drops the connection as a failed call would, and
    /// with it the replicas. Reads between two checks may return the dict
    /// as the dead server left it: its final state, which is consistent
    /// (no write can complete after it), so a reader notices a death
    /// within ALIVE_CHECK_MS and its next call, or at its first round
    /// trip (docs/DECISIONS.md).
    fn server_gone(&self) -> bool {
        let now = coarse_ms();
        if now.wrapping_sub(self.alive_checked_ms.load(Ordering::Relaxed)) < ALIVE_CHECK_MS {
            return false;
        }
        self.alive_checked_ms.store(now, Ordering::Relaxed);
        // A call in progress holds the link, and will notice a loss itself.
        let Some(mut guard) = self.link.try_lock() else { return false };
        let link = &mut *guard;
        let Some(conn) = &link.conn else { return true };
        let mut b = 0u8;
        // SAFETY: a one-byte peek into `b` on the live connection's socket
        // (the link lock keeps it open); nothing is consumed.
        let n =
            unsafe { libc::recv(conn.fileno(), (&mut b as *mut u8).cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT) };
        let err = std::io::Error::last_os_error();
        let gone = n == 0 || (n < 0 && !matches!(err.raw_os_error(), Some(libc::EAGAIN | libc::EINTR)));
        if gone {
            let e = if n == 0 {
                Error::new(ErrorKind::Eof, "the server closed the connection")
            } else {
                Error::from_io("recv", err)
            };
            self.drop_link(link, &e);
        }
        gone
    }

    /// Asks the server for the replica of dict `name`, maps it and
    /// remembers it (or `Local::Refused` when the server gives none) while
    /// still holding the link, so that a reconnect or a lost connection
    /// cannot slip in between and leave an old server's replica behind.
    /// `false`: nothing was remembered (no connection: the RPC says so);
    /// the error is a transport failure (the connection is then dropped,
    /// as a call's).
    fn request_replica(&self, name: &str) -> Result<bool> {
        let mut guard = self.link();
        let link = &mut *guard;
        let Some(conn) = link.conn.as_ref() else { return Ok(false) };
        let remember = |local| {
            self.replicas().insert(name, local);
            Ok(true)
        };
        // The reply is read below the connection's buffering: nothing may
        // be buffered there (nothing is, between calls, from our server).
        if self.address.starts_with("tcp:") || conn.has_buffered().unwrap_or(true) {
            return remember(Local::Refused);
        }
        let id = link.next_id;
        link.next_id += 1;
        link.tx.clear();
        put_request(&mut link.tx, id, "dict", name, "replica", |tx| tx.push(0x80));
        let got = conn.send_bytes(&link.tx).and_then(|()| fdpass::recv_frame_with_fd(conn.fileno(), MAX_REPLICA_REPLY));
        let checked = got.and_then(|(frame, fd)| {
            if frame.starts_with(b"#CHALLENGE#") {
                // As in `read_reply`: we came without the server's key.
                return Err(Error::new(
                    ErrorKind::Auth,
                    "the manager requires an authkey; connect with the server's authkey",
                ));
            }
            match ReplyView::parse(&frame) {
                Some(v) if v.id == id => Ok(fd),
                _ => Err(Error::new(ErrorKind::Corrupt, "manager reply out of order")),
            }
        });
        match checked {
            // An error reply (an older server, a dict over the limit)
            // comes without a descriptor.
            Ok(fd) => remember(fd.and_then(|fd| Mapping::map(fd).ok()).map_or(Local::Refused, |m| Local::Mapped(m, 0))),
            Err(e) => {
                self.drop_link(link, &e);
                Err(match e.kind() {
                    ErrorKind::Eof | ErrorKind::Io => self.lost(&link.lost_cause),
                    _ => e,
                })
            }
        }
    }

    /// Drops the connection after a transport failure: no later reply
    /// could be trusted to match its request, and the replicas it gave go
    /// with it.
    fn drop_link(&self, link: &mut Link, e: &Error) {
        link.conn = None;
        self.connected.store(false, Ordering::Relaxed);
        link.lost_cause = e.message().to_owned();
        self.replicas().by_name.clear();
    }

    /// Sets how long a call busy-polls for its reply before sleeping
    /// (microseconds, 0 = never; default 50). Spinning trades CPU for
    /// latency; the budget shrinks by itself when replies are slow.
    ///
    /// Takes effect at the next call (never waits for a call in progress).
    /// A client at a Redis address does not spin: accepted, no effect.
    pub fn set_spin_us(&self, us: u32) {
        self.spin_us.store(us, Ordering::Relaxed);
    }

    /// The address this client dials.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Whether the connection is up, as far as the client knows: `false`
    /// once a call has found it lost (a server that died since the last
    /// call is only noticed by the next one).
    /// Never waits for a call in progress. At a Redis address: whether the
    /// last call reached the server (the next call dials anew if not).
    pub fn is_connected(&self) -> bool {
        on_redis!(self, r => r.is_connected());
        self.connected.load(Ordering::Relaxed)
    }

    /// Dials the same address with the same authkey again, retrying while
    /// no server listens there (it may be restarting) until `timeout`
    /// (`None` = for ever), then replaces the current connection with the
    /// new one. Calls from other threads wait meanwhile. If no server
    /// accepts in time, a connection that was still up is kept.
    ///
    /// The new connection starts from scratch: a restarted server holds
    /// none of the old one's objects, and locks this client held are gone
    /// with the connection that held them.
    ///
    /// Errors: [`ErrorKind::Timeout`] when no server accepted in time (the
    /// message says what the last attempt met); [`ErrorKind::Auth`] at
    /// once for a wrong key; [`ErrorKind::Invalid`] for a bad address. On a
    /// Unix socket, a server that accepts gets at least one second for the
    /// handshake, even past `timeout`.
    ///
    /// At a Redis address: drops the pooled connections and checks the
    /// server anew (retrying while it is unreachable, until `timeout`); the
    /// data is the server's, so nothing starts from scratch (locks held
    /// are kept while their leases last).
    pub fn reconnect(&self, timeout: Option<Duration>) -> Result<()> {
        on_redis!(self, r => r.reconnect(timeout));
        let mut link = self.link();
        let deadline = timeout.map(|t| Instant::now() + t);
        // A Unix-socket connect is refused or accepted at once, so the time
        // it is given goes to the authkey handshake: at least HANDSHAKE_MIN,
        // however little of the timeout is left. Over TCP the same time
        // also bounds the connect itself, which must not outlast the caller.
        let floor = if self.address.starts_with("tcp:") { Duration::ZERO } else { HANDSHAKE_MIN };
        let mut pause = Duration::from_millis(1);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()).max(floor));
            match Self::dial(&self.address, &self.opts, left, self.spin_us.load(Ordering::Relaxed)) {
                Ok(conn) => {
                    let spin = self.spin_us.load(Ordering::Relaxed);
                    *link = Link::new(conn, spin);
                    // The old connection's replicas may be of a server
                    // that is gone: the new one gives its own.
                    self.replicas().by_name.clear();
                    self.connected.store(true, Ordering::Relaxed);
                    return Ok(());
                }
                // Nobody listening (yet): the socket file is missing or
                // stale, or the port is closed. Try again shortly.
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::NotFound | ErrorKind::Eof | ErrorKind::Io | ErrorKind::Timeout
                    ) =>
                {
                    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    if left == Some(Duration::ZERO) {
                        return Err(Error::new(
                            ErrorKind::Timeout,
                            format!(
                                "reconnect to the manager at {}: no server came up in time ({})",
                                self.address,
                                e.message()
                            ),
                        ));
                    }
                    std::thread::sleep(left.map_or(pause, |l| l.min(pause)));
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The error every call returns once the connection is lost.
    fn lost(&self, cause: &str) -> Error {
        Error::new(
            ErrorKind::Eof,
            format!(
                "connection to the manager at {} lost ({cause}): the server closed it (stopped, crashed, restarted, \
                 or refused this client); a restarted server starts empty; reconnect and recreate what you need",
                self.address,
            ),
        )
    }

    /// Calls `method` on the object `name` of `kind` (created on first use).
    /// Server-side failures come back as their own kinds (`NotFound` for a
    /// missing key, `Index`, `Type`, `Unsupported`, ...) with the server's
    /// message.
    pub fn call(&self, kind: &str, name: &str, method: &str, args: Vec<Value>) -> Result<Value> {
        on_redis!(self, r => r.call(kind, name, method, &args).and_then(|b| decode_value_reply(&b)));
        if kind == "dict" && is_local_method(method) && args.len() <= 2 && self.local_reads.load(Ordering::Relaxed) {
            let enc: Vec<Vec<u8>> = args.iter().map(encode).collect();
            let items: Vec<Arg<'_>> = enc.iter().filter_map(|b| Some((&b[..], scan(b, MAX_DEPTH).ok()?))).collect();
            if items.len() == enc.len() {
                if let Some((r, _)) = self.local_read(name, method, &items, &mut Some(decode_value_reply)) {
                    return r;
                }
            }
        }
        let mut result = None;
        self.exchange(
            |tx, ends, first| {
                put_request(tx, first, kind, name, method, |tx| put_values(tx, &args));
                ends.push(tx.len());
                Ok(())
            },
            |_, _, r| result = Some(r.and_then(decode_value_reply)),
        )?;
        result.expect("one reply per request")
    }

    /// Calls `method` with arguments the caller has already encoded, and
    /// hands the result's bytes, as the server sent them, to `read` (whose
    /// return value or error is the call's). Nothing is decoded or
    /// re-encoded on the way: the request carries the caller's bytes, and
    /// one write sends it, one read (usually) takes the reply. The path of
    /// the C ABI.
    pub fn call_raw<T>(
        &self,
        kind: &str,
        name: &str,
        method: &str,
        args: RawArgs<'_>,
        read: impl FnOnce(&[u8]) -> Result<T>,
    ) -> Result<T> {
        if let RawArgs::Array(a) = args {
            if a.0.first().is_none_or(|b| b >> 5 != 4) {
                return Err(Error::new(ErrorKind::Invalid, "args must be a CBOR array"));
            }
        }
        on_redis!(self, r => {
            // A dict read of a plain key: sent as the caller's bytes.
            if let Some(got) = local_args(args).and_then(|(a, n)| r.dict_read(kind, name, method, &a[..n])) {
                return read(&got?);
            }
            read(&r.call(kind, name, method, &raw_values(args)?)?)
        });
        let mut read = Some(read);
        if kind == "dict" && is_local_method(method) && self.local_reads.load(Ordering::Relaxed) {
            if let Some((r, _)) = local_args(args).and_then(|(a, n)| self.local_read(name, method, &a[..n], &mut read))
            {
                return r;
            }
        }
        let mut result = None;
        self.exchange(
            |tx, ends, first| {
                put_request(tx, first, kind, name, method, |tx| match args {
                    RawArgs::Array(a) => tx.extend_from_slice(a.0),
                    RawArgs::Items(items) => {
                        head(tx, 4, items.len() as u64);
                        for it in items {
                            tx.extend_from_slice(it.0);
                        }
                    }
                });
                ends.push(tx.len());
                Ok(())
            },
            |_, _, r| result = read.take().map(|read| r.and_then(read)),
        )?;
        result.expect("one reply per request")
    }

    /// Like [`ManagerClient::call`] with the arguments already encoded as a
    /// CBOR array, returning the result encoded: the bytes the server sent
    /// (the C ABI's path; see [`ManagerClient::call_raw`]).
    pub fn call_encoded(&self, kind: &str, name: &str, method: &str, args_cbor: &[u8]) -> Result<Vec<u8>> {
        self.call_raw(kind, name, method, RawArgs::Array(Item::new(args_cbor)?), |r| Ok(r.to_vec()))
    }

    /// Like [`ManagerClient::pipeline`] with requests and results CBOR
    /// encoded (the C ABI's path): `reqs_cbor` is an array of
    /// `[kind, name, method, args]`; the result is an array of
    /// `[status, value_or_message]`, status 0 meaning success. Each
    /// request's fields are sent as the caller encoded them and each
    /// value comes back as the server sent it (checked well-formed, never
    /// decoded).
    pub fn pipeline_encoded(&self, reqs_cbor: &[u8]) -> Result<Vec<u8>> {
        on_redis!(self, r => redis_pipeline_encoded(r, reqs_cbor));
        let mut out = Vec::new();
        self.exchange(
            |tx, ends, first| {
                for_each_request(reqs_cbor, |fields| {
                    tx.push(0x85);
                    head(tx, 0, first + ends.len() as u64);
                    for f in fields {
                        tx.extend_from_slice(f);
                    }
                    ends.push(tx.len());
                })
            },
            |i, n, r| {
                if i == 0 {
                    head(&mut out, 4, n as u64);
                }
                out.push(0x82);
                match r {
                    Ok(v) => {
                        out.push(0x00);
                        out.extend_from_slice(v);
                    }
                    Err(e) => write_status_and_message(&mut out, &e),
                }
            },
        )?;
        if out.is_empty() {
            out.push(0x80); // no requests: an empty array
        }
        Ok(out)
    }

    /// Sends the requests before reading their replies (one syscall per
    /// 64 KiB window of requests, see `transfer`), then returns the results
    /// in order. The outer error is a transport failure, or
    /// [`ErrorKind::TooBig`] for a request over the server's limit (nothing
    /// sent, the connection kept); per-request failures are in the vector.
    pub fn pipeline(&self, reqs: Vec<(&str, &str, &str, Vec<Value>)>) -> Result<Vec<Result<Value>>> {
        on_redis!(self, r => {
            let reqs: Vec<(&str, &str, &str, &[Value])> = reqs.iter().map(|(k, n, m, a)| (*k, *n, *m, &a[..])).collect();
            Ok(r.pipeline(&reqs)?.into_iter().map(|b| b.and_then(|b| decode_value_reply(&b))).collect())
        });
        let mut results = Vec::with_capacity(reqs.len());
        self.exchange(
            |tx, ends, first| {
                for (i, (kind, name, method, args)) in reqs.iter().enumerate() {
                    put_request(tx, first + i as u64, kind, name, method, |tx| put_values(tx, args));
                    ends.push(tx.len());
                }
                Ok(())
            },
            |_, _, r| results.push(r.and_then(decode_value_reply)),
        )?;
        Ok(results)
    }

    /// Runs one exchange on the connection: `build` appends the request
    /// payloads to the (reused) send buffer, ids from the one it is given,
    /// and pushes where each ends; an error from it sends nothing. Then
    /// every reply's outcome goes to `on_reply(index, count, outcome)`, in
    /// order, the result as the bytes that arrived.
    ///
    /// The outer error is a transport failure (the connection is then
    /// dropped: no later reply could be trusted to match its request), a
    /// request over the server's limit ([`ErrorKind::TooBig`], nothing
    /// sent, the connection kept), or `build`'s.
    fn exchange(
        &self,
        build: impl FnOnce(&mut Vec<u8>, &mut Vec<usize>, u64) -> Result<()>,
        mut on_reply: impl FnMut(usize, usize, Result<&[u8]>),
    ) -> Result<()> {
        let mut guard = self.link();
        let link = &mut *guard;
        link.tx.clear();
        link.ends.clear();
        let first = link.next_id;
        if let Err(e) = build(&mut link.tx, &mut link.ends, first) {
            link.trim();
            return Err(e);
        }
        // The server would refuse a frame over its limit and close the
        // connection: say so here and keep the connection.
        let mut start = 0;
        for &end in &link.ends {
            let size = (end - start) as u64;
            if size > super::protocol::MAX_REQUEST {
                link.trim();
                return Err(Error::new(
                    ErrorKind::TooBig,
                    format!(
                        "a request of {size} bytes exceeds the manager's limit of {} bytes",
                        super::protocol::MAX_REQUEST
                    ),
                ));
            }
            start = end;
        }
        link.next_id += link.ends.len() as u64;
        let spin = self.spin_us.load(Ordering::Relaxed);
        let Some(conn) = &link.conn else {
            return Err(self.lost(&link.lost_cause));
        };
        if spin != link.applied_spin_us {
            conn.set_spin_us(spin);
            link.applied_spin_us = spin;
        }
        let done = Self::transfer(conn, first, &link.tx, &link.ends, &mut link.rx, &mut on_reply);
        link.trim();
        match done {
            Ok(()) => Ok(()),
            Err(e) => {
                // The stream is out of step or gone: no later reply can be
                // trusted to match its request. Drop it (closing the socket)
                // so every later call fails fast with the same story.
                self.drop_link(link, &e);
                Err(match e.kind() {
                    ErrorKind::Eof | ErrorKind::Io => self.lost(&link.lost_cause),
                    _ => e,
                })
            }
        }
    }

    /// Sends the payloads `tx[..ends[0]]`, `tx[ends[0]..ends[1]]`, ... (ids
    /// from `first`) and reads one reply per payload into `rx`.
    ///
    /// One request is one `send` (one syscall, nothing allocated). A batch
    /// goes out in windows of at most [`PIPELINE_WINDOW`] bytes, each
    /// window's replies read before the next is sent. Writing a huge batch
    /// before reading anything would deadlock: the server stops reading
    /// when its replies fill our socket buffer, and we would stop on a
    /// full send buffer, each waiting for the other.
    fn transfer(
        conn: &Connection,
        first: u64,
        tx: &[u8],
        ends: &[usize],
        rx: &mut Vec<u8>,
        on_reply: &mut impl FnMut(usize, usize, Result<&[u8]>),
    ) -> Result<()> {
        let count = ends.len();
        if count == 1 {
            conn.send_bytes(tx)?;
            return Self::read_reply(conn, first, rx, |r| on_reply(0, 1, r));
        }
        let payload = |i: usize| &tx[if i == 0 { 0 } else { ends[i - 1] }..ends[i]];
        let mut start = 0;
        while start < count {
            let base = if start == 0 { 0 } else { ends[start - 1] };
            let mut end = start + 1;
            while end < count && ends[end] - base <= PIPELINE_WINDOW {
                end += 1;
            }
            let window: Vec<&[u8]> = (start..end).map(payload).collect();
            conn.send_many(&window)?;
            for i in start..end {
                Self::read_reply(conn, first + i as u64, rx, |r| on_reply(i, count, r))?;
            }
            start = end;
        }
        Ok(())
    }

    /// Reads the reply to request `id` into `rx` (grown to fit) and hands
    /// its outcome to `on`: the result's bytes as they arrived, or the
    /// server's error. The error returned is the transport's or a reply
    /// out of step.
    fn read_reply(conn: &Connection, id: u64, rx: &mut Vec<u8>, on: impl FnOnce(Result<&[u8]>)) -> Result<()> {
        let n = loop {
            match conn.recv_into(rx, None) {
                Ok(n) => break n,
                // The reply stays queued: make room and take it.
                Err(e) if e.kind() == ErrorKind::BufSize => rx.resize(e.needed(), 0),
                Err(e) => return Err(e),
            }
        };
        let frame = &rx[..n];
        if frame.starts_with(b"#CHALLENGE#") {
            // The server authenticates and we came without a key: its
            // challenge arrived where a reply was expected.
            return Err(Error::new(
                ErrorKind::Auth,
                "the manager requires an authkey; connect with the server's authkey",
            ));
        }
        // Id 0 with an error: the server refused the stream itself (e.g. a
        // frame over its limit) and closed it.
        let out_of_step = |reply_id: u64, err: Option<Error>| match err {
            Some(e) if reply_id == 0 => e,
            _ => Error::new(ErrorKind::Corrupt, "manager reply out of order"),
        };
        if let Some(v) = ReplyView::parse(frame) {
            let outcome = if v.status == 0 { Ok(v.result) } else { Err(ReplyView::error(v.status, v.result)) };
            if v.id != id {
                return Err(out_of_step(v.id, outcome.err()));
            }
            on(outcome);
            return Ok(());
        }
        // Not the shape our server writes: the decoder accepts every other
        // well-formed one (and names what is wrong with a malformed one).
        let reply = Reply::decode(frame)?;
        if reply.id != id {
            return Err(out_of_step(reply.id, reply.result.err()));
        }
        match reply.result {
            Ok(v) => on(Ok(&encode_value(&v))),
            Err(e) => on(Err(e)),
        }
        Ok(())
    }
}

/// The arguments of a call as [`Arg`]s, when there are at most 2 (every
/// local method's most) in a definite-length array or as items.
fn local_args<'a>(args: RawArgs<'a>) -> Option<([Arg<'a>; 2], usize)> {
    let mut out = [(&[][..], Form::default()); 2];
    match args {
        RawArgs::Items(items) => {
            if items.len() > 2 {
                return None;
            }
            for (o, it) in out.iter_mut().zip(items) {
                *o = (it.0, it.1);
            }
            Some((out, items.len()))
        }
        RawArgs::Array(a) => {
            let a = a.0;
            let (4, Some(n), mut pos) = read_head(a, 0)? else { return None };
            if n > 2 {
                return None;
            }
            for o in out.iter_mut().take(n as usize) {
                // Depth 1: inside the args array (checked well-formed as a
                // whole by `Item::new`).
                let (end, form) = scan_item(a, pos, 1, MAX_DEPTH).ok()?;
                *o = (&a[pos..end], form);
                pos = end;
            }
            (pos == a.len()).then_some((out, n as usize))
        }
    }
}

/// Walks `reqs`, a CBOR array of `[kind, name, method, args]`, handing each
/// request's four items, as they are, to `each`: in one pass that checks
/// each item well-formed (as [`decode`](super::cbor::decode) with
/// [`MAX_DEPTH`] would, the whole array being the item) and of the right
/// type. On an error `each` may have seen the requests before it.
fn for_each_request<'r>(reqs: &'r [u8], mut each: impl FnMut([&'r [u8]; 4])) -> Result<()> {
    let bad = |m: &str| Error::new(ErrorKind::Invalid, format!("requests: {m}"));
    let shape = || bad("each request is [kind, name, method, args]");
    let mut walk = || -> Result<()> {
        let Some((4, count, mut pos)) = read_head(reqs, 0) else { return Err(bad("not an array")) };
        let mut seen = 0u64;
        loop {
            match count {
                Some(n) if seen == n => break,
                None if reqs.get(pos) == Some(&0xff) => {
                    pos += 1;
                    break;
                }
                _ => {}
            }
            let Some((4, n, mut p)) = read_head(reqs, pos) else { return Err(shape()) };
            if n.is_some_and(|n| n != 4) {
                return Err(shape());
            }
            let mut fields = [&reqs[..0]; 4];
            for (i, f) in fields.iter_mut().enumerate() {
                if n.is_none() && reqs.get(p) == Some(&0xff) {
                    return Err(shape());
                }
                // Depth 2: inside the array of requests and the request.
                let (end, _) = scan_item(reqs, p, 2, MAX_DEPTH)?;
                if reqs[p] >> 5 != if i < 3 { 3 } else { 4 } {
                    return Err(bad("each request is [kind, name, method, args] (text, text, text, array)"));
                }
                *f = &reqs[p..end];
                p = end;
            }
            if n.is_none() {
                if reqs.get(p) != Some(&0xff) {
                    return Err(shape());
                }
                p += 1;
            }
            each(fields);
            pos = p;
            seen += 1;
        }
        if pos != reqs.len() {
            return Err(bad("trailing bytes after the item"));
        }
        Ok(())
    };
    // Malformed CBOR anywhere is reported as such, before any complaint
    // about the shape (the decoder's order): the full scan runs only on
    // this error path.
    walk().map_err(|e| scan(reqs, MAX_DEPTH).err().unwrap_or(e))
}

/// The arguments of a raw call, decoded (the Redis path works on values).
#[cfg(feature = "redis")]
fn raw_values(args: RawArgs<'_>) -> Result<Vec<Value>> {
    match args {
        // The args array is one level below the request, as the server
        // counts it.
        RawArgs::Array(a) => match decode(a.0, MAX_DEPTH + 1)? {
            Value::Array(v) => Ok(v),
            _ => Err(Error::new(ErrorKind::Invalid, "args must be a CBOR array")),
        },
        RawArgs::Items(items) => items.iter().map(|it| decode(it.0, MAX_DEPTH)).collect(),
    }
}

/// [`ManagerClient::pipeline_encoded`] at a Redis address: every request
/// checked and decoded first (nothing is sent if one is malformed), run as
/// `RedisManager::pipeline` runs them, each result written as the
/// manager server's client writes it.
#[cfg(feature = "redis")]
fn redis_pipeline_encoded(r: &super::redis::RedisManager, reqs_cbor: &[u8]) -> Result<Vec<u8>> {
    let mut fields: Vec<[&[u8]; 4]> = Vec::new();
    for_each_request(reqs_cbor, |f| fields.push(f))?;
    let text = |b: &[u8]| -> Result<String> {
        match decode(b, MAX_DEPTH)? {
            Value::Text(t) => Ok(t),
            _ => Err(Error::new(ErrorKind::Invalid, "requests: kind, name and method are text")),
        }
    };
    let mut decoded: Vec<(String, String, String, Vec<Value>)> = Vec::with_capacity(fields.len());
    for [kind, name, method, args] in fields {
        let args = match decode(args, MAX_DEPTH + 1)? {
            Value::Array(a) => a,
            _ => return Err(Error::new(ErrorKind::Invalid, "requests: args must be an array")),
        };
        decoded.push((text(kind)?, text(name)?, text(method)?, args));
    }
    let reqs: Vec<(&str, &str, &str, &[Value])> =
        decoded.iter().map(|(k, n, m, a)| (k.as_str(), n.as_str(), m.as_str(), &a[..])).collect();
    let results = r.pipeline(&reqs)?;
    let mut out = Vec::new();
    head(&mut out, 4, results.len() as u64);
    for res in results {
        out.push(0x82);
        match res {
            Ok(v) => {
                out.push(0x00);
                out.extend_from_slice(&v);
            }
            Err(e) => write_status_and_message(&mut out, &e),
        }
    }
    Ok(out)
}

/// One CBOR item checked well-formed, to be sent as it is (see
/// [`ManagerClient::call_raw`]).
#[derive(Clone, Copy, Debug)]
pub struct Item<'a>(&'a [u8], Form);

impl<'a> Item<'a> {
    /// Checks `bytes` hold exactly one well-formed CBOR item, nested at
    /// most [`MAX_DEPTH`] deep, without allocating
    /// ([`scan`]): [`ErrorKind::Invalid`] ("invalid CBOR: ...") otherwise,
    /// for a truncated item, trailing bytes, nesting too deep, a declared
    /// length beyond the bytes present, invalid UTF-8, ...
    pub fn new(bytes: &'a [u8]) -> Result<Item<'a>> {
        Ok(Item(bytes, scan(bytes, MAX_DEPTH)?))
    }

    /// The item's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.0
    }
}

/// The arguments of [`ManagerClient::call_raw`], already encoded.
#[derive(Clone, Copy, Debug)]
pub enum RawArgs<'a> {
    /// One CBOR array holding them all (else [`ErrorKind::Invalid`],
    /// nothing sent).
    Array(Item<'a>),
    /// Each argument one item.
    Items(&'a [Item<'a>]),
}

/// Appends the request `[id, kind, name, method, args]`, `put_args`
/// appending the args array.
fn put_request(tx: &mut Vec<u8>, id: u64, kind: &str, name: &str, method: &str, put_args: impl FnOnce(&mut Vec<u8>)) {
    tx.push(0x85);
    head(tx, 0, id);
    for t in [kind, name, method] {
        head(tx, 3, t.len() as u64);
        tx.extend_from_slice(t.as_bytes());
    }
    put_args(tx);
}

/// Appends `args` as a CBOR array.
fn put_values(tx: &mut Vec<u8>, args: &[Value]) {
    head(tx, 4, args.len() as u64);
    for a in args {
        encode_into(a, tx);
    }
}

/// Appends `[status, message]`'s two items for a failure.
fn write_status_and_message(out: &mut Vec<u8>, e: &Error) {
    let code = e.kind().code() as i64;
    if code >= 0 {
        head(out, 0, code as u64);
    } else {
        head(out, 1, (-1 - code) as u64);
    }
    head(out, 3, e.message().len() as u64);
    out.extend_from_slice(e.message().as_bytes());
}

/// How often local reads check that the server is still there (see
/// `ManagerClient::server_gone`), in milliseconds.
const ALIVE_CHECK_MS: u64 = 10;

/// CLOCK_MONOTONIC_COARSE in milliseconds: a vDSO read of a few
/// nanoseconds, precise to a tick (1-4 ms), enough for a rate limit.
fn coarse_ms() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: writes into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// The largest reply to a `replica` request accepted (it is a 2-element
/// array of integers).
const MAX_REPLICA_REPLY: usize = 1 << 10;

/// The reply buffer's size to start with (and to go back to after a large
/// reply).
const RX_START: usize = 4096;

/// Send and reply buffers larger than this after a call are given back:
/// one huge call must not keep its memory for the connection's lifetime.
const KEEP_BUFFER: usize = 1 << 20;

/// The least time [`ManagerClient::reconnect`] gives a server that accepted
/// to complete the authkey handshake.
const HANDSHAKE_MIN: Duration = Duration::from_secs(1);

/// Bytes of requests a pipelined batch has in flight at most (see
/// `ManagerClient::exchange`): far below a socket buffer (~200 KiB on
/// Linux), so a window's send never waits for the server's replies to be
/// read; large enough that a window costs one round trip per hundreds of
/// requests.
const PIPELINE_WINDOW: usize = 64 << 10;
