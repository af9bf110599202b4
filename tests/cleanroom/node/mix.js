'use strict';
// The mixed-language exchange's Node roles (tests/cleanroom/run.sh), with
// the installed package:
//   mix produce QUEUE N CONSUMERS   create QUEUE (never full: maxsize and
//       byte capacity hold N + CONSUMERS), put {id, text: "job-<id>"} for
//       id = 0..N-1, then CONSUMERS nulls
//   mix consume QUEUE MGR_ADDR      attach QUEUE, get until null; per job
//       check text, then atomically incr the manager dict "counts" at "node"
//       by 1 and at "idsum" by id; print "node consumed K"
// MGR_ADDR is unix:/path, or a bare /path (taken as unix:/path).

const util = require('node:util');
const { Queue, connectManager } = require('mpipc');

const LANG = 'node';

async function produce(name, n, consumers) {
  const total = n + consumers;
  // Each message takes 8 bytes plus its CBOR (< 40 bytes here) rounded to 8.
  const capacityBytes = Math.max(1 << 20, 64 * total);
  const q = new Queue(name, { maxsize: total, capacityBytes });
  for (let i = 0; i < n; i++) await q.put({ id: i, text: `job-${i}` });
  for (let i = 0; i < consumers; i++) await q.put(null);
  q.close();
}

async function consume(name, addr) {
  const q = new Queue(name, { attach: true });
  const mgr = await connectManager(addr.startsWith('/') ? `unix:${addr}` : addr);
  const counts = mgr.dict('counts');
  let k = 0;
  for (;;) {
    const job = await q.get();
    if (job === null) break;
    if (typeof job !== 'object' || !Number.isInteger(job.id) || job.text !== `job-${job.id}`) {
      throw new Error(`not a job: ${util.inspect(job)}`);
    }
    await counts.incr(LANG, 1);
    await counts.incr('idsum', job.id);
    k += 1;
  }
  q.close();
  mgr.close();
  console.log(`${LANG} consumed ${k}`);
}

function usage() {
  console.error('usage: mix produce QUEUE N CONSUMERS | mix consume QUEUE MGR_ADDR');
  process.exit(2);
}

async function main(argv) {
  const [role, ...args] = argv;
  if (role === 'produce' && args.length === 3) {
    const [name, n, consumers] = args.map((a, i) => (i === 0 ? a : Number(a)));
    if (!Number.isInteger(n) || n < 0 || !Number.isInteger(consumers) || consumers < 0) usage();
    await produce(name, n, consumers);
  } else if (role === 'consume' && args.length === 2) {
    await consume(args[0], args[1]);
  } else {
    usage();
  }
}

main(process.argv.slice(2)).catch((e) => {
  console.error(`mix (${LANG}): ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
