//! The manager server: an accept thread and one thread per connection.
//!
//! A connection's requests are served in order (so a client may pipeline
//! many requests and read the replies in order); a request that blocks (a
//! lock acquire, an event wait) blocks only its own connection. When a
//! connection drops, every lock and semaphore it holds is released.

use super::cbor::encode_into;
use super::objects::{Args, CallCtx, ConnId, Kind, Registry};
use super::protocol::{start_ok_reply, write_err_reply, RawRequest, Reply, Request, MAX_REQUEST, SPIN_US};
use crate::error::{Error, ErrorKind, Result};
use crate::pipe::{Address, Connection, Listener, ListenerOptions};

use ciborium::Value;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub(crate) struct Shared {
    registry: Registry,
    /// Set once by shutdown; Relaxed everywhere: a flag polled by loops that
    /// also wake on other events, guarding no data.
    pub(crate) stopping: AtomicBool,
    /// Connection ids; Relaxed: only uniqueness matters, which fetch_add
    /// gives at any ordering.
    next_conn: AtomicU64,
    /// Live connections' descriptors, to unblock their reads at shutdown.
    /// A connection thread removes itself under this lock before its
    /// descriptor is closed, so shutdown never touches a closed fd.
    conns: Mutex<HashMap<ConnId, RawFd>>,
    /// Live connections, read before every receive to decide whether to
    /// spin (see `spin_budget`). Relaxed: a load estimate, guarding no data.
    live: AtomicUsize,
    /// Cores available to this process, measured once at start.
    cores: usize,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Frames received, for `stats`; Relaxed: a statistic read as a hint.
    pub(crate) requests: AtomicU64,
    /// Requests being served (between decode and reply sent); shutdown
    /// waits for them, so a call woken by the shutdown can still send its
    /// `Shutdown` reply before the sockets close. Relaxed is not enough for
    /// a count another thread waits on: SeqCst, simple and off the hot path
    /// relative to the syscalls around it.
    in_flight: AtomicU64,
}

impl Shared {
    pub(crate) fn new() -> Shared {
        Shared {
            registry: Registry::default(),
            stopping: AtomicBool::new(false),
            next_conn: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
            live: AtomicUsize::new(0),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            threads: Mutex::new(Vec::new()),
            requests: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
        }
    }

    /// How long a connection thread may spin for its next request: while
    /// there are no more connections than cores, [`SPIN_US`]; beyond that,
    /// 0. With hundreds of clients on a few cores, every spinning thread
    /// takes a core from one that has work (measured: 256 clients on 2
    /// cores served 10x fewer calls with spinning on).
    fn spin_budget(&self) -> u32 {
        if self.live.load(Ordering::Relaxed) <= self.cores {
            SPIN_US
        } else {
            0
        }
    }
}

impl Default for Shared {
    fn default() -> Shared {
        Shared::new()
    }
}

/// A running manager server. Dropping it shuts it down.
pub struct ManagerServer {
    shared: Arc<Shared>,
    address: Address,
    accept: Option<JoinHandle<()>>,
}

impl ManagerServer {
    /// Binds `address` (`unix:/path` by default practice, `tcp:host:port`
    /// with an authkey) and starts serving in background threads. A socket
    /// file left at the path by a server that was killed is replaced (see
    /// [`ListenerOptions::reclaim_stale_socket`]), so a crashed server can
    /// be restarted at once; a live server there is [`ErrorKind::Exists`].
    /// A Redis / Valkey address (`redis://...`) is [`ErrorKind::Invalid`]:
    /// that server runs on its own; clients connect to it directly.
    pub fn serve(address: &str, opts: &ListenerOptions) -> Result<ManagerServer> {
        if address.contains("://") {
            return Err(Error::new(
                ErrorKind::Invalid,
                "a Redis server is not served by mpipc: run the Redis / Valkey server itself and connect the \
                 clients to its address (docs/REDIS.md, \"Manager on Redis\")",
            ));
        }
        let opts = ListenerOptions { reclaim_stale_socket: true, ..opts.clone() };
        let listener = Listener::bind(address, &opts)?;
        let address = listener.address().clone();
        let shared = Arc::new(Shared::new());
        let s2 = shared.clone();
        let accept = std::thread::Builder::new()
            .name("mpipc-mgr-accept".into())
            .spawn(move || accept_loop(listener, s2))
            .map_err(|e| Error::from_io("spawn accept thread", e))?;
        Ok(ManagerServer { shared, address, accept: Some(accept) })
    }

    /// The bound address (with the real port for `tcp:...:0`).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The objects (tests reach a dict's replica through it).
    #[cfg(test)]
    pub(crate) fn registry(&self) -> &Registry {
        &self.shared.registry
    }

    /// Stops accepting, disconnects every client (blocked calls return
    /// `Shutdown`), waits for the server threads, and drops all objects.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
        // Wake blocked calls first and let them answer `Shutdown` ...
        for o in self.shared.registry.all() {
            // Clients reading a dict's replica go back to the RPC, which
            // then tells them the connection is gone.
            o.retire_replica();
            o.wake_all();
        }
        let t0 = std::time::Instant::now();
        while self.shared.in_flight.load(Ordering::SeqCst) > 0 && t0.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(2));
        }
        // ... then end every connection's stream to unblock its reader.
        for &fd in self.shared.conns.lock().values() {
            // SAFETY: fd belongs to a live connection (see `conns`);
            // shutdown(2) only ends its stream, the owner closes it.
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
        let threads = std::mem::take(&mut *self.shared.threads.lock());
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for ManagerServer {
    fn drop(&mut self) {
        if self.accept.is_some() {
            self.stop();
        }
    }
}

/// The stack of a connection thread (requests are decoded, served and
/// encoded on it, so nesting limits must fit it): 1 MiB, in every build.
/// 256 KiB was enough for an optimised build at the nesting limit but not
/// for an unoptimised one under AddressSanitizer, and a stack overflow
/// aborts the whole server; what a thread does not touch costs only
/// address space, so the margin is cheap and the tested size is the
/// shipped one.
pub(crate) const CONN_STACK: usize = 1024 * 1024;

fn accept_loop(listener: Listener, shared: Arc<Shared>) {
    let listener = Arc::new(listener);
    while !shared.stopping.load(Ordering::Relaxed) {
        match listener.accept_unauthenticated(Some(Duration::from_millis(100))) {
            Ok(conn) => {
                let id = shared.next_conn.fetch_add(1, Ordering::Relaxed) + 1;
                conn.set_max_frame(MAX_REQUEST);
                // A busy client sends its next request within microseconds
                // of a reply: catching it spinning saves a wake-up (tens of
                // µs here). Idle connections' budgets decay to ~3 µs.
                conn.set_spin_us(SPIN_US);
                shared.conns.lock().insert(id, conn.fileno());
                shared.live.fetch_add(1, Ordering::Relaxed);
                let (s2, l2) = (shared.clone(), listener.clone());
                let spawned = std::thread::Builder::new()
                    .name(format!("mpipc-mgr-conn-{id}"))
                    .stack_size(CONN_STACK)
                    .spawn(move || {
                        // Authenticate on this thread: a slow or silent peer
                        // holds up only itself, for at most HANDSHAKE_TIMEOUT.
                        let guard = ConnGuard { id, shared: &s2 };
                        match l2.authenticate(&conn, crate::pipe::HANDSHAKE_TIMEOUT) {
                            Ok(()) => serve_connection(id, &conn, &s2),
                            Err(e) => {
                                // A peer refused for who it is (another
                                // user, no key) learns why, as a reply with
                                // id 0, rather than from a bare EOF.
                                if e.kind() == ErrorKind::Permission {
                                    let _ = conn.send_bytes(&Reply { id: 0, result: Err(e.clone()) }.encode());
                                }
                                // A peer that hangs up before the handshake
                                // is done (EOF, EPIPE, ECONNRESET: all Eof)
                                // was refused by nobody: it is a probe, such
                                // as another `serve` checking whether this
                                // address is live (issue 20, item 6), or a
                                // client that gave up, and it has its own
                                // error. Only real refusals are logged.
                                if e.kind() != ErrorKind::Eof {
                                    eprintln!("mpipc manager: connection refused: {e}");
                                }
                            }
                        }
                        drop(guard);
                        drop(conn);
                    });
                let mut threads = shared.threads.lock();
                // Forget the threads of connections that ended.
                threads.retain(|t| !t.is_finished());
                match spawned {
                    Ok(t) => threads.push(t),
                    Err(e) => {
                        shared.conns.lock().remove(&id);
                        shared.live.fetch_sub(1, Ordering::Relaxed);
                        eprintln!("mpipc manager: cannot start a connection thread: {e}");
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::Timeout => {}
            // A transient accept error: log it and keep serving everyone else.
            Err(e) => eprintln!("mpipc manager: accept failed: {e}"),
        }
    }
}

/// Cleans up after a connection however its thread ends (even by a panic):
/// forgets its descriptor before the descriptor is closed, and releases
/// whatever it held.
struct ConnGuard<'a> {
    id: ConnId,
    shared: &'a Shared,
}

impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        self.shared.conns.lock().remove(&self.id);
        self.shared.live.fetch_sub(1, Ordering::Relaxed);
        for o in self.shared.registry.all() {
            o.release_owner(self.id);
        }
    }
}

pub(crate) fn serve_connection(id: ConnId, conn: &Connection, shared: &Shared) {
    let ctx = CallCtx {
        conn: id,
        stopping: &shared.stopping,
        local: crate::pipe::fdpass::is_unix_socket(conn.fileno()),
        pass_fd: std::cell::Cell::new(None),
    };
    // Reused by every request: a request is read into `rx`, its reply
    // written to `out` (replies back to back, `ends` marking where each
    // ends), so serving a dict call allocates nothing but what it stores.
    let mut rx = vec![0u8; RX_START];
    let mut out: Vec<u8> = Vec::new();
    let mut ends: Vec<usize> = Vec::new();
    let mut spin = SPIN_US; // as set at accept
    loop {
        // Only on a change: setting the budget resets its adaptation.
        let want = shared.spin_budget();
        if want != spin {
            conn.set_spin_us(want);
            spin = want;
        }
        let n = match recv_frame(conn, &mut rx) {
            Ok(n) => n,
            Err(e) => {
                if matches!(e.kind(), ErrorKind::TooBig | ErrorKind::Corrupt) {
                    // The stream cannot be resynchronised: say why
                    // (request id 0), then close this connection only.
                    write_err_reply(&mut out, 0, &e);
                    ends.push(out.len());
                }
                // Answer what was served first, whatever ended the stream:
                // replies are held back while request bytes are buffered,
                // and those bytes may be a frame that never completes (a
                // client that half-closes after a partial frame still
                // reads the replies to the requests before it).
                if !ends.is_empty() {
                    let _ = send_replies(conn, &out, &ends);
                }
                if e.kind() != ErrorKind::Eof && !shared.stopping.load(Ordering::Relaxed) {
                    eprintln!("mpipc manager: connection {id} dropped: {e}");
                }
                break;
            }
        };
        shared.requests.fetch_add(1, Ordering::Relaxed);
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let mark = out.len();
        serve_frame(shared, &rx[..n], &ctx, &mut out);
        if let Some(fd) = ctx.pass_fd.take() {
            // A reply that carries a descriptor (a dict's replica): the
            // replies before it go out first, then it alone, with the
            // descriptor on its first byte (src/pipe/fdpass.rs).
            let sent_ok = (ends.is_empty() || send_replies(conn, &out[..mark], &ends).is_ok())
                && crate::pipe::fdpass::send_frame_with_fd(conn.fileno(), &out[mark..], fd.as_raw_fd()).is_ok();
            drop(fd);
            out.clear();
            ends.clear();
            shared.in_flight.fetch_sub(1, Ordering::SeqCst);
            if !sent_ok {
                break;
            }
            continue;
        }
        ends.push(out.len());
        // Pipelined requests arrive many per read: answer them with one
        // write once the buffered ones are done, not one write each.
        let mut sent_ok = true;
        if !conn.has_buffered().unwrap_or(false) || ends.len() >= 256 {
            sent_ok = send_replies(conn, &out, &ends).is_ok();
            out.clear();
            ends.clear();
            if out.capacity() > KEEP_BUFFER {
                out = Vec::new();
            }
            if rx.len() > KEEP_BUFFER {
                rx = vec![0; RX_START];
            }
        }
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        if !sent_ok {
            break;
        }
    }
}

/// The request buffer's size to start with (and to go back to after a
/// large request).
const RX_START: usize = 4096;

/// Buffers larger than this are given back once their request is served:
/// one huge request must not keep its memory for the connection's life.
const KEEP_BUFFER: usize = 1 << 20;

/// Receives the next frame into `rx`, growing it to fit (the connection's
/// `max_frame`, [`MAX_REQUEST`], bounds it); returns its length.
fn recv_frame(conn: &Connection, rx: &mut Vec<u8>) -> Result<usize> {
    loop {
        match conn.recv_into(rx, None) {
            Ok(n) => return Ok(n),
            // The frame stays queued: make room and take it.
            Err(e) if e.kind() == ErrorKind::BufSize => rx.resize(e.needed(), 0),
            Err(e) => return Err(e),
        }
    }
}

/// Sends the replies `out[..ends[0]]`, `out[ends[0]..ends[1]]`, ...: one
/// write (a single reply allocates nothing).
fn send_replies(conn: &Connection, out: &[u8], ends: &[usize]) -> Result<()> {
    if let [end] = ends {
        return conn.send_bytes(&out[..*end]);
    }
    let parts: Vec<&[u8]> =
        ends.iter().enumerate().map(|(i, &end)| &out[if i == 0 { 0 } else { ends[i - 1] }..end]).collect();
    conn.send_many(&parts)
}

/// Serves one request frame, appending its reply to `out`. A frame of the
/// usual shape is served in place ([`RawRequest`]); any other is decoded,
/// which serves every other well-formed request and gives a malformed one
/// its error reply.
fn serve_frame(shared: &Shared, frame: &[u8], ctx: &CallCtx, out: &mut Vec<u8>) {
    let mark = out.len();
    let (id, served) = match RawRequest::parse(frame) {
        Some(req) => {
            start_ok_reply(out, req.id);
            (req.id, dispatch(shared, req.kind, req.name, req.method, Args::Raw(req.args()), ctx, out))
        }
        None => match Request::decode(frame) {
            Ok(req) => {
                start_ok_reply(out, req.id);
                (req.id, dispatch(shared, &req.kind, &req.name, &req.method, Args::Values(&req.args), ctx, out))
            }
            Err((id, e)) => (id.unwrap_or(0), Err(e)),
        },
    };
    if let Err(e) = served {
        out.truncate(mark);
        write_err_reply(out, id, &e);
    }
}

fn dispatch(
    shared: &Shared,
    kind: &str,
    name: &str,
    method: &str,
    args: Args<'_>,
    ctx: &CallCtx,
    out: &mut Vec<u8>,
) -> Result<()> {
    if kind == "manager" {
        encode_into(&manager_call(shared, name, method)?, out);
        return Ok(());
    }
    let kind = Kind::parse(kind)?;
    if method == "create" {
        let (_, created) = shared.registry.get_or_create(kind, name, &args.values()?)?;
        out.push(if created { 0xf5 } else { 0xf4 });
        return Ok(());
    }
    let (obj, _) = shared.registry.get_or_create(kind, name, &[])?;
    obj.call_into(method, args, ctx, out)
}

fn manager_call(shared: &Shared, name: &str, method: &str) -> Result<Value> {
    match method {
        "ping" => Ok(Value::Null),
        "delete" => Ok(Value::Bool(shared.registry.delete(name))),
        "list" => Ok(Value::Array(
            shared
                .registry
                .list()
                .into_iter()
                .map(|(n, k)| Value::Array(vec![Value::Text(n), Value::Text(k.name().into())]))
                .collect(),
        )),
        "stats" => Ok(Value::Map(vec![
            (Value::Text("objects".into()), Value::Integer(shared.registry.list().len().into())),
            (Value::Text("connections".into()), Value::Integer(shared.conns.lock().len().into())),
            (Value::Text("requests".into()), Value::Integer(shared.requests.load(Ordering::Relaxed).into())),
        ])),
        m => Err(Error::new(ErrorKind::Unsupported, format!("manager has no method {m:?}"))),
    }
}
