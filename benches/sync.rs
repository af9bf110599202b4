//! Shared array and lock benchmarks through the C ABI (`mp_array_*`,
//! `mp_lock_*`, exactly as a C program calls them), in forked processes.
//!
//! `cargo bench --bench sync -- [--quick] [--repeat N]` prints one JSON
//! object; `benches/run.sh` puts it beside Python's `Array` and `Lock`
//! (benches/python/mp_sync_bench.py).
//!
//! - array_incr: an array 'q' of length 1 with its lock; 2 processes each
//!   do N times `mp_array_lock(a, -1); ((int64_t *)mp_array_ptr(a))[0]++;
//!   mp_array_unlock(a)` (N = 100,000). ops/s = 2N / time from "go" to the
//!   last child's exit; the final count is checked to be exactly 2N.
//! - array_incr_call: the same with `mp_array_incr(a, 0, 1, NULL)` (one
//!   call that locks, adds and unlocks).
//! - lock_uncontended: one process, R times `mp_lock_acquire(l, -1);
//!   mp_lock_release(l)` on a named Lock (R = 2,000,000); ns per pair.
//! - rlock_uncontended: the same on an RLock.

mod common;
use common::{median, pipe_fds, signal, wait_byte};

use mpipc_ffi::array::*;
use mpipc_ffi::lock::*;
use mpipc_ffi::status::MP_OK;
use mpipc_ffi::MP_OPEN_CREATE_ONLY;
use std::ffi::CString;
use std::time::Instant;

const PROCS: usize = 2;

/// `PROCS` processes each run `n` increments of one shared counter, by
/// the explicit lock/ptr/unlock sequence or by `mp_array_incr`. Returns
/// ops/s.
fn array_incr(tag: &str, n: usize, by_call: bool) -> f64 {
    let name = CString::new(format!("bench-sync-{tag}-{}", std::process::id())).unwrap();
    let mut a = std::ptr::null_mut();
    // SAFETY: valid arguments; the handle is used by this process and,
    // after fork, by each child in its own copy of the address space
    // (the mapping is shared, the handle memory is copied).
    unsafe {
        assert_eq!(mp_array_open(name.as_ptr(), b'q' as _, 1, MP_OPEN_CREATE_ONLY, &mut a), MP_OK);
    }
    let (ready, go) = (pipe_fds(), pipe_fds());
    let pids: Vec<libc::pid_t> = (0..PROCS)
        .map(|_| {
            // SAFETY: the bench is single-threaded here.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                signal(ready[1], 1);
                wait_byte(go[0]);
                // SAFETY: a is a live handle in this process.
                unsafe {
                    let p = mp_array_ptr(a).cast::<i64>();
                    for _ in 0..n {
                        if by_call {
                            assert_eq!(mp_array_incr(a, 0, 1, std::ptr::null_mut()), MP_OK);
                        } else {
                            assert_eq!(mp_array_lock(a, -1), MP_OK);
                            p.write_volatile(p.read_volatile() + 1);
                            assert_eq!(mp_array_unlock(a), MP_OK);
                        }
                    }
                    libc::_exit(0);
                }
            }
            pid
        })
        .collect();
    for _ in 0..PROCS {
        wait_byte(ready[0]);
    }
    let t0 = Instant::now();
    signal(go[1], PROCS);
    for pid in pids {
        let mut st = 0;
        // SAFETY: waiting for our children.
        unsafe { libc::waitpid(pid, &mut st, 0) };
        assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, "child failed");
    }
    let secs = t0.elapsed().as_secs_f64();
    let mut total = 0i64;
    // SAFETY: our handle; descriptors are ours.
    unsafe {
        assert_eq!(mp_array_get_i64(a, 0, &mut total), MP_OK);
        mp_array_close(a);
        assert_eq!(mp_array_unlink(name.as_ptr()), MP_OK);
        for fd in ready.iter().chain(&go) {
            libc::close(*fd);
        }
    }
    assert_eq!(total, (PROCS * n) as i64, "the count must be exact");
    (PROCS * n) as f64 / secs
}

/// ns per acquire+release pair of an uncontended named lock.
fn lock_pair(tag: &str, rounds: usize, recursive: bool) -> f64 {
    let name = CString::new(format!("bench-sync-{tag}-{}", std::process::id())).unwrap();
    let flags = MP_OPEN_CREATE_ONLY | if recursive { MP_LOCK_RECURSIVE } else { 0 };
    let mut l = std::ptr::null_mut();
    // SAFETY: valid arguments; l is used only here.
    unsafe {
        assert_eq!(mp_lock_open(name.as_ptr(), flags, &mut l), MP_OK);
        let t0 = Instant::now();
        for _ in 0..rounds {
            if mp_lock_acquire(l, -1) != MP_OK || mp_lock_release(l) != MP_OK {
                panic!("lock failed");
            }
        }
        let ns = t0.elapsed().as_nanos() as f64 / rounds as f64;
        mp_lock_close(l);
        assert_eq!(mp_lock_unlink(name.as_ptr()), MP_OK);
        ns
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = common::BenchArgs::parse(&args);
    let (quick, repeat) = (opts.quick, opts.repeat);
    let n = if quick { 5_000 } else { 100_000 };
    let rounds = if quick { 50_000 } else { 2_000_000 };
    let mut out = Vec::new();
    for (key, by_call) in [("array_incr", false), ("array_incr_call", true)] {
        if !opts.wanted(key) {
            continue;
        }
        let runs: Vec<f64> = (0..repeat).map(|r| array_incr(&format!("{key}-{r}"), n, by_call)).collect();
        eprintln!("{key}: median {:.0} ops/s", median(runs.clone()));
        out.push(format!(
            "\"{key}\": {{\"ops_per_s\": {:.0}, \"runs\": {:?}, \"procs\": {PROCS}, \"n_per_proc\": {n}}}",
            median(runs.clone()),
            runs.iter().map(|r| r.round() as u64).collect::<Vec<_>>()
        ));
    }
    for (key, recursive) in [("lock_uncontended", false), ("rlock_uncontended", true)] {
        if !opts.wanted(key) {
            continue;
        }
        let runs: Vec<f64> = (0..repeat).map(|r| lock_pair(&format!("{key}-{r}"), rounds, recursive)).collect();
        eprintln!("{key}: median {:.1} ns", median(runs.clone()));
        out.push(format!(
            "\"{key}\": {{\"ns_per_op\": {:.1}, \"runs\": {:?}, \"iters\": {rounds}}}",
            median(runs.clone()),
            runs.iter().map(|r| (r * 10.0).round() / 10.0).collect::<Vec<_>>()
        ));
    }
    println!("{{\"repeat\": {repeat}, {}}}", out.join(", "));
}
