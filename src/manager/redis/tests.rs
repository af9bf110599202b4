//! The manager at a Redis address against a real server
//! (`crate::redis::test_server`: started per test, over TCP and its unix
//! socket). Waiting tests block on the server in other threads (each with
//! its own client, as other processes would); tests across processes are
//! in tests/.

use crate::error::ErrorKind;
use crate::manager::cbor::{encode, TAG_TUPLE};
use crate::manager::{ManagerClient, ManagerServer};
use crate::pipe::ListenerOptions;
use crate::redis::test_server::TestServer;
use ciborium::Value;
use std::time::Duration;

fn t(s: &str) -> Value {
    Value::Text(s.into())
}

fn i(n: i64) -> Value {
    Value::Integer(n.into())
}

fn arr(v: Vec<Value>) -> Value {
    Value::Array(v)
}

fn tuple(v: Vec<Value>) -> Value {
    Value::Tag(TAG_TUPLE, Box::new(Value::Array(v)))
}

fn connect(url: &str) -> ManagerClient {
    ManagerClient::connect(url, &ListenerOptions::default(), Some(Duration::from_secs(5))).unwrap()
}

/// The server's two addresses: TCP and the unix socket.
fn urls(s: &TestServer) -> [String; 2] {
    [s.url(), s.unix_url()]
}

/// A plain connection to the server (to play another program).
fn raw(s: &TestServer) -> redis::Connection {
    redis::Client::open(s.url()).unwrap().get_connection().unwrap()
}

/// Waits until at least `n` clients are blocked in a command on the
/// server (`INFO clients`): the waiters are then inside their server-side
/// waits.
fn wait_blocked(s: &TestServer, n: usize) {
    let mut r = raw(s);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut r).unwrap();
        let blocked: usize = info
            .lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("blocked_clients in INFO clients");
        if blocked >= n {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "fewer than {n} clients blocked on the server");
        std::thread::yield_now();
    }
}

/// The integer a value holds.
fn int_of(v: &Value) -> i128 {
    match v {
        Value::Integer(n) => i128::from(*n),
        other => panic!("not an integer: {other:?}"),
    }
}

fn sorted(v: Value) -> Vec<Value> {
    let Value::Array(mut a) = v else { panic!("an array: {v:?}") };
    a.sort_by_key(encode);
    a
}

#[test]
fn dict_methods_and_errors() {
    let Some(s) = TestServer::start() else { return };
    for (n, url) in urls(&s).iter().enumerate() {
        let c = connect(url);
        let d = format!("d{n}");
        let call = |m: &str, a: Vec<Value>| c.call("dict", &d, m, a);
        call("set", vec![t("a"), i(1)]).unwrap();
        call("set", vec![i(2), t("two")]).unwrap();
        assert_eq!(call("get", vec![t("a")]).unwrap(), i(1));
        assert_eq!(call("get", vec![Value::Float(2.0)]).unwrap(), t("two"), "2.0 and 2 are one key");
        let e = call("get", vec![t("zz")]).unwrap_err();
        assert_eq!((e.kind(), e.message()), (ErrorKind::NotFound, r#"KeyError: "zz""#));
        assert_eq!(call("get", vec![t("zz"), Value::Null]).unwrap(), Value::Null);
        assert_eq!(call("len", vec![]).unwrap(), i(2));
        assert_eq!(call("contains", vec![t("a")]).unwrap(), Value::Bool(true));
        assert_eq!(call("contains", vec![t("b")]).unwrap(), Value::Bool(false));
        assert_eq!(sorted(call("keys", vec![]).unwrap()), sorted(arr(vec![t("a"), i(2)])));
        assert_eq!(sorted(call("values", vec![]).unwrap()), sorted(arr(vec![i(1), t("two")])));
        assert_eq!(
            sorted(call("items", vec![]).unwrap()),
            sorted(arr(vec![arr(vec![t("a"), i(1)]), arr(vec![i(2), t("two")])]))
        );
        let Value::Map(m) = call("copy", vec![]).unwrap() else { panic!("copy gives a map") };
        assert_eq!(m.len(), 2);
        // incr: exact over i64, Type for a non-integer, Invalid beyond.
        assert_eq!(call("incr", vec![t("n"), i(5)]).unwrap(), i(5));
        assert_eq!(call("incr", vec![t("n")]).unwrap(), i(6));
        assert_eq!(call("incr", vec![i(2)]).unwrap_err().kind(), ErrorKind::Type);
        call("set", vec![t("big"), i(i64::MAX - 1)]).unwrap();
        assert_eq!(call("incr", vec![t("big")]).unwrap(), i(i64::MAX));
        assert_eq!(call("incr", vec![t("big")]).unwrap_err().kind(), ErrorKind::Invalid, "overflow");
        call("set", vec![t("huge"), Value::Integer(u64::MAX.into())]).unwrap();
        assert_eq!(call("incr", vec![t("huge"), i(-1)]).unwrap_err().kind(), ErrorKind::Invalid);
        assert_eq!(call("incr", vec![t("neg"), i(i64::MIN)]).unwrap(), i(i64::MIN));
        assert_eq!(call("incr", vec![t("neg"), i(-1)]).unwrap_err().kind(), ErrorKind::Invalid);
        // compare_and_set compares values: 1.0 stored, 1 expected swaps.
        call("set", vec![t("f"), Value::Float(1.0)]).unwrap();
        assert_eq!(call("compare_and_set", vec![t("f"), i(1), i(2)]).unwrap(), Value::Bool(true));
        assert_eq!(call("get", vec![t("f")]).unwrap(), i(2));
        assert_eq!(call("compare_and_set", vec![t("f"), i(1), i(3)]).unwrap(), Value::Bool(false));
        assert_eq!(call("compare_and_set", vec![t("absent"), Value::Null, i(3)]).unwrap(), Value::Bool(false));
        assert_eq!(call("contains", vec![t("absent")]).unwrap(), Value::Bool(false), "never inserts");
        // setdefault / get_or_set, pop, popitem.
        assert_eq!(call("setdefault", vec![t("n"), i(0)]).unwrap(), i(6));
        assert_eq!(call("get_or_set", vec![t("new"), i(0)]).unwrap(), i(0));
        assert_eq!(call("setdefault", vec![t("nul")]).unwrap(), Value::Null);
        assert_eq!(call("pop", vec![t("new")]).unwrap(), i(0));
        assert_eq!(call("pop", vec![t("new")]).unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(call("pop", vec![t("new"), t("dflt")]).unwrap(), t("dflt"));
        // update: all or nothing.
        call("update", vec![Value::Map(vec![(t("x"), i(1)), (t("y"), i(2))])]).unwrap();
        call("update", vec![arr(vec![arr(vec![t("z"), i(3)])])]).unwrap();
        assert_eq!(call("get", vec![t("z")]).unwrap(), i(3));
        let bad = arr(vec![arr(vec![t("ok"), i(1)]), arr(vec![Value::Map(vec![]), i(1)])]);
        assert_eq!(call("update", vec![bad]).unwrap_err().kind(), ErrorKind::Type);
        assert_eq!(call("contains", vec![t("ok")]).unwrap(), Value::Bool(false), "nothing applied");
        assert_eq!(call("update", vec![i(1)]).unwrap_err().kind(), ErrorKind::Type);
        call("del", vec![t("x")]).unwrap();
        assert_eq!(call("del", vec![t("x")]).unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(call("set", vec![Value::Map(vec![]), i(1)]).unwrap_err().kind(), ErrorKind::Type, "unhashable");
        assert_eq!(call("nosuch", vec![]).unwrap_err().kind(), ErrorKind::Unsupported);
        assert_eq!(call("set", vec![t("only one")]).unwrap_err().kind(), ErrorKind::Invalid);
        assert_eq!(call("replica", vec![]).unwrap_err().kind(), ErrorKind::Unsupported);
        let len = |c: &ManagerClient| c.call("dict", &d, "len", vec![]).unwrap();
        let before = len(&c);
        let Value::Array(pair) = call("popitem", vec![]).unwrap() else { panic!("popitem gives a pair") };
        assert_eq!(pair.len(), 2);
        assert_eq!(
            len(&c),
            i(i128::from(match before {
                Value::Integer(n) => n,
                _ => unreachable!(),
            }) as i64
                - 1)
        );
        call("clear", vec![]).unwrap();
        assert_eq!(len(&c), i(0));
        let e = call("popitem", vec![]).unwrap_err();
        assert_eq!((e.kind(), e.message()), (ErrorKind::NotFound, "popitem(): dictionary is empty"));
    }
}

/// A tuple key comes back a tuple (Python needs it hashable), and is the
/// same key as the array another language writes.
#[test]
fn dict_keys_keep_their_written_form() {
    let Some(s) = TestServer::start() else { return };
    let c = connect(&s.url());
    let call = |m: &str, a: Vec<Value>| c.call("dict", "forms", m, a);
    let key = tuple(vec![i(1), t("a")]);
    call("set", vec![key.clone(), i(10)]).unwrap();
    assert_eq!(call("get", vec![arr(vec![i(1), t("a")])]).unwrap(), i(10), "the array is the same key");
    assert_eq!(call("keys", vec![]).unwrap(), arr(vec![key.clone()]));
    assert_eq!(call("items", vec![]).unwrap(), arr(vec![arr(vec![key.clone(), i(10)])]));
    assert_eq!(call("popitem", vec![]).unwrap(), arr(vec![key.clone(), i(10)]));
    call("update", vec![Value::Map(vec![(key.clone(), i(1)), (Value::Float(2.0), i(2))])]).unwrap();
    assert_eq!(sorted(call("keys", vec![]).unwrap()), sorted(arr(vec![key.clone(), Value::Float(2.0)])));
    // Set again in its canonical form: that form is the key now; an incr
    // of the canonical form keeps the recorded one.
    call("set", vec![i(2), i(3)]).unwrap();
    call("incr", vec![arr(vec![i(1), t("a")])]).unwrap();
    assert_eq!(sorted(call("keys", vec![]).unwrap()), sorted(arr(vec![key.clone(), i(2)])));
    call("set", vec![arr(vec![i(1), t("a")]), i(0)]).unwrap();
    assert_eq!(sorted(call("keys", vec![]).unwrap()), sorted(arr(vec![arr(vec![i(1), t("a")]), i(2)])));
    call("incr", vec![key.clone()]).unwrap();
    assert_eq!(sorted(call("keys", vec![]).unwrap()), sorted(arr(vec![key.clone(), i(2)])), "incr records a tuple");
    call("del", vec![i(2)]).unwrap();
    assert_eq!(call("setdefault", vec![tuple(vec![i(7)]), i(7)]).unwrap(), i(7));
    assert!(sorted(call("keys", vec![]).unwrap()).contains(&tuple(vec![i(7)])));
    call("clear", vec![]).unwrap();
    let mut r = raw(&s);
    let n: i64 = redis::cmd("EXISTS").arg("mpipc:d:{forms}:keys").query(&mut r).unwrap();
    assert_eq!(n, 0, "clear removes the forms too");
}

#[test]
fn list_methods_and_errors() {
    let Some(s) = TestServer::start() else { return };
    for (n, url) in urls(&s).iter().enumerate() {
        let c = connect(url);
        let name = format!("l{n}");
        let l = |m: &str, a: Vec<Value>| c.call("list", &name, m, a);
        let copy = || l("copy", vec![]).unwrap();
        l("extend", vec![arr(vec![i(3), i(1), i(2)])]).unwrap();
        l("extend", vec![arr(vec![])]).unwrap();
        l("append", vec![i(1)]).unwrap();
        l("insert", vec![i(0), i(9)]).unwrap();
        assert_eq!(copy(), arr(vec![i(9), i(3), i(1), i(2), i(1)]));
        l("insert", vec![i(-1), i(8)]).unwrap();
        l("insert", vec![i(100), i(7)]).unwrap();
        l("insert", vec![i(-100), i(6)]).unwrap();
        assert_eq!(copy(), arr(vec![i(6), i(9), i(3), i(1), i(2), i(8), i(1), i(7)]));
        assert_eq!(l("len", vec![]).unwrap(), i(8));
        assert_eq!(l("index", vec![Value::Float(1.0)]).unwrap(), i(3), "1.0 == 1");
        assert_eq!(l("index", vec![i(1), i(4)]).unwrap(), i(6));
        assert_eq!(l("index", vec![i(1), i(4), i(5)]).unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(l("index", vec![i(42)]).unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(l("count", vec![i(1)]).unwrap(), i(2));
        assert_eq!(l("contains", vec![i(8)]).unwrap(), Value::Bool(true));
        assert_eq!(l("contains", vec![i(42)]).unwrap(), Value::Bool(false));
        assert_eq!(l("getitem", vec![i(-1)]).unwrap(), i(7));
        assert_eq!(l("getitem", vec![i(8)]).unwrap_err().kind(), ErrorKind::Index);
        assert_eq!(l("getitem", vec![t("x")]).unwrap_err().kind(), ErrorKind::Type);
        l("setitem", vec![i(1), t("nine")]).unwrap();
        assert_eq!(l("setitem", vec![i(-9), i(0)]).unwrap_err().kind(), ErrorKind::Index);
        assert_eq!(c.call("list", "nolist", "setitem", vec![i(0), i(0)]).unwrap_err().kind(), ErrorKind::Index);
        assert_eq!(l("getslice", vec![i(1), i(3)]).unwrap(), arr(vec![t("nine"), i(3)]));
        assert_eq!(l("getslice", vec![i(-2)]).unwrap(), arr(vec![i(1), i(7)]));
        assert_eq!(l("getslice", vec![Value::Null, i(-6)]).unwrap(), arr(vec![i(6), t("nine")]));
        assert_eq!(l("getslice", vec![i(0), i(0)]).unwrap(), arr(vec![]));
        assert_eq!(l("getslice", vec![i(0), i(-100)]).unwrap(), arr(vec![]));
        assert_eq!(l("getslice", vec![i(5), i(2)]).unwrap(), arr(vec![]));
        assert_eq!(l("pop", vec![]).unwrap(), i(7));
        assert_eq!(l("pop", vec![i(0)]).unwrap(), i(6));
        assert_eq!(l("pop", vec![i(2)]).unwrap(), i(1));
        assert_eq!(l("pop", vec![i(50)]).unwrap_err().kind(), ErrorKind::Index);
        assert_eq!(copy(), arr(vec![t("nine"), i(3), i(2), i(8), i(1)]));
        l("remove", vec![Value::Float(3.0)]).unwrap();
        assert_eq!(l("remove", vec![i(42)]).unwrap_err().kind(), ErrorKind::NotFound);
        l("delitem", vec![i(-1)]).unwrap();
        assert_eq!(l("delitem", vec![i(10)]).unwrap_err().kind(), ErrorKind::Index);
        assert_eq!(copy(), arr(vec![t("nine"), i(2), i(8)]));
        l("setslice", vec![i(1), i(2), arr(vec![i(20), i(21), i(22)])]).unwrap();
        assert_eq!(copy(), arr(vec![t("nine"), i(20), i(21), i(22), i(8)]));
        l("delslice", vec![i(-2)]).unwrap();
        assert_eq!(copy(), arr(vec![t("nine"), i(20), i(21)]));
        l("setslice", vec![Value::Null, Value::Null, arr(vec![i(5), i(4), Value::Float(4.5)])]).unwrap();
        l("sort", vec![]).unwrap();
        assert_eq!(copy(), arr(vec![i(4), Value::Float(4.5), i(5)]));
        l("sort", vec![Value::Bool(true)]).unwrap();
        assert_eq!(copy(), arr(vec![i(5), Value::Float(4.5), i(4)]));
        l("reverse", vec![]).unwrap();
        assert_eq!(copy(), arr(vec![i(4), Value::Float(4.5), i(5)]));
        l("append", vec![t("text")]).unwrap();
        assert_eq!(l("sort", vec![]).unwrap_err().kind(), ErrorKind::Type);
        assert_eq!(copy(), arr(vec![i(4), Value::Float(4.5), i(5), t("text")]), "a failed sort changes nothing");
        l("delslice", vec![]).unwrap();
        assert_eq!(l("len", vec![]).unwrap(), i(0));
        assert_eq!(l("pop", vec![]).unwrap_err().kind(), ErrorKind::Index);
        l("append", vec![i(1)]).unwrap();
        l("clear", vec![]).unwrap();
        assert_eq!(copy(), arr(vec![]));
        assert_eq!(l("extend", vec![i(1)]).unwrap_err().kind(), ErrorKind::Type);
        assert_eq!(l("nosuch", vec![]).unwrap_err().kind(), ErrorKind::Unsupported);
    }
}

#[test]
fn namespace_and_value_methods() {
    let Some(s) = TestServer::start() else { return };
    for url in urls(&s) {
        let c = connect(&url);
        let ns = |m: &str, a: Vec<Value>| c.call("namespace", "cfg", m, a);
        ns("setattr", vec![t("x"), i(1)]).unwrap();
        assert_eq!(ns("getattr", vec![t("x")]).unwrap(), i(1));
        let e = ns("getattr", vec![t("y")]).unwrap_err();
        assert_eq!((e.kind(), e.message()), (ErrorKind::NotFound, r#"AttributeError: no attribute "y""#));
        assert_eq!(ns("getattr", vec![t("y"), t("d")]).unwrap(), t("d"));
        assert_eq!(ns("getattr", vec![i(1)]).unwrap_err().kind(), ErrorKind::Type);
        assert_eq!(ns("dict", vec![]).unwrap(), Value::Map(vec![(t("x"), i(1))]));
        ns("delattr", vec![t("x")]).unwrap();
        assert_eq!(ns("delattr", vec![t("x")]).unwrap_err().kind(), ErrorKind::NotFound);

        let v = |m: &str, a: Vec<Value>| c.call("value", "v", m, a);
        assert_eq!(v("get", vec![]).unwrap(), Value::Null, "a value never set is null");
        assert_eq!(v("compare_and_set", vec![Value::Null, i(1)]).unwrap(), Value::Bool(true));
        assert_eq!(v("incr", vec![i(41)]).unwrap(), i(42));
        assert_eq!(v("compare_and_set", vec![Value::Float(42.0), i(7)]).unwrap(), Value::Bool(true));
        assert_eq!(v("compare_and_set", vec![i(42), i(8)]).unwrap(), Value::Bool(false));
        v("set", vec![t("text")]).unwrap();
        assert_eq!(v("incr", vec![]).unwrap_err().kind(), ErrorKind::Type);
        v("set", vec![i(i64::MAX)]).unwrap();
        assert_eq!(v("incr", vec![]).unwrap_err().kind(), ErrorKind::Invalid);
        assert_eq!(v("incr", vec![i(i64::MIN)]).unwrap(), i(-1));
        v("set", vec![Value::Null]).unwrap();
        assert_eq!(v("incr", vec![]).unwrap(), i(1), "null counts as 0");
        assert_eq!(c.call("value", "created", "create", vec![i(5)]).unwrap(), Value::Bool(true));
        assert_eq!(c.call("value", "created", "create", vec![i(6)]).unwrap(), Value::Bool(false));
        assert_eq!(c.call("value", "created", "get", vec![]).unwrap(), i(5));
        c.call("value", "created", "set", vec![Value::Null]).unwrap();
        c.call("manager", "cfg", "delete", vec![]).unwrap();
        c.call("manager", "v", "delete", vec![]).unwrap();
        c.call("manager", "created", "delete", vec![]).unwrap();
    }
}

#[test]
fn lock_and_rlock() {
    let Some(s) = TestServer::start() else { return };
    let (a, b) = (connect(&s.url()), connect(&s.unix_url()));
    let la = |m: &str, args: Vec<Value>| a.call("lock", "l", m, args);
    let lb = |m: &str, args: Vec<Value>| b.call("lock", "l", m, args);
    assert_eq!(la("locked", vec![]).unwrap(), Value::Bool(false));
    assert_eq!(la("acquire", vec![]).unwrap(), Value::Bool(true));
    let fence = int_of(&la("fence", vec![]).unwrap());
    assert_eq!(la("acquire", vec![i(0)]).unwrap_err().kind(), ErrorKind::Invalid, "a lock is not reentrant");
    assert_eq!(lb("acquire", vec![i(0)]).unwrap(), Value::Bool(false));
    assert_eq!(lb("release", vec![]).unwrap_err().kind(), ErrorKind::Permission);
    assert_eq!(lb("fence", vec![]).unwrap_err().kind(), ErrorKind::Permission);
    assert_eq!(lb("locked", vec![]).unwrap(), Value::Bool(true));
    // A waiter blocked on the server is woken by the release.
    std::thread::scope(|sc| {
        let waiter = sc.spawn(|| {
            let c = connect(&s.url());
            let got = c.call("lock", "l", "acquire", vec![i(30_000)]).unwrap();
            let f = c.call("lock", "l", "fence", vec![]).unwrap();
            c.call("lock", "l", "release", vec![]).unwrap();
            (got, f)
        });
        wait_blocked(&s, 1);
        la("release", vec![]).unwrap();
        let (got, f) = waiter.join().unwrap();
        assert_eq!(got, Value::Bool(true));
        assert!(int_of(&f) > fence, "every acquisition gets a higher fence");
    });
    assert_eq!(la("release", vec![]).unwrap_err().kind(), ErrorKind::Permission);

    // rlock: depth.
    let r = |m: &str| a.call("rlock", "r", m, vec![]);
    assert_eq!(r("acquire").unwrap(), Value::Bool(true));
    assert_eq!(r("acquire").unwrap(), Value::Bool(true));
    r("release").unwrap();
    assert_eq!(r("locked").unwrap(), Value::Bool(true));
    assert_eq!(b.call("rlock", "r", "acquire", vec![i(0)]).unwrap(), Value::Bool(false));
    r("release").unwrap();
    assert_eq!(r("locked").unwrap(), Value::Bool(false));
    assert_eq!(r("release").unwrap_err().kind(), ErrorKind::Permission);

    // A client dropped gives back what it holds (every level).
    assert_eq!(r("acquire").unwrap(), Value::Bool(true));
    assert_eq!(r("acquire").unwrap(), Value::Bool(true));
    assert_eq!(la("acquire", vec![]).unwrap(), Value::Bool(true));
    drop(a);
    assert_eq!(lb("acquire", vec![i(0)]).unwrap(), Value::Bool(true));
    assert_eq!(b.call("rlock", "r", "acquire", vec![i(0)]).unwrap(), Value::Bool(true));

    // The typed proxy.
    let c = connect(&s.url());
    let guard = c.lock("typed").acquire().unwrap();
    assert_eq!(b.lock("typed").acquire_timeout(Duration::ZERO).unwrap_err().kind(), ErrorKind::Timeout);
    drop(guard);
    drop(b.lock("typed").acquire_timeout(Duration::ZERO).unwrap());
}

/// A holder that stops renewing (a process gone, here a plain client
/// playing one) loses the lock when its lease ends; the next holder gets a
/// higher fencing token, and the old holder's release is refused.
#[test]
fn a_lock_whose_lease_ends_goes_to_the_next_with_a_higher_fence() {
    let Some(s) = TestServer::start() else { return };
    let mut r = raw(&s);
    let keys = ["mpipc:lock:{gone}", "mpipc:lock:{gone}:seq", "mpipc:lock:{gone}:wake"];
    // The library is loaded by the first client's connect.
    let c = connect(&format!("{}?lease_ms=300", s.url()));
    let (ok, stale): (i64, i64) = redis::cmd("FCALL")
        .arg("mpipc_1_lock_acquire")
        .arg(3)
        .arg(&keys)
        .arg("ghost")
        .arg(300)
        .arg(0)
        .query(&mut r)
        .unwrap();
    assert_eq!(ok, 1);
    // Blocks (server-side) until the ghost's lease ends.
    assert_eq!(c.call("lock", "gone", "acquire", vec![i(30_000)]).unwrap(), Value::Bool(true));
    let fence = c.call("lock", "gone", "fence", vec![]).unwrap();
    assert!(int_of(&fence) > i128::from(stale), "{fence:?} after {stale}");
    let e: redis::RedisResult<i64> =
        redis::cmd("FCALL").arg("mpipc_1_lock_release").arg(3).arg(&keys).arg("ghost").query(&mut r);
    assert_eq!(e.unwrap_err().code(), Some("MPIPC_PERM"));
    c.call("lock", "gone", "release", vec![]).unwrap();
}

/// The lease keeper renews a held lock: another client waiting for three
/// leases does not get it.
#[test]
fn a_held_lock_is_renewed() {
    let Some(s) = TestServer::start() else { return };
    let url = format!("{}?lease_ms=1000", s.url());
    let (a, b) = (connect(&url), connect(&url));
    assert_eq!(a.call("lock", "kept", "acquire", vec![]).unwrap(), Value::Bool(true));
    assert_eq!(b.call("lock", "kept", "acquire", vec![i(3000)]).unwrap(), Value::Bool(false));
    a.call("lock", "kept", "release", vec![]).unwrap();
    assert_eq!(b.call("lock", "kept", "acquire", vec![i(0)]).unwrap(), Value::Bool(true));
}

#[test]
fn semaphores() {
    let Some(s) = TestServer::start() else { return };
    let (a, b) = (connect(&s.url()), connect(&s.unix_url()));
    let sa = |m: &str, args: Vec<Value>| a.call("semaphore", "s", m, args);
    assert_eq!(sa("create", vec![i(2)]).unwrap(), Value::Bool(true));
    assert_eq!(sa("create", vec![i(5)]).unwrap(), Value::Bool(false));
    assert_eq!(sa("get_value", vec![]).unwrap(), i(2));
    assert_eq!(sa("acquire", vec![]).unwrap(), Value::Bool(true));
    assert_eq!(b.call("semaphore", "s", "acquire", vec![i(0)]).unwrap(), Value::Bool(true));
    assert_eq!(sa("get_value", vec![]).unwrap(), i(0));
    assert_eq!(sa("acquire", vec![i(0)]).unwrap(), Value::Bool(false));
    // A waiter is woken by another client's release.
    std::thread::scope(|sc| {
        let waiter = sc.spawn(|| connect(&s.url()).call("semaphore", "s", "acquire", vec![i(30_000)]).unwrap());
        wait_blocked(&s, 1);
        b.call("semaphore", "s", "release", vec![]).unwrap();
        assert_eq!(waiter.join().unwrap(), Value::Bool(true));
    });
    // The waiter's client is gone, and gave its permit back.
    assert_eq!(sa("get_value", vec![]).unwrap(), i(1));
    assert_eq!(sa("release", vec![i(0)]).unwrap_err().kind(), ErrorKind::Invalid);
    sa("release", vec![i(3)]).unwrap();
    assert_eq!(sa("get_value", vec![]).unwrap(), i(4), "an unbounded semaphore grows with bare releases");

    let bs = |m: &str, args: Vec<Value>| a.call("bounded_semaphore", "bs", m, args);
    assert_eq!(bs("create", vec![i(1)]).unwrap(), Value::Bool(true));
    let e = bs("release", vec![]).unwrap_err();
    assert_eq!((e.kind(), e.message()), (ErrorKind::Invalid, "semaphore released too many times"));
    assert_eq!(bs("acquire", vec![]).unwrap(), Value::Bool(true));
    assert_eq!(bs("get_value", vec![]).unwrap(), i(0));
    bs("release", vec![]).unwrap();
    assert_eq!(bs("release", vec![]).unwrap_err().kind(), ErrorKind::Invalid);
    assert_eq!(bs("get_value", vec![]).unwrap(), i(1));
    assert_eq!(a.call("semaphore", "neg", "create", vec![i(-1)]).unwrap_err().kind(), ErrorKind::Invalid);
    // Used before create: value 1.
    assert_eq!(a.call("semaphore", "implicit", "get_value", vec![]).unwrap(), i(1));
}

#[test]
fn events() {
    let Some(s) = TestServer::start() else { return };
    let c = connect(&s.url());
    let e = |m: &str, args: Vec<Value>| c.call("event", "e", m, args);
    assert_eq!(e("is_set", vec![]).unwrap(), Value::Bool(false));
    assert_eq!(e("wait", vec![i(0)]).unwrap(), Value::Bool(false));
    assert_eq!(e("wait", vec![i(30)]).unwrap(), Value::Bool(false));
    std::thread::scope(|sc| {
        // Waiters on their own connections, blocked on the server.
        let waiters: Vec<_> = (0..3)
            .map(|n| {
                let url = if n % 2 == 0 { s.url() } else { s.unix_url() };
                sc.spawn(move || connect(&url).call("event", "e", "wait", vec![]).unwrap())
            })
            .collect();
        wait_blocked(&s, 3);
        e("set", vec![]).unwrap();
        for w in waiters {
            assert_eq!(w.join().unwrap(), Value::Bool(true));
        }
    });
    assert_eq!(e("is_set", vec![]).unwrap(), Value::Bool(true));
    assert_eq!(e("wait", vec![i(0)]).unwrap(), Value::Bool(true));
    e("clear", vec![]).unwrap();
    assert_eq!(e("is_set", vec![]).unwrap(), Value::Bool(false));
    assert_eq!(e("wait", vec![i(0)]).unwrap(), Value::Bool(false));
}

#[test]
fn kinds_and_methods_not_on_redis() {
    let Some(s) = TestServer::start() else { return };
    let c = connect(&s.url());
    for kind in ["set", "condition", "barrier", "array"] {
        let e = c.call(kind, "x", "len", vec![]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{kind}");
        assert!(e.message().contains("not available on a Redis manager"), "{}", e.message());
    }
    assert_eq!(c.call("hashmap", "x", "len", vec![]).unwrap_err().kind(), ErrorKind::Unsupported);
    assert_eq!(c.call("event", "x", "len", vec![]).unwrap_err().kind(), ErrorKind::Unsupported);
    assert_eq!(c.call("manager", "", "stats", vec![]).unwrap_err().kind(), ErrorKind::Unsupported);
    // Accepted, without effect.
    c.set_spin_us(10);
    c.set_local_reads(true);
    assert_eq!(c.local_version("d"), 0);
    assert_eq!(c.address(), s.url());
    let e = ManagerServer::serve(&s.url(), &ListenerOptions::default()).err().expect("not served");
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("not served by mpipc"), "{}", e.message());
}

#[test]
fn manager_ping_list_delete() {
    let Some(s) = TestServer::start() else { return };
    let c = connect(&format!("{}?ns=app", s.url()));
    let other = connect(&s.url());
    assert_eq!(c.call("manager", "", "ping", vec![]).unwrap(), Value::Null);
    c.call("dict", "d", "set", vec![i(1), i(1)]).unwrap();
    c.call("list", "l", "append", vec![i(1)]).unwrap();
    c.call("semaphore", "s", "create", vec![i(3)]).unwrap();
    other.call("dict", "outside", "set", vec![i(1), i(1)]).unwrap();
    let listed = c.call("manager", "", "list", vec![]).unwrap();
    assert_eq!(
        listed,
        arr(vec![arr(vec![t("d"), t("dict")]), arr(vec![t("l"), t("list")]), arr(vec![t("s"), t("semaphore")])])
    );
    assert_eq!(c.call("manager", "d", "delete", vec![]).unwrap(), Value::Bool(true));
    assert_eq!(c.call("manager", "d", "delete", vec![]).unwrap(), Value::Bool(false));
    assert_eq!(c.call("dict", "d", "len", vec![]).unwrap(), i(0));
    assert_eq!(other.call("dict", "outside", "len", vec![]).unwrap(), i(1), "another namespace");
}

/// A batch: one pipeline, results in order, per-request errors in place;
/// the encoded path gives the bytes the manager server's would.
#[test]
fn pipelines() {
    let Some(s) = TestServer::start() else { return };
    let c = connect(&s.url());
    let rs = c
        .pipeline(vec![
            ("dict", "p", "set", vec![t("a"), i(1)]),
            ("dict", "p", "incr", vec![t("a"), i(2)]),
            ("dict", "p", "get", vec![t("nope")]),
            ("list", "pl", "extend", vec![arr(vec![i(3), i(1), i(2)])]),
            ("list", "pl", "sort", vec![]),
            ("list", "pl", "copy", vec![]),
            ("dict", "p", "get", vec![t("a")]),
            ("lock", "pk", "acquire", vec![i(0)]),
            ("set", "x", "len", vec![]),
        ])
        .unwrap();
    assert_eq!(rs[0].as_ref().unwrap(), &Value::Null);
    assert_eq!(rs[1].as_ref().unwrap(), &i(3));
    assert_eq!(rs[2].as_ref().unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(rs[5].as_ref().unwrap(), &arr(vec![i(1), i(2), i(3)]));
    assert_eq!(rs[6].as_ref().unwrap(), &i(3));
    assert_eq!(rs[7].as_ref().unwrap(), &Value::Bool(true));
    assert_eq!(rs[8].as_ref().unwrap_err().kind(), ErrorKind::Unsupported);

    let local_dir = std::env::temp_dir().join(format!("mpipc-redis-pipe-{}", std::process::id()));
    std::fs::create_dir_all(&local_dir).unwrap();
    let local_addr = format!("unix:{}/m.sock", local_dir.display());
    let server = ManagerServer::serve(&local_addr, &ListenerOptions::default()).unwrap();
    let local = connect(&local_addr);
    let reqs = encode(&arr(vec![
        arr(vec![t("dict"), t("q"), t("set"), arr(vec![t("k"), Value::Float(1.5)])]),
        arr(vec![t("dict"), t("q"), t("get"), arr(vec![t("k")])]),
        arr(vec![t("dict"), t("q"), t("get"), arr(vec![t("missing")])]),
        arr(vec![t("value"), t("qv"), t("incr"), arr(vec![i(5)])]),
    ]));
    assert_eq!(c.pipeline_encoded(&reqs).unwrap(), local.pipeline_encoded(&reqs).unwrap());
    assert_eq!(c.pipeline_encoded(&[0x80]).unwrap(), vec![0x80]);
    assert_eq!(c.pipeline_encoded(&[0x81, 0x01]).unwrap_err().kind(), ErrorKind::Invalid, "nothing sent");
    drop(local);
    server.shutdown();
    let _ = std::fs::remove_dir_all(&local_dir);
}

/// The same calls on a manager server and on Redis give the same bytes
/// (or the same error kinds): what the C ABI and every binding see.
#[test]
fn results_are_the_manager_servers_bytes() {
    let Some(s) = TestServer::start() else { return };
    let dir = std::env::temp_dir().join(format!("mpipc-redis-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let addr = format!("unix:{}/m.sock", dir.display());
    let server = ManagerServer::serve(&addr, &ListenerOptions::default()).unwrap();
    let (local, remote) = (connect(&addr), connect(&s.url()));
    let f = Value::Float;
    let script: Vec<(&str, &str, Vec<Value>)> = vec![
        ("dict", "set", vec![t("k"), arr(vec![i(1), f(2.5), t("x"), Value::Bytes(vec![1, 2])])]),
        ("dict", "get", vec![t("k")]),
        ("dict", "set", vec![f(3.0), Value::Map(vec![(t("m"), Value::Bool(true))])]),
        ("dict", "get", vec![i(3)]),
        ("dict", "get", vec![t("no")]),
        ("dict", "get", vec![t("no"), tuple(vec![i(1)])]),
        ("dict", "contains", vec![f(3.0)]),
        ("dict", "len", vec![]),
        ("dict", "incr", vec![t("c"), i(-5)]),
        ("dict", "incr", vec![t("c"), i(i64::MAX)]),
        ("dict", "incr", vec![t("c"), i(i64::MAX)]),
        ("dict", "incr", vec![t("k")]),
        ("dict", "compare_and_set", vec![t("c"), i(i64::MAX - 5), f(0.5)]),
        ("dict", "setdefault", vec![t("sd")]),
        ("dict", "get_or_set", vec![t("sd"), i(1)]),
        ("dict", "pop", vec![t("sd")]),
        ("dict", "pop", vec![t("sd")]),
        ("dict", "del", vec![t("nope")]),
        ("dict", "update", vec![arr(vec![arr(vec![i(1)])])]),
        ("dict", "set", vec![Value::Map(vec![]), i(1)]),
        ("dict", "set", vec![i(1)]),
        ("list", "extend", vec![arr(vec![f(1.0), i(-1), t("s"), Value::Null])]),
        ("list", "getitem", vec![i(0)]),
        ("list", "getitem", vec![i(4)]),
        ("list", "getslice", vec![i(1), i(-1)]),
        ("list", "index", vec![i(1)]),
        ("list", "count", vec![Value::Null]),
        ("list", "pop", vec![]),
        ("list", "pop", vec![i(1)]),
        ("list", "copy", vec![]),
        ("list", "sort", vec![]),
        ("list", "remove", vec![i(5)]),
        ("namespace", "setattr", vec![t("a"), f(-0.0)]),
        ("namespace", "getattr", vec![t("a")]),
        ("namespace", "getattr", vec![t("b")]),
        ("namespace", "dict", vec![]),
        ("value", "get", vec![]),
        ("value", "incr", vec![]),
        ("value", "set", vec![t("é")]),
        ("value", "get", vec![]),
        ("value", "compare_and_set", vec![t("é"), i(1)]),
        ("lock", "acquire", vec![i(0)]),
        ("lock", "locked", vec![]),
        ("lock", "release", vec![]),
        ("lock", "release", vec![]),
        ("semaphore", "get_value", vec![]),
        ("semaphore", "acquire", vec![i(0)]),
        ("semaphore", "release", vec![i(2)]),
        ("semaphore", "get_value", vec![]),
        ("queue", "put", vec![arr(vec![i(1), t("job")])]),
        ("queue", "put", vec![f(2.5), i(0)]),
        ("queue", "qsize", vec![]),
        ("queue", "empty", vec![]),
        ("queue", "full", vec![]),
        ("queue", "get", vec![]),
        ("queue", "get", vec![i(0)]),
        ("queue", "get", vec![i(0)]),
        ("queue", "task_done", vec![]),
        ("queue", "join", vec![i(0)]),
        ("queue", "task_done", vec![]),
        ("queue", "join", vec![i(0)]),
        ("queue", "task_done", vec![]),
        ("event", "is_set", vec![]),
        ("event", "set", vec![]),
        ("event", "wait", vec![i(0)]),
        ("event", "clear", vec![]),
        ("event", "wait", vec![i(0)]),
    ];
    for (kind, method, args) in script {
        let enc = encode(&arr(args));
        let want = local.call_encoded(kind, kind, method, &enc);
        let got = remote.call_encoded(kind, kind, method, &enc);
        match (&want, &got) {
            (Ok(w), Ok(g)) => assert_eq!(w, g, "{kind} {method}"),
            (Err(w), Err(g)) => assert_eq!(w.kind(), g.kind(), "{kind} {method}: {w} / {g}"),
            _ => panic!("{kind} {method}: {want:?} on the manager server, {got:?} on Redis"),
        }
    }
    drop(local);
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn passwords_and_addresses() {
    let Some(s) = TestServer::start_with(&["--requirepass", "s3cret"]) else { return };
    let opts = |key: &[u8]| ListenerOptions { authkey: Some(key.to_vec()), ..Default::default() };
    let to = Some(Duration::from_secs(5));
    let url = s.url();
    let with_pw = format!("redis://:s3cret@127.0.0.1:{}", s.port);
    ManagerClient::connect(&with_pw, &ListenerOptions::default(), to).unwrap();
    ManagerClient::connect(&url, &opts(b"s3cret"), to).unwrap();
    ManagerClient::connect(&with_pw, &opts(b"s3cret"), to).unwrap();
    let unix = format!("{}?password=s3cret", s.unix_url());
    ManagerClient::connect(&unix, &ListenerOptions::default(), to).unwrap();
    let err = |addr: &str, key: &[u8]| ManagerClient::connect(addr, &opts(key), to).err().expect("refused");
    assert_eq!(err(&url, b"").kind(), ErrorKind::Auth, "no password");
    assert_eq!(err(&url, b"wrong").kind(), ErrorKind::Auth);
    let wrong = format!("redis://:wrong@127.0.0.1:{}", s.port);
    let e = err(&wrong, b"");
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(!e.message().contains("wrong"), "no password in messages: {}", e.message());
    assert_eq!(err(&with_pw, b"other").kind(), ErrorKind::Invalid, "two different passwords");
    assert_eq!(err(&url, &[0xff]).kind(), ErrorKind::Invalid, "a password is text");
    let e = err("redis://127.0.0.1:notaport", b"");
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("port"), "{}", e.message());
    let e = err("ftp://127.0.0.1", b"");
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("scheme"), "{}", e.message());
    assert_eq!(err(&format!("{url}/0/name"), b"").kind(), ErrorKind::Invalid, "a manager address names no object");
    assert_eq!(err(&format!("{url}?bogus=1"), b"").kind(), ErrorKind::Invalid);
    // Nobody listening: a port just closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = err(&format!("redis://127.0.0.1:{closed}"), b"");
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
}

/// A server killed and restarted (AOF): the call that meets the lost
/// connection says so (EOF), the next one reconnects by itself, and the
/// data is there.
#[test]
fn a_restarted_server_keeps_the_data_and_the_client_reconnects() {
    let Some(mut s) = TestServer::start() else { return };
    let c = connect(&s.url());
    c.call("dict", "kept", "set", vec![t("a"), i(1)]).unwrap();
    c.call("list", "kept", "append", vec![i(2)]).unwrap();
    assert!(c.is_connected());
    s.restart();
    let e = c.call("dict", "kept", "get", vec![t("a")]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Eof, "{e}");
    assert!(!c.is_connected());
    assert_eq!(c.call("dict", "kept", "get", vec![t("a")]).unwrap(), i(1));
    assert!(c.is_connected());
    assert_eq!(c.call("list", "kept", "copy", vec![]).unwrap(), arr(vec![i(2)]));
    s.restart();
    c.reconnect(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(c.call("dict", "kept", "len", vec![]).unwrap(), i(1));
}

/// The typed proxies work unchanged on Redis.
#[test]
fn typed_proxies() {
    let Some(s) = TestServer::start() else { return };
    let c = connect(&s.unix_url());
    let d = c.dict::<String, i64>("typed");
    d.set(&"a".into(), &1).unwrap();
    assert_eq!(d.incr(&"a".into(), 41).unwrap(), 42);
    assert_eq!(d.get(&"a".into()).unwrap(), Some(42));
    assert_eq!(d.get(&"b".into()).unwrap(), None);
    assert!(d.compare_and_set(&"a".into(), &42, &7).unwrap());
    assert_eq!(c.dict_incr("typed", "a", 1).unwrap(), 8);
    let l = c.list::<(u32, String)>("typed");
    l.append(&(1, "x".into())).unwrap();
    assert_eq!(l.get(-1).unwrap(), (1, "x".into()));
    let v = c.value::<u64>("typed");
    v.set(&5).unwrap();
    assert_eq!(v.incr(2).unwrap(), 7);
}

/// The manager's queue kind is the queue at the Redis address: items put
/// through either are got through the other; blocking calls wait on the
/// server.
#[test]
fn queues() {
    let Some(s) = TestServer::start() else { return };
    let c = connect(&s.url());
    let q = |m: &str, a: Vec<Value>| c.call("queue", "jobs", m, a);
    assert_eq!(q("create", vec![i(2)]).unwrap(), Value::Bool(true));
    assert_eq!(q("create", vec![i(5)]).unwrap(), Value::Bool(false));
    q("put", vec![t("a")]).unwrap();
    q("put", vec![arr(vec![i(1)])]).unwrap();
    assert_eq!(q("full", vec![]).unwrap(), Value::Bool(true));
    assert_eq!(q("put", vec![t("c"), i(0)]).unwrap_err().kind(), ErrorKind::Full);
    assert_eq!(q("put", vec![t("c"), i(20)]).unwrap_err().kind(), ErrorKind::Full);
    assert_eq!(q("qsize", vec![]).unwrap(), i(2));
    assert_eq!(q("get", vec![]).unwrap(), t("a"));
    assert_eq!(q("get", vec![i(0)]).unwrap(), arr(vec![i(1)]));
    assert_eq!(q("empty", vec![]).unwrap(), Value::Bool(true));
    assert_eq!(q("get", vec![i(0)]).unwrap_err().kind(), ErrorKind::Empty);
    assert_eq!(q("join", vec![i(0)]).unwrap_err().kind(), ErrorKind::Timeout);
    q("task_done", vec![]).unwrap();
    q("task_done", vec![]).unwrap();
    assert_eq!(q("task_done", vec![]).unwrap_err().kind(), ErrorKind::Invalid);
    q("join", vec![]).unwrap();
    // The queue at the address is the same queue.
    let direct = crate::Queue::open(&format!("{}/jobs", s.url()), &Default::default()).unwrap();
    direct.put_bytes(&encode(&t("from mpq"))).unwrap();
    assert_eq!(q("get", vec![]).unwrap(), t("from mpq"));
    q("put", vec![i(7)]).unwrap();
    assert_eq!(direct.get_bytes().unwrap(), encode(&i(7)));
    // A getter blocked on the server is woken by another client's put.
    std::thread::scope(|sc| {
        let getter = sc.spawn(|| connect(&s.unix_url()).call("queue", "jobs", "get", vec![i(30_000)]).unwrap());
        wait_blocked(&s, 1);
        q("put", vec![t("wake")]).unwrap();
        assert_eq!(getter.join().unwrap(), t("wake"));
    });
    // Deleted: the name's next use makes a new, unbounded queue.
    assert_eq!(c.call("manager", "jobs", "delete", vec![]).unwrap(), Value::Bool(true));
    assert_eq!(q("qsize", vec![]).unwrap(), i(0));
    for n in 0..3 {
        q("put", vec![i(n)]).unwrap();
    }
    assert_eq!(q("full", vec![]).unwrap(), Value::Bool(false));
    assert_eq!(c.call("queue", "bad/name", "qsize", vec![]).unwrap_err().kind(), ErrorKind::Invalid);
}
