//! A message too large for one syscall (3 GiB when memory allows, else
//! 1 GiB) streamed between two real processes through a socketpair: the
//! long (-1 + 8-byte) header, partial writes and reads, and the receiver's
//! max_frame check, end to end.
//!
//! `harness = false`: `main` forks before any thread exists, so the child
//! may allocate freely (forking a multi-threaded test harness may not).

use mpipc::pipe::pipe;
use std::time::Instant;

fn available_bytes() -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    info.lines()
        .find(|l| l.starts_with("MemAvailable:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

const CHUNK: usize = 64 * 1024;

/// The expected content of 64 KiB chunk `k`: a fixed pattern stamped with
/// the chunk number, so a lost, duplicated or reordered chunk is detected.
/// Built and compared with memcpy/memcmp: fast even in a debug build.
fn chunk(k: usize, base: &[u8]) -> Vec<u8> {
    let mut c = base.to_vec();
    c[..8].copy_from_slice(&(k as u64).to_le_bytes());
    c
}

fn main() {
    const GIB: usize = 1 << 30;
    // Sender and receiver each hold the whole message, plus headroom.
    let size = if available_bytes() >= 10 * GIB as u64 { 3 * GIB } else { GIB };
    let base: Vec<u8> = (0..CHUNK).map(|i| (i * 31 % 251) as u8).collect();
    let (a, b) = pipe(true).expect("pipe");
    // SAFETY: no thread exists yet; the child only uses its own objects
    // and exits with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        drop(a);
        let mut msg = Vec::with_capacity(size);
        for k in 0..size / CHUNK {
            msg.extend_from_slice(&chunk(k, &base));
        }
        b.send_bytes(&msg).expect("send");
        drop(b);
        // SAFETY: end the child without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    drop(b);
    let t = Instant::now();
    // The default max_frame (1 GiB) refuses anything bigger.
    a.set_max_frame(4 * GIB as u64);
    let got = a.recv_bytes().expect("recv");
    let secs = t.elapsed().as_secs_f64();
    let mut ok = got.len() == size;
    ok &= got.chunks(CHUNK).enumerate().all(|(k, c)| c == &chunk(k, &base)[..]);
    drop(got);
    ok &= a.recv_bytes().map_err(|e| e.kind()) == Err(mpipc::ErrorKind::Eof);
    let mut st = 0;
    // SAFETY: waiting for our child.
    unsafe { libc::waitpid(pid, &mut st, 0) };
    ok &= libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0;
    println!("pipe_big: {} MiB in {secs:.2} s ({:.2} GB/s), intact: {ok}", size >> 20, size as f64 / secs / 1e9);
    if ok {
        println!("1 passed, 0 failed");
    } else {
        println!("0 passed, 1 failed");
        std::process::exit(1);
    }
}
