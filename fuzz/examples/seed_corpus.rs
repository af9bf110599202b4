//! Writes the seed inputs of every fuzz target into
//! fuzz/corpus/<target>/seed-* (`scripts/fuzz.sh seed`; they are committed). Every seed is made by the
//! library itself: frames written by `Connection::send`, handshake
//! messages sent by `deliver_challenge` / `answer_challenge`, requests
//! encoded by the manager protocol, and segment files created by each
//! kind's `open`, read back from /dev/shm. Only the framing of the long
//! header form (which the library writes only above 2 GiB) is made here.

use ciborium::Value;
use mpipc::fuzzing::{answer_challenge, deliver_challenge, socketpair};
use mpipc::manager::protocol::{encode_value, Request};
use mpipc::segment::{segment_path, OpenMode, SegmentKind};
use mpipc::{
    Array, Barrier, Condition, Connection, Event, Lock, OpenOptions, Queue, QueueOptions, Semaphore, ShareableList,
    SharedMemory,
};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join(format!("seed-{name}")), bytes).unwrap();
}

/// The bytes `send` puts on the wire for each message.
fn wire(msgs: &[&[u8]]) -> Vec<u8> {
    let (tx, rx) = socketpair().unwrap();
    let conn = Connection::from_owned_fd(tx).unwrap();
    for m in msgs {
        conn.send_bytes(m).unwrap();
    }
    drop(conn);
    let mut out = Vec::new();
    std::os::unix::net::UnixStream::from(rx).read_to_end(&mut out).unwrap();
    out
}

fn t(s: &str) -> Value {
    Value::Text(s.into())
}
fn i(n: i64) -> Value {
    Value::Integer(n.into())
}

fn requests() -> Vec<Vec<u8>> {
    let r = |id: u64, kind: &str, name: &str, method: &str, args: Vec<Value>| {
        Request { id, kind: kind.into(), name: name.into(), method: method.into(), args }.encode()
    };
    vec![
        r(1, "dict", "stats", "set", vec![t("hits"), i(1)]),
        r(2, "dict", "stats", "incr", vec![t("hits"), i(5)]),
        r(3, "dict", "stats", "get", vec![t("hits")]),
        r(4, "dict", "stats", "update", vec![Value::Map(vec![(t("a"), Value::Float(1.5)), (i(2), Value::Null)])]),
        r(5, "list", "jobs", "append", vec![Value::Bytes(vec![1, 2, 3])]),
        r(6, "list", "jobs", "extend", vec![Value::Array(vec![i(-1), Value::Bool(true), t("x")])]),
        r(7, "list", "jobs", "pop", vec![]),
        r(8, "set", "seen", "add", vec![Value::Array(vec![i(1), t("t")])]),
        r(9, "namespace", "ns", "set", vec![t("attr"), Value::Tag(1, Box::new(i(1_700_000_000)))]),
        r(10, "value", "v", "compare_and_set", vec![Value::Null, i(3)]),
        r(11, "queue", "q", "put", vec![t("job"), i(0)]),
        r(12, "queue", "q", "get", vec![i(0)]),
        r(13, "lock", "l", "acquire", vec![i(0)]),
        r(14, "lock", "l", "release", vec![]),
        r(15, "semaphore", "s", "create", vec![i(2)]),
        r(16, "event", "e", "set", vec![]),
        r(17, "condition", "c", "acquire", vec![]),
        r(18, "condition", "c", "wait", vec![i(0)]),
        r(19, "barrier", "b", "create", vec![i(1)]),
        r(20, "barrier", "b", "wait", vec![i(0)]),
        r(21, "array", "a", "create", vec![t("q"), i(4)]),
        r(22, "array", "a", "incr", vec![i(1), i(7)]),
        r(23, "array", "a", "getslice", vec![i(0), i(4)]),
        r(24, "manager", "", "list", vec![]),
        r(25, "manager", "", "stats", vec![]),
        r(u64::MAX, "manager", "a", "delete", vec![]),
    ]
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let reqs = requests();

    // pipe_frames: config byte + what send() writes.
    let big = vec![0xabu8; 70_000];
    let some: Vec<&[u8]> = vec![b"", b"hello", &[0u8; 300], &reqs[0]];
    for (cfg, name, msgs) in [
        (0u8, "small-recv", some.clone()),
        (0x34, "small-recv-into", some.clone()),
        (0x2e, "alternate", some),
        (0x03, "over-rx-buffer", vec![&big[..], b"after"]),
        (0x01, "over-max-frame", vec![&[7u8; 400][..]]),
    ] {
        let mut seed = vec![cfg];
        seed.extend(wire(&msgs));
        write(&dir, "pipe_frames", name, &seed);
    }
    // The long form (-1 + 8-byte length), as Python may send it.
    let mut long = vec![0x03u8, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 5];
    long.extend(b"hello");
    write(&dir, "pipe_frames", "long-header", &long);

    // auth_handshake: a real challenge (deliver_challenge's first message)
    // answered by the library (answer_challenge's response).
    let key = b"fuzz-key";
    let (a, b) = socketpair().unwrap();
    let challenger = Connection::from_owned_fd(a).unwrap();
    let th = std::thread::spawn(move || {
        let _ = deliver_challenge(&challenger, key, Duration::from_secs(5));
    });
    let peer = Connection::from_owned_fd(b).unwrap();
    let challenge = peer.recv_bytes().unwrap();
    drop(peer);
    th.join().unwrap();
    let mut answer_seed = vec![1u8, key.len() as u8];
    answer_seed.extend(key);
    answer_seed.extend(wire(&[&challenge, b"#WELCOME#"]));
    write(&dir, "auth_handshake", "answer-welcome", &answer_seed);
    let mut legacy = vec![1u8, key.len() as u8];
    legacy.extend(key);
    legacy.extend(wire(&[b"#CHALLENGE#0123456789abcdefghij", b"#FAILURE#"]));
    write(&dir, "auth_handshake", "answer-legacy-failure", &legacy);
    // The response answer_challenge sends to that challenge.
    let (a, b) = socketpair().unwrap();
    let challenged = Connection::from_owned_fd(a).unwrap();
    let peer = Connection::from_owned_fd(b).unwrap();
    peer.send_bytes(&challenge).unwrap();
    peer.send_bytes(b"#WELCOME#").unwrap();
    answer_challenge(&challenged, key, Duration::from_secs(5)).unwrap();
    let response = peer.recv_bytes().unwrap();
    let mut deliver_seed = vec![0u8, key.len() as u8];
    deliver_seed.extend(key);
    deliver_seed.extend(wire(&[&response]));
    write(&dir, "auth_handshake", "deliver-response", &deliver_seed);

    // manager_requests: the raw stream, and the framed-records form.
    let refs: Vec<&[u8]> = reqs.iter().map(|r| &r[..]).collect();
    let mut raw = vec![0u8];
    raw.extend(wire(&refs));
    write(&dir, "manager_requests", "raw-stream", &raw);
    let mut recs = vec![1u8];
    for r in &reqs {
        recs.extend((r.len() as u16).to_le_bytes());
        recs.extend(r);
    }
    write(&dir, "manager_requests", "records", &recs);
    for (n, r) in reqs.iter().enumerate() {
        let mut one = vec![1u8];
        one.extend((r.len() as u16).to_le_bytes());
        one.extend(r);
        write(&dir, "manager_requests", &format!("request-{n:02}"), &one);
    }

    // cbor_value: the request bodies and a few values of every type.
    for (n, r) in reqs.iter().enumerate() {
        write(&dir, "cbor_value", &format!("request-{n:02}"), r);
    }
    let values = [
        Value::Float(f64::NAN),
        Value::Float(-0.0),
        Value::Integer((u64::MAX).into()),
        Value::Integer((-(1i128 << 64)).try_into().unwrap()),
        Value::Tag(2, Box::new(Value::Bytes(vec![1, 0, 0, 0, 0, 0, 0, 0, 0]))),
        Value::Map(vec![(Value::Array(vec![]), Value::Map(vec![]))]),
    ];
    for (n, v) in values.iter().enumerate() {
        write(&dir, "cbor_value", &format!("value-{n}"), &encode_value(v));
    }
    // Indefinite lengths (the decoder accepts them; the encoder never
    // writes them): ["a" "b"] as chunks, [_ 1, 2].
    write(&dir, "cbor_value", "indefinite", &[0x9f, 0x7f, 0x61, b'a', 0x61, b'b', 0xff, 0x01, 0xff]);

    // segment and c_abi mode 1: segment files made by each kind.
    let name = format!("fuzz-seed-{}", std::process::id());
    let o = OpenOptions { open_mode: OpenMode::CreateOnly, mode: 0, any_owner: false };
    let q = Queue::open(&name, &QueueOptions { capacity_bytes: 256, maxsize: 4, ..Default::default() }).unwrap();
    q.put_bytes(b"one").unwrap();
    q.put_bytes(&[9u8; 40]).unwrap();
    let _ = q.get_bytes().unwrap();
    let segs: Vec<(SegmentKind, Box<dyn std::any::Any>)> = vec![
        (SegmentKind::Queue, Box::new(q)),
        (SegmentKind::Block, Box::new(SharedMemory::open(&name, 100, &o).unwrap())),
        (SegmentKind::Array, Box::new(Array::open(&name, b'q', 5, false, &o).unwrap())),
        (SegmentKind::Lock, Box::new(Lock::open(&name, true, &o).unwrap())),
        (SegmentKind::Semaphore, Box::new(Semaphore::open(&name, 3, true, &o).unwrap())),
        (SegmentKind::Event, Box::new(Event::open(&name, &o).unwrap())),
        (SegmentKind::Condition, Box::new(Condition::open(&name, &o).unwrap())),
        (SegmentKind::Barrier, Box::new(Barrier::open(&name, 2, &o).unwrap())),
        (
            SegmentKind::ShareableList,
            Box::new(ShareableList::open(&name, Some(&[&[0x01][..], b"\x63abc", &[0xf6]]), &o).unwrap()),
        ),
    ];
    for (idx, (kind, handle)) in segs.into_iter().enumerate() {
        let path = segment_path(kind, &name).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        drop(handle);
        // [kind][flags: healthy locks (+ recursive for the RLock)][min len 0][file]
        let flags = if kind == SegmentKind::Lock { 6 } else { 2 };
        let mut seed = vec![idx as u8, flags, 0];
        seed.extend(&bytes);
        write(&dir, "segment", kind.label(), &seed);
        let mut c = vec![1u8];
        c.extend(&seed);
        write(&dir, "c_abi", &format!("segment-{}", kind.label()), &c);
    }

    // c_abi: names, a pipe stream, manager calls.
    for (n, s) in [("name-ok", &b"jobs"[..]), ("name-slash", b"/a.b_c-9"), ("name-traversal", b"../etc/passwd")] {
        let mut c = vec![0u8];
        c.extend(s);
        write(&dir, "c_abi", n, &c);
    }
    let mut c = vec![2u8, 0x02];
    c.extend(wire(&[b"", b"hello", &[1u8; 100], &reqs[1]]));
    write(&dir, "c_abi", "pipe", &c);
    for (n, (kind, nm, method, args)) in [
        (0u8, "d", "set", Value::Array(vec![t("k"), i(1)])),
        (0, "d", "incr", Value::Array(vec![t("k")])),
        (1, "l", "append", Value::Array(vec![Value::Bytes(vec![0; 8])])),
        (5, "a", "create", Value::Array(vec![t("d"), i(3)])),
        (6, "", "stats", Value::Array(vec![])),
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = vec![3u8, kind];
        c.extend(nm.as_bytes());
        c.push(0);
        c.extend(method.as_bytes());
        c.push(0);
        c.extend(encode_value(&args));
        write(&dir, "c_abi", &format!("manager-{n}"), &c);
    }
    println!("seeds written to {}", dir.display());
}
