//! Adaptive spinning before a futex sleep.
//!
//! A futex sleep plus wake costs ~10 µs here (~30 µs when the wake must
//! bring an idle vCPU out of halt); a peer on another core often answers
//! within 1 µs. So a waiter first polls the shared state for a while. The
//! budget adapts per handle, like glibc's adaptive mutex: a spin that
//! succeeds doubles it (up to the configured maximum), one that fails
//! halves it, so a queue whose peer is slow or absent stops burning CPU, and
//! one in a tight ping-pong keeps spinning.
//!
//! Spinning pays only while a CPU is idle. Every spin first asks the
//! process-wide idle-CPU gate ([`super::cpu_gate`]); when it is closed (more
//! runnable tasks than CPUs, or a recent stolen yield) the spin returns at
//! once, leaving the learned budget for when the machine is quiet again.
//! While spinning, the waiter offers its core with `sched_yield` (the peer
//! it waits for may be queued behind it when processes outnumber cores);
//! every such yield goes through [`super::cpu_gate::yield_guarded`], and a
//! yield that a CPU-bound task turned into a time slice ends the spin as a
//! failure and closes the gate. Without that, beside busy loops each yield
//! cost ~1.5 ms and the spin, finding its answer on return, counted itself
//! a success and doubled its budget (docs/notes/busy-machines-analysis.md).

use super::cpu_gate;
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

    /// Whether a spin now could poll at all: spinning is enabled and the
    /// idle-CPU gate is open. A caller uses it to skip work that only
    /// prepares a spin.
    pub fn worth_spinning(&self) -> bool {
        self.max_us() > 0 && cpu_gate::idle_cpu()
    }

    /// Polls `ready` until it returns true, the budget is spent or the
    /// caller's deadline passes. Returns whether it became ready. Adjusts
    /// the budget. Polls are cheap (a load of shared memory): the core is
    /// offered once a quick answer is past (2 µs), every 32 polls.
    pub fn spin(&self, deadline: &Deadline, ready: impl FnMut() -> bool) -> bool {
        self.spin_polls(deadline, PollCost::Load, ready)
    }

    /// Like [`AdaptiveSpin::spin`] for a `ready` that makes a system call
    /// (a non-blocking `recv` or `poll`): the core is offered after every
    /// poll that found nothing, since the call already costs about as much
    /// as a yield to nobody.
    pub fn spin_syscall(&self, deadline: &Deadline, ready: impl FnMut() -> bool) -> bool {
        self.spin_polls(deadline, PollCost::Syscall, ready)
    }

    fn spin_polls(&self, deadline: &Deadline, cost: PollCost, mut ready: impl FnMut() -> bool) -> bool {
        let max = self.max_us.load(Ordering::Relaxed);
        if max == 0 || matches!(deadline, Deadline::Now) {
            return false;
        }
        // A closed gate (CPU-bound tasks are waiting for a core) allows only
        // the quick phase: pause-only polls for YIELD_AFTER, which catch a
        // peer answering from another core without giving a slice away.
        let gate_open = cpu_gate::idle_cpu();
        let budget = self.budget_us.load(Ordering::Relaxed).clamp(1, max);
        let start = Instant::now();
        let mut limit = if gate_open { Duration::from_micros(budget as u64) } else { YIELD_AFTER };
        if let Deadline::At(at) = *deadline {
            limit = limit.min(at.saturating_duration_since(start));
        }
        let mut i: u32 = 0;
        let outcome = loop {
            if ready() {
                break Outcome::Ready;
            }
            std::hint::spin_loop();
            i = i.wrapping_add(1);
            // Reading the clock costs ~20 ns: check it every 32 cheap polls.
            let checkpoint = cost == PollCost::Syscall || i % 32 == 0;
            if !checkpoint {
                continue;
            }
            let spent = start.elapsed();
            if spent >= limit {
                break Outcome::Spent;
            }
            if gate_open && (cost == PollCost::Syscall || spent >= YIELD_AFTER) {
                // Offer the core to whoever is runnable (often the very peer
                // we wait for, when processes outnumber cores); ~0.3 µs when
                // nobody is. A stolen yield (a hog ran instead) ends the spin.
                if !cpu_gate::yield_guarded() {
                    break Outcome::Stolen;
                }
                // Another thread may have closed the gate meanwhile: stop
                // without judging the peer.
                if !cpu_gate::idle_cpu() {
                    break Outcome::GateClosed;
                }
            }
        };
        // The quick phase under a closed gate says nothing about how fast
        // the peer answers when it has a core: leave the learned budget.
        if !gate_open {
            return outcome == Outcome::Ready;
        }
        let next = match outcome {
            Outcome::Ready => Some(budget.saturating_mul(2).min(max)),
            // A stolen yield is a failure even when the answer was there on
            // return: the spin cost a time slice, not its budget.
            Outcome::Spent | Outcome::Stolen => Some((budget / 2).max((max / 16).max(1))),
            Outcome::GateClosed => None,
        };
        if let Some(next) = next {
            self.budget_us.store(next, Ordering::Relaxed);
        }
        outcome == Outcome::Ready
    }
}

/// What one poll of `ready` costs, which sets how often a spin yields.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PollCost {
    /// A load of shared memory (tens of ns).
    Load,
    /// A system call (~0.3-1 µs).
    Syscall,
}

/// How a spin ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// `ready` returned true.
    Ready,
    /// The budget or the caller's deadline ran out.
    Spent,
    /// A yield came back a time slice later.
    Stolen,
    /// The idle-CPU gate closed during the spin.
    GateClosed,
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::os::cpu_gate::test_hooks::{FAKE_YIELD, FORCED_GATE, YIELDS};

    /// Runs `f` with this thread's view of the gate forced, and yields
    /// reported as taking `yield_takes` (None: real yields).
    fn with_gate<R>(open: bool, yield_takes: Option<Duration>, f: impl FnOnce() -> R) -> R {
        FORCED_GATE.with(|g| g.set(Some(open)));
        FAKE_YIELD.with(|y| y.set(yield_takes));
        let r = f();
        FORCED_GATE.with(|g| g.set(None));
        FAKE_YIELD.with(|y| y.set(None));
        r
    }

    #[test]
    fn budget_adapts_and_zero_disables() {
        with_gate(true, None, budget_adapts_and_zero_disables_body);
    }

    fn budget_adapts_and_zero_disables_body() {
        let s = AdaptiveSpin::default();
        assert!(s.spin(&Deadline::Never, || true));
        assert!(!s.spin(&Deadline::Never, || false));
        assert_eq!(s.budget_us.load(Ordering::Relaxed), DEFAULT_SPIN_MAX_US / 2);
        s.set_max_us(0);
        assert!(!s.spin(&Deadline::Never, || true), "spinning disabled must not even poll");
    }

    #[test]
    fn spin_stops_at_the_callers_deadline() {
        with_gate(true, None, || {
            let s = AdaptiveSpin::default();
            s.set_max_us(10_000_000);
            let t = Instant::now();
            assert!(!s.spin(&Deadline::from_timeout_ms(20), || false));
            assert!(t.elapsed() < Duration::from_secs(5));
        });
    }

    #[test]
    fn a_closed_gate_spins_only_briefly_never_yields_and_keeps_the_budget() {
        with_gate(false, Some(Duration::from_millis(4)), || {
            let yields_before = YIELDS.with(|y| y.get());
            let s = AdaptiveSpin::default();
            s.set_max_us(1_000_000);
            let mut polls = 0;
            assert!(s.spin(&Deadline::Never, || {
                polls += 1;
                polls == 3
            }));
            let t = Instant::now();
            assert!(!s.spin_syscall(&Deadline::Never, || false));
            assert!(t.elapsed() < Duration::from_millis(900), "the quick phase, not the 1 s budget");
            assert_eq!(YIELDS.with(|y| y.get()), yields_before, "no yield while the gate is closed");
            assert_eq!(s.budget_us.load(Ordering::Relaxed), 1_000_000, "the budget is left alone");
        });
    }

    #[test]
    fn a_stolen_yield_ends_the_spin_as_a_failure() {
        // A yield that reports a whole slice: the spin stops at its first
        // yield (the syscall flavour yields after the first empty poll) and
        // halves the budget although `ready` would succeed on the next poll.
        with_gate(true, Some(Duration::from_millis(4)), || {
            let s = AdaptiveSpin::default();
            let mut polls = 0;
            assert!(!s.spin_syscall(&Deadline::Never, || {
                polls += 1;
                polls > 1
            }));
            assert_eq!(polls, 1);
            assert_eq!(s.budget_us.load(Ordering::Relaxed), DEFAULT_SPIN_MAX_US / 2);
        });
    }

    #[test]
    fn prompt_yields_let_a_syscall_spin_succeed() {
        with_gate(true, Some(Duration::from_micros(1)), || {
            let s = AdaptiveSpin::default();
            s.set_max_us(1_000_000);
            let mut polls = 0;
            assert!(s.spin_syscall(&Deadline::Never, || {
                polls += 1;
                polls == 5
            }));
            assert_eq!(polls, 5);
        });
    }
}
