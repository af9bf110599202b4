'use strict';
// Lock, RLock, Condition, Semaphore, Event, Barrier across real processes.

const test = require('node:test');
const assert = require('node:assert/strict');
const m = require('..');
const { uniq, child, leftovers, sleep } = require('./helpers');

const cleanup = [];
test.after(() => {
  for (const [cls, n] of cleanup) {
    try {
      cls.unlink(n);
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

test('Lock: mutual exclusion across processes (a read-modify-write that yields inside)', async () => {
  const ln = name(m.Lock, 'lock');
  const an = name(m.SharedArray, 'arr');
  const lock = new m.Lock(ln);
  const arr = new m.SharedArray(an, 'q', 1, { lock: false });
  const v = arr.view;
  const kids = [child('lock-rmw', [ln, an, 300]), child('lock-rmw', [ln, an, 300])];
  for (let i = 0; i < 300; i++) {
    await lock.acquire();
    const x = v[0];
    await null;
    v[0] = x + 1n;
    lock.release();
  }
  for (const k of kids) assert.equal((await k.exited).code, 0);
  assert.equal(v[0], 900n);
  lock.close();
  arr.close();
});

test('Lock: a holder killed with SIGKILL; the next acquire recovers it (ownerDied)', async () => {
  const ln = name(m.Lock, 'lock');
  const lock = new m.Lock(ln);
  const c = child('lock-hold', [ln]);
  assert.equal(await c.next(), 'held');
  assert.equal(await lock.acquire({ timeout: 100 }), false);
  c.proc.kill('SIGKILL');
  assert.equal((await c.exited).signal, 'SIGKILL');
  const warned = new Promise((resolve) => process.once('warning', resolve));
  assert.equal(await lock.acquire({ timeout: 5000 }), true);
  assert.equal(lock.ownerDied, true);
  const w = await warned;
  assert.equal(w.name, 'OwnerDiedWarning');
  assert.equal(w.code, 'MP_E_OWNER_DEAD');
  assert.equal(lock.ownerDeaths(), 1);
  lock.release();
  // fully usable afterwards
  assert.equal(await lock.acquire({ timeout: 0 }), true);
  lock.release();
  lock.close();
});

test('Lock within one process: a second acquire waits for the release; errors', async () => {
  const lock = new m.Lock(name(m.Lock, 'lock'));
  assert.equal(await lock.acquire(), true);
  assert.equal(lock.depth, 1);
  assert.equal(await lock.acquire({ timeout: 50 }), false);
  const second = lock.acquire({ timeout: 5000 });
  await sleep(30);
  lock.release();
  assert.equal(await second, true);
  lock.release();
  assert.throws(() => lock.release(), (e) => e instanceof m.PermError && e.code === 'MP_E_PERM');
  assert.throws(() => new m.RLock(lock.name), (e) => e instanceof m.WrongTypeError); // a Lock, not an RLock
  assert.equal(await lock.withLock(async () => lock.depth), 1);
  assert.equal(lock.depth, 0);
  // close while an acquire waits: ClosedError; use after close: ClosedError
  const holder = new m.Lock(lock.name);
  await holder.acquire();
  const waiting = assert.rejects(lock.acquire(), (e) => e instanceof m.ClosedError);
  await sleep(30);
  lock.close();
  await waiting;
  lock.close();
  await assert.rejects(lock.acquire(), m.ClosedError);
  assert.throws(() => lock.release(), m.ClosedError);
  holder.close(); // releases what it holds
  const again = new m.Lock(lock.name);
  assert.equal(await again.acquire({ timeout: 1000 }), true);
  again.close();
});

test('RLock: re-entered by the holder, released as many times', async () => {
  const r = new m.RLock(name(m.RLock, 'rlock'));
  assert.equal(await r.acquire(), true);
  assert.equal(await r.acquire(), true);
  assert.equal(r.depth, 2);
  r.release();
  r.release();
  assert.throws(() => r.release(), m.PermError);
  r.close();
});

test('Condition: a child waits for a predicate, this process notifies, and the reverse', async () => {
  const ln = name(m.Lock, 'lock');
  const cn = name(m.Condition, 'cond');
  const fn = name(m.SharedArray, 'flag');
  const lock = new m.Lock(ln);
  const cond = new m.Condition(cn, lock);
  const flag = new m.Value(fn, 'i', { lock: false });

  const waiter = child('cond-wait', [ln, cn, fn]);
  assert.equal(await waiter.next(), 'waiting');
  await sleep(50);
  await cond.withLock(() => {
    flag.view[0] = 1;
    cond.notifyAll();
  });
  assert.deepStrictEqual(await waiter.next(), { ok: true });
  await waiter.exited;

  flag.view[0] = 0;
  await lock.acquire();
  const notifier = child('cond-notify', [ln, cn, fn]);
  assert.equal(await cond.waitFor(() => flag.view[0] === 1, { timeout: 10000 }), true);
  assert.equal(lock.depth, 1); // held again after the wait
  lock.release();
  await notifier.exited;

  await lock.acquire();
  assert.equal(await cond.wait({ timeout: 60 }), false);
  lock.release();
  await assert.rejects(cond.wait(), (e) => e instanceof m.PermError);
  assert.throws(() => cond.notify(), m.PermError);
  cond.close();
  cond.close();
  await assert.rejects(cond.wait(), m.ClosedError);
  lock.close();
  flag.close();
});

test('Semaphore and BoundedSemaphore', async () => {
  const sn = name(m.Semaphore, 'sem');
  const s = new m.Semaphore(sn, 0);
  const c = child('sem-hold', [sn]);
  s.release(); // the child takes it
  assert.equal(await c.next(), 'acquired');
  assert.equal(await s.acquire({ timeout: 50 }), false);
  const waiting = s.acquire({ timeout: 5000 });
  c.send('release');
  assert.equal(await waiting, true);
  await c.exited;
  assert.equal(s.value, 0);
  s.close();

  const b = new m.BoundedSemaphore(name(m.Semaphore, 'bsem'), 1);
  assert.equal(await b.acquire(), true);
  b.release();
  assert.throws(() => b.release(), (e) => e instanceof m.InvalidError && e.code === 'MP_E_INVAL');
  assert.throws(() => new m.Semaphore(b.name, 1), (e) => e instanceof m.WrongTypeError); // bounded vs not
  b.close();
  assert.throws(() => b.value, m.ClosedError);
});

test('Event: set by a child wakes this process; timeouts', async () => {
  const en = name(m.Event, 'ev');
  const e = new m.Event(en);
  assert.equal(e.isSet(), false);
  assert.equal(await e.wait({ timeout: 50 }), false);
  const waiting = e.wait({ timeout: 10000 });
  child('event-set', [en]);
  assert.equal(await waiting, true);
  assert.equal(e.isSet(), true);
  e.clear();
  assert.equal(e.isSet(), false);
  e.close();
  await assert.rejects(e.wait(), m.ClosedError);
});

test('Barrier: this process and a child; abort and timeouts break it', async () => {
  const bn = name(m.Barrier, 'bar');
  const b = new m.Barrier(bn, 2);
  assert.equal(b.parties, 2);
  const c = child('barrier-wait', [bn]);
  const mine = await b.wait({ timeout: 10000 });
  const theirs = (await c.next()).index;
  assert.deepStrictEqual([mine, theirs].sort(), [0, 1]);
  await c.exited;
  assert.equal(await b.wait({ timeout: 50 }).catch((e) => e.code), 'MP_E_BROKEN');
  assert.equal(b.broken, true);
  b.reset();
  assert.equal(b.broken, false);
  const c2 = child('barrier-wait', [bn]);
  for (let i = 0; i < 500 && b.nWaiting === 0; i++) await sleep(20); // the child has arrived
  assert.equal(b.nWaiting, 1);
  b.abort();
  assert.deepStrictEqual(await c2.next(), { error: 'MP_E_BROKEN' });
  await c2.exited;
  await assert.rejects(b.wait(), (e) => e instanceof m.BrokenError);
  assert.throws(() => new m.Barrier(bn, 3), m.InvalidError);
  b.close();
  await assert.rejects(b.wait(), m.ClosedError);
});
