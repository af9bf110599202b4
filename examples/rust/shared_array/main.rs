//! Python's `multiprocessing.Array` and `Value` with their lock, across
//! processes, by name.
//!
//! The main process creates a zeroed `Array('q', 4)` (int64) and a
//! `Value('d')` (an array of one float) in named shared memory, unique to
//! the run, and starts itself again as 4 worker processes. Each does 10000
//! times, under the array's lock, `a[i] += i + 1` for every element (a
//! read-modify-write over several elements that the lock makes atomic), and
//! under the value's lock `total += 0.5`. The main process reads the array
//! in one locked bulk copy and exits non-zero unless `a[i]` is
//! 40000 * (i + 1) and the value 20000; both are unlinked at the end.
//!
//! The lock is robust: if a holder is killed, the next `lock` returns
//! `LockState::OwnerDied`, with the lock held, and the data should be
//! checked before going on.
//!
//! ```text
//! cargo run --release --example rust_shared_array
//! ```

use mpipc::sync::{Deadline, LockState};
use mpipc::{Array, Number, OpenMode, OpenOptions};
use std::process::{Command, ExitCode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const WORKERS: usize = 4;
const N: usize = 10_000;
const LEN: usize = 4;
const WAIT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => run(),
        ["worker", name] => worker(name),
        _ => Err("usage: rust_shared_array [worker <array-name>]".into()),
    };
    if let Err(e) = result {
        eprintln!("{} {}: {e}", args.first().map_or("main", String::as_str), std::process::id());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn run() -> Result {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name = format!("rust-example-array-{}-{nanos:x}", std::process::id());
    let create = OpenOptions { open_mode: OpenMode::CreateOnly, mode: 0, any_owner: false };
    let a = Array::open(&name, b'q', LEN, false, &create)?; // zeroed, with a lock
    let _unlink_a = Unlink(name.clone());
    let total = Array::open(&format!("{name}-total"), b'd', 1, false, &create)?;
    let _unlink_total = Unlink(format!("{name}-total"));

    let exe = std::env::current_exe()?;
    let workers = (0..WORKERS)
        .map(|_| Command::new(&exe).args(["worker", &name]).spawn())
        .collect::<std::io::Result<Vec<_>>>()?;
    for mut w in workers {
        if !w.wait()?.success() {
            return Err(format!("worker {} failed", w.id()).into());
        }
    }

    let mut bytes = [0u8; LEN * 8];
    a.read(0, &mut bytes)?; // one locked copy of the whole array
    let got: Vec<i64> = bytes.chunks_exact(8).map(|b| i64::from_ne_bytes(b.try_into().unwrap())).collect();
    let sum = float(&total)?;
    let want = (WORKERS * N) as i64;
    println!("array = {got:?}, value = {sum} (want element i = {want} * (i + 1), value {})", want / 2);
    if got.iter().enumerate().any(|(i, &x)| x != want * (i as i64 + 1)) || sum != (want / 2) as f64 {
        return Err("FAILED: lost updates".into());
    }
    println!("OK");
    Ok(())
}

fn worker(name: &str) -> Result {
    let attach = OpenOptions { open_mode: OpenMode::AttachOnly, mode: 0, any_owner: false };
    let a = Array::open(name, b'q', 0, false, &attach)?; // length 0: whatever it has
    let total = Array::open(&format!("{name}-total"), b'd', 0, false, &attach)?;
    for _ in 0..N {
        // `with a.get_lock(): for i in range(4): a[i] += i + 1`
        with_lock(&a, || {
            for i in 0..LEN {
                // get and set take the lock too: it is recursive, we hold it.
                let Number::Int(x) = a.get(i)?.value else { return Err("not an integer array".into()) };
                a.set(i, Number::Int(x + i as i128 + 1))?;
            }
            Ok(())
        })?;
        // `with total.get_lock(): total.value += 0.5` (an integer would take a.incr, one call)
        with_lock(&total, || {
            total.set(0, Number::Float(float(&total)? + 0.5))?;
            Ok(())
        })?;
    }
    Ok(())
}

/// Runs `f` holding the array's lock: Python's `with a.get_lock():`.
fn with_lock<R>(a: &Array, f: impl FnOnce() -> Result<R>) -> Result<R> {
    match a.lock(&Deadline::from_timeout(Some(WAIT)))? {
        None => return Err("timed out waiting for the lock".into()),
        // We hold the lock; a real program would check (repair) the data here.
        Some(LockState::OwnerDied) => eprintln!("worker {}: the previous holder died", std::process::id()),
        Some(LockState::Clean) => {}
    }
    let result = f();
    a.unlock()?;
    result
}

fn float(v: &Array) -> Result<f64> {
    match v.get(0)?.value {
        Number::Float(x) => Ok(x),
        Number::Int(_) => Err("not a float value".into()),
    }
}

/// Unlinks an array when dropped, however `run` returns.
struct Unlink(String);

impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = Array::unlink(&self.0);
    }
}
