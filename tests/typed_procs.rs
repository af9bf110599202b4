//! The typed API (serde values through `Queue::put` / `get`,
//! `Connection::send` / `recv`, the manager's `Dict`, `List`, `Value` and
//! `Lock` proxies) across real processes: this binary starts itself again
//! for each child role (`typed_procs <role> <args>`).
//!
//! `harness = false`: `main` runs the checks in order and dispatches the
//! child roles, so no test exists only to be a child's entry point.

use mpipc::pipe::{connect, Listener, ListenerOptions};
use mpipc::{Codec, ErrorKind, ManagerClient, ManagerServer, OpenMode, Queue, QueueOptions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const T: Option<Duration> = Some(Duration::from_secs(20));
const JOBS: u32 = 500;
const WORKERS: usize = 4;
const ROUNDS: i64 = 200;

/// The map, as a Rust type: `{"name", "id", "score", "vals"}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Job {
    name: String,
    id: u32,
    score: f64,
    vals: Vec<i64>,
}

fn job(i: u32) -> Job {
    Job { name: format!("job-{i}"), id: i, score: f64::from(i) / 4.0, vals: vec![1, i64::from(i)] }
}

fn child(args: &[&str]) -> Child {
    Command::new(std::env::current_exe().unwrap()).args(args).stdout(Stdio::piped()).spawn().unwrap()
}

fn wait_ok(c: Child) {
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stdout));
}

fn unique(tag: &str) -> String {
    format!("typed-{tag}-{}", std::process::id())
}

// ---- queue ----

/// A producer process puts typed jobs, a mixed `ciborium::Value` and one
/// text; this process gets them back as `Job`s, the value as a
/// `ciborium::Value`, and the text as a `Job` fails with a decode error
/// that consumes it.
fn queue_across_processes() {
    let name = unique("queue");
    let q =
        Queue::open(&name, &QueueOptions { maxsize: 16, open_mode: Some(OpenMode::CreateOnly), ..Default::default() })
            .unwrap();
    let producer = child(&["queue-producer", &name]);
    for i in 0..JOBS {
        let got: Job = q.get_timeout(T).unwrap();
        assert_eq!(got, job(i));
    }
    let v: ciborium::Value = q.get_timeout(T).unwrap();
    let want = ciborium::Value::Map(vec![
        ("k".into(), ciborium::Value::Array(vec![1.into(), 2.5.into(), ciborium::Value::Null])),
        ("b".into(), ciborium::Value::Bytes(vec![0, 255])),
    ]);
    assert_eq!(v, want);
    let e = q.get_timeout::<Job>(T).unwrap_err();
    assert_eq!((e.codec(), e.kind()), (Some(Codec::Decode), ErrorKind::Corrupt), "{e}");
    let last: String = q.get_timeout(T).unwrap(); // the bad message was consumed
    assert_eq!(last, "end");
    wait_ok(producer);
    Queue::unlink(&name).unwrap();
}

fn queue_producer(name: &str) {
    let q = Queue::open(name, &QueueOptions { open_mode: Some(OpenMode::AttachOnly), ..Default::default() }).unwrap();
    for i in 0..JOBS {
        q.put(&job(i)).unwrap();
    }
    let v = ciborium::Value::Map(vec![
        ("k".into(), ciborium::Value::Array(vec![1.into(), 2.5.into(), ciborium::Value::Null])),
        ("b".into(), ciborium::Value::Bytes(vec![0, 255])),
    ]);
    q.put(&v).unwrap();
    q.put("not a job").unwrap();
    q.put("end").unwrap();
    // A byte vector given to the typed put is refused, nothing put.
    let e = q.put(&vec![1u8, 2]).unwrap_err();
    assert_eq!(e.codec(), Some(Codec::Encode));
}

// ---- pipe ----

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Msg {
    Work(Job),
    Done { count: u32 },
}

/// A client process sends typed enum messages over an authenticated
/// connection and gets each job back with its score doubled.
fn pipe_across_processes() {
    let opts = ListenerOptions { authkey: Some(b"typed".to_vec()), ..Default::default() };
    let l = Listener::bind(&format!("unix:@{}", unique("pipe")), &opts).unwrap();
    let client = child(&["pipe-client", &l.address().to_string()]);
    let c = l.accept(T).unwrap();
    let mut seen = 0;
    loop {
        match c.recv_timeout::<Msg>(T).unwrap() {
            Msg::Work(mut j) => {
                assert_eq!(j, job(j.id));
                j.score *= 2.0;
                c.send(&j).unwrap();
                seen += 1;
            }
            Msg::Done { count } => {
                assert_eq!(count, seen);
                break;
            }
        }
    }
    assert_eq!(seen, JOBS);
    wait_ok(client);
}

fn pipe_client(addr: &str) {
    let opts = ListenerOptions { authkey: Some(b"typed".to_vec()), ..Default::default() };
    let c = connect(addr, &opts, T).unwrap();
    for i in 0..JOBS {
        c.send(&Msg::Work(job(i))).unwrap();
        let back: Job = c.recv_timeout(T).unwrap();
        assert_eq!(back.score, job(i).score * 2.0);
    }
    c.send(&Msg::Done { count: JOBS }).unwrap();
}

// ---- manager ----

/// Worker processes use every typed proxy at once: `Dict::incr` and
/// `dict_incr` (atomic on the server), `List::append`, `Value` updated
/// with a get-then-set that only the `Lock` guard keeps whole. Then a
/// worker killed while its guard is alive: the server releases the lock.
fn manager_across_processes() {
    let address = format!("unix:@{}", unique("mgr"));
    let server = ManagerServer::serve(&address, &ListenerOptions::default()).unwrap();
    let workers: Vec<Child> = (0..WORKERS).map(|w| child(&["mgr-worker", &address, &w.to_string()])).collect();
    for w in workers {
        wait_ok(w);
    }
    let m = ManagerClient::connect(&address, &ListenerOptions::default(), T).unwrap();
    let want = WORKERS as i64 * ROUNDS;
    let stats = m.dict::<String, i64>("stats");
    assert_eq!(stats.get(&"hits".into()).unwrap(), Some(want));
    assert_eq!(stats.get(&"raw".into()).unwrap(), Some(want));
    assert_eq!(m.value::<i64>("locked-total").get().unwrap(), want);
    let log = m.list::<(u32, i64)>("log");
    assert_eq!(log.len().unwrap(), WORKERS * ROUNDS as usize);
    let mut per: BTreeMap<u32, i64> = BTreeMap::new();
    for (w, _) in log.to_vec().unwrap() {
        *per.entry(w).or_default() += 1;
    }
    assert_eq!(per.len(), WORKERS);
    assert!(per.values().all(|&n| n == ROUNDS), "{per:?}");
    // The map in a typed dict: read back as Python would store it.
    let jobs = m.dict::<u32, Job>("jobs");
    assert_eq!(jobs.len().unwrap(), WORKERS);
    assert_eq!(jobs.get(&0).unwrap(), Some(job(0)));
    assert!(jobs.compare_and_set(&0, &job(0), &job(100)).unwrap());
    assert!(!jobs.compare_and_set(&0, &job(0), &job(101)).unwrap());
    assert_eq!(jobs.remove(&0).unwrap(), Some(job(100)));
    assert_eq!(jobs.get(&0).unwrap(), None);

    // A holder killed with its guard alive: acquire() below returns once
    // the server has released the lock for the dead connection.
    let mut holder = child(&["mgr-hold", &address]);
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "held");
    let lock = m.lock("held");
    assert_eq!(lock.acquire_timeout(Duration::ZERO).unwrap_err().kind(), ErrorKind::Timeout);
    holder.kill().unwrap();
    holder.wait().unwrap();
    let guard = lock.acquire().unwrap();
    assert!(lock.locked().unwrap());
    guard.release().unwrap();
    assert!(!lock.locked().unwrap());
    drop(m);
    server.shutdown();
}

fn mgr_worker(address: &str, w: u32) {
    let m = ManagerClient::connect(address, &ListenerOptions::default(), T).unwrap();
    let stats = m.dict::<&str, i64>("stats");
    let total = m.value::<Option<i64>>("locked-total"); // null until the first set
    let lock = m.lock("total");
    let log = m.list::<(u32, i64)>("log");
    for r in 0..ROUNDS {
        stats.incr(&"hits", 1).unwrap();
        m.dict_incr("stats", "raw", 1).unwrap();
        log.append(&(w, r)).unwrap();
        let _held = lock.acquire().unwrap();
        let n = total.get().unwrap().unwrap_or(0);
        total.set(&Some(n + 1)).unwrap();
    }
    m.dict::<u32, Job>("jobs").set(&w, &job(w)).unwrap();
}

fn mgr_hold(address: &str) {
    let m = ManagerClient::connect(address, &ListenerOptions::default(), T).unwrap();
    let _guard = m.lock("held").acquire().unwrap();
    println!("held");
    // Holds the guard until the parent kills this process.
    loop {
        std::thread::park();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a[..] {
        ["queue-producer", name] => return queue_producer(name),
        ["pipe-client", addr] => return pipe_client(addr),
        ["mgr-worker", address, w] => return mgr_worker(address, w.parse().unwrap()),
        ["mgr-hold", address] => return mgr_hold(address),
        _ => {}
    }
    // `cargo test` passes harness flags (e.g. --quiet): ignored.
    for (name, check) in [
        ("queue_across_processes", queue_across_processes as fn()),
        ("pipe_across_processes", pipe_across_processes),
        ("manager_across_processes", manager_across_processes),
    ] {
        check();
        println!("test {name} ... ok");
    }
}
