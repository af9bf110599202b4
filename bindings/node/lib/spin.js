'use strict';
// The main-thread spin of a queue wait: before a put or get that would wait
// goes to libuv's thread pool, the non-blocking C call is retried on the
// main thread for a short, bounded time (issue #17 part 4).
//
// Why: a wait on the pool hands the call to a pool thread and wakes the
// main thread back through uv_async when it returns (koffi's `.async` is a
// napi async work; measured ~3.5 µs out and ~2.6 µs back when both threads
// are awake, tens of µs when they must be woken). A C, Go or Rust peer
// answers in 1-2 µs. Without the spin, Node <-> C ping-pong runs were
// bimodal: ~5 µs per round trip where Node's first synchronous try mostly
// found the reply, 60-95 µs (the issue's ~90 µs) where nearly every get
// parked on the pool (counted in a diagnostic build). Polling for a few µs
// catches the reply without any hop; with it, every run measured was in
// the fast mode (bindings/node/bench/roundtrip.mjs, docs/DECISIONS.md).
//
// What it costs: the event loop is held while polling, at most the spin's
// maximum per call (`syncSpinUs`, default DEFAULT_SYNC_SPIN_US, plus the
// last attempt). The budget adapts per handle like the core's
// (src/os/spin.rs): a spin that succeeds doubles it up to the maximum,
// one that fails halves it down to a sixteenth, so a consumer whose peer is
// slow or absent soon polls ~3 µs per wait; a wait that had to park and
// still got its answer within the maximum regrows it (a spin would have
// won it). On a busy machine (the gate below closed) only QUICK_MS of
// attempts are made: that catches a peer that is running and answering,
// costs less CPU than the pool's hand-over and wake-up would, and leaves
// the budget alone.

const fs = require('node:fs');
const os = require('node:os');
const { performance } = require('node:perf_hooks');

/** The maximum main-thread spin per call, in µs, unless set otherwise. */
const DEFAULT_SYNC_SPIN_US = 50;
/** Upper limit of the setting: 1 ms of event loop per call. */
const MAX_SYNC_SPIN_US = 1000;
// Attempts follow each other back to back (~0.25 µs apart) for QUICK_MS,
// the time a C, Go or Rust peer takes to answer; then GAP_MS apart.
const QUICK_MS = 0.002;
const GAP_MS = 0.001;

/** Validates a spin setting in µs: an integer 0..MAX_SYNC_SPIN_US. */
function checkSpinUs(us, what = 'syncSpinUs') {
  if (typeof us !== 'number' || !Number.isInteger(us) || us < 0 || us > MAX_SYNC_SPIN_US) {
    throw new TypeError(`${what} must be an integer number of microseconds from 0 to ${MAX_SYNC_SPIN_US} (got ${us})`);
  }
  return us;
}

/** The process-wide default: $MPIPC_NODE_SYNC_SPIN_US if set, else DEFAULT_SYNC_SPIN_US. */
function defaultFromEnv(env = process.env) {
  const raw = env.MPIPC_NODE_SYNC_SPIN_US;
  if (raw === undefined || raw === '') return DEFAULT_SYNC_SPIN_US;
  const n = Number(raw);
  try {
    return checkSpinUs(n, 'MPIPC_NODE_SYNC_SPIN_US');
  } catch (e) {
    process.emitWarning(`mpipc: ${e.message}; using ${DEFAULT_SYNC_SPIN_US}`);
    return DEFAULT_SYNC_SPIN_US;
  }
}

// ---------------------------------------------------------------- the gate
//
// Spinning pays only while a CPU is idle: beside CPU-bound processes, the
// main thread's spin takes the core the peer needs to answer (measured with
// compilers running on the two cores: a C <-> Node round trip of 26 µs
// without the spin became 36 µs with an ungated 50 µs spin, and ungated
// runs were slower than gated ones in the same session). So, as the core's
// waiters do (src/os/cpu_gate.rs, the same signal, the same interval), a
// spin first asks whether the machine's runnable tasks (the numerator of
// the fourth field of /proc/loadavg, this thread included) are at most the
// CPUs this process may use. The file is kept open and read with one pread (~1.5 µs)
// at most once a millisecond; between samples the verdict is a variable.
// Unreadable: "idle" (the stolen-time signal of the core has no equivalent
// here: the main thread never yields).

const SAMPLE_MS = 1;
let loadavgFd; // undefined: not opened yet; -1: unreadable
const loadavgBuf = Buffer.alloc(128);
let sampledAt = -Infinity;
let idleVerdict = true;
let usableCpus = 0;

/** The number of runnable tasks on the machine, or -1 when /proc/loadavg cannot be read or parsed. */
function runnableTasks() {
  if (loadavgFd === undefined) {
    try {
      loadavgFd = fs.openSync('/proc/loadavg', 'r');
      usableCpus = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
    } catch {
      loadavgFd = -1;
    }
  }
  if (loadavgFd < 0) return -1;
  let n;
  try {
    n = fs.readSync(loadavgFd, loadavgBuf, 0, loadavgBuf.length, 0);
  } catch {
    return -1;
  }
  return parseRunnable(loadavgBuf.toString('latin1', 0, n));
}

/** "0.52 0.58 0.59 3/456 12345" -> 3; -1 if the line has no such field. */
function parseRunnable(line) {
  const m = /^\S+\s+\S+\s+\S+\s+(\d{1,9})\//.exec(line);
  return m ? Number(m[1]) : -1;
}

/** Whether a CPU is idle enough for a spin to pay (sampled at most once per SAMPLE_MS). */
function idleCpu(now = performance.now()) {
  if (now - sampledAt >= SAMPLE_MS) {
    sampledAt = now;
    const running = runnableTasks();
    idleVerdict = running < 0 || running <= usableCpus;
  }
  return idleVerdict;
}

/** Per-handle adaptive spin state (see the file's comment). */
class SyncSpin {
  /**
   * @param {number} maxUs the maximum spin in µs (0 = never spin)
   * @param {(now: number) => boolean} [gate] whether spinning may pay now (default: idleCpu; tests give their own)
   */
  constructor(maxUs, gate = idleCpu) {
    this._gate = gate;
    this.set(maxUs);
  }

  /** The current budget in µs (between a sixteenth of the maximum and the maximum). */
  get budgetUs() {
    return this._budgetMs * 1000;
  }

  /** Sets the maximum in µs and restarts the budget from it. */
  set(maxUs) {
    checkSpinUs(maxUs);
    this.maxUs = maxUs;
    this._maxMs = maxUs / 1000;
    this._minMs = this._maxMs / 16;
    this._budgetMs = this._maxMs;
  }

  /**
   * Calls `attempt()` until it returns something other than `again`, the
   * budget is spent or `limitMs` (the caller's timeout) has passed; returns
   * the last result (`again` if none came). Adapts the budget.
   */
  poll(attempt, again, limitMs) {
    const budget = this._budgetMs;
    if (budget === 0) return again;
    const t0 = performance.now();
    // A closed gate allows only the quick window (a peer that is running
    // answers within it) and leaves the budget alone, for when the machine
    // is quiet again.
    const open = this._gate(t0);
    const span = open ? budget : Math.min(budget, QUICK_MS);
    const limit = limitMs < span ? limitMs : span;
    for (;;) {
      const s = attempt();
      if (s !== again) {
        if (open) this._budgetMs = Math.min(this._maxMs, budget * 2);
        return s;
      }
      let now = performance.now();
      if (now - t0 >= limit) break;
      // Past the quick window, wait GAP_MS between attempts (never past the
      // limit): each attempt takes the queue's lock, which the peer needs.
      if (now - t0 >= QUICK_MS) {
        const next = Math.min(now + GAP_MS, t0 + limit);
        do now = performance.now(); while (now < next);
      }
    }
    // Only the budget running out says the peer is slow; a short timeout says nothing.
    if (open && limit === budget) this._budgetMs = Math.max(this._minMs, budget / 2);
    return again;
  }

  /** A wait that went to the pool was answered `waitedMs` after it began: a spin that long would have won it. */
  parked(waitedMs) {
    if (waitedMs <= this._maxMs) this._budgetMs = Math.min(this._maxMs, this._budgetMs * 2);
  }
}

module.exports = { SyncSpin, DEFAULT_SYNC_SPIN_US, MAX_SYNC_SPIN_US, checkSpinUs, defaultFromEnv, idleCpu, parseRunnable };
