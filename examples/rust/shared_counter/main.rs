//! Counting across processes with a manager dict: Python's
//! `d["hits"] += 1` through a `Manager` is a race (a get, then a set);
//! the manager's `incr` is one atomic step on the server.
//!
//! The main process serves a manager in its own threads
//! (`ManagerServer::serve` on an abstract Unix socket, unique to the run,
//! with an authkey; `mpipc manager serve` or a Go, C or Python process
//! would do as well) and starts itself again as 4 worker processes. Each
//! connects with `ManagerClient` and adds 1 to `stats["hits"]` 1000 times
//! with `incr` (through the typed proxy `m.dict::<&str, i64>("stats")`),
//! then records its count under its pid in dict `per-worker`, and, holding
//! the manager lock `summary-lock` (an RAII guard; a name is one object of
//! one kind on a server, so not `summary`), updates the shared value
//! `summary`, a `Summary { workers, pids }`, with a read-modify-write that
//! the lock keeps whole. The main process reads everything back and exits
//! non-zero unless hits = 4000, the 4 workers recorded 1000 each and the
//! summary lists the 4 of them. Shutting the server down removes
//! everything (an abstract socket leaves no file).
//!
//! ```text
//! cargo run --release --example rust_shared_counter
//! ```

use mpipc::pipe::ListenerOptions;
use mpipc::{ManagerClient, ManagerServer};
use serde::{Deserialize, Serialize};
use std::process::{Command, ExitCode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const WORKERS: usize = 4;
const N: i64 = 1000;
const AUTHKEY: &[u8] = b"shared-counter-example";
const WAIT: Duration = Duration::from_secs(10);

/// The shared value `summary`: `{"workers": 4, "pids": [...]}` to any
/// language (null until the first worker sets it: hence the `Option`).
#[derive(Serialize, Deserialize, Debug, Default)]
struct Summary {
    workers: u32,
    pids: Vec<u32>,
}

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
    let hits = m.dict::<String, i64>("stats").get(&"hits".into())?.ok_or("no hits")?;
    let items = m.dict::<u32, i64>("per-worker").items()?;
    let mut recorded = 0;
    for (pid, n) in &items {
        println!("worker {pid}: {n} increments");
        recorded += n;
    }
    let summary = m.value::<Option<Summary>>("summary").get()?.unwrap_or_default();
    println!("summary: {summary:?}");
    drop(m);
    server.shutdown(); // disconnects every client and drops every object

    let want = WORKERS as i64 * N;
    println!("hits = {hits} (want {want}), {} workers recorded {recorded}", items.len());
    if hits != want || items.len() != WORKERS || recorded != want {
        return Err("FAILED: lost updates".into());
    }
    let mut pids = summary.pids.clone();
    pids.sort_unstable();
    pids.dedup();
    if summary.workers != WORKERS as u32 || pids.len() != WORKERS {
        return Err("FAILED: the summary lost an update".into());
    }
    println!("OK");
    Ok(())
}

fn worker(addr: &str) -> Result {
    let m = ManagerClient::connect(addr, &options(), Some(WAIT))?;
    let stats = m.dict::<&str, i64>("stats"); // created on first use
    for _ in 0..N {
        // `stats["hits"] += 1`, atomically on the server.
        stats.incr(&"hits", 1)?;
    }
    m.dict::<u32, i64>("per-worker").incr(&std::process::id(), N)?;

    // A read-modify-write of a whole value: atomic only under a lock.
    let summary = m.value::<Option<Summary>>("summary");
    let _held = m.lock("summary-lock").acquire()?; // released when dropped, or by the server if we die
    let mut s = summary.get()?.unwrap_or_default();
    s.workers += 1;
    s.pids.push(std::process::id());
    summary.set(&Some(s))?;
    Ok(())
}
