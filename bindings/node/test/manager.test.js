'use strict';
// The manager: a server in this process (serveManager), clients here and in
// child processes.

const test = require('node:test');
const assert = require('node:assert/strict');
const m = require('..');
const { sockAddr, child, uniq } = require('./helpers');

const KEY = 'manager test key';
let srv;
let mgr;

test.before(async () => {
  srv = m.serveManager(sockAddr('mgr'), KEY);
  mgr = await m.connectManager(srv.address, KEY);
});

test.after(async () => {
  mgr.close();
  await srv.shutdown();
  await srv.shutdown(); // idempotent
});

test('children increment one counter concurrently: atomic, none lost', async () => {
  const dict = uniq('d');
  const kids = [1, 2, 3].map(() => child('mgr-incr', [srv.address, KEY, dict, 200]));
  for (const k of kids) assert.equal((await k.exited).code, 0);
  assert.equal(await mgr.dict(dict).get('hits'), 600);
  assert.equal((await mgr.list(`${dict}-pids`).len()), 3);
});

test('dict proxy: every method, Map for non-text keys, errors', async () => {
  const d = mgr.dict(uniq('d'));
  await d.set('a', 1);
  await d.set(2, 'two');
  await d.set([1, 2], 'tuple');
  assert.equal(await d.get('a'), 1);
  assert.equal(await d.get(2.0), 'two'); // 2 and 2.0 are one key
  assert.equal(await d.get([1, 2]), 'tuple');
  assert.equal(await d.get('zz', 'dflt'), 'dflt');
  assert.equal(await d.get('zz', null), null);
  // The key as the user wrote it, never Rust's Text("zz") (issue 20, item 6).
  await assert.rejects(d.get('zz'), (e) => e instanceof m.NotFoundError && e.code === 'MP_E_NOTFOUND' && /KeyError: "zz"/.test(e.message) && !/Text\(/.test(e.message));
  assert.equal(await d.has('a'), true);
  assert.equal(await d.len(), 3);
  const copy = await d.copy();
  assert.ok(copy instanceof Map);
  assert.deepStrictEqual([...copy.keys()], ['a', 2, [1, 2]]);
  assert.deepStrictEqual(await d.keys(), ['a', 2, [1, 2]]);
  assert.deepStrictEqual(await d.values(), [1, 'two', 'tuple']);
  assert.deepStrictEqual(await d.items(), [['a', 1], [2, 'two'], [[1, 2], 'tuple']]);
  assert.equal(await d.incr('n'), 1);
  assert.equal(await d.incr('n', 41), 42);
  await assert.rejects(d.incr('a', 2n ** 63n), (e) => e.code === 'MP_E_INVAL');
  await assert.rejects(d.incr(2), (e) => e instanceof m.WrongTypeError && e.code === 'MP_E_TYPE');
  assert.equal(await d.compareAndSet('n', 42, 43), true);
  assert.equal(await d.compareAndSet('n', 42, 44), false);
  assert.deepStrictEqual(await d.setdefault('sd', [1]), [1]);
  assert.deepStrictEqual(await d.setdefault('sd', [2]), [1]);
  await d.update({ u1: 1, u2: 2 });
  await d.update(new Map([[3, 'three']]));
  assert.equal(await d.pop('u1'), 1);
  assert.equal(await d.pop('u1', 'gone'), 'gone');
  await assert.rejects(d.pop('u1'), m.NotFoundError);
  assert.deepStrictEqual(await d.popitem(), [3, 'three']);
  await d.delete('u2');
  await assert.rejects(d.delete('u2'), m.NotFoundError);
  await assert.rejects(d.set({ map: 1 }, 1), (e) => e.code === 'MP_E_TYPE'); // unhashable key
  await d.clear();
  assert.equal(await d.len(), 0);
  assert.deepStrictEqual(await d.copy(), {});
  await d.set('text', 'keys');
  assert.deepStrictEqual(await d.copy(), { text: 'keys' }); // all-text keys: a plain object
});

test('list proxy', async () => {
  const l = mgr.list(uniq('l'));
  await l.extend([3, 1, 2]);
  await l.append('x');
  await l.insert(0, 'first');
  assert.deepStrictEqual(await l.copy(), ['first', 3, 1, 2, 'x']);
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
  await l.setSlice(0, 2, ['a']);
  assert.deepStrictEqual(await l.copy(), ['a', 1, 0]);
  await l.deleteSlice(1);
  await l.append('b');
  await l.reverse();
  assert.equal(await l.pop(), 'a');
  await assert.rejects(l.get(5), (e) => e instanceof m.IndexError && e.code === 'MP_E_INDEX');
  await l.delete(0);
  await assert.rejects(l.pop(), m.IndexError);
  await l.append(1);
  await assert.rejects(l.extend([{}, 'x']).then(() => l.sort()), (e) => e.code === 'MP_E_TYPE');
  await l.clear();
  assert.equal(await l.len(), 0);
});

test('value, queue, lock, event proxies; generic calls; kinds', async () => {
  const v = mgr.value(uniq('v'));
  assert.equal(await v.get(), null);
  assert.equal(await v.incr(), 1);
  await v.set({ any: 'value' });
  assert.deepStrictEqual(await v.get(), { any: 'value' });
  assert.equal(await v.compareAndSet({ any: 'value' }, 2), true);

  const q = mgr.queue(uniq('q'));
  const t0 = Date.now();
  await assert.rejects(q.get({ timeout: 150 }), (e) => e instanceof m.EmptyError);
  assert.ok(Date.now() - t0 >= 140);
  await q.put([1, 2]);
  assert.equal(await q.qsize(), 1);
  assert.deepStrictEqual(await q.get({ timeout: 1000 }), [1, 2]);
  await q.taskDone();
  await q.join({ timeout: 100 });
  await assert.rejects(q.taskDone(), (e) => e.code === 'MP_E_INVAL');

  const lk = mgr.lock(uniq('lk'));
  assert.equal(await lk.acquire(), true);
  assert.equal(await lk.locked(), true);
  await assert.rejects(lk.acquire(), (e) => e.code === 'MP_E_INVAL'); // held by this connection
  await lk.release();
  await assert.rejects(lk.release(), (e) => e instanceof m.PermError);
  assert.equal(await lk.withLock(() => 7), 7);

  const ev = mgr.event(uniq('ev'));
  assert.equal(await ev.wait({ timeout: 50 }), false);
  setTimeout(() => ev.set(), 30);
  assert.equal(await ev.wait({ timeout: 5000 }), true);
  assert.equal(await ev.isSet(), true);

  const s = mgr.proxy('set', uniq('set'));
  await s.call('add', 'x');
  assert.deepStrictEqual(await s.call('members'), ['x']);
  assert.equal(await mgr.create('semaphore', uniq('sem'), 3), true);
  await assert.rejects(mgr.call('dict', s.name, 'len'), (e) => e instanceof m.WrongTypeError); // kind mismatch
  await assert.rejects(mgr.call('nosuchkind', 'x', 'len'), (e) => e instanceof m.UnsupportedError && e.code === 'MP_E_UNSUPPORTED');
  await assert.rejects(mgr.call('dict', 'x', 'nosuchmethod'), m.UnsupportedError);
  await assert.rejects(mgr.call('barrier', uniq('b'), 'wait'), (e) => e.code === 'MP_E_INVAL'); // no default parties
  assert.equal(await mgr.ping(), null);
  assert.equal(await mgr.delete(s.name), true);
  const st = await mgr.stats();
  assert.ok(st.objects > 0 && st.connections >= 1);
  assert.ok((await mgr.objects()).length > 0);
  await assert.rejects(mgr.dict('x').set('f', () => 1), (e) => e instanceof m.EncodeError);
});

test('a lock held by a killed client is released by the server', async () => {
  const name = uniq('lk');
  const c = child('mgr-lock-hold', [srv.address, KEY, name]);
  assert.equal(await c.next(), 'held');
  assert.equal(await mgr.lock(name).acquire({ timeout: 100 }), false);
  c.proc.kill('SIGKILL');
  await c.exited;
  assert.equal(await mgr.lock(name).acquire({ timeout: 5000 }), true);
  await mgr.lock(name).release();
});

test('connect errors, pipelining, close and use after close', async () => {
  await assert.rejects(m.connectManager(srv.address, 'wrong key'), (e) => e instanceof m.AuthError);
  await assert.rejects(m.connectManager(sockAddr('none'), KEY, { timeout: 500 }), (e) => e instanceof m.NotFoundError);
  const m2 = await m.connectManager(srv.address, { authkey: KEY });
  const d = m2.dict(uniq('d'));
  const results = await Promise.all(Array.from({ length: 500 }, () => d.incr('k')));
  assert.equal(Math.max(...results), 500);
  m2.close();
  m2.close();
  await assert.rejects(d.get('k'), (e) => e instanceof m.ClosedError && e.code === 'MP_E_CLOSED');
  assert.throws(() => m2.setSpin(0), m.ClosedError);
});

test('server shutdown: clients see ShutdownError or EOFError', async () => {
  const s2 = m.serveManager(sockAddr('mgr2'));
  const c = await m.connectManager(s2.address);
  const q = c.queue('q');
  const waiting = assert.rejects(q.get(), (e) => e.code === 'MP_E_SHUTDOWN' || e.code === 'MP_E_EOF');
  await new Promise((r) => setTimeout(r, 50));
  await s2.shutdown();
  await waiting;
  await assert.rejects(c.ping(), (e) => ['MP_E_EOF', 'MP_E_IO', 'MP_E_SHUTDOWN'].includes(e.code));
  c.close();
});

test('a ManagerRef stored in the manager comes back typed and opens its object; a tuple key is the array key', async () => {
  const target = uniq('d');
  await mgr.dict(target).set('k', 7);
  const holder = mgr.list(uniq('l'));
  await holder.append(new m.ManagerRef('dict', target, srv.address));
  const ref = await holder.get(0);
  assert.ok(ref instanceof m.ManagerRef);
  assert.deepEqual({ ...ref }, { kind: 'dict', name: target, address: srv.address });
  const d = mgr.open(ref);
  assert.equal(d.constructor.name, 'DictProxy');
  assert.equal(await d.get('k'), 7);
  assert.equal(mgr.open(new m.ManagerRef('list', 'x', srv.address)).constructor.name, 'ListProxy');
  assert.equal(mgr.open(new m.ManagerRef('namespace', 'x', srv.address)).constructor.name, 'Proxy_');
  // Python writes the key (1, "a") with the TUPLE tag: Node's [1, 'a'] is the same entry.
  await d.set(new m.Tag([1, 'a'], 0x6d707475), 'py');
  assert.equal(await d.get([1, 'a']), 'py');
  assert.equal(await d.len(), 2);
});
