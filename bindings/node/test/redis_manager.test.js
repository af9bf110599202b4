'use strict';
// The Manager at a Redis / Valkey address (docs/REDIS.md, "Manager on
// Redis"): connectManager('redis://127.0.0.1:P?ns=...') and the same
// proxies as for an mpipc manager server, with the differences REDIS.md
// lists (dict order is Redis's; locks and semaphores are leases). Servers:
// test/redis_server.js (under CI=true a missing server fails, elsewhere it
// is skipped loudly). Each run uses a namespace of its own (?ns=).

const test = require('node:test');
const assert = require('node:assert/strict');
const m = require('..');
const { PREFIX, uniq, child } = require('./helpers');
const redis = require('./redis_server');

const servers = {};

test.before(() => {
  servers.redis = redis.start('redis');
  servers.valkey = redis.start('valkey');
});

test.after(() => {
  for (const s of Object.values(servers)) if (!s.missing) s.stop();
});

const TARGETS = [
  { label: 'redis tcp', server: 'redis', full: true, addr: (s, q) => `redis://127.0.0.1:${s.port}${q}` },
  { label: 'redis unix', server: 'redis', addr: (s, q) => `redis+unix://${s.socket}${q}` },
  { label: 'valkey tcp', server: 'valkey', addr: (s, q) => `valkey://127.0.0.1:${s.port}${q}` },
];

/**
 * A test against `target`: `fn(ctx)` gets ctx.s (the server), ctx.addr
 * (the manager address, in this run's namespace; `extra` adds options) and
 * ctx.mgr (a connected Manager, closed after the test).
 */
function mtest(target, title, fn) {
  test(`${target.label}: ${title}`, { timeout: 120000 }, async (t) => {
    const s = servers[target.server];
    if (s.missing) {
      t.skip(s.missing);
      return;
    }
    const addr = (extra = '') => target.addr(s, `?ns=${PREFIX}${extra}`);
    const mgr = await m.connectManager(addr());
    try {
      await fn({ s, addr, mgr }, t);
    } finally {
      mgr.close();
    }
  });
}

const T = TARGETS.find((t) => t.full);

for (const target of TARGETS) {
  mtest(target, 'dict: set/get/del, KeyError, incr, compareAndSet, len, keys', async ({ mgr }) => {
    const d = mgr.dict(uniq('d'));
    await d.set('a', 1);
    await d.set(2, { nested: [1, 2n ** 64n, Buffer.from('b')] });
    assert.equal(await d.get('a'), 1);
    assert.deepStrictEqual(await d.get(2), { nested: [1, 2n ** 64n, Buffer.from('b')] });
    await assert.rejects(d.get('zz'), (e) => e instanceof m.NotFoundError && e.code === 'MP_E_NOTFOUND');
    assert.equal(await d.get('zz', 'dflt'), 'dflt');
    assert.equal(await d.has('a'), true);
    assert.equal(await d.len(), 2);
    // Redis's order, not insertion order (docs/REDIS.md): compare as sets.
    assert.deepStrictEqual((await d.keys()).map(String).sort(), ['2', 'a']);
    assert.equal(await d.incr('a'), 2);
    assert.equal(await d.incr('a', -5), -3);
    assert.equal(await d.incr('fresh', 10), 10);
    assert.equal(await d.compareAndSet('a', -3, 'swapped'), true);
    assert.equal(await d.compareAndSet('a', -3, 'again'), false);
    assert.equal(await d.get('a'), 'swapped');
    await d.delete('a');
    await assert.rejects(d.delete('a'), m.NotFoundError);
    assert.equal(await d.len(), 2);
  });
}

mtest(T, 'dict: the other methods; incr on a non-integer and beyond 64 bits', async ({ mgr }) => {
  const d = mgr.dict(uniq('d'));
  await d.update({ u1: 1, u2: 2 });
  await d.update(new Map([[3, 'three']]));
  assert.deepStrictEqual((await d.items()).sort((x, y) => String(x[0]).localeCompare(String(y[0]))), [[3, 'three'], ['u1', 1], ['u2', 2]]);
  assert.deepStrictEqual((await d.values()).map(String).sort(), ['1', '2', 'three']);
  assert.deepStrictEqual(await d.setdefault('sd', [1]), [1]);
  assert.deepStrictEqual(await d.setdefault('sd', [2]), [1]);
  assert.equal(await d.pop('u1'), 1);
  assert.equal(await d.pop('u1', 'gone'), 'gone');
  await assert.rejects(d.pop('u1'), m.NotFoundError);
  const [k] = await d.popitem();
  assert.ok([3, 'u2', 'sd'].includes(k));
  await d.set('text', 'not a number');
  await assert.rejects(d.incr('text'), (e) => e instanceof m.WrongTypeError && e.code === 'MP_E_TYPE');
  await d.set('max', 2n ** 63n - 1n);
  await assert.rejects(d.incr('max'), (e) => e instanceof m.InvalidError && e.code === 'MP_E_INVAL');
  assert.equal(await d.incr('max', -1), 2n ** 63n - 2n);
  await d.clear();
  assert.equal(await d.len(), 0);
  assert.deepStrictEqual(await d.copy(), {});
});

mtest(T, 'dict incr from three processes and this one: atomic, none lost', async ({ addr, mgr }) => {
  const dict = uniq('d');
  const kids = [1, 2, 3].map(() => child('mgr-incr', [addr(), '', dict, 200]));
  const d = mgr.dict(dict);
  await Promise.all(Array.from({ length: 200 }, () => d.incr('hits')));
  for (const k of kids) assert.equal((await k.exited).code, 0);
  assert.equal(await d.get('hits'), 800);
  assert.equal(await mgr.list(`${dict}-pids`).len(), 3);
});

mtest(T, 'list proxy', async ({ mgr }) => {
  const l = mgr.list(uniq('l'));
  await l.extend([3, 1, 2]);
  await l.append('x');
  await l.insert(0, 'first');
  assert.deepStrictEqual(await l.copy(), ['first', 3, 1, 2, 'x']);
  assert.equal(await l.len(), 5);
  assert.equal(await l.get(-1), 'x');
  await l.set(0, 0);
  assert.equal(await l.index(2), 3);
  assert.equal(await l.count(1), 1);
  assert.equal(await l.includes('x'), true);
  await l.remove('x');
  await assert.rejects(l.remove('x'), m.NotFoundError);
  await l.sort();
  assert.deepStrictEqual(await l.copy(), [0, 1, 2, 3]);
  await l.sort({ reverse: true });
  assert.deepStrictEqual(await l.slice(1, 3), [2, 1]);
  await l.reverse();
  assert.equal(await l.pop(), 3);
  assert.equal(await l.pop(0), 0);
  await assert.rejects(l.get(5), (e) => e instanceof m.IndexError && e.code === 'MP_E_INDEX');
  await l.delete(0);
  assert.deepStrictEqual(await l.copy(), [2]);
  await l.clear();
  assert.equal(await l.len(), 0);
  await assert.rejects(l.pop(), m.IndexError);
});

mtest(T, 'value proxy', async ({ mgr }) => {
  const v = mgr.value(uniq('v'));
  assert.equal(await v.get(), null);
  assert.equal(await v.incr(), 1);
  assert.equal(await v.incr(41), 42);
  await v.set({ any: 'value', big: -(2n ** 64n) });
  assert.deepStrictEqual(await v.get(), { any: 'value', big: -(2n ** 64n) });
  assert.equal(await v.compareAndSet({ any: 'value', big: -(2n ** 64n) }, 2), true);
  assert.equal(await v.compareAndSet('not it', 3), false);
  assert.equal(await v.get(), 2);
});

mtest(T, 'queue proxy', async ({ mgr }) => {
  const q = mgr.queue(uniq('q'));
  await assert.rejects(q.get({ timeout: 100 }), m.EmptyError);
  await q.put([1, 2]);
  assert.equal(await q.qsize(), 1);
  assert.deepStrictEqual(await q.get({ timeout: 1000 }), [1, 2]);
  await q.taskDone();
  await q.join({ timeout: 100 });
  await assert.rejects(q.taskDone(), (e) => e.code === 'MP_E_INVAL');
});

mtest(T, 'lock: acquire/release/locked, fence grows, release not held is PermError', async ({ mgr }) => {
  const lk = mgr.lock(uniq('lk'));
  assert.equal(await lk.acquire(), true);
  assert.equal(await lk.locked(), true);
  const f1 = await lk.fence();
  await lk.release();
  assert.equal(await lk.locked(), false);
  await assert.rejects(lk.release(), (e) => e instanceof m.PermError && e.code === 'MP_E_PERM');
  assert.equal(await lk.withLock(async () => lk.fence()) > f1, true);
});

mtest(T, 'lock: another process holds it; when that process is killed, its lease ends and this one gets it', async ({ addr }) => {
  // A short lease, so the dead holder's lock frees itself soon; the test
  // waits for the acquisition itself, however long that takes.
  const a = addr('&lease_ms=400');
  const mgr = await m.connectManager(a);
  const name = uniq('lk');
  const lk = mgr.lock(name);
  const c = child('mgr-lock-hold', [a, '', name]);
  assert.equal(await c.next(), 'held');
  assert.equal(await lk.acquire({ timeout: 0 }), false);
  c.proc.kill('SIGKILL');
  await c.exited;
  assert.equal(await lk.acquire({ timeout: 30000 }), true);
  await lk.release();
  mgr.close();
});

mtest(T, 'event: a waiter here wakes when another process sets it', async ({ s, addr, mgr }) => {
  const name = uniq('ev');
  const ev = mgr.event(name);
  assert.equal(await ev.isSet(), false);
  assert.equal(await ev.wait({ timeout: 0 }), false);
  const waiting = ev.wait({ timeout: 30000 });
  await redis.untilBlocked(s.port, 1);
  const c = child('mgr-event-set', [addr(), name]);
  assert.equal(await waiting, true);
  assert.equal((await c.exited).code, 0);
  assert.equal(await ev.isSet(), true);
  await ev.clear();
  assert.equal(await ev.isSet(), false);
});

mtest(T, 'semaphore: value 2 admits two; release admits the next', async ({ mgr }) => {
  const sem = mgr.semaphore(uniq('sem'));
  assert.equal(await sem.create(2), true);
  assert.equal(await sem.acquire(), true);
  assert.equal(await sem.acquire(), true);
  assert.equal(await sem.value(), 0);
  assert.equal(await sem.acquire({ timeout: 0 }), false);
  await sem.release();
  assert.equal(await sem.value(), 1);
  assert.equal(await sem.acquire({ timeout: 1000 }), true);
  await sem.release();
  await sem.release();
  assert.equal(await sem.value(), 2);
});

mtest(T, 'unsupported kinds: UnsupportedError; a bad address: InvalidError; refused: an error, no hang', async ({ s, mgr }) => {
  await assert.rejects(mgr.proxy('barrier', uniq('b')).create(2), (e) => e instanceof m.UnsupportedError);
  await assert.rejects(m.connectManager(`redis://127.0.0.1:${s.port}?nope=1`), m.InvalidError);
  await assert.rejects(m.connectManager(`rediss://127.0.0.1:${s.port}`), m.UnsupportedError);
  await assert.rejects(m.connectManager('redis://127.0.0.1:1', { timeout: 5000 }), m.MpipcError);
});
