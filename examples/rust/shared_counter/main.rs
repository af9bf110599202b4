//! Counting across processes with a manager dict: Python's
//! `d["hits"] += 1` through a `Manager` is a race (a get, then a set);
//! the manager's `incr` is one atomic step on the server.
//!
//! The main process serves a manager in its own threads
//! (`ManagerServer::serve` on an abstract Unix socket, unique to the run,
//! with an authkey; `mpipc manager serve` or a Go, C or Python process
//! would do as well) and starts itself again as 4 worker processes. Each
//! connects with `ManagerClient` and adds 1 to `stats["hits"]` 1000 times
//! with `incr`, then records its count under its pid in dict `per-worker`.
//! The main process reads both back and exits non-zero unless hits = 4000
//! and the 4 workers recorded 1000 each. Shutting the server down removes
//! everything (an abstract socket leaves no file).
//!
//! ```text
//! cargo run --release --example rust_shared_counter
//! ```

use ciborium::Value;
use mpipc::pipe::ListenerOptions;
use mpipc::{ManagerClient, ManagerServer};
use std::process::{Command, ExitCode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const WORKERS: usize = 4;
const N: i64 = 1000;
const AUTHKEY: &[u8] = b"shared-counter-example";
const WAIT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => run(),
        ["worker", addr] => worker(addr),
        _ => Err("usage: rust_shared_counter [worker <manager-address>]".into()),
    };
    if let Err(e) = result {
        eprintln!("{} {}: {e}", args.first().map_or("main", String::as_str), std::process::id());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn options() -> ListenerOptions {
    ListenerOptions { authkey: Some(AUTHKEY.to_vec()), ..Default::default() }
}

fn run() -> Result {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let addr = format!("unix:@rust-example-counter-{}-{nanos:x}", std::process::id());
    let server = ManagerServer::serve(&addr, &options())?;
    let exe = std::env::current_exe()?;
    let workers = (0..WORKERS)
        .map(|_| Command::new(&exe).args(["worker", &addr]).spawn())
        .collect::<std::io::Result<Vec<_>>>()?;
    for mut w in workers {
        if !w.wait()?.success() {
            return Err(format!("worker {} failed", w.id()).into());
        }
    }

    let m = ManagerClient::connect(&addr, &options(), Some(WAIT))?;
    let hits = int(&m.call("dict", "stats", "get", vec!["hits".into()])?)?;
    let Value::Array(items) = m.call("dict", "per-worker", "items", vec![])? else {
        return Err("items is not an array".into());
    };
    let mut recorded = 0;
    for item in &items {
        if let Some([pid, n]) = item.as_array().map(Vec::as_slice) {
            println!("worker {}: {} increments", int(pid)?, int(n)?);
            recorded += int(n)?;
        }
    }
    drop(m);
    server.shutdown(); // disconnects every client and drops every object

    let want = WORKERS as i64 * N;
    println!("hits = {hits} (want {want}), {} workers recorded {recorded}", items.len());
    if hits != want || items.len() != WORKERS || recorded != want {
        return Err("FAILED: lost updates".into());
    }
    println!("OK");
    Ok(())
}

fn worker(addr: &str) -> Result {
    let m = ManagerClient::connect(addr, &options(), Some(WAIT))?;
    for _ in 0..N {
        // `stats["hits"] += 1`, atomically; the dict is created on first use.
        m.call("dict", "stats", "incr", vec!["hits".into(), 1.into()])?;
    }
    m.call("dict", "per-worker", "incr", vec![std::process::id().into(), N.into()])?;
    Ok(())
}

fn int(v: &Value) -> Result<i64> {
    Ok(v.as_integer().ok_or_else(|| format!("{v:?} is not an integer"))?.try_into()?)
}
