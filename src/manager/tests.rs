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
    raw.send_bytes(b"\xff\x00garbage").unwrap();
    let reply = protocol::Reply::decode(&raw.recv_bytes().unwrap()).unwrap();
    assert_eq!(reply.result.unwrap_err().kind(), ErrorKind::Invalid);
    raw.send_bytes(&[0x7b, 0x40, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    assert!(protocol::Reply::decode(&raw.recv_bytes().unwrap()).unwrap().result.is_err());
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
    let reply = protocol::Reply::decode(&conn.recv_bytes().unwrap()).unwrap();
    assert_eq!(reply.result.unwrap_err().kind(), ErrorKind::TooBig);
    assert_eq!(conn.recv_bytes().unwrap_err().kind(), ErrorKind::Eof);
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
        raw.send_bytes(frame).unwrap();
        raw.recv_bytes().unwrap()
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

// ---------------------------------------------------------------------------
// Local reads from the dict replica (replica.rs). Cross-process behaviour:
// tests/manager_replica.rs.

/// A client with local reads off: every call is a round trip.
fn rpc_client(s: &ManagerServer) -> ManagerClient {
    let c = client(s);
    c.set_local_reads(false);
    c
}

fn cbor(v: &Value) -> Vec<u8> {
    cbor::encode(v)
}

/// Every answer a replica gives is the one the server gives: values,
/// defaults (as the server re-encodes them), KeyError with the server's
/// message, `contains`, `len`, keys that are one key to Python (2 and
/// 2.0), array keys, and the raw (C ABI) path.
#[test]
fn local_reads_answer_as_the_server_does() {
    let s = server("replica-same");
    let (local, rpc) = (client(&s), rpc_client(&s));
    let keys = vec![
        t("a"),
        i(2),
        Value::Float(2.5),
        Value::Bytes(vec![1, 2]),
        Value::Array(vec![i(1), t("x")]),
        Value::Bool(true),
        Value::Null,
    ];
    for (n, k) in keys.iter().enumerate() {
        rpc.call("dict", "d", "set", vec![k.clone(), Value::Array(vec![i(n as i64), t("v")])]).unwrap();
    }
    let probes = [keys.clone(), vec![Value::Float(2.0), t("zz"), i(1), Value::Array(vec![])]].concat();
    for k in &probes {
        for args in [vec![k.clone()], vec![k.clone(), Value::Float(1.5)], vec![k.clone(), Value::Null]] {
            let (a, b) = (local.call("dict", "d", "get", args.clone()), rpc.call("dict", "d", "get", args));
            match (a, b) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{k:?}"),
                (Err(a), Err(b)) => {
                    assert_eq!(a.kind(), b.kind(), "{k:?}");
                    assert_eq!(a.message(), b.message(), "{k:?}");
                }
                (a, b) => panic!("{k:?}: local {a:?}, server {b:?}"),
            }
        }
        assert_eq!(
            local.call("dict", "d", "contains", vec![k.clone()]).unwrap(),
            rpc.call("dict", "d", "contains", vec![k.clone()]).unwrap()
        );
    }
    assert_eq!(local.call("dict", "d", "len", vec![]).unwrap(), i(keys.len() as i64));
    // An unhashable key: the server's own error (the replica declines).
    let e = local.call("dict", "d", "get", vec![Value::Map(vec![])]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Type);
    // The raw path: a default in a non-shortest form comes back canonical,
    // as the server writes it.
    let args = [vec![0x82], cbor(&t("nope")), vec![0x18, 0x05]].concat();
    assert_eq!(local.call_encoded("dict", "d", "get", &args).unwrap(), vec![0x05]);
    assert_eq!(rpc.call_encoded("dict", "d", "get", &args).unwrap(), vec![0x05]);
    let served = local.local_read_count();
    assert!(served > 40, "local reads were served locally: {served}");
    assert_eq!(rpc.local_read_count(), 0);
    // Off again: round trips only.
    local.set_local_reads(false);
    local.call("dict", "d", "get", vec![t("a")]).unwrap();
    assert_eq!(local.local_read_count(), served);
}

/// A client's own write is seen by its next read, another client's write
/// by any read that starts after that write returned; deletes, pops,
/// clear and update too.
#[test]
fn local_reads_see_every_change_at_once() {
    let s = server("replica-changes");
    let (a, b) = (client(&s), client(&s));
    let get = |c: &ManagerClient, k: &str| c.call("dict", "d", "get", vec![t(k), Value::Null]).unwrap();
    assert_eq!(get(&a, "k"), Value::Null);
    for n in 0..200 {
        b.call("dict", "d", "set", vec![t("k"), i(n)]).unwrap();
        assert_eq!(get(&a, "k"), i(n));
        a.call("dict", "d", "incr", vec![t("k")]).unwrap();
        assert_eq!(get(&a, "k"), i(n + 1));
        assert_eq!(get(&b, "k"), i(n + 1));
    }
    b.call("dict", "d", "update", vec![Value::Map(vec![(t("x"), i(1)), (t("y"), i(2))])]).unwrap();
    assert_eq!(get(&a, "y"), i(2));
    b.call("dict", "d", "del", vec![t("x")]).unwrap();
    assert_eq!(get(&a, "x"), Value::Null);
    b.call("dict", "d", "pop", vec![t("y")]).unwrap();
    assert_eq!(a.call("dict", "d", "contains", vec![t("y")]).unwrap(), Value::Bool(false));
    b.call("dict", "d", "setdefault", vec![t("z"), i(9)]).unwrap();
    assert_eq!(get(&a, "z"), i(9));
    b.call("dict", "d", "popitem", vec![]).unwrap();
    assert_eq!(get(&a, "z"), Value::Null);
    assert_eq!(b.call("dict", "d", "compare_and_set", vec![t("k"), i(200), i(7)]).unwrap(), Value::Bool(true));
    assert_eq!(get(&a, "k"), i(7));
    b.call("dict", "d", "clear", vec![]).unwrap();
    assert_eq!(a.call("dict", "d", "len", vec![]).unwrap(), i(0));
    assert_eq!(get(&a, "k"), Value::Null);
    // Deleting the object retires its replica; the next read maps the new
    // (empty) dict's.
    b.call("dict", "d", "set", vec![t("k"), i(1)]).unwrap();
    assert_eq!(get(&a, "k"), i(1));
    assert_eq!(b.call("manager", "d", "delete", vec![]).unwrap(), Value::Bool(true));
    assert_eq!(get(&a, "k"), Value::Null);
    b.call("dict", "d", "set", vec![t("k"), i(2)]).unwrap();
    assert_eq!(get(&a, "k"), i(2));
    assert!(a.local_read_count() > 400);
}

/// A dict that outgrows its segment moves to larger ones (the client
/// notices the retired one and maps the next), and one over the size
/// limit (1 MiB in unit tests) is not replicated: its reads go to the
/// server, with the same answers.
#[test]
fn replicas_grow_then_give_up_over_the_limit() {
    let s = server("replica-grow");
    let (a, b) = (client(&s), rpc_client(&s));
    let val = |n: usize| Value::Bytes(vec![n as u8; 100]);
    a.call("dict", "d", "len", vec![]).unwrap(); // maps the first, small one
    let mut n = 0;
    // Up to ~220 KB of entries: still replicated (segments up to ~550 KB).
    while n < 2000 {
        b.call("dict", "d", "set", vec![i(n as i64), val(n)]).unwrap();
        n += 1;
        if n % 250 == 0 {
            let before = a.local_read_count();
            for k in (0..n).step_by(7) {
                assert_eq!(a.call("dict", "d", "get", vec![i(k as i64)]).unwrap(), val(k));
            }
            assert!(a.local_read_count() > before, "read locally at {n} entries");
        }
    }
    // Past the limit: every read is a round trip, still right.
    while n < 12000 {
        b.call("dict", "d", "set", vec![i(n as i64), val(n)]).unwrap();
        n += 1;
    }
    a.call("dict", "d", "get", vec![i(0)]).unwrap(); // notices the retirement
    let before = a.local_read_count();
    for k in (0..n).step_by(13) {
        assert_eq!(a.call("dict", "d", "get", vec![i(k as i64)]).unwrap(), val(k));
    }
    assert_eq!(a.call("dict", "d", "len", vec![]).unwrap(), i(n as i64));
    assert_eq!(a.local_read_count(), before, "over the limit: no local reads");
}

/// TCP clients may be on another host: the server gives them no replica
/// (and the client does not ask), so every read is a round trip.
#[test]
fn tcp_clients_get_no_replica() {
    let keyed = ListenerOptions { authkey: Some(b"k".to_vec()), ..Default::default() };
    let s = ManagerServer::serve("tcp:127.0.0.1:0", &keyed).unwrap();
    let c = ManagerClient::connect(&s.address().to_string(), &keyed, Some(Duration::from_secs(5))).unwrap();
    c.call("dict", "d", "set", vec![t("a"), i(1)]).unwrap();
    assert_eq!(c.call("dict", "d", "get", vec![t("a")]).unwrap(), i(1));
    assert_eq!(c.local_read_count(), 0);
    // Asked directly, the server refuses.
    let e = c.call("dict", "d", "replica", vec![]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert_eq!(c.call("dict", "d", "get", vec![t("a")]).unwrap(), i(1), "the connection is intact");
}

/// A segment whose structure is damaged (offsets out of range) is
/// detected: the read goes to the server, the answer stays right, the
/// replica is not used again; a segment left mid-write (a writer that
/// died between its two `seq` stores) sends reads to the server too.
#[test]
fn a_damaged_or_stuck_replica_sends_reads_to_the_server() {
    let s = server("replica-bad");
    let (a, b) = (client(&s), client(&s));
    for n in 0..50 {
        b.call("dict", "d", "set", vec![i(n), i(n * 10)]).unwrap();
    }
    assert_eq!(a.call("dict", "d", "get", vec![i(3)]).unwrap(), i(30));
    let served = a.local_read_count();
    let (obj, _) = s.registry().get_or_create(objects::Kind::parse("dict").unwrap(), "d", &[]).unwrap();
    // Every slot's offset and length pointed far outside the arena.
    assert!(obj.with_replica(|w| {
        for slot in 0..w.slots() {
            w.scribble(replica::HEADER + slot * replica::SLOT + 4, &[0xff; 12]);
        }
    }));
    for n in 0..50 {
        assert_eq!(a.call("dict", "d", "get", vec![i(n)]).unwrap(), i(n * 10));
    }
    assert!(a.local_read_count() <= served + 1, "a corrupt replica is dropped");
    // A fresh client maps the same damaged segment: same outcome.
    let c = client(&s);
    assert_eq!(c.call("dict", "d", "get", vec![i(7)]).unwrap(), i(70));
    // A write under way forever: reads go to the server.
    let d = client(&s);
    d.call("dict", "e", "set", vec![i(1), i(2)]).unwrap();
    assert_eq!(d.call("dict", "e", "get", vec![i(1)]).unwrap(), i(2));
    let (obj, _) = s.registry().get_or_create(objects::Kind::parse("dict").unwrap(), "e", &[]).unwrap();
    let before = d.local_read_count();
    assert!(obj.with_replica(|w| w.begin_forever()));
    assert_eq!(d.call("dict", "e", "get", vec![i(1)]).unwrap(), i(2));
    assert_eq!(d.local_read_count(), before);
}

/// A replica lives with its connection: a stopped server's replicas are
/// retired (reads go to the round trip, which reports the lost
/// connection), and a reconnect maps the new server's.
#[test]
fn a_stopped_server_ends_local_reads() {
    let addr = format!("unix:@mpipc-mgr-ut-replica-stop-{}", std::process::id());
    let s = ManagerServer::serve(&addr, &ListenerOptions::default()).unwrap();
    let c = client(&s);
    c.call("dict", "d", "set", vec![t("a"), i(1)]).unwrap();
    assert_eq!(c.call("dict", "d", "get", vec![t("a")]).unwrap(), i(1));
    assert!(c.local_read_count() > 0);
    s.shutdown();
    let e = c.call("dict", "d", "get", vec![t("a")]).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Eof | ErrorKind::Io), "{e}");
    assert_eq!(c.local_version("d"), 0);
    let s2 = ManagerServer::serve(&addr, &ListenerOptions::default()).unwrap();
    c.reconnect(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(c.call("dict", "d", "get", vec![t("a"), i(0)]).unwrap(), i(0), "the new server starts empty");
    drop(s2);
}

/// The version a read reports stays equal to `local_version` exactly
/// while the dict does not change.
#[test]
fn versions_move_with_every_change() {
    let s = server("replica-version");
    let (a, b) = (client(&s), client(&s));
    b.call("dict", "d", "set", vec![t("k"), i(1)]).unwrap();
    let key = cbor(&t("k"));
    let (v, ver) = a.dict_get_versioned("d", Item::new(&key).unwrap(), |r| Ok(r.to_vec())).unwrap();
    assert_eq!(v, cbor(&i(1)));
    assert_ne!(ver, 0);
    assert_eq!(a.local_version("d"), ver);
    b.call("dict", "d", "set", vec![t("other"), i(1)]).unwrap();
    assert_ne!(a.local_version("d"), ver, "any change moves it");
    let ver2 = a.local_version("d");
    assert_eq!(a.local_version("d"), ver2);
    let rpc = rpc_client(&s);
    let (_, v0) = rpc.dict_get_versioned("d", Item::new(&key).unwrap(), |r| Ok(r.to_vec())).unwrap();
    assert_eq!(v0, 0, "a round trip reports no version");
    assert_eq!(rpc.local_version("d"), 0);
}

// Across processes: this test binary run again as a helper process (a
// server, a writer), selected by MPIPC_REPLICA_HELPER.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

/// Starts this test binary again as a helper playing `role` with `addr`,
/// and waits for its first line ("ready"). The caller waits for the child
/// (clippy cannot see it through the return value); a test that panics
/// first leaves it to exit when its stdin or socket closes.
#[allow(clippy::zombie_processes)]
fn helper(role: &str, addr: &str, arg: u64) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "manager::tests::replica_helper_process", "--nocapture", "--test-threads=1", "-q"])
        .env("MPIPC_REPLICA_HELPER", role)
        .env("MPIPC_REPLICA_ADDR", addr)
        .env("MPIPC_REPLICA_ARG", arg.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            let status = child.wait().unwrap();
            panic!("helper {role} ended before it was ready ({status})");
        }
        if line.trim() == "ready" {
            return (child, out);
        }
    }
}

/// A value that carries its own check: `n`, `len` bytes of `n`, then a
/// hash of `n`.
fn checked_value(n: u64, len: usize) -> Value {
    let mut v = n.to_le_bytes().to_vec();
    v.extend(std::iter::repeat_n(n as u8, len));
    v.extend_from_slice(&n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    Value::Bytes(v)
}

fn check_value(v: &Value) -> u64 {
    let Value::Bytes(b) = v else { panic!("not bytes: {v:?}") };
    let n = u64::from_le_bytes(b[..8].try_into().unwrap());
    let len = b.len() - 16;
    assert!(b[8..8 + len].iter().all(|&x| x == n as u8), "torn value {n}");
    assert_eq!(
        u64::from_le_bytes(b[8 + len..].try_into().unwrap()),
        n.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        "torn value"
    );
    n
}

/// The helper processes' body: a no-op in a normal test run.
#[test]
fn replica_helper_process() {
    let Ok(role) = std::env::var("MPIPC_REPLICA_HELPER") else { return };
    let addr = std::env::var("MPIPC_REPLICA_ADDR").unwrap();
    let arg: u64 = std::env::var("MPIPC_REPLICA_ARG").unwrap().parse().unwrap();
    let say = |s: &str| {
        println!("{s}");
        std::io::stdout().flush().unwrap();
    };
    match role.as_str() {
        // Serves until its stdin closes (or it is killed).
        "server" => {
            let s = ManagerServer::serve(&addr, &ListenerOptions::default()).unwrap();
            say("ready");
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            s.shutdown();
        }
        // Sets keys 0..arg to checked values, then exits.
        "writer" => {
            let c = ManagerClient::connect(&addr, &ListenerOptions::default(), Some(Duration::from_secs(10))).unwrap();
            say("ready");
            for n in 0..arg {
                c.call("dict", "d", "set", vec![i(n as i64), checked_value(n, (n % 50) as usize)]).unwrap();
            }
        }
        // Rewrites key "h" arg times with checked values of changing
        // lengths (and adds keys, so the replica grows under the
        // readers), then sets "done".
        "hammer" => {
            let c = ManagerClient::connect(&addr, &ListenerOptions::default(), Some(Duration::from_secs(10))).unwrap();
            say("ready");
            for n in 1..=arg {
                c.call("dict", "d", "set", vec![t("h"), checked_value(n, (n % 300) as usize)]).unwrap();
                if n % 10 == 0 {
                    c.call("dict", "d", "set", vec![i(n as i64), i(n as i64)]).unwrap();
                }
            }
            c.call("dict", "d", "set", vec![t("done"), Value::Bool(true)]).unwrap();
        }
        other => panic!("unknown helper role {other}"),
    }
}

/// Reads in one process see the writes another process made (each write
/// is in the replica before its call returns), served locally.
#[test]
fn local_reads_see_other_processes_writes() {
    let addr = format!("unix:@mpipc-mgr-ut-replica-procs-{}", std::process::id());
    let (mut server, _server_out) = helper("server", &addr, 0);
    let c = ManagerClient::connect(&addr, &ListenerOptions::default(), Some(Duration::from_secs(10))).unwrap();
    assert_eq!(c.call("dict", "d", "len", vec![]).unwrap(), i(0)); // maps the replica
    let (mut w, _w_out) = helper("writer", &addr, 1000);
    assert!(w.wait().unwrap().success());
    let before = c.local_read_count();
    for n in 0..1000u64 {
        assert_eq!(check_value(&c.call("dict", "d", "get", vec![i(n as i64)]).unwrap()), n);
    }
    assert_eq!(c.call("dict", "d", "len", vec![]).unwrap(), i(1000));
    assert!(c.local_read_count() >= before + 1000, "served locally");
    drop(server.stdin.take());
    assert!(server.wait().unwrap().success());
}

/// A reader in this process beside a process rewriting the same key
/// (values of changing lengths, the replica growing meanwhile) never sees
/// a torn value, and sees the writer's values in order.
#[test]
fn no_torn_values_beside_a_writing_process() {
    let addr = format!("unix:@mpipc-mgr-ut-replica-torn-{}", std::process::id());
    let (mut server, _server_out) = helper("server", &addr, 0);
    let c = ManagerClient::connect(&addr, &ListenerOptions::default(), Some(Duration::from_secs(10))).unwrap();
    c.call("dict", "d", "set", vec![t("h"), checked_value(0, 0)]).unwrap();
    let (mut w, _w_out) = helper("hammer", &addr, 20_000);
    let (mut last, mut reads) = (0, 0u64);
    while c.call("dict", "d", "get", vec![t("done"), Value::Bool(false)]).unwrap() != Value::Bool(true) {
        let n = check_value(&c.call("dict", "d", "get", vec![t("h")]).unwrap());
        assert!(n >= last, "values in the writer's order: {n} after {last}");
        last = n;
        reads += 1;
    }
    assert!(w.wait().unwrap().success());
    assert_eq!(check_value(&c.call("dict", "d", "get", vec![t("h")]).unwrap()), 20_000);
    assert!(c.local_read_count() >= reads, "served locally: {} of {reads}", c.local_read_count());
    drop(server.stdin.take());
    assert!(server.wait().unwrap().success());
}

/// The server process killed: the client never crashes; a read returns
/// the last value the dead server's dict held (its final state, a
/// consistent one) or the lost connection, and once a call has found the
/// connection lost, every read reports it (the replica went with it).
#[test]
fn a_killed_server_never_crashes_a_local_reader() {
    let addr = format!("unix:@mpipc-mgr-ut-replica-kill-{}", std::process::id());
    let (mut server, _server_out) = helper("server", &addr, 0);
    let c = ManagerClient::connect(&addr, &ListenerOptions::default(), Some(Duration::from_secs(10))).unwrap();
    c.call("dict", "d", "set", vec![t("k"), i(41)]).unwrap();
    c.call("dict", "d", "incr", vec![t("k")]).unwrap();
    assert_eq!(c.call("dict", "d", "get", vec![t("k")]).unwrap(), i(42));
    server.kill().unwrap();
    server.wait().unwrap();
    match c.call("dict", "d", "get", vec![t("k")]) {
        Ok(v) => assert_eq!(v, i(42), "the final state"),
        Err(e) => assert!(matches!(e.kind(), ErrorKind::Eof | ErrorKind::Io), "{e}"),
    }
    let e = c.call("dict", "d", "set", vec![t("k"), i(0)]).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Eof | ErrorKind::Io), "{e}");
    for m in ["get", "contains"] {
        let e = c.call("dict", "d", m, vec![t("k")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Eof, "{m}: {e}");
    }
    assert_eq!(c.local_version("d"), 0);
}

/// docs/PROTOCOL.md §4: a Python tuple key (TUPLE-tagged, at any depth)
/// and another language's array are one key, in the server and in the
/// local reads alike; keys()/items() give the key as last written; values
/// keep the tag (a tuple and a list are not equal in Python).
#[test]
fn a_tuple_key_and_the_same_array_are_one_key() {
    use crate::manager::cbor::TAG_TUPLE;
    let s = server("tuplekey");
    let tuple = |items: Vec<Value>| Value::Tag(TAG_TUPLE, Box::new(Value::Array(items)));
    let py = tuple(vec![i(1), tuple(vec![t("a"), Value::Float(2.0)])]); // Python's (1, ("a", 2.0))
    let go = Value::Array(vec![i(1), Value::Array(vec![t("a"), i(2)])]); // Go's [1, ["a", 2]]
    for (c, name) in [(client(&s), "local"), (rpc_client(&s), "rpc")] {
        let call = |m: &str, a: Vec<Value>| c.call("dict", name, m, a);
        call("set", vec![py.clone(), t("first")]).unwrap();
        assert_eq!(call("get", vec![go.clone()]).unwrap(), t("first"), "{name}");
        assert_eq!(call("contains", vec![go.clone()]).unwrap(), Value::Bool(true), "{name}");
        assert_eq!(call("keys", vec![]).unwrap(), Value::Array(vec![py.clone()]), "{name}: the key as written");
        call("set", vec![go.clone(), t("second")]).unwrap();
        assert_eq!(call("len", vec![]).unwrap(), i(1), "{name}");
        assert_eq!(call("get", vec![py.clone()]).unwrap(), t("second"), "{name}");
        assert_eq!(
            call("items", vec![]).unwrap(),
            Value::Array(vec![Value::Array(vec![go.clone(), t("second")])]),
            "{name}: the key as last written"
        );
        call("update", vec![Value::Map(vec![(tuple(vec![t("k")]), i(1))])]).unwrap();
        assert_eq!(call("get", vec![Value::Array(vec![t("k")])]).unwrap(), i(1), "{name}");
        call("del", vec![py.clone()]).unwrap();
        assert_eq!(call("contains", vec![go.clone()]).unwrap(), Value::Bool(false), "{name}");
        // A tuple value keeps its tag, and is not the list of the same items.
        call("set", vec![t("v"), py.clone()]).unwrap();
        assert_eq!(call("get", vec![t("v")]).unwrap(), py, "{name}");
        assert_eq!(call("compare_and_set", vec![t("v"), go.clone(), i(0)]).unwrap(), Value::Bool(false), "{name}");
    }
    // Sets (the manager's `set` kind) follow the same key rule.
    let c = client(&s);
    let call = |m: &str, a: Vec<Value>| c.call("set", "s", m, a);
    call("add", vec![py.clone()]).unwrap();
    call("add", vec![go.clone()]).unwrap();
    assert_eq!(call("len", vec![]).unwrap(), i(1));
    // A TUPLE tag around anything but an array is refused before any method runs.
    let bad = Value::Tag(TAG_TUPLE, Box::new(i(1)));
    assert_eq!(c.call("dict", "rpc", "set", vec![bad, i(1)]).unwrap_err().kind(), ErrorKind::Invalid);
}

/// Creation arguments that make an object of each kind (the kinds that
/// need some).
fn create_args(kind: &str) -> Vec<Value> {
    match kind {
        "barrier" => vec![i(2)],
        "array" => vec![t("i"), i(3)],
        _ => vec![],
    }
}

#[test]
fn method_table_is_what_objects_answer() {
    // Every method of a kind's table reaches code that implements it: no
    // call answers "has no method" (the kinds' own fallback). Blocking
    // methods see a stopping server, so none waits.
    let stopping = std::sync::atomic::AtomicBool::new(true);
    let ctx = objects::CallCtx { conn: 1, stopping: &stopping, local: false, pass_fd: Default::default() };
    for spec in objects::KINDS {
        let kind = objects::Kind::parse(spec.name).unwrap();
        assert_eq!(kind.name(), spec.name);
        let obj = objects::Object::new(kind, &create_args(spec.name)).unwrap();
        for m in spec.methods {
            if let Err(e) = obj.call(m, &[], &ctx) {
                assert!(!e.message().contains("has no method"), "{}.{m}: {e:?}", spec.name);
            }
        }
        // A method not in the table is refused before the object is reached.
        let e = obj.call("frobnicate", &[], &ctx).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert_eq!(e.message(), format!("{} has no method \"frobnicate\"", spec.name));
    }
    assert_eq!(objects::Kind::parse("frobnicate").unwrap_err().kind(), ErrorKind::Unsupported);
}

#[test]
fn method_table_file_is_current() {
    // docs/manager-methods.json is what the bindings' proxy tests read:
    // it must be the table. MPIPC_BLESS=1 rewrites it.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/manager-methods.json");
    let want = objects::methods_json();
    if std::env::var_os("MPIPC_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is not the method table: regenerate it with `MPIPC_BLESS=1 cargo test --lib method_table_file`",
        path.display()
    );
}
