//! In-process tests of framing, EOF, limits, poll/wait and listeners.
//! Cross-process and Python-interop tests live in tests/pipe_*.rs.

use super::*;
use std::io::Write;
use std::os::fd::FromRawFd;
use std::time::Instant;

const NOW: Option<Duration> = Some(Duration::ZERO);

/// The raw peer of a socketpair, to write arbitrary bytes at a Connection.
fn raw_pair() -> (Connection, std::os::unix::net::UnixStream) {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    (Connection::from_owned_fd(a.into()).unwrap(), b)
}

#[test]
fn messages_of_every_size_round_trip_in_order() {
    let (a, b) = pipe(true).unwrap();
    let sizes = [0usize, 1, 3, 64, 4095, 65536, 65537, 300_000];
    let writer = std::thread::spawn(move || {
        for &n in &sizes {
            a.send_bytes(&vec![(n % 251) as u8; n]).unwrap();
        }
        a
    });
    for &n in &sizes {
        let m = b.recv_bytes().unwrap();
        assert_eq!(m.len(), n);
        assert!(m.iter().all(|&x| x == (n % 251) as u8));
    }
    drop(writer.join().unwrap());
    assert_eq!(b.recv_bytes().unwrap_err().kind(), ErrorKind::Eof);
    assert_eq!(b.recv_bytes().unwrap_err().kind(), ErrorKind::Eof, "EOF is sticky");
    assert!(b.poll(NOW).unwrap(), "EOF counts as readable, as in Python");
}

#[test]
fn frames_are_pythons() {
    let (c, mut raw) = raw_pair();
    c.send_bytes(b"abc").unwrap();
    let mut hdr = [0u8; 7];
    std::io::Read::read_exact(&mut raw, &mut hdr).unwrap();
    assert_eq!(&hdr, b"\x00\x00\x00\x03abc");
    // The long form (-1 then 8 bytes) is accepted for any size.
    raw.write_all(b"\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x02hi").unwrap();
    assert_eq!(c.recv_bytes().unwrap(), b"hi");
}

#[test]
fn recv_into_too_small_keeps_the_message() {
    let (a, b) = pipe(true).unwrap();
    a.send_bytes(b"hello world").unwrap();
    let mut small = [0u8; 4];
    let e = b.recv_into(&mut small, NOW).unwrap_err();
    assert_eq!((e.kind(), e.needed()), (ErrorKind::BufSize, 11));
    let mut big = [0u8; 64];
    assert_eq!(b.recv_into(&mut big, NOW).unwrap(), 11);
    assert_eq!(&big[..11], b"hello world");
}

#[test]
fn oversized_and_invalid_frames_are_refused_before_allocating() {
    let (c, mut raw) = raw_pair();
    // A length prefix of 2^62: refused at once, nothing allocated.
    raw.write_all(b"\xff\xff\xff\xff\x40\x00\x00\x00\x00\x00\x00\x00").unwrap();
    let t = Instant::now();
    assert_eq!(c.recv_bytes().unwrap_err().kind(), ErrorKind::TooBig);
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(c.recv_bytes().unwrap_err().kind(), ErrorKind::TooBig, "the stream stays refused");

    let (c, mut raw) = raw_pair();
    c.set_max_frame(10);
    raw.write_all(b"\x00\x00\x00\x0bhello world").unwrap();
    assert_eq!(c.recv_bytes().unwrap_err().kind(), ErrorKind::TooBig);

    let (c, mut raw) = raw_pair();
    raw.write_all(b"\xff\xff\xff\xfbgarbage").unwrap();
    assert_eq!(c.recv_bytes().unwrap_err().kind(), ErrorKind::Corrupt);
}

#[test]
fn peer_gone_mid_frame_is_eof_not_a_hang() {
    let (c, mut raw) = raw_pair();
    raw.write_all(b"\x00\x00\x01\x00only part").unwrap();
    drop(raw);
    let e = c.recv_bytes().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Eof);
    assert!(e.message().contains("middle"));
}

#[test]
fn send_to_a_closed_peer_is_eof_not_sigpipe() {
    let (a, b) = pipe(true).unwrap();
    drop(b);
    assert_eq!(a.send_bytes(b"x").unwrap_err().kind(), ErrorKind::Eof);
    let (r, w) = pipe(false).unwrap();
    drop(r);
    // A plain pipe would raise SIGPIPE and kill the test process.
    assert_eq!(w.send_bytes(b"x").unwrap_err().kind(), ErrorKind::Eof);
}

/// The thread that last received a SIGPIPE (0: none), set by
/// `note_sigpipe`. SeqCst: a test-only flag, read after the send returns.
static SIGPIPE_TID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn note_sigpipe(_: libc::c_int) {
    // SAFETY: gettid is async-signal-safe and has no preconditions.
    SIGPIPE_TID.store(unsafe { libc::gettid() }, Ordering::SeqCst);
}

/// Rust ignores SIGPIPE (so does Python), which the test above relies on:
/// a pipe send then skips the signal mask. With a handler installed the
/// masked path runs, and the SIGPIPE the write raises must be consumed, not
/// delivered to this thread. (tests/c/test_pipe.c covers the default action
/// in a child process.)
#[test]
fn a_pipe_send_with_a_sigpipe_handler_consumes_the_signal() {
    assert!(sigpipe_ignored(), "the Rust runtime ignores SIGPIPE");
    // SAFETY: installs a handler that only calls gettid and stores an
    // atomic; the old action is restored before the test returns. A test
    // on another thread that writes to a closed pipe meanwhile would at
    // worst run this handler, which is harmless and recorded by tid.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = note_sigpipe as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut act.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(libc::SIGPIPE, &act, &mut old), 0);
        assert!(!sigpipe_ignored());
        let (r, w) = pipe(false).unwrap();
        drop(r);
        let e = w.send_bytes(b"x").unwrap_err();
        let tid = libc::gettid();
        assert_eq!(libc::sigaction(libc::SIGPIPE, &old, std::ptr::null_mut()), 0);
        assert_eq!(e.kind(), ErrorKind::Eof);
        assert_ne!(SIGPIPE_TID.load(Ordering::SeqCst), tid, "the SIGPIPE reached the sending thread");
    }
    assert!(sigpipe_ignored());
}

#[test]
fn one_way_pipes_know_their_direction() {
    let (r, w) = pipe(false).unwrap();
    assert_eq!(r.send_bytes(b"x").unwrap_err().kind(), ErrorKind::Invalid);
    assert_eq!(w.recv_bytes_timeout(NOW).unwrap_err().kind(), ErrorKind::Invalid);
    w.send_bytes(b"one way").unwrap();
    assert_eq!(r.recv_bytes().unwrap(), b"one way");
}

#[test]
fn timeouts_poll_and_wait() {
    let (a, b) = pipe(true).unwrap();
    assert_eq!(b.recv_bytes_timeout(NOW).unwrap_err().kind(), ErrorKind::Empty);
    let t = Instant::now();
    assert_eq!(b.recv_bytes_timeout(Some(Duration::from_millis(30))).unwrap_err().kind(), ErrorKind::Empty);
    assert!(t.elapsed() >= Duration::from_millis(29));
    assert!(!b.poll(NOW).unwrap());
    let (c, d) = pipe(true).unwrap();
    assert!(wait(&[&b, &d], NOW).unwrap().is_empty());
    c.send_bytes(b"1").unwrap();
    c.send_bytes(b"2").unwrap();
    assert_eq!(wait(&[&b, &d], Some(Duration::from_secs(5))).unwrap(), vec![1]);
    assert_eq!(d.recv_bytes().unwrap(), b"1");
    // "2" is now in d's buffer, not in the socket: still reported ready.
    assert_eq!(wait(&[&b, &d], NOW).unwrap(), vec![1]);
    assert!(d.poll(NOW).unwrap());
    assert_eq!(d.recv_bytes().unwrap(), b"2");
    drop(a);
}

#[test]
fn from_fd_refuses_other_descriptors() {
    let f = std::fs::File::open("/dev/null").unwrap();
    assert_eq!(Connection::from_owned_fd(f.into()).unwrap_err().kind(), ErrorKind::Invalid);
    // Giving up a descriptor whose received bytes sit in our buffer would
    // lose them: refused.
    let (a, b) = pipe(true).unwrap();
    b.send_bytes(b"one").unwrap();
    b.send_bytes(b"two").unwrap();
    assert_eq!(a.recv_bytes().unwrap(), b"one");
    assert_eq!(a.into_owned_fd().unwrap_err().kind(), ErrorKind::Invalid);
    let (a, _b) = pipe(true).unwrap();
    let fd = a.into_owned_fd().unwrap();
    // SAFETY: dup of a descriptor we own.
    let again = unsafe { OwnedFd::from_raw_fd(libc::dup(fd.as_raw_fd())) };
    Connection::from_owned_fd(again).unwrap();
}

fn unique_path(tag: &str) -> String {
    format!("/tmp/mpipc-ut-{tag}-{}.sock", std::process::id())
}

#[test]
fn unix_listener_authenticates_and_is_owner_only() {
    let path = unique_path("auth");
    let _ = std::fs::remove_file(&path);
    let opts = ListenerOptions { authkey: Some(b"key".to_vec()), ..Default::default() };
    let l = Listener::bind(&format!("unix:{path}"), &opts).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(Listener::bind(&format!("unix:{path}"), &opts).unwrap_err().kind(), ErrorKind::Exists);
    let addr = format!("unix:{path}");
    let client = std::thread::spawn(move || {
        let c = connect(
            &addr,
            &ListenerOptions { authkey: Some(b"key".to_vec()), ..Default::default() },
            Some(Duration::from_secs(5)),
        )
        .unwrap();
        c.send_bytes(b"ping").unwrap();
        c.recv_bytes().unwrap()
    });
    let s = l.accept(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(s.recv_bytes().unwrap(), b"ping");
    s.send_bytes(b"pong").unwrap();
    assert_eq!(client.join().unwrap(), b"pong");

    let addr = format!("unix:{path}");
    let wrong = std::thread::spawn(move || {
        connect(
            &addr,
            &ListenerOptions { authkey: Some(b"nope".to_vec()), ..Default::default() },
            Some(Duration::from_secs(5)),
        )
        .map(|_| ())
    });
    assert_eq!(l.accept(Some(Duration::from_secs(5))).unwrap_err().kind(), ErrorKind::Auth);
    assert_eq!(wrong.join().unwrap().unwrap_err().kind(), ErrorKind::Auth);
    assert_eq!(l.accept(NOW).unwrap_err().kind(), ErrorKind::Timeout);
    drop(l);
    assert!(!std::path::Path::new(&path).exists(), "the socket file goes with the listener");
}

#[test]
fn abstract_and_tcp_listeners() {
    let name = format!("unix:@mpipc-ut-{}", std::process::id());
    let l = Listener::bind(&name, &ListenerOptions::default()).unwrap();
    let n2 = name.clone();
    let t = std::thread::spawn(move || {
        connect(&n2, &ListenerOptions::default(), None).unwrap().send_bytes(b"abs").unwrap()
    });
    assert_eq!(l.accept(None).unwrap().recv_bytes().unwrap(), b"abs");
    t.join().unwrap();

    assert_eq!(Listener::bind("tcp:127.0.0.1:0", &ListenerOptions::default()).unwrap_err().kind(), ErrorKind::Invalid);
    assert_eq!(connect("tcp:127.0.0.1:1", &ListenerOptions::default(), NOW).unwrap_err().kind(), ErrorKind::Invalid);
    let opts = ListenerOptions { authkey: Some(b"k".to_vec()), ..Default::default() };
    let l = Listener::bind("tcp:127.0.0.1:0", &opts).unwrap();
    let addr = l.address().to_string();
    assert!(addr.starts_with("tcp:127.0.0.1:") && !addr.ends_with(":0"), "{addr}");
    let o2 = opts.clone();
    let t =
        std::thread::spawn(move || connect(&addr, &o2, Some(Duration::from_secs(5))).unwrap().recv_bytes().unwrap());
    l.accept(Some(Duration::from_secs(5))).unwrap().send_bytes(b"over tcp").unwrap();
    assert_eq!(t.join().unwrap(), b"over tcp");
    let insecure = ListenerOptions { allow_tcp_without_authkey: true, ..Default::default() };
    Listener::bind("tcp:127.0.0.1:0", &insecure).unwrap();
}

#[test]
fn send_many_is_many_sends() {
    let (a, b) = pipe(true).unwrap();
    let msgs: Vec<Vec<u8>> = (0..3000usize).map(|i| vec![(i % 256) as u8; i % 100]).collect();
    let w = std::thread::spawn(move || {
        a.send_many(&msgs).unwrap();
        a.send_many::<&[u8]>(&[]).unwrap();
        msgs
    });
    let mut got = Vec::new();
    for _ in 0..3000 {
        got.push(b.recv_bytes_timeout(Some(Duration::from_secs(10))).unwrap());
    }
    assert_eq!(got, w.join().unwrap());
    let (r, w) = pipe(false).unwrap();
    assert_eq!(r.send_many(&[b"x"]).unwrap_err().kind(), ErrorKind::Invalid);
    w.send_many(&[&b"one"[..], b"", b"three"]).unwrap();
    assert_eq!(
        (r.recv_bytes().unwrap(), r.recv_bytes().unwrap(), r.recv_bytes().unwrap()),
        (b"one".to_vec(), vec![], b"three".to_vec())
    );
}

#[test]
fn spinning_receives_see_messages_eof_and_timeouts() {
    // Sockets (recv with MSG_DONTWAIT) and pipes (poll) both spin.
    for duplex in [true, false] {
        let (r, w) = if duplex { pipe(true).unwrap() } else { pipe(false).unwrap() };
        r.set_spin_us(2_000);
        let sizes = [0usize, 5, 70_000, 200_000];
        let writer = std::thread::spawn(move || {
            for &n in &sizes {
                std::thread::sleep(Duration::from_micros(300));
                w.send_bytes(&vec![(n % 13) as u8; n]).unwrap();
            }
            w
        });
        for &n in &sizes {
            let m = r.recv_bytes().unwrap();
            assert_eq!(m.len(), n, "duplex={duplex}");
            assert!(m.iter().all(|&x| x == (n % 13) as u8));
        }
        // A timeout shorter than the spin budget still expires on time.
        let t = Instant::now();
        assert_eq!(r.recv_bytes_timeout(Some(Duration::from_millis(1))).unwrap_err().kind(), ErrorKind::Empty);
        assert!(t.elapsed() < Duration::from_secs(2));
        assert_eq!(r.recv_bytes_timeout(NOW).unwrap_err().kind(), ErrorKind::Empty);
        drop(writer.join().unwrap());
        // EOF seen while spinning is EOF, not a hang or an error.
        assert_eq!(r.recv_bytes().unwrap_err().kind(), ErrorKind::Eof, "duplex={duplex}");
    }
    // A peer gone mid-frame while the receiver spins.
    let (c, mut raw) = raw_pair();
    c.set_spin_us(1_000);
    raw.write_all(b"\x00\x00\x01\x00part").unwrap();
    drop(raw);
    assert_eq!(c.recv_bytes().unwrap_err().kind(), ErrorKind::Eof);
}
