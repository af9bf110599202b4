//! Queue benchmarks across real processes (this binary re-executes itself
//! in producer / consumer / pinger / ponger roles).
//!
//! `cargo bench --bench queue -- [--quick] [--repeat N] [--only NAME[,NAME]]`
//! prints one JSON object (`--only` takes name prefixes); `benches/run.sh`
//! runs it beside Python's multiprocessing.Queue and writes BENCHMARKS.md.
//!
//! Workloads (64-byte messages unless said otherwise):
//! - q_tput: 1 producer process -> 1 consumer process; per-message calls
//!   (`put`/`get_into`) and batched calls (`put_many`/`get_many_into`).
//! - q_latency: ping-pong through two queues; round-trip times with the
//!   default spin and with spinning disabled (pure futex path).
//! - q_mpmc: 2 producers, 2 consumers, maxsize 1000; per-message and batched.
//! - q_bw: 1 MiB messages, 1 producer -> 1 consumer (`put` from a reused
//!   buffer, `get_into` a reused buffer), a ring of 4 messages; GB/s of
//!   payload (10^9 bytes per second).
//! - q_bw_zc: q_bw through the zero-copy calls: the producer `reserve`s,
//!   copies its message into the reservation (the one copy a serialiser
//!   writing in place would make) and `commit`s; the consumer takes a
//!   `get_view`, reads every byte of it in place (sums it as u64 words),
//!   and `release`s it. One copy and one read per message, not two copies.
//! - memcpy_bw: the yardstick for q_bw: one process `memcpy`s the same 1 MiB
//!   messages from the same kind of source buffer into successive slots of
//!   a buffer as large as q_bw's ring (the same working set), GB/s. A queue
//!   copies every message twice (in and out); with the two copies in two
//!   processes overlapping, it can approach 1x of this; done one after the
//!   other, 0.5x. q_bw and q_bw_zc report the median of their per-round
//!   ratios to it (`ratio_to_memcpy`, all three run in turn).
//!
//! Timing: the parent starts the clock when it releases the children (all
//! already attached and waiting) and stops it when every consumer has
//! reported that it received its share, so process start-up is excluded and
//! every message is counted as delivered.

mod common;
use common::median;

use mpipc::{Queue, QueueOptions};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const MSG: usize = 64;
/// Message size of q_bw and memcpy_bw.
const BIG: usize = 1 << 20;
/// q_bw's ring: room for 4 messages of BIG bytes (each record has an 8-byte
/// header).
const BIG_RING: usize = 4 * (BIG + 8);

fn arg(args: &[String], name: &str) -> String {
    args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone()).unwrap_or_else(|| panic!("missing {name}"))
}

fn num(args: &[String], name: &str) -> u64 {
    arg(args, name).parse().expect("number")
}

/// Children announce readiness on `<ctl>` and wait for one "go" on `<ctl>-go`.
fn handshake(ctl: &str) -> Queue {
    let c = Queue::open(ctl, &QueueOptions::default()).expect("ctl");
    c.put_bytes(b"ready").expect("ready");
    let go = Queue::open(&format!("{ctl}-go"), &QueueOptions::default()).expect("go");
    go.get_bytes().expect("go");
    c
}

fn producer(args: &[String]) {
    let q = Queue::open(&arg(args, "--queue"), &QueueOptions::default()).expect("open");
    let (n, batch, size) = (num(args, "--n"), num(args, "--batch") as usize, num(args, "--size") as usize);
    let zc = num(args, "--zc") == 1;
    let ctl = handshake(&arg(args, "--ctl"));
    let msg = vec![7u8; size];
    let mut sent = 0u64;
    if zc {
        while sent < n {
            let mut r = q.reserve(size, None).expect("reserve");
            r.copy_from_slice(&msg);
            r.commit(size).expect("commit");
            sent += 1;
        }
    } else if batch <= 1 {
        while sent < n {
            q.put_bytes(&msg).expect("put");
            sent += 1;
        }
    } else {
        let msgs = vec![&msg[..]; batch];
        while sent < n {
            let k = (n - sent).min(batch as u64) as usize;
            sent += q.put_many(&msgs[..k], None).expect("put_many") as u64;
        }
    }
    ctl.put_bytes(format!("sent {sent}").as_bytes()).expect("report");
}

fn consumer(args: &[String]) {
    let q = Queue::open(&arg(args, "--queue"), &QueueOptions::default()).expect("open");
    let (batch, size) = (num(args, "--batch") as usize, num(args, "--size") as usize);
    let zc = num(args, "--zc") == 1;
    let ctl = handshake(&arg(args, "--ctl"));
    let mut got = 0u64;
    let mut bytes = 0u64;
    // Consumers run until the parent shuts the queue down after every
    // producer finished: then they drain it and get Shutdown.
    let done = |e: mpipc::Error| assert_eq!(e.kind(), mpipc::ErrorKind::Shutdown, "{e}");
    if zc {
        let mut sum = 0u64;
        loop {
            match q.get_view(None) {
                Ok(v) => {
                    // Read every byte in place, as a consumer using it would.
                    // SAFETY: any bytes are valid u64s; align_to keeps the
                    // unaligned ends out of the middle slice.
                    let (pre, words, post) = unsafe { v.align_to::<u64>() };
                    // Eight independent sums: the loop vectorises and is
                    // not one long dependency chain.
                    let mut acc = [0u64; 8];
                    let lines = words.chunks_exact(8);
                    let tail = lines.remainder();
                    for line in lines {
                        for (a, w) in acc.iter_mut().zip(line) {
                            *a = a.wrapping_add(*w);
                        }
                    }
                    sum = acc.iter().chain(tail).fold(sum, |a, &w| a.wrapping_add(w));
                    sum = pre.iter().chain(post).fold(sum, |a, &b| a.wrapping_add(b as u64));
                    bytes += v.len() as u64;
                    v.release().expect("release");
                }
                Err(e) => break done(e),
            }
            got += 1;
        }
        std::hint::black_box(sum);
    } else if batch <= 1 {
        let mut buf = vec![0u8; size];
        loop {
            match q.get_into(&mut buf, None) {
                Ok(n) => bytes += n as u64,
                Err(e) => break done(e),
            }
            got += 1;
        }
    } else {
        let mut buf = vec![0u8; size * batch];
        let mut lens = vec![0usize; batch];
        loop {
            match q.get_many_into(&mut buf, &mut lens, None) {
                Ok((k, b)) => {
                    got += k as u64;
                    bytes += b as u64;
                }
                Err(e) => break done(e),
            }
        }
    }
    assert_eq!(bytes, got * size as u64, "every message arrives whole");
    ctl.put_bytes(format!("done {got}").as_bytes()).expect("done");
}

fn pinger(args: &[String]) {
    let (q1, q2) = (
        Queue::open(&arg(args, "--q1"), &QueueOptions::default()).unwrap(),
        Queue::open(&arg(args, "--q2"), &QueueOptions::default()).unwrap(),
    );
    let spin = num(args, "--spin") as u32;
    q1.set_spin_us(spin);
    q2.set_spin_us(spin);
    let rounds = num(args, "--rounds") as usize;
    let ctl = handshake(&arg(args, "--ctl"));
    let msg = [1u8; MSG];
    let mut buf = [0u8; MSG];
    let mut rtts = Vec::with_capacity(rounds);
    for i in 0..rounds + rounds / 10 {
        let t = Instant::now();
        q1.put_bytes(&msg).unwrap();
        q2.get_into(&mut buf, None).unwrap();
        if i >= rounds / 10 {
            rtts.push(t.elapsed().as_nanos() as u64);
        }
    }
    q1.put_bytes(b"").unwrap(); // tells the ponger to stop
    rtts.sort_unstable();
    let pct = |p: f64| rtts[((rtts.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    ctl.put_bytes(format!("done {} {} {}", pct(0.5), pct(0.99), pct(0.0)).as_bytes()).unwrap();
}

fn ponger(args: &[String]) {
    let (q1, q2) = (
        Queue::open(&arg(args, "--q1"), &QueueOptions::default()).unwrap(),
        Queue::open(&arg(args, "--q2"), &QueueOptions::default()).unwrap(),
    );
    let spin = num(args, "--spin") as u32;
    q1.set_spin_us(spin);
    q2.set_spin_us(spin);
    let _ctl = handshake(&arg(args, "--ctl"));
    let mut buf = [0u8; MSG];
    loop {
        let n = q1.get_into(&mut buf, None).unwrap();
        if n == 0 {
            return;
        }
        q2.put_bytes(&buf[..n]).unwrap();
    }
}

/// Spawns the children and releases them together. If `data` is given,
/// waits for `producers` "sent" reports, then shuts `data` down so the
/// consumers drain it and stop; then waits for `consumers` "done" reports.
/// Returns the elapsed time and the consumers' reports.
fn run_children(
    ctl: &str,
    children: Vec<Vec<String>>,
    producers: usize,
    data: Option<&Queue>,
    consumers: usize,
) -> (Duration, Vec<String>) {
    let exe = std::env::current_exe().unwrap();
    let c = Queue::open(ctl, &QueueOptions::default()).unwrap();
    let go = Queue::open(&format!("{ctl}-go"), &QueueOptions::default()).unwrap();
    let n = children.len();
    let mut procs: Vec<Child> = children.into_iter().map(|a| Command::new(&exe).args(a).spawn().unwrap()).collect();
    for _ in 0..n {
        assert_eq!(c.get_bytes_timeout(Some(Duration::from_secs(30))).expect("child ready"), b"ready");
    }
    let t0 = Instant::now();
    for _ in 0..n {
        go.put_bytes(b"go").unwrap();
    }
    let report =
        || String::from_utf8(c.get_bytes_timeout(Some(Duration::from_secs(300))).expect("child report")).unwrap();
    let sent: u64 = (0..producers).map(|_| report()["sent ".len()..].parse::<u64>().unwrap()).sum();
    if let Some(q) = data {
        q.shutdown(false).unwrap();
    }
    let reports: Vec<String> = (0..consumers).map(|_| report()).collect();
    if data.is_some() {
        let got: u64 = reports.iter().map(|r| r["done ".len()..].parse::<u64>().unwrap()).sum();
        assert_eq!(got, sent, "every message sent was received");
    }
    let elapsed = t0.elapsed();
    for p in procs.iter_mut() {
        assert!(p.wait().unwrap().success());
    }
    (elapsed, reports)
}

struct Names(Vec<String>);

impl Names {
    fn new(tags: &[&str]) -> Names {
        let pid = std::process::id();
        let v: Vec<String> = tags.iter().map(|t| format!("bench-{t}-{pid}")).collect();
        for n in &v {
            let _ = Queue::unlink(n);
        }
        Names(v)
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Queue::unlink(n);
            let _ = Queue::unlink(&format!("{n}-go"));
        }
    }
}

fn s(v: &str) -> String {
    v.to_owned()
}

/// The shape of a throughput workload.
#[derive(Clone, Copy)]
struct Tput {
    producers: usize,
    consumers: usize,
    /// Messages in all.
    n: u64,
    /// Messages per call (1 = `put` / `get_into`).
    batch: usize,
    maxsize: usize,
    capacity: usize,
    /// Bytes per message.
    size: usize,
    /// Through reserve/commit and get_view/release.
    zc: bool,
}

/// Messages per second for `producers` -> `consumers` over one queue.
fn throughput(tag: &str, w: Tput) -> f64 {
    let Tput { producers, consumers, n, batch, maxsize, capacity, size, zc } = w;
    let zc = (zc as u8).to_string();
    let names = Names::new(&[tag, &format!("{tag}-ctl")]);
    let (q, ctl) = (&names.0[0], &names.0[1]);
    let queue = Queue::open(q, &QueueOptions { maxsize, capacity_bytes: capacity, ..Default::default() }).unwrap();
    let per_p = n / producers as u64;
    let mut kids = Vec::new();
    for _ in 0..producers {
        kids.push(vec![
            s("producer"),
            s("--queue"),
            q.clone(),
            s("--ctl"),
            ctl.clone(),
            s("--n"),
            per_p.to_string(),
            s("--batch"),
            batch.to_string(),
            s("--size"),
            size.to_string(),
            s("--zc"),
            zc.clone(),
        ]);
    }
    for _ in 0..consumers {
        kids.push(vec![
            s("consumer"),
            s("--queue"),
            q.clone(),
            s("--ctl"),
            ctl.clone(),
            s("--batch"),
            batch.to_string(),
            s("--size"),
            size.to_string(),
            s("--zc"),
            zc.clone(),
        ]);
    }
    let (elapsed, _) = run_children(ctl, kids, producers, Some(&queue), consumers);
    (per_p * producers as u64) as f64 / elapsed.as_secs_f64()
}

/// Median, p99 and min round trip in µs.
fn latency(spin_us: u32, rounds: usize) -> (f64, f64, f64) {
    let names = Names::new(&["ping", "pong", "lat-ctl"]);
    let opts = QueueOptions { capacity_bytes: 1 << 16, ..Default::default() };
    let _q1 = Queue::open(&names.0[0], &opts).unwrap();
    let _q2 = Queue::open(&names.0[1], &opts).unwrap();
    let common = |role: &str| {
        vec![
            s(role),
            s("--q1"),
            names.0[0].clone(),
            s("--q2"),
            names.0[1].clone(),
            s("--ctl"),
            names.0[2].clone(),
            s("--spin"),
            spin_us.to_string(),
            s("--rounds"),
            rounds.to_string(),
        ]
    };
    let (_, reports) = run_children(&names.0[2], vec![common("pinger"), common("ponger")], 0, None, 1);
    let f: Vec<f64> = reports[0].split_whitespace().skip(1).map(|x| x.parse().unwrap()).collect();
    (f[0], f[1], f[2])
}

/// memcpy_bw: bytes per second of `n` copies of a `size`-byte message into
/// successive `size`-byte slots of a `ring`-byte buffer (see the module doc).
fn memcpy_bw(n: u64, size: usize, ring: usize) -> f64 {
    let src = vec![7u8; size];
    let mut dst = vec![0u8; ring];
    let slots = ring / size;
    let t0 = Instant::now();
    for i in 0..n as usize {
        let at = (i % slots) * size;
        dst[at..at + size].copy_from_slice(&src);
        // Keep the copy: the optimiser may not drop stores it cannot see read.
        std::hint::black_box(&mut dst);
    }
    let t = t0.elapsed();
    (n as usize * size) as f64 / t.as_secs_f64()
}

fn fmt_runs(v: &[f64]) -> String {
    format!("[{}]", v.iter().map(|x| format!("{x:.1}")).collect::<Vec<_>>().join(", "))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("producer") => return producer(&args[1..]),
        Some("consumer") => return consumer(&args[1..]),
        Some("pinger") => return pinger(&args[1..]),
        Some("ponger") => return ponger(&args[1..]),
        _ => {}
    }
    let opts = common::BenchArgs::parse(&args);
    let (quick, repeat) = (opts.quick, opts.repeat);
    let scale = if quick { 10 } else { 1 };
    // `--only a,b`: workloads starting with any of the comma-separated
    // prefixes (e.g. `--only q_bw,memcpy_bw`).
    let only: Option<Vec<String>> =
        args.windows(2).find(|w| w[0] == "--only").map(|w| w[1].split(',').map(str::to_owned).collect());
    let wanted = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|p| name.starts_with(p.as_str())));
    let batch = 256;
    let mut sections = Vec::new();
    let mut tput = |name: &str, p: usize, c: usize, n: u64, b: usize, maxsize: usize, cap: usize| {
        if !wanted(name) {
            return;
        }
        let w =
            Tput { producers: p, consumers: c, n: n / scale, batch: b, maxsize, capacity: cap, size: MSG, zc: false };
        let runs: Vec<f64> = (0..repeat).map(|_| throughput(name, w)).collect();
        eprintln!("{name}: median {:.0} msg/s", median(runs.clone()));
        sections.push(format!(
            "\"{name}\": {{\"msgs_per_s\": {:.0}, \"runs\": {}, \"n\": {}, \"batch\": {b}, \"maxsize\": {maxsize}, \"capacity_bytes\": {cap}}}",
            median(runs.clone()),
            fmt_runs(&runs),
            n / scale
        ));
    };
    tput("q_tput_single", 1, 1, 2_000_000, 1, 0, 1 << 20);
    tput("q_tput_batch", 1, 1, 20_000_000, batch, 0, 1 << 20);
    tput("q_mpmc_single", 2, 2, 2_000_000, 1, 1000, 1 << 20);
    tput("q_mpmc_batch", 2, 2, 10_000_000, batch, 1000, 1 << 20);
    // The large-message pair, round-robin (one run of each per round).
    let n_big = 4096 / scale;
    let big =
        Tput { producers: 1, consumers: 1, n: n_big, batch: 1, maxsize: 0, capacity: BIG_RING, size: BIG, zc: false };
    let big_zc = Tput { zc: true, ..big };
    type Workload<'a> = (&'a str, Box<dyn Fn() -> f64>);
    let bw: Vec<Workload> = vec![
        ("q_bw", Box::new(move || throughput("q_bw", big) * BIG as f64)),
        ("q_bw_zc", Box::new(move || throughput("q_bw_zc", big_zc) * BIG as f64)),
        ("memcpy_bw", Box::new(move || memcpy_bw(n_big, BIG, BIG_RING))),
    ];
    let bw: Vec<_> = bw.into_iter().filter(|(name, _)| wanted(name)).collect();
    let mut bw_runs: Vec<Vec<f64>> = vec![Vec::new(); bw.len()];
    for _ in 0..repeat {
        for (i, (_, f)) in bw.iter().enumerate() {
            bw_runs[i].push(f());
        }
    }
    let memcpy_runs = bw.iter().position(|(n, _)| *n == "memcpy_bw").map(|i| bw_runs[i].clone());
    for ((name, _), runs) in bw.iter().zip(&bw_runs) {
        let gb: Vec<f64> = runs.iter().map(|r| r / 1e9).collect();
        let ratio = match (*name, &memcpy_runs) {
            ("q_bw" | "q_bw_zc", Some(m)) => {
                let r = median(runs.iter().zip(m).map(|(q, m)| q / m).collect());
                eprintln!("{name}: median ratio to memcpy_bw {r:.3}");
                format!(", \"ratio_to_memcpy\": {r:.3}")
            }
            _ => String::new(),
        };
        eprintln!("{name}: median {:.2} GB/s", median(gb.clone()));
        let runs_gb = gb.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join(", ");
        sections.push(format!(
            "\"{name}\": {{\"gb_per_s\": {:.3}, \"runs\": [{runs_gb}], \"n\": {n_big}, \"msg_bytes\": {BIG}, \"capacity_bytes\": {BIG_RING}{ratio}}}",
            median(gb.clone())
        ));
    }
    let rounds = 20_000 / scale as usize;
    for (name, spin) in [("q_latency_spin", 50u32), ("q_latency_futex", 0u32)] {
        if !wanted(name) {
            continue;
        }
        let runs: Vec<(f64, f64, f64)> = (0..repeat).map(|_| latency(spin, rounds)).collect();
        let med = median(runs.iter().map(|r| r.0).collect());
        eprintln!("{name}: median round trip {med:.2} us");
        sections.push(format!(
            "\"{name}\": {{\"median_us\": {med:.2}, \"p99_us\": {:.2}, \"min_us\": {:.2}, \"runs_median_us\": {}, \"rounds\": {rounds}, \"spin_us\": {spin}}}",
            median(runs.iter().map(|r| r.1).collect()),
            median(runs.iter().map(|r| r.2).collect()),
            fmt_runs(&runs.iter().map(|r| r.0).collect::<Vec<_>>())
        ));
    }
    println!("{{\"repeat\": {repeat}, {}}}", sections.join(", "));
}
