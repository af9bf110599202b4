//! Unit tests of the queue at a Redis address, against a throwaway server
//! (`crate::redis::test_server`). Threads stand in for clients only where
//! what is tested is the server-side wait (each handle has its own
//! connections); the tests across processes are in tests/ (C, bindings).

use super::*;
use crate::redis::test_server::TestServer;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn open(url: &str, opts: QueueOptions) -> RedisQueue {
    RedisQueue::open(url, &opts).unwrap_or_else(|e| panic!("open {url}: {e}"))
}

fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    // Relaxed: a unique number only.
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

const NOW: Option<Duration> = Some(Duration::ZERO);

#[test]
fn fifo_qsize_batches_and_maxsize_over_tcp_and_unix() {
    let Some(srv) = TestServer::start() else { return };
    for base in [srv.url(), srv.unix_url()] {
        let url = format!("{base}/{}", unique("fifo"));
        let q = open(&url, QueueOptions { maxsize: 3, ..Default::default() });
        assert_eq!((q.maxsize(), q.max_message()), (3, REDIS_MAX_MESSAGE));
        assert_eq!(q.put_many(&[&b"a"[..], b"bb", b"ccc", b"dddd"], None).unwrap(), 3);
        assert_eq!(q.qsize().unwrap(), 3);
        assert!(q.full().unwrap());
        let e = q.put_many(&[b"x"], NOW).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Full, "{e}");
        assert_eq!(q.get_many(2, None).unwrap(), vec![b"a".to_vec(), b"bb".to_vec()]);
        assert_eq!(q.get_many(8, NOW).unwrap(), vec![b"ccc".to_vec()]);
        assert_eq!(q.get_many(1, NOW).unwrap_err().kind(), ErrorKind::Empty);
        let e = q.get_many(1, Some(Duration::from_millis(30))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Empty);
        let other = open(&url, QueueOptions::default());
        assert_eq!(other.maxsize(), 3, "attaching reads the queue's own options");
        RedisQueue::unlink(&url).unwrap();
        assert_eq!(RedisQueue::unlink(&url).unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(q.qsize().unwrap_err().kind(), ErrorKind::NotFound);
    }
}

#[test]
fn options_that_do_not_apply_and_open_modes() {
    let Some(srv) = TestServer::start() else { return };
    let url = format!("{}/{}", srv.url(), unique("opts"));
    let e = RedisQueue::open(&url, &QueueOptions { capacity_bytes: 4096, ..Default::default() }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.message().contains("capacity_bytes"), "{e}");
    let e = RedisQueue::open(&url, &QueueOptions { mode: 0o644, ..Default::default() }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    let attach = QueueOptions { open_mode: Some(OpenMode::AttachOnly), ..Default::default() };
    assert_eq!(RedisQueue::open(&url, &attach).unwrap_err().kind(), ErrorKind::NotFound);
    let q = open(
        &url,
        QueueOptions { maxsize: 2, max_message: 10, open_mode: Some(OpenMode::CreateOnly), ..Default::default() },
    );
    assert_eq!(q.max_message(), 10);
    let create = QueueOptions { open_mode: Some(OpenMode::CreateOnly), ..Default::default() };
    assert_eq!(RedisQueue::open(&url, &create).unwrap_err().kind(), ErrorKind::Exists);
    let e = RedisQueue::open(&url, &QueueOptions { maxsize: 5, ..Default::default() }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("maxsize"), "{e}");
    let e = q.put_many(&[&[0u8; 11][..]], None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooBig);
    RedisQueue::unlink(&url).unwrap();
}

#[test]
fn get_into_leaves_a_message_too_big_queued() {
    let Some(srv) = TestServer::start() else { return };
    let url = format!("{}/{}", srv.url(), unique("into"));
    let q = open(&url, QueueOptions::default());
    q.put_many(&[b"hello world"], None).unwrap();
    let mut small = [0u8; 4];
    let e = q.get_into(&mut small, NOW).unwrap_err();
    assert_eq!((e.kind(), e.needed()), (ErrorKind::BufSize, 11));
    // The blocking path (a get that had to wait) gives it back too.
    let e = q.get_into(&mut small, Some(Duration::from_millis(200))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BufSize);
    let mut buf = [0u8; 32];
    assert_eq!(q.get_into(&mut buf, NOW).unwrap(), 11);
    assert_eq!(&buf[..11], b"hello world");
    // A blocked get_into woken by a put from another handle.
    let url2 = url.clone();
    let putter = std::thread::spawn(move || {
        let p = open(&url2, QueueOptions::default());
        p.put_many(&[b"later"], None).unwrap();
    });
    assert_eq!(q.get_into(&mut buf, None).unwrap(), 5);
    putter.join().unwrap();
    RedisQueue::unlink(&url).unwrap();
}

#[test]
fn a_blocked_putter_is_woken_by_a_get_from_another_client() {
    let Some(srv) = TestServer::start() else { return };
    let url = format!("{}/{}", srv.url(), unique("room"));
    let q = open(&url, QueueOptions { maxsize: 1, ..Default::default() });
    q.put_many(&[b"1"], None).unwrap();
    let url2 = url.clone();
    let putter = std::thread::spawn(move || {
        let p = open(&url2, QueueOptions::default());
        p.put_many(&[b"2"], None).unwrap()
    });
    // Wait until the putter is blocked (its put found the queue full and
    // it waits on the room latch), then make room.
    wait_for_blocked_clients(&srv, 1);
    assert_eq!(q.get_many(1, None).unwrap(), vec![b"1".to_vec()]);
    assert_eq!(putter.join().unwrap(), 1);
    assert_eq!(q.get_many(1, None).unwrap(), vec![b"2".to_vec()]);
    RedisQueue::unlink(&url).unwrap();
}

#[test]
fn shutdown_wakes_every_blocked_getter_and_putter() {
    let Some(srv) = TestServer::start() else { return };
    let url = format!("{}/{}", srv.url(), unique("shut"));
    let q = open(&url, QueueOptions::default());
    let getters: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || open(&url, QueueOptions::default()).get_many(1, None).unwrap_err().kind())
        })
        .collect();
    // Each getter is blocked once the server counts it among its blocked
    // clients; wait for that state rather than for a while.
    wait_for_blocked_clients(&srv, 4);
    q.shutdown(false).unwrap();
    for g in getters {
        assert_eq!(g.join().unwrap(), ErrorKind::Shutdown);
    }
    assert_eq!(q.put_many(&[b"x"], None).unwrap_err().kind(), ErrorKind::Shutdown);
    RedisQueue::unlink(&url).unwrap();

    // Non-immediate: drains first; immediate: discards and counts as done.
    let q = open(&url, QueueOptions::default());
    q.put_many(&[b"a", b"b"], None).unwrap();
    q.shutdown(false).unwrap();
    assert_eq!(q.get_many(1, None).unwrap(), vec![b"a".to_vec()]);
    q.shutdown(true).unwrap();
    assert_eq!(q.get_many(1, None).unwrap_err().kind(), ErrorKind::Shutdown);
    q.task_done().unwrap();
    q.join(NOW).unwrap();
    RedisQueue::unlink(&url).unwrap();
}

#[test]
fn join_waits_for_task_done_from_another_client() {
    let Some(srv) = TestServer::start() else { return };
    let url = format!("{}/{}", srv.url(), unique("join"));
    let q = open(&url, QueueOptions::default());
    q.join(NOW).unwrap();
    q.put_many(&[b"t1", b"t2"], None).unwrap();
    assert_eq!(q.join(Some(Duration::from_millis(20))).unwrap_err().kind(), ErrorKind::Timeout);
    let url2 = url.clone();
    let worker = std::thread::spawn(move || {
        let w = open(&url2, QueueOptions::default());
        for _ in 0..2 {
            w.get_many(1, None).unwrap();
            w.task_done().unwrap();
        }
    });
    q.join(None).unwrap();
    worker.join().unwrap();
    assert_eq!(q.state().unwrap(), (0, 0, false));
    let e = q.task_done().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    RedisQueue::unlink(&url).unwrap();
}

#[test]
fn at_least_once_gives_back_what_a_closed_consumer_took() {
    let Some(srv) = TestServer::start() else { return };
    let bare = format!("{}/{}", srv.url(), unique("alo"));
    let url = format!("{bare}?ack=at-least-once&lease_ms=2000");
    let q = open(&url, QueueOptions::default());
    assert!(q.at_least_once());
    // Without ?ack= a handle takes the queue's own mode; asking for the
    // other one is refused.
    assert!(open(&bare, QueueOptions::default()).at_least_once());
    let e = RedisQueue::open(&format!("{bare}?ack=at-most-once"), &QueueOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    q.put_many(&[b"job1", b"job2"], None).unwrap();
    {
        let c = open(&url, QueueOptions::default());
        assert_eq!(c.get_many(1, None).unwrap(), vec![b"job1".to_vec()]);
        assert_eq!(q.qsize().unwrap(), 1);
    } // dropped without task_done: job1 goes back to the head
    assert_eq!(q.qsize().unwrap(), 2);
    assert_eq!(q.get_many(1, None).unwrap(), vec![b"job1".to_vec()]);
    q.task_done().unwrap();
    assert_eq!(q.get_many(1, None).unwrap(), vec![b"job2".to_vec()]);
    q.task_done().unwrap();
    assert_eq!(q.task_done().unwrap_err().kind(), ErrorKind::Invalid);
    q.join(NOW).unwrap();
    RedisQueue::unlink(&url).unwrap();
}

#[test]
fn bad_addresses_and_unreachable_servers_give_clear_errors() {
    for (url, part) in [
        ("redis://h:x/q", "bad port"),
        ("redis://h/a/q", "db \"a\""),
        ("redis://h", "queue name missing"),
        ("ftp://h/q", "not a Redis scheme"),
        ("redis://h/q?foo=1", "unknown option"),
    ] {
        let e = RedisQueue::open(url, &QueueOptions::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "{url}: {e}");
        assert!(e.message().contains(part), "{url}: {e}");
    }
    let e = RedisQueue::open("rediss://127.0.0.1/q", &QueueOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    // A port nobody listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = RedisQueue::open(&format!("redis://127.0.0.1:{port}/q"), &QueueOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    // A listener that accepts and never answers: bounded by timeout_ms.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let e =
        RedisQueue::open(&format!("redis://127.0.0.1:{port}/q?timeout_ms=200"), &QueueOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
}

#[test]
fn passwords_are_checked_and_never_shown() {
    let Some(srv) = TestServer::start_with(&["--requirepass", "s3cret"]) else { return };
    let good = format!("redis://:s3cret@127.0.0.1:{}/{}", srv.port, unique("auth"));
    open(&good, QueueOptions::default()).put_many(&[b"x"], None).unwrap();
    for url in [format!("redis://:wrong@127.0.0.1:{}/q", srv.port), format!("{}/q", srv.url())] {
        let e = RedisQueue::open(&url, &QueueOptions::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
        assert!(!e.message().contains("wrong"), "{e}");
    }
}

#[test]
fn a_restarted_server_keeps_acknowledged_puts_and_clients_reconnect() {
    let Some(mut srv) = TestServer::start() else { return };
    let url = format!("{}/{}", srv.url(), unique("restart"));
    let q = open(&url, QueueOptions::default());
    let msgs: Vec<Vec<u8>> = (0..200u32).map(|i| i.to_le_bytes().to_vec()).collect();
    for m in &msgs {
        q.put_many(&[m], None).unwrap();
    }
    srv.restart();
    // The pooled connection died with the server: that call fails (it may
    // or may not have run); the next one dials anew.
    let first = q.qsize();
    if let Err(e) = &first {
        assert_eq!(e.kind(), ErrorKind::Eof, "{e}");
    }
    assert_eq!(q.qsize().unwrap(), 200);
    assert_eq!(q.get_many(500, NOW).unwrap(), msgs);
    RedisQueue::unlink(&url).unwrap();
}

/// Waits until the server has `n` clients blocked (`INFO clients`).
fn wait_for_blocked_clients(srv: &TestServer, n: usize) {
    let (ep, _) = crate::redis::endpoint_of(&srv.url(), false).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info: String = ep.run(None, |con| redis::cmd("INFO").arg("clients").query(con)).unwrap();
        let blocked = info
            .lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if blocked >= n {
            return;
        }
        assert!(Instant::now() < deadline, "{blocked} of {n} clients blocked");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_joiner_finds_a_done_token_lost_with_a_killed_joiner() {
    let Some(srv) = TestServer::start() else { return };
    let name = unique("lostdone");
    let url = format!("{}/{name}", srv.url());
    let q = open(&url, QueueOptions::default());
    q.put_many(&[b"t"], None).unwrap();
    q.get_many(1, None).unwrap();
    q.task_done().unwrap();
    // A joiner killed after taking the token and before putting it back.
    let (ep, _) = crate::redis::endpoint_of(&srv.url(), false).unwrap();
    let taken: Option<String> =
        ep.run(None, |con| redis::cmd("LPOP").arg(format!("mpipc:q:{{{name}}}:done")).query(con)).unwrap();
    assert!(taken.is_some());
    q.join(None).unwrap(); // returns after at most one slice
    RedisQueue::unlink(&url).unwrap();
}

#[test]
fn at_maxmemory_gets_give_back_what_does_not_fit() {
    let Some(srv) = TestServer::start() else { return };
    for ack in ["at-most-once", "at-least-once"] {
        let url = format!("{}/{}?ack={ack}", srv.url(), unique("oom"));
        let q = open(&url, QueueOptions::default());
        q.put_many(&[&[1u8; 100][..], &[2u8; 100], &[3u8; 100]], None).unwrap();
        let (ep, _) = crate::redis::endpoint_of(&srv.url(), false).unwrap();
        ep.run(None, |con| redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(1).query::<()>(con)).unwrap();
        assert_eq!(q.put_many(&[b"x"], NOW).unwrap_err().kind(), ErrorKind::Full);
        // Two fit in 250 bytes; the third goes back, even at maxmemory.
        let (mut buf, mut lens) = ([0u8; 250], [0usize; 8]);
        assert_eq!(q.get_many_into(&mut buf, &mut lens, None).unwrap(), (2, 200), "{ack}");
        let mut small = [0u8; 10];
        assert_eq!(q.get_into(&mut small, Some(Duration::from_millis(50))).unwrap_err().kind(), ErrorKind::BufSize);
        assert_eq!(q.qsize().unwrap(), 1, "{ack}: nothing lost");
        ep.run(None, |con| redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(0).query::<()>(con)).unwrap();
        assert_eq!(q.get_many(8, NOW).unwrap(), vec![vec![3u8; 100]]);
        RedisQueue::unlink(&url).unwrap();
    }
}

#[test]
fn a_key_of_another_type_is_a_type_error_not_a_lost_connection() {
    let Some(srv) = TestServer::start() else { return };
    let name = unique("wrongtype");
    let url = format!("{}/{name}", srv.url());
    let q = open(&url, QueueOptions::default());
    // A plain client wrote a string where the queue keeps its list.
    let (ep, _) = crate::redis::endpoint_of(&srv.url(), false).unwrap();
    ep.run(None, |con| redis::cmd("SET").arg(format!("mpipc:q:{{{name}}}:items")).arg("x").query::<()>(con)).unwrap();
    let e = q.put_many(&[b"m"], None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Type, "{e}");
    assert!(!crate::redis::is_transport(&e));
    ep.run(None, |con| redis::cmd("DEL").arg(format!("mpipc:q:{{{name}}}:items")).query::<()>(con)).unwrap();
    q.put_many(&[b"m"], None).unwrap(); // the same connection pool still works
    RedisQueue::unlink(&url).unwrap();
}
