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
//! So every spinner asks [`idle_cpu`] first. It is one process-wide verdict,
//! made of two signals:
//!
//! - **a stolen yield**: a `sched_yield` that comes back after more than
//!   [`STOLEN_YIELD`] means a CPU-bound task ran in our place. That closes
//!   the gate for [`CLOSED_AFTER_STOLEN_YIELD`] at once. Yields between
//!   spinners that wait on each other stay short (each gives the core back
//!   within microseconds), so our own processes outnumbering the cores do
//!   not close the gate: only a task that keeps the core does.
//! - **the run queue**, while such evidence is fresh (a stolen yield within
//!   [`EVIDENCE_WINDOW`]): the gate stays closed as long as the kernel
//!   reports more runnable tasks than the CPUs this process may use (the
//!   numerator of `/proc/loadavg`'s fourth field, read with one `pread`,
//!   ~0.4 µs, at most once a millisecond per process). So beside CPU hogs a
//!   process pays one stolen yield per window to find out they are still
//!   there, instead of one per spin; when the hogs stop, the run queue
//!   drains and spinning resumes within a millisecond.
//!
//! The run queue alone does not close the gate because it cannot tell a hog
//! from a peer that spins too: four processes of one pipeline on two CPUs
//! are four runnable tasks, yet their yields to each other are cheap and
//! spinning keeps them fast. With no readable `/proc/loadavg` the gate
//! reopens when the stolen yield's hold ends. A closed gate costs only
//! latency: the waiter sleeps on its futex or in `read(2)` at once, as with
//! spinning turned off.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// How often one process reads the run queue at most.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(1);

/// A `sched_yield` that takes longer than this gave the core to a CPU-bound
/// task: a fair scheduler's slice is at least ~0.75 ms, while a yield to an
/// idle CPU or to a peer that answers at once comes back within a few µs
/// (500 µs keeps quiet false positives rare: measured 8-15 per 5-run manager
/// bench, against 19-70 at 100 µs).
pub(crate) const STOLEN_YIELD: Duration = Duration::from_micros(500);

/// How long a stolen yield keeps the gate closed whatever the run queue
/// says: about ten time slices, enough to outlast the burst that stole it.
const CLOSED_AFTER_STOLEN_YIELD: Duration = Duration::from_millis(10);

/// How long after a stolen yield an oversubscribed run queue keeps the gate
/// closed. Past it the gate opens and the next yield probes again: one lost
/// time slice (~1-4 ms) a second beside hogs, a cost below 0.5 %.
const EVIDENCE_WINDOW: Duration = Duration::from_secs(1);

/// The process-wide verdict. Every field is a hint read by spinners that
/// fall back to a correct futex or kernel wait whatever it says, so all
/// accesses are Relaxed: no other memory is published through them.
struct Gate {
    /// When the run queue was last sampled (monotonic ns; 0 = never).
    sampled_at_ns: AtomicU64,
    /// The last sample's verdict: runnable tasks <= usable CPUs.
    run_queue_idle: AtomicBool,
    /// Monotonic ns of the last stolen yield (0 = none yet).
    stolen_at_ns: AtomicU64,
    /// Monotonic ns until which the last stolen yield holds the gate shut.
    closed_until_ns: AtomicU64,
}

static GATE: Gate = Gate {
    sampled_at_ns: AtomicU64::new(0),
    run_queue_idle: AtomicBool::new(true),
    stolen_at_ns: AtomicU64::new(0),
    closed_until_ns: AtomicU64::new(0),
};

/// Whether a CPU is idle enough for spinning to pay: the gate is open.
pub(crate) fn idle_cpu() -> bool {
    #[cfg(test)]
    if let Some(forced) = test_hooks::FORCED_GATE.with(|f| f.get()) {
        return forced;
    }
    let stolen_at = GATE.stolen_at_ns.load(Ordering::Relaxed);
    if stolen_at == 0 {
        // The common case on a machine with idle CPUs: nothing to check.
        return true;
    }
    let now = now_ns();
    if now < GATE.closed_until_ns.load(Ordering::Relaxed) {
        return false;
    }
    if now.saturating_sub(stolen_at) >= EVIDENCE_WINDOW.as_nanos() as u64 {
        return true;
    }
    let last = GATE.sampled_at_ns.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= SAMPLE_INTERVAL.as_nanos() as u64
        // One thread samples; the others use the previous verdict.
        && GATE.sampled_at_ns.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    {
        // Unreadable: rely on the stolen-yield hold alone.
        let idle = runnable_tasks().is_none_or(|running| running <= usable_cpus());
        GATE.run_queue_idle.store(idle, Ordering::Relaxed);
        return idle;
    }
    GATE.run_queue_idle.load(Ordering::Relaxed)
}

/// Offers the core with `sched_yield` and reports whether it came back
/// promptly. A yield that took longer than [`STOLEN_YIELD`] closes the gate
/// for [`CLOSED_AFTER_STOLEN_YIELD`] and returns false: the caller should
/// stop spinning and sleep.
pub(crate) fn yield_guarded() -> bool {
    let start = now_ns();
    #[cfg(test)]
    let took = match test_hooks::FAKE_YIELD.with(|f| f.get()) {
        Some(fake) => fake.as_nanos() as u64,
        None => real_yield(start),
    };
    #[cfg(not(test))]
    let took = real_yield(start);
    if took <= STOLEN_YIELD.as_nanos() as u64 {
        return true;
    }
    let end = start + took;
    GATE.stolen_at_ns.fetch_max(end, Ordering::Relaxed);
    GATE.closed_until_ns.fetch_max(end + CLOSED_AFTER_STOLEN_YIELD.as_nanos() as u64, Ordering::Relaxed);
    false
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
fn usable_cpus() -> u64 {
    static CPUS: OnceLock<u64> = OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u64))
}

/// The number of runnable tasks on the machine now, or None when
/// `/proc/loadavg` cannot be read or parsed.
fn runnable_tasks() -> Option<u64> {
    // Opened once and kept: a pread of /proc/loadavg regenerates the line,
    // ~0.4 µs, against ~3 µs for open + read + close.
    static LOADAVG: OnceLock<Option<File>> = OnceLock::new();
    let file = LOADAVG.get_or_init(|| File::open("/proc/loadavg").ok()).as_ref()?;
    let mut buf = [0u8; 128];
    let n = file.read_at(&mut buf, 0).ok()?;
    parse_runnable(&buf[..n])
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
    fn a_prompt_yield_keeps_the_gate_a_stolen_one_closes_it() {
        test_hooks::FAKE_YIELD.with(|f| f.set(Some(Duration::from_micros(1))));
        assert!(yield_guarded());
        test_hooks::FAKE_YIELD.with(|f| f.set(Some(STOLEN_YIELD * 4)));
        let before = now_ns();
        assert!(!yield_guarded());
        // The closure is process-wide; other tests' gates are forced per
        // thread, so this does not disturb them.
        assert!(GATE.closed_until_ns.load(Ordering::Relaxed) >= before + CLOSED_AFTER_STOLEN_YIELD.as_nanos() as u64);
        assert!(!idle_cpu(), "the gate stays closed after a stolen yield");
        test_hooks::FAKE_YIELD.with(|f| f.set(None));
    }
}
