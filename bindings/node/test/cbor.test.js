'use strict';
// docs/TYPES.md: the shared vectors (tests/vectors/cbor.json) and the rules
// the vectors do not spell out.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { encode, decode, Tag, Float64, ManagerRef, DecodeError, EncodeError, Queue } = require('..');
const { encodeMany } = require('../lib/cbor');
const { uniq, child, leftovers } = require('./helpers');

// Tag numbers beyond 2^53 lose digits in JSON.parse: read them as strings.
const VECTORS = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', '..', 'tests', 'vectors', 'cbor.json'), 'utf8')
    .replace(/"tag": (\d{16,})/g, '"tag": "$1"'),
);

const num = (d) => (typeof d === 'number' ? d : d === 'inf' ? Infinity : d === '-inf' ? -Infinity : d === '-0.0' ? -0 : NaN);

/**
 * The native value a vector's description stands for (TYPES.md's Node
 * column). `floats`: wrap every float as a Float64 (to encode; else only an
 * integral one, which JavaScript's one number type would send as an integer).
 */
function build(d, floats = null) {
  const b = (x) => build(x, floats);
  if ('null' in d) return null;
  if ('bool' in d) return d.bool;
  if ('int' in d) {
    const v = BigInt(d.int);
    return v >= -(2n ** 53n - 1n) && v <= 2n ** 53n - 1n ? Number(v) : v;
  }
  if ('float' in d) {
    const f = num(d.float);
    if (floats === 'all' || (floats === 'integral' && Number.isSafeInteger(f) && !Object.is(f, -0))) return new Float64(f);
    return f;
  }
  if ('text' in d) return d.text;
  if ('text_utf8' in d) return textUtf8(Buffer.from(d.text_utf8, 'hex'));
  if ('bytes' in d) return Buffer.from(d.bytes, 'hex');
  if ('nest' in d) {
    let v = b(d.value);
    for (let i = 0; i < d.nest; i++) v = 'tag' in d ? new Tag(v, d.tag) : [v];
    return v;
  }
  if ('array' in d) return d.array.map(b);
  if ('tuple' in d) return d.tuple.map(b); // a Python tuple is an Array here (the tag dropped)
  if ('ref' in d) return new ManagerRef(...d.ref);
  if ('map' in d) {
    const entries = d.map.map(([k, v]) => [b(k), b(v)]);
    if (entries.every(([k]) => typeof k === 'string')) return Object.fromEntries(entries);
    return new Map(entries);
  }
  if ('tag' in d) {
    const tag = typeof d.tag === 'string' ? BigInt(d.tag) : d.tag;
    const inner = b(d.value);
    if (d.generic || floats !== null) return new Tag(inner, tag); // to encode: tags 0-3 as described
    if (tag === 1) return new Date(Math.round(Number(inner) * 1000));
    if (tag === 0) return new Date(inner);
    return new Tag(inner, tag);
  }
  throw new Error(`unknown description ${JSON.stringify(d)}`);
}

/** Text of not-UTF-8 bytes as the vectors' 'about' says: each invalid byte b as the lone surrogate U+DC00+b. */
function textUtf8(bytes) {
  const dec = new TextDecoder('utf-8', { fatal: true });
  let s = '';
  for (let i = 0; i < bytes.length;) {
    const c = bytes[i];
    const n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    try {
      if (n === 0) throw new Error();
      s += dec.decode(bytes.subarray(i, i + n));
      i += n;
    } catch {
      s += String.fromCharCode(0xdc00 + c);
      i += 1;
    }
  }
  return s;
}

/** What to encode for a valid vector: integral floats wrapped (JavaScript has one number type). */
const forEncoding = (d) => build(d, 'integral');

/** Whether a description holds an integral float (which Node decodes as a plain, integral number). */
function hasIntegralFloat(d) {
  if ('float' in d) return Number.isInteger(num(d.float));
  if ('map' in d) return d.map.some(([k, v]) => hasIntegralFloat(k) || hasIntegralFloat(v));
  for (const f of ['array', 'tuple']) if (f in d) return d[f].some(hasIntegralFloat);
  return 'value' in d && hasIntegralFloat(d.value);
}

/** The number of entries a description's maps hold, at every depth (to see keys collapse). */
function entries(v) {
  if (v instanceof Map) return v.size + [...v].reduce((n, [k, x]) => n + entries(k) + entries(x), 0);
  if (Array.isArray(v)) return v.reduce((n, x) => n + entries(x), 0);
  if (v instanceof Tag) return entries(v.value);
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.keys(v).length + Object.values(v).reduce((n, x) => n + entries(x), 0);
  }
  return 0;
}
function described(d) {
  if ('map' in d) return d.map.length + d.map.reduce((n, [k, v]) => n + described(k) + described(v), 0);
  for (const f of ['array', 'tuple']) if (f in d) return d[f].reduce((n, x) => n + described(x), 0);
  if ('value' in d) return described(d.value);
  return 0;
}

test('valid vectors decode to the described value and encode back to the same bytes', () => {
  assert.ok(VECTORS.valid.length >= 100);
  let tuples = 0;
  let refs = 0;
  let reencoded = 0;
  let refused = 0;
  for (const v of VECTORS.valid) {
    const bytes = Buffer.from(v.hex, 'hex');
    if (v.refused_by && v.refused_by.includes('node')) {
      refused++;
      assert.throws(() => decode(bytes), DecodeError, v.name);
      continue;
    }
    const got = decode(bytes);
    assert.deepStrictEqual(got, build(v.value), v.name);
    // Node writes a Python tuple as the plain array: hex_plain, which
    // decodes to the same value; the decoded tuple re-encodes to it too.
    // Where Node's types lose what the value says (a plain object's
    // array-index keys, a -0.0 Map key), it writes 'reencoded'.
    const want = (v.reencoded && v.reencoded.node) ?? v.hex_plain ?? v.hex;
    if (v.reencoded && v.reencoded.node) reencoded++;
    assert.equal(encode(forEncoding(v.value)).toString('hex'), want, v.name);
    if (v.hex_plain) {
      tuples++;
      assert.deepStrictEqual(decode(Buffer.from(v.hex_plain, 'hex')), build(v.value), `${v.name} (plain)`);
    }
    // What was decoded is sent back as it came, bar the above (and integral
    // floats, which decode as numbers: rule 4, Node column).
    if (!hasIntegralFloat(v.value)) {
      assert.equal(encode(got).toString('hex'), want, `${v.name} (re-encoded)`);
    }
    if (JSON.stringify(v.value).includes('"ref"')) refs++;
  }
  assert.ok(tuples > 0 && refs > 0 && reencoded >= 3, 'the vectors cover TUPLE, REF and the reencoded forms');
  assert.equal(refused, 0, 'no valid vector is refused by Node');
});

test('decode_only vectors decode to the described value', () => {
  assert.ok(VECTORS.decode_only.some((v) => v.hex.startsWith('d9d9f7')), '55799 is covered');
  for (const v of VECTORS.decode_only) {
    assert.deepStrictEqual(decode(Buffer.from(v.hex, 'hex')), build(v.value), v.name);
  }
});

test('invalid vectors are refused with DecodeError (code MP_E_CORRUPT)', () => {
  let pickles = 0;
  for (const v of VECTORS.invalid) {
    assert.throws(() => decode(Buffer.from(v.hex, 'hex')), (e) => e instanceof DecodeError && e.code === 'MP_E_CORRUPT', v.name);
    if (v.pickle) {
      pickles++;
      assert.throws(() => decode(Buffer.from(v.hex, 'hex')), /a Python pickle .*serializer="pickle"/, v.name);
    }
  }
  assert.ok(pickles > 0);
});

test('encode_invalid vectors are refused with EncodeError (code MP_E_TYPE)', () => {
  let checked = 0;
  for (const v of VECTORS.encode_invalid) {
    const value = build(v.value, 'all');
    // A Map that cannot hold the described keys apart (SameValueZero) is not the described value.
    if (entries(value) < described(v.value)) continue;
    checked++;
    assert.throws(() => encode(value), (e) => e instanceof EncodeError && e.code === 'MP_E_TYPE', v.name);
  }
  assert.ok(checked >= VECTORS.encode_invalid.length - 2, `checked ${checked}`);
});

test('times vectors: decoded to the nearest millisecond, written back as the nearest double (D2)', () => {
  assert.ok(VECTORS.times.length >= 5);
  for (const v of VECTORS.times) {
    const d = decode(Buffer.from(v.hex, 'hex'));
    assert.ok(d instanceof Date, v.name);
    assert.equal(encode(d).toString('hex'), v.encoded.node, v.name);
  }
});

test("mpipc's tags: a tuple is an Array, a ManagerRef goes both ways", () => {
  // (1, (2,)) inside a Map key and a value.
  const t = decode(Buffer.from('a1da6d70747582016161da6d7074758102', 'hex'));
  assert.ok(t instanceof Map);
  assert.deepStrictEqual([...t.entries()], [[[1, 'a'], [2]]]);
  const ref = new ManagerRef('dict', 'd-1', 'unix:/tmp/x.sock');
  const enc = encode({ d: ref });
  const back = decode(enc);
  assert.ok(back.d instanceof ManagerRef);
  assert.deepStrictEqual(back.d, ref);
  assert.equal(encode(back).toString('hex'), enc.toString('hex'));
  assert.throws(() => new ManagerRef('dict', 1, 'x'), TypeError);
  for (const h of ['da6d70747501', 'da6d707266820000', 'da6d7072668360606001']) {
    assert.throws(() => decode(Buffer.from(h, 'hex')), DecodeError, h);
  }
  // The content is checked on the wire, as Rust, C, Go and Python check it:
  // an inner TUPLE decodes to an array too, but is not one (review, session 8).
  for (const h of ['da6d707475da6d70747580', 'a1da6d707475da6d707475810100', 'da6d707266da6d70747583616161626163',
    'da6d707266d9d9f7da6d70747583616161626163', 'da6d707475d9d9f7da6d70747580']) {
    const refused = (e) => e instanceof DecodeError && /TUPLE|REF/.test(e.message);
    assert.throws(() => decode(Buffer.from(h, 'hex')), refused, h);
  }
  // Tag 55799 is looked through, around the content and around its items.
  assert.deepStrictEqual(decode(Buffer.from('da6d707475d9d9f780', 'hex')), []);
  assert.deepStrictEqual(decode(Buffer.from('da6d707475d9d9f7d9d9f7820102', 'hex')), [1, 2]);
  for (const h of ['da6d707266d9d9f783616161626163', 'da6d70726683d9d9f7616161626163']) {
    assert.deepStrictEqual(decode(Buffer.from(h, 'hex')), new ManagerRef('a', 'b', 'c'), h);
  }
});

test('maps: all-text keys decode as a plain object, any other key as a Map, in order', () => {
  assert.deepStrictEqual(decode(encode({ b: 1, a: 2 })), { b: 1, a: 2 });
  const m = decode(encode(new Map([['a', 1], [2, 'x'], [true, null]])));
  assert.ok(m instanceof Map);
  assert.deepStrictEqual([...m.keys()], ['a', 2, true]);
  // a plain object whose key is "__proto__" stays data, not a prototype
  const o = decode(Buffer.from('a1695f5f70726f746f5f5f01', 'hex'));
  assert.equal(Object.getPrototypeOf(o), Object.prototype);
  assert.equal(Object.keys(o)[0], '__proto__');
});

test('numbers: safe integers as integers, others as 64-bit floats; BigInt beyond 2^53', () => {
  assert.equal(encode(2 ** 53 - 1).toString('hex'), '1b001fffffffffffff');
  assert.equal(encode(2 ** 53).toString('hex'), 'fb4340000000000000'); // not a safe integer: a float
  assert.equal(encode(1.5).toString('hex'), 'fb3ff8000000000000');
  assert.equal(encode(5n).toString('hex'), '05');
  assert.equal(encode(-(2n ** 64n)).toString('hex'), '3bffffffffffffffff');
  assert.equal(decode(encode(2n ** 53n - 1n)), 2 ** 53 - 1);
  assert.equal(decode(encode(-(2n ** 53n))), -(2n ** 53n));
  assert.ok(Number.isNaN(decode(encode(NaN))));
  assert.equal(encode(undefined).toString('hex'), 'f6');
  assert.deepStrictEqual(decode(encode({ u: undefined })), { u: null });
});

test('dates, tags and bytes', () => {
  const d = new Date(1700000000500);
  assert.deepStrictEqual(decode(encode(d)), d);
  const t = decode(encode(new Tag([1, 'x'], 999)));
  assert.ok(t instanceof Tag);
  assert.equal(t.tag, 999);
  assert.deepStrictEqual(t.value, [1, 'x']);
  const b = decode(encode(new Uint8Array([1, 2, 3])));
  assert.ok(Buffer.isBuffer(b));
  assert.deepStrictEqual([...b], [1, 2, 3]);
});

test('refused on encode: functions, symbols, cycles, lone surrogates, Sets and other typed arrays', () => {
  const cyclic = [];
  cyclic.push(cyclic);
  for (const bad of [() => 1, Symbol('s'), cyclic, '\ud800', new Set([1]), new Float64Array(1), { f() {} }]) {
    assert.throws(() => encode(bad), (e) => e instanceof EncodeError && e.code === 'MP_E_TYPE');
  }
});

test('nesting: 128 levels below the top are accepted, 129 refused, both ways', () => {
  let ok = 1;
  for (let i = 0; i < 128; i++) ok = [ok];
  assert.deepStrictEqual(decode(encode(ok)), ok);
  const deep = Buffer.concat([Buffer.alloc(129, 0x81), Buffer.from([0x01])]);
  assert.throws(() => decode(deep), DecodeError);
  assert.throws(() => encode([ok]), EncodeError);
});

// ---------------------------------------------------------------- issue 21

const hex = (h) => Buffer.from(h, 'hex');
/** The 9 bytes of x as a CBOR double. */
const f64 = (x) => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(x);
  return `fb${b.toString('hex')}`;
};
/** Decodes h and checks that the value encodes back to exactly h. */
function roundTrip(h, what = h) {
  const v = decode(hex(h));
  assert.equal(encode(v).toString('hex'), h, what);
  return v;
}

test('tag 1 decodes to the nearest millisecond, never truncated (bug 6)', () => {
  // 1(1.001) and 1(-1.001) came back 1(1) and 1(-1).
  for (const [secs, ms] of [[1.001, 1001], [-1.001, -1001], [1700000000.123, 1700000000123], [-0.001, -1]]) {
    const d = roundTrip(`c1${f64(secs)}`, String(secs));
    assert.ok(d instanceof Date);
    assert.equal(d.getTime(), ms, String(secs));
  }
  // 1.001 * 1000 is 1000.9999999999999 in doubles: rounded, not cut.
  assert.equal(decode(hex(`c1${f64(0.0009999)}`)).getTime(), 1);
  assert.equal(decode(hex(`c1${f64(-0.0009999)}`)).getTime(), -1);
  assert.equal(decode(hex(`c1${f64(0.0015)}`)).getTime(), 2); // 0.0015 is a hair above 1.5 ms
  // An exact half millisecond goes to the even one (as Python's datetime).
  assert.equal(decode(hex(`c1${f64(0.0625)}`)).getTime(), 62);
  assert.equal(decode(hex(`c1${f64(0.1875)}`)).getTime(), 188);
  assert.equal(decode(hex(`c1${f64(-0.0625)}`)).getTime(), -62);
  // Whole seconds are written as an integer, others as the double nearest the time.
  assert.equal(encode(new Date(-1)).toString('hex'), `c1${f64(-0.001)}`);
  assert.equal(encode(new Date(-62135596800000)).toString('hex'), 'c13b0000000e7791f6ff');
  for (let i = 0; i < 2000; i++) {
    // Within years 1 .. 9999 (beyond them a time passes through as a Tag).
    const ms = Math.round((i * 7919.37 - 5e6) ** 3 % 6.2e13);
    assert.equal(decode(encode(new Date(ms))).getTime(), ms);
  }
});

test('a time no Date holds passes through as a Tag, to the same bytes', () => {
  for (const h of [
    `c1${f64(NaN)}`, `c1${f64(Infinity)}`, `c1${f64(-Infinity)}`,
    `c1${f64(8.64e12 + 1)}`, `c1${f64(-1e300)}`, // floats beyond ±8.64e15 ms (an integral one stays a float)
    'c11b000009184e72a000', // 1(10^13), an integer
    'c11bffffffffffffffff', 'c13bffffffffffffffff', // BigInt seconds
    'c074323031362d31322d33315432333a35393a36305a', // 0("2016-12-31T23:59:60Z"): a leap second
    'c06432303230', // 0("2020"): not RFC 3339 (new Date("2020") would take it)
    'c074323031392d30322d32395430303a30303a30305a', // 0("2019-02-29T00:00:00Z")
    'c074323032302d30312d30327430333a30343a30357a', // lower-case t and z
  ]) {
    const v = roundTrip(h);
    assert.ok(v instanceof Tag && (v.tag === 0 || v.tag === 1), h);
  }
  assert.ok(Number.isNaN(decode(hex(`c1${f64(NaN)}`)).value));
  assert.equal(encode(new Tag(NaN, 1)).toString('hex'), `c1${f64(NaN)}`);
});

test('tag 0: an RFC 3339 text is a Date (to the nearest millisecond); a Date is sent as tag 1', () => {
  const t0 = (s) => decode(encode(new Tag(s, 0)));
  assert.equal(t0('2020-01-02T03:04:05Z').getTime(), Date.UTC(2020, 0, 2, 3, 4, 5));
  assert.equal(t0('2020-01-02T03:04:05.123456+01:00').getTime(), Date.UTC(2020, 0, 2, 2, 4, 5, 123));
  assert.equal(t0('2020-02-29T00:00:00-00:30').getTime(), Date.UTC(2020, 1, 29, 0, 30));
  assert.equal(t0('0050-06-01T00:00:00Z').toISOString(), '0050-06-01T00:00:00.000Z'); // not 1950
  assert.equal(t0('1970-01-01T00:00:00.0015Z').getTime(), 2);
  assert.equal(t0('1970-01-01T00:00:00.0005Z').getTime(), 0); // a tie: to the even one
  assert.equal(t0('1970-01-01T00:00:00.00050001Z').getTime(), 1);
  assert.equal(t0('9999-12-31T23:59:59.9994Z').getTime(), Date.UTC(10000, 0, 1) - 1);
  // Rounded to a millisecond it leaves year 9999: passed through (see the times test below).
  assert.ok(t0('9999-12-31T23:59:59.9999Z') instanceof Tag);
  const d = decode(hex('c074323032302d30312d30325430333a30343a30355a'));
  assert.equal(encode(d).toString('hex'), 'c11a5e0d5da5');
});

test("tags 0-3 (and mpipc's) around the wrong type are refused both ways", () => {
  for (const h of [
    'c001', 'c0f6', 'c0420102', // 0(1), 0(null), 0(h'0102')
    'c16161', 'c1f5', 'c180', 'c1a0', 'c1c16161', // 1("a"), 1(true), 1([]), 1({}), 1(1("a"))
    'c201', 'c26161', 'c280', 'c301', 'c3f6', // 2(1), 2("a"), 2([]), 3(1), 3(null)
    '81c16161', 'a1c20101', // inside an array, as a map key
  ]) {
    assert.throws(() => decode(hex(h)), (e) => e instanceof DecodeError && e.code === 'MP_E_CORRUPT', h);
  }
  for (const bad of [new Tag(1, 0), new Tag('x', 1), new Tag(null, 1), new Tag(5, 2), new Tag([1], 3), new Tag('x', 1n),
    new Tag(2n ** 64n, 1), new Tag(1, 0x6d707475), new Tag(['a', 'b'], 0x6d707266), new Tag('x', 0x6d70706b)]) {
    assert.throws(() => encode(bad), (e) => e instanceof EncodeError && e.code === 'MP_E_TYPE', String(bad.tag));
  }
  // What they must hold is accepted, a bignum's bytes as they are.
  assert.equal(encode(new Tag(Buffer.from([0, 1]), 2)).toString('hex'), 'c2420001');
  assert.equal(encode(new Tag(new Float64(1), 1)).toString('hex'), `c1${f64(1)}`);
  assert.equal(encode(new Tag(5n, 1)).toString('hex'), 'c105');
  // A bignum is a tag, not an integer head: refused in tag 1 even when it
  // holds a small integer (which it decodes to elsewhere, rule 3).
  for (const h of ['c1c24101', 'c1c34100', 'c1d9d9f7c24101', 'c1d8024101']) {
    assert.throws(() => decode(hex(h)), (e) => e instanceof DecodeError && /bignum/.test(e.message), h);
  }
  assert.equal(decode(hex('c24101')), 1);
  assert.equal(decode(hex('82c24101c101'))[0], 1);
  // (A bignum ending at byte 11 of one message says nothing of the next.)
  assert.deepStrictEqual(decode(hex('c249010000000000000000')), 2n ** 64n);
  assert.equal(decode(hex(`81c1${f64(1.5)}`))[0].getTime(), 1500);
});

test('tag 55799 (self-described CBOR) is dropped wherever it appears, and never written', () => {
  assert.equal(decode(hex('d9d9f701')), 1);
  assert.deepStrictEqual(decode(hex('d9d9f7d9d9f78201d9d9f76161')), [1, 'a']);
  assert.deepStrictEqual(decode(hex('a1d9d9f76161d9d9f702')), { a: 2 });
  assert.ok(decode(hex('d9d9f7c101')) instanceof Date);
  assert.equal(decode(hex('c1d9d9f701')).getTime(), 1000);
  assert.equal(encode(new Tag([1, 'a'], 55799)).toString('hex'), '82016161');
  assert.equal(encode(new Tag(new Tag(1, 55799), 55799)).toString('hex'), '01');
  // It is dropped before depth is counted (D3): its content takes its place and its depth.
  assert.equal(decode(Buffer.concat([Buffer.from('d9d9f7'.repeat(100000), 'hex'), hex('01')])), 1);
  assert.equal(roundTrip(`${'81'.repeat(128)}01`).length, 1);
  assert.deepStrictEqual(decode(hex(`${'81d9d9f7'.repeat(128)}01`)), decode(hex(`${'81'.repeat(128)}01`)));
  assert.throws(() => decode(hex(`${'81d9d9f7'.repeat(129)}01`)), DecodeError);
  assert.equal(encode([[new Tag([new Tag(1, 55799)], 55799)]]).toString('hex'), '81818101');
});

test('depth: the top is 0, each array, map or tag one deeper, deeper than 128 refused, both ways (D3)', () => {
  let arrays = 1;
  for (let i = 0; i < 128; i++) arrays = [arrays];
  assert.equal(encode(arrays).toString('hex'), `${'81'.repeat(128)}01`);
  assert.throws(() => encode([arrays]), EncodeError);
  assert.throws(() => decode(hex(`${'81'.repeat(129)}01`)), DecodeError);
  // 129 nested empty arrays: the innermost is at depth 128, and holds nothing.
  let empty = [];
  for (let i = 0; i < 128; i++) empty = [empty];
  const eh = `${'81'.repeat(128)}80`;
  assert.equal(encode(empty).toString('hex'), eh);
  assert.deepStrictEqual(decode(hex(eh)), empty);
  assert.equal(encode(JSON.parse(JSON.stringify(empty).replace('[]', '{}'))).toString('hex'), `${'81'.repeat(128)}a0`);
  // Tags count as arrays: 128 tags around 1 accepted, 129 refused.
  const tags = (n) => `${'d903e8'.repeat(n)}01`;
  let t = 1;
  for (let i = 0; i < 128; i++) t = new Tag(t, 1000);
  assert.equal(encode(t).toString('hex'), tags(128));
  assert.equal(roundTrip(tags(128)).tag, 1000);
  assert.throws(() => decode(hex(tags(129))), DecodeError);
  assert.throws(() => encode(new Tag(t, 1000)), EncodeError);
  // Values that are a tag in CBOR: a Date, a bignum, a ManagerRef (whose texts are one deeper still).
  let at127 = (x) => {
    let v = x;
    for (let i = 0; i < 127; i++) v = [v];
    return v;
  };
  assert.equal(encode(at127(new Date(0))).length, 127 + 2);
  assert.throws(() => encode(at127([new Date(0)])), EncodeError);
  assert.throws(() => encode(at127([2n ** 70n])), EncodeError);
  assert.equal(encode(at127([2n ** 60n])).length, 128 + 9); // a plain integer
  assert.throws(() => encode(at127(new ManagerRef('dict', 'd', 'unix:/x'))), EncodeError);
  at127 = null;
  // A cycle is said to be one (Python and Node detect it; Go stops at the depth).
  const cyc = new Map();
  cyc.set('x', [new Tag(cyc, 99)]);
  assert.throws(() => encode({ a: cyc }), (e) => e instanceof EncodeError && /cyclic/.test(e.message));
  assert.throws(() => encode([arrays]), (e) => e instanceof EncodeError && /deeper than 128/.test(e.message));
  let dag = [1];
  for (let i = 0; i < 200; i++) dag = [dag, dag]; // shared, not cyclic (and checked once per object)
  assert.throws(() => encode(dag), (e) => e instanceof EncodeError && /deeper than 128/.test(e.message));
  // Batches: each value of putMany nests as a top-level value may.
  const many = encodeMany([arrays, empty]);
  assert.equal(many.data.length, 129 + 129);
});

test('a map with two keys that are one key is refused both ways (D4)', () => {
  for (const h of [
    'a2616101616102', // {"a": 1, "a": 2}
    `a20101${f64(1)}02`, // 1 and 1.0
    `a20001${f64(-0)}02`, // 0 and -0.0
    `a2${f64(0)}01${f64(-0)}02`, // 0.0 and -0.0
    `a2${f64(NaN)}01${f64(NaN)}02`, // the same NaN twice
    `a2${f64(2.5)}01f9410002`, // 2.5 as a double and as a half
    'a24201020142010202', // h'0102' twice
    'a282016161018201616102', // [1, "a"] twice
    'a2da6d70747582016161018201616102', // TUPLE([1, "a"]) and [1, "a"]
    'a2f601f602', // null twice
    'a2f601f702', // null and undefined
    'a2d9d9f7616101616102', // 55799("a") and "a"
    'a36161010202616103', // "a", 2, "a": text again after a key that is not
  ]) {
    assert.throws(() => decode(hex(h)), (e) => e instanceof DecodeError && e.code === 'MP_E_CORRUPT' && /two keys/.test(e.message), h);
  }
  // Not one key: booleans are not numbers, bytes are not text, arrays differ by an element.
  const m = decode(hex('a4f5010102f4030004'));
  assert.ok(m instanceof Map);
  assert.deepStrictEqual([...m.keys()], [true, 1, false, 0]);
  assert.equal(decode(hex('a2416101616102')).size, 2);
  assert.equal(decode(hex('a28201020182010302')).size, 2);
  // Encoding: a Map keeps SameValueZero keys apart, so what it can still hold twice is refused.
  for (const bad of [
    new Map([[1, 'a'], [1n, 'b']]),
    new Map([[1, 'a'], [new Float64(1), 'b']]),
    new Map([[null, 'a'], [undefined, 'b']]),
    new Map([[Buffer.from([1]), 'a'], [new Uint8Array([1]), 'b']]),
    new Map([[[1, 'x'], 'a'], [[1, 'x'], 'b']]),
    new Map([['a', 1], [new Tag('a', 55799), 2]]),
    new Map([[[1], 1], [new Tag([1], 0x6d707475), 2]]),
    new Map([[new Date(5), 1], [new Date(5), 2]]),
  ]) {
    assert.throws(() => encode(bad), (e) => e instanceof EncodeError && /one key/.test(e.message));
  }
  assert.equal(encode(new Map([[true, 1], [1, 2], [[1], 3], [[1, 2], 4], [Buffer.from('a'), 5], ['a', 6]])).length > 0, true);
});

test('order: a Map keeps the written order, a plain object puts array-index keys first (D5); -0.0 as a key is 0 (D6)', () => {
  // {"z": 1, "1": 2, 2: true} is a Map (a key is not text), in the written order.
  const m = roundTrip('a3617a0161310202f5');
  assert.deepStrictEqual([...m.keys()], ['z', '1', 2]);
  const ih = 'a4617a0161310261790302f5'; // {"z": 1, "1": 2, "y": 3, 2: true}: the Map is decoded again from its start
  assert.deepStrictEqual([...roundTrip(ih).entries()], [['z', 1], ['1', 2], ['y', 3], [2, true]]);
  // {"z": 1, "1": 2} is a plain object: JavaScript puts "1" first.
  const o = decode(hex('a2617a01613102'));
  assert.deepStrictEqual(Object.keys(o), ['1', 'z']);
  assert.equal(encode(o).toString('hex'), 'a2613102617a01');
  // -0.0 as a Map key: JavaScript's Map stores +0, written back as the integer 0.
  const z = decode(hex(`a2${f64(-0)}01f5f4`));
  assert.ok(Object.is([...z.keys()][0], 0));
  assert.equal(encode(z).toString('hex'), 'a20001f5f4');
});

test('through another process: times and passed-through tags come back to the same bytes', async () => {
  const vals = [
    `c1${f64(1.001)}`, `c1${f64(-1.001)}`, `c1${f64(1700000000.123)}`, 'c11a5e0d5da5',
    `c1${f64(NaN)}`, `c1${f64(8.64e12 + 1)}`, 'c06432303230', 'd9d9d8820102', 'd818456449455446', 'd901008264616161616461616161',
    `a2${f64(2.5)}01f502`, 'a3617a0161310202f5',
  ];
  const q1 = new Queue(uniq('q'));
  const q2 = new Queue(uniq('q'));
  try {
    const c = child('q-echo', [q1.name, q2.name, vals.length + 1, 0]);
    for (const h of vals) await q1.putBytes(hex(h));
    await q1.putBytes(hex(`d9d9f7c1${f64(1.001)}`)); // 55799 dropped on the way
    for (const h of vals) assert.equal(Buffer.from(await q2.getBytes({ timeout: 10000 })).toString('hex'), h);
    assert.equal(Buffer.from(await q2.getBytes({ timeout: 10000 })).toString('hex'), `c1${f64(1.001)}`);
    assert.equal((await c.exited).code, 0);
    // What no decoder reads is refused at put, and nothing is sent.
    for (const bad of [new Map([[1, 'a'], [new Float64(1), 'b']]), new Tag('x', 1), [new Tag(1, 2)]]) {
      await assert.rejects(async () => q1.put(bad), EncodeError);
    }
    assert.equal(q1.qsize(), 0);
  } finally {
    for (const q of [q1, q2]) {
      q.close();
      Queue.unlink(q.name);
    }
  }
  assert.deepStrictEqual(leftovers().filter((f) => f.startsWith('mpipc.q.')), []);
});

test('generated values: what is encoded decodes and encodes again to the same bytes; damaged bytes are a DecodeError', () => {
  // A seeded generator (the same values every run), over the types of the
  // mapping and the shapes that gave trouble: Map keys of every kind,
  // array-index text keys, -0, NaN, BigInts, times, tags.
  let seed = 21;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const ri = (n) => Math.floor(rnd() * n);
  const gen = (d) => {
    switch (ri(d > 4 ? 8 : 14)) {
      case 0: return ri(1000) - 500;
      case 1: return [1.5, -0, NaN, Infinity, 2 ** 60, 1e-7][ri(6)];
      case 2: return ['', 'a', 'é', '1', '4294967294', 'z', '__proto__', 'toString'][ri(8)];
      case 3: return [true, false, null][ri(3)];
      case 4: return [2n ** 64n, -(2n ** 70n), 2n ** 53n][ri(3)];
      case 5: return Buffer.from([ri(256), ri(256)]);
      case 6: return new Date(ri(2e12) - 1e12 + rnd());
      case 7: return new Tag(gen(d + 1), [99, 1000, 258][ri(3)]);
      case 8: case 9: return Array.from({ length: ri(4) }, () => gen(d + 1));
      case 10: case 11: {
        const o = {};
        for (let i = ri(4); i > 0; i--) o[['a', 'b', '1', '0', 'x'][ri(5)]] = gen(d + 1);
        return o;
      }
      default: {
        const m = new Map();
        for (let i = ri(4); i > 0; i--) m.set(gen(d + 1), gen(d + 1));
        return m;
      }
    }
  };
  let encoded = 0;
  let damaged = 0;
  for (let i = 0; i < 8000; i++) {
    const v = gen(0);
    let b;
    try {
      b = encode(v);
    } catch (e) {
      assert.ok(e instanceof EncodeError, e); // colliding generated Map keys
      continue;
    }
    encoded++;
    // Once through Node's types (index keys first, a -0 key as 0), stable.
    const again = encode(decode(b));
    assert.equal(encode(decode(again)).toString('hex'), again.toString('hex'), b.toString('hex'));
    const m = Buffer.from(b);
    m[ri(m.length)] = ri(256);
    try {
      decode(m);
    } catch (e) {
      assert.ok(e instanceof DecodeError, `${m.toString('hex')}: ${e}`);
      damaged++;
    }
  }
  assert.ok(encoded > 7500 && damaged > 400, `${encoded} ${damaged}`);
});

test('decoding never allocates more than the message implies', () => {
  assert.throws(() => decode(Buffer.from('9b00000000ffffffff', 'hex')), DecodeError); // array of 2^32-1
  assert.throws(() => decode(Buffer.from('bb00000000ffffffff', 'hex')), DecodeError); // map
  assert.throws(() => decode(Buffer.from('5a7fffffff', 'hex')), DecodeError); // bytes
});

// Times outside RFC 3339's years 1 .. 9999 pass through as the tag, as in
// every binding (docs/TYPES.md, D2), although a Date holds them.
test('times outside years 1 to 9999 pass through as the tag', () => {
  for (const h of ['c13b0000000e7791f700', 'c1fbc22cef23ee020000', 'c11b0000003afff44180',
    'c074303030302d30312d30315430303a30303a30305a']) {
    const v = decode(Buffer.from(h, 'hex'));
    assert.ok(v instanceof Tag, `${h} decoded as ${v}`);
    assert.equal(Buffer.from(encode(v)).toString('hex'), h);
  }
  for (const h of ['c13b0000000e7791f6ff', 'c11b0000003afff4417f']) {
    assert.ok(decode(Buffer.from(h, 'hex')) instanceof Date, h);
  }
  // In the years exactly, out of them once rounded to a millisecond (a Date
  // there would be written back as 1(253402300800), a time outside): the
  // tag passes through, to the same bytes (review, session 8).
  const f64hex = (x) => { const b = Buffer.alloc(8); b.writeDoubleBE(x); return b.toString('hex'); };
  const t0hex = (text) => encode(new Tag(text, 0)).toString('hex');
  for (const h of [`c1fb${f64hex(253402300799.9995)}`, `c1fb${f64hex(253402300799.9999)}`,
    t0hex('9999-12-31T23:59:59.9995Z'), t0hex('9999-12-31T23:59:59.99951-00:00')]) {
    const v = decode(Buffer.from(h, 'hex'));
    assert.ok(v instanceof Tag, `${h} decoded as ${v}`);
    assert.equal(Buffer.from(encode(v)).toString('hex'), h);
  }
  // Just below, it stays a Date (to the millisecond before 10000-01-01).
  assert.equal(decode(Buffer.from(`c1fb${f64hex(253402300799.9994)}`, 'hex')).getTime(), END_MS - 1);
});
const END_MS = Date.UTC(10000, 0, 1);
