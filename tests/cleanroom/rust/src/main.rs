//! The clean-room Rust program (tests/cleanroom/rust.sh): a project outside
//! the checkout that depends on the packaged `mpipc` crate, and puts and
//! gets its jobs as serde types, as a Rust user would.
//!
//!   app produce QUEUE N CONSUMERS   puts N jobs {"id", "text"} then CONSUMERS nulls
//!   app consume QUEUE [MGR_ADDR]    takes jobs until a null; with MGR_ADDR, counts
//!                                   them in the manager dict "counts" (keys "rust"
//!                                   and "idsum") with atomic incr
//!   app create QUEUE MAXSIZE        creates the queue (default byte capacity), empty
//!   app unlink QUEUE                removes the queue's name
//! Each prints what it did; any mismatch exits non-zero.

use mpipc::{ListenerOptions, ManagerClient, Queue, QueueOptions};
use serde::{Deserialize, Serialize};
use std::process::ExitCode;
use std::time::Duration;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// One job, as every language's producer writes it.
#[derive(Serialize, Deserialize)]
struct Job {
    id: u64,
    text: String,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match argv[..] {
        ["produce", queue, n, consumers] => produce(queue, n.parse().unwrap_or(0), consumers.parse().unwrap_or(0)),
        ["consume", queue] => consume(queue, None),
        ["consume", queue, addr] => consume(queue, Some(addr)),
        ["create", queue, maxsize] => create(queue, maxsize.parse().unwrap_or(0)),
        ["unlink", queue] => Queue::unlink(queue).map_err(Into::into),
        _ => Err("usage: app produce QUEUE N CONSUMERS | app consume QUEUE [MGR_ADDR] | app create QUEUE MAXSIZE | app unlink QUEUE".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rust app: {e}");
            ExitCode::FAILURE
        }
    }
}

fn produce(name: &str, n: u64, consumers: usize) -> Result {
    let opts = QueueOptions { maxsize: n as usize + consumers, ..Default::default() };
    let q = Queue::open(name, &opts)?;
    for id in 0..n {
        q.put(&Job { id, text: format!("job-{id}") })?;
    }
    for _ in 0..consumers {
        q.put(&Option::<Job>::None)?;
    }
    println!("rust produced {n}");
    Ok(())
}

fn create(name: &str, maxsize: usize) -> Result {
    let opts = QueueOptions { maxsize, open_mode: Some(mpipc::OpenMode::CreateOnly), ..Default::default() };
    Queue::open(name, &opts)?;
    println!("rust created {name} (maxsize {maxsize})");
    Ok(())
}

fn consume(name: &str, manager: Option<&str>) -> Result {
    let q = Queue::open(name, &QueueOptions { open_mode: Some(mpipc::OpenMode::AttachOnly), ..Default::default() })?;
    let client = match manager {
        Some(addr) => Some(ManagerClient::connect(addr, &ListenerOptions::default(), Some(Duration::from_secs(10)))?),
        None => None,
    };
    let (mut count, mut idsum) = (0u64, 0u64);
    while let Some(job) = q.get_timeout::<Option<Job>>(Some(Duration::from_secs(60)))? {
        if job.text != format!("job-{}", job.id) {
            return Err(format!("job {} carries {:?}", job.id, job.text).into());
        }
        if let Some(c) = &client {
            c.dict_incr("counts", "rust", 1)?;
            c.dict_incr("counts", "idsum", i64::try_from(job.id)?)?;
        }
        count += 1;
        idsum += job.id;
    }
    println!("rust consumed {count} (idsum {idsum})");
    Ok(())
}
