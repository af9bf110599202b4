//! Manager tests with the server and clients in one process (threads);
//! cross-process behaviour is in tests/manager_procs.rs.

use super::*;
use crate::error::ErrorKind;
use crate::pipe::ListenerOptions;
use ciborium::Value;
use std::time::{Duration, Instant};

fn server(tag: &str) -> ManagerServer {
    let addr = format!("unix:@mpipc-mgr-ut-{tag}-{}", std::process::id());
    ManagerServer::serve(&addr, &ListenerOptions::default()).unwrap()
}

fn client(s: &ManagerServer) -> ManagerClient {
    ManagerClient::connect(&s.address().to_string(), &ListenerOptions::default(), Some(Duration::from_secs(5))).unwrap()
}

fn t(s: &str) -> Value {
    Value::Text(s.into())
}

fn i(n: i64) -> Value {
    Value::Integer(n.into())
}

#[test]
fn dict_methods() {
    let s = server("dict");
    let c = client(&s);
    let call = |m: &str, a: Vec<Value>| c.call("dict", "d", m, a);
    call("set", vec![t("a"), i(1)]).unwrap();
    call("set", vec![i(2), t("two")]).unwrap();
    assert_eq!(call("get", vec![t("a")]).unwrap(), i(1));
    assert_eq!(call("get", vec![Value::Float(2.0)]).unwrap(), t("two"), "2.0 and 2 are one key, as in Python");
    assert_eq!(call("get", vec![t("zz")]).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(call("get", vec![t("zz"), Value::Null]).unwrap(), Value::Null);
    assert_eq!(call("len", vec![]).unwrap(), i(2));
    assert_eq!(call("contains", vec![t("a")]).unwrap(), Value::Bool(true));
    assert_eq!(call("keys", vec![]).unwrap(), Value::Array(vec![t("a"), i(2)]));
    assert_eq!(call("incr", vec![t("n"), i(5)]).unwrap(), i(5));
    assert_eq!(call("incr", vec![t("n")]).unwrap(), i(6));
    assert_eq!(call("incr", vec![i(2)]).unwrap_err().kind(), ErrorKind::Type);
    assert_eq!(call("compare_and_set", vec![t("n"), i(6), i(10)]).unwrap(), Value::Bool(true));
    assert_eq!(call("compare_and_set", vec![t("n"), i(6), i(11)]).unwrap(), Value::Bool(false));
    assert_eq!(call("setdefault", vec![t("n"), i(0)]).unwrap(), i(10));
    assert_eq!(call("setdefault", vec![t("new"), i(0)]).unwrap(), i(0));
    assert_eq!(call("pop", vec![t("new")]).unwrap(), i(0));
    assert_eq!(call("pop", vec![t("new")]).unwrap_err().kind(), ErrorKind::NotFound);
    call("update", vec![Value::Map(vec![(t("x"), i(1)), (t("y"), i(2))])]).unwrap();
    assert_eq!(
        call("update", vec![Value::Array(vec![Value::Array(vec![Value::Map(vec![]), i(1)])])]).unwrap_err().kind(),
        ErrorKind::Type
    );
    assert_eq!(call("popitem", vec![]).unwrap(), Value::Array(vec![t("y"), i(2)]));
    call("del", vec![t("x")]).unwrap();
    assert_eq!(call("del", vec![t("x")]).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(call("set", vec![Value::Map(vec![]), i(1)]).unwrap_err().kind(), ErrorKind::Type, "unhashable key");
    assert_eq!(call("nosuch", vec![]).unwrap_err().kind(), ErrorKind::Unsupported);
    assert_eq!(call("set", vec![t("only one")]).unwrap_err().kind(), ErrorKind::Invalid);
    assert!(matches!(call("copy", vec![]).unwrap(), Value::Map(_)));
    call("clear", vec![]).unwrap();
    assert_eq!(call("len", vec![]).unwrap(), i(0));
    // A kind mismatch on an existing name.
    assert_eq!(c.call("list", "d", "len", vec![]).unwrap_err().kind(), ErrorKind::Type);
    assert_eq!(c.call("hashmap", "d", "len", vec![]).unwrap_err().kind(), ErrorKind::Unsupported);
}

#[test]
fn list_set_namespace_value_methods() {
    let s = server("list");
    let c = client(&s);
    let l = |m: &str, a: Vec<Value>| c.call("list", "l", m, a);
    l("extend", vec![Value::Array(vec![i(3), i(1), i(2)])]).unwrap();
    l("append", vec![i(1)]).unwrap();
    l("insert", vec![i(0), i(9)]).unwrap();
    assert_eq!(l("copy", vec![]).unwrap(), Value::Array(vec![i(9), i(3), i(1), i(2), i(1)]));
    assert_eq!(l("index", vec![i(1)]).unwrap(), i(2));
    assert_eq!(l("index", vec![i(1), i(3)]).unwrap(), i(4));
    assert_eq!(l("index", vec![i(7)]).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(l("count", vec![i(1)]).unwrap(), i(2));
    assert_eq!(l("getitem", vec![i(-1)]).unwrap(), i(1));
    assert_eq!(l("getitem", vec![i(5)]).unwrap_err().kind(), ErrorKind::Index);
    l("setitem", vec![i(0), i(0)]).unwrap();
    assert_eq!(l("getslice", vec![i(1), i(3)]).unwrap(), Value::Array(vec![i(3), i(1)]));
    l("setslice", vec![i(1), i(3), Value::Array(vec![t("a")])]).unwrap();
    assert_eq!(l("copy", vec![]).unwrap(), Value::Array(vec![i(0), t("a"), i(2), i(1)]));
    assert_eq!(l("sort", vec![]).unwrap_err().kind(), ErrorKind::Type);
    // Neighbours comparable, the whole list not: still nothing changes.
    let m = |a: Vec<Value>| c.call("list", "m", "extend", vec![Value::Array(a)]);
    m(vec![Value::Array(vec![i(1), t("a")]), Value::Array(vec![i(2), t("b")]), Value::Array(vec![i(1), i(3)])])
        .unwrap();
    let before = c.call("list", "m", "copy", vec![]).unwrap();
    assert_eq!(c.call("list", "m", "sort", vec![]).unwrap_err().kind(), ErrorKind::Type);
    assert_eq!(c.call("list", "m", "copy", vec![]).unwrap(), before);
    assert_eq!(l("copy", vec![]).unwrap(), Value::Array(vec![i(0), t("a"), i(2), i(1)]), "failed sort changes nothing");
    l("remove", vec![t("a")]).unwrap();
    l("sort", vec![Value::Bool(true)]).unwrap();
    assert_eq!(l("copy", vec![]).unwrap(), Value::Array(vec![i(2), i(1), i(0)]));
    assert_eq!(l("pop", vec![]).unwrap(), i(0));
    l("delslice", vec![]).unwrap();
    assert_eq!(l("pop", vec![]).unwrap_err().kind(), ErrorKind::Index);

    let st = |m: &str, a: Vec<Value>| c.call("set", "s", m, a);
    st("update", vec![Value::Array(vec![i(1), i(2), Value::Float(1.0)])]).unwrap();
    assert_eq!(st("len", vec![]).unwrap(), i(2));
    assert_eq!(st("remove", vec![i(5)]).unwrap_err().kind(), ErrorKind::NotFound);
    st("discard", vec![i(5)]).unwrap();

    let ns = |m: &str, a: Vec<Value>| c.call("namespace", "n", m, a);
    ns("setattr", vec![t("x"), i(1)]).unwrap();
    assert_eq!(ns("getattr", vec![t("x")]).unwrap(), i(1));
    assert_eq!(ns("getattr", vec![t("y")]).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(ns("getattr", vec![i(1)]).unwrap_err().kind(), ErrorKind::Type);

    assert_eq!(c.call("value", "v", "create", vec![i(41)]).unwrap(), Value::Bool(true));
    assert_eq!(c.call("value", "v", "create", vec![i(0)]).unwrap(), Value::Bool(false), "get-or-create");
    assert_eq!(c.call("value", "v", "incr", vec![]).unwrap(), i(42));
    assert_eq!(c.call("value", "v", "compare_and_set", vec![i(42), t("done")]).unwrap(), Value::Bool(true));
    assert_eq!(c.call("value", "fresh", "incr", vec![]).unwrap(), i(1), "a value never set counts as 0");

    let listed = c.call("manager", "", "list", vec![]).unwrap();
    assert!(matches!(&listed, Value::Array(a) if a.len() == 6), "{listed:?}");
    assert_eq!(c.call("manager", "l", "delete", vec![]).unwrap(), Value::Bool(true));
    assert_eq!(c.call("manager", "", "bogus", vec![]).unwrap_err().kind(), ErrorKind::Unsupported);
}

#[test]
fn locks_are_owned_and_released_on_disconnect() {
    let s = server("locks");
    let a = client(&s);
    let b = client(&s);
    assert_eq!(a.call("lock", "L", "acquire", vec![]).unwrap(), Value::Bool(true));
    assert_eq!(b.call("lock", "L", "acquire", vec![i(0)]).unwrap(), Value::Bool(false));
    let t0 = Instant::now();
    assert_eq!(b.call("lock", "L", "acquire", vec![i(50)]).unwrap(), Value::Bool(false));
    assert!(t0.elapsed() >= Duration::from_millis(45));
    assert_eq!(b.call("lock", "L", "release", vec![]).unwrap_err().kind(), ErrorKind::Permission);
    assert_eq!(a.call("lock", "L", "acquire", vec![i(0)]).unwrap_err().kind(), ErrorKind::Invalid);
    drop(a); // the holder disconnects: the server releases its lock
    assert_eq!(b.call("lock", "L", "acquire", vec![i(5000)]).unwrap(), Value::Bool(true));
    b.call("lock", "L", "release", vec![]).unwrap();

    let c = client(&s);
    for _ in 0..3 {
        assert_eq!(c.call("rlock", "R", "acquire", vec![]).unwrap(), Value::Bool(true));
    }
    assert_eq!(b.call("rlock", "R", "acquire", vec![i(0)]).unwrap(), Value::Bool(false));
    for _ in 0..3 {
        c.call("rlock", "R", "release", vec![]).unwrap();
    }
    assert_eq!(b.call("rlock", "R", "acquire", vec![i(0)]).unwrap(), Value::Bool(true));

    assert_eq!(c.call("bounded_semaphore", "S", "create", vec![i(2)]).unwrap(), Value::Bool(true));
    assert_eq!(c.call("bounded_semaphore", "S", "release", vec![]).unwrap_err().kind(), ErrorKind::Invalid);
    c.call("bounded_semaphore", "S", "acquire", vec![]).unwrap();
    c.call("bounded_semaphore", "S", "acquire", vec![]).unwrap();
    assert_eq!(b.call("bounded_semaphore", "S", "acquire", vec![i(0)]).unwrap(), Value::Bool(false));
    drop(c);
    assert_eq!(b.call("bounded_semaphore", "S", "acquire", vec![i(5000)]).unwrap(), Value::Bool(true));
    assert_eq!(b.call("bounded_semaphore", "S", "get_value", vec![]).unwrap(), i(1));
}

#[test]
fn a_blocked_client_does_not_stall_others_and_events_wake() {
    let s = server("events");
    let addr = s.address().to_string();
    let waiter = std::thread::spawn(move || {
        let w = ManagerClient::connect(&addr, &ListenerOptions::default(), None).unwrap();
        w.call("event", "E", "wait", vec![i(10_000)]).unwrap()
    });
    std::thread::sleep(Duration::from_millis(50));
    let c = client(&s);
    // The waiter's connection is blocked; this one is served at once.
    let t0 = Instant::now();
    c.call("dict", "d", "set", vec![t("k"), i(1)]).unwrap();
    assert!(t0.elapsed() < Duration::from_secs(2));
    c.call("event", "E", "set", vec![]).unwrap();
    assert_eq!(waiter.join().unwrap(), Value::Bool(true));
    assert_eq!(c.call("event", "E", "is_set", vec![]).unwrap(), Value::Bool(true));
}

#[test]
fn pipelined_requests_and_bad_frames() {
    let s = server("pipeline");
    let c = client(&s);
    let reqs: Vec<_> = (0..1000).map(|n| ("dict", "p", "set", vec![i(n), i(n * n)])).collect();
    assert!(c.pipeline(reqs).unwrap().iter().all(|r| r.is_ok()));
    assert_eq!(c.call("dict", "p", "len", vec![]).unwrap(), i(1000));
    let mixed = c.pipeline(vec![("dict", "p", "get", vec![i(3)]), ("dict", "p", "get", vec![i(-1)])]).unwrap();
    assert_eq!(mixed[0].as_ref().unwrap(), &i(9));
    assert_eq!(mixed[1].as_ref().unwrap_err().kind(), ErrorKind::NotFound);

    // Garbage on a raw connection gets an error reply; the server and the
    // stored data are fine.
    let raw = crate::pipe::connect(&s.address().to_string(), &ListenerOptions::default(), None).unwrap();
    raw.send(b"\xff\x00garbage").unwrap();
    let reply = protocol::Reply::decode(&raw.recv().unwrap()).unwrap();
    assert_eq!(reply.result.unwrap_err().kind(), ErrorKind::Invalid);
    raw.send(&[0x7b, 0x40, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    assert!(protocol::Reply::decode(&raw.recv().unwrap()).unwrap().result.is_err());
    drop(raw);
    assert_eq!(c.call("dict", "p", "get", vec![i(999)]).unwrap(), i(999 * 999));

    // A frame over MAX_REQUEST: an error reply, then that connection (only)
    // is closed; a client that vanishes mid-request harms nobody either.
    use std::io::Write;
    let addr = match s.address() {
        crate::pipe::Address::Abstract(n) => n.clone(),
        _ => unreachable!(),
    };
    let sa = <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(&addr).unwrap();
    let mut huge = std::os::unix::net::UnixStream::connect_addr(&sa).unwrap();
    huge.write_all(&((MAX_REQUEST + 1) as u32).to_be_bytes()).unwrap();
    let conn = crate::pipe::Connection::from_owned_fd(huge.try_clone().unwrap().into()).unwrap();
    let reply = protocol::Reply::decode(&conn.recv().unwrap()).unwrap();
    assert_eq!(reply.result.unwrap_err().kind(), ErrorKind::TooBig);
    assert_eq!(conn.recv().unwrap_err().kind(), ErrorKind::Eof);
    let mut partial = std::os::unix::net::UnixStream::connect_addr(&sa).unwrap();
    partial.write_all(b"\x00\x00\x01\x00only part of a request").unwrap();
    drop(partial);
    assert_eq!(c.call("dict", "p", "len", vec![]).unwrap(), i(1000));
}

/// Found by the manager_requests fuzz target (fuzz/corpus/manager_requests/
/// regression-held-reply): a request followed by the start of another
/// frame and then EOF lost the first request's reply, held back because
/// request bytes were still buffered.
#[test]
fn replies_before_an_unfinished_frame_are_sent() {
    use std::io::{Read, Write};
    let s = server("unfinished");
    let addr = match s.address() {
        crate::pipe::Address::Abstract(n) => n.clone(),
        _ => unreachable!(),
    };
    let sa = <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(&addr).unwrap();
    let mut sock = std::os::unix::net::UnixStream::connect_addr(&sa).unwrap();
    let req =
        protocol::Request { id: 77, kind: "manager".into(), name: String::new(), method: "ping".into(), args: vec![] }
            .encode();
    let mut stream = (req.len() as u32).to_be_bytes().to_vec();
    stream.extend(&req);
    stream.extend([0, 0, 1]); // the first 3 bytes of a frame header
    sock.write_all(&stream).unwrap();
    sock.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = Vec::new();
    sock.read_to_end(&mut out).unwrap();
    assert!(out.len() > 4, "no reply at all");
    let n = u32::from_be_bytes(out[..4].try_into().unwrap()) as usize;
    assert_eq!(out.len(), 4 + n, "exactly one reply");
    let reply = protocol::Reply::decode(&out[4..]).unwrap();
    assert_eq!(reply.id, 77);
    assert_eq!(reply.result.unwrap(), Value::Null);
}

/// Found by the c_abi fuzz target: a value stored at the request nesting
/// limit comes back one level deeper in `items` (`[[key, value]]`); the
/// client refused that reply as too deep and dropped its connection.
#[test]
fn results_one_level_deeper_than_their_request_decode() {
    let s = server("deep");
    let c = client(&s);
    // Null inside 126 arrays: at depth 128 in the request
    // [id, kind, name, method, [key, value]], the deepest accepted.
    let mut v = Value::Null;
    for _ in 0..126 {
        v = Value::Array(vec![v]);
    }
    c.call("dict", "deep", "set", vec![t("k"), v.clone()]).unwrap();
    let items = c.call("dict", "deep", "items", vec![]).unwrap();
    assert_eq!(items, Value::Array(vec![Value::Array(vec![t("k"), v.clone()])]));
    assert_eq!(c.call("dict", "deep", "popitem", vec![]).unwrap(), Value::Array(vec![t("k"), v]));
    // The connection is still usable.
    assert_eq!(c.call("dict", "deep", "len", vec![]).unwrap(), i(0));
    // One level more is refused in the request, as before.
    let mut w = Value::Null;
    for _ in 0..127 {
        w = Value::Array(vec![w]);
    }
    assert_eq!(c.call("dict", "deep", "set", vec![t("k"), w]).unwrap_err().kind(), ErrorKind::Invalid);
}

#[test]
fn shutdown_unblocks_waiters() {
    let s = server("shutdown");
    let addr = s.address().to_string();
    let waiter = std::thread::spawn(move || {
        let w = ManagerClient::connect(&addr, &ListenerOptions::default(), None).unwrap();
        w.call("event", "E", "wait", vec![]).map(|_| ())
    });
    std::thread::sleep(Duration::from_millis(50));
    let t0 = Instant::now();
    s.shutdown();
    assert_eq!(waiter.join().unwrap().unwrap_err().kind(), ErrorKind::Shutdown, "the blocked call is told why");
    assert!(t0.elapsed() < Duration::from_secs(5));
}

#[test]
fn queue_condition_barrier_array() {
    let s = server("more");
    let c = client(&s);
    let q = |m: &str, a: Vec<Value>| c.call("queue", "q", m, a);
    assert_eq!(c.call("queue", "q", "create", vec![i(2)]).unwrap(), Value::Bool(true));
    q("put", vec![i(1)]).unwrap();
    q("put", vec![i(2)]).unwrap();
    assert_eq!(q("put", vec![i(3), i(0)]).unwrap_err().kind(), ErrorKind::Full);
    assert_eq!(q("full", vec![]).unwrap(), Value::Bool(true));
    assert_eq!(q("get", vec![]).unwrap(), i(1));
    assert_eq!(q("qsize", vec![]).unwrap(), i(1));
    q("get", vec![]).unwrap();
    assert_eq!(q("get", vec![i(20)]).unwrap_err().kind(), ErrorKind::Empty);
    assert_eq!(q("join", vec![i(0)]).unwrap_err().kind(), ErrorKind::Timeout);
    q("task_done", vec![]).unwrap();
    q("task_done", vec![]).unwrap();
    q("join", vec![]).unwrap();
    assert_eq!(q("task_done", vec![]).unwrap_err().kind(), ErrorKind::Invalid);

    // Condition: a waiter on another connection is notified.
    let addr = s.address().to_string();
    let waiter = std::thread::spawn(move || {
        let w = ManagerClient::connect(&addr, &ListenerOptions::default(), None).unwrap();
        w.call("condition", "C", "acquire", vec![]).unwrap();
        let r = w.call("condition", "C", "wait", vec![i(10_000)]).unwrap();
        w.call("condition", "C", "release", vec![]).unwrap();
        r
    });
    assert_eq!(c.call("condition", "C", "notify", vec![]).unwrap_err().kind(), ErrorKind::Permission);
    // Wait until the waiter is in wait() (it released the lock).
    let t0 = Instant::now();
    loop {
        c.call("condition", "C", "acquire", vec![]).unwrap();
        // notify wakes nobody if the waiter has not arrived yet: retry.
        c.call("condition", "C", "notify", vec![]).unwrap();
        c.call("condition", "C", "release", vec![]).unwrap();
        if waiter.is_finished() || t0.elapsed() > Duration::from_secs(5) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(waiter.join().unwrap(), Value::Bool(true));
    c.call("condition", "C", "acquire", vec![]).unwrap();
    assert_eq!(c.call("condition", "C", "wait", vec![i(20)]).unwrap(), Value::Bool(false), "timed out, lock retaken");
    c.call("condition", "C", "release", vec![]).unwrap();

    // Barrier of 3: two other connections and this one.
    assert_eq!(c.call("barrier", "B", "create", vec![i(3)]).unwrap(), Value::Bool(true));
    let parties: Vec<_> = (0..2)
        .map(|_| {
            let addr = s.address().to_string();
            std::thread::spawn(move || {
                let w = ManagerClient::connect(&addr, &ListenerOptions::default(), None).unwrap();
                w.call("barrier", "B", "wait", vec![i(10_000)]).unwrap()
            })
        })
        .collect();
    let mine = c.call("barrier", "B", "wait", vec![i(10_000)]).unwrap();
    let mut idx: Vec<i64> = parties
        .into_iter()
        .map(|p| p.join().unwrap())
        .chain([mine])
        .map(|v| match v {
            Value::Integer(n) => i128::from(n) as i64,
            _ => -1,
        })
        .collect();
    idx.sort();
    assert_eq!(idx, vec![0, 1, 2]);
    assert_eq!(
        c.call("barrier", "B", "wait", vec![i(20)]).unwrap_err().kind(),
        ErrorKind::Broken,
        "a timeout breaks it"
    );
    assert_eq!(c.call("barrier", "B", "broken", vec![]).unwrap(), Value::Bool(true));
    c.call("barrier", "B", "reset", vec![]).unwrap();
    assert_eq!(c.call("barrier", "B", "broken", vec![]).unwrap(), Value::Bool(false));
    assert_eq!(c.call("barrier", "B2", "create", vec![]).unwrap_err().kind(), ErrorKind::Invalid);

    // Array with a typecode.
    assert_eq!(c.call("array", "A", "create", vec![t("h"), i(3)]).unwrap(), Value::Bool(true));
    c.call("array", "A", "setitem", vec![i(0), i(-5)]).unwrap();
    assert_eq!(c.call("array", "A", "setitem", vec![i(1), i(40000)]).unwrap_err().kind(), ErrorKind::Invalid);
    assert_eq!(c.call("array", "A", "setitem", vec![i(1), t("x")]).unwrap_err().kind(), ErrorKind::Type);
    assert_eq!(c.call("array", "A", "incr", vec![i(0), i(2)]).unwrap(), i(-3));
    assert_eq!(c.call("array", "A", "tolist", vec![]).unwrap(), Value::Array(vec![i(-3), i(0), i(0)]));
    assert_eq!(
        c.call("array", "A", "setslice", vec![i(0), i(2), Value::Array(vec![i(1)])]).unwrap_err().kind(),
        ErrorKind::Invalid
    );
    assert_eq!(c.call("array", "X", "create", vec![t("z"), i(1)]).unwrap_err().kind(), ErrorKind::Invalid);
    assert_eq!(
        c.call("array", "D", "create", vec![t("d"), Value::Array(vec![i(1), Value::Float(2.5)])]).unwrap(),
        Value::Bool(true)
    );
    assert_eq!(c.call("array", "D", "getitem", vec![i(0)]).unwrap(), Value::Float(1.0));
}

#[test]
fn a_keyless_client_of_a_keyed_server_gets_an_auth_error() {
    let addr = format!("unix:@mpipc-mgr-test-keyed-{}", std::process::id());
    let keyed = ListenerOptions { authkey: Some(b"secret".to_vec()), ..Default::default() };
    let s = ManagerServer::serve(&addr, &keyed).unwrap();
    let c = ManagerClient::connect(&s.address().to_string(), &ListenerOptions::default(), Some(Duration::from_secs(5)))
        .unwrap();
    let e = c.call("dict", "d", "len", vec![]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(e.message().contains("authkey"));
    s.shutdown();
}

/// A batch far larger than the socket buffers (100,000 requests, ~3 MB)
/// completes: the client sends it in windows and reads replies in between,
/// so client and server never both wait on a full buffer.
#[test]
fn a_huge_pipelined_batch_does_not_deadlock() {
    let s = server("hugebatch");
    let c = client(&s);
    let n = 100_000;
    let reqs: Vec<_> = (0..n).map(|k| ("dict", "big", "set", vec![i(k), t("some value to make it wider")])).collect();
    let results = c.pipeline(reqs).unwrap();
    assert_eq!(results.len(), n as usize);
    assert!(results.iter().all(|r| r.is_ok()));
    assert_eq!(c.call("dict", "big", "len", vec![]).unwrap(), i(n));
    // Replies larger than the requests (copies of the whole dict) too.
    let reqs: Vec<_> = (0..20).map(|_| ("dict", "big", "copy", vec![])).collect();
    assert!(c.pipeline(reqs).unwrap().into_iter().all(|r| matches!(r, Ok(Value::Map(m)) if m.len() == n as usize)));
}

/// A request nested deeper than the server accepts gets its error under its
/// own id (the body is not decoded, the head is): the client reports
/// `Invalid` and keeps its connection. (Found by the c_abi fuzz target:
/// the reply came with id 0 and the client dropped the connection.)
#[test]
fn a_request_nested_too_deep_fails_alone() {
    let s = server("deepreq");
    let c = client(&s);
    let mut v = t("x");
    for _ in 0..protocol::MAX_DEPTH + 5 {
        v = Value::Tag(6, Box::new(v));
    }
    let e = c.call("dict", "d", "set", vec![t("k"), v]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    assert!(c.is_connected());
    c.call("dict", "d", "set", vec![t("k"), i(1)]).unwrap();
    assert_eq!(c.call("dict", "d", "get", vec![t("k")]).unwrap(), i(1));
    // A large id, in a head of 8 bytes, is read back too.
    let frame = [&[0x85, 0x1b][..], &u64::MAX.to_be_bytes(), &[0xff]].concat();
    assert_eq!(protocol::Request::decode(&frame).unwrap_err().0, Some(u64::MAX));
}

/// A delete from another connection is seen at once, the name then
/// standing for a new object, of any kind.
#[test]
fn a_delete_is_seen_by_every_connection() {
    let s = server("delete");
    let (a, b) = (client(&s), client(&s));
    a.call("dict", "x", "set", vec![t("k"), i(1)]).unwrap();
    assert_eq!(a.call("dict", "x", "get", vec![t("k")]).unwrap(), i(1));
    assert_eq!(b.call("manager", "x", "delete", vec![]).unwrap(), Value::Bool(true));
    assert_eq!(a.call("dict", "x", "len", vec![]).unwrap(), i(0), "a new, empty dict");
    assert_eq!(b.call("manager", "x", "delete", vec![]).unwrap(), Value::Bool(true));
    b.call("list", "x", "append", vec![i(5)]).unwrap();
    assert_eq!(a.call("dict", "x", "len", vec![]).unwrap_err().kind(), ErrorKind::Type, "now a list");
    assert_eq!(a.call("list", "x", "len", vec![]).unwrap(), i(1));
    // Many names, each its own object.
    for n in 0..40 {
        a.call("value", &format!("v{n}"), "set", vec![i(n)]).unwrap();
    }
    for n in (0..40).rev() {
        assert_eq!(a.call("value", &format!("v{n}"), "get", vec![]).unwrap(), i(n));
    }
}

/// Requests in shapes our clients do not write (indefinite lengths, long
/// heads, more arguments than the in-place reader takes) are decoded and
/// served alike, and their replies are the same bytes.
#[test]
fn requests_in_other_encoders_forms_are_served_alike() {
    let s = server("forms");
    let raw = crate::pipe::connect(&s.address().to_string(), &ListenerOptions::default(), None).unwrap();
    let ask = |frame: &[u8]| {
        raw.send(frame).unwrap();
        raw.recv().unwrap()
    };
    let usual = |id: u8, method: &str, args: &[u8]| {
        [&[0x85, id, 0x64][..], b"dict", &[0x61, b'd', 0x60 + method.len() as u8], method.as_bytes(), args].concat()
    };
    // set 1 -> "one", in the usual shape.
    let r = ask(&usual(1, "set", &[0x82, 0x01, 0x63, b'o', b'n', b'e']));
    assert_eq!(r, [0x83, 0x01, 0x00, 0xf6]);
    let expect_one = |id: u8| [&[0x83, id, 0x00, 0x63][..], b"one"].concat();
    assert_eq!(ask(&usual(2, "get", &[0x81, 0x01])), expect_one(2));
    // The same get: indefinite args, a long id head, an indefinite outer
    // array, indefinite text fields, a half-float key, a key in a long
    // head, a bignum key.
    assert_eq!(ask(&usual(3, "get", &[0x9f, 0x01, 0xff])), expect_one(3));
    let long_id =
        [&[0x85, 0x1b, 0, 0, 0, 0, 0, 0, 0, 4, 0x64][..], b"dict", &[0x61, b'd', 0x63], b"get", &[0x81, 0x01]].concat();
    assert_eq!(ask(&long_id), expect_one(4));
    let indefinite =
        [&[0x9f, 0x05, 0x7f, 0x62][..], b"di", &[0x62], b"ct", &[0xff, 0x61, b'd', 0x63], b"get", &[0x81, 0x01, 0xff]]
            .concat();
    assert_eq!(ask(&indefinite), expect_one(5));
    assert_eq!(ask(&usual(6, "get", &[0x81, 0xf9, 0x3c, 0x00])), expect_one(6));
    assert_eq!(ask(&usual(7, "get", &[0x81, 0x19, 0x00, 0x01])), expect_one(7));
    assert_eq!(ask(&usual(8, "get", &[0x81, 0xc2, 0x41, 0x01])), expect_one(8));
    // Five arguments (more than the in-place reader takes): the arity
    // error, as before.
    let r = protocol::Reply::decode(&ask(&usual(9, "get", &[0x85, 1, 2, 3, 4, 5]))).unwrap();
    assert_eq!((r.id, r.result.unwrap_err().kind()), (9, ErrorKind::Invalid));
    // A value stored in another form comes back canonical.
    ask(&usual(10, "set", &[0x82, 0x02, 0xfa, 0x3f, 0xc0, 0x00, 0x00]));
    let r = protocol::Reply::decode(&ask(&usual(11, "get", &[0x81, 0x02]))).unwrap();
    assert_eq!(r.result.unwrap(), Value::Float(1.5));
    assert_eq!(ask(&usual(12, "get", &[0x81, 0x02]))[3..], protocol::encode_value(&Value::Float(1.5))[..]);
}
