//! Cross-process crash tests of the queue: real processes, SIGKILL.

use mpipc::{Queue, QueueOptions};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TORTURE: &str = env!("CARGO_BIN_EXE_mpipc-torture");

fn unique(tag: &str) -> String {
    format!("it-{tag}-{}", std::process::id())
}

/// Starts `mpipc-torture die-in-put`, waits until it holds the lock mid-put,
/// and kills it with SIGKILL.
fn kill_mid_put(queue: &str, commit: bool) {
    let mut child = Command::new(TORTURE)
        .args(["die-in-put", "--queue", queue, "--commit", if commit { "1" } else { "0" }])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn holder_killed_before_its_commit_leaves_the_old_state() {
    let name = unique("precommit");
    let _ = Queue::unlink(&name);
    let q = Queue::open(&name, &QueueOptions { capacity_bytes: 1024, ..Default::default() }).unwrap();
    q.put_bytes(b"before").unwrap();
    kill_mid_put(&name, false);
    // The next locker recovers the lock; the half-made put is invisible.
    assert_eq!(q.qsize().unwrap(), 1);
    assert_eq!(q.owner_deaths(), 1);
    assert_eq!(q.get_bytes().unwrap(), b"before");
    q.put_bytes(b"after").unwrap();
    assert_eq!(q.get_bytes().unwrap(), b"after");
    assert_eq!(q.unfinished_tasks().unwrap(), 2);
    Queue::unlink(&name).unwrap();
}

#[test]
fn holder_killed_after_its_commit_wakes_a_sleeping_consumer() {
    let name = unique("postcommit");
    let _ = Queue::unlink(&name);
    let q = Queue::open(&name, &QueueOptions { capacity_bytes: 1024, ..Default::default() }).unwrap();
    // A consumer asleep in get: the dying producer commits but never wakes
    // it (nor unlocks). The consumer must still get the message, within the
    // re-check bound, not hang.
    let consumer = {
        let name = name.clone();
        std::thread::spawn(move || {
            let q = Queue::open(&name, &QueueOptions::default()).unwrap();
            q.set_spin_us(0);
            let t = Instant::now();
            (q.get_bytes_timeout(Some(Duration::from_secs(10))), t.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    kill_mid_put(&name, true);
    let (got, waited) = consumer.join().unwrap();
    assert_eq!(got.unwrap(), b"from-the-dead");
    assert!(waited < Duration::from_secs(5), "consumer waited {waited:?}");
    assert_eq!(q.qsize().unwrap(), 0);
    assert_eq!(q.owner_deaths(), 1);
    Queue::unlink(&name).unwrap();
}

#[test]
fn torture_short_run_delivers_every_acknowledged_message_once() {
    let out = Command::new(TORTURE).args(["run", "--rounds", "150", "--timeout-s", "120"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(out.status.success(), "torture failed:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("duplicates=0 corrupt=0"), "{text}");
    assert!(text.lines().last().unwrap_or("").ends_with("OK"));
}

/// Starts `mpipc-torture hold-claim`, which makes a reservation (`what` =
/// "reserve") or takes a view ("view") on `queue` and then waits to be
/// killed; returns the child once it holds the claim, and the claim's
/// length.
fn hold_claim(queue: &str, what: &str, len: usize) -> (std::process::Child, usize) {
    let mut child = Command::new(TORTURE)
        .args(["hold-claim", "--queue", queue, "--what", what, "--len", &len.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let n = line.trim().strip_prefix("ready ").unwrap_or_else(|| panic!("hold-claim said {line:?}"));
    (child, n.parse().unwrap())
}

#[test]
fn a_process_killed_between_reserve_and_commit_does_not_wedge_the_queue() {
    let name = unique("deadreserve");
    let _ = Queue::unlink(&name);
    let q = Queue::open(&name, &QueueOptions { capacity_bytes: 4096, ..Default::default() }).unwrap();
    q.put_bytes(b"before").unwrap();
    let (mut holder, len) = hold_claim(&name, "reserve", 100);
    assert_eq!(len, 100);
    q.put_bytes(b"after").unwrap(); // placed behind the reservation
    assert_eq!(q.get_bytes().unwrap(), b"before");
    // The reservation's owner is alive: readers wait in front of it.
    assert_eq!(q.qsize().unwrap(), 1);
    assert_eq!(q.get_bytes_timeout(Some(Duration::ZERO)).unwrap_err().kind(), mpipc::ErrorKind::Empty);
    holder.kill().unwrap();
    holder.wait().unwrap();
    // Killed between reserve and commit: the reservation is dropped, the
    // message behind it is delivered, nothing else is lost or duplicated.
    assert_eq!(q.get_bytes_timeout(Some(Duration::ZERO)).unwrap(), b"after");
    assert_eq!(q.qsize().unwrap(), 0);
    assert_eq!(q.bytes_used().unwrap(), 0);
    assert_eq!(q.owner_deaths(), 1);
    assert_eq!(q.unfinished_tasks().unwrap(), 2, "the dropped reservation was never a message");
    q.put_bytes(b"again").unwrap();
    assert_eq!(q.get_bytes().unwrap(), b"again");
    Queue::unlink(&name).unwrap();
}

#[test]
fn a_consumer_killed_holding_a_view_frees_its_bytes() {
    let name = unique("deadview");
    let _ = Queue::unlink(&name);
    // Room for the viewed message and one more of the same size, not two.
    let q = Queue::open(&name, &QueueOptions { capacity_bytes: 256, ..Default::default() }).unwrap();
    q.put_bytes(&[1u8; 100]).unwrap();
    q.put_bytes(&[2u8; 100]).unwrap();
    let (mut holder, len) = hold_claim(&name, "view", 0);
    assert_eq!(len, 100);
    assert_eq!(q.qsize().unwrap(), 1, "the viewed message left the queue");
    // Its bytes are still reserved: a third message does not fit.
    assert_eq!(q.put_bytes_timeout(&[3u8; 100], Some(Duration::ZERO)).unwrap_err().kind(), mpipc::ErrorKind::Full);
    holder.kill().unwrap();
    holder.wait().unwrap();
    // The next put that needs the bytes finds the view's owner dead.
    q.put_bytes_timeout(&[3u8; 100], Some(Duration::ZERO)).unwrap();
    assert_eq!(q.owner_deaths(), 1);
    assert_eq!(q.get_bytes().unwrap(), vec![2u8; 100]);
    assert_eq!(q.get_bytes().unwrap(), vec![3u8; 100]);
    assert_eq!(q.bytes_used().unwrap(), 0);
    Queue::unlink(&name).unwrap();
}

#[test]
fn torture_with_large_messages_and_claims() {
    let out =
        Command::new(TORTURE).args(["run", "--rounds", "100", "--timeout-s", "120", "--large", "1"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(out.status.success(), "torture failed:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("duplicates=0 corrupt=0"), "{text}");
    assert!(text.lines().last().unwrap_or("").ends_with("OK"));
}
