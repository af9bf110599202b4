'use strict';
// The manager client (mp_mgr_*) and an embedded server (mp_mgr_serve).
//
// Every call is one request of docs/PROTOCOL.md §4, sent from the thread
// pool (a call is a network round trip; the main thread never waits for
// it). Calls are pipelined: calls made while a batch is on the wire are
// queued and go out together as the next mp_mgr_call_many, so N concurrent
// `await d.get(k)` cost one pool round trip, not N. call_many also carries
// the server's message of each failure back (a failed mp_mgr_call leaves
// its message in the pool thread's last-error slot, out of reach).
//
// Blocking methods (lock acquire, queue get, event wait, ...) are sent with
// a timeout of at most SLICE_MS and repeated until the caller's deadline,
// so a long wait neither holds a pool thread nor holds up the calls queued
// behind it on this connection for more than a slice.
//
// When the server goes away, the batch that notices fails with MP_E_EOF and
// so does every later one until reconnect(): the connection is lost. A
// reconnect() takes its place in the same queue as calls (after the calls
// made before it, before those made after it) and runs mp_mgr_reconnect in
// slices on the pool, like the waits of lib/handle.js.

const { performance } = require('node:perf_hooks');
const { F, STATUS, takeBuf, readCString } = require('./ffi');
const { check, makeError, ClosedError, AbortError } = require('./errors');
const { Handle, SLICE_MS, runAsync, runWait, sliceMs } = require('./handle');
const { bytesOf } = require('./queue');
const cbor = require('./cbor');

const { MP_OK, MP_E_EOF, MP_E_TIMEOUT } = STATUS;
// An empty batch (the CBOR array []): sent on a lost connection, it fails at
// once with the library's message, without any I/O (see _lostMessage).
const EMPTY_BATCH = Buffer.from([0x80]);

function keyBytes(authkey) {
  if (authkey == null) return null;
  const k = bytesOf(authkey);
  return k.length ? k : null;
}

class Manager extends Handle {
  constructor(ptr, address) {
    super(ptr, F.mp_mgr_close, `manager connection to ${address}`);
    this.address = address;
    this._queue = [];
    this._busy = false;
    this._reconnects = 0; // reconnect() requests waiting in _queue
    this._connected = true;
  }

  /**
   * Whether the connection is up, as far as the binding knows: false once a
   * call has found it lost (until reconnect() succeeds) and after close(). A
   * server that died since the last call is noticed by the next call, not
   * here. Never blocks.
   */
  get connected() {
    return !this._closed && this._connected;
  }

  /**
   * Dials the same address again with the same authkey, replacing the
   * connection (lost or not), and waits up to `timeout` ms (default: for
   * ever) for a server to accept: while none listens there (it is
   * restarting), the dial is retried. Runs on the thread pool in slices, so
   * the event loop never waits, and `signal` or close() end it within a
   * slice. Calls made while it runs wait for it (they go to the new
   * connection); calls made before it go first.
   *
   * Resolves once connected; rejects with TimeoutError (no server in time:
   * the manager stays disconnected, calls fail with EOFError), AuthError,
   * AbortError, ClosedError. A restarted server starts empty: recreate what
   * you need. Nothing is retried automatically: a call that failed may or
   * may not have been applied by the old server.
   */
  reconnect(opts = {}) {
    const { timeout, signal } = opts;
    if (timeout != null && (typeof timeout !== 'number' || Number.isNaN(timeout))) {
      return Promise.reject(new TypeError('timeout must be a number of milliseconds'));
    }
    return new Promise((resolve, reject) => {
      this.ptr();
      this._queue.push({ reconnect: true, timeout, signal, resolve, reject });
      this._reconnects++;
      if (!this._busy) this._flush();
    });
  }

  /** Runs one reconnect() request (see reconnect), then the queue. */
  _runReconnect(r) {
    const deadline = r.timeout == null || r.timeout < 0 ? Infinity : performance.now() + r.timeout;
    const finish = (error) => {
      this._maybeFree();
      this._refreshConnected();
      if (error) r.reject(error);
      else r.resolve();
      this._flush();
    };
    const step = () => {
      if (this._closed) return finish(new ClosedError(`${this._what} was closed while reconnecting`));
      if (r.signal && r.signal.aborted) {
        return finish(new AbortError(`${this._what}: reconnect aborted`, r.signal.reason));
      }
      const left = deadline - performance.now();
      const max = sliceMs();
      const slice = left === Infinity ? max : Math.max(0, Math.min(max, Math.ceil(left)));
      this._inflight++;
      runWait(F.mp_mgr_reconnect, this._ptr, slice, (err, s) => {
        this._inflight--;
        if (err) return finish(err);
        if (s === MP_OK) return finish(null);
        if (s === MP_E_TIMEOUT && performance.now() < deadline) return step();
        // The library's message stayed on the pool thread.
        const why = s === MP_E_TIMEOUT ? `no server accepted within ${r.timeout} ms` : undefined;
        finish(makeError(s, `reconnect to the manager at ${this.address}`, why));
      });
    };
    step();
  }

  /**
   * Reads mp_mgr_is_connected into `_connected`. Called on the main thread
   * only when no call of this manager is running (they are serialised by
   * _flush), so the library's lock is free and this never waits.
   */
  _refreshConnected() {
    if (this._ptr === null) {
      this._connected = false;
      return;
    }
    const out = new Uint8Array(1);
    this._connected = F.mp_mgr_is_connected(this._ptr, out) === MP_OK && out[0] === 1;
  }

  /**
   * The library's message for a lost connection. The failing batch ran on a
   * pool thread, whose last-error slot is out of reach; but a lost connection
   * fails every later call at once, without I/O, with the same explanation,
   * so an empty batch on this thread reads it. Only called when
   * `_connected` is false and nothing else runs on this manager.
   */
  _lostMessage() {
    const mbuf = new BigUint64Array(2);
    const s = F.mp_mgr_call_many(this._ptr, EMPTY_BATCH, EMPTY_BATCH.length, mbuf);
    if (s === MP_OK) {
      takeBuf(mbuf);
      return undefined;
    }
    return F.mp_last_error();
  }

  /** The error of a batch that failed as a whole with status `s`. */
  _batchError(s) {
    this._refreshConnected();
    if (s === MP_E_EOF && !this._connected) return makeError(s, null, this._lostMessage());
    return makeError(s, this._what);
  }

  /**
   * Calls `method` of the object `name` of `kind` with `args` (docs/PROTOCOL.md
   * §4): resolves with the result; rejects with the server's status as an
   * error (NotFoundError for KeyError, IndexError, WrongTypeError, ...).
   */
  call(kind, name, method, ...args) {
    return new Promise((resolve, reject) => {
      this.ptr();
      this._queue.push({ req: [String(kind), String(name), String(method), args], resolve, reject });
      if (!this._busy) this._flush();
    });
  }

  _flush() {
    if (this._queue.length === 0) {
      this._busy = false;
      return;
    }
    if (this._closed) {
      const all = this._queue;
      this._queue = [];
      this._reconnects = 0;
      for (const c of all) c.reject(new ClosedError(`${this._what} is closed`));
      this._busy = false;
      return;
    }
    let batch;
    if (this._reconnects === 0) {
      batch = this._queue;
      this._queue = [];
    } else if (this._queue[0].reconnect) {
      this._reconnects--;
      this._busy = true;
      this._runReconnect(this._queue.shift());
      return;
    } else {
      // The calls made before the first pending reconnect.
      batch = this._queue.splice(0, this._queue.findIndex((c) => c.reconnect));
    }
    let reqs;
    try {
      // mp_mgr_call_many checks nesting from the batch array (one level
      // stricter than the server, which counts from each request): encoding
      // at depth 0 refuses here, with EncodeError, what it would refuse.
      reqs = cbor.encode(batch.map((c) => c.req));
    } catch (e) {
      // Find the culprit(s): encode one by one, send the rest.
      const ok = [];
      for (const c of batch) {
        try {
          cbor.encode([c.req]);
          ok.push(c);
        } catch (err) {
          c.reject(err);
        }
      }
      if (ok.length === batch.length) {
        for (const c of batch) c.reject(e);
        ok.length = 0;
      }
      this._queue = ok.concat(this._queue);
      return this._flush();
    }
    this._busy = true;
    this._inflight++;
    const mbuf = new BigUint64Array(2);
    runAsync(F.mp_mgr_call_many, this._ptr, reqs, reqs.length, mbuf, (err, s) => {
      this._inflight--;
      try {
        if (err) throw err;
        if (s !== MP_OK) throw this._batchError(s);
        const replies = cbor.decode(takeBuf(mbuf));
        batch.forEach((c, i) => {
          const [st, result] = replies[i];
          if (st === 0) c.resolve(result);
          else c.reject(makeError(st, `${c.req[0]} '${c.req[1]}'.${c.req[2]}`, String(result)));
        });
      } catch (e) {
        for (const c of batch) c.reject(e);
      }
      this._maybeFree();
      this._flush();
    });
  }

  /**
   * A blocking method called in slices: `args(sliceMs)` builds the argument
   * list; `expired(result, error)` says whether a slice ran out of time.
   */
  async _blocking(kind, name, method, args, timeout, expired) {
    const deadline = timeout == null || timeout < 0 ? Infinity : performance.now() + timeout;
    for (;;) {
      const left = deadline - performance.now();
      const slice = left === Infinity ? SLICE_MS : Math.max(0, Math.min(SLICE_MS, Math.ceil(left)));
      let result;
      let error = null;
      try {
        result = await this.call(kind, name, method, ...args(slice));
      } catch (e) {
        error = e;
      }
      if (!expired(result, error) || performance.now() >= deadline) {
        if (error) throw error;
        return result;
      }
    }
  }

  /** Creates `name` as `kind` with creation arguments (a semaphore's value, a barrier's parties, ...): true if created. */
  create(kind, name, ...args) {
    return this.call(kind, name, 'create', ...args);
  }

  /** Deletes the object `name`: true if it existed. */
  delete(name) {
    return this.call('manager', name, 'delete');
  }

  ping() {
    return this.call('manager', '', 'ping');
  }

  /** Every object: [[name, kind], ...], creation order. */
  objects() {
    return this.call('manager', '', 'list');
  }

  /** {objects, connections, requests}. */
  stats() {
    return this.call('manager', '', 'stats');
  }

  /** How long a call busy-polls for its reply, in µs (default 50; 0 = sleep at once). */
  setSpin(us) {
    check(F.mp_mgr_set_spin(this.ptr(), us >>> 0), this._what);
  }

  dict(name) { return new DictProxy(this, name); }
  list(name) { return new ListProxy(this, name); }
  value(name) { return new ValueProxy(this, name); }
  queue(name) { return new QueueProxy(this, name); }
  lock(name) { return new LockProxy(this, 'lock', name); }
  rlock(name) { return new LockProxy(this, 'rlock', name); }
  semaphore(name) { return new LockProxy(this, 'semaphore', name); }
  boundedSemaphore(name) { return new LockProxy(this, 'bounded_semaphore', name); }
  event(name) { return new EventProxy(this, name); }
  /** Any kind: a proxy whose `call(method, ...args)` calls it. */
  proxy(kind, name) { return new Proxy_(this, kind, name); }

  /**
   * The proxy of the object a ManagerRef names (a Python proxy received as a
   * value; docs/TYPES.md), of the class its kind has here (dict, list,
   * value, queue, the locks and semaphores, event; any other kind: `proxy`).
   * This manager must be connected to `ref.address`, which is not checked
   * (one server may have several spellings of its address).
   */
  open(ref) {
    const { kind, name } = ref;
    switch (kind) {
      case 'dict': return this.dict(name);
      case 'list': return this.list(name);
      case 'value': return this.value(name);
      case 'queue': return this.queue(name);
      case 'lock': case 'rlock': case 'semaphore': case 'bounded_semaphore':
        return new LockProxy(this, kind, name);
      case 'event': return this.event(name);
      default: return this.proxy(kind, name);
    }
  }

  /** Closes the connection (after the calls already sent); the server releases the locks it held. */
  close() {
    if (this._closed) return;
    super.close();
    if (!this._busy) this._flush();
  }
}

class Proxy_ {
  constructor(mgr, kind, name) {
    this.manager = mgr;
    this.kind = kind;
    this.name = String(name);
  }

  call(method, ...args) {
    return this.manager.call(this.kind, this.name, method, ...args);
  }

  /** Creates the object with creation arguments: true if it was created. */
  create(...args) {
    return this.call('create', ...args);
  }
}

class DictProxy extends Proxy_ {
  constructor(mgr, name) { super(mgr, 'dict', name); }
  /** d[k]; with a second argument, d.get(k, default). NotFoundError if absent without default. */
  get(key, ...dflt) { return this.call('get', key, ...dflt.slice(0, 1)); }
  set(key, value) { return this.call('set', key, value); }
  /** del d[k]: NotFoundError if absent. */
  delete(key) { return this.call('del', key); }
  has(key) { return this.call('contains', key); }
  len() { return this.call('len'); }
  keys() { return this.call('keys'); }
  values() { return this.call('values'); }
  /** [[key, value], ...] */
  items() { return this.call('items'); }
  /** A snapshot: a plain object for all-text keys, else a Map. */
  copy() { return this.call('copy'); }
  clear() { return this.call('clear'); }
  pop(key, ...dflt) { return this.call('pop', key, ...dflt.slice(0, 1)); }
  popitem() { return this.call('popitem'); }
  setdefault(key, dflt = null) { return this.call('setdefault', key, dflt); }
  /** Adds the entries of a Map, a plain object or an array of [k, v]: all or nothing. */
  update(entries) {
    const arg = entries instanceof Map || Array.isArray(entries) ? Array.from(entries) : Object.entries(entries);
    return this.call('update', arg);
  }
  /** Atomically adds `delta` (default 1) to the integer at `key` (absent = 0): the new value. */
  incr(key, delta = 1) { return this.call('incr', key, delta); }
  /** Sets `value` iff `key` is present and equal to `expected`: whether it did. */
  compareAndSet(key, expected, value) { return this.call('compare_and_set', key, expected, value); }
}

class ListProxy extends Proxy_ {
  constructor(mgr, name) { super(mgr, 'list', name); }
  append(x) { return this.call('append', x); }
  extend(xs) { return this.call('extend', Array.from(xs)); }
  insert(i, x) { return this.call('insert', i, x); }
  index(x, start = null, stop = null) { return this.call('index', x, start, stop); }
  count(x) { return this.call('count', x); }
  remove(x) { return this.call('remove', x); }
  pop(i = -1) { return this.call('pop', i); }
  reverse() { return this.call('reverse'); }
  sort(opts = {}) { return this.call('sort', !!opts.reverse); }
  /** l[i] (negative counts from the end): IndexError out of range. */
  get(i) { return this.call('getitem', i); }
  set(i, x) { return this.call('setitem', i, x); }
  delete(i) { return this.call('delitem', i); }
  /** l[start:stop] */
  slice(start = null, stop = null) { return this.call('getslice', start, stop); }
  setSlice(start, stop, xs) { return this.call('setslice', start, stop, Array.from(xs)); }
  deleteSlice(start = null, stop = null) { return this.call('delslice', start, stop); }
  len() { return this.call('len'); }
  includes(x) { return this.call('contains', x); }
  clear() { return this.call('clear'); }
  /** A snapshot as an Array. */
  copy() { return this.call('copy'); }
}

class ValueProxy extends Proxy_ {
  constructor(mgr, name) { super(mgr, 'value', name); }
  get() { return this.call('get'); }
  set(v) { return this.call('set', v); }
  incr(delta = 1) { return this.call('incr', delta); }
  compareAndSet(expected, value) { return this.call('compare_and_set', expected, value); }
}

class QueueProxy extends Proxy_ {
  constructor(mgr, name) { super(mgr, 'queue', name); }
  /** Puts, waiting at most `timeout` ms for room (default forever): FullError on expiry. */
  put(item, opts = {}) {
    return this.manager._blocking('queue', this.name, 'put', (t) => [item, t], opts.timeout,
      (r, e) => e && e.code === 'MP_E_FULL');
  }
  /** Gets, waiting at most `timeout` ms (default forever): EmptyError on expiry. */
  get(opts = {}) {
    return this.manager._blocking('queue', this.name, 'get', (t) => [t], opts.timeout,
      (r, e) => e && e.code === 'MP_E_EMPTY');
  }
  taskDone() { return this.call('task_done'); }
  join(opts = {}) {
    return this.manager._blocking('queue', this.name, 'join', (t) => [t], opts.timeout,
      (r, e) => e && e.code === 'MP_E_TIMEOUT');
  }
  qsize() { return this.call('qsize'); }
  empty() { return this.call('empty'); }
  full() { return this.call('full'); }
}

class LockProxy extends Proxy_ {
  /** Acquires, waiting at most `timeout` ms (default forever): true, or false on expiry. The server releases it if this connection drops. */
  acquire(opts = {}) {
    return this.manager._blocking(this.kind, this.name, 'acquire', (t) => [t], opts.timeout, (r, e) => !e && r === false);
  }
  /** Releases (a semaphore: `n` units). */
  release(n) { return n === undefined ? this.call('release') : this.call('release', n); }
  /** Lock/RLock: whether anyone holds it. */
  locked() { return this.call('locked'); }
  /** Semaphores: the current count. */
  value() { return this.call('get_value'); }
  /**
   * Lock/RLock at a Redis address: the fencing token of this client's hold,
   * a number that grows with every acquisition (docs/REDIS.md, "Locks and
   * semaphores are leases"); an mpipc manager server has no such method.
   */
  fence() { return this.call('fence'); }
  async withLock(fn, opts = {}) {
    if (!(await this.acquire(opts))) throw makeError(STATUS.MP_E_TIMEOUT, `${this.kind} '${this.name}': acquire`);
    try {
      return await fn();
    } finally {
      await this.release();
    }
  }
}

class EventProxy extends Proxy_ {
  constructor(mgr, name) { super(mgr, 'event', name); }
  set() { return this.call('set'); }
  clear() { return this.call('clear'); }
  isSet() { return this.call('is_set'); }
  wait(opts = {}) {
    return this.manager._blocking('event', this.name, 'wait', (t) => [t], opts.timeout, (r, e) => !e && r === false);
  }
}

/**
 * Connects to the manager at `address` (`unix:/path`, `unix:@name`,
 * `tcp:host:port`, or a Redis / Valkey server: `redis://host:port[/db][?ns=app]`,
 * `redis+unix:///path/redis.sock`, where `authkey` is the server's password;
 * docs/REDIS.md), authenticating with `authkey` if given, within `timeout`
 * ms (default 10 s).
 */
async function connectManager(address, authkey, opts = {}) {
  if (authkey != null && typeof authkey === 'object' && !(authkey instanceof Uint8Array) && !(authkey instanceof ArrayBuffer)) {
    opts = authkey;
    authkey = opts.authkey;
  }
  const key = keyBytes(authkey);
  const out = [null];
  const timeout = opts.timeout == null ? 10000 : opts.timeout;
  return new Promise((resolve, reject) => {
    runAsync(F.mp_mgr_connect, String(address), key, key ? key.length : 0, timeout, out, (err, s) => {
      if (err) return reject(err);
      if (s !== MP_OK) return reject(makeError(s, `connect to manager ${address}`));
      resolve(new Manager(out[0], String(address)));
    });
  });
}

/** A manager server in this process (mp_mgr_serve): for tests, or a Node process that hosts the objects. */
class ManagerServer {
  constructor(address, authkey) {
    const key = keyBytes(authkey);
    const out = [null];
    check(F.mp_mgr_serve(String(address), key, key ? key.length : 0, out), `manager server at ${address}`);
    this._ptr = out[0];
    const r = readCString(F.mp_mgr_server_address, this._ptr);
    check(r.status, 'manager server');
    /** The bound address (the real port after tcp:...:0). */
    this.address = r.value;
  }

  /** Stops serving (blocked calls get ShutdownError, clients then EOFError) and frees it; idempotent. */
  shutdown() {
    const p = this._ptr;
    if (p === null) return Promise.resolve();
    this._ptr = null;
    return new Promise((resolve, reject) => {
      runAsync(F.mp_mgr_server_shutdown, p, (err, s) => (err ? reject(err) : s !== MP_OK ? reject(makeError(s, 'manager server')) : resolve()));
    });
  }
}

/** Starts a manager server at `address` in this process. */
function serveManager(address, authkey) {
  return new ManagerServer(address, authkey);
}

module.exports = {
  Manager, connectManager, serveManager, ManagerServer,
  DictProxy, ListProxy, ValueProxy, QueueProxy, LockProxy, EventProxy,
};
