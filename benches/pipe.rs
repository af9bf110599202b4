//! Pipe benchmarks across two real processes (fork), through the C ABI
//! (`mp_pipe_*` called exactly as a C program calls them), beside a bare
//! Unix socketpair doing the same work with raw read/write syscalls.
//!
//! `cargo bench --bench pipe -- [--quick] [--repeat N] [--only NAME[,NAME]]`
//! prints one JSON object (`--only` takes name prefixes); `benches/run.sh` puts it beside Python's Pipe.
//!
//! - pipe_tput_single / pipe_tput_batch: 64-byte messages one way, sent
//!   one per `mp_pipe_send` / 256 per `mp_pipe_send_many`; messages per
//!   second (received one per `mp_pipe_recv_into` either way).
//! - pipe_bw: 1 MiB messages one way (received with `mp_pipe_recv_into`
//!   into a reused buffer); GB/s (10^9 bytes per second).
//! - pipe_latency: 64-byte ping-pong; round-trip median / p99 / min.
//! - bare_*: the same over a raw socketpair (frames of the same size, no
//!   library), the floor this machine allows.
//! - bare_bw: the same frames, each received whole into the 1 MiB buffer
//!   with raw read(2)s: the least any receiver that hands out messages
//!   must do. bare_bw_scratch is the older floor, whose receiver reads the
//!   byte stream into the start of its buffer whatever the frame
//!   boundaries: every read lands in the same ~200 KiB (what one read
//!   returns), which stays in the cache, so it measures a receiver that
//!   never delivers a message; kept beside it to show the difference.
//!
//! The bandwidth workloads run round-robin (one run of each in turn, the
//! whole round `--repeat` times), so that each is measured over the same
//! stretches of a shared machine's load; `pipe_bw` reports the median of
//! its per-round ratios to bare_bw (`ratio_to_bare`), which a change in
//! load between rounds does not move as much as the ratio of medians.
//!
//! Timing: the receiver (parent) starts the clock when it tells the forked
//! sender to go and stops it at the last byte, so fork is excluded and
//! every message is counted as delivered.

mod common;
use common::median;

use mpipc_ffi::bytes::mp_buf;
use mpipc_ffi::pipe::*;
use mpipc_ffi::status::MP_OK;
use std::os::fd::RawFd;
use std::time::Instant;

const SMALL: usize = 64;
const BIG: usize = 1 << 20;

fn fork_child(child: impl FnOnce()) -> libc::pid_t {
    // SAFETY: the benchmark is single-threaded when it forks; the child runs
    // `child` and exits without returning into the parent's code.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        child();
        // SAFETY: end the child at once, skipping the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    pid
}

fn reap(pid: libc::pid_t) {
    let mut st = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut st, 0) };
    assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, "child failed: {st}");
}

struct Pair(*mut mp_pipe, *mut mp_pipe);

fn pair() -> Pair {
    let (mut a, mut b) = (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: valid out-pointers.
    assert_eq!(unsafe { mp_pipe_new(true, &mut a, &mut b) }, MP_OK);
    Pair(a, b)
}

/// Messages per second for `n` messages of `size` bytes, parent receiving;
/// the sender uses `mp_pipe_send_many` with batches of `batch` (1 =
/// `mp_pipe_send` per message).
fn mp_stream(n: usize, size: usize, batch: usize) -> f64 {
    let p = pair();
    let pid = fork_child(|| {
        // SAFETY: the child's own copies of the handles.
        unsafe {
            mp_pipe_close(p.0);
            let mut go = mp_buf { ptr: std::ptr::null_mut(), len: 0 };
            assert_eq!(mp_pipe_recv(p.1, &mut go), MP_OK);
            let msg = vec![5u8; size * batch];
            let lens = vec![size; batch];
            let mut sent = 0;
            while sent < n {
                let k = batch.min(n - sent);
                if batch == 1 {
                    assert_eq!(mp_pipe_send(p.1, msg.as_ptr(), size), MP_OK);
                } else {
                    assert_eq!(mp_pipe_send_many(p.1, msg.as_ptr(), lens.as_ptr(), k), MP_OK);
                }
                sent += k;
            }
            mp_pipe_close(p.1);
        }
    });
    let mut buf = vec![0u8; size];
    let mut total = 0usize;
    // SAFETY: the parent's handles; buf has size bytes.
    let t = unsafe {
        mp_pipe_close(p.1);
        assert_eq!(mp_pipe_send(p.0, b"go".as_ptr(), 2), MP_OK);
        let t0 = Instant::now();
        for _ in 0..n {
            let mut len = 0;
            assert_eq!(mp_pipe_recv_into(p.0, buf.as_mut_ptr(), size, &mut len, -1), MP_OK);
            total += len;
        }
        let t = t0.elapsed();
        mp_pipe_close(p.0);
        t
    };
    assert_eq!(total, n * size, "every byte arrived");
    reap(pid);
    n as f64 / t.as_secs_f64()
}

fn raw_socketpair() -> (RawFd, RawFd) {
    let mut fds = [0; 2];
    // SAFETY: valid array.
    assert_eq!(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) }, 0);
    (fds[0], fds[1])
}

fn write_all(fd: RawFd, mut b: &[u8]) {
    while !b.is_empty() {
        // SAFETY: writing from a live slice.
        let n = unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) };
        assert!(n > 0, "write");
        b = &b[n as usize..];
    }
}

fn read_exact(fd: RawFd, b: &mut [u8]) {
    let mut got = 0;
    while got < b.len() {
        // SAFETY: reading into a live slice.
        let n = unsafe { libc::read(fd, b[got..].as_mut_ptr().cast(), b.len() - got) };
        assert!(n > 0, "read");
        got += n as usize;
    }
}

/// How a bare receiver places what it reads (see the module doc).
#[derive(Clone, Copy, PartialEq)]
enum BareRx {
    /// Reads of up to 64 KiB (or a whole frame, if larger) into the start of
    /// the buffer, whatever the frame boundaries.
    Scratch,
    /// Each frame whole in the buffer: reads run to the end of the current
    /// frame at most, its payload at the start of the buffer.
    Frames,
}

/// The bare floor: the same frames (4-byte header + payload, one write per
/// message) over a raw socketpair, received as `rx` says.
fn bare_stream(n: usize, size: usize, rx: BareRx) -> f64 {
    let (a, b) = raw_socketpair();
    let pid = fork_child(|| {
        let mut go = [0u8; 1];
        read_exact(b, &mut go);
        let mut frame = vec![5u8; 4 + size];
        frame[..4].copy_from_slice(&(size as u32).to_be_bytes());
        for _ in 0..n {
            write_all(b, &frame);
        }
    });
    // SAFETY: closing the parent's copy of the child's end.
    unsafe { libc::close(b) };
    write_all(a, b"g");
    let (frame, total) = (4 + size, n * (4 + size));
    // Frames: the 4-byte header lands in head, the payload in buf.
    let mut buf = vec![0u8; (64 * 1024).max(size)];
    let mut head = [0u8; 4];
    let t0 = Instant::now();
    let mut got = 0;
    while got < total {
        let r = match rx {
            // SAFETY: reading into a live buffer, at most its length.
            BareRx::Scratch => unsafe { libc::read(a, buf.as_mut_ptr().cast(), (total - got).min(buf.len())) },
            BareRx::Frames => {
                let off = got % frame;
                let iov = if off < 4 {
                    [
                        libc::iovec { iov_base: head[off..].as_mut_ptr().cast(), iov_len: 4 - off },
                        libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: size },
                    ]
                } else {
                    let p = off - 4;
                    let rest = libc::iovec { iov_base: buf[p..].as_mut_ptr().cast(), iov_len: size - p };
                    [rest, libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }]
                };
                // SAFETY: the iovecs cover live buffers, up to the end of
                // the current frame.
                unsafe { libc::readv(a, iov.as_ptr(), 2) }
            }
        };
        assert!(r > 0);
        got += r as usize;
    }
    let t = t0.elapsed();
    // SAFETY: closing our descriptor.
    unsafe { libc::close(a) };
    reap(pid);
    n as f64 / t.as_secs_f64()
}

/// Round-trip times (µs, sorted) of `rounds` 64-byte ping-pongs.
fn mp_latency(rounds: usize) -> Vec<f64> {
    let p = pair();
    let pid = fork_child(|| {
        // SAFETY: the child's own handles; buf holds SMALL bytes.
        unsafe {
            mp_pipe_close(p.0);
            let mut buf = [0u8; SMALL];
            loop {
                let mut len = 0;
                if mp_pipe_recv_into(p.1, buf.as_mut_ptr(), SMALL, &mut len, -1) != MP_OK {
                    break; // EOF: the parent is done
                }
                assert_eq!(mp_pipe_send(p.1, buf.as_ptr(), len), MP_OK);
            }
            mp_pipe_close(p.1);
        }
    });
    let mut rtts = Vec::with_capacity(rounds);
    // SAFETY: the parent's handles.
    unsafe {
        mp_pipe_close(p.1);
        let msg = [1u8; SMALL];
        let mut buf = [0u8; SMALL];
        for i in 0..rounds + rounds / 10 {
            let t = Instant::now();
            assert_eq!(mp_pipe_send(p.0, msg.as_ptr(), SMALL), MP_OK);
            let mut len = 0;
            assert_eq!(mp_pipe_recv_into(p.0, buf.as_mut_ptr(), SMALL, &mut len, -1), MP_OK);
            if i >= rounds / 10 {
                rtts.push(t.elapsed().as_nanos() as f64 / 1000.0);
            }
        }
        mp_pipe_close(p.0);
    }
    reap(pid);
    rtts.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rtts
}

fn bare_latency(rounds: usize) -> Vec<f64> {
    let (a, b) = raw_socketpair();
    let pid = fork_child(|| {
        // SAFETY: closing the parent's end in the child.
        unsafe { libc::close(a) };
        let mut buf = [0u8; 4 + SMALL];
        loop {
            // SAFETY: reading into a live buffer.
            let r = unsafe { libc::read(b, buf.as_mut_ptr().cast(), 4) };
            if r <= 0 {
                break;
            }
            read_exact(b, &mut buf[r as usize..]);
            write_all(b, &buf);
        }
    });
    // SAFETY: closing the child's end in the parent.
    unsafe { libc::close(b) };
    let mut frame = [1u8; 4 + SMALL];
    frame[..4].copy_from_slice(&(SMALL as u32).to_be_bytes());
    let mut buf = [0u8; 4 + SMALL];
    let mut rtts = Vec::with_capacity(rounds);
    for i in 0..rounds + rounds / 10 {
        let t = Instant::now();
        write_all(a, &frame);
        read_exact(a, &mut buf);
        if i >= rounds / 10 {
            rtts.push(t.elapsed().as_nanos() as f64 / 1000.0);
        }
    }
    // SAFETY: closing our descriptor ends the child's loop.
    unsafe { libc::close(a) };
    reap(pid);
    rtts.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rtts
}

fn runs_json(v: &[f64], scale: f64) -> String {
    format!("[{}]", v.iter().map(|x| format!("{:.3}", x / scale)).collect::<Vec<_>>().join(", "))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = common::BenchArgs::parse(&args);
    let (quick, repeat) = (opts.quick, opts.repeat);
    // `--only a,b`: workloads starting with any of the comma-separated
    // prefixes (e.g. `--only pipe_bw,bare_bw` for the bandwidth pair).
    let only: Option<Vec<String>> =
        args.windows(2).find(|w| w[0] == "--only").map(|w| w[1].split(',').map(str::to_owned).collect());
    let wanted = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|p| name.starts_with(p.as_str())));
    let scale = if quick { 10 } else { 1 };
    let mut out = Vec::new();
    let n_small = 2_000_000 / scale;
    let n_big = 4096 / scale;
    for (name, f) in [
        ("pipe_tput_single", (|n| mp_stream(n, SMALL, 1)) as fn(usize) -> f64),
        ("pipe_tput_batch", |n| mp_stream(n, SMALL, 256)),
        ("bare_tput", |n| bare_stream(n, SMALL, BareRx::Scratch)),
    ] {
        if wanted(name) {
            let runs: Vec<f64> = (0..repeat).map(|_| f(n_small)).collect();
            eprintln!("{name}: median {:.0} msg/s", median(runs.clone()));
            out.push(format!(
                "\"{name}\": {{\"msgs_per_s\": {:.0}, \"runs_m\": {}, \"n\": {n_small}, \"msg_bytes\": {SMALL}}}",
                median(runs.clone()),
                runs_json(&runs, 1e6)
            ));
        }
    }
    // Round-robin: one run of each wanted bandwidth workload per round.
    type Workload<'a> = (&'a str, fn(usize) -> f64);
    let bw: Vec<Workload> = vec![
        ("pipe_bw", |n| mp_stream(n, BIG, 1)),
        ("bare_bw", |n| bare_stream(n, BIG, BareRx::Frames)),
        ("bare_bw_scratch", |n| bare_stream(n, BIG, BareRx::Scratch)),
    ];
    let bw: Vec<_> = bw.into_iter().filter(|(name, _)| wanted(name)).collect();
    let mut bw_runs: Vec<Vec<f64>> = vec![Vec::new(); bw.len()];
    for _ in 0..repeat {
        for (i, (_, f)) in bw.iter().enumerate() {
            bw_runs[i].push(f(n_big) * BIG as f64);
        }
    }
    let runs_of = |name: &str| bw.iter().position(|(n, _)| *n == name).map(|i| &bw_runs[i]);
    for ((name, _), runs) in bw.iter().zip(&bw_runs) {
        eprintln!("{name}: median {:.2} GB/s", median(runs.clone()) / 1e9);
        let ratio = match (*name, runs_of("bare_bw")) {
            ("pipe_bw", Some(bare)) => {
                format!(", \"ratio_to_bare\": {:.3}", median(runs.iter().zip(bare).map(|(p, b)| p / b).collect()))
            }
            _ => String::new(),
        };
        out.push(format!(
            "\"{name}\": {{\"gb_per_s\": {:.3}, \"runs\": {}, \"n\": {n_big}, \"msg_bytes\": {BIG}{ratio}}}",
            median(runs.clone()) / 1e9,
            runs_json(runs, 1e9)
        ));
    }
    let rounds = 20_000 / scale;
    for (name, f) in [("pipe_latency", mp_latency as fn(usize) -> Vec<f64>), ("bare_latency", bare_latency)] {
        if wanted(name) {
            let runs: Vec<Vec<f64>> = (0..repeat).map(|_| f(rounds)).collect();
            let pct = |v: &Vec<f64>, p: f64| v[((v.len() - 1) as f64 * p) as usize];
            let med = median(runs.iter().map(|v| pct(v, 0.5)).collect());
            eprintln!("{name}: median round trip {med:.2} us");
            out.push(format!(
                "\"{name}\": {{\"median_us\": {med:.2}, \"p99_us\": {:.2}, \"min_us\": {:.2}, \"runs_median_us\": {}, \"rounds\": {rounds}}}",
                median(runs.iter().map(|v| pct(v, 0.99)).collect()),
                median(runs.iter().map(|v| v[0]).collect()),
                runs_json(&runs.iter().map(|v| pct(v, 0.5)).collect::<Vec<_>>(), 1.0)
            ));
        }
    }
    println!("{{\"repeat\": {repeat}, {}}}", out.join(", "));
}
