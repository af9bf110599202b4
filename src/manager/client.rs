//! The manager client: one connection, calls by (kind, name, method, args).
//!
//! When the server goes away (stopped, crashed, restarted) the connection
//! is *lost*: the call that noticed fails with [`ErrorKind::Eof`] and a
//! message saying so, and so does every later call, at once, until
//! [`ManagerClient::reconnect`] dials the address again. Nothing is retried
//! behind the caller's back: a request whose reply never came may or may
//! not have been applied (an `incr` sent twice would count twice), and a
//! restarted server starts empty, so only the caller can decide what to do.

use super::protocol::{decode_value, encode_value, Reply, Request};
use crate::error::{Error, ErrorKind, Result};
use crate::pipe::{connect, Connection, ListenerOptions};
use ciborium::Value;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A connection to a manager. Thread-safe: calls from several threads are
/// serialised (each waits for its own reply); for throughput from one
/// thread, send many requests at once with [`ManagerClient::pipeline`].
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
}

impl ManagerClient {
    /// Connects (and authenticates, with an authkey) within `timeout`.
    pub fn connect(address: &str, opts: &ListenerOptions, timeout: Option<Duration>) -> Result<ManagerClient> {
        let conn = Self::dial(address, opts, timeout, super::server::SPIN_US)?;
        Ok(ManagerClient {
            address: address.to_owned(),
            opts: opts.clone(),
            spin_us: AtomicU32::new(super::server::SPIN_US),
            connected: AtomicBool::new(true),
            link: Mutex::new(Link {
                conn: Some(conn),
                next_id: 1,
                lost_cause: String::new(),
                applied_spin_us: super::server::SPIN_US,
            }),
        })
    }

    fn dial(address: &str, opts: &ListenerOptions, timeout: Option<Duration>, spin_us: u32) -> Result<Connection> {
        let conn = connect(address, opts, timeout)?;
        // The reply to a small request comes back within microseconds:
        // spin for it rather than pay a wake-up (see server::SPIN_US).
        conn.set_spin_us(spin_us);
        Ok(conn)
    }

    fn link(&self) -> MutexGuard<'_, Link> {
        // A panic while holding the lock cannot leave the link half
        // updated in a way that matters: at worst ids are ahead.
        self.link.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets how long a call busy-polls for its reply before sleeping
    /// (microseconds, 0 = never; default 50). Spinning trades CPU for
    /// latency; the budget shrinks by itself when replies are slow.
    ///
    /// Takes effect at the next call (never waits for a call in progress).
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
    /// Never waits for a call in progress.
    pub fn is_connected(&self) -> bool {
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
    pub fn reconnect(&self, timeout: Option<Duration>) -> Result<()> {
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
                    *link = Link { conn: Some(conn), next_id: 1, lost_cause: String::new(), applied_spin_us: spin };
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
        self.pipeline(vec![(kind, name, method, args)])?.pop().expect("one reply per request")
    }

    /// Like [`ManagerClient::call`] with the arguments already encoded as a
    /// CBOR array, returning the result encoded (the C ABI's path).
    pub fn call_encoded(&self, kind: &str, name: &str, method: &str, args_cbor: &[u8]) -> Result<Vec<u8>> {
        let args = match decode_value(args_cbor)? {
            Value::Array(a) => a,
            _ => return Err(Error::new(ErrorKind::Invalid, "args must be a CBOR array")),
        };
        Ok(encode_value(&self.call(kind, name, method, args)?))
    }

    /// Like [`ManagerClient::pipeline`] with requests and results CBOR
    /// encoded (the C ABI's path): `reqs_cbor` is an array of
    /// `[kind, name, method, args]`; the result is an array of
    /// `[status, value_or_message]`, status 0 meaning success.
    pub fn pipeline_encoded(&self, reqs_cbor: &[u8]) -> Result<Vec<u8>> {
        let bad = |m: &str| Error::new(ErrorKind::Invalid, format!("requests: {m}"));
        let Value::Array(items) = decode_value(reqs_cbor)? else { return Err(bad("not an array")) };
        let mut reqs = Vec::with_capacity(items.len());
        for it in items {
            let Value::Array(parts) = it else { return Err(bad("each request is [kind, name, method, args]")) };
            let [Value::Text(kind), Value::Text(name), Value::Text(method), Value::Array(args)]: [Value; 4] =
                parts.try_into().map_err(|_| bad("each request is [kind, name, method, args]"))?
            else {
                return Err(bad("each request is [kind, name, method, args] (text, text, text, array)"));
            };
            reqs.push((kind, name, method, args));
        }
        let results =
            self.pipeline(reqs.iter().map(|(k, n, m, a)| (k.as_str(), n.as_str(), m.as_str(), a.clone())).collect())?;
        Ok(encode_value(&Value::Array(
            results
                .into_iter()
                .map(|r| match r {
                    Ok(v) => Value::Array(vec![Value::Integer(0.into()), v]),
                    Err(e) => {
                        Value::Array(vec![Value::Integer(e.kind().code().into()), Value::Text(e.message().into())])
                    }
                })
                .collect(),
        )))
    }

    /// Sends the requests before reading their replies (one syscall per
    /// 64 KiB window of requests, see `exchange`), then returns the results
    /// in order. The outer error is a transport failure, or
    /// [`ErrorKind::TooBig`] for a request over the server's limit (nothing
    /// sent, the connection kept); per-request failures are in the vector.
    pub fn pipeline(&self, reqs: Vec<(&str, &str, &str, Vec<Value>)>) -> Result<Vec<Result<Value>>> {
        let mut link = self.link();
        let first = link.next_id;
        let frames: Vec<Vec<u8>> = reqs
            .into_iter()
            .enumerate()
            .map(|(i, (kind, name, method, args))| {
                Request { id: first + i as u64, kind: kind.into(), name: name.into(), method: method.into(), args }
                    .encode()
            })
            .collect();
        // The server would refuse a frame over its limit and close the
        // connection: say so here and keep the connection.
        if let Some(big) = frames.iter().find(|f| f.len() as u64 > super::server::MAX_REQUEST) {
            return Err(Error::new(
                ErrorKind::TooBig,
                format!(
                    "a request of {} bytes exceeds the manager's limit of {} bytes",
                    big.len(),
                    super::server::MAX_REQUEST
                ),
            ));
        }
        link.next_id += frames.len() as u64;
        let spin = self.spin_us.load(Ordering::Relaxed);
        let link = &mut *link;
        let Some(conn) = &link.conn else {
            return Err(self.lost(&link.lost_cause));
        };
        if spin != link.applied_spin_us {
            conn.set_spin_us(spin);
            link.applied_spin_us = spin;
        }
        match Self::exchange(conn, first, &frames) {
            Ok(results) => Ok(results),
            Err(e) => {
                // The stream is out of step or gone: no later reply can be
                // trusted to match its request. Drop it (closing the socket)
                // so every later call fails fast with the same story.
                link.conn = None;
                self.connected.store(false, Ordering::Relaxed);
                link.lost_cause = e.message().to_owned();
                Err(match e.kind() {
                    ErrorKind::Eof | ErrorKind::Io => self.lost(&link.lost_cause),
                    _ => e,
                })
            }
        }
    }

    /// Sends `frames` (ids from `first`) and reads one reply per frame.
    ///
    /// The frames go out in windows of at most [`PIPELINE_WINDOW`] bytes,
    /// each window's replies read before the next is sent. Writing a huge
    /// batch before reading anything would deadlock: the server stops
    /// reading when its replies fill our socket buffer, and we would stop
    /// on a full send buffer, each waiting for the other.
    fn exchange(conn: &Connection, first: u64, frames: &[Vec<u8>]) -> Result<Vec<Result<Value>>> {
        let mut results = Vec::with_capacity(frames.len());
        let mut start = 0;
        while start < frames.len() {
            let mut end = start + 1;
            let mut bytes = frames[start].len();
            while end < frames.len() && bytes + frames[end].len() <= PIPELINE_WINDOW {
                bytes += frames[end].len();
                end += 1;
            }
            conn.send_many(&frames[start..end])?;
            for i in start..end {
                results.push(Self::read_reply(conn, first + i as u64)?);
            }
            start = end;
        }
        Ok(results)
    }

    /// Reads the reply to request `id`.
    fn read_reply(conn: &Connection, id: u64) -> Result<Result<Value>> {
        let frame = conn.recv()?;
        if frame.starts_with(b"#CHALLENGE#") {
            // The server authenticates and we came without a key: its
            // challenge arrived where a reply was expected.
            return Err(Error::new(
                ErrorKind::Auth,
                "the manager requires an authkey; connect with the server's authkey",
            ));
        }
        let reply = Reply::decode(&frame)?;
        if reply.id != id {
            // Id 0 with an error: the server refused the stream itself
            // (e.g. a frame over its limit) and closed it.
            return Err(match reply.result {
                Err(e) if reply.id == 0 => e,
                _ => Error::new(ErrorKind::Corrupt, "manager reply out of order"),
            });
        }
        Ok(reply.result)
    }
}

/// The least time [`ManagerClient::reconnect`] gives a server that accepted
/// to complete the authkey handshake.
const HANDSHAKE_MIN: Duration = Duration::from_secs(1);

/// Bytes of requests a pipelined batch has in flight at most (see
/// `ManagerClient::exchange`): far below a socket buffer (~200 KiB on
/// Linux), so a window's send never waits for the server's replies to be
/// read; large enough that a window costs one round trip per hundreds of
/// requests.
const PIPELINE_WINDOW: usize = 64 << 10;
