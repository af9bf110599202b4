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
/// Protocol. A waiter, *while holding the lock that guards the state* and
/// having found it unsatisfactory, calls [`EventWord::prepare_wait`] (reads
/// the sequence and raises the waiters flag), releases the lock, then calls
/// [`EventWord::wait`] with the sequence it read. A changer, *after*
/// committing its change and releasing the lock, calls
/// [`EventWord::notify`], which bumps the sequence and wakes sleepers if the
/// flag is raised. A change committed after the waiter's critical section
/// bumps the sequence after the waiter read it, so the waiter's futex call
/// either sees the new value and returns at once, or is asleep already and
/// is woken. No wake-up is lost.
///
/// The flag is cleared by the waker (swap to 0) and raised again by every
/// waiter that goes back to sleep, so a waiter that died leaves at most one
/// superfluous wake syscall behind, never a permanently raised flag.
#[repr(C)]
#[derive(Debug, Default)]
pub struct EventWord {
    /// Incremented (wrapping) after every change; the futex word.
    seq: AtomicU32,
    /// 1 when at least one process may be asleep on `seq`, else 0.
    waiters: AtomicU32,
}

impl EventWord {
    /// Reads the sequence and announces a waiter. Call under the state lock.
    pub fn prepare_wait(&self) -> u32 {
        // SYNC POINT: SeqCst pairs with the SeqCst bump/swap in `notify`
        // (a Dekker pattern): either the notifier sees waiters == 1, or the
        // waiter's futex call sees the bumped sequence.
        self.waiters.store(1, Ordering::SeqCst);
        self.seq.load(Ordering::SeqCst)
    }

    /// Sleeps while the sequence is still `seen`, at most `timeout`.
    pub fn wait(&self, seen: u32, timeout: Duration) {
        futex_wait(&self.seq, seen, timeout);
    }

    /// Announces a change; wakes sleepers if any announced themselves.
    /// Call after the change is committed and the state lock released.
    pub fn notify(&self) {
        // SYNC POINT: see `prepare_wait`.
        self.seq.fetch_add(1, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) != 0 && self.waiters.swap(0, Ordering::SeqCst) != 0 {
            futex_wake_all(&self.seq);
        }
    }

    /// The current sequence (for lock-free "did anything change?" checks).
    pub fn seq(&self) -> u32 {
        self.seq.load(Ordering::Acquire)
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
        let seen = ev.prepare_wait();
        ev.notify();
        let t = Instant::now();
        ev.wait(seen, Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(1));
        assert_ne!(ev.seq(), seen);
    }
}
