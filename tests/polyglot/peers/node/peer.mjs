// The Node peer of the cross-language end-to-end tests (tests/polyglot/PEERS.md):
//
//   node peer.mjs <send|recv> <queue|pipe|listener|manager|array|lock> <name> <vectors.json>
//
// Uses bindings/node's public API (Queue, Connection.fromFd, Listener /
// connect, connectManager, SharedArray, Lock; encode / decode). Native
// values are built from the vectors' descriptions as the binding's README
// maps them: null, booleans, a number for a safe integer and BigInt beyond,
// numbers for floats (an integral float wrapped in the binding's Float64,
// since JavaScript has one number type), strings, Buffers, arrays, a plain
// object for a map whose keys are all text and a Map otherwise, Date for
// tag 1, Tag for other tags. Received messages are taken as raw bytes where
// the API allows (getBytes, recvBytes; the manager proxies return decoded
// values only), compared with the vector's hex, decoded with decode(),
// compared with the described value and re-encoded with encode().

import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import mpipc from '../../../../bindings/node/index.js';

const { Queue, Connection, Listener, connect, connectManager, SharedArray, Lock, encode, decode, Tag, Float64, ManagerRef } = mpipc;

// The sender's language (the driver sets MPIPC_E2E_SENDER): Go and Node
// write a Python tuple as the plain array, the vector's hex_plain (PEERS.md).
const SENDER = process.env.MPIPC_E2E_SENDER;
const PLAIN_SENDER = ['go', 'node'].includes(SENDER);
const ME = 'node'; // this binding's name in the vectors' 'reencoded' and 'refused_by'
// D3 of docs/TYPES.md: nothing deeper than 128. A manager call's argument
// array (and a list copy's result) puts a value one level below the top.
const MAX_DEPTH = 128;

const AUTHKEY = Buffer.from('polyglot');
const TIMEOUT = 10000;

let failed = 0;

function fail(msg) {
  failed++;
  process.stderr.write(`node peer: ${msg}\n`);
}

function die(msg) {
  process.stderr.write(`node peer: fatal: ${msg}\n`);
  process.exit(2);
}

function ready() {
  process.stdout.write('READY\n');
}

// ---- descriptions ----

/**
 * A canonical decimal integer 0 .. 2^32-2: an array index, which a plain
 * object puts before its other keys, ascending (TYPES.md D5).
 */
function isArrayIndex(k) {
  return typeof k === 'string' && /^(0|[1-9][0-9]*)$/.test(k) && Number(k) <= 2 ** 32 - 2;
}

/**
 * The native value a description stands for, as a decoder returns it; with
 * `forSend`, as this peer sends it: a map of text keys among which an
 * array index is a Map (a plain object would put that key first).
 */
function build(d, forSend = false) {
  const b = (x) => build(x, forSend);
  if ('nest' in d) {
    // {nest: k, [tag: n,] value: v}: k one-element arrays (or tags n) around v.
    let v = b(d.value);
    for (let i = 0; i < d.nest; i++) v = 'tag' in d ? new Tag(v, d.tag) : [v];
    return v;
  }
  if ('tag' in d) {
    const inner = b(d.value);
    // A time, to the nearest millisecond (D2); {generic}: no Date holds it.
    if (d.tag === 1 && !d.generic) return new Date(Math.round(Number(inner) * 1000));
    if (d.tag === 0 && !d.generic) return new Date(inner);
    return new Tag(inner, typeof d.tag === 'string' ? BigInt(d.tag) : d.tag); // a string: see load
  }
  if ('null' in d) return null;
  if ('bool' in d) return d.bool;
  if ('int' in d) {
    const v = BigInt(d.int);
    return v >= -(2n ** 53n - 1n) && v <= 2n ** 53n - 1n ? Number(v) : v;
  }
  if ('float' in d) {
    const f = d.float;
    return f === 'inf' ? Infinity : f === '-inf' ? -Infinity : f === '-0.0' ? -0 : f === 'nan' ? NaN : Number(f);
  }
  if ('text' in d) return d.text;
  if ('bytes' in d) return Buffer.from(d.bytes, 'hex');
  if ('array' in d) return d.array.map(b);
  if ('tuple' in d) return d.tuple.map(b); // a Python tuple is an Array here
  if ('ref' in d) return new ManagerRef(...d.ref);
  if ('map' in d) {
    const entries = d.map.map(([k, v]) => [b(k), b(v)]);
    if (entries.every(([k]) => typeof k === 'string') && !(forSend && entries.some(([k]) => isArrayIndex(k)))) {
      return Object.fromEntries(entries);
    }
    return new Map(entries);
  }
  die(`unknown description ${JSON.stringify(d)}`);
}

/**
 * `value` (built or decoded for description `d`) made ready to encode: a
 * number the description says is a float and that JavaScript holds as an
 * integer (1.0 is 1) is wrapped in Float64, as a Node program sends an
 * integral float.
 */
function asSent(value, d, forSend = false) {
  const s = (x, dx) => asSent(x, dx, forSend);
  if ('nest' in d) {
    // Peel the k levels, wrap what is inside, and build them again.
    let inner = value;
    for (let i = 0; i < d.nest; i++) inner = 'tag' in d ? inner.value : inner[0];
    let v = s(inner, d.value);
    for (let i = 0; i < d.nest; i++) v = 'tag' in d ? new Tag(v, d.tag) : [v];
    return v;
  }
  if ('float' in d) {
    // A -0.0 map key: a Map holds it as +0 (D6), so the sender wraps it as a
    // program must to send -0.0 as a key; a decoded one is the integer 0.
    if (forSend && d.float === '-0.0') return new Float64(-0);
    if (typeof value === 'number' && Number.isInteger(value) && !Object.is(value, -0) &&
        Math.abs(value) <= Number.MAX_SAFE_INTEGER && d.float !== '-0.0') {
      return new Float64(value);
    }
    return value;
  }
  if ('array' in d && Array.isArray(value)) return value.map((x, i) => (i < d.array.length ? s(x, d.array[i]) : x));
  if ('tuple' in d && Array.isArray(value)) return value.map((x, i) => (i < d.tuple.length ? s(x, d.tuple[i]) : x));
  if ('map' in d) {
    if (value instanceof Map) {
      const entries = [...value.entries()];
      return new Map(entries.map(([k, v], i) => (i < d.map.length ? [s(k, d.map[i][0]), s(v, d.map[i][1])] : [k, v])));
    }
    if (!value || typeof value !== 'object') return value;
    // A plain object's keys are texts (nothing to wrap); JavaScript may
    // have reordered them: each value goes with its key's description.
    const byKey = new Map(d.map.map(([k, v]) => [k.text, v]));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, byKey.has(k) ? s(v, byKey.get(k)) : v]));
  }
  if ('tag' in d && (d.generic || (d.tag !== 0 && d.tag !== 1)) && value instanceof Tag) return new Tag(s(value.value, d.value), value.tag);
  return value;
}

/** The depth of the deepest item of description d (TYPES.md D3: the top item 0). */
function depth(d) {
  if ('nest' in d) return d.nest + depth(d.value);
  if ('tag' in d) return 1 + depth(d.value);
  if ('int' in d) {
    const n = BigInt(d.int);
    return n >= 2n ** 64n || n < -(2n ** 64n) ? 1 : 0; // a bignum: tag 2/3 around bytes
  }
  const most = (xs) => xs.reduce((m, x) => Math.max(m, depth(x)), -1);
  if ('array' in d) return 1 + most(d.array);
  if ('tuple' in d) return 2 + most(d.tuple);
  if ('ref' in d) return 2;
  if ('map' in d) return 1 + most(d.map.flat());
  return 0;
}

/**
 * Whether description d has an {array} (not a {tuple}) inside a map key,
 * which Python cannot send (a key's list is a tuple there, written with
 * the TUPLE tag).
 */
function arrayInKey(d, inKey = false) {
  if ('nest' in d) return (inKey && !('tag' in d)) || arrayInKey(d.value, inKey);
  if ('tag' in d) return arrayInKey(d.value, inKey);
  if ('array' in d) return inKey || d.array.some((x) => arrayInKey(x, inKey));
  if ('tuple' in d) return d.tuple.some((x) => arrayInKey(x, inKey));
  if ('map' in d) return d.map.some(([k, v]) => arrayInKey(k, true) || arrayInKey(v, inKey));
  return false;
}

/**
 * Whether vector v is left out of this exchange, by both peers alike
 * (PEERS.md, "Vectors a peer leaves out"): the sender's binding refuses it
 * (it cannot build the value), Python sends an {array} map key, or the
 * manager carries a value too deep to sit in a call's argument array.
 */
function skipped(v, prim) {
  return (v.refused_by ?? []).includes(SENDER) || (SENDER === 'python' && arrayInKey(v.value)) ||
    (prim === 'manager' && depth(v.value) >= MAX_DEPTH);
}

function show(v) {
  try {
    return JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x instanceof Map ? [...x.entries()] : x));
  } catch {
    return String(v);
  }
}

function load(path, prim) {
  // A tag number beyond 2^53 would lose its low bits as a JSON number: it
  // is read as a decimal string, a BigInt in build (the decoder's form).
  const text = readFileSync(path, 'utf8').replace(/"tag":(\s*)([0-9]{16,})/g, '"tag":$1"$2"');
  const doc = JSON.parse(text);
  const vs = (doc.valid ?? []).filter((v) => !skipped(v, prim));
  if (vs.length === 0) die('no valid vector');
  // bytes: what the sender wrote; plain: what Node writes for the decoded
  // value (its 'reencoded', else hex_plain for a tuple, else hex); refused:
  // Node's decoder refuses it; send: the value this peer sends.
  return vs.map((v) => {
    const plain = Buffer.from(v.hex_plain ?? v.hex, 'hex');
    return {
      ...v,
      bytes: PLAIN_SENDER ? plain : Buffer.from(v.hex, 'hex'),
      plain: v.reencoded?.[ME] !== undefined ? Buffer.from(v.reencoded[ME], 'hex') : plain,
      refused: (v.refused_by ?? []).includes(ME),
      native: build(v.value),
      send: asSent(build(v.value, true), v.value, true),
    };
  });
}

// ---- checks ----

/**
 * Strict equality that also compares the order of map entries (object keys,
 * Map entries), -0 apart from 0, and types (1 is not 1n).
 */
function same(a, b) {
  if (typeof a !== typeof b) return false;
  if (typeof a !== 'object' || a === null || b === null) return Object.is(a, b);
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a instanceof Map) {
    const ea = [...a.entries()];
    const eb = [...b.entries()];
    return ea.length === eb.length && ea.every(([k, v], i) => same(k, eb[i][0]) && same(v, eb[i][1]));
  }
  if (Buffer.isBuffer(a) || a instanceof Date || a instanceof Tag) return isDeepStrictEqual(a, b);
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && same(a[k], b[k]));
}

/** A value the binding decoded for vector v: the described value, which encodes back to v's bytes. */
function checkDecoded(what, v, got) {
  if (!same(got, v.native)) fail(`${what}: vector ${v.name}: decoded ${show(got)}, want ${show(v.native)}`);
  let re;
  try {
    re = encode(asSent(got, v.value));
  } catch (e) {
    fail(`${what}: vector ${v.name}: re-encoding the decoded value: ${e}`);
    return;
  }
  if (!re.equals(v.plain)) fail(`${what}: vector ${v.name}: decoded and re-encoded ${re.toString('hex')}, want ${v.plain.toString('hex')}`);
}

/** A vector Node's decoder refuses ('refused_by'): `get()` (a decode) throws DecodeError. */
async function checkRefused(what, v, get) {
  let got;
  try {
    got = await get();
  } catch (e) {
    if (!(e instanceof mpipc.DecodeError)) fail(`${what}: vector ${v.name}: decoding threw ${e}, want DecodeError (refused_by)`);
    return;
  }
  fail(`${what}: vector ${v.name}: decoded ${show(got)}, want DecodeError (refused_by)`);
}

/** Raw bytes received for vector v: its canonical encoding; then decode and re-encode. */
async function checkRaw(what, v, data) {
  if (!Buffer.from(data).equals(v.bytes)) fail(`${what}: vector ${v.name}: got bytes ${Buffer.from(data).toString('hex')}, want ${v.bytes.toString('hex')}`);
  if (v.refused) return checkRefused(what, v, () => decode(data));
  let got;
  try {
    got = decode(data);
  } catch (e) {
    fail(`${what}: vector ${v.name}: decode: ${e}`);
    return;
  }
  checkDecoded(what, v, got);
}

// ---- primitives ----

async function queue(vs, send, name) {
  const q = new Queue(name);
  ready();
  if (send) {
    for (const v of vs) await q.put(v.send, { timeout: TIMEOUT });
    q.close();
    return;
  }
  for (const v of vs) {
    let data;
    try {
      data = await q.getBytes({ timeout: TIMEOUT });
    } catch (e) {
      die(`queue: get of vector ${v.name}: ${e}`);
    }
    await checkRaw('queue', v, data);
  }
  const n = q.qsize();
  if (n !== 0) fail(`queue: ${n} messages left after the last vector`);
  q.close();
}

async function sendAll(vs, c, what) {
  for (const v of vs) {
    try {
      await c.send(v.send);
    } catch (e) {
      die(`${what}: send of vector ${v.name}: ${e}`);
    }
  }
}

async function recvAll(vs, c, what) {
  for (const v of vs) {
    let data;
    try {
      data = await c.recvBytes({ timeout: TIMEOUT });
    } catch (e) {
      die(`${what}: recv of vector ${v.name}: ${e}`);
    }
    await checkRaw(what, v, data);
  }
  try {
    const extra = await c.recvBytes({ timeout: TIMEOUT });
    fail(`${what}: a message after the last vector: ${Buffer.from(extra).toString('hex')}`);
  } catch (e) {
    if (!(e instanceof mpipc.EOFError)) fail(`${what}: after the last vector: ${e}, want EOFError`);
  }
}

async function pipe(vs, send) {
  const fd = Number(process.env.MPIPC_E2E_FD);
  if (!Number.isInteger(fd) || !process.env.MPIPC_E2E_FD) die('MPIPC_E2E_FD is not set');
  const c = Connection.fromFd(fd);
  ready();
  if (send) await sendAll(vs, c, 'pipe');
  else await recvAll(vs, c, 'pipe');
  c.close();
}

async function listener(vs, send, name) {
  const addr = `unix:/tmp/${name}.sock`;
  if (!send) {
    const l = new Listener(addr, { authkey: AUTHKEY });
    ready();
    let c;
    try {
      c = await l.accept({ timeout: TIMEOUT });
    } catch (e) {
      die(`accept: ${e}`);
    }
    await recvAll(vs, c, 'listener');
    c.close();
    l.close();
    return;
  }
  const start = Date.now();
  let c;
  for (;;) {
    try {
      c = await connect(addr, { authkey: AUTHKEY, timeout: TIMEOUT });
      break;
    } catch (e) {
      if (Date.now() - start >= 5000) die(`connect (for 5 s): ${e}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  ready();
  await sendAll(vs, c, 'listener');
  c.close();
}

async function manager(vs, send, name) {
  const addr = process.env.MPIPC_E2E_MANAGER || die('MPIPC_E2E_MANAGER is not set');
  const m = await connectManager(addr, AUTHKEY, { timeout: TIMEOUT });
  ready();
  const d = m.dict(`${name}-dict`);
  const l = m.list(`${name}-list`);
  if (send) {
    for (let i = 0; i < vs.length; i++) await d.set(i, vs[i].send);
    for (const v of vs) await l.append(v.send);
    m.close();
    return;
  }
  const n = await d.len();
  if (n !== vs.length) fail(`dict holds ${n} entries, want ${vs.length}`);
  for (let i = 0; i < vs.length; i++) {
    if (vs[i].refused) {
      await checkRefused('manager dict', vs[i], () => d.get(i));
      continue;
    }
    let got;
    try {
      got = await d.get(i);
    } catch (e) {
      fail(`manager dict: get of vector ${vs[i].name}: ${e}`);
      continue;
    }
    checkDecoded('manager dict', vs[i], got);
  }
  if (vs.some((v) => v.refused)) {
    // A copy of the whole list cannot decode where an item is refused: item by item.
    const n = await l.len();
    if (n !== vs.length) fail(`manager list holds ${n} items, want ${vs.length}`);
    for (let i = 0; i < vs.length; i++) {
      if (vs[i].refused) await checkRefused('manager list', vs[i], () => l.get(i));
      else checkDecoded('manager list', vs[i], await l.get(i));
    }
    m.close();
    return;
  }
  const items = await l.copy();
  if (items.length !== vs.length) fail(`manager list holds ${items.length} items, want ${vs.length}`);
  for (let i = 0; i < Math.min(items.length, vs.length); i++) checkDecoded('manager list', vs[i], items[i]);
  m.close();
}

function f64bits(x) {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(x);
  return b.toString('hex');
}

async function array(send, name) {
  const specs = [['q', 4], ['d', 4], ['B', 2]];
  const arrs = specs.map(([tc, n]) => {
    try {
      return send ? new SharedArray(`${name}-${tc}`, tc, n) : new SharedArray(`${name}-${tc}`, tc, 0, { attach: true });
    } catch (e) {
      die(`SharedArray ${name}-${tc}: ${e}`);
    }
  });
  ready();
  const qv = [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n)];
  const dv = [1.5, -0, Infinity, 1e300];
  const bv = [0, 255];
  if (send) {
    qv.forEach((x, i) => arrs[0].set(i, x));
    dv.forEach((x, i) => arrs[1].set(i, x));
    bv.forEach((x, i) => arrs[2].set(i, x));
    const r = arrs[0].incr(0, 5);
    if (BigInt(r) !== 5n) fail(`incr returned ${r}, want 5`);
  } else {
    specs.forEach(([tc, n], k) => {
      if (arrs[k].typecode !== tc) fail(`array ${arrs[k].name}: typecode ${arrs[k].typecode}, want ${tc}`);
      if (arrs[k].length !== n) fail(`array ${arrs[k].name}: length ${arrs[k].length}, want ${n}`);
    });
    [5n, ...qv.slice(1)].forEach((want, i) => {
      const got = arrs[0].get(i);
      if (BigInt(got) !== want) fail(`q[${i}] = ${got}, want ${want}`);
    });
    dv.forEach((want, i) => {
      const got = arrs[1].get(i);
      if (typeof got !== 'number' || f64bits(got) !== f64bits(want)) fail(`d[${i}] = ${got}, want bits ${f64bits(want)}`);
    });
    bv.forEach((want, i) => {
      const got = arrs[2].get(i);
      if (got !== want) fail(`B[${i}] = ${got}, want ${want}`);
    });
  }
  for (const a of arrs) a.close();
}

async function lock(send, name) {
  const lk = new Lock(name);
  if (send) {
    if (!(await lk.acquire({ timeout: TIMEOUT }))) die('acquire of a fresh lock timed out');
    ready();
    setInterval(() => {}, 1 << 30); // until SIGKILL
    return new Promise(() => {});
  }
  if (await lk.acquire({ timeout: 0 })) die('acquire with timeout 0 of a held lock returned true');
  ready();
  if (!(await lk.acquire({ timeout: TIMEOUT }))) die('acquire after the holder was killed timed out');
  if (!lk.ownerDied) fail('acquire after the holder was killed: ownerDied is false');
  try {
    lk.release();
  } catch (e) {
    fail(`release after the owner died: ${e}`);
  }
  try {
    lk.release();
    fail('second release did not throw');
  } catch (e) {
    if (!(e instanceof mpipc.PermError)) fail(`second release threw ${e}, want PermError`);
  }
}

// ---- bench roles (benches/polyglot_bench.py; PEERS.md "Bench roles"): the
// small object, encoded by Queue.put (the binding's encoder) and decoded by
// Queue.get (its decoder).

function readGo() {
  return new Promise((resolve) => {
    let buf = '';
    const on = (chunk) => {
      buf += chunk;
      if (buf.includes('\n')) {
        process.stdin.off('data', on);
        process.stdin.pause();
        if (!buf.startsWith('GO')) die('bench: expected GO on stdin');
        resolve();
      }
    };
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', on);
  });
}

async function bench(args) {
  const [role] = args;
  const small = (i) => ({ id: i, name: `item-${i}`, vals: [1.5, 2.5, 3.5] });
  if ((role === 'bench-put' || role === 'bench-get') && args.length === 3) {
    const q = new Queue(args[1]);
    const n = Number(args[2]);
    ready();
    if (role === 'bench-put') {
      await readGo();
      for (let i = 0; i < n; i++) await q.put(small(i));
    } else {
      for (let i = 0; i < n; i++) {
        const m = await q.get();
        if (m.id !== i) die(`bench-get: message ${i} out of order`);
      }
      process.stdout.write('DONE\n');
    }
    q.close();
  } else if (role === 'bench-pong' && args.length === 4) {
    const q1 = new Queue(args[1]);
    const q2 = new Queue(args[2]);
    const n = Number(args[3]);
    ready();
    for (let i = 0; i < n; i++) await q2.put(await q1.get());
    q1.close();
    q2.close();
  } else if (role === 'bench-ping' && args.length === 5) {
    const q1 = new Queue(args[1]);
    const q2 = new Queue(args[2]);
    const rounds = Number(args[3]);
    const warm = Number(args[4]);
    ready();
    await readGo();
    const lat = [];
    for (let i = 0; i < warm + rounds; i++) {
      const t0 = process.hrtime.bigint();
      await q1.put(small(i));
      const m = await q2.get();
      const t1 = process.hrtime.bigint();
      if (m.id !== i) die(`bench-ping: round ${i}: wrong id back`);
      if (i >= warm) lat.push(Number(t1 - t0));
    }
    lat.sort((a, b) => a - b);
    process.stdout.write(`RESULT ${lat[lat.length >> 1]} ${lat[Math.min(lat.length - 1, Math.floor((lat.length * 99) / 100))]}\n`);
    q1.close();
    q2.close();
  } else {
    die('usage: peer.mjs bench-put|bench-get <queue> <n> | bench-ping <q1> <q2> <rounds> <warmup> | bench-pong <q1> <q2> <total>');
  }
  process.exit(0);
}

// The differential test's echo (tests/polyglot/test_differential.py): each
// message of queue `inName` decoded with decode() and encoded again with
// encode() onto `outName`; a message that does not decode (or encode) is
// answered with 0xff 'D' (0xff 'E') and the reason; 0xff 'STOP' ends it.
async function echo(inName, outName) {
  const src = new Queue(inName);
  const dst = new Queue(outName);
  ready();
  const marker = (kind, e) => Buffer.concat([Buffer.from([0xff]), Buffer.from(kind + String(e && e.message ? e.message : e))]);
  for (;;) {
    const raw = await src.getBytes({ timeout: 60000 });
    if (raw.length === 5 && raw[0] === 0xff && raw.subarray(1).toString() === 'STOP') break;
    let answer;
    let value;
    try {
      value = decode(raw);
    } catch (e) {
      answer = marker('D', e);
    }
    if (answer === undefined) {
      try {
        answer = encode(value);
      } catch (e) {
        answer = marker('E', e);
      }
    }
    await dst.putBytes(answer, { timeout: 60000 });
  }
  src.close();
  dst.close();
  process.exit(0);
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length >= 1 && args[0].startsWith('bench-')) return bench(args);
  if (args.length === 3 && args[0] === 'echo') return echo(args[1], args[2]);
  if (args.length !== 4) die('usage: peer.mjs <send|recv> <primitive> <name> <vectors.json>');
  const [role, prim, name, path] = args;
  if (role !== 'send' && role !== 'recv') die(`role ${role}: want send or recv`);
  const send = role === 'send';
  const vs = load(path, prim);
  switch (prim) {
    case 'queue': await queue(vs, send, name); break;
    case 'pipe': await pipe(vs, send); break;
    case 'listener': await listener(vs, send, name); break;
    case 'manager': await manager(vs, send, name); break;
    case 'array': await array(send, name); break;
    case 'lock': await lock(send, name); break;
    default: die(`unknown primitive ${prim}`);
  }
  if (failed) {
    process.stderr.write(`node peer: ${role} ${prim}: ${failed} check(s) failed\n`);
    process.exit(1);
  }
  process.exit(0);
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)));
