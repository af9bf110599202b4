//! The idle-CPU gate: spin only while a CPU is idle.
//!
//! A waiter spins (polls shared memory or a descriptor, and offers its core
//! with `sched_yield`) because a peer on another core usually answers within
//! a microsecond or two, far sooner than a futex sleep and wake. That bet
//! holds only while the peer *has* a core. Beside CPU-bound processes it
//! fails badly: under Linux's fair scheduler a `sched_yield` hands the core
//! to every runnable hog in turn, so one yield costs a whole time slice
//! (measured here: 0.2 µs quiet, 1.5 ms on average beside three busy loops
//! on two CPUs), the peer's answer waits unread, and the queue and the
//! manager fell 30-80x instead of the ~2.5x their share of the CPU predicts
//! (docs/notes/busy-machines-analysis.md).
//!
//! So every spinner asks [`idle_cpu`] first: one process-wide verdict.
//!
//! - **What closes it: stolen yields that are the rule, not the exception.**
//!   A `sched_yield` that comes back after more than [`STOLEN_YIELD`] means
//!   a task that kept its core ran in our place; it always ends the spin
//!   (as a failure). It closes the gate only when fewer than
//!   [`PROMPT_YIELDS_TO_IGNORE`] prompt yields came since the previous
//!   stolen one: beside CPU hogs a large share of yields are stolen
//!   (measured: a tenth to a half), while among our own processes, more of
//!   them than cores, one in hundreds or thousands is (a producer of ours
//!   keeping the core for a slice, filling the queue meanwhile: a
//!   productive yield; closing the gate on those cost a quiet 2 x 2 queue
//!   20 %). The gate then closes for a hold that starts at [`FIRST_HOLD`]
//!   and doubles each time a stolen yield follows soon after the previous
//!   hold ended ([`STREAK_GAP`]), up to [`MAX_HOLD`]: beside hogs every
//!   reopening meets another stolen yield, so within a few dozen
//!   milliseconds a process pays one lost slice a second instead of one
//!   per spin.
//! - **What reopens it early: the run queue.** During a hold the gate
//!   samples the kernel's count of runnable tasks (the numerator of
//!   `/proc/loadavg`'s fourth field, one `pread`, ~0.4 µs, at most once a
//!   millisecond per process) and reopens as soon as it is no more than the
//!   CPUs this process may use: the hogs have stopped, so spinning resumes
//!   within a millisecond instead of at the end of a long hold.
//!
//! The run queue alone does not close the gate because it cannot tell a hog
//! from a peer of ours: four processes of one 2 x 2 queue on two CPUs are
//! four runnable tasks, yet spinning keeps them fast. On a host whose
//! `/proc/loadavg` does not show the contention (a container without lxcfs,
//! a CPU quota) or without `/proc`, the holds still protect; they only end
//! later. A closed gate costs only latency: the waiter sleeps on its futex
//! or in `read(2)` at once, as with spinning turned off.

use std::fs::File;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

/// How often one process reads the run queue at most.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(1);

/// A `sched_yield` that takes longer than this gave the core to a CPU-bound
/// task: a fair scheduler's slice is at least ~0.75 ms, while a yield to an
/// idle CPU or to a peer that answers at once comes back within a few µs
/// (500 µs keeps quiet false positives rare: measured 8-15 per 5-run manager
/// bench, against 19-70 at 100 µs).
pub(crate) const STOLEN_YIELD: Duration = Duration::from_micros(500);

/// A stolen yield after at least this many prompt ones (since the previous
/// stolen one) is an exception and leaves the gate open.
const PROMPT_YIELDS_TO_IGNORE: u64 = 64;

/// The first hold after a stolen yield: about ten time slices.
const FIRST_HOLD: Duration = Duration::from_millis(1);

/// The longest hold: beside hogs, one lost slice (~1-4 ms) a second, under
/// half a per cent.
const MAX_HOLD: Duration = Duration::from_secs(1);

/// A stolen yield within this long after the previous hold ended continues
/// the streak (the hold doubles); later, the streak starts over.
const STREAK_GAP: Duration = Duration::from_millis(20);

/// The process-wide verdict. Every field is a hint read by spinners that
/// fall back to a correct futex or kernel wait whatever it says, so all
/// accesses are Relaxed: no other memory is published through them, and a
/// lost update between racing threads only shortens or lengthens one hold.
struct Gate {
    /// Monotonic ns until which the gate is closed (0 = open, never closed).
    closed_until_ns: AtomicU64,
    /// The length of the current hold in ns (0 before the first).
    hold_ns: AtomicU64,
    /// When the run queue was last sampled during a hold (monotonic ns).
    sampled_at_ns: AtomicU64,
    /// Prompt yields since the last stolen one (starts high: a process's
    /// first stolen yield is taken for an exception).
    prompt_yields: AtomicU64,
}

static GATE: Gate = Gate {
    closed_until_ns: AtomicU64::new(0),
    hold_ns: AtomicU64::new(0),
    sampled_at_ns: AtomicU64::new(0),
    prompt_yields: AtomicU64::new(PROMPT_YIELDS_TO_IGNORE),
};

/// Whether a CPU is idle enough for spinning to pay: the gate is open.
pub(crate) fn idle_cpu() -> bool {
    #[cfg(test)]
    if let Some(forced) = test_hooks::FORCED_GATE.with(|f| f.get()) {
        return forced;
    }
    let closed_until = GATE.closed_until_ns.load(Ordering::Relaxed);
    if closed_until == 0 {
        // The common case on a machine with idle CPUs: nothing to check.
        return true;
    }
    let now = now_ns();
    if now >= closed_until {
        return true;
    }
    let last = GATE.sampled_at_ns.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= nanos(SAMPLE_INTERVAL)
        // One thread samples; the others keep the gate closed meanwhile.
        && GATE.sampled_at_ns.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        && runnable_tasks().is_some_and(|running| running <= usable_cpus())
    {
        // The hogs are gone: reopen now and start any next streak afresh.
        GATE.closed_until_ns.store(now, Ordering::Relaxed);
        GATE.hold_ns.store(0, Ordering::Relaxed);
        return true;
    }
    false
}

/// Offers the core with `sched_yield` and reports whether it came back
/// promptly. A yield that took longer than [`STOLEN_YIELD`] returns false
/// (the caller should stop spinning and sleep) and, unless it is an
/// exception among many prompt ones, closes the gate (see the module doc).
pub(crate) fn yield_guarded() -> bool {
    let start = now_ns();
    #[cfg(test)]
    test_hooks::YIELDS.with(|y| y.set(y.get() + 1));
    #[cfg(test)]
    let took = match test_hooks::FAKE_YIELD.with(|f| f.get()) {
        Some(fake) => fake.as_nanos() as u64,
        None => real_yield(start),
    };
    #[cfg(not(test))]
    let took = real_yield(start);
    if took <= nanos(STOLEN_YIELD) {
        GATE.prompt_yields.fetch_add(1, Ordering::Relaxed);
        return true;
    }
    // Never a Once here: a thread inside Once (or OnceLock) init while
    // another thread forks leaves the child's copy "in progress" forever,
    // and the child's first stolen yield would wait on it (seen: a forked
    // manager client hung in call_once). A swap never waits; a racing
    // thread skips registering, which only delays it to a later yield.
    if !FORGET_IN_CHILD_REGISTERED.swap(true, Ordering::Relaxed) {
        // SAFETY: registers a handler that only stores to atomics (which is
        // async-signal-safe, as a fork child handler must be).
        unsafe { libc::pthread_atfork(None, None, Some(forget_in_child)) };
    }
    if GATE.prompt_yields.swap(0, Ordering::Relaxed) >= PROMPT_YIELDS_TO_IGNORE {
        // An exception among many prompt yields: end this spin only.
        return false;
    }
    let end = start + took;
    let previous_end = GATE.closed_until_ns.load(Ordering::Relaxed);
    let previous_hold = GATE.hold_ns.load(Ordering::Relaxed);
    let hold = next_hold(previous_hold, previous_end, end);
    GATE.hold_ns.store(hold, Ordering::Relaxed);
    GATE.closed_until_ns.fetch_max(end + hold, Ordering::Relaxed);
    false
}

/// The hold after a stolen yield that ended at `end`, given the previous
/// hold (0: none) and when it ended: doubled (up to [`MAX_HOLD`]) when the
/// yield came within [`STREAK_GAP`] of that end, else [`FIRST_HOLD`].
fn next_hold(previous_hold: u64, previous_end: u64, end: u64) -> u64 {
    let streak = previous_hold != 0 && end <= previous_end.saturating_add(nanos(STREAK_GAP));
    if streak {
        previous_hold.saturating_mul(2).min(nanos(MAX_HOLD))
    } else {
        nanos(FIRST_HOLD)
    }
}

/// A Duration in nanoseconds (the constants here are all far below u64).
const fn nanos(d: Duration) -> u64 {
    d.as_nanos() as u64
}

/// Whether [`forget_in_child`] is registered (at the first stolen yield).
static FORGET_IN_CHILD_REGISTERED: AtomicBool = AtomicBool::new(false);

/// A forked child starts with an open gate: the parent's stolen yields were
/// often spent on the very children it was starting (a productive yield),
/// and the child's own yields will tell soon enough if hogs are about.
extern "C" fn forget_in_child() {
    GATE.closed_until_ns.store(0, Ordering::Relaxed);
    GATE.hold_ns.store(0, Ordering::Relaxed);
    GATE.prompt_yields.store(PROMPT_YIELDS_TO_IGNORE, Ordering::Relaxed);
}

/// Yields the core; returns the nanoseconds it took, `start` being now.
fn real_yield(start: u64) -> u64 {
    // SAFETY: sched_yield takes no arguments and cannot fail harmfully.
    unsafe { libc::sched_yield() };
    now_ns().saturating_sub(start)
}

/// CLOCK_MONOTONIC in nanoseconds (a vDSO call, ~20 ns).
fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid timespec to write; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(ts.tv_nsec as u64)
}

/// The CPUs this process may run on (affinity and cgroup quota), read once:
/// `available_parallelism` reads cgroup files, too slow for every sample.
/// Cached in an atomic, not a OnceLock, for the fork reason above; racing
/// threads may both compute it, harmlessly.
fn usable_cpus() -> u64 {
    static CPUS: AtomicU64 = AtomicU64::new(0);
    match CPUS.load(Ordering::Relaxed) {
        0 => {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
            CPUS.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// `/proc/loadavg`'s descriptor: not opened yet.
const LOADAVG_UNOPENED: i32 = -2;
/// `/proc/loadavg`'s descriptor: could not be opened.
const LOADAVG_MISSING: i32 = -1;

/// The number of runnable tasks on the machine now, or None when
/// `/proc/loadavg` cannot be read or parsed.
fn runnable_tasks() -> Option<u64> {
    // Opened once and kept (a pread of /proc/loadavg regenerates the line,
    // ~0.4 µs, against ~3 µs for open + read + close), in an atomic rather
    // than a OnceLock for the fork reason above. Relaxed: the descriptor
    // number is the whole message; the kernel object behind it is shared.
    static LOADAVG: AtomicI32 = AtomicI32::new(LOADAVG_UNOPENED);
    let mut fd = LOADAVG.load(Ordering::Relaxed);
    if fd == LOADAVG_UNOPENED {
        let opened = File::open("/proc/loadavg").map_or(LOADAVG_MISSING, IntoRawFd::into_raw_fd);
        fd = match LOADAVG.compare_exchange(LOADAVG_UNOPENED, opened, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => opened,
            Err(theirs) => {
                if opened >= 0 {
                    // SAFETY: our own descriptor, never published: another
                    // thread's won the race.
                    drop(unsafe { File::from_raw_fd(opened) });
                }
                theirs
            }
        };
    }
    if fd < 0 {
        return None;
    }
    let mut buf = [0u8; 128];
    // SAFETY: fd is the kept descriptor (never closed) and buf is valid
    // writable memory of its length.
    let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n <= 0 {
        return None;
    }
    parse_runnable(&buf[..n as usize])
}

/// Parses the runnable-task count out of a `/proc/loadavg` line:
/// "0.52 0.58 0.59 3/456 12345" gives 3.
fn parse_runnable(line: &[u8]) -> Option<u64> {
    let field = line.split(|b| b.is_ascii_whitespace()).filter(|f| !f.is_empty()).nth(3)?;
    let slash = field.iter().position(|&b| b == b'/')?;
    let digits = &field[..slash];
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0')))
}

/// Per-thread overrides, so unit tests can drive the gate and the yield
/// guard without loading the machine, and run in parallel.
#[cfg(test)]
pub(crate) mod test_hooks {
    use std::cell::Cell;
    use std::time::Duration;

    thread_local! {
        /// Some(verdict): `idle_cpu` returns it without sampling.
        pub(crate) static FORCED_GATE: Cell<Option<bool>> = const { Cell::new(None) };
        /// Some(d): `yield_guarded` does not yield and reports taking d.
        pub(crate) static FAKE_YIELD: Cell<Option<Duration>> = const { Cell::new(None) };
        /// How many times this thread called `yield_guarded`.
        pub(crate) static YIELDS: Cell<u32> = const { Cell::new(0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_runnable_count() {
        assert_eq!(parse_runnable(b"0.52 0.58 0.59 3/456 12345\n"), Some(3));
        assert_eq!(parse_runnable(b"12.00 9.10 4.20 17/1024 99"), Some(17));
        assert_eq!(parse_runnable(b"0.00 0.00 0.00 /456 1"), None);
        assert_eq!(parse_runnable(b"0.00 0.00 0.00 x/456 1"), None);
        assert_eq!(parse_runnable(b"0.00 0.00 0.00"), None);
        assert_eq!(parse_runnable(b""), None);
        assert_eq!(parse_runnable(b"0 0 0 99999999999999999999/1 1"), None, "no overflow");
    }

    #[test]
    fn reads_this_machines_run_queue() {
        // This test's own thread is running, so at least one task is.
        let n = runnable_tasks().expect("/proc/loadavg is readable on Linux");
        assert!(n >= 1, "runnable tasks {n}");
        assert!(usable_cpus() >= 1);
    }

    #[test]
    fn holds_double_in_a_streak_and_start_over_after_a_gap() {
        let first = nanos(FIRST_HOLD);
        let ms = 1_000_000;
        assert_eq!(next_hold(0, 0, 5 * ms), first, "the first stolen yield");
        // Stolen again 3 ms after the 10 ms hold ended: a streak.
        assert_eq!(next_hold(first, 15 * ms, 18 * ms), 2 * first);
        let mut hold = first;
        for _ in 0..20 {
            hold = next_hold(hold, 0, 1);
        }
        assert_eq!(hold, nanos(MAX_HOLD), "holds stop growing at the maximum");
        // Stolen a while after the hold ended: the streak starts over.
        assert_eq!(next_hold(nanos(MAX_HOLD), 15 * ms, 15 * ms + nanos(STREAK_GAP) + 1), first);
    }

    #[test]
    fn a_prompt_yield_keeps_the_gate_a_stolen_one_closes_it() {
        // The gate is process-wide; the other tests force their thread's
        // view of it, so this test alone drives the real one. Other threads'
        // real yields may close it too, so only what they cannot undo is
        // checked: a stolen yield reports false and pushes the closing
        // time past its hold (fetch_max).
        test_hooks::FAKE_YIELD.with(|f| f.set(Some(Duration::from_micros(1))));
        assert!(yield_guarded(), "a prompt yield keeps the gate open");
        test_hooks::FAKE_YIELD.with(|f| f.set(Some(STOLEN_YIELD * 4)));
        let before = now_ns();
        // The first may pass for an exception (after many prompt yields);
        // the second, straight after it, cannot.
        assert!(!yield_guarded(), "a stolen yield ends the spin");
        assert!(!yield_guarded(), "a stolen yield ends the spin");
        assert!(GATE.closed_until_ns.load(Ordering::Relaxed) >= before + nanos(FIRST_HOLD));
        test_hooks::FAKE_YIELD.with(|f| f.set(None));
    }
}
