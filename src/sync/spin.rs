//! Adaptive spinning before a futex sleep.
//!
//! A futex sleep plus wake costs ~10 µs here; a peer on another core often
//! answers within 1 µs. So a waiter first polls the shared state for a
//! while. The budget adapts per handle, like glibc's adaptive mutex: a spin
//! that succeeds doubles it (up to the configured maximum), one that fails
//! halves it, so a queue whose peer is slow or absent stops burning CPU, and
//! one in a tight ping-pong keeps spinning.

use super::futex::Deadline;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The default upper bound of one spin, in microseconds.
pub const DEFAULT_SPIN_MAX_US: u32 = 50;

/// How long a spin polls without yielding the core.
const YIELD_AFTER: Duration = Duration::from_micros(2);

/// Per-handle spin state. All fields are hints, so Relaxed everywhere.
#[derive(Debug)]
pub struct AdaptiveSpin {
    /// Upper bound of one spin in µs; 0 disables spinning.
    max_us: AtomicU32,
    /// Current budget in µs, between max/16 (at least 1) and max.
    budget_us: AtomicU32,
}

impl Default for AdaptiveSpin {
    fn default() -> Self {
        AdaptiveSpin { max_us: AtomicU32::new(DEFAULT_SPIN_MAX_US), budget_us: AtomicU32::new(DEFAULT_SPIN_MAX_US) }
    }
}

impl AdaptiveSpin {
    /// A spinner that never spins until [`AdaptiveSpin::set_max_us`].
    pub fn disabled() -> Self {
        AdaptiveSpin { max_us: AtomicU32::new(0), budget_us: AtomicU32::new(0) }
    }

    /// Sets the maximum spin in microseconds (0 = never spin: pure futex).
    pub fn set_max_us(&self, us: u32) {
        self.max_us.store(us, Ordering::Relaxed);
        self.budget_us.store(us, Ordering::Relaxed);
    }

    /// The configured maximum in microseconds.
    pub fn max_us(&self) -> u32 {
        self.max_us.load(Ordering::Relaxed)
    }

    /// Polls `ready` until it returns true, the budget is spent or the
    /// caller's deadline passes. Returns whether it became ready. Adjusts
    /// the budget.
    pub fn spin(&self, deadline: &Deadline, mut ready: impl FnMut() -> bool) -> bool {
        let max = self.max_us.load(Ordering::Relaxed);
        if max == 0 {
            return false;
        }
        let budget = self.budget_us.load(Ordering::Relaxed).clamp(1, max);
        let start = Instant::now();
        let mut limit = Duration::from_micros(budget as u64);
        if let Deadline::At(at) = *deadline {
            limit = limit.min(at.saturating_duration_since(start));
        } else if let Deadline::Now = *deadline {
            return false;
        }
        let mut i: u32 = 0;
        let ok = loop {
            if ready() {
                break true;
            }
            std::hint::spin_loop();
            i = i.wrapping_add(1);
            // Reading the clock costs ~20 ns: check it every 32 polls.
            if i % 32 == 0 {
                let spent = start.elapsed();
                if spent >= limit {
                    break false;
                }
                if spent >= YIELD_AFTER {
                    // Past a quick answer: offer the core to whoever is
                    // runnable (often the very peer we wait for, when
                    // processes outnumber cores); ~0.3 µs when nobody is.
                    // SAFETY: no arguments; cannot fail harmfully.
                    unsafe { libc::sched_yield() };
                }
            }
        };
        let next = if ok { budget.saturating_mul(2).min(max) } else { (budget / 2).max((max / 16).max(1)) };
        self.budget_us.store(next, Ordering::Relaxed);
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_adapts_and_zero_disables() {
        let s = AdaptiveSpin::default();
        assert!(s.spin(&Deadline::Never, || true));
        assert!(!s.spin(&Deadline::Never, || false));
        assert_eq!(s.budget_us.load(Ordering::Relaxed), DEFAULT_SPIN_MAX_US / 2);
        s.set_max_us(0);
        assert!(!s.spin(&Deadline::Never, || true), "spinning disabled must not even poll");
    }

    #[test]
    fn spin_stops_at_the_callers_deadline() {
        let s = AdaptiveSpin::default();
        s.set_max_us(10_000_000);
        let t = Instant::now();
        assert!(!s.spin(&Deadline::from_timeout_ms(20), || false));
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
