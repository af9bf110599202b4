'use strict';
// Named Lock, RLock, Condition, Semaphore, BoundedSemaphore, Event and
// Barrier (mp_lock_*, mp_cond_*, mp_sem_*, mp_event_*, mp_barrier_*).
//
// Locks and conditions are operated by the process's lock owner thread
// (lib/owner.js says why): to JavaScript, the *process* holds a lock. A
// second acquire of a Lock the process holds waits for its release (JS
// tasks exclude each other, as Python threads do); an RLock is re-entered
// by any task of the process. Semaphores, events and barriers have no
// owner: they wait in slices on the thread pool like queues.

const { F, C, STATUS } = require('./ffi');
const { check, makeError, ClosedError, PermError } = require('./errors');
const { Handle, msOrForever, openFlags, runWait } = require('./handle');
const { getOwner } = require('./owner');

const { MP_OK, MP_E_TIMEOUT, MP_E_OWNER_DEAD } = STATUS;
const CLOSED_WHILE_WAITING = -1000;

function ownerDiedWarning(what) {
  process.emitWarning(
    `${what}: acquired from a holder that died holding it; the data it guards may be half updated (the lock is held)`,
    { type: 'OwnerDiedWarning', code: 'MP_E_OWNER_DEAD' },
  );
}

/**
 * The main thread's side of a lock operated by the owner thread: the
 * registration, the depth this process holds, and the requests. Used by
 * Lock/RLock and by SharedArray's lock.
 *
 * `depth` counts this handle's granted acquires minus the releases it has
 * sent: what lets release(), notify() and the array accessors answer
 * synchronously, without a round trip. It cannot be asked of the lock
 * from here (the lock's holder is the owner thread, not this one); the
 * owner thread asks the lock itself (mp_lock_held_by_me) wherever it
 * decides something.
 */
class OwnedLock {
  constructor(handle, kind) {
    this.h = handle;
    this.kind = kind; // 'lock' | 'rlock' | 'array'
    this.key = 0;
    this.registered = null;
    this.depth = 0;
    this.ownerDied = false;
    this.onDepth = null; // called with +1/-1 (SharedArray tracks it by name)
  }

  _register() {
    if (this.registered === null) {
      const o = getOwner();
      this.key = o.key();
      this.registered = o.request({ op: 'register', key: this.key, kind: this.kind, ptr: this.h.ptr() });
    }
    return this.registered;
  }

  async _request(msg) {
    const h = this.h;
    h.ptr();
    await this._register();
    h._inflight++;
    try {
      return await getOwner().request({ ...msg, key: this.key });
    } finally {
      h._inflight--;
      h._maybeFree();
    }
  }

  _took(what) {
    this.depth++;
    if (this.onDepth) this.onDepth(1);
  }

  async acquire(opts = {}) {
    const what = this.h._what;
    const r = await this._request({ op: 'acquire', timeout: msOrForever(opts.timeout) });
    switch (r.status) {
      case MP_OK:
        this._took();
        return true;
      case MP_E_OWNER_DEAD:
        this._took();
        this.ownerDied = true;
        ownerDiedWarning(what);
        return true;
      case MP_E_TIMEOUT:
        return false;
      case CLOSED_WHILE_WAITING:
        throw new ClosedError(`${what} was closed while waiting`);
      default:
        throw makeError(r.status, `${what}: acquire`, r.message);
    }
  }

  release() {
    const what = this.h._what;
    this.h.ptr();
    if (this.depth === 0) throw new PermError(`${what}: release of a lock this process does not hold`);
    this.depth--;
    if (this.onDepth) this.onDepth(-1);
    getOwner().request({ op: 'release', key: this.key }).then((r) => {
      if (r.status !== MP_OK) process.emitWarning(`${what}: release failed: ${r.message}`, { code: 'MP_E_PERM' });
    });
  }

  /** close() of the owning handle: the worker drops and releases, then the C handle is freed. */
  close() {
    const h = this.h;
    if (this.registered === null) return;
    if (this.onDepth && this.depth) this.onDepth(-this.depth);
    this.depth = 0;
    h._inflight++;
    this.registered
      .then(() => getOwner().request({ op: 'forget', key: this.key }))
      .finally(() => {
        h._inflight--;
        h._maybeFree();
      });
  }
}

class Lock extends Handle {
  /**
   * Opens (creates or attaches to) the named lock.
   * @param {string} name
   * @param {{create?: boolean, attach?: boolean}} [opts]
   */
  constructor(name, opts = {}, recursive = false) {
    const out = [null];
    const kind = recursive ? 'rlock' : 'lock';
    check(F.mp_lock_open(String(name), openFlags(opts) | (recursive ? C.MP_LOCK_RECURSIVE : 0), out), `${kind} '${name}'`);
    super(out[0], F.mp_lock_close, `${kind} '${name}'`);
    this.name = String(name);
    this._own = new OwnedLock(this, kind);
  }

  /** Removes the name; open handles keep working. */
  static unlink(name) {
    check(F.mp_lock_unlink(String(name)), `lock '${name}'`);
  }

  /**
   * Acquires, waiting at most `timeout` ms (default forever): true, or false
   * on expiry. If the previous holder died holding it, the lock is acquired
   * all the same (true), `ownerDied` becomes true and an OwnerDiedWarning is
   * emitted: repair the data it guards.
   */
  acquire(opts) {
    return this._own.acquire(opts);
  }

  /** Releases (one level of an RLock); PermError if this process does not hold it. */
  release() {
    this._own.release();
  }

  /** Runs `fn` holding the lock; TimeoutError if it could not be acquired within `timeout` ms. */
  async withLock(fn, opts = {}) {
    if (!(await this.acquire(opts))) throw makeError(MP_E_TIMEOUT, `${this._what}: acquire`);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** How many times this process's acquisitions nest (0 = not held by this process). */
  get depth() {
    return this._own.depth;
  }

  /** Whether an acquire by this handle took the lock from a holder that died. */
  get ownerDied() {
    return this._own.ownerDied;
  }

  /** How many holders have died holding this lock since it was created. */
  ownerDeaths() {
    const out = new BigUint64Array(1);
    check(F.mp_lock_owner_deaths(this.ptr(), out), this._what);
    return Number(out[0]);
  }

  /** Closes the handle; a lock this process holds through it is released first. */
  close() {
    if (this._closed) return;
    this._own.close();
    super.close();
  }
}

class RLock extends Lock {
  /** Opens the named recursive lock (the holder may acquire again and must release as many times). */
  constructor(name, opts = {}) {
    super(name, opts, true);
  }
}

class Condition extends Handle {
  /**
   * Opens the named condition, used with `lock` (a Lock or RLock), as
   * Python's Condition(lock). The waiter and the notifier of one condition
   * are meant to be in different processes: within one process, a wait
   * holds the lock owner thread's attention for that lock until it ends.
   */
  constructor(name, lock, opts = {}) {
    if (!(lock instanceof Lock)) throw new TypeError('Condition needs a Lock or RLock');
    const out = [null];
    check(F.mp_cond_open(String(name), openFlags(opts), out), `condition '${name}'`);
    super(out[0], F.mp_cond_close, `condition '${name}'`);
    this.name = String(name);
    this.lock = lock;
    this._used = false;
  }

  static unlink(name) {
    check(F.mp_cond_unlink(String(name)), `condition '${name}'`);
  }

  acquire(opts) {
    return this.lock.acquire(opts);
  }

  release() {
    this.lock.release();
  }

  withLock(fn, opts) {
    return this.lock.withLock(fn, opts);
  }

  /**
   * Releases the lock, waits for a notification at most `timeout` ms
   * (default forever), then holds the lock again: true if notified, false
   * on expiry. PermError if this process does not hold the lock.
   */
  async wait(opts = {}) {
    const cond = this.ptr();
    const own = this.lock._own;
    if (own.depth === 0) throw new PermError(`${this._what}: wait without holding the lock`);
    this._used = true;
    this._inflight++;
    let r;
    try {
      r = await own._request({ op: 'condwait', cond, timeout: msOrForever(opts.timeout) });
    } finally {
      this._inflight--;
      this._maybeFree();
    }
    switch (r.status) {
      case MP_OK:
        return true;
      case MP_E_TIMEOUT:
        return false;
      case MP_E_OWNER_DEAD:
        own.ownerDied = true;
        ownerDiedWarning(this.lock._what);
        return true;
      case CLOSED_WHILE_WAITING:
        throw new ClosedError(`${this._what} was closed while waiting`);
      default:
        throw makeError(r.status, `${this._what}: wait`, r.message);
    }
  }

  /** Waits until `predicate()` is true (checked with the lock held), at most `timeout` ms: its last value. */
  async waitFor(predicate, opts = {}) {
    const end = opts.timeout == null || opts.timeout < 0 ? Infinity : Date.now() + opts.timeout;
    let v = predicate();
    while (!v) {
      const left = end - Date.now();
      if (left <= 0) break;
      await this.wait({ timeout: end === Infinity ? undefined : left });
      v = predicate();
    }
    return v;
  }

  /** Wakes up to `n` (default 1) waiters, oldest first. PermError if this process does not hold the lock. */
  notify(n = 1) {
    this._notify({ n: Math.max(0, n | 0) });
  }

  /** Wakes every waiter. */
  notifyAll() {
    this._notify({ all: true });
  }

  _notify(what) {
    const cond = this.ptr();
    const own = this.lock._own;
    if (own.depth === 0) throw new PermError(`${this._what}: notify without holding the lock`);
    this._used = true;
    this._inflight++;
    own._request({ op: 'notify', cond, ...what }).then((r) => {
      if (r.status !== MP_OK) process.emitWarning(`${this._what}: notify failed: ${r.message}`);
    }).finally(() => {
      this._inflight--;
      this._maybeFree();
    });
  }

  close() {
    if (this._closed) return;
    if (this._used) {
      const cond = this._ptr;
      this._inflight++;
      getOwner().request({ op: 'forgetcond', cond }).finally(() => {
        this._inflight--;
        this._maybeFree();
      });
    }
    super.close();
  }
}

class Semaphore extends Handle {
  /**
   * Opens the named semaphore, created with `value` units (default 1;
   * ignored when attaching). {bounded: true}: a BoundedSemaphore.
   */
  constructor(name, value = 1, opts = {}) {
    const out = [null];
    check(F.mp_sem_open(String(name), value >>> 0, openFlags(opts) | (opts.bounded ? C.MP_SEM_BOUNDED : 0), out), `semaphore '${name}'`);
    super(out[0], F.mp_sem_close, `semaphore '${name}'`);
    this.name = String(name);
  }

  static unlink(name) {
    check(F.mp_sem_unlink(String(name)), `semaphore '${name}'`);
  }

  /** Takes one unit, waiting at most `timeout` ms (default forever): true, or false on expiry. */
  async acquire(opts = {}) {
    const s = F.mp_sem_acquire(this.ptr(), 0);
    if (s === MP_OK) return Promise.resolve(true);
    if (s !== MP_E_TIMEOUT) return Promise.reject(makeError(s, `${this._what}: acquire`, F.mp_last_error()));
    if (opts.timeout === 0) return Promise.resolve(false);
    return this._sliced({
      timeout: opts.timeout,
      signal: opts.signal,
      expired: MP_E_TIMEOUT,
      call: (p, slice, cb) => runWait(F.mp_sem_acquire, p, slice, cb),
      done: (st) => {
        if (st === MP_OK) return true;
        if (st === MP_E_TIMEOUT) return false;
        throw makeError(st, `${this._what}: acquire`);
      },
    });
  }

  /** Returns one unit; InvalidError for a BoundedSemaphore released above its initial value. */
  release() {
    check(F.mp_sem_release(this.ptr()), `${this._what}: release`);
  }

  /** The current count (a snapshot). */
  get value() {
    const out = new Uint32Array(1);
    check(F.mp_sem_value(this.ptr(), out), this._what);
    return out[0];
  }
}

class BoundedSemaphore extends Semaphore {
  constructor(name, value = 1, opts = {}) {
    super(name, value, { ...opts, bounded: true });
  }
}

class Event extends Handle {
  /** Opens (creates clear, or attaches to) the named event. */
  constructor(name, opts = {}) {
    const out = [null];
    check(F.mp_event_open(String(name), openFlags(opts), out), `event '${name}'`);
    super(out[0], F.mp_event_close, `event '${name}'`);
    this.name = String(name);
    this._u8 = new Uint8Array(1);
  }

  static unlink(name) {
    check(F.mp_event_unlink(String(name)), `event '${name}'`);
  }

  /** Sets the flag, waking every waiter. */
  set() {
    check(F.mp_event_set(this.ptr()), this._what);
  }

  /** Clears the flag. */
  clear() {
    check(F.mp_event_clear(this.ptr()), this._what);
  }

  /** Whether the flag is set. */
  isSet() {
    check(F.mp_event_is_set(this.ptr(), this._u8), this._what);
    return this._u8[0] !== 0;
  }

  /** Waits until the flag is set, at most `timeout` ms (default forever): true, or false on expiry. */
  async wait(opts = {}) {
    if (this.isSet()) return Promise.resolve(true);
    if (opts.timeout === 0) return Promise.resolve(false);
    return this._sliced({
      timeout: opts.timeout,
      signal: opts.signal,
      expired: MP_E_TIMEOUT,
      call: (p, slice, cb) => runWait(F.mp_event_wait, p, slice, cb),
      done: (st) => {
        if (st === MP_OK) return true;
        if (st === MP_E_TIMEOUT) return false;
        throw makeError(st, `${this._what}: wait`);
      },
    });
  }
}

class Barrier extends Handle {
  /** Opens the named barrier for `parties` parties (0 attaches to any). */
  constructor(name, parties, opts = {}) {
    const out = [null];
    check(F.mp_barrier_open(String(name), parties >>> 0, openFlags(opts), out), `barrier '${name}'`);
    super(out[0], F.mp_barrier_close, `barrier '${name}'`);
    this.name = String(name);
    this._u32 = new Uint32Array(1);
    this._u8 = new Uint8Array(1);
  }

  static unlink(name) {
    check(F.mp_barrier_unlink(String(name)), `barrier '${name}'`);
  }

  /**
   * Waits until every party has called wait, at most `timeout` ms (default
   * forever): this party's arrival index. BrokenError if the barrier is or
   * gets broken; a timeout breaks it for everyone, as in Python. (Not
   * sliced, since an expiring slice would break the barrier: the wait holds
   * one pool thread until the barrier trips or breaks.)
   */
  async wait(opts = {}) {
    const idx = new Uint32Array(1);
    return this._async(F.mp_barrier_wait, [msOrForever(opts.timeout), idx]).then((s) => {
      if (s !== MP_OK) throw makeError(s, `${this._what}: wait`);
      return idx[0];
    });
  }

  /** Breaks the barrier: current and later waits fail with BrokenError until reset. */
  abort() {
    check(F.mp_barrier_abort(this.ptr()), this._what);
  }

  /** Returns the barrier to its initial state; current waiters get BrokenError. */
  reset() {
    check(F.mp_barrier_reset(this.ptr()), this._what);
  }

  get parties() {
    check(F.mp_barrier_parties(this.ptr(), this._u32), this._what);
    return this._u32[0];
  }

  get nWaiting() {
    check(F.mp_barrier_n_waiting(this.ptr(), this._u32), this._what);
    return this._u32[0];
  }

  get broken() {
    check(F.mp_barrier_broken(this.ptr(), this._u8), this._what);
    return this._u8[0] !== 0;
  }
}

module.exports = {
  Lock, RLock, Condition, Semaphore, BoundedSemaphore, Event, Barrier, OwnedLock, ownerDiedWarning,
};
