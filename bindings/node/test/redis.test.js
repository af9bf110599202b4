'use strict';
// Queue / JoinableQueue at a Redis / Valkey address (docs/REDIS.md): the
// same Queue class and calls as for a local name, the address passed to
// mpq_open as it is. Servers: test/redis_server.js (scripts/redis-server.sh;
// under CI=true a missing server fails, elsewhere it is skipped loudly).
// Every test runs against Redis over TCP; the cross-process core of them
// also over Redis's unix socket and against Valkey (TCP and unix socket).
//
// Waits are for states, never for durations: a test that must wake a waiter
// parked on the server first waits until the server reports it blocked
// (INFO clients), then wakes it.

const test = require('node:test');
const assert = require('node:assert/strict');
const m = require('..');
const { uniq, child } = require('./helpers');
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
  { label: 'redis tcp', server: 'redis', full: true, addr: (s, n, q) => `redis://127.0.0.1:${s.port}/${n}${q}` },
  { label: 'redis unix', server: 'redis', addr: (s, n, q) => `redis+unix://${s.socket}/${n}${q}` },
  { label: 'valkey tcp', server: 'valkey', addr: (s, n, q) => `valkey://127.0.0.1:${s.port}/${n}${q}` },
  { label: 'valkey unix', server: 'valkey', addr: (s, n, q) => `valkey+unix://${s.socket}/${n}${q}` },
];

/**
 * A test against `target`: `fn(ctx)` gets ctx.s (the server), ctx.addr(name,
 * query) (the address of queue `name`) and ctx.open(opts, query) (a new
 * queue of a fresh name; ctx.name(q) gives its bare name back).
 */
function rtest(target, title, fn) {
  test(`${target.label}: ${title}`, { timeout: 120000 }, async (t) => {
    const s = servers[target.server];
    if (s.missing) {
      t.skip(s.missing);
      return;
    }
    const bare = new Map();
    const ctx = {
      s,
      addr: (name, query = '') => target.addr(s, name, query),
      open(opts, query = '') {
        const n = uniq('rq');
        const q = new m.Queue(ctx.addr(n, query), opts);
        bare.set(q, n);
        return q;
      },
      name: (q) => bare.get(q),
    };
    await fn(ctx, t);
  });
}

/** The values of the round trip: every kind the binding's codec maps (docs/TYPES.md). */
function sampleValues() {
  return [
    null,
    true,
    false,
    0,
    -1,
    2 ** 53 - 1,
    1.5,
    -0.25,
    'text é€😀',
    '',
    Buffer.from([0, 1, 2, 255]),
    Buffer.alloc(0),
    [1, 'two', [3, [4, null]], { five: 5 }],
    { id: 7, name: 'job', tags: ['a', 'b'], nested: { deep: { deeper: [1.5, 2.5] } } },
    new Map([[1, 'one'], [-(2n ** 63n), 'min'], ['k', new Map([[2.5, 'float key']])]]),
    2n ** 53n + 1n,
    2n ** 63n - 1n,
    -(2n ** 63n),
    2n ** 64n + 5n,
    -(2n ** 70n),
    new Date(Date.UTC(2026, 11, 6, 12, 34, 56, 789)),
    new m.Tag('tagged', 4242),
    new m.Float64(1),
  ];
}

// ------------------------------------------------------------------ core
// (every target)

for (const target of TARGETS) {
  rtest(target, 'JS values round trip; each message is its canonical CBOR in the documented items list', async ({ s, open, name }) => {
    const q = open();
    const values = sampleValues();
    for (const v of values) await q.put(v);
    assert.equal(q.qsize(), values.length);
    // What a plain Redis client sees (docs/REDIS.md, "Key layout").
    const stored = await redis.command(s.port, 'LRANGE', `mpipc:q:{${name(q)}}:items`, 0, -1);
    assert.deepStrictEqual(stored.map((b) => Buffer.from(b)), values.map((v) => m.encode(v)));
    for (const v of values) assert.deepStrictEqual(await q.get({ timeout: 10000 }), m.decode(m.encode(v)));
    assert.equal(q.tryGet(), undefined);
    await q.putMany(values);
    assert.deepStrictEqual(await q.getMany(1000), values.map((v) => m.decode(m.encode(v))));
    q.close();
  });

  rtest(target, 'a child produces (put, then putMany), this process consumes in order (get, getMany)', async ({ open }) => {
    const q = open();
    const c1 = child('q-produce', [q.name, 300]);
    for (let i = 0; i < 300; i++) {
      assert.deepStrictEqual(await q.get({ timeout: 20000 }), { id: i, name: `item-${i}`, vals: [1.5, 2.5, 3.5] });
    }
    assert.equal((await c1.exited).code, 0);
    const c2 = child('q-produce', [q.name, 2000, 'many']);
    const got = [];
    while (got.length < 2000) got.push(...(await q.getMany(512, { timeout: 20000 })));
    assert.deepStrictEqual(got.map((v) => v.id), Array.from({ length: 2000 }, (_, i) => i));
    assert.equal((await c2.exited).code, 0);
    assert.equal(q.qsize(), 0);
    q.close();
  });

  rtest(target, 'shutdown wakes a getter blocked on the server in another process', async ({ s, open }) => {
    const q = open();
    const c = child('q-get-wait', [q.name]);
    await redis.untilBlocked(s.port, 1);
    q.shutdown();
    assert.deepStrictEqual(await c.next(), { error: 'MP_E_SHUTDOWN' });
    assert.equal((await c.exited).code, 0);
    await assert.rejects(q.put(1), m.ShutdownError);
    q.close();
  });

  rtest(target, 'maxsize: puts wait for room made by a consumer process; join waits for its taskDone', async ({ open }) => {
    const q = open({ maxsize: 5 });
    const c = child('q-consume', [q.name, 60]);
    for (let i = 0; i < 60; i++) await q.put({ id: i }, { timeout: 20000 });
    await q.join({ timeout: 20000 });
    assert.deepStrictEqual((await c.next()).ids, Array.from({ length: 60 }, (_, i) => i));
    assert.equal((await c.exited).code, 0);
    q.close();
  });
}

// ------------------------------------------------------------------ the rest
// (Redis over TCP)

const T = TARGETS.find((t) => t.full);

rtest(T, 'a joiner in another process wakes when this process marks the last task done', async ({ s, open }) => {
  const q = open();
  await q.putMany(['a', 'b', 'c']);
  const c = child('q-join', [q.name]);
  await redis.untilBlocked(s.port, 1);
  for (let i = 0; i < 3; i++) {
    await q.get();
    q.taskDone();
  }
  assert.equal(await c.next(), 'joined');
  assert.equal((await c.exited).code, 0);
  q.close();
});

rtest(T, 'a signal arriving while the main thread waits for the server does not fail the call (EINTR is no lost connection)', async ({ s, open }) => {
  // A process-directed signal goes to the main thread, here held in a
  // synchronous call (tryPut) by CLIENT PAUSE until the child has sent it.
  const q = open();
  let signals = 0;
  const onSignal = () => {
    signals += 1;
  };
  process.on('SIGUSR2', onSignal);
  try {
    const c = child('redis-signal-when-blocked', [s.port, process.pid]);
    assert.equal(await c.next(), 'ready');
    await redis.command(s.port, 'CLIENT', 'PAUSE', 60000, 'WRITE');
    await new Promise((resolve) => c.proc.send('paused', resolve));
    assert.equal(q.tryPut('through'), true);
    assert.equal((await c.exited).code, 0);
    assert.equal(await q.get(), 'through');
    while (signals === 0) await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('SIGUSR2', onSignal);
  }
  q.close();
});

rtest(T, 'maxsize and timeouts: FullError, EmptyError, qsize/empty/full, options', async ({ open }) => {
  const q = open({ maxsize: 2, maxMessage: 1000 });
  assert.deepStrictEqual(q.options, { maxsize: 2, capacityBytes: 0, maxMessage: 1000 });
  await assert.rejects(q.get({ timeout: 100 }), (e) => e instanceof m.EmptyError && e.code === 'MP_E_EMPTY');
  await assert.rejects(q.get({ timeout: 0 }), m.EmptyError);
  assert.equal(q.empty(), true);
  assert.equal(q.tryPut(1), true);
  await q.put(2, { timeout: 0 });
  assert.equal(q.tryPut(3), false);
  assert.equal(q.full(), true);
  await assert.rejects(q.put(3, { timeout: 100 }), (e) => e instanceof m.FullError && e.code === 'MP_E_FULL');
  await assert.rejects(q.put(3, { timeout: 0 }), m.FullError);
  // putMany puts what fits, then waits for room: FullError when none comes.
  await assert.rejects(q.putMany([3, 4], { timeout: 100 }), m.FullError);
  assert.equal(q.qsize(), 2);
  assert.deepStrictEqual([await q.get(), q.tryGet()], [1, 2]);
  assert.equal(q.empty(), true);
  assert.equal(q.full(), false);
  await assert.rejects(q.put('x'.repeat(2000)), (e) => e instanceof m.TooBigError && e.code === 'MP_E_TOOBIG');
  await assert.rejects(q.putMany([1, 'x'.repeat(2000)]), m.TooBigError);
  assert.equal(q.qsize(), 0);
  q.setSpin(0); // accepted, no effect on Redis
  q.close();
});

rtest(T, 'task accounting: taskDone beyond the puts is InvalidError; join times out while a task is pending', async ({ open }) => {
  const q = open();
  await q.putMany([1, 2]);
  await q.getMany(2);
  q.taskDone();
  q.taskDone();
  assert.throws(() => q.taskDone(), (e) => e instanceof m.InvalidError && e.code === 'MP_E_INVAL');
  await q.join({ timeout: 0 });
  await q.put('pending');
  await assert.rejects(q.join({ timeout: 100 }), (e) => e instanceof m.TimeoutError && e.code === 'MP_E_TIMEOUT');
  q.close();
});

rtest(T, 'shutdown: puts fail, gets drain then fail, the async iterator ends; immediate discards and counts as done', async ({ s, open }) => {
  const q = open();
  await q.putMany([1, 2, 3]);
  q.shutdown();
  await assert.rejects(q.put(4), (e) => e instanceof m.ShutdownError && e.code === 'MP_E_SHUTDOWN');
  const seen = [];
  for await (const v of q) seen.push(v);
  assert.deepStrictEqual(seen, [1, 2, 3]);
  await assert.rejects(q.get(), m.ShutdownError);
  q.close();

  // Immediate: what is queued is dropped and counted as done, so a joiner
  // wakes; a getter blocked on this process's thread pool wakes too.
  const q2 = open();
  const getter = open();
  const other = new m.Queue(q2.name, { attach: true });
  await q2.putMany(['x', 'y']);
  const empty = getter.get();
  await redis.untilBlocked(s.port, 1);
  const joining = q2.join({ timeout: 20000 });
  other.shutdown({ immediate: true });
  await joining;
  assert.equal(q2.qsize(), 0);
  await assert.rejects(q2.get(), m.ShutdownError);
  getter.shutdown();
  await assert.rejects(empty, m.ShutdownError);
  for (const h of [q2, getter, other]) h.close();
});

rtest(T, 'a blocked put ends with ShutdownError when another handle shuts the queue down', async ({ s, open }) => {
  const q = open({ maxsize: 1 });
  await q.put('full');
  const putting = q.put('more');
  await redis.untilBlocked(s.port, 1);
  const other = new m.Queue(q.name, { attach: true });
  other.shutdown();
  await assert.rejects(putting, m.ShutdownError);
  other.close();
  q.close();
});

rtest(T, 'close and AbortSignal end waits on the server (get, put, join)', async ({ s, open }) => {
  const q = open({ maxsize: 1 });
  const getting = q.get();
  await redis.untilBlocked(s.port, 1);
  q.close();
  await assert.rejects(getting, (e) => e instanceof m.ClosedError && e.code === 'MP_E_CLOSED');
  assert.throws(() => q.qsize(), m.ClosedError);
  await assert.rejects(q.get(), m.ClosedError);

  const q2 = new m.Queue(q.name, { attach: true });
  const ac = new AbortController();
  const aborted = q2.get({ signal: ac.signal });
  await redis.untilBlocked(s.port, 1);
  ac.abort('enough');
  await assert.rejects(aborted, (e) => e instanceof m.AbortError && e.cause === 'enough');

  await q2.put('fills it');
  const ac2 = new AbortController();
  const putting = q2.put('no room', { signal: ac2.signal });
  await redis.untilBlocked(s.port, 1);
  ac2.abort('stop');
  await assert.rejects(putting, m.AbortError);

  const joining = q2.join();
  await redis.untilBlocked(s.port, 1);
  q2.close();
  await assert.rejects(joining, m.ClosedError);
});

rtest(T, 'bytes: putBytes/getBytes, the many variants, messages larger than the receive buffers', async ({ open }) => {
  const q = open();
  await q.putBytes(Buffer.from('raw'));
  await q.putBytes('text as utf-8');
  assert.equal((await q.getBytes()).toString(), 'raw');
  assert.equal(q.tryGetBytes().toString(), 'text as utf-8');
  assert.equal(q.tryGetBytes(), undefined);
  await q.putManyBytes(['a', 'bb', Buffer.from('ccc')]);
  assert.deepStrictEqual((await q.getManyBytes(10)).map(String), ['a', 'bb', 'ccc']);
  // Larger than the handle's 64 KiB receive buffer (get) and than the
  // first batch buffer of getMany (256 KiB): both grow, nothing is lost.
  const big = (i) => ({ i, blob: Buffer.alloc(200000, i) });
  await q.put(big(1));
  assert.deepStrictEqual(await q.get(), big(1));
  await q.putMany([big(2), big(3), big(4)]);
  const got = [];
  while (got.length < 3) got.push(...(await q.getMany(10, { timeout: 10000 })));
  assert.deepStrictEqual(got, [big(2), big(3), big(4)]);
  q.close();
});

rtest(T, 'undecodable bytes: DecodeError, the message is consumed; EncodeError sends nothing', async ({ open }) => {
  const q = open();
  await q.putBytes(Buffer.from([0x1c]));
  await q.put('next');
  await assert.rejects(q.get(), (e) => e instanceof m.DecodeError && e.code === 'MP_E_CORRUPT' && e.data[0] === 0x1c);
  assert.equal(await q.get(), 'next');
  assert.throws(() => q.tryPut(() => 1), (e) => e instanceof m.EncodeError && e.code === 'MP_E_TYPE');
  assert.equal(q.qsize(), 0);
  q.close();
});

rtest(T, 'open flags, mismatches and unlink', async ({ addr, open }) => {
  const q = open({ maxsize: 3 });
  assert.throws(() => new m.Queue(q.name, { create: true }), (e) => e instanceof m.ExistsError && e.code === 'MP_E_EXISTS');
  assert.throws(() => new m.Queue(addr(uniq('nope')), { attach: true }), (e) => e instanceof m.NotFoundError);
  assert.throws(() => new m.Queue(q.name, { maxsize: 4 }), (e) => e instanceof m.InvalidError && /4/.test(e.message));
  const same = new m.Queue(q.name, { attach: true });
  assert.equal(same.options.maxsize, 3);
  await q.put('x');
  m.Queue.unlink(q.name);
  assert.throws(() => same.qsize(), m.NotFoundError);
  assert.throws(() => m.Queue.unlink(q.name), m.NotFoundError);
  assert.throws(() => new m.Queue(q.name, { attach: true }), m.NotFoundError);
  same.close();
  q.close();
});

rtest(T, 'options that do not apply: UnsupportedError; bad addresses: InvalidError naming the part; refused: IOError', ({ s, addr }) => {
  const name = uniq('opt');
  assert.throws(() => new m.Queue(addr(name), { capacityBytes: 4096 }),
    (e) => e instanceof m.UnsupportedError && e.code === 'MP_E_UNSUPPORTED' && /capacity_bytes/.test(e.message));
  assert.throws(() => new m.Queue(addr(name), { mode: 0o600 }),
    (e) => e instanceof m.UnsupportedError && /mode/.test(e.message));
  assert.throws(() => new m.Queue(`rediss://127.0.0.1:${s.port}/${name}`), (e) => e instanceof m.UnsupportedError && /TLS/.test(e.message));
  assert.throws(() => new m.Queue(`redis://127.0.0.1:x/${name}`), (e) => e instanceof m.InvalidError && /port "x"/.test(e.message));
  assert.throws(() => new m.Queue(`redis://127.0.0.1:${s.port}/a/${name}`), (e) => e instanceof m.InvalidError && /db "a"/.test(e.message));
  assert.throws(() => new m.Queue(`redis://127.0.0.1:${s.port}/`), (e) => e instanceof m.InvalidError && /name missing/.test(e.message));
  assert.throws(() => new m.Queue(addr(name, '?foo=1')), (e) => e instanceof m.InvalidError && /unknown option "foo"/.test(e.message));
  assert.throws(() => new m.Queue(addr(name, '?ack=maybe')), (e) => e instanceof m.InvalidError && /ack/.test(e.message));
  assert.throws(() => new m.Queue(addr('bad{name')), (e) => e instanceof m.InvalidError && /invalid name/.test(e.message));
  // A port nobody listens on (the server's own, once stopped, could be
  // reused by then: port 1 is never a Redis server here).
  assert.throws(() => new m.Queue(`redis://127.0.0.1:1/${name}`), (e) => e instanceof m.IOError && /refused/.test(e.message));
  // None of these created anything.
  assert.throws(() => new m.Queue(addr(name), { attach: true }), m.NotFoundError);
});

rtest(T, 'many concurrent gets share the connection pool; every value reaches exactly one', async ({ open }) => {
  const q = open();
  const gets = Array.from({ length: 50 }, () => q.get({ timeout: 30000 }));
  await q.putMany(Array.from({ length: 50 }, (_, i) => i));
  const got = await Promise.all(gets);
  assert.deepStrictEqual(got.sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  q.close();
});

rtest(T, 'at-least-once: the value a SIGKILLed consumer held comes back; a closed consumer gives its values back at once', async ({ open }) => {
  // A short lease, so the dead consumer's value comes back soon; the test
  // waits for the value itself, however long that takes.
  const q = open({}, '?ack=at-least-once&lease_ms=300');
  await q.putMany(['j1', 'j2', 'j3']);
  const c = child('q-take-hold', [q.name]);
  assert.equal(await c.next(), 'j1');
  c.proc.kill('SIGKILL');
  assert.equal((await c.exited).signal, 'SIGKILL');
  const got = [];
  for (let i = 0; i < 3; i++) {
    got.push(await q.get({ timeout: 30000 }));
    q.taskDone();
  }
  assert.deepStrictEqual(got.sort(), ['j1', 'j2', 'j3']);
  await q.join({ timeout: 0 });
  assert.throws(() => q.taskDone(), m.InvalidError);

  // A handle closed before its taskDone gives the value back at once, to
  // the head of the queue.
  const other = new m.Queue(q.name, { attach: true });
  await q.putMany(['k1', 'k2']);
  assert.equal(await other.get(), 'k1');
  other.close();
  assert.deepStrictEqual(await q.getMany(10), ['k1', 'k2']);
  q.taskDone();
  q.taskDone();
  await q.join({ timeout: 0 });
  q.close();
});
