//! The manager client: one connection, calls by (kind, name, method, args).
//!
//! When the server goes away (stopped, crashed, restarted) the connection
//! is *lost*: the call that noticed fails with [`ErrorKind::Eof`] and a
//! message saying so, and so does every later call, at once, until
//! [`ManagerClient::reconnect`] dials the address again. Nothing is retried
//! behind the caller's back: a request whose reply never came may or may
//! not have been applied (an `incr` sent twice would count twice), and a
//! restarted server starts empty, so only the caller can decide what to do.

use super::cbor::{encode_into, head, read_head, scan, scan_item};
use super::protocol::{decode_value_reply, encode_value, Reply, ReplyView, MAX_DEPTH};
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
            link: Mutex::new(Link::new(conn, super::server::SPIN_US)),
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
                    *link = Link::new(conn, spin);
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
        let (mut result, mut read) = (None, Some(read));
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
            if size > super::server::MAX_REQUEST {
                link.trim();
                return Err(Error::new(
                    ErrorKind::TooBig,
                    format!(
                        "a request of {size} bytes exceeds the manager's limit of {} bytes",
                        super::server::MAX_REQUEST
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
            conn.send(tx)?;
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

/// Walks `reqs`, a CBOR array of `[kind, name, method, args]`, handing each
/// request's four items, as they are, to `each`: in one pass that checks
/// each item well-formed (as [`decode`](super::cbor::decode) with
/// [`MAX_DEPTH`] would, the whole array being the item) and of the right
/// type. On an error `each` may have seen the requests before it.
fn for_each_request(reqs: &[u8], mut each: impl FnMut([&[u8]; 4])) -> Result<()> {
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

/// One CBOR item checked well-formed, to be sent as it is (see
/// [`ManagerClient::call_raw`]).
#[derive(Clone, Copy, Debug)]
pub struct Item<'a>(&'a [u8]);

impl<'a> Item<'a> {
    /// Checks `bytes` hold exactly one well-formed CBOR item, nested at
    /// most [`MAX_DEPTH`] deep, without allocating
    /// ([`scan`]): [`ErrorKind::Invalid`] ("invalid CBOR: ...") otherwise,
    /// for a truncated item, trailing bytes, nesting too deep, a declared
    /// length beyond the bytes present, invalid UTF-8, ...
    pub fn new(bytes: &'a [u8]) -> Result<Item<'a>> {
        scan(bytes, MAX_DEPTH)?;
        Ok(Item(bytes))
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
