// Type-checked only (tsc --noEmit, run by test/types.test.js): the
// declarations must describe the API as the README uses it.
import {
  Queue, Pipe, connect, Listener, wait, connectManager, serveManager, SharedMemory, SharedArray, Value,
  ShareableList, Lock, RLock, Condition, Semaphore, Event, Barrier, EmptyError, MpipcError, Tag, Float64,
  encode, decode, STATUS, ManagerRef, type Cbor,
} from '../../index';

interface Job { id: number; name: string; vals: number[] }

async function main(): Promise<void> {
  const q = new Queue<Job>('jobs', { maxsize: 100 });
  await q.put({ id: 1, name: 'a', vals: [1.5] });
  const job: Job = await q.get({ timeout: 100 });
  const maybe: Job | undefined = q.tryGet();
  await q.putMany([{ id: 2, name: 'b', vals: [] }, { id: 3, name: 'c', vals: [2] }]);
  const many: Job[] = await q.getMany(10, { timeout: 0 });
  await q.putBytes(Buffer.from('raw'));
  const raw: Buffer = await q.getBytes();
  q.taskDone();
  await q.join({ timeout: 10 });
  q.shutdown({ immediate: true });
  for await (const j of q) console.log(j.id);
  try {
    await q.get({ timeout: 0 });
  } catch (e) {
    if (e instanceof EmptyError) console.log(e.code === 'MP_E_EMPTY', e.status === STATUS.MP_E_EMPTY);
    if (e instanceof MpipcError) console.log(e.code);
  }
  Queue.syncSpinUs = 20;
  const quick = new Queue<Job>('jobs', { syncSpinUs: 0 });
  quick.setSyncSpin(100);
  const spinUs: number = quick.syncSpinUs + Queue.syncSpinUs;
  console.log(spinUs);
  quick.close();
  q.close();
  Queue.unlink('jobs');

  const [a, b] = Pipe();
  await a.send({ hello: [1, 2n, new Map<Cbor, Cbor>([[1, 'one']])] });
  const msg = await b.recv({ timeout: 1000 });
  for await (const m of b) console.log(m);
  const ready = await wait([a, b], { timeout: 10 });
  const l = new Listener('unix:/tmp/x.sock', { authkey: 'key' });
  const c = await connect(l.address, { authkey: 'key', timeout: 1000 });
  const s = await l.accept({ timeout: 1000 });
  await c.sendBytes(new Uint8Array([1]));
  const bytes: Buffer = await s.recvBytes();

  const srv = serveManager('unix:/tmp/m.sock', 'k');
  const m = await connectManager(srv.address, 'k');
  const d = m.dict('stats');
  await d.set('hits', 0);
  const hits = await d.incr('hits', 2);
  const v = await d.get('missing', null);
  const lst = m.list('L');
  await lst.append(1);
  const first = await lst.get(0);
  // A manager reference: sent as a value, opened with the manager API.
  const ref = new ManagerRef('dict', 'stats', srv.address);
  await lst.append(ref);
  const got0 = await lst.get(1);
  if (got0 instanceof ManagerRef) {
    const kind: string = got0.kind;
    const opened = m.open(got0);
    await opened.call('len');
    console.log(kind);
  }
  const dd = m.open(ref as ManagerRef & { kind: 'dict' });
  await dd.set('via-ref', 1);
  const lk = m.lock('lk');
  await lk.withLock(async () => 1);
  await m.proxy('set', 's').call('add', 1);
  if (!m.connected) await m.reconnect({ timeout: 5000, signal: AbortSignal.timeout(10000) });
  await m.reconnect();
  m.close();
  await srv.shutdown();

  const shm = new SharedMemory('blk', 4096);
  new Uint8Array(shm.buffer)[0] = 1;
  const arr = new SharedArray('counts', 'q', 8);
  const view = arr.view as BigInt64Array;
  view[0] += 1n;
  const n: number | bigint = arr.incr(0, 1);
  await arr.withLock(async (vw) => { vw[1] = 2n; });
  const val = new Value('v', 'd');
  val.value = 1.5;
  const sl = new ShareableList('sl', ['a', 1, null]);
  sl.set(0, 'b');

  const lock = new Lock('lk');
  const rl = new RLock('rl');
  if (await lock.acquire({ timeout: 100 })) lock.release();
  const cond = new Condition('cv', lock);
  await cond.withLock(async () => { await cond.wait({ timeout: 10 }); cond.notifyAll(); });
  const sem = new Semaphore('sem', 2, { bounded: true });
  const got: boolean = await sem.acquire({ timeout: 10 });
  const ev = new Event('ev');
  const set: boolean = await ev.wait({ timeout: 10 });
  const bar = new Barrier('bar', 2);
  const idx: number = await bar.wait({ timeout: 10 });

  const t = new Tag('x', 99);
  const f = new Float64(1);
  const enc: Buffer = encode({ t, f, d: new Date() });
  console.log(job, maybe, many, raw, msg, ready, bytes, hits, v, first, n, got, set, idx, rl, decode(enc));
}

void main();
