//! Semantics of the named primitives, within one process (threads). The
//! cross-process tests (SIGKILLed holders, counters across processes) are
//! at the end of this file (forked children) and in tests/c/test_sync.c.

use super::*;
use crate::error::ErrorKind;
use crate::os::current_tid;
use crate::segment::OpenMode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn name(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("t-sync-{}-{tag}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

const O: OpenOptions = OpenOptions { open_mode: OpenMode::CreateOrAttach, mode: 0, any_owner: false };
const FOREVER: Deadline = Deadline::Never;

fn ms(n: u64) -> Deadline {
    Deadline::from_timeout(Some(Duration::from_millis(n)))
}

#[test]
fn lock_owner_rules_and_rlock_depth() {
    let n = name("lock");
    let l = Lock::open(&n, false, &O).unwrap();
    assert_eq!(l.release().unwrap_err().kind(), ErrorKind::Permission, "release when not held");
    assert_eq!(l.acquire(&FOREVER).unwrap(), Some(LockState::Clean));
    assert_eq!(l.acquire(&FOREVER).unwrap_err().kind(), ErrorKind::Invalid, "a Lock is not re-entrant");
    let l2 = Arc::new(Lock::open(&n, false, &O).unwrap());
    let t = {
        let l2 = l2.clone();
        std::thread::spawn(move || {
            let e = l2.release().unwrap_err().kind();
            let timed_out = l2.acquire(&ms(30)).unwrap().is_none();
            (e, timed_out)
        })
    };
    assert_eq!(t.join().unwrap(), (ErrorKind::Permission, true), "another thread may neither release nor take it");
    l.release().unwrap();
    assert_eq!(l2.acquire(&Deadline::Now).unwrap(), Some(LockState::Clean));
    l2.release().unwrap();
    assert_eq!(Lock::open(&n, true, &O).err().unwrap().kind(), ErrorKind::Type, "Lock opened as RLock");

    let rn = name("rlock");
    let r = Lock::open(&rn, true, &O).unwrap();
    assert!(!r.is_locked() && !r.held_by_me() && r.depth() == 0);
    for d in 1..=3 {
        assert_eq!(r.acquire(&Deadline::Now).unwrap(), Some(LockState::Clean));
        assert!(r.is_locked() && r.held_by_me() && r.depth() == d);
    }
    r.release().unwrap();
    r.release().unwrap();
    let r2 = Arc::new(Lock::open(&rn, true, &O).unwrap());
    let busy = {
        let r2 = r2.clone();
        std::thread::spawn(move || r2.acquire(&Deadline::Now).unwrap().is_none()).join().unwrap()
    };
    assert!(busy, "held at depth 1 still");
    let seen = {
        let r2 = r2.clone();
        std::thread::spawn(move || (r2.is_locked(), r2.held_by_me(), r2.depth())).join().unwrap()
    };
    assert_eq!(seen, (true, false, 0), "another thread sees it held, not by itself");
    assert_eq!((r2.held_by_me(), r2.depth()), (true, 1), "the lock records its holder, not the handle");
    r.release().unwrap();
    assert_eq!(r.release().unwrap_err().kind(), ErrorKind::Permission);
    let free = std::thread::spawn(move || {
        let ok = r2.acquire(&Deadline::Now).unwrap().is_some();
        r2.release().unwrap();
        ok
    });
    assert!(free.join().unwrap());
    Lock::unlink(&n).unwrap();
    Lock::unlink(&rn).unwrap();
    assert_eq!(Lock::unlink(&rn).unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn semaphores_count_bound_and_time_out() {
    let n = name("sem");
    let s = Semaphore::open(&n, 2, false, &O).unwrap();
    assert!(s.acquire(&Deadline::Now).unwrap());
    assert!(s.acquire(&Deadline::Now).unwrap());
    assert!(!s.acquire(&Deadline::Now).unwrap());
    let t0 = Instant::now();
    assert!(!s.acquire(&ms(30)).unwrap());
    assert!(t0.elapsed() >= Duration::from_millis(29));
    let s2 = Arc::new(Semaphore::open(&n, 99, false, &O).unwrap());
    assert_eq!(s2.value(), 0, "attaching ignores the value");
    let waiter = {
        let s2 = s2.clone();
        std::thread::spawn(move || s2.acquire(&ms(5000)).unwrap())
    };
    std::thread::sleep(Duration::from_millis(20));
    s.release(1).unwrap();
    assert!(waiter.join().unwrap(), "a release wakes a waiter");
    s.release(5).unwrap();
    assert_eq!(s.value(), 5, "an unbounded semaphore goes past its initial value");
    assert_eq!(Semaphore::open(&n, 1, true, &O).err().unwrap().kind(), ErrorKind::Type);

    let bn = name("bsem");
    let b = Semaphore::open(&bn, 1, true, &O).unwrap();
    assert_eq!(b.release(1).unwrap_err().kind(), ErrorKind::Invalid, "released too many times");
    assert!(b.acquire(&FOREVER).unwrap());
    b.release(1).unwrap();
    assert_eq!(b.value(), 1);
    assert_eq!(Semaphore::open(&name("big"), u32::MAX, false, &O).err().unwrap().kind(), ErrorKind::Invalid);
    Semaphore::unlink(&n).unwrap();
    Semaphore::unlink(&bn).unwrap();
}

#[test]
fn events_wake_every_waiter() {
    let n = name("ev");
    let e = Arc::new(Event::open(&n, &O).unwrap());
    assert!(!e.is_set());
    assert!(!e.wait(&ms(20)));
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let e = Arc::new(Event::open(&n, &O).unwrap());
            std::thread::spawn(move || e.wait(&ms(5000)))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    e.set();
    assert!(waiters.into_iter().all(|w| w.join().unwrap()));
    assert!(e.wait(&Deadline::Now));
    e.clear();
    assert!(!e.is_set());
    Event::unlink(&n).unwrap();
}

#[test]
fn condition_notify_wakes_exactly_n_oldest_first() {
    let (ln, cn) = (name("cl"), name("cv"));
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let spawn_waiter = |id: usize| {
        let (ln, cn, order) = (ln.clone(), cn.clone(), order.clone());
        std::thread::spawn(move || {
            let l = Lock::open(&ln, true, &O).unwrap();
            let c = Condition::open(&cn, &O).unwrap();
            assert!(l.acquire(&FOREVER).unwrap().is_some());
            assert!(l.acquire(&FOREVER).unwrap().is_some(), "RLock at depth 2 while waiting");
            let notified = c.wait(&l, &ms(3000)).unwrap();
            assert!(l.held_by_me(), "re-acquired after the wait");
            order.lock().unwrap().push((id, notified));
            l.release().unwrap();
            l.release().unwrap();
            assert_eq!(l.release().unwrap_err().kind(), ErrorKind::Permission, "depth restored to exactly 2");
        })
    };
    let l = Lock::open(&ln, true, &O).unwrap();
    let c = Condition::open(&cn, &O).unwrap();
    assert_eq!(c.wait(&l, &ms(10)).unwrap_err().kind(), ErrorKind::Permission, "wait without the lock");
    let mut threads = Vec::new();
    for id in 0..3 {
        threads.push(spawn_waiter(id));
        // Arrive in order 0, 1, 2.
        while c.waiters() < id + 1 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    l.acquire(&FOREVER).unwrap();
    assert_eq!(c.notify(2).unwrap(), 2);
    l.release().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    {
        let mut got = order.lock().unwrap().clone();
        got.sort();
        assert_eq!(got, vec![(0, true), (1, true)], "the two oldest, and only them");
    }
    l.acquire(&FOREVER).unwrap();
    assert_eq!(c.notify_all().unwrap(), 1);
    l.release().unwrap();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(order.lock().unwrap().len(), 3);
    // A timed-out wait returns false and still re-acquires.
    l.acquire(&FOREVER).unwrap();
    let t0 = Instant::now();
    assert!(!c.wait(&l, &ms(30)).unwrap());
    assert!(t0.elapsed() >= Duration::from_millis(29) && l.held_by_me());
    l.release().unwrap();
    assert_eq!(c.notify(1).unwrap(), 0, "nobody waits");
    Lock::unlink(&ln).unwrap();
    Condition::unlink(&cn).unwrap();
}

#[test]
fn barrier_indices_timeouts_abort_reset() {
    let n = name("bar");
    let parties = 3;
    let run = |n: &str| {
        let hs: Vec<_> = (0..parties)
            .map(|_| {
                let b = Barrier::open(n, parties, &O).unwrap();
                std::thread::spawn(move || b.wait(&ms(5000)))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
    };
    for _ in 0..2 {
        let mut idx: Vec<u32> = run(&n).into_iter().map(|r| r.unwrap()).collect();
        idx.sort();
        assert_eq!(idx, vec![0, 1, 2], "distinct arrival indices, generation after generation");
    }
    let b = Barrier::open(&n, 0, &O).unwrap();
    assert_eq!(b.parties(), 3);
    assert_eq!(Barrier::open(&n, 4, &O).err().unwrap().kind(), ErrorKind::Invalid);
    // A timed-out wait breaks it for the other waiter too.
    let other = {
        let b2 = Barrier::open(&n, 3, &O).unwrap();
        std::thread::spawn(move || b2.wait(&ms(5000)).unwrap_err().kind())
    };
    while b.n_waiting() < 1 {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(b.wait(&ms(30)).unwrap_err().kind(), ErrorKind::Broken);
    assert_eq!(other.join().unwrap(), ErrorKind::Broken);
    assert!(b.is_broken());
    assert_eq!(b.wait(&FOREVER).unwrap_err().kind(), ErrorKind::Broken, "stays broken");
    b.reset().unwrap();
    assert!(!b.is_broken());
    assert!(run(&n).iter().all(|r| r.is_ok()), "usable after reset");
    // abort wakes a waiter with Broken.
    let w = {
        let b2 = Barrier::open(&n, 3, &O).unwrap();
        std::thread::spawn(move || b2.wait(&FOREVER).unwrap_err().kind())
    };
    while b.n_waiting() < 1 {
        std::thread::sleep(Duration::from_millis(2));
    }
    b.abort().unwrap();
    assert_eq!(w.join().unwrap(), ErrorKind::Broken);
    // 0 parties can only attach.
    assert_eq!(Barrier::open(&name("zero"), 0, &O).err().unwrap().kind(), ErrorKind::NotFound);
    let create = OpenOptions { open_mode: OpenMode::CreateOnly, mode: 0, any_owner: false };
    assert_eq!(Barrier::open(&name("zero"), 0, &create).err().unwrap().kind(), ErrorKind::Invalid);
    let one_name = name("one");
    let one = Barrier::open(&one_name, 1, &O).unwrap();
    assert_eq!(one.wait(&Deadline::Now).unwrap(), 0, "a single party never waits");
    Barrier::unlink(&one_name).unwrap();
    Barrier::unlink(&n).unwrap();
}

#[test]
fn names_are_validated_and_kinds_kept_apart() {
    for bad in ["", "../etc", "a/b", ".hidden", "sp ace"] {
        assert_eq!(Lock::open(bad, false, &O).err().unwrap().kind(), ErrorKind::Invalid, "{bad:?}");
        assert_eq!(Event::open(bad, &O).err().unwrap().kind(), ErrorKind::Invalid, "{bad:?}");
    }
    let n = name("excl");
    let create = OpenOptions { open_mode: OpenMode::CreateOnly, mode: 0, any_owner: false };
    let attach = OpenOptions { open_mode: OpenMode::AttachOnly, mode: 0, any_owner: false };
    assert_eq!(Event::open(&n, &attach).err().unwrap().kind(), ErrorKind::NotFound);
    let _e = Event::open(&n, &create).unwrap();
    assert_eq!(Event::open(&n, &create).err().unwrap().kind(), ErrorKind::Exists);
    // The same name in another kind is another object.
    let _l = Lock::open(&n, false, &create).unwrap();
    let meta = std::fs::metadata(format!("/dev/shm/mpipc.ev.{n}")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "owner-only by default");
    Event::unlink(&n).unwrap();
    Lock::unlink(&n).unwrap();
}

/// Forks a child that runs `f` and then `_exit(0)`s (or is killed).
/// Other test threads may hold process-local locks at the fork, so `f`
/// must not allocate or open anything: it uses handles opened before.
fn fork_child(f: impl FnOnce()) -> libc::pid_t {
    // Settle the tid cache's one-time setup before forking.
    current_tid();
    // SAFETY: the child only runs `f` (see above) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        f();
        // SAFETY: leaving the child without running the harness's code.
        unsafe { libc::_exit(0) };
    }
    pid
}

fn kill_and_reap(pid: libc::pid_t) {
    // SAFETY: our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        let mut st = 0;
        libc::waitpid(pid, &mut st, 0);
    }
}

#[test]
fn a_waiter_killed_in_a_condition_wait_does_not_eat_a_notification() {
    let (ln, cn) = (name("dl"), name("dc"));
    let l = Lock::open(&ln, false, &O).unwrap();
    let c = Condition::open(&cn, &O).unwrap();
    let pid = fork_child(|| {
        l.acquire(&FOREVER).unwrap();
        let _ = c.wait(&l, &FOREVER);
    });
    let t0 = Instant::now();
    while c.waiters() < 1 {
        assert!(t0.elapsed() < Duration::from_secs(10), "the child never waited");
        std::thread::sleep(Duration::from_millis(2));
    }
    // Killed but not reaped yet (a zombie): it must count as dead already.
    // SAFETY: our own child; WNOWAIT waits for its death without reaping.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        let mut info: libc::siginfo_t = std::mem::zeroed();
        assert_eq!(libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT), 0);
    }
    let live = {
        let (ln, cn) = (ln.clone(), cn.clone());
        std::thread::spawn(move || {
            let l = Lock::open(&ln, false, &O).unwrap();
            let c = Condition::open(&cn, &O).unwrap();
            l.acquire(&FOREVER).unwrap();
            let r = c.wait(&l, &ms(5000)).unwrap();
            l.release().unwrap();
            r
        })
    };
    while c.waiters() < 2 {
        std::thread::sleep(Duration::from_millis(2));
    }
    l.acquire(&FOREVER).unwrap();
    assert_eq!(c.notify(1).unwrap(), 1, "the dead waiter is skipped, the live one woken");
    l.release().unwrap();
    assert!(live.join().unwrap(), "notified, not timed out");
    assert_eq!(c.waiters(), 0, "the dead waiter's slot was freed");
    kill_and_reap(pid);
    Lock::unlink(&ln).unwrap();
    Condition::unlink(&cn).unwrap();
}

#[test]
fn a_lock_holder_killed_hands_over_with_owner_died() {
    for recursive in [false, true] {
        let n = name("kill");
        let l = Lock::open(&n, recursive, &O).unwrap();
        let r = pipe_pair();
        let pid = fork_child(|| {
            l.acquire(&FOREVER).unwrap();
            if recursive {
                l.acquire(&FOREVER).unwrap();
            }
            // SAFETY: tell the parent, then wait to be killed.
            unsafe { libc::write(r[1], b"x".as_ptr().cast(), 1) };
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        let mut b = [0u8; 1];
        // SAFETY: reading our pipe.
        assert_eq!(unsafe { libc::read(r[0], b.as_mut_ptr().cast(), 1) }, 1);
        assert_eq!(l.acquire(&Deadline::Now).unwrap(), None, "held by the child");
        assert!(l.is_locked() && !l.held_by_me() && l.depth() == 0, "the child's, not ours");
        kill_and_reap(pid);
        assert!(!l.is_locked(), "the kernel cleared the dead holder's id");
        assert_eq!(l.acquire(&ms(5000)).unwrap(), Some(LockState::OwnerDied), "the query took no death away");
        assert!(l.is_locked() && l.held_by_me() && l.depth() == 1);
        assert_eq!(l.owner_deaths(), 1);
        l.release().unwrap();
        assert_eq!(l.release().unwrap_err().kind(), ErrorKind::Permission, "depth reset to 1 on recovery");
        assert_eq!(l.acquire(&Deadline::Now).unwrap(), Some(LockState::Clean));
        l.release().unwrap();
        // SAFETY: our descriptors.
        unsafe {
            libc::close(r[0]);
            libc::close(r[1]);
        }
        Lock::unlink(&n).unwrap();
    }
}

fn pipe_pair() -> [i32; 2] {
    let mut p = [0i32; 2];
    // SAFETY: a valid array of two ints.
    assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
    p
}

#[test]
fn a_handle_dropped_while_held_keeps_the_lock_recoverable() {
    let (n1, n2) = (name("dropheld1"), name("dropheld2"));
    let parent_l1 = Lock::open(&n1, false, &O).unwrap();
    let (l1, l2) = (Lock::open(&n1, false, &O).unwrap(), Lock::open(&n2, false, &O).unwrap());
    let r = pipe_pair();
    let pid = fork_child(move || {
        l1.acquire(&FOREVER).unwrap();
        // Dropped while held: the mapping must stay, or glibc's robust list
        // (linked through the held mutexes) would point into freed memory
        // at the next lock operation and at this thread's death.
        drop(l1);
        l2.acquire(&FOREVER).unwrap();
        l2.release().unwrap();
        // SAFETY: tell the parent, then wait to be killed.
        unsafe { libc::write(r[1], b"x".as_ptr().cast(), 1) };
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let mut b = [0u8; 1];
    // SAFETY: reading our pipe.
    assert_eq!(unsafe { libc::read(r[0], b.as_mut_ptr().cast(), 1) }, 1);
    assert_eq!(parent_l1.acquire(&Deadline::Now).unwrap(), None, "still held by the child");
    kill_and_reap(pid);
    assert_eq!(parent_l1.acquire(&ms(5000)).unwrap(), Some(LockState::OwnerDied));
    parent_l1.release().unwrap();
    // SAFETY: our descriptors.
    unsafe {
        libc::close(r[0]);
        libc::close(r[1]);
    }
    Lock::unlink(&n1).unwrap();
    Lock::unlink(&n2).unwrap();
}
