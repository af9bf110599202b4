// Type-checked only (tsc --noEmit, run by test/types.test.js): typed objects
// take values of a user's interface. An interface has no index signature, so
// it is not assignable to Cbor's `{ [key: string]: Cbor }`: `put(job)` on a
// Queue<Job> must compile all the same (it once failed with TS2345), while a
// value of the wrong shape must still be refused (the @ts-expect-error lines
// fail the check if they ever compile).
import { Queue, Pipe, Listener, connect, Connection, connectManager, type In } from '../../index';

interface Job { id: number; name: string }
interface Reply { ok: boolean; job: Job; at?: Date }

async function typed(): Promise<void> {
  const q = new Queue<Job>('jobs');
  const job: Job = { id: 1, name: 'one' };
  await q.put(job);
  q.tryPut(job);
  await q.putMany([job, { id: 2, name: 'two' }]);
  const got: Job = await q.get({ timeout: 10 });
  const maybe: Job | undefined = q.tryGet();
  const many: Job[] = await q.getMany(5);
  for await (const j of q) console.log(j.id, j.name);
  // @ts-expect-error: not a Job
  await q.put({ id: 'x', name: 'one' });
  // @ts-expect-error: a Job has a name
  q.tryPut({ id: 1 });

  // A queue that also carries the null "no more work" sentinel.
  const work = new Queue<Job | null>('work');
  await work.put(null);
  await work.put(job);
  const next: Job | null = await work.get();

  // Untyped objects still take any Cbor value, and only Cbor values.
  const any = new Queue('any');
  await any.put({ a: [1, 'b', null, new Uint8Array(1)] });
  // @ts-expect-error: a function is not Cbor
  await any.put(() => 1);
  const none: In<unknown> = { x: 1 };

  const [a, b] = Pipe<Reply>();
  await a.send({ ok: true, job });
  const r: Reply = await b.recv();
  // @ts-expect-error: not a Reply
  await a.send(job);
  const l = new Listener<Job>('unix:/tmp/typed.sock');
  const s: Connection<Job> = await l.accept();
  const c: Connection<Job> = await connect<Job>(l.address);
  await c.send(job);
  const fromServer: Job = await s.recv();
  const fd: Connection<Job> = Connection.fromFd<Job>(3);

  const m = await connectManager('unix:/tmp/typed-mgr.sock');
  const d = m.dict<Job>('jobs');
  await d.set('a', job);
  const dj: Job = await d.get('a');
  const dd: Job | null = await d.get('b', null);
  const counts = m.dict('counts');
  const n: number | bigint = await counts.incr('node', 1);
  const lst = m.list<Job>('list');
  await lst.append(job);
  const lj: Job[] = await lst.copy();
  const mq = m.queue<Job>('mq');
  await mq.put(job);
  const mj: Job = await mq.get();
  const v = m.value<Job>('v');
  await v.set(job);
  // @ts-expect-error: not a Job
  await v.set(1);
  console.log(got, maybe, many, next, none, r, fromServer, fd, dj, dd, n, lj, mj);
}

void typed();
