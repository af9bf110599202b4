//! What it costs a Rust program to put an object rather than bytes (issue
//! 19), the Rust twin of benches/c/object_put.c. The object is the issue's
//! map
//!
//! ```text
//! {"name": "a", "id": 1, "score": 0.5, "vals": [1, 2]}
//! ```
//!
//! (35 bytes of CBOR), put on a queue by one process and taken by another
//! (this binary re-executes itself as the consumer), three ways:
//!
//! - `bytes`: `put_bytes` of the same bytes, encoded once beforehand (the
//!   floor: what the queue costs);
//! - `typed`: `put(&job)` of a `#[derive(Serialize)]` struct, encoded for
//!   every message (mpipc::codec: serde, TYPES.md's CBOR);
//! - `value`: `put(&value)` of the same map as a `ciborium::Value` built
//!   for every message (the dynamic path);
//!
//! and, without a queue, the encoding alone of the struct (ns per
//! message). The consumer takes raw bytes (`get_into`) and counts them; it
//! does not decode, so the ways differ only by the producer's encoding.
//! The queue: `maxsize` 1024. Timing: the clock starts when the consumer
//! has attached (it says so on stdout) and stops when it has received all
//! N and exited. Each round runs the three ways, their order rotating from
//! round to round, so a drift of the machine's load hits all of them; the
//! medians over the rounds are reported.
//!
//! `cargo bench --bench rust_object_put -- [--quick] [--repeat N] [-n MESSAGES]`
//! prints one JSON object: `{"r_obj_put_bytes": {...}, "r_obj_put_typed":
//! {...}, "r_obj_put_value": {...}, "r_obj_encode_typed": {...}}`, each
//! with the median, the messages per run (`n`) and every run in order
//! (msg/s for the puts, ns per message for the encoding). benches/run.sh
//! (`make bench`) runs it.

mod common;
use common::{median, BenchArgs};

use mpipc::{OpenMode, Queue, QueueOptions};
use serde::Serialize;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The issue's map as a Rust type (field order = the map's key order).
#[derive(Serialize)]
struct Job<'a> {
    name: &'a str,
    id: u32,
    score: f64,
    vals: [i64; 2],
}

const JOB: Job<'static> = Job { name: "a", id: 1, score: 0.5, vals: [1, 2] };

fn value() -> ciborium::Value {
    ciborium::Value::Map(vec![
        ("name".into(), "a".into()),
        ("id".into(), 1.into()),
        ("score".into(), 0.5.into()),
        ("vals".into(), ciborium::Value::Array(vec![1.into(), 2.into()])),
    ])
}

/// The consumer role: attaches, says "ready", takes `n` messages.
fn consumer(name: &str, n: u64) {
    let q = Queue::open(name, &QueueOptions { open_mode: Some(OpenMode::AttachOnly), ..Default::default() })
        .expect("attach");
    println!("ready");
    let mut buf = [0u8; 256];
    for _ in 0..n {
        let len = q.get_into(&mut buf, None).expect("get");
        assert_eq!(len, 35, "the map is 35 bytes of CBOR every way");
    }
}

/// One run of `way`: msg/s from the consumer's attach to its exit.
fn run(way: &str, n: u64) -> f64 {
    let name = format!("bench-obj-{}-{way}", std::process::id());
    let q = Queue::open(
        &name,
        &QueueOptions { maxsize: 1024, open_mode: Some(OpenMode::CreateOnly), ..Default::default() },
    )
    .expect("queue");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["consumer", &name, &n.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("consumer");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("ready");
    assert_eq!(line.trim(), "ready");
    let bytes = mpipc::codec::encode(&JOB).unwrap();
    let t = Instant::now();
    match way {
        "bytes" => (0..n).for_each(|_| q.put_bytes(&bytes).expect("put")),
        "typed" => (0..n).for_each(|_| q.put(&JOB).expect("put")),
        _ => (0..n).for_each(|_| q.put(&value()).expect("put")),
    }
    assert!(child.wait().expect("wait").success());
    let secs = t.elapsed().as_secs_f64();
    Queue::unlink(&name).expect("unlink");
    n as f64 / secs
}

/// ns per encoding of the struct, over `n` encodings.
fn encode_ns(n: u64) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(mpipc::codec::encode(std::hint::black_box(&JOB)).unwrap());
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("consumer") {
        return consumer(&args[1], args[2].parse().expect("n"));
    }
    let opts = BenchArgs::parse(&args);
    let n: u64 = args
        .windows(2)
        .find(|w| w[0] == "-n")
        .map(|w| w[1].parse().expect("-n takes a number"))
        .unwrap_or(if opts.quick { 20_000 } else { 400_000 });
    assert_eq!(mpipc::codec::encode(&JOB).unwrap(), mpipc::codec::encode(&value()).unwrap());
    let ways = ["bytes", "typed", "value"];
    let mut runs: Vec<Vec<f64>> = vec![Vec::new(); ways.len()];
    let mut enc = Vec::new();
    for r in 0..opts.repeat {
        for k in 0..ways.len() {
            let i = (r + k) % ways.len(); // the order rotates by round
            runs[i].push(run(ways[i], n));
        }
        enc.push(encode_ns(n));
    }
    let mut out = Vec::new();
    for (i, way) in ways.iter().enumerate() {
        let m = median(runs[i].clone());
        eprintln!("r_obj_put_{way}: median {m:.0} msg/s");
        out.push(format!(
            "\"r_obj_put_{way}\": {{\"median\": {m:.1}, \"unit\": \"msg/s\", \"n\": {n}, \"runs\": {:?}}}",
            runs[i]
        ));
    }
    let m = median(enc.clone());
    eprintln!("r_obj_encode_typed: median {m:.1} ns/msg");
    out.push(format!(
        "\"r_obj_encode_typed\": {{\"median\": {m:.1}, \"unit\": \"ns/msg\", \"n\": {n}, \"runs\": {enc:?}}}"
    ));
    println!("{{{}}}", out.join(", "));
}
