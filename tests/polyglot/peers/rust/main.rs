//! The Rust peer of the cross-language end-to-end tests
//! (tests/polyglot/PEERS.md), built as the Cargo example `polyglot_peer`:
//!
//! ```text
//! polyglot_peer <send|recv> <queue|pipe|listener|manager|array|lock> <name> <vectors.json>
//! ```
//!
//! It uses the crate's Rust API (Queue, Connection, Listener / connect,
//! ManagerClient, Array, Lock). Native values are `ciborium::Value`s built
//! from the vectors' descriptions and sent with the typed API
//! (`Queue::put_timeout`, `Connection::send`, the manager's `Dict` and
//! `List` proxies, which encode with `mpipc::codec`); received bytes are
//! compared with `hex`, decoded both with `decode_value` and with the typed
//! codec (`mpipc::codec::decode::<Value>`, what `get` / `recv` use),
//! compared with the described value and re-encoded.

use ciborium::Value;
use mpipc::array::Number;
use mpipc::manager::cbor::{TAG_REF, TAG_TUPLE};
use mpipc::manager::protocol::{decode_value, encode_value};
use mpipc::pipe::{connect, Connection, Listener, ListenerOptions};
use mpipc::sync::{Deadline, LockState, OpenOptions};
use mpipc::{Array, ErrorKind, Lock, ManagerClient, OpenMode, Queue, QueueOptions};
use serde_json::Value as Json;
use std::fmt::Write as _;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::exit;
use std::time::{Duration, Instant};

const AUTHKEY: &[u8] = b"polyglot";
const TIMEOUT: Duration = Duration::from_secs(10);

struct Vector {
    name: String,
    /// The bytes the sender wrote: `hex_plain` (a Python tuple as the
    /// plain array) from Go and Node, `hex` from the others.
    bytes: Vec<u8>,
    /// What those bytes decode to here (Rust keeps the TUPLE tag of `hex`).
    value: Value,
    /// What this peer sends (with the TUPLE tag, as Python writes it).
    send: Value,
    /// What Rust writes for the decoded value where that is not `bytes`
    /// (the vector's `reencoded["rust"]`; no vector has one today).
    reencoded: Option<Vec<u8>>,
    /// Rust's decoder refuses the bytes (`"rust"` in `refused_by`).
    refused: bool,
}

struct Peer {
    vectors: Vec<Vector>,
    failed: usize,
}

fn die(msg: impl std::fmt::Display) -> ! {
    eprintln!("rust peer: fatal: {msg}");
    exit(2)
}

fn ready() {
    let mut out = std::io::stdout().lock();
    out.write_all(b"READY\n").and_then(|_| out.flush()).unwrap_or_else(|e| die(format!("stdout: {e}")));
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn to_hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 * b.len());
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// The ciborium value a vector's description stands for: a {tuple} is the
/// TUPLE tag around its array, or the bare array when `plain`; a {ref} the
/// REF tag around `[kind, name, address]` (docs/TYPES.md).
fn build(d: &Json, plain: bool) -> Value {
    // (the fn `build` inside: the closure's own name is not in scope yet)
    let build = |d: &Json| build(d, plain);
    let obj = d.as_object().unwrap_or_else(|| die(format!("description {d} is not an object")));
    if let Some(k) = obj.get("nest") {
        // {nest: k, [tag: n,] value: v}: k one-element arrays (or tags n) around v.
        let mut v = build(&d["value"]);
        for _ in 0..k.as_u64().unwrap() {
            v = match obj.get("tag") {
                Some(t) => Value::Tag(t.as_u64().unwrap(), Box::new(v)),
                None => Value::Array(vec![v]),
            };
        }
        return v;
    }
    // Rust has no time type: tags 0 and 1 ({generic} or not) are the tag.
    if let Some(tag) = obj.get("tag") {
        return Value::Tag(tag.as_u64().unwrap(), Box::new(build(&d["value"])));
    }
    let (k, v) = obj.iter().next().unwrap_or_else(|| die("empty description"));
    match k.as_str() {
        "null" => Value::Null,
        "bool" => Value::Bool(v.as_bool().unwrap()),
        "int" => {
            let n: i128 = v.as_str().unwrap().parse().unwrap_or_else(|_| die(format!("integer {v} beyond i128")));
            match ciborium::value::Integer::try_from(n) {
                Ok(i) => Value::Integer(i),
                Err(_) => {
                    // A bignum (tag 2 or 3) of the shortest big-endian magnitude.
                    let (tag, mag) = if n >= 0 { (2, n as u128) } else { (3, (-1 - n) as u128) };
                    let bytes = mag.to_be_bytes();
                    let first = bytes.iter().position(|&b| b != 0).unwrap_or(15);
                    Value::Tag(tag, Box::new(Value::Bytes(bytes[first..].to_vec())))
                }
            }
        }
        "float" => Value::Float(match v {
            Json::String(s) => s.parse().unwrap_or_else(|_| die(format!("float {s}"))),
            n => n.as_f64().unwrap(),
        }),
        "text" => Value::Text(v.as_str().unwrap().to_owned()),
        "bytes" => Value::Bytes(hex(v.as_str().unwrap())),
        "array" => Value::Array(v.as_array().unwrap().iter().map(build).collect()),
        "tuple" => {
            let items = Value::Array(v.as_array().unwrap().iter().map(build).collect());
            if plain {
                items
            } else {
                Value::Tag(TAG_TUPLE, Box::new(items))
            }
        }
        "ref" => Value::Tag(
            TAG_REF,
            Box::new(Value::Array(
                v.as_array().unwrap().iter().map(|s| Value::Text(s.as_str().unwrap().into())).collect(),
            )),
        ),
        "map" => Value::Map(
            v.as_array()
                .unwrap()
                .iter()
                .map(|kv| (build(&kv.as_array().unwrap()[0]), build(&kv.as_array().unwrap()[1])))
                .collect(),
        ),
        other => die(format!("unknown description {other}")),
    }
}

/// The depth of the deepest item of description `d` (docs/TYPES.md D3: the
/// top item is at depth 0, an item inside an array, a map or a tag one
/// deeper).
fn depth(d: &Json) -> u64 {
    let most = |xs: &mut dyn Iterator<Item = &Json>| xs.map(|x| depth(x) as i64).max().unwrap_or(-1);
    if let Some(k) = d.get("nest") {
        return k.as_u64().unwrap() + depth(&d["value"]);
    }
    if d.get("tag").is_some() {
        return 1 + depth(&d["value"]);
    }
    let (k, v) = d.as_object().unwrap().iter().next().unwrap();
    match k.as_str() {
        // a bignum (tag 2/3 around bytes) beyond the 64-bit heads
        "int" => u64::from(
            !(-(1i128 << 64)..1i128 << 64).contains(&v.as_str().unwrap().parse::<i128>().unwrap_or(i128::MAX)),
        ),
        "array" => (1 + most(&mut v.as_array().unwrap().iter())) as u64,
        "tuple" => (2 + most(&mut v.as_array().unwrap().iter())) as u64,
        "ref" => 2,
        "map" => (1 + most(&mut v.as_array().unwrap().iter().flat_map(|kv| kv.as_array().unwrap().iter()))) as u64,
        _ => 0,
    }
}

/// Whether description `d` has an {array} (not a {tuple}) inside a map key,
/// which Python cannot send (a key's list is a tuple there, written with the
/// TUPLE tag).
fn array_in_key(d: &Json, in_key: bool) -> bool {
    if let Some(inner) = d.get("value") {
        return (in_key && d.get("nest").is_some() && d.get("tag").is_none()) || array_in_key(inner, in_key);
    }
    let (k, v) = d.as_object().unwrap().iter().next().unwrap();
    match k.as_str() {
        "array" => in_key || v.as_array().unwrap().iter().any(|x| array_in_key(x, in_key)),
        "tuple" => v.as_array().unwrap().iter().any(|x| array_in_key(x, in_key)),
        "map" => v.as_array().unwrap().iter().any(|kv| array_in_key(&kv[0], true) || array_in_key(&kv[1], in_key)),
        _ => false,
    }
}

/// Whether vector `v` is left out of this exchange, by both peers alike
/// (PEERS.md, "Vectors a peer leaves out"): the sender's binding refuses it
/// (it cannot build the value), Python sends an {array} map key, or the
/// manager carries a value too deep to sit in a call's argument array
/// (D3's limit is 128).
fn skipped(v: &Json, sender: &str, primitive: &str) -> bool {
    let refused = v.get("refused_by").and_then(Json::as_array).is_some_and(|b| b.iter().any(|x| x == sender));
    refused
        || (sender == "python" && array_in_key(&v["value"], false))
        || (primitive == "manager" && depth(&v["value"]) >= 128)
}

/// Equality that tells -0.0 from 0.0 and keeps map order.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((ka, va), (kb, vb))| same(ka, kb) && same(va, vb))
        }
        (Value::Tag(t, x), Value::Tag(u, y)) => t == u && same(x, y),
        _ => a == b,
    }
}

impl Peer {
    fn load(path: &str, primitive: &str) -> Peer {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| die(format!("{path}: {e}")));
        let doc: Json = serde_json::from_str(&text).unwrap_or_else(|e| die(format!("{path}: {e}")));
        // The sender's language (set by the driver): Go and Node write a
        // Python tuple as the plain array (PEERS.md).
        let sender = std::env::var("MPIPC_E2E_SENDER").unwrap_or_default();
        let plain_sender = matches!(sender.as_str(), "go" | "node");
        let vectors: Vec<Vector> = doc["valid"]
            .as_array()
            .unwrap_or_else(|| die("no \"valid\" list"))
            .iter()
            .filter(|v| !skipped(v, &sender, primitive))
            .map(|v| {
                let plain = plain_sender && v.get("hex_plain").is_some();
                let h = if plain { &v["hex_plain"] } else { &v["hex"] };
                Vector {
                    name: v["name"].as_str().unwrap().to_owned(),
                    bytes: hex(h.as_str().unwrap()),
                    value: build(&v["value"], plain),
                    send: build(&v["value"], false),
                    reencoded: v.get("reencoded").and_then(|r| r.get("rust")).map(|h| hex(h.as_str().unwrap())),
                    refused: v
                        .get("refused_by")
                        .and_then(Json::as_array)
                        .is_some_and(|b| b.iter().any(|x| x == "rust")),
                }
            })
            .collect();
        if vectors.is_empty() {
            die("no valid vector");
        }
        Peer { vectors, failed: 0 }
    }

    fn fail(&mut self, msg: impl std::fmt::Display) {
        eprintln!("rust peer: {msg}");
        self.failed += 1;
    }

    /// The bytes received for vector i: its canonical encoding, which
    /// decodes to the described value and encodes back to itself.
    fn check(&mut self, what: &str, i: usize, got: &[u8]) {
        let v = &self.vectors[i];
        let (name, want_hex) = (v.name.clone(), to_hex(&v.bytes));
        let (refused, want_re) = (v.refused, v.reencoded.clone().unwrap_or_else(|| got.to_vec()));
        if got != v.bytes.as_slice() {
            self.fail(format!("{what}: vector {name}: got bytes {}, want {want_hex}", to_hex(got)));
        }
        if refused {
            if let Ok(val) = decode_value(got) {
                self.fail(format!("{what}: vector {name}: decoded {val:?}, want a decode error (refused_by)"));
            }
            return;
        }
        // The typed API's decoding (`get::<Value>()`) reads the same value.
        match mpipc::codec::decode::<Value>(got) {
            Ok(typed) if mpipc::codec::encode(&typed).ok().as_deref() == Some(&want_re[..]) => {}
            Ok(typed) => self
                .fail(format!("{what}: vector {name}: the typed codec gave {typed:?}, which re-encodes differently")),
            Err(e) => self.fail(format!("{what}: vector {name}: the typed codec: {e}")),
        }
        match decode_value(got) {
            Err(e) => self.fail(format!("{what}: vector {name}: decode: {e}")),
            Ok(val) => {
                let want = &self.vectors[i].value;
                // A bignum that fits 64 bits decodes as the plain integer
                // (TYPES.md rule 3): compare through the encoding then.
                if !same(&val, want) && encode_value(&val) != encode_value(want) {
                    let msg = format!("{what}: vector {name}: decoded {val:?}, want {want:?}");
                    self.fail(msg);
                }
                let re = encode_value(&val);
                if re != want_re {
                    self.fail(format!(
                        "{what}: vector {name}: decoded and re-encoded {}, received {}",
                        to_hex(&re),
                        to_hex(got)
                    ));
                }
            }
        }
    }
}

fn queue(p: &mut Peer, send: bool, name: &str) {
    let q = Queue::open(name, &QueueOptions::default()).unwrap_or_else(|e| die(format!("Queue::open: {e}")));
    ready();
    let n = p.vectors.len();
    if send {
        for i in 0..n {
            q.put_timeout(&p.vectors[i].send, Some(TIMEOUT))
                .unwrap_or_else(|e| die(format!("put of vector {}: {e}", p.vectors[i].name)));
        }
        return;
    }
    for i in 0..n {
        let m = q
            .get_bytes_timeout(Some(TIMEOUT))
            .unwrap_or_else(|e| die(format!("get of vector {}: {e}", p.vectors[i].name)));
        p.check("queue", i, &m);
    }
    match q.qsize() {
        Ok(0) => {}
        Ok(k) => p.fail(format!("queue: {k} messages left after the last vector")),
        Err(e) => p.fail(format!("queue: qsize: {e}")),
    }
}

fn send_all(p: &Peer, c: &Connection, what: &str) {
    for i in 0..p.vectors.len() {
        c.send(&p.vectors[i].send)
            .unwrap_or_else(|e| die(format!("{what}: send of vector {}: {e}", p.vectors[i].name)));
    }
}

fn recv_all(p: &mut Peer, c: &Connection, what: &str) {
    for i in 0..p.vectors.len() {
        let m = c
            .recv_bytes_timeout(Some(TIMEOUT))
            .unwrap_or_else(|e| die(format!("{what}: recv of vector {}: {e}", p.vectors[i].name)));
        p.check(what, i, &m);
    }
    match c.recv_bytes_timeout(Some(TIMEOUT)) {
        Err(e) if e.kind() == ErrorKind::Eof => {}
        Err(e) => p.fail(format!("{what}: after the last vector: {e}, want EOF")),
        Ok(m) => p.fail(format!("{what}: a message after the last vector: {}", to_hex(&m))),
    }
}

fn pipe(p: &mut Peer, send: bool) {
    let fd: i32 = std::env::var("MPIPC_E2E_FD")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| die("MPIPC_E2E_FD is not set"));
    // SAFETY: the driver handed this descriptor to us; nothing else owns it.
    let c = Connection::from_owned_fd(unsafe { OwnedFd::from_raw_fd(fd) })
        .unwrap_or_else(|e| die(format!("Connection::from_owned_fd: {e}")));
    ready();
    if send {
        send_all(p, &c, "pipe");
    } else {
        recv_all(p, &c, "pipe");
    }
}

fn key_opts() -> ListenerOptions {
    ListenerOptions { authkey: Some(AUTHKEY.to_vec()), ..Default::default() }
}

fn listener(p: &mut Peer, send: bool, name: &str) {
    let addr = format!("unix:/tmp/{name}.sock");
    if !send {
        let l = Listener::bind(&addr, &key_opts()).unwrap_or_else(|e| die(format!("Listener::bind: {e}")));
        ready();
        let c = l.accept(Some(TIMEOUT)).unwrap_or_else(|e| die(format!("accept: {e}")));
        recv_all(p, &c, "listener");
        return;
    }
    let start = Instant::now();
    let c = loop {
        match connect(&addr, &key_opts(), Some(TIMEOUT)) {
            Ok(c) => break c,
            Err(e) if start.elapsed() >= Duration::from_secs(5) => die(format!("connect (for 5 s): {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    ready();
    send_all(p, &c, "listener");
}

fn manager(p: &mut Peer, send: bool, name: &str) {
    let addr = std::env::var("MPIPC_E2E_MANAGER").unwrap_or_else(|_| die("MPIPC_E2E_MANAGER is not set"));
    let (dname, lname) = (format!("{name}-dict"), format!("{name}-list"));
    let m = ManagerClient::connect(&addr, &key_opts(), Some(TIMEOUT))
        .unwrap_or_else(|e| die(format!("ManagerClient::connect: {e}")));
    ready();
    let n = p.vectors.len();
    if send {
        let (dict, list) = (m.dict::<u64, Value>(&dname), m.list::<Value>(&lname));
        for i in 0..n {
            dict.set(&(i as u64), &p.vectors[i].send)
                .unwrap_or_else(|e| die(format!("dict set of vector {}: {e}", p.vectors[i].name)));
        }
        for i in 0..n {
            list.append(&p.vectors[i].send)
                .unwrap_or_else(|e| die(format!("list append of vector {}: {e}", p.vectors[i].name)));
        }
        return;
    }
    match m.call("dict", &dname, "len", vec![]) {
        Ok(Value::Integer(k)) if i128::from(k) == n as i128 => {}
        other => p.fail(format!("dict len: {other:?}, want {n}")),
    }
    for i in 0..n {
        let args = encode_value(&Value::Array(vec![Value::Integer((i as u64).into())]));
        match m.call_encoded("dict", &dname, "get", &args) {
            Ok(raw) => p.check("manager dict", i, &raw),
            Err(e) => p.fail(format!("dict get of vector {}: {e}", p.vectors[i].name)),
        }
    }
    let raw = m.call_encoded("list", &lname, "copy", &[0x80]).unwrap_or_else(|e| die(format!("list copy: {e}")));
    // The whole list is an array of the vectors: its head, then every
    // vector's bytes back to back.
    let mut want = encode_value(&Value::Array(vec![Value::Null; n]));
    want.truncate(want.len() - n);
    for v in &p.vectors {
        want.extend_from_slice(&v.bytes);
    }
    if raw != want {
        p.fail(format!("manager list: copy gave {}, want {}", to_hex(&raw), to_hex(&want)));
    }
    match decode_value(&raw) {
        Ok(Value::Array(items)) if items.len() == n => {
            for (i, item) in items.iter().enumerate() {
                let bytes = encode_value(item);
                p.check("manager list", i, &bytes);
            }
        }
        other => p.fail(format!("manager list: copy decoded to {other:?}")),
    }
}

fn array(p: &mut Peer, send: bool, name: &str) {
    let specs: [(u8, usize); 3] = [(b'q', 4), (b'd', 4), (b'B', 2)];
    let opts = if send {
        OpenOptions::default()
    } else {
        OpenOptions { open_mode: OpenMode::AttachOnly, mode: 0, any_owner: false }
    };
    let arrays: Vec<Array> = specs
        .iter()
        .map(|&(tc, len)| {
            let an = format!("{name}-{}", tc as char);
            Array::open(&an, tc, if send { len } else { 0 }, false, &opts)
                .unwrap_or_else(|e| die(format!("Array::open {an}: {e}")))
        })
        .collect();
    ready();
    let q = [0i128, -1, i64::MAX as i128, i64::MIN as i128];
    let d = [1.5f64, -0.0, f64::INFINITY, 1e300];
    let b = [0i128, 255];
    if send {
        for (i, v) in q.iter().enumerate() {
            arrays[0].set(i, Number::Int(*v)).unwrap_or_else(|e| die(format!("set q[{i}]: {e}")));
        }
        for (i, v) in d.iter().enumerate() {
            arrays[1].set(i, Number::Float(*v)).unwrap_or_else(|e| die(format!("set d[{i}]: {e}")));
        }
        for (i, v) in b.iter().enumerate() {
            arrays[2].set(i, Number::Int(*v)).unwrap_or_else(|e| die(format!("set B[{i}]: {e}")));
        }
        let r = arrays[0].incr(0, 5).unwrap_or_else(|e| die(format!("incr: {e}")));
        if r.value != 5 {
            p.fail(format!("incr returned {}, want 5", r.value));
        }
        return;
    }
    for (a, &(tc, len)) in arrays.iter().zip(specs.iter()) {
        if a.typecode().as_char() != tc {
            p.fail(format!("array {name}-{}: typecode {}", tc as char, a.typecode().as_char() as char));
        }
        if a.len() != len {
            p.fail(format!("array {name}-{}: length {}, want {len}", tc as char, a.len()));
        }
    }
    let wantq = [5i128, -1, i64::MAX as i128, i64::MIN as i128];
    for (i, w) in wantq.iter().enumerate() {
        match arrays[0].get(i) {
            Ok(g) if g.value == Number::Int(*w) => {}
            other => p.fail(format!("q[{i}]: {other:?}, want {w}")),
        }
    }
    for (i, w) in d.iter().enumerate() {
        match arrays[1].get(i) {
            Ok(g) => match g.value {
                Number::Float(f) if f.to_bits() == w.to_bits() => {}
                v => p.fail(format!("d[{i}]: {v:?}, want bits {:016x}", w.to_bits())),
            },
            Err(e) => p.fail(format!("d[{i}]: {e}")),
        }
    }
    for (i, w) in b.iter().enumerate() {
        match arrays[2].get(i) {
            Ok(g) if g.value == Number::Int(*w) => {}
            other => p.fail(format!("B[{i}]: {other:?}, want {w}")),
        }
    }
}

fn lock(p: &mut Peer, send: bool, name: &str) {
    let l = Lock::open(name, false, &OpenOptions::default()).unwrap_or_else(|e| die(format!("Lock::open: {e}")));
    if send {
        match l.acquire(&Deadline::from_timeout(Some(TIMEOUT))) {
            Ok(Some(_)) => {}
            other => die(format!("acquire: {other:?}")),
        }
        ready();
        loop {
            std::thread::sleep(Duration::from_secs(3600)); // until SIGKILL
        }
    }
    match l.acquire(&Deadline::from_timeout_ms(0)) {
        Ok(None) => {}
        other => die(format!("acquire with timeout 0 of a held lock: {other:?}, want a timeout")),
    }
    ready();
    match l.acquire(&Deadline::from_timeout(Some(TIMEOUT))) {
        Ok(Some(LockState::OwnerDied)) => {}
        other => die(format!("acquire after the holder was killed: {other:?}, want OwnerDied")),
    }
    if let Err(e) = l.release() {
        p.fail(format!("release after OwnerDied: {e}"));
    }
    match l.release() {
        Err(e) if e.kind() == ErrorKind::Permission => {}
        other => p.fail(format!("second release: {other:?}, want a Permission error")),
    }
}

// ---- bench roles (benches/polyglot_bench.py; PEERS.md "Bench roles"): the
// small object {"id": i, "name": "item-<i>", "vals": [1.5, 2.5, 3.5]} built
// as a `ciborium::Value` per message and encoded with the manager codec
// (`encode_value`); received messages are decoded with `decode_value` and
// the id read from the decoded map.

fn bench_small(i: u64) -> Value {
    Value::Map(vec![
        (Value::Text("id".into()), Value::Integer(i.into())),
        (Value::Text("name".into()), Value::Text(format!("item-{i}"))),
        (Value::Text("vals".into()), Value::Array(vec![Value::Float(1.5), Value::Float(2.5), Value::Float(3.5)])),
    ])
}

fn bench_open(name: &str) -> Queue {
    Queue::open(name, &QueueOptions::default()).unwrap_or_else(|e| die(format!("Queue::open: {e}")))
}

fn bench_go() {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap_or_else(|e| die(format!("stdin: {e}")));
    if !line.starts_with("GO") {
        die("bench: expected GO on stdin");
    }
}

fn bench_num(s: &str) -> u64 {
    s.parse().unwrap_or_else(|e| die(format!("bench: {s}: {e}")))
}

fn bench_put(q: &Queue, v: &Value) {
    q.put_bytes(&encode_value(v)).unwrap_or_else(|e| die(format!("put: {e}")));
}

/// Gets and decodes one message: (its id, the decoded value).
fn bench_get(q: &Queue) -> (u64, Value) {
    let m = q.get_bytes().unwrap_or_else(|e| die(format!("get: {e}")));
    let v = decode_value(&m).unwrap_or_else(|e| die(format!("decode: {e}")));
    let id = match &v {
        Value::Map(kv) => kv.iter().find_map(|(k, x)| match (k, x) {
            (Value::Text(k), Value::Integer(n)) if k == "id" => u64::try_from(*n).ok(),
            _ => None,
        }),
        _ => None,
    };
    (id.unwrap_or_else(|| die("bench: message without an integer id")), v)
}

fn bench_main(args: &[String]) {
    match (args[1].as_str(), args.len()) {
        (role @ ("bench-put" | "bench-get"), 4) => {
            let q = bench_open(&args[2]);
            let n = bench_num(&args[3]);
            ready();
            if role == "bench-put" {
                bench_go();
                for i in 0..n {
                    bench_put(&q, &bench_small(i));
                }
            } else {
                for i in 0..n {
                    if bench_get(&q).0 != i {
                        die(format!("bench-get: message {i} out of order"));
                    }
                }
                println!("DONE");
            }
        }
        ("bench-pong", 5) => {
            let (q1, q2) = (bench_open(&args[2]), bench_open(&args[3]));
            let n = bench_num(&args[4]);
            ready();
            for _ in 0..n {
                bench_put(&q2, &bench_get(&q1).1);
            }
        }
        ("bench-ping", 6) => {
            let (q1, q2) = (bench_open(&args[2]), bench_open(&args[3]));
            let (rounds, warm) = (bench_num(&args[4]), bench_num(&args[5]));
            ready();
            bench_go();
            let mut lat = Vec::with_capacity(rounds as usize);
            for i in 0..warm + rounds {
                let t0 = Instant::now();
                bench_put(&q1, &bench_small(i));
                let (id, _) = bench_get(&q2);
                let d = t0.elapsed().as_nanos() as u64;
                if id != i {
                    die(format!("bench-ping: round {i}: wrong id back"));
                }
                if i >= warm {
                    lat.push(d);
                }
            }
            lat.sort_unstable();
            println!("RESULT {} {}", lat[lat.len() / 2], lat[(lat.len() * 99 / 100).min(lat.len() - 1)]);
        }
        _ => die("usage: polyglot_peer bench-put|bench-get <queue> <n> | bench-ping <q1> <q2> <rounds> <warmup> | bench-pong <q1> <q2> <total>"),
    }
}

/// The differential test's echo (tests/polyglot/test_differential.py): each
/// message of queue `in_name` read with the typed API into a
/// `ciborium::Value` (`get_bytes` then `mpipc::codec::decode`, what `get`
/// does, kept apart so a decode failure is answered rather than fatal) and
/// written back with the typed codec (`mpipc::codec::encode`, what `put`
/// does) onto `out_name`; a message that does not decode (or encode) is
/// answered with `0xff 'D'` (`0xff 'E'`) and the reason; `0xff "STOP"` ends it.
fn echo(in_name: &str, out_name: &str) {
    let open =
        |n: &str| Queue::open(n, &QueueOptions::default()).unwrap_or_else(|e| die(format!("Queue::open {n}: {e}")));
    let (src, dst) = (open(in_name), open(out_name));
    ready();
    let long = Some(Duration::from_secs(60));
    loop {
        let raw = src.get_bytes_timeout(long).unwrap_or_else(|e| die(format!("echo: get: {e}")));
        if raw == b"\xffSTOP" {
            return;
        }
        let answer = match mpipc::codec::decode::<Value>(&raw) {
            Err(e) => [&[0xff, b'D'][..], e.to_string().as_bytes()].concat(),
            Ok(v) => match mpipc::codec::encode(&v) {
                Err(e) => [&[0xff, b'E'][..], e.to_string().as_bytes()].concat(),
                Ok(out) => out,
            },
        };
        dst.put_bytes_timeout(&answer, long).unwrap_or_else(|e| die(format!("echo: put: {e}")));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() >= 2 && args[1].starts_with("bench-") {
        bench_main(&args);
        return;
    }
    if args.len() == 4 && args[1] == "echo" {
        echo(&args[2], &args[3]);
        return;
    }
    if args.len() != 5 {
        die("usage: polyglot_peer <send|recv> <primitive> <name> <vectors.json>");
    }
    let send = match args[1].as_str() {
        "send" => true,
        "recv" => false,
        r => die(format!("role {r}: want send or recv")),
    };
    let (prim, name) = (args[2].as_str(), args[3].as_str());
    let mut p = Peer::load(&args[4], &args[2]);
    match prim {
        "queue" => queue(&mut p, send, name),
        "pipe" => pipe(&mut p, send),
        "listener" => listener(&mut p, send, name),
        "manager" => manager(&mut p, send, name),
        "array" => array(&mut p, send, name),
        "lock" => lock(&mut p, send, name),
        other => die(format!("unknown primitive {other}")),
    }
    if p.failed > 0 {
        eprintln!("rust peer: {} {prim}: {} check(s) failed", args[1], p.failed);
        exit(1);
    }
}
