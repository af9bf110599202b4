//! Manager benchmarks through the C ABI (`mp_mgr_*`, exactly as a C
//! program calls them), client processes forked before the server starts.
//!
//! `cargo bench --bench manager -- [--quick] [--repeat N]` prints one JSON
//! object; `benches/run.sh` puts it beside Python's Manager.
//!
//! - mgr_dict: 2 client processes, each 10,000 `mp_mgr_dict_set` then
//!   10,000 `mp_mgr_dict_get` on one dict; total ops per second.
//! - mgr_dict_pipelined: the same through `mp_mgr_call_many`, 100 requests
//!   per batch.
//! - mgr_get_rtt: one client, `mp_mgr_dict_get` round trips; median / p99.

use ciborium::Value;
use mpipc::ffi::bytes::{mp_buf, mp_buf_free};
use mpipc::ffi::manager::*;
use mpipc::ffi::manager_server::*;
use mpipc::ffi::status::MP_OK;
use mpipc::manager::protocol::encode_value;
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

/// One client's work: `n` sets then `n` gets, singly or in batches.
fn client_work(addr: &CString, id: usize, n: usize, batch: usize) {
    let m = connect(addr);
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
        mp_mgr_close(m);
    }
}

/// Forks the clients first (no thread exists yet), then starts the server
/// in this process, releases the clients and times them.
fn run(tag: &str, n: usize, batch: usize) -> f64 {
    let addr = CString::new(format!("unix:@mpipc-bench-mgr-{tag}-{}", std::process::id())).unwrap();
    let mut go = [0i32; 2];
    // SAFETY: a pipe used as a start signal.
    assert_eq!(unsafe { libc::pipe(go.as_mut_ptr()) }, 0);
    let pids: Vec<libc::pid_t> = (0..CLIENTS)
        .map(|id| {
            // SAFETY: single-threaded here (the server starts after the forks).
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                let mut b = [0u8; 1];
                // SAFETY: reading the start byte from our pipe.
                unsafe { libc::read(go[0], b.as_mut_ptr().cast(), 1) };
                client_work(&addr, id, n, batch);
                // SAFETY: leave without running the parent's destructors.
                unsafe { libc::_exit(0) };
            }
            pid
        })
        .collect();
    let mut s = std::ptr::null_mut();
    // SAFETY: valid arguments.
    assert_eq!(unsafe { mp_mgr_serve(addr.as_ptr(), std::ptr::null(), 0, &mut s) }, MP_OK);
    let t0 = Instant::now();
    // SAFETY: writing the start bytes.
    unsafe { libc::write(go[1], [1u8; CLIENTS].as_ptr().cast(), CLIENTS) };
    for pid in pids {
        let mut st = 0;
        // SAFETY: waiting for our children.
        unsafe { libc::waitpid(pid, &mut st, 0) };
        assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, "client failed");
    }
    let secs = t0.elapsed().as_secs_f64();
    // SAFETY: our server handle; the fds are ours.
    unsafe {
        assert_eq!(mp_mgr_server_shutdown(s), MP_OK);
        libc::close(go[0]);
        libc::close(go[1]);
    }
    (CLIENTS * 2 * n) as f64 / secs
}

fn rtt(rounds: usize) -> Vec<f64> {
    let addr = CString::new(format!("unix:@mpipc-bench-mgr-rtt-{}", std::process::id())).unwrap();
    let mut s = std::ptr::null_mut();
    // SAFETY: valid arguments; the client is a thread of this process here:
    // the round trip still crosses the socket and the server thread.
    unsafe {
        assert_eq!(mp_mgr_serve(addr.as_ptr(), std::ptr::null(), 0, &mut s), MP_OK);
        let m = connect(&addr);
        let k = cbor(Value::Text("k".into()));
        let v = cbor(Value::Integer(1.into()));
        assert_eq!(mp_mgr_dict_set(m, c"rtt".as_ptr(), k.as_ptr(), k.len(), v.as_ptr(), v.len()), MP_OK);
        let mut out = Vec::with_capacity(rounds);
        for i in 0..rounds + rounds / 10 {
            let t = Instant::now();
            let mut b = mp_buf { ptr: std::ptr::null_mut(), len: 0 };
            assert_eq!(mp_mgr_dict_get(m, c"rtt".as_ptr(), k.as_ptr(), k.len(), &mut b), MP_OK);
            if i >= rounds / 10 {
                out.push(t.elapsed().as_nanos() as f64 / 1000.0);
            }
            mp_buf_free(&mut b);
        }
        mp_mgr_close(m);
        mp_mgr_server_shutdown(s);
        out.sort_by(|a, b| a.partial_cmp(b).unwrap());
        out
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let repeat: usize = args
        .windows(2)
        .find(|w| w[0] == "--repeat")
        .map(|w| w[1].parse().unwrap())
        .unwrap_or(if quick { 1 } else { 5 });
    let n = if quick { 1000 } else { 10_000 };
    let mut out = Vec::new();
    for (name, batch) in [("mgr_dict", 1usize), ("mgr_dict_pipelined", 100)] {
        let runs: Vec<f64> = (0..repeat).map(|r| run(&format!("{name}-{r}"), n, batch)).collect();
        eprintln!("{name}: median {:.0} ops/s", median(runs.clone()));
        out.push(format!(
            "\"{name}\": {{\"ops_per_s\": {:.0}, \"runs\": [{}], \"clients\": {CLIENTS}, \"n_per_client\": {n}, \"batch\": {batch}}}",
            median(runs.clone()),
            runs.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ")
        ));
    }
    let rounds = if quick { 2000 } else { 20_000 };
    let runs: Vec<Vec<f64>> = (0..repeat).map(|_| rtt(rounds)).collect();
    let pct = |v: &Vec<f64>, p: f64| v[((v.len() - 1) as f64 * p) as usize];
    let med = median(runs.iter().map(|v| pct(v, 0.5)).collect());
    eprintln!("mgr_get_rtt: median {med:.2} us");
    out.push(format!(
        "\"mgr_get_rtt\": {{\"median_us\": {med:.2}, \"p99_us\": {:.2}, \"runs_median_us\": [{}], \"rounds\": {rounds}}}",
        median(runs.iter().map(|v| pct(v, 0.99)).collect()),
        runs.iter().map(|v| format!("{:.2}", pct(v, 0.5))).collect::<Vec<_>>().join(", ")
    ));
    println!("{{\"repeat\": {repeat}, {}}}", out.join(", "));
}
