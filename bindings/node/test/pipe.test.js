'use strict';
// Pipe / Connection / Listener / connect / wait across real processes.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const m = require('..');
const { sockAddr, child, sleep } = require('./helpers');

test('a pipe end handed to a child as fd 3: echo, then EOF, async iteration', async () => {
  const [mine, theirs] = m.Pipe();
  const c = child('pipe-echo', [], { extraStdio: [theirs.fileno()] });
  theirs.close(); // the child has its own copy of the descriptor
  const values = [1, 'two', { three: [3n ** 50n, null] }, new Map([[4, 'four']]), Buffer.from([5])];
  for (const v of values) await mine.send(v);
  for (const v of values) assert.deepStrictEqual(await mine.recv({ timeout: 10000 }), v);
  // a burst of sends goes out as one batch, in order
  await Promise.all(Array.from({ length: 200 }, (_, i) => mine.send(i)));
  const got = [];
  for (let i = 0; i < 200; i++) got.push(await mine.recv({ timeout: 10000 }));
  assert.deepStrictEqual(got, Array.from({ length: 200 }, (_, i) => i));
  await mine.sendBytes('raw bytes');
  assert.equal((await mine.recvBytes({ timeout: 10000 })).toString(), 'raw bytes');
  mine.close();
  assert.equal((await c.exited).code, 0);
});

test('the peer closing gives EOFError; iteration ends; recv timeout is EmptyError', async () => {
  const [a, b] = m.Pipe();
  await assert.rejects(a.recv({ timeout: 80 }), (e) => e instanceof m.EmptyError && e.code === 'MP_E_EMPTY');
  assert.equal(await a.poll(), false);
  await b.send('last');
  assert.equal(await a.poll({ timeout: 1000 }), true);
  b.close();
  const seen = [];
  for await (const v of a) seen.push(v);
  assert.deepStrictEqual(seen, ['last']);
  await assert.rejects(a.recv(), (e) => e instanceof m.EOFError && e.code === 'MP_E_EOF');
  a.close();
  const [r, w] = m.Pipe({ duplex: false });
  await w.send('one way');
  assert.equal(await r.recv(), 'one way');
  await assert.rejects(r.send('wrong way'), (e) => e.code === 'MP_E_INVAL');
  r.close();
  w.close();
});

test('Listener and connect with an authkey, the client in another process', async () => {
  const addr = sockAddr('l');
  const l = new m.Listener(addr, { authkey: 'sesame' });
  assert.equal(l.address, addr);
  const c = child('listener-client', [addr, 'sesame']);
  const conn = await l.accept({ timeout: 10000 });
  const hello = await conn.recv({ timeout: 10000 });
  assert.equal(hello.from, 'child');
  await conn.send({ hi: hello.pid });
  assert.deepStrictEqual(await c.next(), { hi: hello.pid });
  await c.exited;
  await assert.rejects(conn.recv(), m.EOFError);
  conn.close();

  // a wrong key: the client sees AuthError, the listener's accept too, and stays usable
  const bad = child('listener-client-badkey', [addr]);
  await assert.rejects(l.accept({ timeout: 10000 }), (e) => e instanceof m.AuthError && e.code === 'MP_E_AUTH');
  assert.equal(await bad.next(), 'MP_E_AUTH');
  await bad.exited;
  await assert.rejects(l.accept({ timeout: 60 }), (e) => e instanceof m.TimeoutError && e.code === 'MP_E_TIMEOUT');
  l.close();
  l.close();
  assert.equal(fs.existsSync(addr.slice(5)), false, 'the socket file is removed');
  await assert.rejects(l.accept(), m.ClosedError);
});

test('connect errors: nobody listening is NotFoundError; TCP without a key is InvalidError', async () => {
  await assert.rejects(m.connect(sockAddr('none'), { timeout: 500 }), (e) => e instanceof m.NotFoundError);
  assert.throws(() => new m.Listener('tcp:127.0.0.1:0'), (e) => e instanceof m.InvalidError);
  const l = new m.Listener('tcp:127.0.0.1:0', { allowTcpWithoutAuthkey: true });
  assert.match(l.address, /^tcp:127\.0\.0\.1:\d+$/);
  l.close();
});

test('wait() returns the ready connections, [] on expiry', async () => {
  const [a1, b1] = m.Pipe();
  const [a2, b2] = m.Pipe();
  assert.deepStrictEqual(await m.wait([a1, a2], { timeout: 50 }), []);
  setTimeout(() => b2.send('x'), 30);
  const ready = await m.wait([a1, a2], { timeout: 5000 });
  assert.deepStrictEqual(ready, [a2]);
  assert.equal(await a2.recv(), 'x');
  for (const c of [a1, b1, a2, b2]) c.close();
  await assert.rejects(m.wait([a1]), m.ClosedError);
});

test('use after close is ClosedError; close while a recv waits rejects it', async () => {
  const [a, b] = m.Pipe();
  const waiting = a.recv();
  await sleep(30);
  a.close();
  await assert.rejects(waiting, (e) => e instanceof m.ClosedError && e.code === 'MP_E_CLOSED');
  a.close();
  await assert.rejects(a.recv(), m.ClosedError);
  await assert.rejects(a.send(1), m.ClosedError);
  assert.throws(() => a.fileno(), m.ClosedError);
  b.close();
});
