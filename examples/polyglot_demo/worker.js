'use strict';
// The Node worker of the polyglot demo (see README.md).
//
//   node worker.js JOBS_QUEUE RESULTS_QUEUE CONTROL_ADDR MANAGER_ADDR COUNTS_DICT
//   (authkey, hex, in $DEMO_AUTHKEY_HEX)
//
// Says "ready" on the control connection, then takes jobs, puts one result
// per job on the results JoinableQueue, counts it with an atomic incr in the
// manager dict, and stops on {cmd: 'stop'} (answering 'bye').

const path = require('node:path');
const { Queue, connect, connectManager, EmptyError } = require(path.join(__dirname, '..', '..', 'bindings', 'node'));

async function main() {
  const [jobsName, resultsName, ctlAddr, mgrAddr, countsName] = process.argv.slice(2);
  const key = Buffer.from(process.env.DEMO_AUTHKEY_HEX, 'hex');
  const name = `node-${process.pid}`;

  const jobs = new Queue(jobsName, { attach: true });
  const results = new Queue(resultsName, { attach: true });
  const mgr = await connectManager(mgrAddr, key);
  const counts = mgr.dict(countsName);
  const ctl = await connect(ctlAddr, { authkey: key });
  await ctl.send({ cmd: 'ready', worker: name, lang: 'node', pid: process.pid });

  let processed = 0;
  for (;;) {
    let job;
    try {
      job = await jobs.get({ timeout: 50 });
    } catch (e) {
      if (!(e instanceof EmptyError)) throw e;
      if (await ctl.poll({ timeout: 0 })) {
        const msg = await ctl.recv();
        if (msg && msg.cmd === 'stop') break;
      }
      continue;
    }
    await results.put({ id: job.id, worker: name, y: job.x * job.x });
    await counts.incr(name);
    processed++;
  }

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
