//! The authkey handshake's digest comparison, tested against a real
//! `mpipc manager serve` process (docs/SECURITY.md):
//!
//! - every single-byte difference, at every position of an HMAC-SHA256,
//!   HMAC-SHA384 and legacy HMAC-MD5 response, is refused (`#FAILURE#`),
//!   and so are truncated, extended and empty digests; the right one is
//!   welcomed, and the server keeps serving keyed clients;
//! - the comparison runs in constant time: under `valgrind
//!   --tool=callgrind`, with collection switched on only inside
//!   `Digest::verify`, a response wrong in its first byte and one wrong in
//!   its last byte cost exactly the same number of instructions, and the
//!   comparison goes through `subtle::ConstantTimeEq` (no memcmp/bcmp).
//!   Instruction counts are deterministic, so this asserts no timing.
//!
//! The client side is written here by hand (a keyless unix connection
//! speaking the handshake itself), so that it can send wrong digests.

use hmac::{Hmac, Mac};
use mpipc::pipe::connect;
use mpipc::{ListenerOptions, ManagerClient};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);
const KEY: &[u8] = b"security-test-key: 32 bytes long";

/// A `mpipc manager serve` child with an authkey, at a fresh unix socket;
/// stopped with SIGTERM (so that a profiler around it writes its output).
struct Server {
    child: Child,
    addr: String,
    files: Vec<String>,
}

fn fresh(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("/tmp/mpipc-sec-{}-{}-{tag}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

impl Server {
    /// Starts the server, under `wrapper` (e.g. valgrind and its options)
    /// if given, and waits for its "serving at" line.
    fn start(wrapper: &[String]) -> Server {
        let sock = fresh("mgr.sock");
        let keyfile = fresh("key");
        std::fs::write(&keyfile, KEY).unwrap();
        let addr = format!("unix:{sock}");
        let bin = env!("CARGO_BIN_EXE_mpipc");
        let mut argv: Vec<String> = wrapper.to_vec();
        argv.extend(
            [bin, "manager", "serve", "--address", &addr, "--authkey-file", &keyfile].iter().map(|s| s.to_string()),
        );
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.contains("serving at") => break,
                Some(Ok(_)) => {}
                other => panic!("the server ended before serving: {other:?}"),
            }
        }
        // Keep draining its stderr (it logs every refused connection).
        std::thread::spawn(move || for _ in lines {});
        Server { child, addr, files: vec![sock, keyfile] }
    }

    /// SIGTERM, then waits for the exit (status 0).
    fn stop(mut self) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                assert!(st.success(), "server exit: {st:?}");
                return;
            }
            assert!(t0.elapsed() < Duration::from_secs(120), "the server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

fn mac<M: Mac + hmac::digest::KeyInit>(payload: &[u8]) -> Vec<u8> {
    let mut m = <M as hmac::digest::KeyInit>::new_from_slice(KEY).unwrap();
    m.update(payload);
    m.finalize().into_bytes().to_vec()
}

/// The digests a client may answer with, and how: `{name}` + HMAC, or
/// (legacy, Python <= 3.11) the raw 16-byte HMAC-MD5.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Sha256,
    Sha384,
    LegacyMd5,
}

impl Answer {
    /// The right answer to the challenge payload (what follows
    /// `#CHALLENGE#`), as (prefix, digest).
    fn right(self, payload: &[u8]) -> (&'static [u8], Vec<u8>) {
        match self {
            Answer::Sha256 => (b"{sha256}", mac::<Hmac<sha2::Sha256>>(payload)),
            Answer::Sha384 => (b"{sha384}", mac::<Hmac<sha2::Sha384>>(payload)),
            Answer::LegacyMd5 => (b"", mac::<Hmac<md5::Md5>>(payload)),
        }
    }
}

/// One handshake as the client: receives the server's challenge, sends
/// `prefix + edit(right digest)`, returns the server's verdict.
fn handshake(addr: &str, answer: Answer, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let c = connect(addr, &ListenerOptions::default(), Some(T)).expect("connect");
    let challenge = c.recv_bytes_timeout(Some(T)).expect("challenge");
    let payload = challenge.strip_prefix(b"#CHALLENGE#").expect("a #CHALLENGE# first");
    assert!(payload.starts_with(b"{sha256}") && payload.len() == 8 + 40, "{payload:?}");
    let (prefix, mut digest) = answer.right(payload);
    edit(&mut digest);
    c.send_bytes(&[prefix, &digest[..]].concat()).expect("send the response");
    c.recv_bytes_timeout(Some(T)).expect("verdict")
}

#[test]
fn every_single_byte_difference_in_the_digest_is_refused() {
    let server = Server::start(&[]);
    let addr = server.addr.clone();
    let mut refused = 0;
    for answer in [Answer::Sha256, Answer::Sha384, Answer::LegacyMd5] {
        assert_eq!(handshake(&addr, answer, |_| {}), b"#WELCOME#", "{answer:?}: the right digest");
        let len = answer.right(b"x").1.len();
        for pos in 0..len {
            for flip in [0x01u8, 0x80, 0xff] {
                let verdict = handshake(&addr, answer, |d| d[pos] ^= flip);
                assert_eq!(verdict, b"#FAILURE#", "{answer:?}: byte {pos} ^ {flip:#04x} was accepted");
                refused += 1;
            }
        }
    }
    // Wrong lengths: one byte short, one byte more, nothing at all.
    for edit in [
        (|d: &mut Vec<u8>| {
            d.pop();
        }) as fn(&mut Vec<u8>),
        |d| d.push(0),
        |d| d.clear(),
    ] {
        assert_eq!(handshake(&addr, Answer::Sha256, edit), b"#FAILURE#");
        assert_eq!(handshake(&addr, Answer::Sha384, edit), b"#FAILURE#");
        refused += 2;
    }
    assert_eq!(refused, (32 + 48 + 16) * 3 + 6);
    // The server refused them one by one and still serves its clients.
    let opts = ListenerOptions { authkey: Some(KEY.to_vec()), ..Default::default() };
    let client = ManagerClient::connect(&addr, &opts, Some(T)).expect("keyed client");
    client.call("manager", "", "ping", vec![]).expect("ping");
    drop(client);
    server.stop();
}

/// Instructions executed inside `Digest::verify` by a server that refused
/// `n` responses whose byte `pos` (or none: `None`) was wrong, and whether
/// the call tree it recorded includes `subtle`'s slice comparison and no
/// memcmp/bcmp.
fn verify_cost(pos: Option<usize>, n: usize) -> (u64, bool, bool) {
    let out = fresh("callgrind.out");
    let wrapper: Vec<String> = [
        "valgrind",
        "-q",
        "--tool=callgrind",
        "--toggle-collect=mpipc::pipe::auth::Digest::verify",
        &format!("--callgrind-out-file={out}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let server = Server::start(&wrapper);
    for _ in 0..n {
        let verdict = handshake(&server.addr, Answer::Sha256, |d| {
            if let Some(p) = pos {
                d[p] ^= 0x5a;
            }
        });
        assert_eq!(verdict, if pos.is_some() { &b"#FAILURE#"[..] } else { b"#WELCOME#" });
    }
    server.stop();
    let profile = std::fs::read_to_string(&out).expect("callgrind output");
    let _ = std::fs::remove_file(&out);
    let total = profile
        .lines()
        .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .expect("a summary line");
    let via_subtle = profile.contains("subtle::ConstantTimeEq>::ct_eq");
    let via_memcmp = profile.contains("memcmp") || profile.contains("bcmp");
    (total, via_subtle, via_memcmp)
}

#[test]
fn digest_comparison_costs_the_same_wherever_the_mismatch_is() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        // `make` installs valgrind (scripts/install-deps.sh); a bare
        // `cargo test` elsewhere may not have it.
        eprintln!("SKIPPED: valgrind is not installed");
        return;
    }
    if !cfg!(debug_assertions) {
        // Optimised builds inline `Digest::verify`: nothing to toggle on.
        eprintln!("SKIPPED: needs the unoptimised test build (cargo test without --release)");
        return;
    }
    let n = 3;
    let (first, subtle_first, memcmp_first) = verify_cost(Some(0), n);
    let (last, subtle_last, memcmp_last) = verify_cost(Some(31), n);
    let (right, _, _) = verify_cost(None, n);
    eprintln!("instructions in Digest::verify, {n} handshakes: mismatch at byte 0: {first}, at byte 31: {last}, none: {right}");
    assert!(first > 0, "callgrind collected nothing inside Digest::verify (renamed?)");
    assert_eq!(first, last, "the comparison's cost depends on where the digests differ");
    // A right digest differs only by the branch on the verdict, not by the
    // comparison: a few instructions per call.
    assert!(right.abs_diff(first) <= 64 * n as u64, "right {right} vs wrong {first}");
    assert!(subtle_first && subtle_last, "the comparison no longer goes through subtle::ConstantTimeEq");
    assert!(!memcmp_first && !memcmp_last, "memcmp/bcmp is called inside Digest::verify");
}

/// Names in /dev/shm held by a planted symbolic link or a directory give a
/// status and a message that say so (issue 20, item 6; it was a bare
/// MP_E_IO): a link is refused with MP_E_PERM (mpipc never follows one),
/// a directory is MP_E_TYPE, each message naming the path and what was
/// found, on every path that meets them (attach, create-or-attach, a raw
/// block, unlink). The file names are the ones docs/PROTOCOL.md gives.
#[test]
fn planted_links_and_directories_in_dev_shm_are_named() {
    use mpipc::{ErrorKind, Lock, OpenMode, OpenOptions, Queue, QueueOptions, SharedMemory};
    let opts = |open_mode| OpenOptions { open_mode, ..OpenOptions::default() };
    let pid = std::process::id();
    let name = format!("t-planted-{pid}");
    let path = format!("/dev/shm/mpipc.lock.{name}");
    let target = format!("/dev/shm/t-planted-target-{pid}");
    std::fs::write(&target, [0u8; 4096]).unwrap();

    std::os::unix::fs::symlink(&target, &path).unwrap();
    for mode in [OpenMode::AttachOnly, OpenMode::CreateOrAttach] {
        let e = Lock::open(&name, false, &opts(mode)).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Permission, "{e}");
        assert!(e.message().contains(&format!("{path} is a symbolic link to {target}")), "{e}");
        assert!(e.message().contains("never follows"), "{e}");
    }
    let e = Lock::open(&name, false, &opts(OpenMode::CreateOnly)).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Exists, "{e}");
    // Unlinking removes the link itself, never what it points to.
    Lock::unlink(&name).unwrap();
    assert!(std::fs::metadata(&target).is_ok());

    std::fs::create_dir(&path).unwrap();
    for mode in [OpenMode::AttachOnly, OpenMode::CreateOrAttach] {
        let e = Lock::open(&name, false, &opts(mode)).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Type, "{e}");
        assert!(e.message().contains(&format!("{path} is a directory, not a shared-memory segment")), "{e}");
    }
    let e = Lock::unlink(&name).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Type, "{e}");
    assert!(e.message().contains("is a directory"), "{e}");
    std::fs::remove_dir(&path).unwrap();

    // A queue's name, and a raw POSIX block's.
    let qpath = format!("/dev/shm/mpipc.q.{name}");
    std::os::unix::fs::symlink(&target, &qpath).unwrap();
    let e = Queue::open(&name, &QueueOptions::default()).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Permission, "{e}");
    std::fs::remove_file(&qpath).unwrap();
    let raw = format!("t-planted-raw-{pid}");
    std::os::unix::fs::symlink(&target, format!("/dev/shm/{raw}")).unwrap();
    let e = SharedMemory::open_raw(&raw, 0, &opts(OpenMode::AttachOnly)).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Permission, "{e}");
    assert!(e.message().contains("is a symbolic link"), "{e}");
    std::fs::remove_file(format!("/dev/shm/{raw}")).unwrap();
    std::fs::remove_file(&target).unwrap();
}
