//! Manager benchmarks through the C ABI (`mp_mgr_*`, exactly as a C
//! program calls them), client processes forked before the server starts.
//!
//! `cargo bench --bench manager -- [--quick] [--repeat N] [--only PREFIX]
//! [--n N]` prints one JSON object; `benches/run.sh` puts it beside
//! Python's Manager. `--only` runs the workloads whose names start with
//! PREFIX (`mgr_dict` selects both dict workloads); `--n` sets N of the
//! dict workloads (the busy-machine section of benches/run.sh runs a larger
//! N than the quiet one: short runs beside CPU hogs are mostly noise).
//!
//! - mgr_dict: 2 client processes, each N (default 10,000; `--quick`
//!   1,000) `mp_mgr_dict_set` then N `mp_mgr_dict_get` on one dict; total
//!   ops per second.
//! - mgr_dict_pipelined: the same through `mp_mgr_call_many`, 100 requests
//!   per batch.
//! - mgr_get_rtt: one client process, `mp_mgr_dict_get` of a 16-byte value,
//!   1,000 warm-up then timed round trips; median / p99.
//!
//! Clients connect before the clock starts; it stops when the last exits.

mod common;
use common::{median, pipe_fds, signal, wait_byte};

use ciborium::Value;
use mpipc::manager::protocol::encode_value;
use mpipc_ffi::bytes::{mp_buf, mp_buf_free};
use mpipc_ffi::manager::*;
use mpipc_ffi::manager_server::*;
use mpipc_ffi::status::MP_OK;
use std::ffi::CString;
use std::time::Instant;

const CLIENTS: usize = 2;

fn cbor(v: Value) -> Vec<u8> {
    encode_value(&v)
}

fn connect(addr: &CString) -> *mut mp_mgr {
    let mut m = std::ptr::null_mut();
    for _ in 0..500 {
        // SAFETY: valid arguments; retried while the server is starting.
        if unsafe { mp_mgr_connect(addr.as_ptr(), std::ptr::null(), 0, 1000, &mut m) } == MP_OK {
            return m;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("cannot connect to the manager");
}

/// One client's work on an open connection: `n` sets then `n` gets,
/// singly or in batches.
fn client_work(m: *mut mp_mgr, id: usize, n: usize, batch: usize) {
    let dict = c"bench";
    let key = |i: usize| Value::Integer(((id * 1_000_000 + i) as i64).into());
    // SAFETY: m is live; buffers are valid for the calls.
    unsafe {
        if batch <= 1 {
            let val = cbor(Value::Bytes(vec![7u8; 16]));
            for i in 0..n {
                let k = cbor(key(i));
                assert_eq!(mp_mgr_dict_set(m, dict.as_ptr(), k.as_ptr(), k.len(), val.as_ptr(), val.len()), MP_OK);
            }
            for i in 0..n {
                let k = cbor(key(i));
                let mut out = mp_buf { ptr: std::ptr::null_mut(), len: 0 };
                assert_eq!(mp_mgr_dict_get(m, dict.as_ptr(), k.as_ptr(), k.len(), &mut out), MP_OK);
                mp_buf_free(&mut out);
            }
        } else {
            for method in ["set", "get"] {
                for start in (0..n).step_by(batch) {
                    let reqs: Vec<Value> = (start..(start + batch).min(n))
                        .map(|i| {
                            let mut args = vec![key(i)];
                            if method == "set" {
                                args.push(Value::Bytes(vec![7u8; 16]));
                            }
                            Value::Array(vec![
                                Value::Text("dict".into()),
                                Value::Text("bench".into()),
                                Value::Text(method.into()),
                                Value::Array(args),
                            ])
                        })
                        .collect();
                    let r = cbor(Value::Array(reqs));
                    let mut out = mp_buf { ptr: std::ptr::null_mut(), len: 0 };
                    assert_eq!(mp_mgr_call_many(m, r.as_ptr(), r.len(), &mut out), MP_OK);
                    // Every reply must be a success.
                    let res: Value = ciborium::de::from_reader(std::slice::from_raw_parts(out.ptr, out.len)).unwrap();
                    assert!(res
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|x| x.as_array().unwrap()[0] == Value::Integer(0.into())));
                    mp_buf_free(&mut out);
                }
            }
        }
    }
}

/// Forks `clients` processes first (no thread exists yet), then starts the
/// server in this process. Each child connects, reports it is connected,
/// waits for "go", runs `work`, and writes a text report to `out`. The
/// clock runs from "go" to the last child's exit: connecting and forking
/// are not timed.
fn with_clients(tag: &str, clients: usize, work: impl Fn(*mut mp_mgr, usize) -> String) -> (f64, Vec<String>) {
    let addr = CString::new(format!("unix:@mpipc-bench-mgr-{tag}-{}", std::process::id())).unwrap();
    let (ready, connected, go, out) = (pipe_fds(), pipe_fds(), pipe_fds(), pipe_fds());
    let pids: Vec<libc::pid_t> = (0..clients)
        .map(|id| {
            // SAFETY: single-threaded here (the server starts after the forks).
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                wait_byte(ready[0]);
                let m = connect(&addr);
                signal(connected[1], 1);
                wait_byte(go[0]);
                let report = format!("{}\n", work(m, id));
                // SAFETY: m is live; the report fits the pipe buffer.
                unsafe {
                    mp_mgr_close(m);
                    libc::write(out[1], report.as_ptr().cast(), report.len());
                    libc::_exit(0);
                }
            }
            pid
        })
        .collect();
    let mut s = std::ptr::null_mut();
    // SAFETY: valid arguments.
    assert_eq!(unsafe { mp_mgr_serve(addr.as_ptr(), std::ptr::null(), 0, &mut s) }, MP_OK);
    signal(ready[1], clients);
    for _ in 0..clients {
        wait_byte(connected[0]);
    }
    let t0 = Instant::now();
    signal(go[1], clients);
    for pid in pids {
        let mut st = 0;
        // SAFETY: waiting for our children.
        unsafe { libc::waitpid(pid, &mut st, 0) };
        assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, "client failed");
    }
    let secs = t0.elapsed().as_secs_f64();
    let mut text = vec![0u8; 4096];
    // SAFETY: reading the children's reports (all written, they exited).
    let n = unsafe { libc::read(out[0], text.as_mut_ptr().cast(), text.len()) };
    text.truncate(n.max(0) as usize);
    // SAFETY: our server handle and descriptors.
    unsafe {
        assert_eq!(mp_mgr_server_shutdown(s), MP_OK);
        for fd in ready.iter().chain(&connected).chain(&go).chain(&out) {
            libc::close(*fd);
        }
    }
    (secs, String::from_utf8(text).unwrap().lines().map(str::to_owned).collect())
}

fn run(tag: &str, n: usize, batch: usize) -> f64 {
    let (secs, _) = with_clients(tag, CLIENTS, |m, id| {
        client_work(m, id, n, batch);
        String::new()
    });
    (CLIENTS * 2 * n) as f64 / secs
}

/// Median and p99 (µs) of `rounds` `mp_mgr_dict_get` round trips by one
/// client process (16-byte value, like the Python baseline).
fn rtt(tag: &str, rounds: usize) -> (f64, f64) {
    let (_, reports) = with_clients(tag, 1, |m, _| {
        let k = cbor(Value::Text("k".into()));
        let v = cbor(Value::Bytes(vec![7u8; 16]));
        let mut out = Vec::with_capacity(rounds);
        // SAFETY: m is live; buffers valid for the calls.
        unsafe {
            assert_eq!(mp_mgr_dict_set(m, c"rtt".as_ptr(), k.as_ptr(), k.len(), v.as_ptr(), v.len()), MP_OK);
            for i in 0..rounds + 1000 {
                let t = Instant::now();
                let mut b = mp_buf { ptr: std::ptr::null_mut(), len: 0 };
                assert_eq!(mp_mgr_dict_get(m, c"rtt".as_ptr(), k.as_ptr(), k.len(), &mut b), MP_OK);
                if i >= 1000 {
                    out.push(t.elapsed().as_nanos() as f64 / 1000.0);
                }
                assert_eq!(std::slice::from_raw_parts(b.ptr, b.len), &v[..]);
                mp_buf_free(&mut b);
            }
        }
        out.sort_by(|a, b| a.partial_cmp(b).unwrap());
        format!("{} {}", out[out.len() / 2], out[(out.len() - 1) * 99 / 100])
    });
    let f: Vec<f64> = reports[0].split_whitespace().map(|x| x.parse().unwrap()).collect();
    (f[0], f[1])
}

/// The workloads, in the order they run (the names `--only` matches).
const WORKLOADS: [&str; 3] = ["mgr_dict", "mgr_dict_pipelined", "mgr_get_rtt"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = common::BenchArgs::parse(&args);
    opts.check_only(&WORKLOADS);
    let (quick, repeat) = (opts.quick, opts.repeat);
    let n = common::number_arg(&args, "--n").unwrap_or(if quick { 1000 } else { 10_000 });
    // Client `id`'s keys are id * 1,000,000 + i (client_work).
    assert!((1..1_000_000).contains(&n), "--n must be between 1 and 999,999");
    let mut out = vec![format!("\"repeat\": {repeat}")];
    for (name, batch) in [("mgr_dict", 1usize), ("mgr_dict_pipelined", 100)] {
        if !opts.wanted(name) {
            continue;
        }
        let runs: Vec<f64> = (0..repeat).map(|r| run(&format!("{name}-{r}"), n, batch)).collect();
        eprintln!("{name}: median {:.0} ops/s", median(runs.clone()));
        out.push(format!(
            "\"{name}\": {{\"ops_per_s\": {:.0}, \"runs\": [{}], \"clients\": {CLIENTS}, \"n_per_client\": {n}, \"batch\": {batch}}}",
            median(runs.clone()),
            runs.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ")
        ));
    }
    if opts.wanted("mgr_get_rtt") {
        let rounds = if quick { 2000 } else { 20_000 };
        let runs: Vec<(f64, f64)> = (0..repeat).map(|r| rtt(&format!("rtt-{r}"), rounds)).collect();
        let med = median(runs.iter().map(|r| r.0).collect());
        eprintln!("mgr_get_rtt: median {med:.2} us");
        out.push(format!(
            "\"mgr_get_rtt\": {{\"median_us\": {med:.2}, \"p99_us\": {:.2}, \"runs_median_us\": [{}], \"rounds\": {rounds}}}",
            median(runs.iter().map(|r| r.1).collect()),
            runs.iter().map(|r| format!("{:.2}", r.0)).collect::<Vec<_>>().join(", ")
        ));
    }
    println!("{{{}}}", out.join(", "));
}
