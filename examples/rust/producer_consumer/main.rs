//! Producer / consumers over a named shared-memory queue: Python's
//! `JoinableQueue` pattern across real processes, in Rust.
//!
//! The main process creates a bounded queue (maxsize 64) and starts itself
//! again as 3 consumer processes. It puts 10000 jobs, a serde struct
//! `Job { id, name, vals }` that `Queue::put` encodes as the CBOR map
//! `{"id": i, "name": "item-<i>", "vals": [1.5, 2.5, 3.5]}` (so a C, Go,
//! Node or Python consumer could take them too: Python gets a dict), waits with `join`
//! until every job was marked `task_done`, then `shutdown`s the queue: the
//! consumers' gets drain it and fail with `ErrorKind::Shutdown`. Each
//! consumer reports a `Report { count, sum }` on a second queue; the main process
//! exits non-zero unless the totals are 10000 jobs and 0 + 1 + ... + 9999.
//! Both queues have names unique to the run and are unlinked at the end.
//!
//! ```text
//! cargo run --release --example rust_producer_consumer
//! ```

use mpipc::{ErrorKind, OpenMode, Queue, QueueOptions};
use serde::{Deserialize, Serialize};
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const JOBS: i64 = 10_000;
const CONSUMERS: usize = 3;
const WAIT: Duration = Duration::from_secs(30);

/// One job: a CBOR map with these three text keys.
#[derive(Serialize, Deserialize)]
struct Job {
    id: i64,
    name: String,
    vals: Vec<f64>,
}

/// What each consumer did: `{"count": ..., "sum": ...}`.
#[derive(Serialize, Deserialize)]
struct Report {
    count: i64,
    sum: i64,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => run(),
        ["consumer", jobs, done] => consumer(jobs, done),
        _ => Err("usage: rust_producer_consumer [consumer <jobs-queue> <done-queue>]".into()),
    };
    if let Err(e) = result {
        eprintln!("{} {}: {e}", args.first().map_or("main", String::as_str), std::process::id());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn run() -> Result {
    let jobs_name = unique_name("rust-example-jobs");
    let done_name = format!("{jobs_name}-done");
    let create = |maxsize| QueueOptions { maxsize, open_mode: Some(OpenMode::CreateOnly), ..Default::default() };
    let jobs = Queue::open(&jobs_name, &create(64))?;
    let _unlink_jobs = Unlink(jobs_name.clone());
    let done = Queue::open(&done_name, &create(0))?;
    let _unlink_done = Unlink(done_name.clone());

    let exe = std::env::current_exe()?;
    let consumers = (0..CONSUMERS)
        .map(|_| Command::new(&exe).args(["consumer", &jobs_name, &done_name]).spawn())
        .collect::<std::io::Result<Vec<Child>>>()?;

    let start = Instant::now();
    for i in 0..JOBS {
        let job = Job { id: i, name: format!("item-{i}"), vals: vec![1.5, 2.5, 3.5] };
        jobs.put(&job)?; // blocks while 64 jobs wait
    }
    jobs.join(Some(WAIT))?; // every job taken and marked done
    println!("main: {JOBS} jobs done in {:.3} s", start.elapsed().as_secs_f64());
    jobs.shutdown(false)?; // the consumers' gets now drain the queue, then fail with Shutdown
    for mut c in consumers {
        if !c.wait()?.success() {
            return Err(format!("consumer {} failed", c.id()).into());
        }
    }

    let (mut count, mut sum) = (0, 0);
    for _ in 0..CONSUMERS {
        let report: Report = done.get_timeout(Some(Duration::from_secs(5)))?;
        count += report.count;
        sum += report.sum;
    }
    let want_sum = JOBS * (JOBS - 1) / 2;
    println!("total: {count} jobs (want {JOBS}), sum {sum} (want {want_sum})");
    if count != JOBS || sum != want_sum {
        return Err("FAILED: jobs lost or duplicated".into());
    }
    println!("OK");
    Ok(())
}

fn consumer(jobs: &str, done: &str) -> Result {
    let attach = QueueOptions { open_mode: Some(OpenMode::AttachOnly), ..Default::default() };
    let (jobs, done) = (Queue::open(jobs, &attach)?, Queue::open(done, &attach)?);
    let (mut count, mut sum) = (0i64, 0i64);
    loop {
        let job: Job = match jobs.get_timeout(Some(WAIT)) {
            Ok(job) => job,
            Err(e) if e.kind() == ErrorKind::Shutdown => break, // shut down and drained
            Err(e) => return Err(e.into()),
        };
        if job.name != format!("item-{}", job.id) || job.vals != [1.5, 2.5, 3.5] {
            return Err(format!("job {}: wrong fields {:?} {:?}", job.id, job.name, job.vals).into());
        }
        count += 1;
        sum += job.id;
        jobs.task_done()?;
    }
    done.put(&Report { count, sum })?;
    println!("consumer {}: {count} jobs", std::process::id());
    Ok(())
}

/// `<prefix>-<pid>-<nanoseconds>`: a name no other run uses.
fn unique_name(prefix: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}

/// Unlinks a queue when dropped, however `run` returns.
struct Unlink(String);

impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = Queue::unlink(&self.0);
    }
}
