//! In-process unit tests of the queue's logic. Cross-process behaviour
//! (fork/exec, SIGKILL) is tested in tests/*.rs and tests/c.

use super::shm::layout::{self, DATA_OFFSET};
use super::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A unique queue name, unlinked when dropped.
struct TempName(String);

impl TempName {
    fn new(tag: &str) -> TempName {
        static N: AtomicU64 = AtomicU64::new(0);
        TempName(format!("ut-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
    }
}

impl Drop for TempName {
    fn drop(&mut self) {
        let _ = Queue::unlink(&self.0);
    }
}

const NOW: Option<Duration> = Some(Duration::ZERO);

fn opts(maxsize: usize, capacity: usize) -> QueueOptions {
    QueueOptions { maxsize, capacity_bytes: capacity, ..Default::default() }
}

#[test]
fn fifo_order_and_exact_qsize() {
    let n = TempName::new("fifo");
    let q = Queue::open(&n.0, &opts(0, 4096)).unwrap();
    assert!(q.empty().unwrap());
    for i in 0..100u32 {
        q.put_bytes(&i.to_le_bytes()).unwrap();
        assert_eq!(q.qsize().unwrap(), i as usize + 1);
    }
    for i in 0..100u32 {
        assert_eq!(q.get_bytes().unwrap(), i.to_le_bytes());
    }
    assert_eq!(q.qsize().unwrap(), 0);
    assert_eq!(q.get_bytes_timeout(NOW).unwrap_err().kind(), ErrorKind::Empty);
}

#[test]
fn wraps_around_the_ring_with_odd_sizes() {
    let n = TempName::new("wrap");
    let q = Queue::open(&n.0, &opts(0, 128)).unwrap();
    // Sizes that are not multiples of 8 and payloads that straddle the end.
    for round in 0..200usize {
        let len = (round * 7) % 40;
        let msg: Vec<u8> = (0..len).map(|i| (i + round) as u8).collect();
        q.put_bytes_timeout(&msg, NOW).unwrap();
        let mut other = vec![0u8; 64];
        if round % 2 == 0 {
            assert_eq!(q.get_bytes_timeout(NOW).unwrap(), msg);
        } else {
            let got = q.get_into(&mut other, NOW).unwrap();
            assert_eq!(&other[..got], &msg[..]);
        }
        assert_eq!(q.bytes_used().unwrap(), 0);
    }
}

#[test]
fn bounded_by_count_and_by_bytes() {
    let n = TempName::new("bounds");
    let q = Queue::open(&n.0, &opts(3, 4096)).unwrap();
    for _ in 0..3 {
        q.put_bytes_timeout(b"x", NOW).unwrap();
    }
    assert!(q.full().unwrap());
    assert_eq!(q.put_bytes_timeout(b"x", NOW).unwrap_err().kind(), ErrorKind::Full);
    let t = Instant::now();
    assert_eq!(q.put_bytes_timeout(b"x", Some(Duration::from_millis(50))).unwrap_err().kind(), ErrorKind::Full);
    assert!(t.elapsed() >= Duration::from_millis(45));

    let n2 = TempName::new("bytes");
    let q2 = Queue::open(&n2.0, &opts(0, 64)).unwrap();
    // 64-byte ring: one 40-byte message takes 48 bytes; a second does not fit.
    q2.put_bytes_timeout(&[1u8; 40], NOW).unwrap();
    assert_eq!(q2.put_bytes_timeout(&[1u8; 40], NOW).unwrap_err().kind(), ErrorKind::Full);
    assert!(!q2.full().unwrap(), "full() speaks of maxsize only, like Python");
    q2.put_bytes_timeout(&[2u8; 8], NOW).unwrap();
}

#[test]
fn too_big_changes_nothing() {
    let n = TempName::new("toobig");
    let q = Queue::open(&n.0, &QueueOptions { max_message: 16, capacity_bytes: 1024, ..Default::default() }).unwrap();
    assert_eq!(q.max_message(), 16);
    q.put_bytes(&[0u8; 16]).unwrap();
    let e = q.put_bytes(&[0u8; 17]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooBig);
    assert_eq!(q.put_many(&[&[0u8; 1][..], &[0u8; 17][..]], NOW).unwrap_err().kind(), ErrorKind::TooBig);
    assert_eq!(q.qsize().unwrap(), 1);
    assert_eq!(q.unfinished_tasks().unwrap(), 1);
}

#[test]
fn get_into_too_small_keeps_the_message() {
    let n = TempName::new("bufsize");
    let q = Queue::open(&n.0, &opts(0, 1024)).unwrap();
    q.put_bytes(b"hello world").unwrap();
    let mut small = [0u8; 4];
    let e = q.get_into(&mut small, NOW).unwrap_err();
    assert_eq!((e.kind(), e.needed()), (ErrorKind::BufSize, 11));
    let mut lens = [0usize; 4];
    let e = q.get_many_into(&mut small, &mut lens, NOW).unwrap_err();
    assert_eq!((e.kind(), e.needed()), (ErrorKind::BufSize, 11));
    assert_eq!(q.qsize().unwrap(), 1);
    assert_eq!(q.get_bytes().unwrap(), b"hello world");
}

#[test]
fn batches_put_what_fits_and_get_what_is_there() {
    let n = TempName::new("batch");
    let q = Queue::open(&n.0, &opts(5, 4096)).unwrap();
    let msgs: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; i as usize]).collect();
    assert_eq!(q.put_many(&msgs, NOW).unwrap(), 5);
    assert_eq!(q.put_many(&msgs[5..], NOW).unwrap_err().kind(), ErrorKind::Full);
    let mut buf = [0u8; 64];
    let mut lens = [0usize; 3];
    let (k, bytes) = q.get_many_into(&mut buf, &mut lens, NOW).unwrap();
    assert_eq!((k, bytes), (3, 3));
    assert_eq!(lens, [0, 1, 2]);
    assert_eq!(&buf[..3], &[1, 2, 2]);
    // Buffer room limits the batch: 3 + 4 bytes fit in 8, 3+4+5 do not.
    assert_eq!(q.put_many(&msgs[5..], NOW).unwrap(), 3);
    let mut eight = [0u8; 8];
    let mut lens = [0usize; 10];
    assert_eq!(q.get_many_into(&mut eight, &mut lens, NOW).unwrap(), (2, 7));
    let rest = q.get_many(10, NOW).unwrap();
    assert_eq!(rest, msgs[5..8].to_vec());
    assert_eq!(q.put_many::<&[u8]>(&[], NOW).unwrap(), 0);
    assert_eq!(q.get_many(0, NOW).unwrap_err().kind(), ErrorKind::Invalid);
}

#[test]
fn joinable_task_accounting() {
    let n = TempName::new("join");
    let q = Queue::open(&n.0, &opts(0, 4096)).unwrap();
    q.join(NOW).unwrap();
    q.put_bytes(b"a").unwrap();
    q.put_bytes(b"b").unwrap();
    assert_eq!(q.join(Some(Duration::from_millis(20))).unwrap_err().kind(), ErrorKind::Timeout);
    q.get_bytes().unwrap();
    q.task_done().unwrap();
    q.get_bytes().unwrap();
    let waiter = {
        let name = n.0.clone();
        std::thread::spawn(move || {
            Queue::open(&name, &QueueOptions::default()).unwrap().join(Some(Duration::from_secs(10)))
        })
    };
    std::thread::sleep(Duration::from_millis(30));
    q.task_done().unwrap();
    waiter.join().unwrap().unwrap();
    let e = q.task_done().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("too many times"));
}

#[test]
fn shutdown_drains_then_fails_and_immediate_discards() {
    let n = TempName::new("shut");
    let q = Queue::open(&n.0, &opts(0, 4096)).unwrap();
    q.put_bytes(b"1").unwrap();
    q.put_bytes(b"2").unwrap();
    q.shutdown(false).unwrap();
    assert!(q.is_shutdown().unwrap());
    assert_eq!(q.put_bytes(b"3").unwrap_err().kind(), ErrorKind::Shutdown);
    assert_eq!(q.get_bytes().unwrap(), b"1");
    assert_eq!(q.get_bytes().unwrap(), b"2");
    assert_eq!(q.get_bytes().unwrap_err().kind(), ErrorKind::Shutdown, "a blocking get must not hang once drained");

    let n2 = TempName::new("shut-imm");
    let q2 = Queue::open(&n2.0, &opts(0, 4096)).unwrap();
    q2.put_bytes(b"1").unwrap();
    q2.put_bytes(b"2").unwrap();
    q2.shutdown(true).unwrap();
    assert_eq!(q2.qsize().unwrap(), 0);
    assert_eq!(q2.get_bytes_timeout(NOW).unwrap_err().kind(), ErrorKind::Shutdown);
    q2.join(NOW).unwrap();
}

#[test]
fn shutdown_wakes_blocked_getters_and_putters() {
    let empty = TempName::new("shut-empty");
    let full = TempName::new("shut-full");
    let qe = Queue::open(&empty.0, &opts(1, 4096)).unwrap();
    let qf = Queue::open(&full.0, &opts(1, 4096)).unwrap();
    qf.put_bytes(b"fills").unwrap();
    let spawn = |name: String, put: bool| {
        std::thread::spawn(move || {
            let q = Queue::open(&name, &QueueOptions::default()).unwrap();
            q.set_spin_us(0);
            if put {
                q.put_bytes(b"blocked").unwrap_err().kind()
            } else {
                q.get_bytes().unwrap_err().kind()
            }
        })
    };
    let getter = spawn(empty.0.clone(), false);
    let putter = spawn(full.0.clone(), true);
    std::thread::sleep(Duration::from_millis(50));
    qe.shutdown(false).unwrap();
    qf.shutdown(false).unwrap();
    assert_eq!(getter.join().unwrap(), ErrorKind::Shutdown);
    assert_eq!(putter.join().unwrap(), ErrorKind::Shutdown);
    assert_eq!(qf.get_bytes().unwrap(), b"fills", "a graceful shutdown keeps what was queued");
}

#[test]
fn attach_checks_options_kind_and_flags() {
    let n = TempName::new("attach");
    let q = Queue::open(&n.0, &opts(10, 1000)).unwrap();
    assert_eq!(q.capacity_bytes(), 1000);
    let a = Queue::open(&n.0, &QueueOptions::default()).unwrap();
    assert_eq!((a.maxsize(), a.capacity_bytes(), a.max_message()), (10, 1000, 992));
    assert!(Queue::open(&n.0, &opts(10, 1000)).is_ok());
    let e = Queue::open(&n.0, &opts(11, 0)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("maxsize = 10"), "{e}");
    assert_eq!(Queue::open(&n.0, &opts(0, 2000)).unwrap_err().kind(), ErrorKind::Invalid);
    let create_only = QueueOptions { open_mode: Some(OpenMode::CreateOnly), ..Default::default() };
    assert_eq!(Queue::open(&n.0, &create_only).unwrap_err().kind(), ErrorKind::Exists);
    let attach_only = QueueOptions { open_mode: Some(OpenMode::AttachOnly), ..Default::default() };
    assert_eq!(Queue::open("ut-no-such-queue-xyz", &attach_only).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(Queue::unlink("ut-no-such-queue-xyz").unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn bad_options_and_names() {
    for o in [
        opts(0, 8),
        opts(0, MAX_CAPACITY + 1),
        QueueOptions { capacity_bytes: 64, max_message: 57, ..Default::default() },
    ] {
        assert_eq!(Queue::open("ut-bad-opts", &o).unwrap_err().kind(), ErrorKind::Invalid, "{o:?}");
    }
    for name in ["", "../x", "a/b", ".x"] {
        assert_eq!(Queue::open(name, &QueueOptions::default()).unwrap_err().kind(), ErrorKind::Invalid);
    }
}

#[test]
fn segment_is_created_mode_0600() {
    let n = TempName::new("mode");
    let _q = Queue::open(&n.0, &QueueOptions::default()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(format!("/dev/shm/mpipc.q.{}", n.0)).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let n2 = TempName::new("mode644");
    let _q2 = Queue::open(&n2.0, &QueueOptions { mode: 0o640, ..Default::default() }).unwrap();
    let meta = std::fs::metadata(format!("/dev/shm/mpipc.q.{}", n2.0)).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
}

/// Writes raw bytes into a queue's segment file, as a hostile or buggy
/// process could.
fn scribble(name: &str, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(format!("/dev/shm/mpipc.q.{name}")).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

#[test]
fn damaged_segments_give_clear_statuses() {
    let n = TempName::new("damage");
    drop(Queue::open(&n.0, &opts(0, 1024)).unwrap());
    scribble(&n.0, 0, b"NOTMAGIC");
    assert_eq!(Queue::open(&n.0, &QueueOptions::default()).unwrap_err().kind(), ErrorKind::Corrupt);
    scribble(&n.0, 0, b"MPIPCSEG");
    scribble(&n.0, 8, &99u32.to_le_bytes());
    assert_eq!(Queue::open(&n.0, &QueueOptions::default()).unwrap_err().kind(), ErrorKind::Version);
    scribble(&n.0, 8, &LAYOUT_VERSION.to_le_bytes());
    scribble(&n.0, 12, &7u32.to_le_bytes());
    assert_eq!(Queue::open(&n.0, &QueueOptions::default()).unwrap_err().kind(), ErrorKind::Type);
    scribble(&n.0, 12, &1u32.to_le_bytes());
    // Geometry says capacity 4096 but the file holds 1024.
    scribble(&n.0, 40, &4096u64.to_le_bytes());
    assert_eq!(Queue::open(&n.0, &QueueOptions::default()).unwrap_err().kind(), ErrorKind::Corrupt);
    scribble(&n.0, 40, &1024u64.to_le_bytes());
    let q = Queue::open(&n.0, &QueueOptions::default()).unwrap();

    // A record length scribbled over: get reports Corrupt, allocates nothing huge.
    q.put_bytes(b"abc").unwrap();
    scribble(&n.0, DATA_OFFSET, &(u64::MAX / 2).to_le_bytes());
    assert_eq!(q.get_bytes_timeout(NOW).unwrap_err().kind(), ErrorKind::Corrupt);
    // An impossible state (tail before head) is refused, not acted on.
    let slot0_tail = 128 + 8 + 8;
    let slot_size = std::mem::size_of::<layout::StateSlot>() as u64;
    scribble(&n.0, slot0_tail, &3u64.to_le_bytes());
    scribble(&n.0, slot0_tail + slot_size, &3u64.to_le_bytes());
    assert_eq!(q.qsize().unwrap_err().kind(), ErrorKind::Corrupt);
}

#[test]
fn a_file_that_is_not_a_queue() {
    let n = TempName::new("junk");
    std::fs::write(format!("/dev/shm/mpipc.q.{}", n.0), b"tiny").unwrap();
    assert_eq!(Queue::open(&n.0, &QueueOptions::default()).unwrap_err().kind(), ErrorKind::Corrupt);
    std::fs::write(format!("/dev/shm/mpipc.q.{}", n.0), vec![0u8; 8192]).unwrap();
    assert_eq!(Queue::open(&n.0, &QueueOptions::default()).unwrap_err().kind(), ErrorKind::Corrupt);
}

#[test]
fn concurrent_create_or_attach_agrees_on_one_queue() {
    let n = TempName::new("race");
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let name = n.0.clone();
            std::thread::spawn(move || {
                let q = Queue::open(&name, &opts(0, 4096)).unwrap();
                q.put_bytes(&[i as u8]).unwrap();
                q
            })
        })
        .collect();
    let qs: Vec<Queue> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(qs.iter().filter(|q| q.as_shm().unwrap().created()).count(), 1, "exactly one creator");
    assert_eq!(qs[0].qsize().unwrap(), 8);
}

#[test]
fn blocking_get_is_woken_by_a_put() {
    let n = TempName::new("wake");
    let q = Queue::open(&n.0, &opts(0, 4096)).unwrap();
    q.set_spin_us(0);
    let name = n.0.clone();
    let t = std::thread::spawn(move || {
        let q = Queue::open(&name, &QueueOptions::default()).unwrap();
        q.set_spin_us(0);
        let start = Instant::now();
        let m = q.get_bytes_timeout(Some(Duration::from_secs(10))).unwrap();
        (m, start.elapsed())
    });
    std::thread::sleep(Duration::from_millis(30));
    q.put_bytes(b"wake up").unwrap();
    let (m, waited) = t.join().unwrap();
    assert_eq!(m, b"wake up");
    assert!(waited < Duration::from_secs(5));
}

#[test]
fn positions_count_every_byte_put_and_taken() {
    let n = TempName::new("pos");
    let q = Queue::open(&n.0, &opts(0, 4096)).unwrap();
    assert_eq!(q.positions().unwrap(), (0, 0));
    q.put_bytes(b"abc").unwrap(); // 8-byte header + 3 bytes padded to 8
    q.put_bytes(b"12345678").unwrap();
    assert_eq!(q.positions().unwrap(), (0, 32));
    q.get_bytes().unwrap();
    let (head, tail) = q.positions().unwrap();
    assert_eq!((head, tail), (16, 32));
    assert_eq!(tail - head, q.bytes_used().unwrap() as u64);
}

// ----- claims: reservations, views, large messages -----

#[test]
fn reservations_keep_reservation_order_and_shrink() {
    let n = TempName::new("reserve");
    let q = Queue::open(&n.0, &opts(0, 4096)).unwrap();
    let mut a = q.reserve(100, NOW).unwrap();
    q.put_bytes(b"behind").unwrap();
    // Readers stop in front of the reservation; the message behind it is
    // counted (it was put) but not yet deliverable.
    assert_eq!(q.qsize().unwrap(), 1);
    assert_eq!(q.get_bytes_timeout(NOW).unwrap_err().kind(), ErrorKind::Invalid, "own reservation in front");
    a[..5].copy_from_slice(b"first");
    assert_eq!(a.len(), 100);
    a.commit(5).unwrap(); // the rest of the 100 bytes becomes a skip record
    assert_eq!(q.qsize().unwrap(), 2);
    assert_eq!(q.get_bytes().unwrap(), b"first");
    assert_eq!(q.get_bytes().unwrap(), b"behind");
    assert_eq!(q.bytes_used().unwrap(), 0);
    assert_eq!(q.unfinished_tasks().unwrap(), 2);

    // Cancelled (explicitly or by drop): nothing is put, the bytes come back.
    q.reserve(10, NOW).unwrap().cancel().unwrap();
    drop(q.reserve(10, NOW).unwrap());
    assert_eq!(q.qsize().unwrap(), 0);
    assert_eq!(q.bytes_used().unwrap(), 0);
    assert_eq!(q.get_bytes_timeout(NOW).unwrap_err().kind(), ErrorKind::Empty);
    // Committing more than reserved is refused (and cancels, in Rust).
    let r = q.reserve(8, NOW).unwrap();
    assert_eq!(r.commit(9).unwrap_err().kind(), ErrorKind::Invalid);
    assert_eq!(q.bytes_used().unwrap(), 0);
    // Too big, zero-length.
    assert_eq!(q.reserve(q.max_message() + 1, NOW).unwrap_err().kind(), ErrorKind::TooBig);
    q.reserve(0, NOW).unwrap().commit(0).unwrap();
    assert_eq!(q.get_bytes().unwrap(), b"");
}

#[test]
fn raw_claims_are_checked() {
    let n = TempName::new("rawclaim");
    let q = Queue::open(&n.0, &opts(0, 4096)).unwrap();
    let r = q.reserve_raw(16, NOW).unwrap();
    assert_eq!(q.commit_raw(r.id, 17).unwrap_err().kind(), ErrorKind::Invalid);
    // SAFETY: the reservation's 16 bytes are ours until committed.
    unsafe { std::ptr::copy_nonoverlapping(b"raw".as_ptr(), r.ptr, 3) };
    assert_eq!(q.release_raw(r.id).unwrap_err().kind(), ErrorKind::Invalid, "not a view");
    assert_eq!(q.commit_raw(r.id ^ (1 << 8), 3).unwrap_err().kind(), ErrorKind::Invalid, "stale ticket");
    assert_eq!(q.commit_raw(63, 3).unwrap_err().kind(), ErrorKind::Invalid, "no such slot");
    q.commit_raw(r.id, 3).unwrap();
    assert_eq!(q.commit_raw(r.id, 3).unwrap_err().kind(), ErrorKind::Invalid, "already committed");
    let v = q.get_view_raw(NOW).unwrap();
    // SAFETY: the view's bytes are ours until released.
    assert_eq!(unsafe { std::slice::from_raw_parts(v.ptr, v.len) }, b"raw");
    assert_eq!(q.cancel_raw(v.id).unwrap_err().kind(), ErrorKind::Invalid, "not a reservation");
    // Another thread may not end it.
    let id = v.id;
    let other = std::thread::scope(|s| s.spawn(|| q.release_raw(id).unwrap_err().kind()).join().unwrap());
    assert_eq!(other, ErrorKind::Permission);
    q.release_raw(v.id).unwrap();
    assert_eq!(q.release_raw(v.id).unwrap_err().kind(), ErrorKind::Invalid);
    assert_eq!(q.bytes_used().unwrap(), 0);
}

#[test]
fn views_hold_their_bytes_until_released_in_any_order() {
    let n = TempName::new("views");
    let q = Queue::open(&n.0, &opts(0, 256)).unwrap();
    for b in 1..=3u8 {
        q.put_bytes(&[b; 40]).unwrap(); // 48 bytes each
    }
    let v1 = q.get_view(NOW).unwrap();
    let v2 = q.get_view(NOW).unwrap();
    assert_eq!((&v1[..], &v2[..]), (&[1u8; 40][..], &[2u8; 40][..]));
    assert_eq!(q.qsize().unwrap(), 1);
    assert_eq!(q.bytes_used().unwrap(), 144, "taken but not released");
    v2.release().unwrap();
    assert_eq!(q.bytes_used().unwrap(), 144, "v1 still holds the head");
    drop(v1);
    assert_eq!(q.bytes_used().unwrap(), 48);
    // A put that only fits once this thread's own view is released fails
    // instead of waiting for ever.
    let v3 = q.get_view(NOW).unwrap();
    q.put_bytes(&[4u8; 100]).unwrap();
    assert_eq!(q.put_bytes(&[5u8; 100]).unwrap_err().kind(), ErrorKind::Invalid);
    v3.release().unwrap();
    q.put_bytes(&[5u8; 100]).unwrap();
    assert_eq!(q.get_bytes().unwrap(), vec![4u8; 100]);
    assert_eq!(q.get_bytes().unwrap(), vec![5u8; 100]);
}

#[test]
fn a_claim_whose_thread_exits_is_recovered() {
    let n = TempName::new("threadexit");
    let q = Queue::open(&n.0, &opts(0, 4096)).unwrap();
    q.put_bytes(b"taken").unwrap();
    let (rid, vid) = std::thread::scope(|s| {
        s.spawn(|| {
            let v = q.get_view_raw(NOW).unwrap();
            let r = q.reserve_raw(32, NOW).unwrap();
            (r.id, v.id) // the thread exits holding both
        })
        .join()
        .unwrap()
    });
    q.put_bytes(b"after").unwrap();
    // The next reader finds the reservation's thread gone and passes it.
    assert_eq!(q.get_bytes_timeout(NOW).unwrap(), b"after");
    assert_eq!(q.commit_raw(rid, 1).unwrap_err().kind(), ErrorKind::Invalid);
    // The view is still named: ending it now reports it lost and frees it.
    let e = q.release_raw(vid).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.message().contains("exited"), "{e}");
    assert_eq!(q.bytes_used().unwrap(), 0);
    assert_eq!(q.owner_deaths(), 2);
}

#[test]
fn pending_reservations_count_against_maxsize_and_shutdown_drops_them() {
    let n = TempName::new("resmax");
    let q = Queue::open(&n.0, &opts(2, 4096)).unwrap();
    let r = q.reserve(8, NOW).unwrap();
    q.put_bytes(b"one").unwrap();
    assert_eq!(q.put_bytes_timeout(b"two", NOW).unwrap_err().kind(), ErrorKind::Full);
    q.shutdown(false).unwrap();
    assert_eq!(r.commit(8).unwrap_err().kind(), ErrorKind::Shutdown);
    assert_eq!(q.get_bytes().unwrap(), b"one", "what was committed drains");
    assert_eq!(q.get_bytes().unwrap_err().kind(), ErrorKind::Shutdown);
    assert_eq!(q.reserve(8, NOW).unwrap_err().kind(), ErrorKind::Shutdown);

    let n2 = TempName::new("resimm");
    let q2 = Queue::open(&n2.0, &opts(0, 4096)).unwrap();
    q2.put_bytes(b"x").unwrap();
    let v = q2.get_view(NOW).unwrap();
    let r = q2.reserve(8, NOW).unwrap();
    q2.put_bytes(b"y").unwrap();
    q2.shutdown(true).unwrap();
    assert_eq!(q2.qsize().unwrap(), 0);
    assert_eq!(&v[..], b"x", "a view stays readable after an immediate shutdown");
    assert_eq!(r.commit(1).unwrap_err().kind(), ErrorKind::Shutdown);
    v.release().unwrap();
    assert_eq!(q2.bytes_used().unwrap(), 0);
}

#[test]
fn large_messages_cross_the_ring_end_whole() {
    let n = TempName::new("large");
    let big = TWO_PHASE_MIN + 1000;
    let q = Queue::open(&n.0, &opts(0, 3 * big)).unwrap();
    let mut buf = vec![0u8; big];
    for round in 0..20usize {
        let len = big - round * 37;
        let msg: Vec<u8> = (0..len).map(|i| (i * 7 + round) as u8).collect();
        q.put_bytes(&msg).unwrap(); // two-phase: copied outside the lock
        q.put_bytes(&msg[..len / 2]).unwrap();
        if round % 2 == 0 {
            assert_eq!(q.get_bytes().unwrap(), msg);
        } else {
            let got = q.get_into(&mut buf, NOW).unwrap();
            assert_eq!(&buf[..got], &msg[..]);
        }
        let v = q.get_view(NOW).unwrap();
        assert_eq!(&v[..], &msg[..len / 2]);
        v.release().unwrap();
        assert_eq!(q.bytes_used().unwrap(), 0);
    }
    assert_eq!(q.unfinished_tasks().unwrap(), 40);
}

#[test]
fn a_full_claim_table_falls_back_or_waits() {
    let n = TempName::new("fulltable");
    let q = Queue::open(&n.0, &opts(0, 1 << 20)).unwrap();
    let held: Vec<_> = (0..MAX_CLAIMS).map(|_| q.reserve(8, NOW).unwrap()).collect();
    // Reserve and view wait for a slot (here: time out); large puts and
    // gets copy under the lock instead.
    assert_eq!(q.reserve(8, NOW).unwrap_err().kind(), ErrorKind::Full);
    let big = vec![9u8; TWO_PHASE_MIN];
    q.put_bytes(&big).unwrap();
    for r in held {
        r.commit(0).unwrap();
    }
    let views: Vec<_> = (0..MAX_CLAIMS).map(|_| q.get_view(NOW).unwrap()).collect();
    assert_eq!(q.get_view(NOW).unwrap_err().kind(), ErrorKind::Empty);
    assert_eq!(q.get_bytes().unwrap(), big);
    drop(views);
    assert_eq!(q.bytes_used().unwrap(), 0);
}
