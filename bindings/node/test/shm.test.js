'use strict';
// SharedMemory, SharedArray / Value, ShareableList across real processes.

const test = require('node:test');
const assert = require('node:assert/strict');
const m = require('..');
const { uniq, child, leftovers } = require('./helpers');

const cleanup = [];
test.after(() => {
  for (const [cls, name] of cleanup) {
    try {
      cls.unlink(name);
    } catch (e) {
      if (e.code !== 'MP_E_NOTFOUND') throw e;
    }
  }
  assert.deepStrictEqual(leftovers(), []);
});
function name(cls, what) {
  const n = uniq(what);
  cleanup.push([cls, n]);
  return n;
}

test('SharedMemory: a child writes, this process sees it through its ArrayBuffer', async () => {
  const n = name(m.SharedMemory, 'shm');
  const s = new m.SharedMemory(n, 4096);
  assert.equal(s.size, 4096);
  const u = new Uint8Array(s.buffer);
  assert.equal(s.buffer, s.buffer); // one view per handle
  assert.equal((await child('shm-write', [n]).exited).code, 0);
  assert.deepStrictEqual([...u.subarray(0, 10)], [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]);
  assert.throws(() => new m.SharedMemory(n, 100), (e) => e instanceof m.InvalidError); // another size
  assert.throws(() => new m.SharedMemory(n, 4096, { create: true }), m.ExistsError);
  assert.throws(() => new m.SharedMemory(uniq('none'), 0), m.NotFoundError);
  s.close();
  s.close();
  assert.throws(() => s.buffer, (e) => e instanceof m.ClosedError);
  // a view kept after close still works (the mapping lives until it is collected): no crash
  u[100] = 1;
  assert.equal(u[100], 1);
});

test('SharedArray: two children incr concurrently (locked accessors), the total is exact', async () => {
  const n = name(m.SharedArray, 'arr');
  const a = new m.SharedArray(n, 'q', 4);
  assert.equal(a.length, 4);
  assert.equal(a.typecode, 'q');
  assert.equal(a.itemsize, 8);
  assert.ok(a.view instanceof BigInt64Array);
  const kids = [child('arr-incr', [n, 3000]), child('arr-incr', [n, 3000])];
  for (const k of kids) assert.equal((await k.exited).code, 0);
  assert.equal(a.get(0), 6000);
  assert.equal(a.view[0], 6000n); // the TypedArray is the shared memory itself
  a.close();
});

test('SharedArray lock: read-modify-write on the view under withLock, from two processes', async () => {
  const n = name(m.SharedArray, 'arr');
  const a = new m.SharedArray(n, 'q', 2);
  const kids = [child('arr-locked-rmw', [n, 300]), child('arr-locked-rmw', [n, 300])];
  for (let i = 0; i < 300; i++) {
    await a.withLock((v) => {
      v[1] += 1n;
    });
  }
  for (const k of kids) assert.equal((await k.exited).code, 0);
  assert.equal(a.get(1), 900);
  // inside the lock the accessors work too (they use the memory directly)
  assert.equal(await a.lock({ timeout: 1000 }), true);
  a.set(2 - 2, 10);
  assert.equal(a.incr(0, 5), 15);
  assert.equal(a.get(-2), 15);
  assert.deepStrictEqual(a.toArray(), [15, 900]);
  assert.throws(() => a.set(0, 1.5), m.WrongTypeError);
  a.unlock();
  assert.throws(() => a.unlock(), (e) => e instanceof m.PermError);
  a.close();
});

test('SharedArray typecodes, ranges and errors', () => {
  const b = new m.SharedArray(name(m.SharedArray, 'arr'), 'B', 3);
  assert.ok(b.view instanceof Uint8Array);
  b.set(0, 255);
  assert.throws(() => b.set(0, 256), (e) => e instanceof m.InvalidError && e.code === 'MP_E_INVAL');
  assert.throws(() => b.set(0, 1.5), (e) => e instanceof m.WrongTypeError);
  assert.throws(() => b.get(3), (e) => e instanceof m.IndexError && e.code === 'MP_E_INDEX');
  assert.equal(b.get(-3), 255);
  b.write(1, [7, 8]);
  assert.deepStrictEqual([...b.read(0, 3)], [255, 7, 8]);
  const big = new m.SharedArray(name(m.SharedArray, 'arr'), 'Q', 1);
  big.set(0, 2n ** 64n - 1n);
  assert.equal(big.get(0), 2n ** 64n - 1n);
  assert.throws(() => big.incr(0, 1), (e) => e.code === 'MP_E_INVAL');
  const d = new m.SharedArray(name(m.SharedArray, 'arr'), 'd', 2);
  d.set(1, 2.5);
  d.set(0, 3);
  assert.deepStrictEqual(d.toArray(), [3, 2.5]);
  assert.throws(() => d.incr(0), (e) => e instanceof m.WrongTypeError);
  assert.throws(() => new m.SharedArray(b.name, 'h', 3), (e) => e instanceof m.WrongTypeError);
  assert.throws(() => new m.SharedArray(b.name, 'B', 4), (e) => e instanceof m.InvalidError);
  assert.throws(() => new m.SharedArray(uniq('x'), 'z', 1), m.InvalidError);
  const nolock = new m.SharedArray(name(m.SharedArray, 'arr'), 'i', 1, { lock: false });
  nolock.set(0, -5);
  assert.equal(nolock.get(0), -5);
  return nolock.lock().then(
    () => assert.fail('no lock'),
    (e) => {
      assert.ok(e instanceof m.UnsupportedError);
      for (const x of [b, big, d, nolock]) x.close();
      assert.throws(() => b.get(0), m.ClosedError);
    },
  );
});

test('Value', () => {
  const v = new m.Value(name(m.SharedArray, 'val'), 'd');
  v.value = 1.25;
  assert.equal(v.value, 1.25);
  const i = new m.Value(name(m.SharedArray, 'val'), 'q');
  i.value = 2n ** 60n;
  assert.equal(i.value, 2n ** 60n);
  i.value = 41;
  assert.equal(i.incr(0), 42);
  v.close();
  i.close();
});

test('ShareableList: a child sets items, this process reads them', async () => {
  const n = name(m.ShareableList, 'sl');
  const l = new m.ShareableList(n, ['a string of 32 characters.......', 41, null, 2.5, true, Buffer.from([1, 2])]);
  assert.equal(l.length, 6);
  assert.equal((await child('slist-set', [n]).exited).code, 0);
  assert.deepStrictEqual(l.toArray(), ['set by child', 42, null, 2.5, true, Buffer.from([1, 2])]);
  assert.equal(l.get(-1)[1], 2);
  assert.throws(() => l.set(2, 'x'.repeat(100)), (e) => e instanceof m.TooBigError);
  assert.throws(() => l.set(0, [1]), (e) => e instanceof m.WrongTypeError);
  assert.throws(() => l.get(6), (e) => e instanceof m.IndexError);
  assert.ok(l.capacity(0) >= 33);
  assert.throws(() => new m.ShareableList(uniq('x'), null, { attach: true }), m.NotFoundError);
  l.close();
  l.close();
  assert.throws(() => l.length, m.ClosedError);
});

// A stock Python program (multiprocessing.shared_memory, no mpipc) shares a
// NumPy-style float64 buffer; Node reads and writes it as a raw block.
test('SharedMemory { raw: true }: a block of stock Python, read and written by Node', async (t) => {
  const { spawn, spawnSync } = require('node:child_process');
  const readline = require('node:readline');
  if (spawnSync('python3', ['-c', 'import multiprocessing.shared_memory']).status !== 0) {
    t.skip('no stock python3 to share a block with');
    return;
  }
  const n = uniq('stock');
  const py = spawn('python3', ['-c', `
import struct, sys
from multiprocessing.shared_memory import SharedMemory
s = SharedMemory(sys.argv[1], create=True, size=32)
struct.pack_into("<4d", s.buf, 0, 1.5, 2.5, -3.0, 1e300)
print("ready", flush=True)
sys.stdin.read()
print(struct.unpack_from("<d", s.buf, 24)[0], flush=True)
s.close()
s.unlink()
`, n], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: py.stdout })[Symbol.asyncIterator]();
  assert.equal((await lines.next()).value, 'ready');
  assert.throws(() => new m.SharedMemory(n, 0, { attach: true }), (e) => e instanceof m.NotFoundError && /raw/.test(e.message));
  const s = new m.SharedMemory(n, 0, { attach: true, raw: true });
  assert.equal(s.size, 32);
  assert.equal(s.raw, true);
  const f = new Float64Array(s.buffer);
  assert.deepStrictEqual([...f], [1.5, 2.5, -3.0, 1e300]);
  f[3] = 42.25;
  s.close();
  py.stdin.end();
  assert.equal((await lines.next()).value, '42.25');
  await new Promise((r) => py.on('exit', r));
  assert.throws(() => new m.SharedMemory(n, 0, { attach: true, raw: true }), m.NotFoundError);
  // Node creates one; bad input gets a clear error.
  const own = name(m.SharedMemory, 'rawown');
  const r = new m.SharedMemory(own, 16, { create: true, raw: true });
  assert.throws(() => new m.SharedMemory(own, 8, { attach: true, raw: true }), m.InvalidError);
  assert.throws(() => new m.SharedMemory('mpipc.shm.x', 0, { attach: true, raw: true }), m.InvalidError);
  r.close();
  m.SharedMemory.unlink(own, { raw: true });
  assert.throws(() => m.SharedMemory.unlink(own, { raw: true }), m.NotFoundError);
});
