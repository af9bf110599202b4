//! The Rust API on a Redis / Valkey server (docs/REDIS.md) across real
//! processes: typed queues between producer and consumer processes,
//! JoinableQueue's `task_done` / `join`, `shutdown` waking processes
//! blocked on the server, and the manager at a `redis://` address (exact
//! `incr` and `compare_and_set` from two processes, a lock whose holder is
//! SIGKILLed going to the next process once its lease ends).
//!
//! The server is started by the project's own `scripts/redis-server.sh`
//! (its own directory, a free loopback port) and stopped at the end, also
//! when a check fails (its directory, with the log, is then kept and
//! named). A missing `redis-server` is a failure under `CI=true` and a loud
//! skip elsewhere (the script's exit status 3), as in tests/redis and the
//! C tests.
//!
//! `harness = false`: `main` runs the checks in order and dispatches the
//! child roles (this binary started again: `redis_procs <role> <args>`).
//! Every wait is for a state (a line from a child, a child's exit, the
//! server's count of blocked clients), never for a duration.

use mpipc::{ErrorKind, ListenerOptions, ManagerClient, OpenMode, Queue, QueueOptions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// The bound of every wait that should end at once (a failure guard, not
/// a synchronisation).
const T: Option<Duration> = Some(Duration::from_secs(30));
/// Messages per producer in the 2 x 2 case.
const PER_PRODUCER: u32 = 400;
/// Jobs of the JoinableQueue case.
const JOBS: u32 = 300;
/// Increments per process in the manager case.
const ROUNDS: i64 = 200;

// ---- the server ----

/// The test server of `scripts/redis-server.sh`, stopped on drop (also
/// while unwinding from a failed check).
struct Server {
    dir: PathBuf,
    port: u16,
}

impl Server {
    /// Starts one, or `None` (after saying so loudly) when `redis-server`
    /// is not installed and `CI` is not `true`.
    fn start() -> Option<Server> {
        let dir = std::env::temp_dir().join(format!("mpipc-redis-procs-{}", std::process::id()));
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(&dir)
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/redis-server.sh");
        if out.status.code() == Some(3) {
            // The script's status for "the server binary is not installed".
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "redis-server is not installed (scripts/install-deps.sh installs it): required under CI=true"
            );
            eprintln!(
                "SKIPPED tests/redis_procs.rs: redis-server is not installed (scripts/install-deps.sh installs it)"
            );
            return None;
        }
        assert!(out.status.success(), "scripts/redis-server.sh start failed: {}", out.status);
        // "port=P socket=S pid=N"
        let line = String::from_utf8(out.stdout).unwrap();
        let port = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("port="))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Some(Server { dir, port })
    }

    /// `redis://127.0.0.1:PORT` followed by `rest`.
    fn url(&self, rest: &str) -> String {
        format!("redis://127.0.0.1:{}{rest}", self.port)
    }

    /// Waits until at least `n` clients are blocked on the server (`INFO
    /// clients`, `blocked_clients`, asked over one plain RESP connection):
    /// the children are then inside their server-side waits.
    fn wait_blocked(&self, n: usize, children: &mut [Child]) {
        let mut con = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        con.set_read_timeout(T).unwrap();
        let deadline = Instant::now() + T.unwrap();
        while blocked_clients(&mut con) < n {
            for c in children.iter_mut() {
                assert!(c.try_wait().unwrap().is_none(), "a child exited before it blocked");
            }
            assert!(Instant::now() < deadline, "fewer than {n} clients blocked on the server");
            // A poll interval, not a synchronisation: the loop ends on the
            // server's count whatever the interval.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The server's `blocked_clients` (`INFO clients`) over `con`.
fn blocked_clients(con: &mut std::net::TcpStream) -> usize {
    con.write_all(b"*2\r\n$4\r\nINFO\r\n$7\r\nclients\r\n").unwrap();
    // A bulk string: "$LEN\r\n", LEN bytes, "\r\n" (all read, so the
    // next reply starts clean).
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    let body = loop {
        let n = con.read(&mut buf).unwrap();
        assert!(n > 0, "the server closed the connection: {:?}", String::from_utf8_lossy(&reply));
        reply.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&reply).into_owned();
        if let Some((head, rest)) = text.split_once("\r\n") {
            let len: usize = head.strip_prefix('$').and_then(|l| l.parse().ok()).expect("a bulk reply to INFO");
            if rest.len() >= len + 2 {
                break rest[..len].to_owned();
            }
        }
    };
    body.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no blocked_clients in INFO clients: {body}"))
}

impl Drop for Server {
    fn drop(&mut self) {
        let st = Command::new("bash").arg(script()).arg("stop").arg(&self.dir).status();
        if std::thread::panicking() {
            eprintln!("redis_procs: failed; the server's directory (log: server.log) is kept: {}", self.dir.display());
        } else {
            assert!(st.is_ok_and(|s| s.success()), "scripts/redis-server.sh stop failed");
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/redis-server.sh")
}

// ---- children ----

fn child(args: &[&str]) -> Child {
    Command::new(std::env::current_exe().unwrap()).args(args).stdout(Stdio::piped()).spawn().unwrap()
}

fn wait_ok(c: Child) -> String {
    let out = c.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "child failed ({}): {text}", out.status);
    text
}

/// The next line a child prints (it says where it is).
fn read_line(out: &mut BufReader<ChildStdout>) -> String {
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    line.trim().to_owned()
}

fn unique(tag: &str) -> String {
    format!("rp-{tag}-{}", std::process::id())
}

fn attach() -> QueueOptions {
    QueueOptions { open_mode: Some(OpenMode::AttachOnly), ..Default::default() }
}

// ---- typed queue, 2 producers x 2 consumers ----

/// A message of the 2 x 2 case: a serde struct, or the end of the work.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Msg {
    Job(Job),
    Stop,
}

/// The map, as a Rust type, with who made it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Job {
    producer: u32,
    seq: u32,
    name: String,
    score: f64,
    vals: Vec<i64>,
}

fn job(producer: u32, seq: u32) -> Job {
    Job {
        producer,
        seq,
        name: format!("job-{producer}-{seq}"),
        score: f64::from(seq) / 4.0,
        vals: vec![i64::from(producer), -i64::from(seq)],
    }
}

/// What a consumer reports on the results queue.
#[derive(Serialize, Deserialize, Debug)]
struct Report {
    got: Vec<(u32, u32)>,
}

/// Two producer processes put typed jobs on a bounded queue (maxsize 8,
/// so they block on the server while the consumers lag), two consumer
/// processes take them: every job arrives exactly once, each producer's
/// jobs in the order it put them, equal to what was put.
fn queue_two_by_two(s: &Server) {
    let addr = s.url(&format!("/{}", unique("jobs")));
    let results = s.url(&format!("/{}", unique("results")));
    let q =
        Queue::open(&addr, &QueueOptions { maxsize: 8, open_mode: Some(OpenMode::CreateOnly), ..Default::default() })
            .unwrap();
    let r =
        Queue::open(&results, &QueueOptions { open_mode: Some(OpenMode::CreateOnly), ..Default::default() }).unwrap();
    assert_eq!(q.maxsize(), 8);
    let consumers: Vec<Child> = (0..2).map(|_| child(&["q-consumer", &addr, &results])).collect();
    let producers: Vec<Child> =
        (0..2u32).map(|p| child(&["q-producer", &addr, &p.to_string(), &PER_PRODUCER.to_string()])).collect();
    for p in producers {
        wait_ok(p);
    }
    // One stop per consumer, after every job (FIFO).
    for _ in 0..2 {
        q.put(&Msg::Stop).unwrap();
    }
    let mut seen = BTreeSet::new();
    for _ in 0..2 {
        let report: Report = r.get_timeout(T).unwrap();
        for id in report.got {
            assert!(seen.insert(id), "{id:?} delivered twice");
        }
    }
    for c in consumers {
        wait_ok(c);
    }
    let want: BTreeSet<(u32, u32)> = (0..2).flat_map(|p| (0..PER_PRODUCER).map(move |i| (p, i))).collect();
    assert_eq!(seen, want, "every job exactly once");
    assert_eq!(q.qsize().unwrap(), 0);
    assert_eq!(r.qsize().unwrap(), 0);
    drop((q, r));
    Queue::unlink(&addr).unwrap();
    Queue::unlink(&results).unwrap();
    assert_eq!(Queue::open(&addr, &attach()).unwrap_err().kind(), ErrorKind::NotFound);
}

fn q_producer(addr: &str, p: u32, n: u32) {
    let q = Queue::open(addr, &attach()).unwrap();
    for i in 0..n {
        let m = Msg::Job(job(p, i));
        if i % 2 == 0 {
            q.put(&m).unwrap();
        } else {
            q.put_timeout(&m, T).unwrap();
        }
    }
}

fn q_consumer(addr: &str, results: &str) {
    let q = Queue::open(addr, &attach()).unwrap();
    let r = Queue::open(results, &attach()).unwrap();
    let mut got = Vec::new();
    let mut last = [None::<u32>; 2];
    // Until this consumer's Stop (one per consumer, after every job).
    while let Msg::Job(j) = q.get_timeout::<Msg>(T).unwrap() {
        assert_eq!(j, job(j.producer, j.seq), "not as put");
        let prev = &mut last[j.producer as usize];
        assert!(prev.is_none_or(|s| s < j.seq), "producer {}'s jobs out of order: {prev:?} then {}", j.producer, j.seq);
        *prev = Some(j.seq);
        got.push((j.producer, j.seq));
    }
    r.put(&Report { got }).unwrap();
}

// ---- JoinableQueue ----

/// Two worker processes take jobs, record each on a second queue, then
/// call `task_done`; `join` in this process and in a joiner process
/// returns only once every job was recorded (the record precedes the
/// `task_done`, so a join that returned early would see fewer). Then a
/// shutdown ends the workers.
fn joinable_across_processes(s: &Server) {
    let addr = s.url(&format!("/{}", unique("tasks")));
    let done_addr = s.url(&format!("/{}", unique("done")));
    let q = Queue::open(&addr, &QueueOptions { open_mode: Some(OpenMode::CreateOnly), ..Default::default() }).unwrap();
    let done =
        Queue::open(&done_addr, &QueueOptions { open_mode: Some(OpenMode::CreateOnly), ..Default::default() }).unwrap();
    let workers: Vec<Child> = (0..2).map(|_| child(&["j-worker", &addr, &done_addr])).collect();
    for i in 0..JOBS {
        q.put(&i).unwrap();
    }
    // Joins in another process as well (it may start before or after the
    // workers finish: either way its join returns only when all are done).
    let joiner = child(&["j-joiner", &addr, &done_addr, &JOBS.to_string()]);
    q.join(T).unwrap();
    assert_eq!(done.qsize().unwrap(), JOBS as usize, "join returned before every task_done");
    assert_eq!(q.unfinished_tasks().unwrap(), 0);
    assert_eq!(wait_ok(joiner).trim(), "joined");
    let mut ids: Vec<u32> = (0..JOBS).map(|_| done.get_timeout(T).unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..JOBS).collect::<Vec<_>>());
    // A task_done beyond what was put is refused, as in Python.
    assert_eq!(q.task_done().unwrap_err().kind(), ErrorKind::Invalid);
    q.shutdown(false).unwrap();
    let mut handled = 0;
    for w in workers {
        handled += wait_ok(w).trim().parse::<u32>().unwrap();
    }
    assert_eq!(handled, JOBS);
    drop((q, done));
    Queue::unlink(&addr).unwrap();
    Queue::unlink(&done_addr).unwrap();
}

fn j_worker(addr: &str, done_addr: &str) {
    let q = Queue::open(addr, &attach()).unwrap();
    let done = Queue::open(done_addr, &attach()).unwrap();
    let mut n = 0u32;
    loop {
        match q.get::<u32>() {
            Ok(id) => {
                done.put(&id).unwrap();
                q.task_done().unwrap();
                n += 1;
            }
            Err(e) if e.kind() == ErrorKind::Shutdown => break,
            Err(e) => panic!("worker: {e}"),
        }
    }
    println!("{n}");
}

fn j_joiner(addr: &str, done_addr: &str, n: usize) {
    let q = Queue::open(addr, &attach()).unwrap();
    let done = Queue::open(done_addr, &attach()).unwrap();
    q.join(T).unwrap();
    assert_eq!(done.qsize().unwrap(), n, "join returned before every task_done");
    println!("joined");
}

// ---- shutdown ----

/// Two getter processes blocked on the server in a get without a timeout,
/// then a shutdown from this process: both wake with `Shutdown`. Then a
/// putter blocked on a full queue, and an immediate shutdown: it wakes with
/// `Shutdown` and what was queued is dropped.
fn shutdown_wakes_blocked_processes(s: &Server) {
    let addr = s.url(&format!("/{}", unique("shut")));
    let q = Queue::open(&addr, &QueueOptions { open_mode: Some(OpenMode::CreateOnly), ..Default::default() }).unwrap();
    let mut getters: Vec<Child> = (0..2).map(|_| child(&["s-getter", &addr])).collect();
    s.wait_blocked(2, &mut getters);
    q.shutdown(false).unwrap();
    for g in getters {
        assert_eq!(wait_ok(g).trim(), "shutdown");
    }
    assert!(q.is_shutdown().unwrap());
    assert_eq!(q.put(&1).unwrap_err().kind(), ErrorKind::Shutdown);
    drop(q);
    Queue::unlink(&addr).unwrap();

    let addr = s.url(&format!("/{}", unique("shut-now")));
    let q =
        Queue::open(&addr, &QueueOptions { maxsize: 1, open_mode: Some(OpenMode::CreateOnly), ..Default::default() })
            .unwrap();
    q.put("filler").unwrap();
    let mut putter = vec![child(&["s-putter", &addr])];
    s.wait_blocked(1, &mut putter);
    q.shutdown(true).unwrap();
    assert_eq!(wait_ok(putter.pop().unwrap()).trim(), "shutdown");
    assert_eq!(q.qsize().unwrap(), 0, "an immediate shutdown drops what is queued");
    assert_eq!(q.get_timeout::<String>(T).unwrap_err().kind(), ErrorKind::Shutdown);
    drop(q);
    Queue::unlink(&addr).unwrap();
}

fn s_getter(addr: &str) {
    let q = Queue::open(addr, &attach()).unwrap();
    // No timeout: only the shutdown can end this wait.
    let e = q.get_timeout::<String>(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shutdown, "{e}");
    println!("shutdown");
}

fn s_putter(addr: &str) {
    let q = Queue::open(addr, &attach()).unwrap();
    let e = q.put_timeout("more", None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shutdown, "{e}");
    println!("shutdown");
}

// ---- manager ----

fn connect(addr: &str) -> ManagerClient {
    ManagerClient::connect(addr, &ListenerOptions::default(), T).unwrap()
}

/// The fencing token of the lock `name` held by `m` (docs/REDIS.md,
/// "Locks and semaphores are leases"): the untyped call, as the typed
/// proxy has no method for it.
fn fence(m: &ManagerClient, name: &str) -> i128 {
    match m.call("lock", name, "fence", vec![]).unwrap() {
        ciborium::Value::Integer(i) => i.into(),
        v => panic!("fence: {v:?}"),
    }
}

/// Two processes increment one dict entry (`Dict::incr` and
/// `dict_incr`) and one value (a get then `compare_and_set`, retried when
/// another process won): the totals are exact. Then `compare_and_set` on a
/// typed dict; then a lock whose holder is SIGKILLed goes to this process
/// once its lease (300 ms here) ends, with a higher fencing token.
fn manager_across_processes(s: &Server) {
    let addr = s.url(&format!("?ns={}&lease_ms=300", unique("mgr")));
    let m = connect(&addr);
    assert!(m.value::<i64>("cas").create(&0).unwrap());
    let workers: Vec<Child> = (0..2).map(|_| child(&["m-worker", &addr])).collect();
    let mut retries = 0u64;
    for w in workers {
        retries += wait_ok(w).trim().parse::<u64>().unwrap();
    }
    let stats = m.dict::<String, i64>("stats");
    assert_eq!(stats.get(&"hits".into()).unwrap(), Some(2 * ROUNDS));
    assert_eq!(stats.get(&"raw".into()).unwrap(), Some(2 * ROUNDS));
    assert_eq!(m.value::<i64>("cas").get().unwrap(), 2 * ROUNDS);
    println!("  compare_and_set: {retries} lost races retried");

    let jobs = m.dict::<u32, Job>("jobs");
    jobs.set(&1, &job(0, 1)).unwrap();
    assert!(jobs.compare_and_set(&1, &job(0, 1), &job(0, 2)).unwrap());
    assert!(!jobs.compare_and_set(&1, &job(0, 1), &job(0, 3)).unwrap());
    assert!(!jobs.compare_and_set(&9, &job(0, 1), &job(0, 3)).unwrap(), "never inserts");
    assert_eq!(jobs.get(&1).unwrap(), Some(job(0, 2)));
    assert_eq!(jobs.len().unwrap(), 1);

    // A holder SIGKILLed with its lock held: nobody releases it, its lease
    // ends (nobody renews it), and the blocked acquire below gets it.
    let mut holder = child(&["m-hold", &addr]);
    let mut out = BufReader::new(holder.stdout.take().unwrap());
    let line = read_line(&mut out);
    let held_fence: i128 =
        line.strip_prefix("held ").and_then(|f| f.parse().ok()).unwrap_or_else(|| panic!("holder said {line:?}"));
    let lock = m.lock("held");
    assert!(lock.locked().unwrap());
    assert_eq!(lock.acquire_timeout(Duration::ZERO).unwrap_err().kind(), ErrorKind::Timeout);
    holder.kill().unwrap(); // SIGKILL
    holder.wait().unwrap();
    let guard = lock.acquire().unwrap();
    let mine = fence(&m, "held");
    assert!(mine > held_fence, "fence {mine} after the dead holder's {held_fence}");
    guard.release().unwrap();
    assert!(!lock.locked().unwrap());
}

fn m_worker(addr: &str) {
    let m = connect(addr);
    let stats = m.dict::<&str, i64>("stats");
    let cas = m.value::<i64>("cas");
    let mut retries = 0u64;
    for _ in 0..ROUNDS {
        stats.incr(&"hits", 1).unwrap();
        m.dict_incr("stats", "raw", 1).unwrap();
        loop {
            let v = cas.get().unwrap();
            if cas.compare_and_set(&v, &(v + 1)).unwrap() {
                break;
            }
            retries += 1;
        }
    }
    println!("{retries}");
}

fn m_hold(addr: &str) {
    let m = connect(addr);
    let _guard = m.lock("held").acquire().unwrap();
    println!("held {}", fence(&m, "held"));
    // Holds the lock (its lease renewed by the client) until SIGKILLed.
    loop {
        std::thread::park();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a[..] {
        ["q-producer", addr, p, n] => return q_producer(addr, p.parse().unwrap(), n.parse().unwrap()),
        ["q-consumer", addr, results] => return q_consumer(addr, results),
        ["j-worker", addr, done] => return j_worker(addr, done),
        ["j-joiner", addr, done, n] => return j_joiner(addr, done, n.parse().unwrap()),
        ["s-getter", addr] => return s_getter(addr),
        ["s-putter", addr] => return s_putter(addr),
        ["m-worker", addr] => return m_worker(addr),
        ["m-hold", addr] => return m_hold(addr),
        _ => {}
    }
    // `cargo test` passes harness flags (e.g. --quiet): ignored.
    let Some(server) = Server::start() else { return };
    for (name, check) in [
        ("queue_two_by_two", queue_two_by_two as fn(&Server)),
        ("joinable_across_processes", joinable_across_processes),
        ("shutdown_wakes_blocked_processes", shutdown_wakes_blocked_processes),
        ("manager_across_processes", manager_across_processes),
    ] {
        check(&server);
        println!("test {name} ... ok");
    }
}
