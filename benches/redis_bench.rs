//! Issue 22's benchmarks of the Redis / Valkey backend through the C ABI
//! (`mpq_*` on a queue at a Redis address, `mp_mgr_*` on a manager at one,
//! exactly as a C program calls them), beside a hand-written program doing
//! the same with the plain `redis` crate (the synchronous client the library
//! itself uses, same features) and beside the local shared-memory path of
//! the same shapes (a named queue; the local manager server).
//!
//! `cargo bench --bench redis_bench -- --tcp HOST:PORT --unix SOCKET
//! [--quick] [--repeat N] [--only PREFIX[,PREFIX]] [--transports
//! tcp,unix,shm] [--round R]` prints ONE JSON object: every figure's median
//! over N rounds (default 5, `--quick` 1) and each round's value.
//! benches/run.sh runs it with `--repeat 1` once per round of its own, quiet
//! and beside busy loops, the Python programs' rounds interleaved with it,
//! and benches/report.py takes the medians. It needs a running server
//! (benches/run.sh starts one with `scripts/redis-server.sh start DIR --
//! --appendonly no`: no write is fsynced). Round R (`--round` gives the
//! first) rotates the order in which the sides of each workload run, so
//! that a drift of the machine's load hits every side alike.
//!
//! Messages: 100 bytes. Transports: `tcp` (loopback), `unix` (the server's
//! unix socket), `shm` (mpipc's local path; no plain-client side). Sides:
//! - `mpipc`: the queue at `redis://HOST:PORT/NAME` or
//!   `redis+unix:///SOCKET/NAME` (at-most-once, unbounded), the manager at
//!   `redis://HOST:PORT` / `redis+unix:///SOCKET`; on `shm` the local queue
//!   `NAME` and a local manager server (`mp_mgr_serve`, a unix socket;
//!   dict reads come from its replica in shared memory);
//! - `plain`: `RPUSH` / `BLPOP` (batched: one `RPUSH` of 256 values /
//!   `BLMPOP ... COUNT 256`), `HGET`, `HINCRBY`;
//! - `counted`: what mpipc's put does in one round trip, by hand: `RPUSH`
//!   and `HINCRBY` of an unfinished-task counter, pipelined (mpipc's put is
//!   one `FCALL` that also checks shutdown and maxsize); gets as `plain`.
//!
//! Workloads (names for `--only`; figures in the JSON as
//! `WORKLOAD/TRANSPORT/SIDE`):
//! - `q_put_rtt`, `q_get_rtt` (both run by `q_rtt`): one process, one call
//!   at a time: a put of one message (mpipc `mpq_put`; plain `RPUSH`;
//!   counted `RPUSH`+`HINCRBY`), a get of one message that is there
//!   (`mpq_get_into`; `BLPOP`). Blocks of 500 puts then 500 gets per side,
//!   the sides taking turns block by block; the first block of each side is
//!   warm-up. Median and p99 of every call's time (µs). Every other get of
//!   the mpipc side is an `mpq_get` (the library allocates the message):
//!   `q_get_alloc_rtt` (its plain figure is the `BLPOP` of `q_get_rtt`).
//! - `q_1x1_single`, `q_2x2_single`: 1 producer -> 1 consumer, 2 producers
//!   -> 2 consumers, separate processes (this binary re-executed), one
//!   message per call; msg/s.
//! - `q_1x1_batch`, `q_2x2_batch`: the same with `mpq_put_many` /
//!   `mpq_get_many` of 256 (plain: one `RPUSH` of 256 values, `BLMPOP
//!   COUNT 256`); msg/s.
//! - `d_get_rtt`: one process, the round trip of a dict get of a 100-byte
//!   value (`mp_mgr_dict_get_into`; plain `HGET` of the same CBOR bytes),
//!   timed as `q_rtt`; median and p99 (µs).
//! - `d_incr_2`: 2 client processes, each `mp_mgr_dict_incr` (plain
//!   `HINCRBY`) of one shared key N times; ops/s in all; the final count is
//!   checked.
//!
//! Throughput timing: the parent starts the clock when it releases the
//! children (all connected and waiting) and stops it when every consumer
//! has reported; the messages received are counted against those sent.
//! The mpipc consumers stop on the queue's shutdown (after the drain); the
//! plain ones on an empty end marker that the parent pushes once the
//! producers are done.

mod common;
use common::median;

use ciborium::Value;
use mpipc::manager::protocol::encode_value;
use mpipc::{Queue, QueueOptions};
use mpipc_ffi::bytes::{mp_buf, mp_buf_free};
use mpipc_ffi::manager::*;
use mpipc_ffi::manager_server::*;
use mpipc_ffi::queue::*;
use mpipc_ffi::status::*;
use redis::{Connection, ConnectionAddr, ConnectionInfo, RedisConnectionInfo};
use std::ffi::{CStr, CString};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Bytes per message (the figures of docs/notes/issue22-redis-design.md §4
/// used the same).
const MSG: usize = 100;
/// Messages per batched call.
const BATCH: usize = 256;
/// Calls per block of the round-trip workloads.
const BLOCK: usize = 500;
/// How long a blocked plain pop waits on the server before asking again
/// (seconds): an end marker always comes, this only bounds one command.
const POP_WAIT: &str = "5";

/// The workloads, in the order they run (`--only` matches prefixes).
const WORKLOADS: [&str; 7] =
    ["q_rtt", "q_1x1_single", "q_2x2_single", "q_1x1_batch", "q_2x2_batch", "d_get_rtt", "d_incr_2"];

fn arg(args: &[String], name: &str) -> Option<String> {
    args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone())
}

fn need(args: &[String], name: &str) -> String {
    arg(args, name).unwrap_or_else(|| {
        eprintln!("redis_bench: {name} is required");
        std::process::exit(2)
    })
}

fn num(args: &[String], name: &str) -> usize {
    need(args, name).parse().unwrap_or_else(|_| panic!("{name} takes a number"))
}

/// The library's message for the last failed call of this thread.
fn last_error() -> String {
    // SAFETY: mp_last_error returns a NUL-terminated string owned by the
    // library, valid until the next call on this thread.
    unsafe { CStr::from_ptr(mpipc_ffi::status_text::mp_last_error()) }.to_string_lossy().into_owned()
}

/// Panics with the status and the library's message unless `rc` is MP_OK.
fn ok(rc: mp_status, what: &str) {
    assert_eq!(rc, MP_OK, "{what}: status {rc}: {}", last_error());
}

/// Where the server is, as the command line gave it.
#[derive(Clone)]
struct Server {
    /// `HOST:PORT`.
    tcp: String,
    /// The unix socket's path.
    unix: String,
}

impl Server {
    /// The address of queue `name` at `transport` (`shm`: the local name).
    fn queue(&self, transport: &str, name: &str) -> String {
        match transport {
            "tcp" => format!("redis://{}/{name}", self.tcp),
            "unix" => format!("redis+unix://{}/{name}", self.unix),
            _ => name.to_owned(),
        }
    }

    /// The manager address at `transport` (not `shm`: that one is served
    /// by this process, see `Local`).
    fn manager(&self, transport: &str) -> String {
        match transport {
            "tcp" => format!("redis://{}", self.tcp),
            "unix" => format!("redis+unix://{}", self.unix),
            t => panic!("no Redis manager on {t}"),
        }
    }

    /// The plain client's server spec for a child's command line.
    fn plain(&self, transport: &str) -> String {
        match transport {
            "tcp" => format!("tcp:{}", self.tcp),
            "unix" => format!("unix:{}", self.unix),
            t => panic!("no plain client on {t}"),
        }
    }
}

/// A plain connection to `spec` (`tcp:HOST:PORT` or `unix:PATH`).
fn plain_conn(spec: &str) -> Connection {
    let addr = if let Some(p) = spec.strip_prefix("unix:") {
        ConnectionAddr::Unix(p.into())
    } else {
        let hp = spec.strip_prefix("tcp:").expect("tcp:HOST:PORT or unix:PATH");
        let (h, p) = hp.rsplit_once(':').expect("HOST:PORT");
        ConnectionAddr::Tcp(h.to_owned(), p.parse().expect("port"))
    };
    let info = ConnectionInfo { addr, redis: RedisConnectionInfo::default() };
    let c = redis::Client::open(info).expect("client");
    c.get_connection_with_timeout(Duration::from_secs(10)).expect("connect to the Redis server")
}

/// An open mpipc queue (the C ABI handle), closed on drop.
struct Mq(*mut mpq);

impl Mq {
    fn open(addr: &str) -> Mq {
        let name = CString::new(addr).unwrap();
        let mut q = std::ptr::null_mut();
        // SAFETY: valid NUL-terminated name, default options, valid out.
        ok(unsafe { mpq_open(name.as_ptr(), std::ptr::null(), &mut q) }, addr);
        Mq(q)
    }

    fn put(&self, m: &[u8]) {
        // SAFETY: live handle; m is valid for its length.
        ok(unsafe { mpq_put(self.0, m.as_ptr(), m.len()) }, "mpq_put");
    }

    /// One message into `buf`; its length, or None once shut down and drained.
    fn get_into(&self, buf: &mut [u8]) -> Option<usize> {
        let mut n = 0;
        // SAFETY: live handle; buf has buf.len() writable bytes.
        match unsafe { mpq_get_into(self.0, buf.as_mut_ptr(), buf.len(), &mut n, -1) } {
            MP_OK => Some(n),
            MP_E_SHUTDOWN => None,
            rc => panic!("mpq_get_into: status {rc}: {}", last_error()),
        }
    }

    /// One message through `mpq_get` (the library allocates it); its length.
    fn get_alloc(&self) -> usize {
        let mut b = mp_buf { ptr: std::ptr::null_mut(), len: 0 };
        // SAFETY: live handle; b is a valid out-parameter, freed below.
        ok(unsafe { mpq_get(self.0, &mut b) }, "mpq_get");
        let n = b.len;
        // SAFETY: the buffer mpq_get filled, freed once.
        unsafe { mp_buf_free(&mut b) };
        n
    }

    fn shutdown(&self) {
        // SAFETY: live handle.
        ok(unsafe { mpq_shutdown(self.0, false) }, "mpq_shutdown");
    }
}

impl Drop for Mq {
    fn drop(&mut self) {
        // SAFETY: our handle, closed once.
        unsafe { mpq_close(self.0) }
    }
}

fn unlink(addr: &str) {
    let name = CString::new(addr).unwrap();
    // SAFETY: valid NUL-terminated name. Not found is fine (never created).
    unsafe { mpq_unlink(name.as_ptr()) };
}

/// A manager connection (the C ABI handle), closed on drop.
struct Mgr(*mut mp_mgr);

impl Mgr {
    fn connect(addr: &str) -> Mgr {
        let a = CString::new(addr).unwrap();
        let mut m = std::ptr::null_mut();
        // SAFETY: valid arguments, no authkey.
        ok(unsafe { mp_mgr_connect(a.as_ptr(), std::ptr::null(), 0, 10_000, &mut m) }, addr);
        Mgr(m)
    }

    fn set(&self, dict: &CStr, k: &[u8], v: &[u8]) {
        // SAFETY: live handle; buffers valid for their lengths.
        ok(unsafe { mp_mgr_dict_set(self.0, dict.as_ptr(), k.as_ptr(), k.len(), v.as_ptr(), v.len()) }, "dict set");
    }

    /// The value's length, read into `buf`.
    fn get_into(&self, dict: &CStr, k: &[u8], buf: &mut [u8]) -> usize {
        let mut n = 0;
        // SAFETY: live handle; buffers valid; version not wanted.
        let rc = unsafe {
            mp_mgr_dict_get_into(
                self.0,
                dict.as_ptr(),
                k.as_ptr(),
                k.len(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut n,
                std::ptr::null_mut(),
            )
        };
        ok(rc, "dict get_into");
        n
    }

    fn incr(&self, dict: &CStr, k: &[u8], delta: i64) -> i64 {
        let mut out = 0;
        // SAFETY: live handle; key valid for its length.
        ok(unsafe { mp_mgr_dict_incr(self.0, dict.as_ptr(), k.as_ptr(), k.len(), delta, &mut out) }, "dict incr");
        out
    }
}

impl Drop for Mgr {
    fn drop(&mut self) {
        // SAFETY: our handle, closed once.
        unsafe { mp_mgr_close(self.0) }
    }
}

/// The local manager server of the `shm` side, served by threads of this
/// process for the whole run (its clients are re-executed children, never
/// forked, so the threads are no hazard), shut down on drop.
struct Local {
    server: *mut mp_mgr_server,
    addr: String,
}

impl Local {
    fn start() -> Local {
        let addr = format!("unix:@mpipc-bench-redis-{}", std::process::id());
        let a = CString::new(addr.clone()).unwrap();
        let mut s = std::ptr::null_mut();
        // SAFETY: valid arguments, no authkey.
        ok(unsafe { mp_mgr_serve(a.as_ptr(), std::ptr::null(), 0, &mut s) }, "mp_mgr_serve");
        Local { server: s, addr }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        // SAFETY: our server handle, shut down once.
        unsafe { mp_mgr_server_shutdown(self.server) };
    }
}

// ---------------------------------------------------------------------------
// Children: announce readiness on a local control queue, wait for "go",
// work, report.

/// Children announce readiness on `<ctl>` and wait for one "go" on `<ctl>-go`.
fn handshake(ctl: &str) -> Queue {
    let c = Queue::open(ctl, &QueueOptions::default()).expect("ctl");
    c.put_bytes(b"ready").expect("ready");
    let go = Queue::open(&format!("{ctl}-go"), &QueueOptions::default()).expect("go");
    go.get_bytes().expect("go");
    c
}

/// `producer --side S --target T --ctl C --n N --batch B`: N messages.
fn producer(args: &[String]) {
    let (side, target) = (need(args, "--side"), need(args, "--target"));
    let (n, batch) = (num(args, "--n"), num(args, "--batch"));
    let msg = vec![7u8; MSG];
    let mut sent = 0;
    if side == "mpipc" {
        let q = Mq::open(&target);
        let ctl = handshake(&need(args, "--ctl"));
        if batch <= 1 {
            while sent < n {
                q.put(&msg);
                sent += 1;
            }
        } else {
            let data = msg.repeat(batch);
            let lens = vec![MSG; batch];
            while sent < n {
                let k = (n - sent).min(batch);
                let mut put = 0;
                // SAFETY: live handle; data holds k messages of the lengths in lens.
                ok(unsafe { mpq_put_many(q.0, data.as_ptr(), lens.as_ptr(), k, -1, &mut put) }, "mpq_put_many");
                sent += put;
            }
        }
        ctl.put_bytes(format!("sent {sent}").as_bytes()).expect("report");
    } else {
        let key = need(args, "--key");
        let counter = format!("{key}:meta");
        let mut c = plain_conn(&target);
        let ctl = handshake(&need(args, "--ctl"));
        let counted = side == "counted";
        while sent < n {
            let k = (n - sent).min(batch.max(1));
            let mut push = redis::cmd("RPUSH");
            push.arg(&key);
            for _ in 0..k {
                push.arg(&msg[..]);
            }
            if counted {
                let _: () = redis::pipe()
                    .add_command(push)
                    .ignore()
                    .cmd("HINCRBY")
                    .arg(&counter)
                    .arg("unfinished")
                    .arg(k)
                    .ignore()
                    .query(&mut c)
                    .expect("RPUSH + HINCRBY");
            } else {
                let _: i64 = push.query(&mut c).expect("RPUSH");
            }
            sent += k;
        }
        ctl.put_bytes(format!("sent {sent}").as_bytes()).expect("report");
    }
}

/// `consumer --side S --target T --ctl C --batch B`: until the end.
fn consumer(args: &[String]) {
    let (side, target) = (need(args, "--side"), need(args, "--target"));
    let batch = num(args, "--batch");
    let mut got = 0usize;
    let mut bytes = 0usize;
    if side == "mpipc" {
        let q = Mq::open(&target);
        let ctl = handshake(&need(args, "--ctl"));
        if batch <= 1 {
            let mut buf = vec![0u8; MSG];
            while let Some(n) = q.get_into(&mut buf) {
                got += 1;
                bytes += n;
            }
        } else {
            let mut buf = vec![0u8; MSG * batch];
            let mut lens = vec![0usize; batch];
            loop {
                let (mut k, mut b) = (0, 0);
                // SAFETY: live handle; buf and lens hold what we pass.
                let rc = unsafe {
                    mpq_get_many(q.0, buf.as_mut_ptr(), buf.len(), lens.as_mut_ptr(), batch, -1, &mut k, &mut b)
                };
                match rc {
                    MP_OK => {
                        got += k;
                        bytes += b;
                    }
                    MP_E_SHUTDOWN => break,
                    rc => panic!("mpq_get_many: status {rc}: {}", last_error()),
                }
            }
        }
        assert_eq!(bytes, got * MSG, "every message arrives whole");
        ctl.put_bytes(format!("done {got}").as_bytes()).expect("done");
    } else {
        let key = need(args, "--key");
        let mut c = plain_conn(&target);
        let ctl = handshake(&need(args, "--ctl"));
        'outer: loop {
            let msgs: Vec<Vec<u8>> = if batch <= 1 {
                let r: Option<(String, Vec<u8>)> =
                    redis::cmd("BLPOP").arg(&key).arg(POP_WAIT).query(&mut c).expect("BLPOP");
                r.map(|(_, m)| vec![m]).unwrap_or_default()
            } else {
                let r: Option<(String, Vec<Vec<u8>>)> = redis::cmd("BLMPOP")
                    .arg(POP_WAIT)
                    .arg(1)
                    .arg(&key)
                    .arg("LEFT")
                    .arg("COUNT")
                    .arg(batch)
                    .query(&mut c)
                    .expect("BLMPOP");
                r.map(|(_, v)| v).unwrap_or_default()
            };
            for (i, m) in msgs.iter().enumerate() {
                if m.is_empty() {
                    // The end markers follow every message: give back the
                    // other consumers' markers this batch took, and stop.
                    let extra = msgs[i + 1..].len();
                    assert!(msgs[i + 1..].iter().all(Vec::is_empty), "messages after an end marker");
                    if extra > 0 {
                        let mut back = redis::cmd("LPUSH");
                        back.arg(&key);
                        for _ in 0..extra {
                            back.arg(&b""[..]);
                        }
                        let _: i64 = back.query(&mut c).expect("LPUSH");
                    }
                    break 'outer;
                }
                got += 1;
                bytes += m.len();
            }
        }
        assert_eq!(bytes, got * MSG, "every message arrives whole");
        ctl.put_bytes(format!("done {got}").as_bytes()).expect("done");
    }
}

/// `incr --side S --target T --ctl C --n N --dict D`: N increments of the
/// key "hits" (mpipc: `mp_mgr_dict_incr` on the manager at T; plain:
/// `HINCRBY D hits 1` on the server T).
fn incr(args: &[String]) {
    let (side, target, dict) = (need(args, "--side"), need(args, "--target"), need(args, "--dict"));
    let n = num(args, "--n");
    if side == "mpipc" {
        let m = Mgr::connect(&target);
        let d = CString::new(dict).unwrap();
        let k = encode_value(&Value::Text("hits".into()));
        let ctl = handshake(&need(args, "--ctl"));
        for _ in 0..n {
            m.incr(&d, &k, 1);
        }
        ctl.put_bytes(b"done 0").expect("done");
    } else {
        let mut c = plain_conn(&target);
        let ctl = handshake(&need(args, "--ctl"));
        for _ in 0..n {
            let _: i64 = redis::cmd("HINCRBY").arg(&dict).arg("hits").arg(1).query(&mut c).expect("HINCRBY");
        }
        ctl.put_bytes(b"done 0").expect("done");
    }
}

/// Local control queues, unlinked on drop.
struct Ctl(String);

impl Ctl {
    fn new(tag: &str) -> Ctl {
        let n = format!("bench-redis-{tag}-{}", std::process::id());
        let _ = Queue::unlink(&n);
        let _ = Queue::unlink(&format!("{n}-go"));
        Ctl(n)
    }
}

impl Drop for Ctl {
    fn drop(&mut self) {
        let _ = Queue::unlink(&self.0);
        let _ = Queue::unlink(&format!("{}-go", self.0));
    }
}

/// Spawns the children and releases them together; waits for `producers`
/// "sent" reports, then calls `end` (which makes the consumers stop once
/// they drained the queue), then for `consumers` "done" reports. Returns
/// the time from "go" to the last report, the messages sent and received.
fn run_children(
    ctl: &Ctl,
    children: Vec<Vec<String>>,
    producers: usize,
    consumers: usize,
    end: impl FnOnce(),
) -> (Duration, usize, usize) {
    let exe = std::env::current_exe().unwrap();
    let c = Queue::open(&ctl.0, &QueueOptions::default()).unwrap();
    let go = Queue::open(&format!("{}-go", ctl.0), &QueueOptions::default()).unwrap();
    let n = children.len();
    let mut procs: Vec<Child> = children.into_iter().map(|a| Command::new(&exe).args(a).spawn().unwrap()).collect();
    for _ in 0..n {
        assert_eq!(c.get_bytes_timeout(Some(Duration::from_secs(60))).expect("child ready"), b"ready");
    }
    let t0 = Instant::now();
    for _ in 0..n {
        go.put_bytes(b"go").unwrap();
    }
    let report = || {
        let r = String::from_utf8(c.get_bytes_timeout(Some(Duration::from_secs(300))).expect("child report")).unwrap();
        r.split_once(' ').expect("WORD COUNT").1.parse::<usize>().unwrap()
    };
    let sent: usize = (0..producers).map(|_| report()).sum();
    end();
    let got: usize = (0..consumers).map(|_| report()).sum();
    let elapsed = t0.elapsed();
    for p in procs.iter_mut() {
        assert!(p.wait().unwrap().success(), "a child failed");
    }
    (elapsed, sent, got)
}

fn s(v: &str) -> String {
    v.to_owned()
}

/// The shape of a throughput workload.
#[derive(Clone, Copy)]
struct Shape {
    producers: usize,
    consumers: usize,
    /// Messages in all.
    n: usize,
    /// Messages per call (1 = `mpq_put` / `mpq_get_into`).
    batch: usize,
}

/// One throughput measurement of `shape` on `side` at `transport`; msg/s.
fn throughput(srv: &Server, tag: &str, transport: &str, side: &str, shape: Shape) -> f64 {
    let Shape { producers, consumers, n, batch } = shape;
    let ctl = Ctl::new(&format!("{tag}-{transport}-{side}"));
    let name = format!("bench-{tag}-{side}-{}", std::process::id());
    let per_p = n / producers;
    let role = |r: &str, target: &str, key: &str| {
        let mut a = vec![s(r), s("--side"), s(side), s("--target"), s(target), s("--ctl"), ctl.0.clone()];
        a.extend([s("--batch"), batch.to_string(), s("--n"), per_p.to_string(), s("--key"), s(key)]);
        a
    };
    let (elapsed, sent, got) = if side == "mpipc" {
        let addr = srv.queue(transport, &name);
        unlink(&addr);
        let q = Mq::open(&addr);
        let mut kids: Vec<Vec<String>> = (0..producers).map(|_| role("producer", &addr, "-")).collect();
        kids.extend((0..consumers).map(|_| role("consumer", &addr, "-")));
        let r = run_children(&ctl, kids, producers, consumers, || q.shutdown());
        drop(q);
        unlink(&addr);
        r
    } else {
        let spec = srv.plain(transport);
        let key = format!("bench:{name}");
        let mut c = plain_conn(&spec);
        let _: () = redis::cmd("DEL").arg(&key).arg(format!("{key}:meta")).query(&mut c).unwrap();
        let mut kids: Vec<Vec<String>> = (0..producers).map(|_| role("producer", &spec, &key)).collect();
        kids.extend((0..consumers).map(|_| role("consumer", &spec, &key)));
        let r = run_children(&ctl, kids, producers, consumers, || {
            let mut m = redis::cmd("RPUSH");
            m.arg(&key);
            for _ in 0..consumers {
                m.arg(&b""[..]);
            }
            let _: i64 = m.query(&mut c).expect("end markers");
        });
        let _: () = redis::cmd("DEL").arg(&key).arg(format!("{key}:meta")).query(&mut c).unwrap();
        r
    };
    assert_eq!(got, sent, "every message sent was received ({tag} {transport} {side})");
    assert_eq!(sent, per_p * producers);
    sent as f64 / elapsed.as_secs_f64()
}

/// Median and p99 of a list of call times in µs.
fn med_p99(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (median(v.clone()), v[(v.len() - 1) * 99 / 100])
}

fn timed(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_nanos() as f64 / 1000.0
}

/// The sides of a transport: mpipc only on shm.
fn sides(transport: &str, with_counted: bool) -> Vec<&'static str> {
    match (transport, with_counted) {
        ("shm", _) => vec!["mpipc"],
        (_, true) => vec!["mpipc", "plain", "counted"],
        (_, false) => vec!["mpipc", "plain"],
    }
}

/// `v` rotated left by `r` (the order of the sides in round `r`).
fn rotated<T: Clone>(v: &[T], r: usize) -> Vec<T> {
    let mut v = v.to_vec();
    let k = r % v.len().max(1);
    v.rotate_left(k);
    v
}

/// A side's call times in µs: puts, gets (`mpq_get_into`; plain `BLPOP`),
/// mpipc's `mpq_get` (empty for the plain sides).
type RttTimes = (String, Vec<f64>, Vec<f64>, Vec<f64>);

/// q_put_rtt, q_get_rtt and q_get_alloc_rtt at `transport`, per side.
fn queue_rtt(srv: &Server, transport: &str, blocks: usize, round: usize) -> Vec<RttTimes> {
    let name = format!("bench-rtt-{}", std::process::id());
    let msg = vec![7u8; MSG];
    let mut buf = vec![0u8; MSG];
    let addr = srv.queue(transport, &name);
    unlink(&addr);
    let q = Mq::open(&addr);
    let mut c = (transport != "shm").then(|| plain_conn(&srv.plain(transport)));
    let key = format!("bench:{name}");
    let order = rotated(&sides(transport, true), round);
    let mut out: Vec<RttTimes> = order.iter().map(|s| (s.to_string(), vec![], vec![], vec![])).collect();
    for b in 0..blocks {
        for (i, side) in order.iter().enumerate() {
            let (mut puts, mut gets, mut allocs) = (Vec::with_capacity(BLOCK), Vec::with_capacity(BLOCK), Vec::new());
            match *side {
                "mpipc" => {
                    for _ in 0..BLOCK {
                        puts.push(timed(|| q.put(&msg)));
                    }
                    // Every other get through mpq_get (the library allocates
                    // the message): at a Redis address it blocks at once,
                    // while mpq_get_into first tries a function that checks
                    // the message fits the caller's buffer.
                    for j in 0..BLOCK {
                        if j % 2 == 0 {
                            gets.push(timed(|| assert_eq!(q.get_into(&mut buf), Some(MSG))));
                        } else {
                            allocs.push(timed(|| assert_eq!(q.get_alloc(), MSG)));
                        }
                    }
                }
                side => {
                    let c = c.as_mut().unwrap();
                    for _ in 0..BLOCK {
                        puts.push(timed(|| {
                            if side == "counted" {
                                let _: () = redis::pipe()
                                    .cmd("RPUSH")
                                    .arg(&key)
                                    .arg(&msg[..])
                                    .ignore()
                                    .cmd("HINCRBY")
                                    .arg(format!("{key}:meta"))
                                    .arg("unfinished")
                                    .arg(1)
                                    .ignore()
                                    .query(c)
                                    .unwrap();
                            } else {
                                let _: i64 = redis::cmd("RPUSH").arg(&key).arg(&msg[..]).query(c).unwrap();
                            }
                        }));
                    }
                    for _ in 0..BLOCK {
                        gets.push(timed(|| {
                            let r: Option<(String, Vec<u8>)> =
                                redis::cmd("BLPOP").arg(&key).arg(POP_WAIT).query(c).unwrap();
                            assert_eq!(r.expect("a message").1.len(), MSG);
                        }));
                    }
                }
            }
            if b > 0 {
                out[i].1.extend(puts);
                out[i].2.extend(gets);
                out[i].3.extend(allocs);
            }
        }
    }
    drop(q);
    unlink(&addr);
    if let Some(c) = c.as_mut() {
        let _: () = redis::cmd("DEL").arg(&key).arg(format!("{key}:meta")).query(c).unwrap();
    }
    out
}

/// d_get_rtt at `transport`: {side: get times}. `local` serves shm.
fn dict_rtt(
    srv: &Server,
    local: Option<&Local>,
    transport: &str,
    blocks: usize,
    round: usize,
) -> Vec<(String, Vec<f64>)> {
    let dict = CString::new(format!("bench-rtt-{}", std::process::id())).unwrap();
    let k = encode_value(&Value::Text("k".into()));
    let v = encode_value(&Value::Bytes(vec![7u8; MSG]));
    let mut buf = vec![0u8; 4 * MSG];
    let m = Mgr::connect(&if transport == "shm" {
        local.expect("local server").addr.clone()
    } else {
        srv.manager(transport)
    });
    m.set(&dict, &k, &v);
    let mut c = (transport != "shm").then(|| plain_conn(&srv.plain(transport)));
    let hash = format!("bench:{}", dict.to_str().unwrap());
    if let Some(c) = c.as_mut() {
        let _: () = redis::cmd("HSET").arg(&hash).arg("k").arg(&v[..]).query(c).unwrap();
    }
    let order = rotated(&sides(transport, false), round);
    let mut out: Vec<(String, Vec<f64>)> = order.iter().map(|s| (s.to_string(), vec![])).collect();
    for b in 0..blocks {
        for (i, side) in order.iter().enumerate() {
            let mut t = Vec::with_capacity(BLOCK);
            for _ in 0..BLOCK {
                if *side == "mpipc" {
                    t.push(timed(|| assert_eq!(m.get_into(&dict, &k, &mut buf), v.len())));
                } else {
                    let c = c.as_mut().unwrap();
                    t.push(timed(|| {
                        let r: Vec<u8> = redis::cmd("HGET").arg(&hash).arg("k").query(c).unwrap();
                        assert_eq!(r.len(), v.len());
                    }));
                }
            }
            if b > 0 {
                out[i].1.extend(t);
            }
        }
    }
    if let Some(c) = c.as_mut() {
        let _: () = redis::cmd("DEL").arg(&hash).query(c).unwrap();
    }
    out
}

/// d_incr_2 at `transport` on `side`: ops/s of 2 processes x `n` increments.
fn dict_incr(srv: &Server, local: Option<&Local>, transport: &str, side: &str, n: usize) -> f64 {
    const CLIENTS: usize = 2;
    let ctl = Ctl::new(&format!("incr-{transport}-{side}"));
    let dict = format!("bench-incr-{side}-{}", std::process::id());
    let target = match (transport, side) {
        ("shm", _) => local.expect("local server").addr.clone(),
        (t, "mpipc") => srv.manager(t),
        (t, _) => srv.plain(t),
    };
    let kid = || {
        vec![
            s("incr"),
            s("--side"),
            s(side),
            s("--target"),
            target.clone(),
            s("--ctl"),
            ctl.0.clone(),
            s("--n"),
            n.to_string(),
            s("--dict"),
            dict.clone(),
        ]
    };
    let hits = encode_value(&Value::Text("hits".into()));
    let d = CString::new(dict.clone()).unwrap();
    let m = (side == "mpipc").then(|| Mgr::connect(&target));
    let mut c = (side != "mpipc").then(|| plain_conn(&target));
    // Start from 0 (a key left by an earlier run would not change the rate,
    // but the check below wants the exact count).
    if let Some(m) = &m {
        let now = m.incr(&d, &hits, 0);
        m.incr(&d, &hits, -now);
    }
    if let Some(c) = c.as_mut() {
        let _: () = redis::cmd("DEL").arg(&dict).query(c).unwrap();
    }
    let (elapsed, _, _) = run_children(&ctl, (0..CLIENTS).map(|_| kid()).collect(), 0, CLIENTS, || {});
    let total = match (&m, c.as_mut()) {
        (Some(m), _) => m.incr(&d, &hits, 0),
        (_, Some(c)) => redis::cmd("HGET").arg(&dict).arg("hits").query::<i64>(c).unwrap(),
        _ => unreachable!(),
    };
    assert_eq!(total, (CLIENTS * n) as i64, "every increment counted ({transport} {side})");
    if let Some(c) = c.as_mut() {
        let _: () = redis::cmd("DEL").arg(&dict).query(c).unwrap();
    }
    (CLIENTS * n) as f64 / elapsed.as_secs_f64()
}

/// What one round measures and with which sizes.
struct Plan {
    srv: Server,
    transports: Vec<String>,
    only: Option<Vec<String>>,
    /// (Redis, shm) messages per throughput run, one message per call.
    single: (usize, usize),
    /// (Redis, shm) messages per throughput run, batched.
    batched: (usize, usize),
    /// Blocks of BLOCK calls per round-trip run (the first is warm-up).
    blocks: usize,
    /// Increments per client of d_incr_2.
    incr_n: usize,
}

impl Plan {
    fn wanted(&self, w: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o.iter().any(|p| w.starts_with(p.as_str())))
    }
}

/// One measurement of every workload wanted, the sides in the order of
/// `round`: (figure name, value).
fn one_round(plan: &Plan, local: Option<&Local>, round: usize) -> Vec<(String, f64)> {
    let srv = &plan.srv;
    let mut fig: Vec<(String, f64)> = Vec::new();
    let mut put = |k: String, v: f64| {
        eprintln!("round {round}: {k}: {v:.2}");
        fig.push((k, v));
    };
    if plan.wanted("q_rtt") {
        for t in &plan.transports {
            for (side, puts, gets, allocs) in queue_rtt(srv, t, plan.blocks, round) {
                let (pm, pp) = med_p99(puts);
                put(format!("q_put_rtt/{t}/{side}"), pm);
                put(format!("q_put_rtt/{t}/{side}/p99"), pp);
                if side != "counted" {
                    let (gm, gp) = med_p99(gets);
                    put(format!("q_get_rtt/{t}/{side}"), gm);
                    put(format!("q_get_rtt/{t}/{side}/p99"), gp);
                    // The plain side's BLPOP is the comparison of both gets.
                    let (am, ap) = if side == "plain" { (gm, gp) } else { med_p99(allocs) };
                    put(format!("q_get_alloc_rtt/{t}/{side}"), am);
                    put(format!("q_get_alloc_rtt/{t}/{side}/p99"), ap);
                }
            }
        }
    }
    for (w, p, c, b) in [
        ("q_1x1_single", 1, 1, 1),
        ("q_2x2_single", 2, 2, 1),
        ("q_1x1_batch", 1, 1, BATCH),
        ("q_2x2_batch", 2, 2, BATCH),
    ] {
        if !plan.wanted(w) {
            continue;
        }
        for t in &plan.transports {
            let (nr, ns) = if b == 1 { plan.single } else { plan.batched };
            let n = if t == "shm" { ns } else { nr };
            let shape = Shape { producers: p, consumers: c, n, batch: b };
            for side in rotated(&sides(t, true), round) {
                put(format!("{w}/{t}/{side}"), throughput(srv, w, t, side, shape));
            }
        }
    }
    if plan.wanted("d_get_rtt") {
        for t in &plan.transports {
            for (side, times) in dict_rtt(srv, local, t, plan.blocks, round) {
                let (m, p) = med_p99(times);
                put(format!("d_get_rtt/{t}/{side}"), m);
                put(format!("d_get_rtt/{t}/{side}/p99"), p);
            }
        }
    }
    if plan.wanted("d_incr_2") {
        for t in &plan.transports {
            for side in rotated(&sides(t, false), round) {
                put(format!("d_incr_2/{t}/{side}"), dict_incr(srv, local, t, side, plan.incr_n));
            }
        }
    }
    fig
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("producer") => return producer(&args[1..]),
        Some("consumer") => return consumer(&args[1..]),
        Some("incr") => return incr(&args[1..]),
        _ => {}
    }
    let opts = common::BenchArgs::parse(&args);
    let only: Option<Vec<String>> = arg(&args, "--only").map(|o| o.split(',').map(str::to_owned).collect());
    for p in only.iter().flatten() {
        if !WORKLOADS.iter().any(|w| w.starts_with(p.as_str())) {
            eprintln!("--only {p}: no workload starts with it (workloads: {})", WORKLOADS.join(", "));
            std::process::exit(2);
        }
    }
    let transports: Vec<String> =
        arg(&args, "--transports").unwrap_or_else(|| s("tcp,unix,shm")).split(',').map(str::to_owned).collect();
    for t in &transports {
        if !["tcp", "unix", "shm"].contains(&t.as_str()) {
            eprintln!("--transports: a list of tcp, unix, shm, not {t:?}");
            std::process::exit(2);
        }
    }
    let first_round = common::number_arg(&args, "--round").unwrap_or(0);
    let srv = Server { tcp: need(&args, "--tcp"), unix: need(&args, "--unix") };
    let (single, batched, blocks, incr_n) = if opts.quick {
        ((400, 4000), (10 * BATCH, 100 * BATCH), 2, 200)
    } else {
        ((20_000, 400_000), (1_000_000, 4_000_000), 11, 10_000)
    };
    let plan = Plan { srv, transports, only, single, batched, blocks, incr_n };
    let local = (plan.transports.iter().any(|t| t == "shm") && (plan.wanted("d_get_rtt") || plan.wanted("d_incr_2")))
        .then(Local::start);
    let t_all = Instant::now();
    // Every figure's value in each round, in the order first measured.
    let mut runs: Vec<(String, Vec<f64>)> = Vec::new();
    for r in 0..opts.repeat {
        for (k, v) in one_round(&plan, local.as_ref(), first_round + r) {
            match runs.iter_mut().find(|(n, _)| *n == k) {
                Some((_, vs)) => vs.push(v),
                None => runs.push((k, vec![v])),
            }
        }
    }
    drop(local);
    eprintln!("redis_bench: {:.1} s", t_all.elapsed().as_secs_f64());
    let list = |f: &dyn Fn(&Vec<f64>) -> String| {
        runs.iter().map(|(k, vs)| format!("\"{k}\": {}", f(vs))).collect::<Vec<_>>().join(", ")
    };
    let figures = list(&|vs| format!("{:.3}", median(vs.clone())));
    let all = list(&|vs| format!("[{}]", vs.iter().map(|v| format!("{v:.3}")).collect::<Vec<_>>().join(", ")));
    println!(
        "{{\"program\": \"redis_bench\", \"msg_bytes\": {MSG}, \"batch\": {BATCH}, \"repeat\": {}, \"first_round\": \
         {first_round}, \"quick\": {}, \"sizes\": {{\"single\": {}, \"single_shm\": {}, \"batched\": {}, \
         \"batched_shm\": {}, \"rtt_calls\": {}, \"incr_per_client\": {incr_n}}}, \"figures\": {{{figures}}}, \
         \"runs\": {{{all}}}}}",
        opts.repeat,
        opts.quick,
        single.0,
        single.1,
        batched.0,
        batched.1,
        (blocks - 1) * BLOCK,
    );
}
