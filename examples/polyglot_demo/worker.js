'use strict';
// The Node worker of the polyglot demo (see README.md).
//
//   node worker.js JOBS_QUEUE RESULTS_QUEUE CONTROL_ADDR MANAGER_ADDR COUNTS_DICT
//   (authkeys, hex: the control channel's in $DEMO_AUTHKEY_HEX, the
//   manager's in $DEMO_MANAGER_AUTHKEY_HEX)
//
// Says "ready" on the control connection, then takes jobs, puts one result
// per job on the results JoinableQueue, counts it with an atomic incr in the
// manager dict, and stops on {cmd: 'stop'} (answering 'bye').
//
// The counting is pipelined, the way a Node program does I/O: the worker
// does not wait for each incr's reply before taking the next job. A manager
// call runs on libuv's thread pool, so awaiting it pays the hand-over to a
// pool thread and the main thread's wake-up on top of the round trip
// (measured here on a busy 2-core machine: a median of 40-260 µs per incr,
// against ~5-10 µs to get a job and put its result), which left Node a
// small share of the jobs (31 of 3000 in issue #17); calls made while one
// is on the wire go out together as one batch (bindings/node/lib/manager.js).
// Every incr is awaited before "bye", so the three counts the orchestrator
// compares still agree, and a failed incr fails the worker as before.

const path = require('node:path');
const { Queue, connect, connectManager, EmptyError } = require(path.join(__dirname, '..', '..', 'bindings', 'node'));

async function main() {
  const [jobsName, resultsName, ctlAddr, mgrAddr, countsName] = process.argv.slice(2);
  const key = Buffer.from(process.env.DEMO_AUTHKEY_HEX, 'hex');
  const name = `node-${process.pid}`;

  const jobs = new Queue(jobsName, { attach: true });
  const results = new Queue(resultsName, { attach: true });
  const mgr = await connectManager(mgrAddr, Buffer.from(process.env.DEMO_MANAGER_AUTHKEY_HEX, 'hex'));
  const counts = mgr.dict(countsName);
  const ctl = await connect(ctlAddr, { authkey: key });
  await ctl.send({ cmd: 'ready', worker: name, lang: 'node', pid: process.pid });

  let processed = 0;
  let counting = []; // incr calls not yet awaited
  let countError = null;
  // Waits for every incr made so far; rethrows the first failure.
  const settle = async () => {
    const batch = counting;
    counting = [];
    await Promise.all(batch);
    if (countError) throw countError;
  };
  for (;;) {
    let job;
    try {
      job = await jobs.get({ timeout: 50 });
    } catch (e) {
      if (!(e instanceof EmptyError)) throw e;
      await settle();
      if (await ctl.poll({ timeout: 0 })) {
        const msg = await ctl.recv();
        if (msg && msg.cmd === 'stop') break;
      }
      continue;
    }
    await results.put({ id: job.id, worker: name, y: job.x * job.x });
    // Caught here (remembered for settle), so no rejection goes unhandled meanwhile.
    counting.push(counts.incr(name).catch((e) => { countError = countError || e; }));
    processed++;
    // A bound on the calls in flight; waiting here also lets the event loop
    // run the pool's callbacks while jobs keep coming.
    if (counting.length >= 256) await settle();
  }
  await settle();

  await ctl.send({ cmd: 'bye', worker: name, processed });
  ctl.close();
  mgr.close();
  jobs.close();
  results.close();
}

main().catch((e) => {
  console.error(`node-${process.pid}:`, e);
  process.exit(1);
});
