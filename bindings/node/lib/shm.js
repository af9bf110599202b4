'use strict';
// SharedMemory, SharedArray / Value and ShareableList (mp_shm_*, mp_array_*,
// mp_value_*, mp_slist_*).
//
// Zero copy: SharedMemory#buffer and SharedArray#view are an ArrayBuffer and
// a TypedArray over the shared mapping itself (koffi.view). JavaScript
// cannot detach such a buffer, so a view must never outlive the mapping:
// close() marks the handle closed at once (every method then throws
// ClosedError), but the C handle, and with it the mapping, is freed only
// once the view has been garbage collected. A view kept after close() thus
// still reads and writes the (unlinked or not) shared memory, safely,
// instead of crashing the process.

const { F, C, STATUS, koffi, takeBuf } = require('./ffi');
const { check, makeError, InvalidError, WrongTypeError } = require('./errors');
const { Handle, openFlags } = require('./handle');
const { OwnedLock } = require('./sync');
const cbor = require('./cbor');

const { MP_OK, MP_E_OWNER_DEAD } = STATUS;

// A view keeps its handle's mapping alive: one "in flight" use per view,
// ended by the garbage collector.
const viewRegistry = new FinalizationRegistry((h) => {
  h._inflight--;
  h._maybeFree();
});

function makeView(handle, ptr, bytes) {
  const ab = bytes > 0 ? koffi.view(ptr, bytes) : new ArrayBuffer(0);
  if (bytes > 0) {
    handle._inflight++;
    viewRegistry.register(ab, handle);
  }
  return ab;
}

// mp_shm_open's MP_SHM_RAW: a raw POSIX block /dev/shm/<name>, no mpipc header.
const { MP_SHM_RAW } = C;

class SharedMemory extends Handle {
  /**
   * Opens the named block: creates it with `size` zeroed bytes, or attaches
   * (the size must match; 0 attaches to any size). With `{ raw: true }`: a
   * raw POSIX block `/dev/shm/<name>` with no mpipc header, as Python's
   * stock multiprocessing.shared_memory makes them (pass its `name`; a
   * leading '/' is ignored); created with mode 0600, removed with
   * `SharedMemory.unlink(name, { raw: true })`.
   */
  constructor(name, size = 0, opts = {}) {
    const out = [null];
    const flags = openFlags(opts) | (opts && opts.raw ? MP_SHM_RAW : 0);
    check(F.mp_shm_open(String(name), size, flags, out), `shared memory '${name}'`);
    super(out[0], F.mp_shm_close, `shared memory '${name}'`);
    this.name = String(name);
    this.size = Number(F.mp_shm_size(out[0]));
    this.raw = Boolean(opts && opts.raw);
    this._buffer = null;
  }

  /** Removes the name (`{ raw: true }`: a raw POSIX block's). */
  static unlink(name, opts = {}) {
    const fn = opts && opts.raw ? F.mp_shm_unlink_raw : F.mp_shm_unlink;
    check(fn(String(name)), `shared memory '${name}'`);
  }

  /** The block as an ArrayBuffer over the shared memory (no copy; the bytes are yours to synchronise). */
  get buffer() {
    const p = this.ptr();
    if (this._buffer === null) this._buffer = makeView(this, F.mp_shm_ptr(p), this.size);
    return this._buffer;
  }

  close() {
    this._buffer = null;
    super.close();
  }
}

// typecode -> [TypedArray, min, max] (64-bit Linux sizes, as the C ABI)
const TYPES = {
  c: [Uint8Array, 0, 255],
  b: [Int8Array, -128, 127],
  B: [Uint8Array, 0, 255],
  h: [Int16Array, -32768, 32767],
  H: [Uint16Array, 0, 65535],
  i: [Int32Array, -(2 ** 31), 2 ** 31 - 1],
  I: [Uint32Array, 0, 2 ** 32 - 1],
  l: [BigInt64Array, -(2n ** 63n), 2n ** 63n - 1n],
  L: [BigUint64Array, 0n, 2n ** 64n - 1n],
  q: [BigInt64Array, -(2n ** 63n), 2n ** 63n - 1n],
  Q: [BigUint64Array, 0n, 2n ** 64n - 1n],
  f: [Float32Array],
  d: [Float64Array],
};
const UNSIGNED = new Set(['c', 'B', 'H', 'I', 'L', 'Q']);

// How deep this process holds each array's lock (by name, so that every
// handle of the process knows): while held, the element accessors use the
// memory directly, since the C accessors would wait for the lock that this
// process's owner thread holds.
const heldByName = new Map();

function toJs(v) {
  if (typeof v === 'bigint') return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
  return v;
}

class SharedArray extends Handle {
  /**
   * Opens the named array of `length` elements of `typecode` (Python's
   * Array: `c b B h H i I l L q Q f d`), created zeroed, or attached (the
   * typecode and length must match; length 0 attaches to any length).
   * {lock: false} creates it without a lock (Python's lock=False).
   */
  constructor(name, typecode, length = 0, opts = {}, isValue = false) {
    if (!TYPES[typecode]) throw new InvalidError(`unknown typecode ${JSON.stringify(typecode)}`);
    const out = [null];
    const flags = openFlags(opts) | (opts.lock === false ? C.MP_ARRAY_NO_LOCK : 0);
    const what = `${isValue ? 'value' : 'array'} '${name}'`;
    const tc = typecode.charCodeAt(0);
    check(isValue ? F.mp_value_open(String(name), tc, flags, out) : F.mp_array_open(String(name), tc, length, flags, out), what);
    super(out[0], F.mp_array_close, what);
    const p = out[0];
    this.name = String(name);
    this.typecode = String.fromCharCode(F.mp_array_typecode(p));
    this.length = Number(F.mp_array_len(p));
    this.itemsize = Number(F.mp_array_itemsize(p));
    this._view = null;
    this._i64 = new BigInt64Array(1);
    this._u64 = new BigUint64Array(1);
    this._f64 = new Float64Array(1);
    this._own = new OwnedLock(this, 'array');
    this._own.onDepth = (d) => heldByName.set(this.name, (heldByName.get(this.name) || 0) + d);
  }

  static unlink(name) {
    check(F.mp_array_unlink(String(name)), `array '${name}'`);
  }

  /**
   * The elements as a TypedArray over the shared memory (no copy, no lock):
   * Uint8Array for c/B, Int8Array b, Int16Array h, Uint16Array H, Int32Array
   * i, Uint32Array I, BigInt64Array l/q, BigUint64Array L/Q, Float32Array
   * f, Float64Array d. Hold the lock (lock()/withLock()) around
   * read-modify-write sequences.
   */
  get view() {
    const p = this.ptr();
    if (this._view === null) {
      const ab = makeView(this, F.mp_array_ptr(p), this.length * this.itemsize);
      this._view = new TYPES[this.typecode][0](ab);
    }
    return this._view;
  }

  _heldHere() {
    return (heldByName.get(this.name) || 0) > 0;
  }

  _index(i) {
    if (!Number.isInteger(i)) throw new TypeError('index must be an integer');
    if (i < 0) i += this.length;
    if (i < 0 || i >= this.length) throw makeError(STATUS.MP_E_INDEX, `${this._what}: index ${i} out of range`);
    return i;
  }

  _status(s, op, value) {
    if (s === MP_OK) return value;
    if (s === MP_E_OWNER_DEAD) {
      require('./sync').ownerDiedWarning(this._what);
      return value;
    }
    throw makeError(s, `${this._what}: ${op}`, F.mp_last_error());
  }

  /** Element `i` (negative counts from the end), read under the lock: a number, or a BigInt beyond 2^53. */
  get(i) {
    const p = this.ptr();
    const idx = this._index(i);
    if (this._heldHere()) return toJs(this.view[idx]);
    const t = this.typecode;
    if (t === 'f' || t === 'd') return this._status(F.mp_array_get_f64(p, idx, this._f64), 'get', this._f64[0]);
    if (UNSIGNED.has(t)) return this._status(F.mp_array_get_u64(p, idx, this._u64), 'get', toJs(this._u64[0]));
    return this._status(F.mp_array_get_i64(p, idx, this._i64), 'get', toJs(this._i64[0]));
  }

  /** Writes element `i` under the lock: InvalidError out of the typecode's range, WrongTypeError for a float into an integer array. */
  set(i, value) {
    const p = this.ptr();
    const idx = this._index(i);
    const t = this.typecode;
    if (this._heldHere()) return this._setDirect(idx, value);
    if (t === 'f' || t === 'd') {
      if (typeof value !== 'number' && typeof value !== 'bigint') throw new WrongTypeError(`${this._what}: a number is needed`);
      return this._status(F.mp_array_set_f64(p, idx, Number(value)), 'set');
    }
    const v = this._intArg(value);
    if (v < 0n) return this._status(F.mp_array_set_i64(p, idx, v), 'set');
    if (v > 2n ** 63n - 1n) return this._status(F.mp_array_set_u64(p, idx, v), 'set');
    return this._status(F.mp_array_set_i64(p, idx, v), 'set');
  }

  _intArg(value) {
    if (typeof value === 'bigint') {
      if (value < -(2n ** 63n) || value >= 2n ** 64n) throw new InvalidError(`${this._what}: ${value} out of range`);
      return value;
    }
    if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
    if (typeof value === 'number') throw new WrongTypeError(`${this._what}: a float into an integer array`);
    throw new WrongTypeError(`${this._what}: an integer is needed`);
  }

  _setDirect(idx, value) {
    const [Ctor, lo, hi] = TYPES[this.typecode];
    if (lo === undefined) {
      if (typeof value !== 'number' && typeof value !== 'bigint') throw new WrongTypeError(`${this._what}: a number is needed`);
      this.view[idx] = Number(value);
      return;
    }
    const v = this._intArg(value);
    if (v < BigInt(lo) || v > BigInt(hi)) throw new InvalidError(`${this._what}: ${value} out of range for '${this.typecode}'`);
    this.view[idx] = Ctor === BigInt64Array || Ctor === BigUint64Array ? v : Number(v);
  }

  /** Atomically adds `delta` (default 1) to integer element `i`: the new value. */
  incr(i, delta = 1) {
    const p = this.ptr();
    const idx = this._index(i);
    if (this._heldHere()) {
      const nv = BigInt(this.get(idx)) + BigInt(delta);
      this._setDirect(idx, nv);
      return toJs(nv);
    }
    return this._status(F.mp_array_incr(p, idx, BigInt(delta), this._i64), 'incr', toJs(this._i64[0]));
  }

  /** Every element, copied under the lock, as a plain array of numbers (BigInt beyond 2^53). */
  toArray() {
    return Array.from(this.read(0, this.length), toJs);
  }

  /** Copies `count` elements from `start` under the lock into a new TypedArray. */
  read(start = 0, count = this.length - start) {
    const p = this.ptr();
    const out = new TYPES[this.typecode][0](count);
    if (this._heldHere()) {
      out.set(this.view.subarray(start, start + count));
      return out;
    }
    this._status(F.mp_array_read(p, start, out, count), 'read');
    return out;
  }

  /** Copies `data` (a TypedArray of this typecode's type, or an array of numbers) to the elements from `start`, under the lock. */
  write(start, data) {
    const p = this.ptr();
    const Ctor = TYPES[this.typecode][0];
    const src = data instanceof Ctor ? data : Ctor.from(data, (x) => (Ctor === BigInt64Array || Ctor === BigUint64Array ? BigInt(x) : x));
    if (this._heldHere()) {
      if (start + src.length > this.length) throw makeError(STATUS.MP_E_INDEX, `${this._what}: write past the end`);
      this.view.set(src, start);
      return;
    }
    this._status(F.mp_array_write(p, start, src, src.length), 'write');
  }

  /**
   * Acquires the array's (recursive) lock for this process, at most
   * `timeout` ms: true, or false on expiry. UnsupportedError for an array
   * made without a lock. Meanwhile get/set/incr use the memory directly.
   */
  lock(opts) {
    return this._own.acquire(opts);
  }

  /** Releases one level of the lock. */
  unlock() {
    this._own.release();
  }

  /** Runs `fn(view)` holding the lock. */
  async withLock(fn, opts = {}) {
    if (!(await this.lock(opts))) throw makeError(STATUS.MP_E_TIMEOUT, `${this._what}: lock`);
    try {
      return await fn(this.view);
    } finally {
      this.unlock();
    }
  }

  close() {
    if (this._closed) return;
    this._view = null;
    this._own.close();
    super.close();
  }
}

class Value extends SharedArray {
  /** Opens the named Value (an array of length 1) of `typecode`. */
  constructor(name, typecode, opts = {}) {
    super(name, typecode, 1, opts, true);
  }

  /** The value, read or written under the lock. */
  get value() {
    return this.get(0);
  }

  set value(v) {
    this.set(0, v);
  }
}

class ShareableList extends Handle {
  /**
   * Opens the named list. With `items` (scalars: null, boolean, number,
   * BigInt, string, bytes), creates it holding them, or attaches to a list
   * of as many elements; without, attaches only.
   */
  constructor(name, items, opts = {}) {
    const out = [null];
    const data = items == null ? null : cbor.encode(Array.from(items));
    check(F.mp_slist_open(String(name), data, data ? data.length : 0, openFlags(opts), out), `shareable list '${name}'`);
    super(out[0], F.mp_slist_close, `shareable list '${name}'`);
    this.name = String(name);
    this._n = new BigUint64Array(1);
  }

  static unlink(name) {
    check(F.mp_slist_unlink(String(name)), `shareable list '${name}'`);
  }

  get length() {
    check(F.mp_slist_len(this.ptr(), this._n), this._what);
    return Number(this._n[0]);
  }

  _index(i) {
    const n = this.length;
    if (!Number.isInteger(i)) throw new TypeError('index must be an integer');
    return i < 0 ? i + n : i;
  }

  /** Element `i` (negative counts from the end). */
  get(i) {
    const p = this.ptr();
    const m = new BigUint64Array(2);
    const idx = this._index(i);
    check(F.mp_slist_get(p, idx < 0 ? Number.MAX_SAFE_INTEGER : idx, m), `${this._what}: get`);
    return cbor.decode(takeBuf(m));
  }

  /** Stores scalar `value` at `i`: TooBigError beyond the slot's capacity, WrongTypeError for a non-scalar. */
  set(i, value) {
    const p = this.ptr();
    const data = cbor.encodeShared(value);
    const idx = this._index(i);
    check(F.mp_slist_set(p, idx < 0 ? Number.MAX_SAFE_INTEGER : idx, data, data.length), `${this._what}: set`);
  }

  /** Slot `i`'s capacity in the value's own bytes (the longest string, in UTF-8, or Buffer it takes), as Python's ShareableList sizes slots. */
  capacity(i) {
    check(F.mp_slist_capacity(this.ptr(), this._index(i), this._n), `${this._what}: capacity`);
    return Number(this._n[0]);
  }

  toArray() {
    const n = this.length;
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.get(i);
    return out;
  }
}

module.exports = { SharedMemory, SharedArray, Value, ShareableList };
