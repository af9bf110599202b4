'use strict';
// A manager server in a child process, SIGKILLed and restarted at the same
// address: lost connections, reconnect(), connected.

const test = require('node:test');
const assert = require('node:assert/strict');
const { performance } = require('node:perf_hooks');
const m = require('..');
const { sockAddr, child, sleep, timerTicks } = require('./helpers');

const KEY = 'restart test key';

/** A server child at `addr`; resolves once it serves. */
async function serve(t, addr) {
  const c = child('mgr-serve', [addr, KEY]);
  t.after(() => c.proc.kill('SIGKILL'));
  assert.equal(await c.next(), 'serving');
  return c;
}

async function kill(c) {
  c.proc.kill('SIGKILL');
  await c.exited;
}

/** The error of a call on a lost connection: EOFError with the library's message. */
function lost(addr) {
  return (e) => {
    assert.ok(e instanceof m.EOFError, `${e}`);
    assert.equal(e.code, 'MP_E_EOF');
    assert.equal(e.status, -18);
    assert.match(e.message, new RegExp(`connection to the manager at ${addr.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} lost`));
    assert.match(e.message, /restarted server starts empty; reconnect/);
    return true;
  };
}

test('server killed: calls fail clearly and fast, reconnect times out, then reaches the restarted (empty) server', async (t) => {
  const addr = sockAddr('restart');
  let srv = await serve(t, addr);
  const mgr = await m.connectManager(addr, KEY);
  t.after(() => mgr.close());
  const d = mgr.dict('d');
  await d.set('k', 1);
  assert.equal(mgr.connected, true);
  // Another client is blocked in a queue get when the server dies.
  const other = await m.connectManager(addr, KEY);
  t.after(() => other.close());
  const blocked = other.queue('q').get().then(() => null, (e) => e);
  await sleep(100);

  await kill(srv);

  lost(addr)(await blocked);
  await assert.rejects(d.get('k'), lost(addr));
  assert.equal(mgr.connected, false);
  // Later calls fail the same way at once, one by one or batched.
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) await assert.rejects(d.len(), lost(addr));
  const settled = await Promise.allSettled([d.len(), d.get('k'), mgr.ping(), mgr.objects()]);
  for (const r of settled) {
    assert.equal(r.status, 'rejected');
    lost(addr)(r.reason);
  }
  assert.ok(performance.now() - t0 < 2000, `lost calls took ${performance.now() - t0} ms`);

  // No server: reconnect runs out of time; the manager stays disconnected.
  let t1 = performance.now();
  await assert.rejects(mgr.reconnect({ timeout: 200 }), (e) => {
    assert.ok(e instanceof m.TimeoutError && e.code === 'MP_E_TIMEOUT', `${e}`);
    assert.ok(e.message.includes(addr), e.message);
    return true;
  });
  const took = performance.now() - t1;
  assert.ok(took >= 190 && took < 5000, `reconnect({timeout: 200}) took ${took} ms`);
  await assert.rejects(mgr.reconnect({ timeout: 0 }), m.TimeoutError);
  // An AbortSignal ends a reconnect within a slice.
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('enough')), 100);
  t1 = performance.now();
  await assert.rejects(mgr.reconnect({ signal: ac.signal }), (e) => e instanceof m.AbortError && e.code === 'MP_E_ABORTED' && e.cause.message === 'enough');
  assert.ok(performance.now() - t1 < 2000);
  await assert.rejects(mgr.reconnect({ timeout: 'soon' }), TypeError);
  assert.equal(mgr.connected, false);
  await assert.rejects(d.len(), lost(addr));

  // Restart at the same address (over the stale socket file the killed
  // server left): reconnect gets through; the restarted server is empty.
  srv = await serve(t, addr);
  await mgr.reconnect({ timeout: 20000 });
  assert.equal(mgr.connected, true);
  await assert.rejects(d.get('k'), m.NotFoundError);
  await d.set('k', 2);
  assert.equal(await d.get('k'), 2);
  assert.deepStrictEqual(await mgr.objects(), [['d', 'dict']]);
  await other.reconnect({ timeout: 10000 });
  assert.equal(await other.dict('d').get('k'), 2);
  // A reconnect replaces a working connection too.
  await mgr.reconnect({ timeout: 10000 });
  assert.equal(await d.get('k'), 2);

  mgr.close();
  assert.equal(mgr.connected, false);
  await assert.rejects(mgr.reconnect(), m.ClosedError);
});

test('a reconnect started before the server restarts gets through; the event loop keeps running; calls made meanwhile wait for it', async (t) => {
  const addr = sockAddr('race');
  const srv = await serve(t, addr);
  const mgr = await m.connectManager(addr, KEY);
  t.after(() => mgr.close());
  const d = mgr.dict('d');
  await d.incr('n');
  // A call sent before the reconnect fails; the one made after it waits for it.
  await kill(srv);
  const before = d.incr('n').then(() => null, (e) => e);
  const t0 = performance.now();
  const reconnected = mgr.reconnect({ timeout: 20000 }).then(() => performance.now() - t0);
  const after = d.incr('n');
  lost(addr)(await before);
  // The event loop goes round its timers while the reconnect waits (it
  // cannot end before the restart below): five rounds, however long a
  // loaded machine takes for them, and at least 300 ms before the restart.
  await Promise.all([sleep(300), timerTicks(5)]);
  assert.equal(mgr.connected, false);
  const restarted = serve(t, addr);
  const took = await reconnected;
  await restarted;
  assert.ok(took >= 300, `reconnect resolved after ${took} ms, before the restart`);
  assert.equal(mgr.connected, true);
  assert.equal(await after, 1); // sent to the restarted, empty server
  assert.equal(await d.incr('n'), 2);
});
