'use strict';
// Queue / JoinableQueue across real processes.

const test = require('node:test');
const assert = require('node:assert/strict');
const m = require('..');
const { uniq, child, leftovers, sleep, timerTicks } = require('./helpers');

const names = [];
function open(opts) {
  const name = uniq('q');
  names.push(name);
  return new m.Queue(name, opts);
}

test.after(() => {
  for (const n of names) {
    try {
      m.Queue.unlink(n);
    } catch (e) {
      if (e.code !== 'MP_E_NOTFOUND') throw e;
    }
  }
  assert.deepStrictEqual(leftovers().filter((f) => f.startsWith('mpipc.q.')), []);
});

test('a child produces, this process consumes, in order', async () => {
  const q = open();
  const c = child('q-produce', [q.name, 2000]);
  for (let i = 0; i < 2000; i++) {
    const v = await q.get({ timeout: 10000 });
    assert.deepStrictEqual(v, { id: i, name: `item-${i}`, vals: [1.5, 2.5, 3.5] });
  }
  assert.equal((await c.exited).code, 0);
  assert.equal(q.tryGet(), undefined);
  q.close();
});

test('putMany / getMany across processes', async () => {
  const q = open();
  const c = child('q-produce', [q.name, 3000, 'many']);
  const got = [];
  while (got.length < 3000) got.push(...(await q.getMany(512, { timeout: 10000 })));
  assert.deepStrictEqual(got.map((v) => v.id), Array.from({ length: 3000 }, (_, i) => i));
  assert.equal((await c.exited).code, 0);
  q.close();
});

test('this process produces, a child consumes and marks tasks done; join waits for it', async () => {
  const q = open({ maxsize: 10 });
  const c = child('q-consume', [q.name, 50]);
  for (let i = 0; i < 50; i++) await q.put({ id: i }); // blocks while full: the child drains
  await q.join({ timeout: 10000 });
  assert.deepStrictEqual((await c.next()).ids, Array.from({ length: 50 }, (_, i) => i));
  await c.exited;
  q.close();
});

test('timers keep firing while a get waits (the event loop is never blocked)', async () => {
  const q = open();
  let settled = false;
  const pending = q.get({ timeout: 30000 });
  pending.then(() => { settled = true; }, () => { settled = true; });
  // Five rounds of timers while the get waits (nothing was put yet).
  await timerTicks(5);
  assert.equal(settled, false, 'the get ended before anything was put');
  child('q-put', [q.name, JSON.stringify({ late: true })]);
  assert.deepStrictEqual(await pending, { late: true });
  q.close();
});

test('get timeout: EmptyError after about the timeout; put timeout on a full queue: FullError', async () => {
  const q = open({ maxsize: 1 });
  const t0 = Date.now();
  await assert.rejects(q.get({ timeout: 150 }), (e) => e instanceof m.EmptyError && e.code === 'MP_E_EMPTY' && e.status === -4);
  const dt = Date.now() - t0;
  assert.ok(dt >= 140 && dt < 1500, `waited ${dt} ms`);
  await assert.rejects(q.get({ timeout: 0 }), m.EmptyError);
  assert.equal(q.tryPut(1), true);
  assert.equal(q.tryPut(2), false);
  assert.equal(q.full(), true);
  await assert.rejects(q.put(2, { timeout: 100 }), (e) => e instanceof m.FullError && e.code === 'MP_E_FULL');
  await assert.rejects(q.put(2, { timeout: 0 }), m.FullError);
  assert.equal(q.qsize(), 1);
  assert.equal(await q.get(), 1);
  assert.equal(q.empty(), true);
  q.close();
});

test('bytes, options, spin, task accounting', async () => {
  const q = open({ maxsize: 8, capacityBytes: 4096 });
  await q.putBytes(Buffer.from('raw'));
  await q.putBytes('text as utf-8');
  assert.equal((await q.getBytes()).toString(), 'raw');
  assert.equal(q.tryGetBytes().toString(), 'text as utf-8');
  assert.equal(q.tryGetBytes(), undefined);
  await q.putManyBytes(['a', 'bb', Buffer.from('ccc')]);
  assert.deepStrictEqual((await q.getManyBytes(10)).map(String), ['a', 'bb', 'ccc']);
  assert.deepStrictEqual(q.options, { maxsize: 8, capacityBytes: 4096, maxMessage: 4088 });
  q.setSpin(0);
  for (let i = 0; i < 5; i++) q.taskDone();
  assert.throws(() => q.taskDone(), (e) => e instanceof m.InvalidError && e.code === 'MP_E_INVAL');
  await q.join({ timeout: 100 });
  await q.put('pending');
  await assert.rejects(q.join({ timeout: 100 }), (e) => e instanceof m.TimeoutError && e.code === 'MP_E_TIMEOUT');
  q.close();
});

test('a message over max_message: TooBigError, nothing put', async () => {
  const q = open({ capacityBytes: 4096, maxMessage: 100 });
  await assert.rejects(q.put('x'.repeat(200)), (e) => e instanceof m.TooBigError && e.code === 'MP_E_TOOBIG');
  await assert.rejects(q.putMany([1, 'x'.repeat(200)]), m.TooBigError);
  assert.equal(q.qsize(), 0);
  q.close();
});

test('a large message grows the receive buffer', async () => {
  const q = open({ capacityBytes: 1 << 20 });
  const big = { blob: Buffer.alloc(300000, 7), s: 'é'.repeat(1000) };
  await q.put(big);
  assert.deepStrictEqual(await q.get(), big);
  q.close();
});

test('open flags and mismatches: ExistsError, NotFoundError, InvalidError', () => {
  const q = open({ maxsize: 3 });
  assert.throws(() => new m.Queue(q.name, { create: true }), (e) => e instanceof m.ExistsError && e.code === 'MP_E_EXISTS');
  assert.throws(() => new m.Queue(uniq('nope'), { attach: true }), (e) => e instanceof m.NotFoundError);
  assert.throws(() => new m.Queue(q.name, { maxsize: 4 }), (e) => e.code === 'MP_E_INVAL' && /4/.test(e.message));
  assert.throws(() => new m.Queue('../bad'), (e) => e.code === 'MP_E_INVAL');
  assert.throws(() => m.Queue.unlink(uniq('missing')), m.NotFoundError);
  q.close();
});

test('shutdown: puts fail, gets drain then fail, the async iterator ends', async () => {
  const q = open();
  await q.putMany([1, 2, 3]);
  q.shutdown();
  await assert.rejects(q.put(4), (e) => e instanceof m.ShutdownError && e.code === 'MP_E_SHUTDOWN');
  const seen = [];
  for await (const v of q) seen.push(v);
  assert.deepStrictEqual(seen, [1, 2, 3]);
  await assert.rejects(q.get(), m.ShutdownError);
  const q2 = open();
  const waiting = q2.get();
  await sleep(50);
  q2.shutdown({ immediate: true });
  await assert.rejects(waiting, m.ShutdownError);
  q.close();
  q2.close();
});

test('undecodable bytes: DecodeError, and the message is consumed', async () => {
  const q = open();
  await q.putBytes(Buffer.from([0x1c]));
  await q.put('next');
  await assert.rejects(q.get(), (e) => e instanceof m.DecodeError && e.code === 'MP_E_CORRUPT' && e.data[0] === 0x1c);
  assert.equal(await q.get(), 'next');
  assert.throws(() => q.tryPut(() => 1), (e) => e instanceof m.EncodeError && e.code === 'MP_E_TYPE');
  q.close();
});

test('close is idempotent; use after close is ClosedError; close while a get waits rejects it', async () => {
  const q = open();
  const waiting = q.get();
  await sleep(30);
  q.close();
  await assert.rejects(waiting, (e) => e instanceof m.ClosedError && e.code === 'MP_E_CLOSED');
  q.close();
  assert.equal(q.closed, true);
  assert.throws(() => q.tryGet(), m.ClosedError);
  assert.throws(() => q.qsize(), m.ClosedError);
  await assert.rejects(q.put(1), m.ClosedError);
  await assert.rejects(q.get(), m.ClosedError);
  assert.throws(() => q.options, m.ClosedError);
});

test('an AbortSignal ends a wait', async () => {
  const q = open();
  const ac = new AbortController();
  setTimeout(() => ac.abort('enough'), 50);
  await assert.rejects(q.get({ signal: ac.signal }), (e) => e instanceof m.AbortError && e.cause === 'enough');
  q.close();
});

test('hundreds of concurrent gets wait at once (beyond koffi\'s 256 pending async calls), and fs still works', async () => {
  const q = open();
  const gets = Array.from({ length: 400 }, () => q.get({ timeout: 20000 }));
  await sleep(100);
  const t0 = Date.now();
  await require('node:fs/promises').readFile(__filename); // the pool is not starved
  assert.ok(Date.now() - t0 < 2000);
  await q.putMany(Array.from({ length: 400 }, (_, i) => i));
  const got = await Promise.all(gets);
  assert.deepStrictEqual(got.sort((a, b) => a - b), Array.from({ length: 400 }, (_, i) => i));
  q.close();
});
