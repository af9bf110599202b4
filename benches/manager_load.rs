//! The manager under load: many concurrent clients for a sustained run.
//!
//! `cargo bench --bench manager_load -- [--quick] [--clients N]
//! [--procs P] [--seconds S]` prints one JSON object; `benches/run.sh`
//! puts it in BENCHMARKS.md ("Manager under load").
//!
//! The server is the standalone `mpipc manager serve`, a process of its
//! own, so that its memory is measured alone. `--clients` connections
//! (default 256) are spread over `--procs` client processes (default 16,
//! forked, each running one thread per connection). Every connection, until
//! the deadline, loops over: `incr` of its own counter in dict "counters",
//! `set` of one of 1,000 keys in dict "shared" (a bounded key space: the
//! data stops growing once every key exists, so a growing server means a
//! leak), `get` of another of them. Every 8th call's latency is sampled.
//!
//! Measured: calls per second over the whole run, latency percentiles,
//! errors (any failed call; must be 0), the server's VmRSS, threads and
//! open descriptors sampled every second, and at the end whether every
//! counter equals the number of its `incr` calls that returned OK (data
//! intact under load). The exit status is non-zero on any error or a
//! wrong counter; memory is reported, not judged (the report shows the
//! growth from the end of the warm-up to the end of the run).

#[allow(dead_code)] // this bench uses only the options
mod common;

use ciborium::Value;
use mpipc::{ListenerOptions, ManagerClient};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::FromRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MPIPC: &str = env!("CARGO_BIN_EXE_mpipc");
/// Keys of the shared dict.
const SHARED_KEYS: i64 = 1000;
/// Every SAMPLE_EVERY-th call is timed.
const SAMPLE_EVERY: u64 = 8;

/// What one connection did.
#[derive(Default)]
struct ClientResult {
    calls: u64,
    errors: u64,
    incr_ok: u64,
    first_error: Option<String>,
    latencies_ns: Vec<u32>,
}

fn int(n: i64) -> Value {
    Value::Integer(n.into())
}

/// One connection's loop until `deadline`.
fn client_loop(address: &str, id: u64, deadline: Instant) -> ClientResult {
    let mut r = ClientResult::default();
    let c = match ManagerClient::connect(address, &ListenerOptions::default(), Some(Duration::from_secs(30))) {
        Ok(c) => c,
        Err(e) => {
            r.errors = 1;
            r.first_error = Some(format!("connect: {e}"));
            return r;
        }
    };
    let me = Value::Text(format!("c{id}"));
    let mut i: u64 = 0;
    while Instant::now() < deadline {
        let key = ((id * 7919 + i) % SHARED_KEYS as u64) as i64;
        let t = (i % SAMPLE_EVERY == 0).then(Instant::now);
        let res = match i % 3 {
            0 => c.call("dict", "counters", "incr", vec![me.clone(), int(1)]).map(|_| r.incr_ok += 1),
            1 => c.call("dict", "shared", "set", vec![int(key), Value::Bytes(vec![id as u8; 32])]).map(drop),
            // The key may not exist yet early in the run: get with a default.
            _ => c.call("dict", "shared", "get", vec![int(key), Value::Null]).map(drop),
        };
        if let Some(t) = t {
            r.latencies_ns.push(t.elapsed().as_nanos().min(u32::MAX as u128) as u32);
        }
        r.calls += 1;
        if let Err(e) = res {
            r.errors += 1;
            r.first_error.get_or_insert_with(|| e.to_string());
            if !c.is_connected() {
                break;
            }
        }
        i += 1;
    }
    r
}

/// A client process: `conns` threads, then the results on `out` as text
/// lines "id calls errors incr_ok" and one line of latency samples.
fn client_process(address: &str, first_id: u64, conns: u64, deadline: Instant, out: &mut std::fs::File) {
    let threads: Vec<_> = (first_id..first_id + conns)
        .map(|id| {
            let a = address.to_owned();
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || (id, client_loop(&a, id, deadline)))
                .expect("spawn client thread")
        })
        .collect();
    let mut text = String::new();
    let mut lat = Vec::new();
    for t in threads {
        let (id, r) = t.join().expect("client thread");
        text.push_str(&format!("R {id} {} {} {}\n", r.calls, r.errors, r.incr_ok));
        if let Some(e) = r.first_error {
            text.push_str(&format!("E {id} {}\n", e.replace('\n', " ")));
        }
        lat.extend(r.latencies_ns);
    }
    text.push('L');
    for l in lat {
        text.push_str(&format!(" {l}"));
    }
    text.push('\n');
    out.write_all(text.as_bytes()).expect("report");
}

/// The server's VmRSS (kB), thread count and open descriptors.
fn server_sample(pid: u32) -> (u64, u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count() as u64).unwrap_or(0);
    (field("VmRSS:"), field("Threads:"), fds)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p) as usize] as f64 / 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = common::BenchArgs::parse(&args);
    let value = |name: &str| args.windows(2).find(|w| w[0] == name).map(|w| w[1].parse::<u64>().expect(name));
    let clients = value("--clients").unwrap_or(256);
    let procs = value("--procs").unwrap_or(16).clamp(1, clients);
    let seconds = value("--seconds").unwrap_or(if opts.quick { 3 } else { 60 });

    let address = format!("unix:@mpipc-bench-load-{}", std::process::id());
    let mut server = Command::new(MPIPC)
        .args(["manager", "serve", "--address", &address])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mpipc manager serve");
    let mut line = String::new();
    BufReader::new(server.stderr.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("serving at"), "server said: {line}");
    let idle = server_sample(server.id());

    // Fork the client processes while this process has one thread (a fork
    // copies no other thread, so none can hold a lock the child needs).
    let start = Instant::now() + Duration::from_millis(500);
    let deadline = start + Duration::from_secs(seconds);
    let per = clients / procs;
    let mut kids = Vec::new();
    let mut first = 0;
    for p in 0..procs {
        let conns = per + u64::from(p < clients % procs);
        let fds = common::pipe_fds();
        // SAFETY: fork; the child only runs client_process and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: the write end of our pipe, owned by this child now.
            let mut out = unsafe { std::fs::File::from_raw_fd(fds[1]) };
            std::thread::sleep(start.saturating_duration_since(Instant::now()));
            client_process(&address, first, conns, deadline, &mut out);
            drop(out);
            // SAFETY: leave without running the parent's atexit handlers.
            unsafe { libc::_exit(0) };
        }
        // SAFETY: closing the child's end in the parent.
        unsafe { libc::close(fds[1]) };
        // SAFETY: the read end, owned by us.
        kids.push((pid, unsafe { std::fs::File::from_raw_fd(fds[0]) }));
        first += conns;
    }
    // Keep draining the server's log so it never blocks on a full pipe.
    let mut log = server.stderr.take().unwrap();
    let drain = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = log.read_to_string(&mut s);
        s
    });
    // Reports are read by one thread per child, so that no child blocks
    // on a full pipe while we sample the server.
    let readers: Vec<_> = kids
        .into_iter()
        .map(|(pid, mut f)| {
            std::thread::spawn(move || {
                let mut s = String::new();
                f.read_to_string(&mut s).expect("read report");
                let mut st = 0;
                // SAFETY: waiting for our child.
                unsafe { libc::waitpid(pid, &mut st, 0) };
                (s, libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0)
            })
        })
        .collect();

    std::thread::sleep(start.saturating_duration_since(Instant::now()));
    let mut samples = Vec::new(); // (t s, rss kB, threads, fds)
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1).min(deadline.saturating_duration_since(Instant::now())));
        let (rss, threads, fds) = server_sample(server.id());
        samples.push((start.elapsed().as_secs_f64(), rss, threads, fds));
    }
    let mut calls = 0u64;
    let mut errors = 0u64;
    let mut incr_ok = std::collections::HashMap::new();
    let mut lat: Vec<u32> = Vec::new();
    let mut error_lines = Vec::new();
    let mut kids_ok = true;
    for r in readers {
        let (text, ok) = r.join().expect("reader");
        kids_ok &= ok;
        for l in text.lines() {
            let mut w = l.split(' ');
            match w.next() {
                Some("R") => {
                    let v: Vec<u64> = w.map(|x| x.parse().unwrap()).collect();
                    calls += v[1];
                    errors += v[2];
                    incr_ok.insert(v[0], v[3]);
                }
                Some("E") => error_lines.push(l.to_owned()),
                Some("L") => lat.extend(w.filter(|x| !x.is_empty()).map(|x| x.parse::<u32>().unwrap())),
                _ => {}
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();

    // Data intact: every counter equals its acknowledged increments.
    let checker = ManagerClient::connect(&address, &ListenerOptions::default(), Some(Duration::from_secs(10)))
        .expect("connect checker");
    let mut wrong = 0;
    for (id, n) in &incr_ok {
        let got =
            checker.call("dict", "counters", "get", vec![Value::Text(format!("c{id}")), int(0)]).expect("read counter");
        if got != int(*n as i64) {
            wrong += 1;
            if wrong <= 5 {
                eprintln!("counter c{id}: server has {got:?}, {n} increments were acknowledged");
            }
        }
    }
    let shared_len = checker.call("dict", "shared", "len", vec![]).expect("len");
    // The clients have gone: their connection threads end, their
    // descriptors close (one connection, the checker's, is still open).
    let t0 = Instant::now();
    let mut after_run = server_sample(server.id());
    while after_run.1 > idle.1 + 1 && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
        after_run = server_sample(server.id());
    }
    drop(checker);
    // SAFETY: a signal to our child.
    unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGTERM) };
    let server_ok = server.wait().map(|s| s.success()).unwrap_or(false);
    let _ = drain.join();

    lat.sort_unstable();
    // Memory: the sample at the end of the warm-up (10 % of the run, at
    // least 1 s) against the last one, and the largest.
    let warm = samples.iter().find(|s| s.0 >= (seconds as f64 * 0.1).max(1.0)).or(samples.first()).copied();
    let last = samples.last().copied();
    let max_rss = samples.iter().map(|s| s.1).max().unwrap_or(0);
    for e in error_lines.iter().take(5) {
        eprintln!("{e}");
    }
    let (warm_rss, last_rss) = (warm.map_or(0, |s| s.1), last.map_or(0, |s| s.1));
    eprintln!(
        "manager_load: {clients} clients x {seconds} s: {:.0} calls/s, {errors} errors, p50 {:.0} us, p99 {:.0} us; \
         server RSS {} kB idle, {warm_rss} kB after warm-up, {last_rss} kB at the end (max {max_rss} kB); \
         counters {} of {} exact",
        calls as f64 / elapsed,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        idle.0,
        incr_ok.len() - wrong,
        incr_ok.len()
    );
    println!(
        "{{\"manager_load\": {{\"clients\": {clients}, \"procs\": {procs}, \"seconds\": {seconds}, \"elapsed_s\": {elapsed:.2}, \
         \"calls\": {calls}, \"calls_per_s\": {:.0}, \"errors\": {errors}, \"p50_us\": {:.1}, \"p99_us\": {:.1}, \
         \"p999_us\": {:.1}, \"max_us\": {:.1}, \"server_rss_kb_idle\": {}, \"server_rss_kb_warm\": {warm_rss}, \
         \"server_rss_kb_end\": {last_rss}, \"server_rss_kb_max\": {max_rss}, \"server_threads_peak\": {}, \
         \"server_threads_after\": {}, \"server_fds_peak\": {}, \"server_fds_after\": {}, \"counters\": {}, \
         \"counters_wrong\": {wrong}, \"shared_keys\": {}, \"rss_samples_kb\": [{}]}}}}",
        calls as f64 / elapsed,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 0.999),
        percentile(&lat, 1.0),
        idle.0,
        samples.iter().map(|s| s.2).max().unwrap_or(0),
        after_run.1,
        samples.iter().map(|s| s.3).max().unwrap_or(0),
        after_run.2,
        incr_ok.len(),
        match shared_len {
            Value::Integer(n) => i128::from(n).to_string(),
            other => format!("\"{other:?}\""),
        },
        samples.iter().map(|s| s.1.to_string()).collect::<Vec<_>>().join(", ")
    );
    if errors > 0 || wrong > 0 || !kids_ok || !server_ok || incr_ok.len() as u64 != clients {
        eprintln!(
            "manager_load: FAILED ({errors} errors, {wrong} wrong counters, clients ok: {kids_ok}, server exit ok: {server_ok})"
        );
        std::process::exit(1);
    }
}
