//! Header and state validation of every named shared-memory kind
//! (src/segment/mod.rs `check_common`, queue/layout.rs + queue/shm.rs,
//! shared_memory.rs, array.rs, shareable_list.rs, sync/*) against a hostile segment file.
//!
//! Input: `[kind][flags][min length / 256][segment bytes...]`. The bytes are
//! written to /dev/shm/mpipc.<kind>.<name> exactly (zero-filled up to the
//! minimum length); flag 1 writes a correct common header over them so that
//! the kind's own checks are reached, flag 2 puts healthy unlocked mutexes
//! where the kind keeps them (flag 4: recursive ones). Then the ordinary
//! attach-only `open` runs: it must give Ok or one of the documented
//! statuses (CORRUPT, TYPE, VERSION, INVAL). With healthy locks, every
//! operation that cannot block is then run once (timeouts of zero) and
//! must give Ok or a status; writes are read back. A crash, an
//! out-of-bounds access (ASan), a hang or an unbounded allocation fails.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpipc::array::Number;
use mpipc::fuzzing::{remove_segment, write_segment, SegmentShape};
use mpipc::segment::{OpenMode, SegmentKind};
use mpipc::sync::Deadline;
use mpipc::{
    Array, Barrier, Condition, ErrorKind, Event, Lock, OpenOptions, Queue, QueueOptions, Semaphore, ShareableList,
    SharedMemory,
};
use std::sync::OnceLock;
use std::time::Duration;

fn attach() -> OpenOptions {
    OpenOptions { open_mode: OpenMode::AttachOnly, mode: 0, any_owner: false }
}

fn name() -> &'static str {
    static N: OnceLock<String> = OnceLock::new();
    N.get_or_init(|| format!("fuzz-seg-{}", std::process::id()))
}

/// A healthy lock of our own, for Condition::wait.
fn cond_lock() -> &'static Lock {
    static L: OnceLock<Lock> = OnceLock::new();
    L.get_or_init(|| {
        let n = format!("fuzz-cl-{}", std::process::id());
        let l = Lock::open(&n, false, &OpenOptions::default()).expect("helper lock");
        Lock::unlink(&n).expect("unlink helper lock");
        l
    })
}

const OPEN_ERRORS: [ErrorKind; 4] = [ErrorKind::Corrupt, ErrorKind::Type, ErrorKind::Version, ErrorKind::Invalid];

fn check_open<T>(r: mpipc::Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            assert!(OPEN_ERRORS.contains(&e.kind()), "open failed with {e:?}");
            None
        }
    }
}

/// A status from an operation on a validated segment whose state bytes
/// are hostile: never a panic status, never a "not found".
fn check_status(e: &mpipc::Error) {
    assert!(
        !matches!(e.kind(), ErrorKind::Panic | ErrorKind::Poisoned | ErrorKind::NotFound | ErrorKind::Null),
        "unexpected {e:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((kind, flags, shape, bytes)) = SegmentShape::parse(data) else { return };
    let ops = shape.heal_locks;
    let name = name();
    write_segment(kind, name, bytes, shape).expect("write segment");
    let z = Some(Duration::ZERO);
    match kind {
        SegmentKind::Queue => {
            let opts = QueueOptions { open_mode: Some(OpenMode::AttachOnly), ..Default::default() };
            if let Some(q) = check_open(Queue::open(name, &opts)) {
                assert!(q.max_message() + 8 <= q.capacity_bytes(), "geometry not validated");
                if ops {
                    for _ in 0..4 {
                        match q.get_bytes_timeout(z) {
                            Ok(m) => assert!(m.len() <= q.max_message(), "message over max_message"),
                            Err(e) => check_status(&e),
                        }
                    }
                    let mut buf = [0u8; 64];
                    if let Err(e) = q.get_into(&mut buf, z) {
                        check_status(&e);
                    }
                    let (mut b2, mut lens) = ([0u8; 256], [0usize; 8]);
                    match q.get_many_into(&mut b2, &mut lens, z) {
                        Ok((n, bytes)) => assert!(n <= 8 && bytes <= 256 && lens[..n].iter().sum::<usize>() == bytes),
                        Err(e) => check_status(&e),
                    }
                    if let Err(e) = q.put_bytes_timeout(b"fuzz", z) {
                        check_status(&e);
                    }
                    for r in
                        [q.qsize().map(|_| ()), q.empty().map(|_| ()), q.full().map(|_| ()), q.positions().map(|_| ())]
                    {
                        if let Err(e) = r {
                            check_status(&e);
                        }
                    }
                    if let Err(e) = q.task_done() {
                        check_status(&e);
                    }
                    if let Err(e) = q.join(z) {
                        check_status(&e);
                    }
                    if flags & 8 != 0 {
                        if let Err(e) = q.shutdown(flags & 16 != 0) {
                            check_status(&e);
                        }
                    }
                }
            }
        }
        SegmentKind::Block => {
            if let Some(b) = check_open(SharedMemory::open(name, 0, &attach())) {
                // The whole reported size is mapped: touch both ends.
                // SAFETY: size() bytes from as_ptr() are the block.
                unsafe {
                    let p = b.as_ptr();
                    let s = b.size();
                    assert!(s >= 1);
                    p.write_volatile(p.read_volatile() ^ 1);
                    p.add(s - 1).write_volatile(p.add(s - 1).read_volatile());
                }
            }
        }
        SegmentKind::Array => {
            // Attach with the typecode the segment claims (else 'q'), so
            // the header is validated beyond the typecode check.
            let claimed = bytes.get(136).copied().unwrap_or(b'q');
            let tc = if b"cbBhHiIlLqQfd".contains(&claimed) { claimed } else { b'q' };
            if let Some(a) = check_open(Array::open(name, tc, 0, false, &attach())) {
                let len = a.len();
                assert!(len >= 1);
                if ops {
                    for i in [0, len / 2, len - 1, len] {
                        match a.get(i) {
                            Ok(_) => assert!(i < len),
                            Err(e) => {
                                check_status(&e);
                                assert!(i >= len || e.kind() != ErrorKind::Index);
                            }
                        }
                    }
                    let v = if a.typecode().is_float() { Number::Float(1.5) } else { Number::Int(7) };
                    match a.set(len - 1, v) {
                        Ok(_) => assert_eq!(a.get(len - 1).expect("read back").value, v, "write not read back"),
                        Err(e) => check_status(&e),
                    }
                    if let Err(e) = a.incr(0, 1) {
                        check_status(&e);
                    }
                    let mut out = vec![0u8; len.min(4096) * a.typecode().size()];
                    if let Err(e) = a.read(0, &mut out) {
                        check_status(&e);
                    }
                    match a.lock(&Deadline::Now) {
                        Ok(Some(_)) => a.unlock().expect("unlock what we locked"),
                        Ok(None) => {}
                        Err(e) => check_status(&e),
                    }
                }
            }
        }
        SegmentKind::Lock => {
            if let Some(l) = check_open(Lock::open(name, flags & 4 != 0, &attach())) {
                if ops {
                    match l.acquire(&Deadline::Now) {
                        Ok(Some(_)) => {
                            assert!(l.held_by_me());
                            l.release().expect("release what we acquired");
                        }
                        Ok(None) => {}
                        Err(e) => check_status(&e),
                    }
                    if let Err(e) = l.release() {
                        check_status(&e);
                    }
                }
            }
        }
        SegmentKind::Semaphore => {
            if let Some(s) = check_open(Semaphore::open(name, 0, flags & 4 != 0, &attach())) {
                let before = s.value();
                match s.acquire(&Deadline::Now) {
                    Ok(true) => assert_eq!(s.value(), before.wrapping_sub(1), "acquire took one unit"),
                    Ok(false) => assert_eq!(before, 0, "acquire refused with units left"),
                    Err(e) => check_status(&e),
                }
                if let Err(e) = s.release(1) {
                    check_status(&e);
                }
            }
        }
        SegmentKind::Event => {
            if let Some(ev) = check_open(mpipc::Event::open(name, &attach())) {
                ev.set();
                assert!(ev.is_set() && ev.wait(&Deadline::Now));
                ev.clear();
                assert!(!ev.is_set() && !ev.wait(&Deadline::Now));
                let _: &Event = &ev;
            }
        }
        SegmentKind::Condition => {
            if let Some(c) = check_open(Condition::open(name, &attach())) {
                if ops {
                    let _ = c.waiters();
                    for r in [c.notify(1), c.notify_all()] {
                        if let Err(e) = r {
                            check_status(&e);
                        }
                    }
                    let l = cond_lock();
                    l.acquire(&Deadline::Never).expect("helper lock").expect("acquired");
                    match c.wait(l, &Deadline::Now) {
                        Ok(_) => {}
                        Err(e) => check_status(&e),
                    }
                    if l.held_by_me() {
                        l.release().expect("release helper lock");
                    }
                }
            }
        }
        SegmentKind::Barrier => {
            if let Some(b) = check_open(Barrier::open(name, 0, &attach())) {
                assert!(b.parties() >= 1);
                if ops {
                    let _ = (b.n_waiting(), b.is_broken());
                    for r in [b.wait(&Deadline::Now).map(|_| ()), b.reset(), b.abort()] {
                        if let Err(e) = r {
                            check_status(&e);
                        }
                    }
                }
            }
        }
        SegmentKind::ShareableList => {
            if let Some(l) = check_open(ShareableList::open(name, None, &attach())) {
                if ops {
                    let n = l.len();
                    for i in [0, n / 2, n.saturating_sub(1), n] {
                        match l.get(i) {
                            Ok(b) => assert!(i < n && b.len() <= l.capacity(i).unwrap()),
                            Err(e) => check_status(&e),
                        }
                    }
                    if n > 0 {
                        // Capacities are validated to be >= 8.
                        l.set(n - 1, &[0x18, 0x2a]).expect("a 2-byte item fits every slot");
                        assert_eq!(l.get(n - 1).expect("read back"), [0x18, 0x2a]);
                    }
                }
            }
        }
    }
    remove_segment(kind, name);
});
