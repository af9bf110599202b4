'use strict';
// The main-thread spin of queue waits (lib/spin.js): settings, the adaptive
// budget, the idle-CPU gate, and round trips across processes with the
// spin on and off. No test depends on how long anything takes: the budget
// is observed through its state, the gate through injected verdicts.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const m = require('..');
const { SyncSpin, DEFAULT_SYNC_SPIN_US, MAX_SYNC_SPIN_US, parseRunnable, idleCpu } = require('../lib/spin');
const { uniq, child, leftovers } = require('./helpers');

const names = [];
function open(opts) {
  const name = uniq('sq');
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

const gateOpen = () => true;

test('a spin that gets an answer returns it and doubles the budget, up to the maximum', () => {
  const s = new SyncSpin(64, gateOpen);
  assert.equal(s.maxUs, 64);
  assert.equal(s.budgetUs, 64);
  assert.equal(s.poll(() => 'done', 'again', Infinity), 'done');
  assert.equal(s.budgetUs, 64, 'never above the maximum');
  s.poll(() => 'again', 'again', Infinity);
  s.poll(() => 'again', 'again', Infinity);
  assert.equal(s.budgetUs, 16);
  assert.equal(s.poll(() => 'done', 'again', Infinity), 'done');
  assert.equal(s.budgetUs, 32);
});

test('a spin that runs out halves the budget, down to a sixteenth of the maximum', () => {
  const s = new SyncSpin(64, gateOpen);
  const seen = [];
  for (let i = 0; i < 6; i++) {
    assert.equal(s.poll(() => 'again', 'again', Infinity), 'again');
    seen.push(s.budgetUs);
  }
  assert.deepStrictEqual(seen, [32, 16, 8, 4, 4, 4]);
  assert.equal(s.poll(() => 'ok', 'again', Infinity), 'ok');
  assert.equal(s.budgetUs, 8);
});

test('a wait answered on the pool within the maximum regrows the budget; a long one does not', () => {
  const s = new SyncSpin(64, gateOpen);
  for (let i = 0; i < 4; i++) s.poll(() => 'again', 'again', Infinity);
  assert.equal(s.budgetUs, 4);
  s.parked(0.05); // 50 µs
  assert.equal(s.budgetUs, 8);
  s.parked(5); // 5 ms: a spin would not have won it
  assert.equal(s.budgetUs, 8);
});

test("a spin shorter than the budget (the caller's timeout) leaves the budget alone", () => {
  const s = new SyncSpin(64, gateOpen);
  assert.equal(s.poll(() => 'again', 'again', 0.001), 'again');
  assert.equal(s.budgetUs, 64);
});

test('a closed gate: only a quick window of attempts, and the budget is kept for later', () => {
  const s = new SyncSpin(64, () => false);
  for (let i = 0; i < 2; i++) s.poll(() => 'again', 'again', Infinity);
  assert.equal(s.budgetUs, 64, 'a failure under a closed gate does not shrink it');
  let verdict = true;
  const t = new SyncSpin(64, () => verdict);
  t.poll(() => 'again', 'again', Infinity);
  assert.equal(t.budgetUs, 32);
  verdict = false;
  assert.equal(t.poll(() => 'ok', 'again', Infinity), 'ok', 'at least one attempt');
  assert.equal(t.budgetUs, 32, 'a success under a closed gate does not grow it');
});

test('spin 0: no attempt', () => {
  const s = new SyncSpin(0, gateOpen);
  let calls = 0;
  assert.equal(s.poll(() => { calls++; return 'ok'; }, 'again', Infinity), 'again');
  assert.equal(calls, 0);
});

test('the gate reads the run queue of /proc/loadavg', () => {
  assert.equal(parseRunnable('0.52 0.58 0.59 3/456 12345\n'), 3);
  assert.equal(parseRunnable('12.00 9.10 4.20 17/1024 99'), 17);
  assert.equal(parseRunnable('0.00 0.00 0.00 /456 1'), -1);
  assert.equal(parseRunnable('0.00 0.00 0.00 x/456 1'), -1);
  assert.equal(parseRunnable('0.00 0.00 0.00'), -1);
  assert.equal(parseRunnable(''), -1);
  assert.equal(parseRunnable('0 0 0 99999999999999999999/1 1'), -1, 'no overflow');
  assert.equal(typeof idleCpu(), 'boolean');
});

test('settings: Queue.syncSpinUs, the syncSpinUs option, setSyncSpin; bad values are TypeErrors', () => {
  assert.equal(DEFAULT_SYNC_SPIN_US, 50);
  const before = m.Queue.syncSpinUs;
  try {
    m.Queue.syncSpinUs = 7;
    const a = open();
    assert.equal(a.syncSpinUs, 7);
    const b = open({ syncSpinUs: 0 });
    assert.equal(b.syncSpinUs, 0);
    b.setSyncSpin(MAX_SYNC_SPIN_US);
    assert.equal(b.syncSpinUs, MAX_SYNC_SPIN_US);
    for (const bad of [-1, 1.5, MAX_SYNC_SPIN_US + 1, '5', NaN, null]) {
      assert.throws(() => b.setSyncSpin(bad), TypeError, String(bad));
      assert.throws(() => { m.Queue.syncSpinUs = bad; }, TypeError, String(bad));
    }
    assert.throws(() => open({ syncSpinUs: -5 }), TypeError);
    assert.equal(m.Queue.syncSpinUs, 7);
    a.close();
    b.close();
    assert.throws(() => b.setSyncSpin(1), m.ClosedError);
  } finally {
    m.Queue.syncSpinUs = before;
  }
});

test('$MPIPC_NODE_SYNC_SPIN_US sets the default; a bad value warns and keeps 50', () => {
  const index = path.join(__dirname, '..', 'index.js');
  const run = (value) => spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(index)}).Queue.syncSpinUs)`], {
    env: { ...process.env, MPIPC_NODE_SYNC_SPIN_US: value },
    encoding: 'utf8',
  });
  const good = run('12');
  assert.equal(good.status, 0, good.stderr);
  assert.equal(good.stdout.trim(), '12');
  const off = run('0');
  assert.equal(off.stdout.trim(), '0');
  const bad = run('lots');
  assert.equal(bad.status, 0, bad.stderr);
  assert.equal(bad.stdout.trim(), '50');
  assert.match(bad.stderr, /MPIPC_NODE_SYNC_SPIN_US/);
});

for (const spinUs of [0, 50, MAX_SYNC_SPIN_US]) {
  test(`round trips with a child process, spin ${spinUs} µs on both sides: every value back, in order`, async () => {
    const q1 = open({ syncSpinUs: spinUs });
    const q2 = open({ syncSpinUs: spinUs });
    const n = 2000;
    const c = child('q-echo', [q1.name, q2.name, n, spinUs]);
    for (let i = 0; i < n; i++) {
      await q1.put({ id: i });
      assert.deepStrictEqual(await q2.get({ timeout: 10000 }), { id: i });
    }
    assert.equal((await c.exited).code, 0);
    assert.equal(q1.qsize() + q2.qsize(), 0);
    q1.close();
    q2.close();
  });
}

test('a full bounded queue: put spins, then waits on the pool, until a child makes room', async () => {
  const q = open({ maxsize: 2 });
  const c = child('q-consume', [q.name, 500]);
  for (let i = 0; i < 500; i++) await q.put({ id: i }, { timeout: 10000 });
  assert.deepStrictEqual((await c.next()).ids, Array.from({ length: 500 }, (_, i) => i));
  assert.equal((await c.exited).code, 0);
  q.close();
});

test('timeout 0 and an aborted signal fail at once (EmptyError, FullError, AbortError); a timeout shorter than the spin still expires', async () => {
  const q = open({ syncSpinUs: MAX_SYNC_SPIN_US });
  await assert.rejects(q.get({ timeout: 0 }), m.EmptyError);
  await assert.rejects(q.getBytes({ timeout: 0 }), m.EmptyError);
  await assert.rejects(q.getMany(4, { timeout: 0 }), m.EmptyError);
  const ac = new AbortController();
  ac.abort('stop');
  await assert.rejects(q.get({ signal: ac.signal }), (e) => e instanceof m.AbortError && e.cause === 'stop');
  await assert.rejects(q.get({ timeout: 0.2 }), m.EmptyError);
  const full = open({ maxsize: 1, syncSpinUs: MAX_SYNC_SPIN_US });
  await full.put(1);
  await assert.rejects(full.put(2, { timeout: 0 }), m.FullError);
  await assert.rejects(full.putBytes('x', { timeout: 0.2 }), m.FullError);
  await assert.rejects(full.putMany([2, 3], { timeout: 0 }), m.FullError);
  assert.equal(full.qsize(), 1);
  q.close();
  full.close();
});
