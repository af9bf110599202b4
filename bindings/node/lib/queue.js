'use strict';
// Queue / JoinableQueue over mpq_* (every mpq queue is joinable).
//
// Speed: put and get first try the C call with timeout 0 on the main thread
// (a few hundred ns, no allocation: the message is encoded into a shared
// scratch buffer and received into a per-handle buffer); when that would
// block, they retry it on the main thread for a short adaptive spin (at most
// `syncSpinUs`, lib/spin.js), and only then does the call go to the thread
// pool, in slices.

const { performance } = require('node:perf_hooks');
const { F, C, STATUS, takeBuf } = require('./ffi');
const { check, makeError, InvalidError, EncodeError } = require('./errors');
const { Handle, runWait } = require('./handle');
const { SyncSpin, checkSpinUs, defaultFromEnv } = require('./spin');
const cbor = require('./cbor');

const { MP_OK, MP_E_EMPTY, MP_E_FULL, MP_E_BUFSIZE, MP_E_TIMEOUT } = STATUS;
const RX_INITIAL = 64 * 1024;
const MANY_MAX_BYTES = 4 * 1024 * 1024;
// The default main-thread spin of new queues (Queue.syncSpinUs).
let defaultSyncSpinUs = defaultFromEnv();

function bytesOf(data) {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError('bytes must be a Uint8Array, Buffer, ArrayBuffer(View) or string');
}

class Queue extends Handle {
  /**
   * Opens (creates or attaches to) the queue `name`: a local name, or a
   * Redis / Valkey address (`redis://host:port[/db]/NAME[?opts]`,
   * `redis+unix:///path/redis.sock/NAME`; docs/REDIS.md), passed to
   * mpq_open as it is (the library tells the two apart).
   * @param {string} name
   * @param {{maxsize?: number, capacityBytes?: number, maxMessage?: number, mode?: number, create?: boolean, attach?: boolean, syncSpinUs?: number}} [opts]
   */
  constructor(name, opts = {}) {
    const spin = new SyncSpin(opts.syncSpinUs === undefined ? defaultSyncSpinUs : opts.syncSpinUs);
    const o = {
      maxsize: opts.maxsize || 0,
      capacity_bytes: opts.capacityBytes || 0,
      max_message: opts.maxMessage || 0,
      mode: opts.mode || 0,
      flags: opts.create ? C.MPQ_CREATE_ONLY : opts.attach ? C.MPQ_ATTACH_ONLY : 0,
    };
    if (opts.create && opts.attach) throw new TypeError('create and attach are exclusive');
    const out = [null];
    check(F.mpq_open(String(name), o, out), `queue '${name}'`);
    super(out[0], F.mpq_close, `queue '${name}'`);
    this.name = String(name);
    this._rx = Buffer.allocUnsafe(RX_INITIAL);
    this._len = new BigUint64Array(1);
    this._u8 = new Uint8Array(1);
    this._spin = spin;
  }

  /**
   * The main-thread spin of queues opened from now on, in µs (default 50,
   * or $MPIPC_NODE_SYNC_SPIN_US): the longest a put or get that would wait
   * holds the event loop, polling, before it waits on the thread pool.
   */
  static get syncSpinUs() {
    return defaultSyncSpinUs;
  }

  static set syncSpinUs(us) {
    defaultSyncSpinUs = checkSpinUs(us);
  }

  /** Sets this queue's main-thread spin maximum in µs (0 = wait on the pool at once); see Queue.syncSpinUs. */
  setSyncSpin(us) {
    this.ptr();
    this._spin.set(us);
  }

  /** This queue's main-thread spin maximum in µs. */
  get syncSpinUs() {
    return this._spin.maxUs;
  }

  /**
   * How long the main-thread spin of a call with options `opts` may last
   * (ms), or -1 if it must not spin: timeout 0 (one try) or an aborted signal.
   */
  _spinLimit(opts) {
    if (!opts) return Infinity;
    const t = opts.timeout;
    if (t === 0 || (opts.signal && opts.signal.aborted)) return -1;
    return t == null || t < 0 ? Infinity : t;
  }

  /** Removes the name; processes that have it open keep using it. */
  static unlink(name) {
    check(F.mpq_unlink(String(name)), `queue '${name}'`);
  }

  // ------------------------------------------------------------ put

  /** Puts `obj` (CBOR), waiting at most `timeout` ms for room (default forever); FullError on expiry. */
  put(obj, opts) {
    try {
      return this._put(obj, opts);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  _put(obj, opts) {
    const p = this.ptr();
    const data = cbor.encodeShared(obj);
    let s = F.mpq_put_timeout(p, data, data.length, 0);
    if (s === MP_OK) return Promise.resolve();
    if (s !== MP_E_FULL || (opts && opts.timeout === 0)) return Promise.reject(this._err(s, 'put', true));
    const t0 = performance.now();
    s = this._spinPut(p, data, opts);
    if (s === MP_OK) return Promise.resolve();
    if (s !== MP_E_FULL) return Promise.reject(this._err(s, 'put', true));
    return this._putSlow(Buffer.from(data), opts, t0);
  }

  /** Puts raw bytes (outside the CBOR contract), as put. */
  putBytes(data, opts) {
    try {
      return this._putBytes(data, opts);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  _putBytes(data, opts) {
    const p = this.ptr();
    const b = bytesOf(data);
    let s = F.mpq_put_timeout(p, b, b.length, 0);
    if (s === MP_OK) return Promise.resolve();
    if (s !== MP_E_FULL || (opts && opts.timeout === 0)) return Promise.reject(this._err(s, 'putBytes', true));
    const t0 = performance.now();
    s = this._spinPut(p, b, opts);
    if (s === MP_OK) return Promise.resolve();
    if (s !== MP_E_FULL) return Promise.reject(this._err(s, 'putBytes', true));
    return this._putSlow(Buffer.from(b), opts, t0);
  }

  /** Puts `obj` without waiting: true if put, false if the queue is full. */
  tryPut(obj) {
    const p = this.ptr();
    const data = cbor.encodeShared(obj);
    const s = F.mpq_put_timeout(p, data, data.length, 0);
    if (s === MP_OK) return true;
    if (s === MP_E_FULL) return false;
    throw this._err(s, 'tryPut', true);
  }

  /** The main-thread spin of a put that found the queue full: the last status. */
  _spinPut(p, data, opts) {
    const limit = this._spinLimit(opts);
    if (limit < 0) return MP_E_FULL;
    return this._spin.poll(() => F.mpq_put_timeout(p, data, data.length, 0), MP_E_FULL, limit);
  }

  _putSlow(data, opts = {}, t0 = performance.now()) {
    return this._sliced({
      timeout: opts.timeout,
      since: t0,
      signal: opts.signal,
      expired: MP_E_FULL,
      call: (p, slice, cb) => runWait(F.mpq_put_timeout, p, data, data.length, slice, cb),
      done: (s) => {
        if (s !== MP_OK) throw this._err(s, 'put', false);
        this._spin.parked(performance.now() - t0);
      },
    });
  }

  /**
   * Puts every value of `objs` in order, in as few C calls as fit (one lock
   * round trip per batch: mpq_put_many), waiting for room as put does.
   */
  async putMany(objs, opts = {}) {
    const values = Array.from(objs);
    for (let i = 0; i < values.length;) {
      // Encode a chunk of at most MANY_MAX_BYTES, then put it, maybe in parts.
      let j = i;
      const enc = new cbor.Encoder(64 * 1024);
      const lens = [];
      while (j < values.length && enc.pos < MANY_MAX_BYTES) {
        const start = enc.pos;
        try {
          enc.value(values[j], 0);
        } catch (e) {
          throw e instanceof RangeError ? new EncodeError(`cannot encode: ${e.message}`) : e;
        }
        lens.push(enc.pos - start);
        j++;
      }
      await this._putManyRaw(enc.buf.subarray(0, enc.pos), lens, opts);
      i = j;
    }
  }

  /** putMany for raw byte messages. */
  async putManyBytes(messages, opts = {}) {
    const bufs = Array.from(messages, bytesOf);
    for (let i = 0; i < bufs.length;) {
      let j = i;
      let total = 0;
      while (j < bufs.length && total < MANY_MAX_BYTES) total += bufs[j++].length;
      const part = bufs.slice(i, j);
      await this._putManyRaw(Buffer.concat(part), part.map((b) => b.length), opts);
      i = j;
    }
  }

  async _putManyRaw(data, lensArr, opts) {
    const n = lensArr.length;
    const lens = BigUint64Array.from(lensArr, BigInt);
    const out = new BigUint64Array(1);
    let off = 0;
    let k = 0;
    while (k < n) {
      const p = this.ptr();
      const rest = data.subarray(off);
      const restLens = lens.subarray(k);
      let s = F.mpq_put_many(p, rest, restLens, n - k, 0, out);
      const t0 = performance.now();
      if (s === MP_E_FULL) {
        const limit = this._spinLimit(opts);
        if (limit >= 0) s = this._spin.poll(() => F.mpq_put_many(p, rest, restLens, n - k, 0, out), MP_E_FULL, limit);
      }
      if (s === MP_E_FULL && opts.timeout !== 0) {
        const r = Buffer.from(rest);
        const rl = BigUint64Array.from(restLens);
        const o2 = new BigUint64Array(1);
        await this._sliced({
          timeout: opts.timeout,
          since: t0,
          signal: opts.signal,
          expired: MP_E_FULL,
          call: (pp, slice, cb) => runWait(F.mpq_put_many, pp, r, rl, n - k, slice, o2, cb),
          done: (st) => {
            if (st !== MP_OK) throw this._err(st, 'putMany', false);
            this._spin.parked(performance.now() - t0);
          },
        });
        out[0] = o2[0];
        s = MP_OK;
      }
      if (s !== MP_OK) throw this._err(s, 'putMany', true);
      const put = Number(out[0]);
      for (let i = 0; i < put; i++) off += lensArr[k + i];
      k += put;
    }
  }

  // ------------------------------------------------------------ get

  /** Takes the oldest value, waiting at most `timeout` ms (default forever); EmptyError on expiry. */
  get(opts) {
    try {
      return this._get(opts);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  _get(opts) {
    const p = this.ptr();
    let s = this._getInto(p);
    if (s === MP_OK) return Promise.resolve(this._decodeRx());
    if (s !== MP_E_EMPTY || (opts && opts.timeout === 0)) return Promise.reject(this._err(s, 'get', true));
    const t0 = performance.now();
    s = this._spinGet(p, opts);
    if (s === MP_OK) return Promise.resolve(this._decodeRx());
    if (s !== MP_E_EMPTY) return Promise.reject(this._err(s, 'get', true));
    return this._getSlow(opts, t0).then(cbor.decode);
  }

  /** Takes the oldest message as raw bytes (a Buffer), as get. */
  getBytes(opts) {
    try {
      return this._getBytes(opts);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  _getBytes(opts) {
    const p = this.ptr();
    let s = this._getInto(p);
    if (s === MP_OK) return Promise.resolve(this._rxBytes());
    if (s !== MP_E_EMPTY || (opts && opts.timeout === 0)) return Promise.reject(this._err(s, 'getBytes', true));
    const t0 = performance.now();
    s = this._spinGet(p, opts);
    if (s === MP_OK) return Promise.resolve(this._rxBytes());
    if (s !== MP_E_EMPTY) return Promise.reject(this._err(s, 'getBytes', true));
    return this._getSlow(opts, t0);
  }

  /** Takes the oldest value without waiting, or returns undefined if the queue is empty. */
  tryGet() {
    const s = this._getInto(this.ptr());
    if (s === MP_OK) return this._decodeRx();
    if (s === MP_E_EMPTY) return undefined;
    throw this._err(s, 'tryGet', true);
  }

  /** tryGet for raw bytes. */
  tryGetBytes() {
    const s = this._getInto(this.ptr());
    if (s === MP_OK) return Buffer.from(this._rx.subarray(0, Number(this._len[0])));
    if (s === MP_E_EMPTY) return undefined;
    throw this._err(s, 'tryGetBytes', true);
  }

  /** mpq_get_into with timeout 0 into the handle's buffer, growing it for a large message. */
  _getInto(p) {
    for (;;) {
      const s = F.mpq_get_into(p, this._rx, this._rx.length, this._len, 0);
      if (s !== MP_E_BUFSIZE) return s;
      this._rx = Buffer.allocUnsafe(Number(this._len[0]));
    }
  }

  _decodeRx() {
    return cbor.decode(this._rx.subarray(0, Number(this._len[0])));
  }

  /** A copy of the message in _rx. */
  _rxBytes() {
    return Buffer.from(this._rx.subarray(0, Number(this._len[0])));
  }

  /** The main-thread spin of a get that found the queue empty: the last status (a message is in _rx on MP_OK). */
  _spinGet(p, opts) {
    const limit = this._spinLimit(opts);
    if (limit < 0) return MP_E_EMPTY;
    return this._spin.poll(() => this._getInto(p), MP_E_EMPTY, limit);
  }

  _getSlow(opts = {}, t0 = performance.now()) {
    const mbuf = new BigUint64Array(2);
    return this._sliced({
      timeout: opts.timeout,
      since: t0,
      signal: opts.signal,
      expired: MP_E_EMPTY,
      call: (p, slice, cb) => runWait(F.mpq_get_timeout, p, mbuf, slice, cb),
      done: (s) => {
        if (s !== MP_OK) throw this._err(s, 'get', false);
        this._spin.parked(performance.now() - t0);
        return takeBuf(mbuf);
      },
    });
  }

  /**
   * Takes up to `maxN` values in one C call (mpq_get_many): waits (at most
   * `timeout` ms) for the first, then takes what is queued. EmptyError on expiry.
   */
  async getMany(maxN = 1024, opts = {}) {
    const r = await this._getManyRaw(maxN, opts);
    return each(r, cbor.decode);
  }

  /** getMany for raw bytes: an array of Buffers. */
  async getManyBytes(maxN = 1024, opts = {}) {
    const r = await this._getManyRaw(maxN, opts);
    return each(r, (v) => Buffer.from(v));
  }

  async _getManyRaw(maxN, opts) {
    if (!(maxN >= 1)) throw new InvalidError('getMany: maxN must be at least 1');
    let cap = Math.max(this._rx.length, 256 * 1024);
    for (;;) {
      const p = this.ptr();
      const buf = cap === this._rx.length ? this._rx : (this._rx = Buffer.allocUnsafe(cap));
      const lens = new BigUint64Array(maxN);
      const outN = new BigUint64Array(1);
      const outBytes = new BigUint64Array(1);
      let s = F.mpq_get_many(p, buf, cap, lens, maxN, 0, outN, outBytes);
      const t0 = performance.now();
      if (s === MP_E_EMPTY) {
        const limit = this._spinLimit(opts);
        if (limit >= 0) s = this._spin.poll(() => F.mpq_get_many(p, buf, cap, lens, maxN, 0, outN, outBytes), MP_E_EMPTY, limit);
      }
      if (s === MP_E_EMPTY && opts.timeout !== 0) {
        // Wait for the first message on the pool, into a buffer of its own.
        const abuf = Buffer.allocUnsafe(cap);
        s = await this._sliced({
          timeout: opts.timeout,
          since: t0,
          signal: opts.signal,
          expired: MP_E_EMPTY,
          call: (pp, slice, cb) => runWait(F.mpq_get_many, pp, abuf, cap, lens, maxN, slice, outN, outBytes, cb),
          done: (st) => {
            if (st === MP_OK) this._spin.parked(performance.now() - t0);
            return st;
          },
        });
        if (s === MP_OK) return { buf: abuf, lens, n: Number(outN[0]) };
      }
      if (s === MP_E_BUFSIZE) {
        cap = Math.max(cap * 2, Number(outBytes[0]));
        continue;
      }
      if (s !== MP_OK) throw this._err(s, 'getMany', false);
      return { buf, lens, n: Number(outN[0]) };
    }
  }

  // ------------------------------------------------------------ the rest

  /** The exact number of messages queued. */
  qsize() {
    check(F.mpq_qsize(this.ptr(), this._len), this._what);
    return Number(this._len[0]);
  }

  /** Whether the queue holds no message. */
  empty() {
    check(F.mpq_empty(this.ptr(), this._u8), this._what);
    return this._u8[0] !== 0;
  }

  /** Whether the queue holds maxsize messages (always false when unbounded). */
  full() {
    check(F.mpq_full(this.ptr(), this._u8), this._what);
    return this._u8[0] !== 0;
  }

  /** Marks one task done (JoinableQueue); InvalidError if called more times than values were put. */
  taskDone() {
    check(F.mpq_task_done(this.ptr()), `${this._what}: taskDone`);
  }

  /** Resolves once every value put has been marked done; TimeoutError after `timeout` ms. */
  join(opts = {}) {
    this.ptr();
    return this._sliced({
      timeout: opts.timeout,
      signal: opts.signal,
      expired: MP_E_TIMEOUT,
      call: (p, slice, cb) => runWait(F.mpq_join, p, slice, cb),
      done: (s) => {
        if (s !== MP_OK) throw this._err(s, 'join', false);
      },
    });
  }

  /** Shuts the queue down for every process (Python 3.13): puts fail, gets drain then fail (ShutdownError). */
  shutdown(opts = {}) {
    check(F.mpq_shutdown(this.ptr(), !!opts.immediate), `${this._what}: shutdown`);
  }

  /** The queue's actual sizes: {maxsize, capacityBytes, maxMessage}. */
  get options() {
    const o = {};
    check(F.mpq_options_of(this.ptr(), o), this._what);
    return { maxsize: Number(o.maxsize), capacityBytes: Number(o.capacity_bytes), maxMessage: Number(o.max_message) };
  }

  /** How long a blocked call spins before sleeping, in µs (default 50; 0 = never). */
  setSpin(us) {
    check(F.mpq_set_spin(this.ptr(), us >>> 0), this._what);
  }

  /** Iterates over values as they arrive, until the queue is shut down and drained. */
  async *[Symbol.asyncIterator]() {
    for (;;) {
      try {
        yield await this.get();
      } catch (e) {
        if (e.code === 'MP_E_SHUTDOWN') return;
        throw e;
      }
    }
  }

  _err(status, op, sync) {
    return makeError(status, `${this._what}: ${op}`, sync ? F.mp_last_error() : undefined);
  }

  _beforeFree() {
    this._rx = null;
  }
}

/** Maps `fn` over the messages packed in a batch ({buf, lens, n}), each a view of `buf`. */
function each({ buf, lens, n }, fn) {
  const out = new Array(n);
  let off = 0;
  for (let i = 0; i < n; i++) {
    const len = Number(lens[i]);
    out[i] = fn(buf.subarray(off, off + len));
    off += len;
  }
  return out;
}

module.exports = { Queue, bytesOf };
