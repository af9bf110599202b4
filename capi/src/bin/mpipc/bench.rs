//! `mpipc bench`: the standard workloads, briefly, with threads of this
//! process (the cross-process figures are `make bench`'s).

use crate::{failed, Args, Fail, Res};
use mpipc::sync::{Deadline, OpenOptions};
use mpipc::{Lock, OpenMode, Queue, QueueOptions};
use std::time::{Duration, Instant};

/// A queue name unique to this run, unlinked on drop.
struct TempQueue(String);

impl TempQueue {
    fn new(tag: &str) -> TempQueue {
        TempQueue(format!("mpipc-bench-{tag}-{}", std::process::id()))
    }
    fn open(&self) -> Result<Queue, Fail> {
        let o = QueueOptions { maxsize: 1024, open_mode: Some(OpenMode::CreateOnly), ..Default::default() };
        Queue::open(&self.0, &o).map_err(|e| failed(format!("bench queue: {e}")))
    }
}

impl Drop for TempQueue {
    fn drop(&mut self) {
        let _ = Queue::unlink(&self.0);
    }
}

fn e(e: mpipc::Error) -> Fail {
    failed(format!("bench: {e}"))
}

/// 64-byte messages, one producer thread, one consumer (this thread).
fn q_tput(d: Duration) -> Result<(u64, Duration), Fail> {
    let t = TempQueue::new("tput");
    let q = t.open()?;
    let msg = [7u8; 64];
    let start = Instant::now();
    let n = std::thread::scope(|s| -> Result<u64, Fail> {
        let p = s.spawn(|| -> Result<u64, Fail> {
            let mut n = 0u64;
            while start.elapsed() < d {
                q.put_bytes(&msg).map_err(e)?;
                n += 1;
            }
            q.put_bytes(b"").map_err(e)?; // the end
            Ok(n)
        });
        loop {
            if q.get_bytes().map_err(e)?.is_empty() {
                break;
            }
        }
        p.join().map_err(|_| failed("bench: producer thread panicked"))?
    })?;
    Ok((n, start.elapsed()))
}

/// Round trips through two queues (ping-pong).
fn q_latency(d: Duration) -> Result<(u64, Duration), Fail> {
    let (ta, tb) = (TempQueue::new("ping"), TempQueue::new("pong"));
    let (a, b) = (ta.open()?, tb.open()?);
    let start = Instant::now();
    let n = std::thread::scope(|s| -> Result<u64, Fail> {
        s.spawn(|| -> Result<(), Fail> {
            loop {
                let m = a.get_bytes().map_err(e)?;
                b.put_bytes(&m).map_err(e)?;
                if m.is_empty() {
                    return Ok(());
                }
            }
        });
        let mut n = 0u64;
        while start.elapsed() < d {
            a.put_bytes(b"ping").map_err(e)?;
            b.get_bytes().map_err(e)?;
            n += 1;
        }
        a.put_bytes(b"").map_err(e)?;
        b.get_bytes().map_err(e)?;
        Ok(n)
    })?;
    Ok((n, start.elapsed()))
}

/// 64-byte messages through a pipe, one writer thread.
fn pipe_tput(d: Duration) -> Result<(u64, Duration), Fail> {
    let (r, w) = mpipc::pipe::pipe(true).map_err(e)?;
    let msg = [7u8; 64];
    let start = Instant::now();
    let n = std::thread::scope(|s| -> Result<u64, Fail> {
        let p = s.spawn(|| -> Result<u64, Fail> {
            let mut n = 0u64;
            while start.elapsed() < d {
                w.send_bytes(&msg).map_err(e)?;
                n += 1;
            }
            w.send_bytes(b"").map_err(e)?;
            Ok(n)
        });
        while !r.recv_bytes().map_err(e)?.is_empty() {}
        p.join().map_err(|_| failed("bench: writer thread panicked"))?
    })?;
    Ok((n, start.elapsed()))
}

/// Uncontended acquire + release of a named lock.
fn lock_uncontended(d: Duration) -> Result<(u64, Duration), Fail> {
    let name = format!("mpipc-bench-lock-{}", std::process::id());
    let l = Lock::open(&name, false, &OpenOptions { open_mode: OpenMode::CreateOnly, mode: 0, any_owner: false })
        .map_err(e)?;
    let _ = Lock::unlink(&name);
    let forever = Deadline::from_timeout(None);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < d {
        for _ in 0..256 {
            l.acquire(&forever).map_err(e)?;
            l.release().map_err(e)?;
        }
        n += 256;
    }
    Ok((n, start.elapsed()))
}

/// Runs every workload and prints the table.
pub fn run(args: &[String]) -> Res {
    let a = Args::parse("bench", args, &["--duration-ms"], &[])?;
    a.expect(&[])?;
    let d = Duration::from_millis(a.num::<u64>("--duration-ms")?.unwrap_or(300).max(1));
    type Workload = fn(Duration) -> Result<(u64, Duration), Fail>;
    let all: [(&str, &str, Workload); 4] = [
        ("q_tput", "64 B messages, 1 producer, 1 consumer", q_tput),
        ("q_latency", "round trip through two queues", q_latency),
        ("pipe_tput", "64 B messages through a pipe", pipe_tput),
        ("lock", "uncontended acquire + release", lock_uncontended),
    ];
    println!("{:<10} {:>10} {:>8} {:>14} {:>10}  WHAT", "WORKLOAD", "OPS", "SECONDS", "OPS/S", "NS/OP");
    let total = all.len();
    for (k, (name, what, f)) in all.into_iter().enumerate() {
        // Progress on stderr, so the table on stdout stays clean.
        eprintln!("mpipc bench: [{}/{total}] {name} ({} ms)...", k + 1, d.as_millis());
        let (n, t) = f(d)?;
        let secs = t.as_secs_f64();
        let per = if n == 0 { 0.0 } else { secs * 1e9 / n as f64 };
        println!("{name:<10} {n:>10} {secs:>8.3} {:>14.0} {per:>10.0}  {what}", n as f64 / secs);
    }
    Ok(())
}
