'use strict';
// One class per C handle derives from Handle, which owns the pointer and
// its life:
// - `close()` is idempotent and synchronous. If a call is still running on
//   a pool thread, the C handle is freed when that call returns (each
//   blocking wait runs in slices of at most SLICE_MS, so that is soon):
//   freeing it under a running call would be a use-after-free in C.
// - every method goes through `ptr()`, which throws ClosedError once closed:
//   a closed handle is never passed to C.
// - a FinalizationRegistry frees handles that were dropped unclosed (the
//   safety net of STYLE.md 32; close explicitly all the same).
//
// Blocking waits: `sliced()` runs a C call with a timeout of at most
// SLICE_MS on libuv's thread pool (koffi's `.async`), again and again
// until it succeeds, the caller's deadline passes, the handle is closed or
// the AbortSignal fires. The pool has 4 threads by default; a wait never
// holds one for longer than a slice, so waits cannot starve each other or
// the rest of the process (fs, dns, zlib use the same pool).

const { performance } = require('node:perf_hooks');
const { ClosedError, AbortError } = require('./errors');
const { C } = require('./ffi');

/** The longest C wait of one slice, in ms. */
const SLICE_MS = 50;

// Waits share libuv's thread pool (UV_THREADPOOL_SIZE, 4 by default) with
// fs, dns, zlib and this binding's short calls (sends, manager batches). So
// at most one thread less than the pool runs wait slices at once; further
// waits queue here, in order, and while any queue, slices are shortened to
// SHORT_SLICE_MS so that every wait gets its turn soon. This also keeps the
// number of pending koffi async calls far below its limit (256, beyond
// which it throws): any number of concurrent waits works.
const POOL_SIZE = Math.max(1, Number(process.env.UV_THREADPOOL_SIZE) || 4);
const MAX_WAIT_SLICES = Math.max(1, POOL_SIZE - 1);
const SHORT_SLICE_MS = 10;
let waitSlices = 0;
const waitQueue = [];

/** Calls C function `fn` on the thread pool: runAsync(fn, ...args, cb(err, result)). */
function runAsync(fn, ...args) {
  const cb = args.pop();
  try {
    fn.async(...args, cb);
  } catch (e) {
    process.nextTick(cb, e);
  }
}

/** runAsync for one slice of a wait: at most MAX_WAIT_SLICES at once. */
function runWait(fn, ...args) {
  const cb = args.pop();
  const start = () => {
    runAsync(fn, ...args, (err, res) => {
      waitSlices--;
      if (waitQueue.length) {
        waitSlices++;
        waitQueue.shift()();
      }
      cb(err, res);
    });
  };
  if (waitSlices < MAX_WAIT_SLICES) {
    waitSlices++;
    start();
  } else {
    waitQueue.push(start);
  }
}

/** The length of the next wait slice: shorter while waits queue for a thread. */
function sliceMs() {
  return waitQueue.length > 0 || waitSlices >= MAX_WAIT_SLICES ? SHORT_SLICE_MS : SLICE_MS;
}

const registry = new FinalizationRegistry((held) => {
  try {
    held.free(held.ptr);
  } catch {
    // nothing to do at GC time
  }
});

class Handle {
  /**
   * @param {bigint} ptr the C handle
   * @param {(p: bigint) => void} free its `*_close`
   * @param {string} what for messages, e.g. "queue 'jobs'"
   */
  constructor(ptr, free, what) {
    this._ptr = ptr;
    this._free = free;
    this._what = what;
    this._inflight = 0;
    this._closed = false;
    this._token = { ptr, free };
    registry.register(this, this._token, this._token);
  }

  /** The C handle; throws ClosedError after close(). */
  ptr() {
    if (this._closed) throw new ClosedError(`${this._what} is closed`);
    return this._ptr;
  }

  /** Whether close() was called. */
  get closed() {
    return this._closed;
  }

  /** Closes the handle (idempotent). The object itself lives on by name until unlinked. */
  close() {
    if (this._closed) return;
    this._closed = true;
    registry.unregister(this._token);
    this._maybeFree();
  }

  _maybeFree() {
    if (this._closed && this._inflight === 0 && this._ptr !== null) {
      const p = this._ptr;
      this._ptr = null;
      this._beforeFree();
      this._free(p);
    }
  }

  /** Hook for subclasses (e.g. to drop buffers) just before the C handle is freed. */
  _beforeFree() {}

  /** Runs C function `fn(ptr, ...args)` on the pool, keeping the handle alive meanwhile. */
  _async(fn, args) {
    const p = this.ptr();
    this._inflight++;
    return new Promise((resolve, reject) => {
      runAsync(fn, p, ...args, (err, res) => {
        this._inflight--;
        this._maybeFree();
        if (err) reject(err);
        else resolve(res);
      });
    });
  }

  /**
   * Waits in slices (see the file's comment).
   * @param {object} o
   * @param {number|undefined|null} o.timeout ms; undefined, null or negative = forever
   * @param {number} [o.since] when the caller's wait began (performance.now()), if before this call: the timeout counts from it
   * @param {AbortSignal} [o.signal]
   * @param {number} o.expired the status that means "not yet" (e.g. MP_E_EMPTY)
   * @param {(p: bigint, sliceMs: number, cb: Function) => void} o.call starts one slice (with runWait)
   * @param {(status: number) => any} o.done maps the final status to a value or throws
   */
  _sliced({ timeout, since, signal, expired, call, done }) {
    const deadline = timeout == null || timeout < 0 ? Infinity : (since === undefined ? performance.now() : since) + timeout;
    return new Promise((resolve, reject) => {
      const step = () => {
        if (this._closed) return reject(new ClosedError(`${this._what} was closed while waiting`));
        if (signal && signal.aborted) return reject(new AbortError(`${this._what}: wait aborted`, signal.reason));
        const left = deadline - performance.now();
        const max = sliceMs();
        const slice = left === Infinity ? max : Math.max(0, Math.min(max, Math.ceil(left)));
        this._inflight++;
        call(this._ptr, slice, (err, status) => {
          this._inflight--;
          if (err) {
            this._maybeFree();
            return reject(err);
          }
          if (status === expired && performance.now() < deadline) {
            if (this._closed) this._maybeFree();
            return step();
          }
          try {
            resolve(done(status));
          } catch (e) {
            reject(e);
          } finally {
            this._maybeFree();
          }
        });
      };
      step();
    });
  }
}

/** Milliseconds as the C ABI wants them: undefined/null/negative -> -1 (forever). */
function msOrForever(timeout) {
  if (timeout == null) return -1;
  if (typeof timeout !== 'number' || Number.isNaN(timeout)) throw new TypeError('timeout must be a number of milliseconds');
  return timeout < 0 ? -1 : Math.ceil(timeout);
}

/** The `flags` of an `open` from its options: {create: true} -> CREATE_ONLY, {attach: true} -> ATTACH_ONLY. */
function openFlags(opts) {
  if (!opts) return 0;
  if (opts.create && opts.attach) throw new TypeError('create and attach are exclusive');
  return opts.create ? C.MP_OPEN_CREATE_ONLY : opts.attach ? C.MP_OPEN_ATTACH_ONLY : 0;
}

module.exports = { Handle, SLICE_MS, msOrForever, openFlags, runAsync, runWait, sliceMs };
