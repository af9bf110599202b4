'use strict';
// The other process of the cross-process tests: `node child.js ROLE ARGS...`.
// It opens the objects by name (as any language would) and reports to the
// test with process.send.

const m = require('..');

const [role, ...args] = process.argv.slice(2);
const send = (x) => new Promise((resolve) => process.send(x, resolve));
const nextMessage = () => new Promise((resolve) => process.once('message', resolve));
const small = (i) => ({ id: i, name: `item-${i}`, vals: [1.5, 2.5, 3.5] });

const roles = {
  // ---- queue
  async 'q-produce'(name, n, mode = 'single') {
    const q = new m.Queue(name, { attach: true });
    n = Number(n);
    if (mode === 'many') {
      for (let i = 0; i < n; i += 100) {
        await q.putMany(Array.from({ length: Math.min(100, n - i) }, (_, k) => small(i + k)));
      }
    } else {
      for (let i = 0; i < n; i++) await q.put(small(i));
    }
    q.close();
  },
  async 'q-consume'(name, n) {
    const q = new m.Queue(name, { attach: true });
    const ids = [];
    for (let i = 0; i < Number(n); i++) {
      const v = await q.get({ timeout: 10000 });
      ids.push(v.id);
      q.taskDone();
    }
    q.close();
    await send({ ids });
  },
  async 'q-echo'(q1, q2, n, spinUs) {
    // Takes n values from q1 and puts each back on q2 (a ponger), with the
    // given main-thread spin.
    const a = new m.Queue(q1, { attach: true, syncSpinUs: Number(spinUs) });
    const b = new m.Queue(q2, { attach: true, syncSpinUs: Number(spinUs) });
    for (let i = 0; i < Number(n); i++) await b.put(await a.get({ timeout: 10000 }));
    a.close();
    b.close();
  },
  async 'q-put'(name, json) {
    const q = new m.Queue(name, { attach: true });
    await q.put(JSON.parse(json));
    q.close();
  },
  async 'q-get-wait'(name) {
    // One get with no timeout: reports the value, or the code of the error
    // that ended the wait (a shutdown from another process).
    const q = new m.Queue(name, { attach: true });
    try {
      await send({ value: await q.get() });
    } catch (e) {
      await send({ error: e.code });
    }
    q.close();
  },
  async 'q-join'(name) {
    // Waits (no timeout) until every value put was marked done.
    const q = new m.Queue(name, { attach: true });
    await q.join();
    await send('joined');
    q.close();
  },
  async 'redis-signal-when-blocked'(port, pid) {
    // Once the test process says the server is paused (CLIENT PAUSE WRITE)
    // and a call of its main thread is held there (INFO blocked_clients),
    // signals that process, then lets the server go on.
    const rs = require('./redis_server');
    await send('ready');
    await nextMessage();
    await rs.untilBlocked(Number(port), 1);
    process.kill(Number(pid), 'SIGUSR2');
    await rs.command(Number(port), 'CLIENT', 'UNPAUSE');
  },
  async 'q-take-hold'(name) {
    // Takes one value, reports it and holds it (no task_done) until killed.
    const q = new m.Queue(name, { attach: true });
    await send(await q.get({ timeout: 10000 }));
    setInterval(() => {}, 1000);
  },

  // ---- pipes
  async 'pipe-echo'() {
    // Echoes raw bytes (so values and raw messages alike come back as sent).
    const conn = m.Connection.fromFd(3);
    for (;;) {
      let msg;
      try {
        msg = await conn.recvBytes();
      } catch (e) {
        if (e.code === 'MP_E_EOF') break;
        throw e;
      }
      await conn.sendBytes(msg);
    }
    conn.close();
  },
  async 'listener-client'(addr, key) {
    const c = await m.connect(addr, { authkey: key, timeout: 5000 });
    await c.send({ from: 'child', pid: process.pid });
    const reply = await c.recv({ timeout: 5000 });
    c.close();
    await send(reply);
  },
  async 'listener-client-badkey'(addr) {
    try {
      await m.connect(addr, { authkey: 'not the key', timeout: 5000 });
      await send('connected');
    } catch (e) {
      await send(e.code);
    }
  },

  // ---- manager
  async 'mgr-incr'(addr, key, dict, n) {
    const mgr = await m.connectManager(addr, key);
    const d = mgr.dict(dict);
    await Promise.all(Array.from({ length: Number(n) }, () => d.incr('hits')));
    await mgr.list(`${dict}-pids`).append(process.pid);
    mgr.close();
  },
  async 'mgr-serve'(addr, key) {
    m.serveManager(addr, key);
    await send('serving');
    setInterval(() => {}, 1000); // serve until killed
  },
  async 'mgr-event-set'(addr, name) {
    const mgr = await m.connectManager(addr);
    await mgr.event(name).set();
    mgr.close();
  },
  async 'mgr-lock-hold'(addr, key, name) {
    const mgr = await m.connectManager(addr, key);
    await mgr.lock(name).acquire();
    await send('held');
    await nextMessage(); // killed before this arrives
  },

  // ---- shared memory
  async 'shm-write'(name) {
    const s = new m.SharedMemory(name);
    const u = new Uint8Array(s.buffer);
    for (let i = 0; i < 10; i++) u[i] = i * 3;
    s.close();
  },
  async 'arr-incr'(name, n) {
    const a = new m.SharedArray(name, 'q', 0, { attach: true });
    for (let i = 0; i < Number(n); i++) a.incr(0, 1);
    a.close();
  },
  async 'arr-locked-rmw'(name, n) {
    // Non-atomic read-modify-write on the view, made safe by the array's lock.
    const a = new m.SharedArray(name, 'q', 0, { attach: true });
    for (let i = 0; i < Number(n); i++) {
      await a.withLock((v) => {
        const x = v[1];
        v[1] = x + 1n;
      });
    }
    a.close();
  },
  async 'slist-set'(name) {
    const l = new m.ShareableList(name, null, { attach: true });
    l.set(0, 'set by child');
    l.set(1, l.get(1) + 1);
    l.close();
  },

  // ---- locks and friends
  async 'lock-hold'(name) {
    const l = new m.Lock(name, { attach: true });
    await l.acquire();
    await send('held');
    setInterval(() => {}, 1000); // hold it until killed
  },
  async 'lock-rmw'(lockName, arrName, n) {
    const l = new m.Lock(lockName, { attach: true });
    const a = new m.SharedArray(arrName, 'q', 0, { attach: true, lock: false });
    const v = a.view;
    for (let i = 0; i < Number(n); i++) {
      await l.acquire();
      const x = v[0];
      await null; // yield inside the critical section
      v[0] = x + 1n;
      l.release();
    }
    l.close();
    a.close();
  },
  async 'cond-wait'(lockName, condName, flagName) {
    const l = new m.Lock(lockName, { attach: true });
    const c = new m.Condition(condName, l, { attach: true });
    const flag = new m.Value(flagName, 'i', { attach: true, lock: false });
    await l.acquire();
    await send('waiting');
    const ok = await c.waitFor(() => flag.view[0] === 1, { timeout: 10000 });
    l.release();
    await send({ ok });
    c.close();
    l.close();
    flag.close();
  },
  async 'cond-notify'(lockName, condName, flagName) {
    const l = new m.Lock(lockName, { attach: true });
    const c = new m.Condition(condName, l, { attach: true });
    const flag = new m.Value(flagName, 'i', { attach: true, lock: false });
    await c.withLock(() => {
      flag.view[0] = 1;
      c.notifyAll();
    });
    c.close();
    l.close();
    flag.close();
  },
  async 'event-set'(name) {
    const e = new m.Event(name, { attach: true });
    e.set();
    e.close();
  },
  async 'sem-hold'(name) {
    const s = new m.Semaphore(name, 0, { attach: true });
    await s.acquire();
    await send('acquired');
    await nextMessage();
    s.release();
    s.close();
  },
  async 'barrier-wait'(name) {
    const b = new m.Barrier(name, 0, { attach: true });
    try {
      await send({ index: await b.wait({ timeout: 10000 }) });
    } catch (e) {
      await send({ error: e.code });
    }
    b.close();
  },
};

(async () => {
  if (!roles[role]) throw new Error(`unknown role ${role}`);
  await roles[role](...args);
  if (process.connected) process.disconnect();
})().catch((e) => {
  console.error(`child ${role}:`, e);
  process.exit(1);
});
