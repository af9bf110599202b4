//! Futex wait/wake on 32-bit words in shared memory, deadlines, and the
//! "event word" used to sleep until another process changes shared state.
//!
//! The futex calls use the *shared* (not `_PRIVATE`) operations because the
//! words live in `MAP_SHARED` mappings that other processes map at other
//! addresses; the kernel keys them by the underlying page.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The longest a waiter sleeps before re-checking the shared state on its
/// own. A process killed between publishing a change and waking the
/// sleepers (SIGKILL can land between any two instructions) would otherwise
/// leave them asleep forever; with this bound they notice the change within
/// this time. Live peers always wake sleepers at once, so the bound only
/// matters after a crash (and costs an idle waiter 10 wake-ups a second).
pub const RECHECK_INTERVAL: Duration = Duration::from_millis(100);

/// When a wait must end: never, now (non-blocking), or at an instant.
#[derive(Clone, Copy, Debug)]
pub enum Deadline {
    /// Wait as long as it takes.
    Never,
    /// Do not block at all.
    Now,
    /// Give up at this instant.
    At(Instant),
}

impl Deadline {
    /// The deadline of the C ABI's `timeout_ms`: negative waits forever,
    /// 0 does not block, positive waits that many milliseconds.
    pub fn from_timeout_ms(timeout_ms: i64) -> Deadline {
        match timeout_ms {
            t if t < 0 => Deadline::Never,
            0 => Deadline::Now,
            t => match Instant::now().checked_add(Duration::from_millis(t as u64)) {
                Some(at) => Deadline::At(at),
                None => Deadline::Never,
            },
        }
    }

    /// The deadline of an optional timeout (`None` = forever).
    pub fn from_timeout(timeout: Option<Duration>) -> Deadline {
        match timeout {
            None => Deadline::Never,
            Some(d) if d.is_zero() => Deadline::Now,
            Some(d) => Instant::now().checked_add(d).map_or(Deadline::Never, Deadline::At),
        }
    }

    /// How long one sleep may last: until the deadline, but at most
    /// [`RECHECK_INTERVAL`]. `None` when the deadline has passed.
    pub fn next_sleep(&self) -> Option<Duration> {
        match *self {
            Deadline::Never => Some(RECHECK_INTERVAL),
            Deadline::Now => None,
            Deadline::At(at) => {
                let left = at.checked_duration_since(Instant::now())?;
                if left.is_zero() {
                    None
                } else {
                    Some(left.min(RECHECK_INTERVAL))
                }
            }
        }
    }

    /// The time left: `None` if passed (or `Now`), [`Duration::MAX`] for
    /// `Never`.
    pub fn next_remaining(&self) -> Option<Duration> {
        match *self {
            Deadline::Never => Some(Duration::MAX),
            Deadline::Now => None,
            Deadline::At(at) => at.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()),
        }
    }

    /// Whether the deadline has passed (always true for `Now`).
    pub fn expired(&self) -> bool {
        self.next_sleep().is_none()
    }
}

/// Sleeps while `*word == expected`, at most `timeout`. Returns on a wake,
/// a value change, a signal, or the timeout; the caller re-checks its state.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call;
    // FUTEX_WAIT only reads it. Errors (EAGAIN when the value already
    // changed, EINTR, ETIMEDOUT) all mean "re-check", so the result is ignored.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Waits until `ready()` (which may also claim what it found, e.g. take a
/// semaphore unit) returns true or `deadline` passes; returns which. Spins
/// briefly, then sleeps on `word` while it reads 0, announcing itself in
/// `waiters` so that a changer knows to wake it.
///
/// Protocol with the changer (semaphore release, event set): the changer
/// makes `word` nonzero, then reads `waiters` and wakes if it is nonzero;
/// the waiter raises `waiters`, then re-reads `word` before sleeping. Both
/// pairs are SeqCst (a store-load pattern), so either the changer sees the
/// announcement or the waiter sees the new value (or FUTEX_WAIT's own check
/// does). Sleeps are bounded ([`RECHECK_INTERVAL`]); a waiter killed while
/// announced leaves `waiters` one too high, costing later changers a
/// superfluous wake syscall.
pub fn wait_while_zero(
    word: &AtomicU32,
    waiters: &AtomicU32,
    deadline: &Deadline,
    mut ready: impl FnMut() -> bool,
) -> bool {
    for _ in 0..100 {
        if ready() {
            return true;
        }
        if matches!(deadline, Deadline::Now) {
            return false;
        }
        std::hint::spin_loop();
    }
    loop {
        if ready() {
            return true;
        }
        let Some(sleep) = deadline.next_sleep() else { return false };
        // SeqCst: announce, then re-check (see above).
        waiters.fetch_add(1, Ordering::SeqCst);
        if word.load(Ordering::SeqCst) == 0 {
            futex_wait(word, 0, sleep);
        }
        // SeqCst: as the announcement; a stale count costs one superfluous
        // wake syscall at most.
        waiters.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Wakes at most `n` processes sleeping on `word`.
pub fn futex_wake(word: &AtomicU32, n: u32) {
    let n = n.min(i32::MAX as u32) as i32;
    // SAFETY: `word` is a valid, aligned u32; FUTEX_WAKE does not touch it.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, n, std::ptr::null::<u8>(), 0usize, 0u32);
    }
}

/// Wakes every process sleeping on `word`.
pub fn futex_wake_all(word: &AtomicU32) {
    // SAFETY: `word` is a valid, aligned u32; FUTEX_WAKE does not touch it.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX, std::ptr::null::<u8>(), 0usize, 0u32);
    }
}

/// A pair of words in shared memory that lets processes sleep until some
/// shared state changes ("something was put", "something was taken").
///
/// Protocol. Both sides call the flag operations *while holding the lock
/// that guards the state*, so the lock orders them:
/// - a waiter that found the state unsatisfactory calls
///   [`EventWord::prepare_wait`] (raises the waiters flag, reads the
///   sequence), releases the lock, then [`EventWord::wait`]s on that
///   sequence value;
/// - a changer calls [`EventWord::take_waiters`] in the critical section
///   that commits its change; if it returns true, it calls
///   [`EventWord::wake`] after releasing the lock, which bumps the sequence
///   and wakes every sleeper.
///
/// A change committed after a waiter's critical section sees its flag (the
/// lock orders the two), so the waiter's futex call either sees the bumped
/// sequence and returns at once, or is already asleep and is woken. No
/// wake-up is lost, and when nobody waits a change costs one read of a
/// cache line that stays shared: no atomic read-modify-write, no syscall.
///
/// The flag is cleared by the changer that takes it; waiters that go back to
/// sleep raise it again. A waiter that died leaves at most one superfluous
/// wake behind; a changer that died between taking the flag and waking is
/// covered by the waiters' bounded sleeps ([`RECHECK_INTERVAL`]).
#[repr(C)]
#[derive(Debug, Default)]
pub struct EventWord {
    /// Incremented (wrapping) by every wake; the futex word.
    seq: AtomicU32,
    /// 1 when at least one process may be asleep on `seq`, else 0.
    /// Read and written only under the state lock.
    waiters: AtomicU32,
}

impl EventWord {
    /// Announces a waiter and returns the sequence to wait on. Call under
    /// the state lock.
    pub fn prepare_wait(&self) -> u32 {
        // Relaxed: the state lock orders this against `take_waiters`; the
        // sequence is only compared by the kernel in `wait`.
        self.waiters.store(1, Ordering::Relaxed);
        self.seq.load(Ordering::Relaxed)
    }

    /// Whether someone announced a wait since the last take; clears the
    /// flag. Call under the state lock, in the critical section that made
    /// the change; if true, call [`EventWord::wake`] after unlocking.
    pub fn take_waiters(&self) -> bool {
        // Relaxed: under the state lock (see the type's doc).
        if self.waiters.load(Ordering::Relaxed) == 0 {
            return false;
        }
        self.waiters.store(0, Ordering::Relaxed);
        true
    }

    /// Sleeps while the sequence is still `seen`, at most `timeout`.
    pub fn wait(&self, seen: u32, timeout: Duration) {
        futex_wait(&self.seq, seen, timeout);
    }

    /// Bumps the sequence and wakes every sleeper. Call after unlocking.
    pub fn wake(&self) {
        // SYNC POINT: the bump must precede the wake; the kernel serialises
        // FUTEX_WAIT's value check against FUTEX_WAKE on the same word.
        self.seq.fetch_add(1, Ordering::Release);
        futex_wake_all(&self.seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines() {
        assert!(Deadline::from_timeout_ms(0).expired());
        assert!(!Deadline::from_timeout_ms(-1).expired());
        assert_eq!(Deadline::from_timeout_ms(-5).next_sleep(), Some(RECHECK_INTERVAL));
        let d = Deadline::from_timeout_ms(20);
        assert!(d.next_sleep().unwrap() <= Duration::from_millis(20));
        std::thread::sleep(Duration::from_millis(25));
        assert!(d.expired());
        assert!(matches!(Deadline::from_timeout_ms(i64::MAX), Deadline::Never | Deadline::At(_)));
        assert!(Deadline::from_timeout(Some(Duration::ZERO)).expired());
    }

    #[test]
    fn wait_returns_at_once_when_the_sequence_moved() {
        let ev = EventWord::default();
        assert!(!ev.take_waiters(), "nobody waits yet");
        let seen = ev.prepare_wait();
        assert!(ev.take_waiters());
        assert!(!ev.take_waiters(), "taking clears the flag");
        ev.wake();
        let t = Instant::now();
        ev.wait(seen, Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}
