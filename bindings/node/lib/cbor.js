'use strict';
// CBOR exactly as docs/TYPES.md fixes it for every language.
//
// Why not cbor-x (the expected choice): configured as closely as its
// options allow ({useRecords: false, useFloat32: 0 (NEVER),
// variableMapSize: true, tagUint8Array: false, useTag259ForMaps: false,
// mapsAsObjects}), cbor-x 1.6.9 still fails the shared vectors
// (tests/vectors/cbor.json) in ways no option changes:
// - it encodes integers of 2^32 and above held in a `number` as floats
//   (4294967296 -> fb41f0..., TYPES rule 3 wants 1b0000000100000000), every
//   BigInt with an 8-byte head (5n -> 1b0000000000000005), -0 as the
//   integer 0 (rule 2 wants fb8000...), -2^64 as a bignum (rule 3 wants
//   3bffffffffffffffff), and undefined as f7 (the mapping wants null);
// - its decoder refuses indefinite-length text and byte strings (a
//   decode_only vector), accepts invalid UTF-8 (an invalid vector), has no
//   nesting limit (rule 6), decodes every integer of 2^32 and above as a
//   BigInt (the mapping wants a number while safe), `undefined` as
//   undefined, and maps either all as objects (stringifying non-text keys:
//   1 and "1" collide) or all as Maps, where the mapping wants plain objects
//   for all-text keys and Map otherwise; and it interprets its own extension
//   tags (28/29, 105, 258, 259, ...) that other languages pass through.
// Fixing that around cbor-x would take a validation pass before decoding and
// a rewrite pass after it, on every message. So this file is a small strict
// codec of its own, in one pass each way. (cbor-x is not a dependency at
// all: its optional native packages, @cbor-extract/*, are not on the
// registry this project uses, which makes `npm ci` fail.) Tagged values use
// a `Tag` class of the same shape as cbor-x's (`new Tag(value, tag)`), and
// the encoder accepts cbor-x's own Tag objects too.

/** A tagged value with no JavaScript type of its own (TYPES.md rule 8): `new Tag(value, tag)`, as cbor-x's. */
class Tag {
  constructor(value, tag) {
    this.value = value;
    this.tag = tag;
  }
}

const { EncodeError, DecodeError } = require('./errors');

// mpipc's own tags (docs/TYPES.md "mpipc's own tags"): 4-byte numbers from
// IANA's first-come-first-served range, spelled as ASCII ("mptu", "mppk",
// "mprf"); not registered with IANA.
/** A Python tuple, around its array: decoded as the Array (the tag dropped); never written. */
const TUPLE_TAG = 0x6d707475;
/** A Python pickle, around its bytes: refused (only Python with serializer="pickle" reads it). */
const PICKLE_TAG = 0x6d70706b;
/** A manager object, around [kind, name, address]: a ManagerRef. */
const REF_TAG = 0x6d707266;

/**
 * A reference to a manager object (mpipc's REF tag, docs/TYPES.md): what a
 * Python manager proxy becomes when it is put in a queue, sent through a pipe
 * or stored in a manager object. Encoded back as the same reference (a
 * Python reader gets its proxy). Open it with a Manager connected to
 * `address`: `(await connectManager(ref.address, authkey)).open(ref)`.
 */
class ManagerRef {
  /**
   * @param {string} kind the object's kind ("dict", "list", "namespace", "value", "queue", "lock", ...)
   * @param {string} name its name on the server
   * @param {string} address the server's address, "unix:/path" or "tcp:host:port"
   */
  constructor(kind, name, address) {
    for (const s of [kind, name, address]) {
      if (typeof s !== 'string') throw new TypeError('ManagerRef(kind, name, address) takes three strings');
    }
    this.kind = kind;
    this.name = name;
    this.address = address;
  }
}

const MAX_DEPTH = 128;
const TWO_64 = 1n << 64n;
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
const utf8Fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// ---------------------------------------------------------------- encoding

/**
 * A number to be encoded as a float even when it is integral (TYPES.md rule
 * 4: `1.0` stays a float). JavaScript has one number type, so a plain `1`
 * or `1.0` is encoded as the integer 1; wrap it (`new Float64(1)`) where a
 * peer must see a float. Decoding never produces a Float64: floats decode as
 * plain numbers.
 */
class Float64 {
  constructor(value) {
    this.value = Number(value);
  }
  valueOf() {
    return this.value;
  }
}

class Encoder {
  constructor(size = 8192) {
    this.buf = Buffer.allocUnsafe(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.pos = 0;
  }

  /** Makes room for `n` more bytes. */
  room(n) {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const nb = Buffer.allocUnsafe(size);
    this.buf.copy(nb, 0, 0, this.pos);
    this.buf = nb;
    this.view = new DataView(nb.buffer, nb.byteOffset, nb.byteLength);
  }

  /** The head of `major` with argument `n`, a non-negative safe integer, shortest form. */
  head(major, n) {
    this.room(9);
    const b = this.buf;
    const m = major << 5;
    if (n < 24) {
      b[this.pos++] = m | n;
    } else if (n < 0x100) {
      b[this.pos++] = m | 24;
      b[this.pos++] = n;
    } else if (n < 0x10000) {
      b[this.pos++] = m | 25;
      b[this.pos++] = n >>> 8;
      b[this.pos++] = n & 0xff;
    } else if (n < 0x100000000) {
      b[this.pos++] = m | 26;
      this.view.setUint32(this.pos, n);
      this.pos += 4;
    } else {
      b[this.pos++] = m | 27;
      this.view.setUint32(this.pos, Math.floor(n / 0x100000000));
      this.view.setUint32(this.pos + 4, n >>> 0);
      this.pos += 8;
    }
  }

  float64(x) {
    this.room(9);
    this.buf[this.pos++] = 0xfb;
    this.view.setFloat64(this.pos, x);
    this.pos += 8;
  }

  bigint(v) {
    if (v >= 0n && v < TWO_64) {
      if (v <= MAX_SAFE_BIG) return this.head(0, Number(v));
      this.room(9);
      this.buf[this.pos++] = 0x1b;
      this.view.setBigUint64(this.pos, v);
      this.pos += 8;
      return;
    }
    if (v < 0n && v >= -TWO_64) {
      const n = -1n - v;
      if (n <= MAX_SAFE_BIG) return this.head(1, Number(n));
      this.room(9);
      this.buf[this.pos++] = 0x3b;
      this.view.setBigUint64(this.pos, n);
      this.pos += 8;
      return;
    }
    // A bignum (tag 2, or 3 for -1 - n): big-endian bytes, no leading zeros.
    let n = v >= 0n ? v : -1n - v;
    const bytes = [];
    while (n > 0n) {
      bytes.push(Number(n & 0xffn));
      n >>= 8n;
    }
    bytes.reverse();
    this.head(6, v >= 0n ? 2 : 3);
    this.head(2, bytes.length);
    this.room(bytes.length);
    for (const x of bytes) this.buf[this.pos++] = x;
  }

  string(s) {
    const len = s.length;
    if (len < 24) {
      // Short ASCII: write it in place (the common case for keys).
      this.room(1 + len);
      const b = this.buf;
      const start = this.pos;
      b[this.pos++] = 0x60 | len;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[this.pos++] = c;
      }
      if (i === len) return;
      this.pos = start;
    }
    if (!s.isWellFormed()) throw new EncodeError('a string with a lone surrogate is not UTF-8 text');
    const max = len * 3;
    this.room(9 + max);
    const n = Buffer.byteLength(s, 'utf8');
    this.head(3, n);
    this.buf.write(s, this.pos, n, 'utf8');
    this.pos += n;
  }

  bytes(u8) {
    this.head(2, u8.length);
    this.room(u8.length);
    this.buf.set(u8, this.pos);
    this.pos += u8.length;
  }

  /** Appends the encoding of `v` (docs/TYPES.md). */
  value(v, depth = 0) {
    switch (typeof v) {
      case 'number':
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
          if (v >= 0) this.head(0, v);
          else this.head(1, -1 - v);
        } else {
          this.float64(v);
        }
        return;
      case 'string':
        return this.string(v);
      case 'boolean':
        this.room(1);
        this.buf[this.pos++] = v ? 0xf5 : 0xf4;
        return;
      case 'undefined':
        this.room(1);
        this.buf[this.pos++] = 0xf6;
        return;
      case 'bigint':
        return this.bigint(v);
      case 'object':
        break;
      default:
        throw new EncodeError(`a ${typeof v} cannot be sent (docs/TYPES.md)`);
    }
    if (v === null) {
      this.room(1);
      this.buf[this.pos++] = 0xf6;
      return;
    }
    if (depth >= MAX_DEPTH) throw new EncodeError(`nesting deeper than ${MAX_DEPTH} levels (or a cycle)`);
    const d = depth + 1;
    if (Array.isArray(v)) {
      this.head(4, v.length);
      for (let i = 0; i < v.length; i++) this.value(v[i], d);
      return;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) return this.object(v, d);
    if (v instanceof Uint8Array) return this.bytes(v);
    if (v instanceof Map) {
      this.head(5, v.size);
      for (const [k, x] of v) {
        this.value(k, d);
        this.value(x, d);
      }
      return;
    }
    if (v instanceof Date) {
      const ms = v.getTime();
      if (Number.isNaN(ms)) throw new EncodeError('an invalid Date cannot be sent');
      this.head(6, 1);
      const secs = ms / 1000;
      if (Number.isSafeInteger(secs)) this.value(secs, d);
      else this.float64(secs);
      return;
    }
    if (v instanceof Float64) return this.float64(v.value);
    if (v instanceof ManagerRef) return this.ref(v);
    if (v instanceof Tag || (proto && proto.constructor && proto.constructor.name === 'Tag' && 'tag' in v && 'value' in v)) {
      const t = v.tag;
      if (typeof t === 'bigint') this.headBigTag(t);
      else if (Number.isSafeInteger(t) && t >= 0) this.head(6, t);
      else throw new EncodeError(`invalid tag number ${t}`);
      this.value(v.value, d);
      return;
    }
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Set || v instanceof WeakMap ||
        v instanceof WeakSet || v instanceof Promise) {
      throw new EncodeError(`a ${v.constructor.name} cannot be sent (docs/TYPES.md): ` +
        'use an Array, a Map, or a Uint8Array for bytes');
    }
    // Other class instances: their own enumerable properties, as JSON does.
    return this.object(v, d);
  }

  /** A ManagerRef: the REF tag around [kind, name, address]. */
  ref(v) {
    this.head(6, REF_TAG);
    this.head(4, 3);
    this.string(v.kind);
    this.string(v.name);
    this.string(v.address);
  }

  headBigTag(t) {
    if (t < 0n || t >= TWO_64) throw new EncodeError(`invalid tag number ${t}`);
    if (t <= MAX_SAFE_BIG) return this.head(6, Number(t));
    this.room(9);
    this.buf[this.pos++] = 0xdb;
    this.view.setBigUint64(this.pos, t);
    this.pos += 8;
  }

  object(o, d) {
    const keys = Object.keys(o);
    this.head(5, keys.length);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      this.string(k);
      this.value(o[k], d);
    }
  }
}

const shared = new Encoder(64 * 1024);

/**
 * Encodes `v` into the shared scratch buffer and returns a view of it, valid
 * only until the next encode: for passing straight to a C call.
 */
function encodeShared(v, startDepth = 0) {
  shared.pos = 0;
  try {
    shared.value(v, startDepth);
  } catch (e) {
    throw wrapEncodeError(e);
  }
  return shared.buf.subarray(0, shared.pos);
}

/**
 * Encodes `v` into a new Buffer. `startDepth` -1 lets the items of a
 * top-level array nest as deep as top-level values may (for batches).
 */
function encode(v, startDepth = 0) {
  return Buffer.from(encodeShared(v, startDepth));
}

function wrapEncodeError(e) {
  if (e instanceof EncodeError) return e;
  if (e instanceof RangeError) return new EncodeError(`cannot encode: ${e.message} (a cycle?)`);
  return e;
}

/**
 * Encodes many values back to back for the batch calls: returns
 * {data, lens} where lens is a BigUint64Array of each encoding's length.
 * `data` is a view of a scratch buffer, valid until the next encode.
 */
function encodeMany(values, enc = shared) {
  const n = values.length;
  const lens = new BigUint64Array(n);
  enc.pos = 0;
  try {
    for (let i = 0; i < n; i++) {
      const start = enc.pos;
      enc.value(values[i], 0);
      lens[i] = BigInt(enc.pos - start);
    }
  } catch (e) {
    throw wrapEncodeError(e);
  }
  return { data: enc.buf.subarray(0, enc.pos), lens };
}

// ---------------------------------------------------------------- decoding

function fail(msg, whole = false) {
  const e = new Error(msg);
  e.cborInvalid = true;
  e.cborWhole = whole; // the message says it all (no "invalid CBOR: " before it)
  return e;
}

function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

class Decoder {
  constructor() {
    this.b = null;
    this.pos = 0;
    this.end = 0;
    this.dv = null;
    this.dvBuffer = null; // the ArrayBuffer this.dv covers (reused across messages of one buffer)
    this.base = 0; // this.b's offset in it
  }

  reset(bytes) {
    this.b = bytes;
    this.pos = 0;
    this.end = bytes.length;
    if (bytes.buffer !== this.dvBuffer) {
      this.dvBuffer = bytes.buffer;
      this.dv = new DataView(bytes.buffer);
    }
    this.base = bytes.byteOffset;
  }

  need(n) {
    if (n > this.end - this.pos) throw fail('truncated: the item is longer than the message');
  }

  /** The argument of a head with additional information `ai`: a number, or a BigInt above 2^53 - 1. */
  arg(ai) {
    if (ai < 24) return ai;
    const b = this.b;
    switch (ai) {
      case 24:
        this.need(1);
        return b[this.pos++];
      case 25:
        this.need(2);
        this.pos += 2;
        return (b[this.pos - 2] << 8) | b[this.pos - 1];
      case 26: {
        this.need(4);
        const v = this.dv.getUint32(this.base + this.pos);
        this.pos += 4;
        return v;
      }
      case 27: {
        this.need(8);
        const hi = this.dv.getUint32(this.base + this.pos);
        const lo = this.dv.getUint32(this.base + this.pos + 4);
        this.pos += 8;
        if (hi < 0x200000) return hi * 0x100000000 + lo;
        return (BigInt(hi) << 32n) | BigInt(lo);
      }
      default:
        throw fail(`reserved additional information ${ai}`);
    }
  }

  /** A length (array, map, string): must fit in the message. */
  length(ai, minItemBytes) {
    const n = this.arg(ai);
    if (typeof n === 'bigint' || n * minItemBytes > this.end - this.pos) {
      throw fail('a length beyond the message');
    }
    return n;
  }

  text(n) {
    this.need(n);
    const b = this.b;
    const start = this.pos;
    if (n <= 32) {
      let s = '';
      let i = start;
      const end = start + n;
      for (; i < end; i++) {
        const c = b[i];
        if (c >= 0x80) break;
        s += String.fromCharCode(c);
      }
      if (i === end) {
        this.pos = end;
        return s;
      }
    }
    this.pos += n;
    try {
      return utf8Fatal.decode(b.subarray(start, start + n));
    } catch {
      throw fail('invalid UTF-8 in a text string');
    }
  }

  bytesCopy(n) {
    this.need(n);
    const out = Buffer.allocUnsafe(n);
    this.b.copy ? this.b.copy(out, 0, this.pos, this.pos + n) : out.set(this.b.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /** The chunks of an indefinite-length string of `major` (2 or 3), up to the break. */
  chunks(major) {
    const parts = [];
    for (;;) {
      this.need(1);
      const ib = this.b[this.pos++];
      if (ib === 0xff) break;
      if (ib >> 5 !== major || (ib & 0x1f) === 31) throw fail('an indefinite string holds a chunk of another type');
      const n = this.length(ib & 0x1f, 1);
      parts.push(major === 3 ? this.text(n) : this.bytesCopy(n));
    }
    return major === 3 ? parts.join('') : Buffer.concat(parts);
  }

  value(depth) {
    if (depth > MAX_DEPTH) throw fail(`nesting deeper than ${MAX_DEPTH} levels`);
    this.need(1);
    const ib = this.b[this.pos++];
    const major = ib >> 5;
    const ai = ib & 0x1f;
    switch (major) {
      case 0: {
        if (ai === 31) throw fail('an indefinite length on an integer');
        const n = this.arg(ai);
        return n;
      }
      case 1: {
        if (ai === 31) throw fail('an indefinite length on an integer');
        const n = this.arg(ai);
        if (typeof n === 'number' && n < Number.MAX_SAFE_INTEGER) return -1 - n;
        const v = -1n - BigInt(n);
        return v >= -MAX_SAFE_BIG ? Number(v) : v;
      }
      case 2:
        if (ai === 31) return this.chunks(2);
        return this.bytesCopy(this.length(ai, 1));
      case 3:
        if (ai === 31) return this.chunks(3);
        return this.text(this.length(ai, 1));
      case 4: {
        if (ai === 31) {
          const out = [];
          for (;;) {
            this.need(1);
            if (this.b[this.pos] === 0xff) {
              this.pos++;
              return out;
            }
            out.push(this.value(depth + 1));
          }
        }
        const n = this.length(ai, 1);
        const out = new Array(n);
        for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
        return out;
      }
      case 5:
        return this.map(ai, depth);
      case 6:
        return this.tag(ai, depth);
      default:
        return this.simple(ai);
    }
  }

  map(ai, depth) {
    const indefinite = ai === 31;
    const n = indefinite ? Infinity : this.length(ai, 2);
    let obj = {};
    let map = null;
    for (let i = 0; i < n; i++) {
      if (indefinite) {
        this.need(1);
        if (this.b[this.pos] === 0xff) {
          this.pos++;
          break;
        }
      }
      const k = this.value(depth + 1);
      const v = this.value(depth + 1);
      if (map === null && typeof k === 'string') {
        if (k === '__proto__') {
          Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
        } else {
          obj[k] = v;
        }
        continue;
      }
      if (map === null) {
        map = new Map(Object.entries(obj));
        obj = null;
      }
      map.set(k, v);
    }
    return map === null ? obj : map;
  }

  tag(ai, depth) {
    if (ai === 31) throw fail('an indefinite length on a tag');
    const t = this.arg(ai);
    const v = this.value(depth + 1);
    switch (t) {
      case 2:
      case 3: {
        if (!(v instanceof Uint8Array)) return new Tag(v, t);
        let n = 0n;
        for (const x of v) n = (n << 8n) | BigInt(x);
        if (t === 3) n = -1n - n;
        return n >= -MAX_SAFE_BIG && n <= MAX_SAFE_BIG ? Number(n) : n;
      }
      case 1:
        if (typeof v === 'number' || typeof v === 'bigint') {
          const d = new Date(Number(v) * 1000);
          if (!Number.isNaN(d.getTime())) return d;
        }
        return new Tag(v, t);
      case 0:
        if (typeof v === 'string') {
          const d = new Date(v);
          if (!Number.isNaN(d.getTime())) return d;
        }
        return new Tag(v, t);
      case TUPLE_TAG:
        if (!Array.isArray(v)) throw fail("mpipc's TUPLE tag (0x6d707475) must hold an array");
        return v;
      case PICKLE_TAG:
        throw fail('a Python pickle (CBOR tag 0x6d70706b "mppk"): only Python with serializer="pickle" reads it', true);
      case REF_TAG:
        if (!Array.isArray(v) || v.length !== 3 || v.some((x) => typeof x !== 'string')) {
          throw fail("mpipc's REF tag (0x6d707266) must hold [kind, name, address], three text strings");
        }
        return new ManagerRef(v[0], v[1], v[2]);
      default:
        return new Tag(v, t);
    }
  }

  simple(ai) {
    switch (ai) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
      case 23: // undefined reads as null
        return null;
      case 25: {
        this.need(2);
        const h = (this.b[this.pos] << 8) | this.b[this.pos + 1];
        this.pos += 2;
        return halfToFloat(h);
      }
      case 26: {
        this.need(4);
        const x = this.dv.getFloat32(this.base + this.pos);
        this.pos += 4;
        return x;
      }
      case 27: {
        this.need(8);
        const x = this.dv.getFloat64(this.base + this.pos);
        this.pos += 8;
        return x;
      }
      case 31:
        throw fail('a break outside an indefinite-length item');
      default:
        if (ai >= 28) throw fail(`reserved additional information ${ai}`);
        throw fail('a simple value other than false, true, null and undefined');
    }
  }
}

/** Decodes exactly one item from `bytes` (a Uint8Array); throws DecodeError. */
const sharedDecoder = new Decoder();

function decode(bytes) {
  const d = sharedDecoder;
  d.reset(bytes);
  let v;
  try {
    v = d.value(0);
  } catch (e) {
    if (e.cborInvalid) throw new DecodeError(e.cborWhole ? e.message : `invalid CBOR: ${e.message}`, Buffer.from(bytes));
    if (e instanceof RangeError) throw new DecodeError(`invalid CBOR: ${e.message}`, Buffer.from(bytes));
    throw e;
  }
  if (d.pos !== d.end) throw new DecodeError('invalid CBOR: trailing bytes after the item', Buffer.from(bytes));
  return v;
}

module.exports = {
  Encoder, Tag, Float64, ManagerRef, encode, encodeShared, encodeMany, decode, MAX_DEPTH, TUPLE_TAG, PICKLE_TAG, REF_TAG,
};
