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
/** Self-described CBOR (RFC 8949 §3.4.6): no meaning, dropped on decode, never written (TYPES.md). */
const SELF_DESCRIBED_TAG = 55799;
/**
 * RFC 3339's years, 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999...Z, in
 * seconds since the epoch: the times every binding decodes as its time
 * type (docs/TYPES.md, D2), although a Date holds more; outside them tags 0
 * and 1 pass through in every language, so all give back the same bytes.
 * The test is on the exact time, before rounding to a millisecond, and
 * again after (dateInRange): 9999-12-31T23:59:59.9999Z, a time in Python
 * and Go (finer units), rounds to 10000-01-01 in milliseconds, so it passes
 * through Node (a Date would be written back as a time outside the years).
 */
const MIN_TIME_S = -62135596800;
const END_TIME_S = 253402300800; // 10000-01-01T00:00:00Z, the first second outside

/** Whether `secs` (exact seconds since the epoch) falls in RFC 3339's years. */
function inTimeRange(secs) {
  return secs >= MIN_TIME_S && secs < END_TIME_S;
}

/**
 * The Date of `ms`, or null when rounding to a millisecond took a time of
 * RFC 3339's years out of them (9999-12-31T23:59:59.9995Z is 10000-01-01 in
 * ms): a Date there would be written back as a time outside, so the tag
 * passes through instead, to the same bytes.
 */
function dateInRange(ms) {
  return ms >= MIN_TIME_S * 1000 && ms < END_TIME_S * 1000 ? new Date(ms) : null;
}

// ---------------------------------------------------------------- times

/**
 * The Date of tag 1's `secs` (seconds since the epoch), rounded to the
 * nearest millisecond (ties to even, as Python's datetime), or null when
 * it falls outside RFC 3339's years (NaN, infinities, before year 1, after
 * 9999, although a Date holds more: see MIN_TIME_S), before or after
 * rounding (dateInRange): the tag then passes through (docs/TYPES.md,
 * times). Rounding, not truncating: 1.001 must come back 1.001, and
 * 1.001 * 1000 is 1000.9999999999999.
 */
function epochDate(secs) {
  const p = secs * 1000; // fl(secs * 1000): the decision below is exact, see roundTie
  if (!inTimeRange(secs)) return null; // NaN fails this too
  let ms;
  if (Math.abs(p) >= 2 ** 52) {
    // Doubles here are integers, and fl() of the exact product already is
    // its nearest integer, ties to even.
    ms = p;
  } else {
    const f = Math.floor(p);
    const h = f + 0.5; // exact below 2^52
    // Rounding is monotonic and h is a double, so p and the exact product
    // lie on the same side of h, unless p lands on h itself.
    if (p < h) ms = f;
    else if (p > h) ms = f + 1;
    else ms = roundTie(secs, f);
  }
  return dateInRange(ms);
}

const tieView = new DataView(new ArrayBuffer(8));

/**
 * fl(secs * 1000) is exactly f + 0.5: decides with integers whether the
 * exact product is above, below or on it (then the even one of f, f + 1).
 */
function roundTie(secs, f) {
  tieView.setFloat64(0, Math.abs(secs));
  const hi = tieView.getUint32(0);
  const lo = tieView.getUint32(4);
  const be = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (be !== 0) m |= 1n << 52n;
  const e = (be === 0 ? 1 : be) - 1075; // |secs| = m * 2^e; e < 0, as the product has a fraction
  // Compare secs * 1000 = ±m * 1000 * 2^e with (2f + 1) / 2, both times 2^(1 - e).
  const lhs = (secs < 0 ? -m : m) * 2000n;
  const rhs = (2n * BigInt(f) + 1n) << BigInt(-e);
  if (lhs < rhs) return f;
  if (lhs > rhs) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/** Days from 1970-01-01 to the proleptic Gregorian date y-m-d (H. Hinnant's days_from_civil). */
function daysFromCivil(y, m, d) {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * The Date of tag 0's text when it is an RFC 3339 date-time
 * (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, upper-case T and Z, as Go's
 * time.RFC3339 reads it), rounded to the nearest millisecond (ties to
 * even); else null, and the tag passes through. Not `new Date(text)`, which
 * takes many other forms ("2020", "March 7, 2020") and local times. A leap
 * second (:60) no Date holds: null.
 */
function rfc3339Date(s) {
  const m = RFC3339.exec(s);
  if (m === null) return null;
  const y = +m[1];
  const mo = +m[2];
  const d = +m[3];
  const h = +m[4];
  const mi = +m[5];
  const sec = +m[6];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return null;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (d > [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1]) return null;
  let off = 0;
  if (m[8] !== undefined) {
    const oh = +m[9];
    const om = +m[10];
    if (oh > 23 || om > 59) return null;
    off = (oh * 60 + om) * (m[8] === '-' ? -1 : 1);
  }
  let frac = 0;
  const digits = m[7];
  if (digits !== undefined) {
    frac = +(digits + '00').slice(0, 3);
    const rest = digits.slice(3);
    if (rest !== '') {
      const half = rest.charCodeAt(0) - 48;
      const above = /[1-9]/.test(rest.slice(1));
      if (half > 5 || (half === 5 && (above || frac % 2 === 1))) frac += 1;
    }
  }
  const whole = ((daysFromCivil(y, mo, d) * 24 + h) * 60 + mi - off) * 60 + sec;
  return inTimeRange(whole) ? dateInRange(whole * 1000 + frac) : null;
}

// ---------------------------------------------------------------- map keys

/**
 * A string equal for two map keys exactly when mpipc's key equality (D4 of
 * docs/TYPES.md) makes them one key, or when JavaScript cannot keep them
 * apart: numbers by their exact value whatever their type (1 and 1.0, 0
 * and -0.0, 2^64 as a BigInt and as a number are one key; so are two NaNs,
 * which one Map cannot hold twice), booleans apart from numbers, bytes
 * bytewise, arrays element-wise, a TUPLE or 55799 tag looked through.
 * Takes decoded values and the values the encoder accepts (Float64,
 * undefined, Tag objects).
 */
function keySig(k) {
  switch (typeof k) {
    case 'string':
      return JSON.stringify(k);
    case 'number':
      return numberSig(k);
    case 'bigint':
      return 'n' + k;
    case 'boolean':
      return k ? 'T' : 'F';
    case 'undefined':
      return 'z';
    default:
      break;
  }
  if (k === null) return 'z';
  if (Array.isArray(k)) return '[' + k.map(keySig).join(',') + ']';
  if (k instanceof Uint8Array) return 'x' + Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('hex');
  if (k instanceof Float64) return numberSig(k.value);
  if (k instanceof Date) return 'd' + k.getTime();
  if (k instanceof ManagerRef) return 'r' + JSON.stringify([k.kind, k.name, k.address]);
  if (k instanceof Map) return '{' + [...k].map(([a, b]) => keySig(a) + ':' + keySig(b)).join(',') + '}';
  if (isTag(k)) {
    const t = tagNumber(k.tag);
    if (t === SELF_DESCRIBED_TAG || t === TUPLE_TAG) return keySig(k.value);
    return 'g' + t + '(' + keySig(k.value) + ')';
  }
  if (typeof k === 'object') return '{' + Object.keys(k).map((a) => keySig(a) + ':' + keySig(k[a])).join(',') + '}';
  return '?' + String(k);
}

/** A number's exact value: an integer in decimal digits (as a BigInt's), else its shortest form. */
function numberSig(x) {
  if (Number.isSafeInteger(x)) return 'n' + x; // String(-0) is "0"
  if (Number.isInteger(x)) return 'n' + BigInt(x); // 2^64 as 18446744073709551616, not 1.8446744073709552e+19
  return 'n' + x; // a fraction ("1.5", "1e-7"), NaN or an infinity: never an integer's digits
}

/** A Tag of this file or of cbor-x (same shape). */
function isTag(v) {
  if (v instanceof Tag) return true;
  const proto = Object.getPrototypeOf(v);
  return proto !== null && proto.constructor !== undefined && proto.constructor.name === 'Tag' && 'tag' in v && 'value' in v;
}

/** A tag number as a number when it is one (a BigInt tag within 2^53 - 1 too), else as given. */
function tagNumber(t) {
  return typeof t === 'bigint' && t >= 0n && t <= MAX_SAFE_BIG ? Number(t) : t;
}

// ---------------------------------------------------------------- encoding

/**
 * A number to be encoded as a float even when it is integral (TYPES.md rule
 * 4: `1.0` stays a float). JavaScript has one number type, so a plain `1`
 * or `1.0` is encoded as the integer 1; wrap it (`new Float64(1)`) where a
 * peer must see a float. Decoding produces a Float64 in one place only: the
 * value of a tag 1 that no Date holds (passed through, docs/TYPES.md "Times")
 * whose float is integral, so that it is sent back as the same float. Any
 * other float decodes as a plain number.
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

  bigint(v, depth) {
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
    // A bignum (tag 2, or 3 for -1 - n): big-endian bytes, no leading zeros,
    // one level below the tag (rule 6).
    if (depth >= MAX_DEPTH) throw deepError();
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
        return this.bigint(v, depth);
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
    // D3 of docs/TYPES.md: the top item is at depth 0, an item inside an
    // array, a map or a tag one deeper, and nothing deeper than MAX_DEPTH is
    // written (what every decoder refuses). So a container at MAX_DEPTH may
    // be written only empty. A cycle ends here too.
    const d = depth + 1;
    if (Array.isArray(v)) {
      const n = v.length;
      if (d > MAX_DEPTH && n !== 0) throw deepError();
      this.head(4, n);
      for (let i = 0; i < n; i++) this.value(v[i], d);
      return;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) return this.object(v, d);
    if (v instanceof Uint8Array) return this.bytes(v);
    if (v instanceof Map) return this.map(v, d);
    if (v instanceof Float64) return this.float64(v.value);
    if (v instanceof Date) {
      if (d > MAX_DEPTH) throw deepError();
      const ms = v.getTime();
      if (Number.isNaN(ms)) throw new EncodeError('an invalid Date cannot be sent');
      // Whole seconds as an integer, else ms / 1000: IEEE division is
      // exactly rounded, so this is the double nearest the exact time (D2).
      this.head(6, 1);
      const secs = ms / 1000;
      if (Number.isSafeInteger(secs)) this.value(secs, d);
      else this.float64(secs);
      return;
    }
    if (v instanceof ManagerRef) return this.ref(v, d);
    if (isTag(v)) return this.tag(v, d);
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Set || v instanceof WeakMap ||
        v instanceof WeakSet || v instanceof Promise) {
      throw new EncodeError(`a ${v.constructor.name} cannot be sent (docs/TYPES.md): ` +
        'use an Array, a Map, or a Uint8Array for bytes');
    }
    // Other class instances: their own enumerable properties, as JSON does.
    return this.object(v, d);
  }

  /** A ManagerRef: the REF tag around [kind, name, address] (the texts one level below the array). */
  ref(v, d) {
    if (d + 1 > MAX_DEPTH) throw deepError();
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

  /**
   * A tagged value. Tags 0-3 only around what their decoders accept (D2:
   * text, an integer or a float, a byte string), mpipc's around theirs;
   * 55799 is never written (its content is, in its place: D1).
   */
  tag(v, d) {
    const t = tagNumber(v.tag);
    const x = v.value;
    switch (t) {
      case 0:
        if (typeof x !== 'string') throw new EncodeError('tag 0 (a date/time text) must hold a string');
        break;
      case 1:
        if ((typeof x !== 'number' && typeof x !== 'bigint' && !(x instanceof Float64)) ||
            (typeof x === 'bigint' && (x < -TWO_64 || x >= TWO_64))) {
          throw new EncodeError('tag 1 (epoch time) must hold a number, a 64-bit BigInt or a Float64 (or send a Date)');
        }
        break;
      case 2:
      case 3:
        if (!(x instanceof Uint8Array)) throw new EncodeError(`tag ${t} (a bignum) must hold a Uint8Array (or send a BigInt)`);
        break;
      case SELF_DESCRIBED_TAG:
        return this.value(x, d - 1);
      // mpipc's own tags only around what their readers accept (rule 7).
      case TUPLE_TAG:
        if (!Array.isArray(x)) throw new EncodeError("mpipc's TUPLE tag (0x6d707475) must hold an Array");
        break;
      case REF_TAG:
        if (!Array.isArray(x) || x.length !== 3 || x.some((s) => typeof s !== 'string')) {
          throw new EncodeError("mpipc's REF tag (0x6d707266) must hold [kind, name, address], three strings (or send a ManagerRef)");
        }
        break;
      case PICKLE_TAG:
        if (!(x instanceof Uint8Array)) throw new EncodeError("mpipc's PICKLE tag (0x6d70706b) must hold a Uint8Array");
        break;
      default:
        break;
    }
    if (d > MAX_DEPTH) throw deepError();
    if (typeof t === 'bigint') this.headBigTag(t);
    else if (Number.isSafeInteger(t) && t >= 0) this.head(6, t);
    else throw new EncodeError(`invalid tag number ${t}`);
    this.value(x, d);
  }

  /**
   * A Map, in its order. Two keys that are one key to mpipc (D4: 1n and 1,
   * 1 and new Float64(1), null and undefined, equal bytes or arrays) are
   * refused, as every decoder refuses such a map (the scratch buffer is
   * dropped, nothing is sent). The Map itself keeps string, number and
   * boolean keys apart (SameValueZero is mpipc's equality among them);
   * only a BigInt, a Float64 or a 55799 Tag can be one key with one of
   * them (plainTwin); every other key is compared by keySig, and only once
   * there are two such keys.
   */
  map(m, d) {
    const n = m.size;
    if (d > MAX_DEPTH && n !== 0) throw deepError();
    this.head(5, n);
    let first = NO_TWIN; // the first key compared by keySig (no Set while it is the only one; null is a key)
    let seen = null;
    for (const [k, x] of m) {
      const t = typeof k;
      if (t !== 'string' && t !== 'number' && t !== 'boolean') {
        const twin = plainTwin(k);
        if (twin !== NO_TWIN && m.has(twin)) throw collision(k);
        if (first === NO_TWIN) {
          first = k;
        } else {
          if (seen === null) seen = new Set([keySig(first)]);
          const sig = keySig(k);
          if (seen.has(sig)) throw collision(k);
          seen.add(sig);
        }
      }
      this.value(k, d);
      this.value(x, d);
    }
  }

  object(o, d) {
    const keys = Object.keys(o);
    if (d > MAX_DEPTH && keys.length !== 0) throw deepError();
    this.head(5, keys.length);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      this.string(k);
      this.value(o[k], d);
    }
  }
}

const NO_TWIN = Symbol('no twin');

/**
 * The string, number or boolean key that is one key with Map key `k` (a
 * BigInt's number, a Float64's number, a 55799 Tag's content), or NO_TWIN.
 */
function plainTwin(k) {
  switch (typeof k) {
    case 'bigint': {
      const x = Number(k);
      return BigInt(x) === k ? x : NO_TWIN;
    }
    case 'object':
      if (k === null) return NO_TWIN;
      if (k instanceof Float64) return k.value;
      if (isTag(k) && tagNumber(k.tag) === SELF_DESCRIBED_TAG) {
        const c = k.value;
        const t = typeof c;
        return t === 'string' || t === 'number' || t === 'boolean' ? c : plainTwin(c);
      }
      return NO_TWIN;
    default:
      return NO_TWIN;
  }
}

function collision(k) {
  return new EncodeError(`a Map with two keys that are one key in CBOR (docs/TYPES.md): ${describeKey(k)}`);
}

function deepError() {
  const e = new EncodeError(`nesting deeper than ${MAX_DEPTH} levels (docs/TYPES.md, "Nesting depth")`);
  e.tooDeep = true; // wrapEncodeError tells a cycle apart
  return e;
}

/**
 * Whether `v` contains itself (only run once encoding stopped at the depth
 * limit, to say which it was). Depth-first, each object explored once.
 */
function isCyclic(v) {
  const open = new Set();
  const done = new Set();
  const visit = (x) => {
    if (x === null || typeof x !== 'object' || done.has(x)) return false;
    if (open.has(x)) return true;
    if (open.size > 4 * MAX_DEPTH) return false; // deep, not (yet) a cycle: deep it is
    open.add(x);
    let kids = [];
    if (Array.isArray(x)) kids = x;
    else if (x instanceof Map) kids = [...x.keys(), ...x.values()];
    else if (isTag(x)) kids = [x.value];
    else if (!(x instanceof Uint8Array || x instanceof Date || x instanceof Float64 || x instanceof ManagerRef)) kids = Object.values(x);
    for (const k of kids) if (visit(k)) return true;
    open.delete(x);
    done.add(x);
    return false;
  };
  try {
    return visit(v);
  } catch {
    return false;
  }
}

/** A map key for an error message. */
function describeKey(k) {
  try {
    return require('node:util').inspect(k, { depth: 2, breakLength: Infinity });
  } catch {
    return String(k);
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
    throw wrapEncodeError(e, v);
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

function wrapEncodeError(e, v) {
  if (e instanceof EncodeError) {
    if (e.tooDeep && isCyclic(v)) return new EncodeError('a cyclic value (one that contains itself) cannot be sent');
    return e;
  }
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
    throw wrapEncodeError(e, values);
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
    this.bignumEnd = -1; // where the last bignum decoded ended (tag 1 refuses one)
  }

  reset(bytes) {
    this.b = bytes;
    this.pos = 0;
    this.bignumEnd = -1;
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

  /**
   * A map: a plain object while every key is text; at the first other key,
   * decoded again from its first entry as a Map (so a Map keeps the written
   * order: an object would have put integer-like keys first). Two keys that
   * are one key (D4 of docs/TYPES.md; keySig) are refused.
   */
  map(ai, depth) {
    const indefinite = ai === 31;
    const n = indefinite ? Infinity : this.length(ai, 2);
    const start = this.pos;
    const obj = {};
    let count = 0;
    for (; count < n; count++) {
      if (indefinite) {
        this.need(1);
        if (this.b[this.pos] === 0xff) {
          this.pos++;
          break;
        }
      }
      const k = this.value(depth + 1);
      if (typeof k !== 'string') {
        this.pos = start;
        return this.mapAsMap(n, indefinite, depth);
      }
      const v = this.value(depth + 1);
      if (k === '__proto__') {
        Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
      } else {
        obj[k] = v;
      }
    }
    // D4: a key written twice leaves fewer properties than entries. One
    // count at the end is cheaper than a look-up a key (a missing key walks
    // the prototype chain), and Object.keys of a message shape seen before
    // comes from V8's enum cache.
    if (count > 1 && Object.keys(obj).length !== count) {
      this.pos = start;
      this.mapAsMap(n, indefinite, depth); // throws, naming the key
      throw fail('a map with two keys that are one key (docs/TYPES.md)');
    }
    return obj;
  }

  /** The entries of a map from its first one, as a Map (see map). */
  mapAsMap(n, indefinite, depth) {
    const map = new Map();
    let first = null; // the first key compared by keySig (no Set while it is the only one)
    let seen = null; // keySig of those keys; the others: map.has
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
      // Decoded, a text, boolean, null or number key within ±(2^53 - 1) or
      // with a fraction is one key with another exactly when the Map says
      // so (SameValueZero: 1 and 1.0, 0 and -0.0, two NaNs). Integers
      // beyond are a BigInt or a number, one key when their values are
      // equal; object keys (bytes, arrays, Dates, tags, maps) by keySig.
      const t = typeof k;
      if (t === 'bigint' || (t === 'number' && Number.isInteger(k) && !Number.isSafeInteger(k)) || (t === 'object' && k !== null)) {
        if (first === null) {
          first = k;
        } else {
          if (seen === null) seen = new Set([keySig(first)]);
          const sig = keySig(k);
          if (seen.has(sig)) throw duplicateKey(k);
          seen.add(sig);
        }
      } else if (map.has(k)) {
        throw duplicateKey(k);
      }
      map.set(k, v);
    }
    return map;
  }

  tag(ai, depth) {
    if (ai === 31) throw fail('an indefinite length on a tag');
    let t = this.arg(ai);
    // Tag 55799 is dropped before anything is counted (D1, D3): its content
    // takes its place and its depth. A loop, not recursion, for a run of them.
    while (t === SELF_DESCRIBED_TAG) {
      this.need(1);
      const ib = this.b[this.pos];
      if (ib >> 5 !== 6) return this.value(depth);
      this.pos++;
      if ((ib & 0x1f) === 31) throw fail('an indefinite length on a tag');
      t = this.arg(ib & 0x1f);
    }
    const at = this.pos; // where the content starts (TUPLE, REF: its head is checked on the wire)
    const first = at < this.end ? this.b[at] : 0; // the content's initial byte (a float?)
    const v = this.value(depth + 1);
    // docs/TYPES.md D1, D2: tags 0-3 must hold their type (else refused);
    // a time no Date holds passes through as the Tag; 55799 is dropped.
    switch (t) {
      case 2:
      case 3: {
        if (!(v instanceof Uint8Array)) throw fail(`tag ${t} (a bignum) must hold a byte string`);
        let n = 0n;
        for (const x of v) n = (n << 8n) | BigInt(x);
        if (t === 3) n = -1n - n;
        this.bignumEnd = this.pos;
        return n >= -MAX_SAFE_BIG && n <= MAX_SAFE_BIG ? Number(n) : n;
      }
      case 1: {
        // A bignum is a tag, not an integer head (D2): refused, even one
        // that decoded to a number (its content ended where a bignum did).
        if (this.bignumEnd === this.pos) throw fail('tag 1 (epoch time) must hold an integer or a float, not a bignum');
        if (typeof v === 'bigint') return new Tag(v, 1); // beyond 2^53 s: no Date
        if (typeof v !== 'number') throw fail('tag 1 (epoch time) must hold an integer or a float');
        const date = epochDate(v);
        if (date !== null) return date;
        // Passed through: an integral float stays a float when re-encoded
        // (rule 4), so it is kept as a Float64 (the one place decoding makes one).
        if (first >= 0xf9 && first <= 0xfb && Number.isSafeInteger(v)) return new Tag(new Float64(v), 1);
        return new Tag(v, 1);
      }
      case 0: {
        if (typeof v !== 'string') throw fail('tag 0 (a date/time text) must hold a text string');
        const date = rfc3339Date(v);
        return date === null ? new Tag(v, 0) : date;
      }
      case TUPLE_TAG:
        // On the wire, not the decoded value: an inner TUPLE decodes to a
        // plain array too, and TUPLE(TUPLE([])) is refused by every codec.
        if (this.contentMajor(at) !== 4) throw fail("mpipc's TUPLE tag (0x6d707475) must hold an array");
        return v;
      case PICKLE_TAG:
        throw fail('a Python pickle (CBOR tag 0x6d70706b "mppk"): only Python with serializer="pickle" reads it', true);
      case REF_TAG:
        // The array on the wire (REF(TUPLE([...])) is refused); its three
        // items decode to strings only from text heads (55799 dropped).
        if (this.contentMajor(at) !== 4 || v.length !== 3 || v.some((x) => typeof x !== 'string')) {
          throw fail("mpipc's REF tag (0x6d707266) must hold [kind, name, address], three text strings");
        }
        return new ManagerRef(v[0], v[1], v[2]);
      default:
        return new Tag(v, t);
    }
  }

  /**
   * The major type of the item at `pos` of an item already decoded, after
   * any run of tag 55799 heads (dropped, D1): what Rust, C, Go and Python
   * check a TUPLE's and a REF's content by.
   */
  contentMajor(pos) {
    for (;;) {
      const ib = this.b[pos];
      const ai = ib & 0x1f;
      if (ib >> 5 !== 6 || ai < 24 || ai > 27) return ib >> 5;
      const len = 1 << (ai - 24);
      let t = 0;
      for (let i = 1; i <= len; i++) t = t * 256 + this.b[pos + i];
      if (t !== SELF_DESCRIBED_TAG) return 6;
      pos += 1 + len;
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

function duplicateKey(k) {
  return fail(`a map with two keys that are one key (docs/TYPES.md): ${describeKey(k)}`);
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
