'use strict';
// docs/TYPES.md: the shared vectors (tests/vectors/cbor.json) and the rules
// the vectors do not spell out.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { encode, decode, Tag, Float64, ManagerRef, DecodeError, EncodeError } = require('..');

const VECTORS = require(path.join(__dirname, '..', '..', '..', 'tests', 'vectors', 'cbor.json'));

/** The native value a vector's description stands for (TYPES.md's Node column). */
function build(d) {
  if ('null' in d) return null;
  if ('bool' in d) return d.bool;
  if ('int' in d) {
    const v = BigInt(d.int);
    return v >= -(2n ** 53n - 1n) && v <= 2n ** 53n - 1n ? Number(v) : v;
  }
  if ('float' in d) {
    const f = d.float;
    return f === 'inf' ? Infinity : f === '-inf' ? -Infinity : f === '-0.0' ? -0 : f;
  }
  if ('text' in d) return d.text;
  if ('bytes' in d) return Buffer.from(d.bytes, 'hex');
  if ('array' in d) return d.array.map(build);
  if ('tuple' in d) return d.tuple.map(build); // a Python tuple is an Array here (the tag dropped)
  if ('ref' in d) return new ManagerRef(...d.ref);
  if ('map' in d) {
    const entries = d.map.map(([k, v]) => [build(k), build(v)]);
    if (entries.every(([k]) => typeof k === 'string')) return Object.fromEntries(entries);
    return new Map(entries);
  }
  if ('tag' in d) {
    const inner = build(d.value);
    if (d.tag === 1) return new Date(Number(inner) * 1000);
    return new Tag(inner, d.tag);
  }
  throw new Error(`unknown description ${JSON.stringify(d)}`);
}

/** What to encode for a vector: integral floats must be wrapped (JavaScript has one number type). */
function forEncoding(d) {
  if ('float' in d && typeof d.float === 'number' && Number.isInteger(d.float)) {
    return Math.abs(d.float) <= Number.MAX_SAFE_INTEGER ? new Float64(d.float) : d.float;
  }
  if ('array' in d) return d.array.map(forEncoding);
  if ('tuple' in d) return d.tuple.map(forEncoding);
  if ('map' in d) {
    const entries = d.map.map(([k, v]) => [forEncoding(k), forEncoding(v)]);
    if (entries.every(([k]) => typeof k === 'string')) return Object.fromEntries(entries);
    return new Map(entries);
  }
  return build(d);
}

test('valid vectors decode to the described value and encode back to the same bytes', () => {
  assert.ok(VECTORS.valid.length >= 40);
  let tuples = 0;
  let refs = 0;
  for (const v of VECTORS.valid) {
    const bytes = Buffer.from(v.hex, 'hex');
    assert.deepStrictEqual(decode(bytes), build(v.value), v.name);
    // Node writes a Python tuple as the plain array: hex_plain, which
    // decodes to the same value; the decoded tuple re-encodes to it too.
    const want = v.hex_plain ?? v.hex;
    assert.equal(encode(forEncoding(v.value)).toString('hex'), want, v.name);
    if (v.hex_plain) {
      tuples++;
      assert.deepStrictEqual(decode(Buffer.from(v.hex_plain, 'hex')), build(v.value), `${v.name} (plain)`);
      assert.equal(encode(decode(bytes)).toString('hex'), v.hex_plain, `${v.name} (re-encoded)`);
    }
    if (JSON.stringify(v.value).includes('"ref"')) {
      refs++;
      assert.equal(encode(decode(bytes)).toString('hex'), v.hex, `${v.name} (re-encoded)`);
    }
  }
  assert.ok(tuples > 0 && refs > 0, 'the vectors cover TUPLE and REF');
});

test('decode_only vectors decode to the described value', () => {
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

test('decoding never allocates more than the message implies', () => {
  assert.throws(() => decode(Buffer.from('9b00000000ffffffff', 'hex')), DecodeError); // array of 2^32-1
  assert.throws(() => decode(Buffer.from('bb00000000ffffffff', 'hex')), DecodeError); // map
  assert.throws(() => decode(Buffer.from('5a7fffffff', 'hex')), DecodeError); // bytes
});
