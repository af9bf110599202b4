// q_tput for the Node binding: one Node producer process -> one Node
// consumer process through an mpipc queue, the small object
// {"id": i, "name": `item-${i}`, "vals": [1.5, 2.5, 3.5]} as CBOR, one
// message per call (put/get) and batched (putMany/getMany). Prints one JSON
// object (the shape of the Go binding's bench, keys node_q_tput_*).
//
//   node bench/qtput.mjs [--quick] [--n N] [--repeat R] [--batch B]
//
// Each run: the consumer (this process) creates the queue, forks the
// producer, and times from its "go" to the N-th message received; the
// median of R runs is reported.

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import mpipc from '../index.js';

const { Queue } = mpipc;
const self = fileURLToPath(import.meta.url);
const small = (i) => ({ id: i, name: `item-${i}`, vals: [1.5, 2.5, 3.5] });

function args(argv) {
  const o = { n: 500000, repeat: 5, batch: 256, quick: false, role: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--n') o.n = Number(argv[++i]);
    else if (a === '--repeat') o.repeat = Number(argv[++i]);
    else if (a === '--batch') o.batch = Number(argv[++i]);
    else if (a === '--producer') o.role = { name: argv[++i], n: Number(argv[++i]), batch: Number(argv[++i]) };
    else throw new Error(`usage: node bench/qtput.mjs [--quick] [--n N] [--repeat R] [--batch B] (got ${a})`);
  }
  if (o.quick) {
    o.n = 20000;
    o.repeat = 1;
  }
  return o;
}

async function producer({ name, n, batch }) {
  const q = new Queue(name, { attach: true });
  await new Promise((resolve) => {
    process.once('message', resolve);
    process.send('ready');
  });
  if (batch <= 1) {
    for (let i = 0; i < n; i++) await q.put(small(i));
  } else {
    for (let i = 0; i < n; i += batch) {
      const items = [];
      for (let j = i; j < Math.min(n, i + batch); j++) items.push(small(j));
      await q.putMany(items);
    }
  }
  q.close();
  process.disconnect();
}

async function run(n, batch) {
  const name = `node-bench-qtput-${process.pid}-${Date.now().toString(36)}`;
  const q = new Queue(name);
  try {
    const child = fork(self, ['--producer', name, String(n), String(batch)]);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await new Promise((resolve) => child.once('message', resolve));
    child.send('go');
    const t0 = performance.now();
    let got = 0;
    let last = null;
    if (batch <= 1) {
      while (got < n) {
        last = await q.get();
        got++;
      }
    } else {
      while (got < n) {
        const items = await q.getMany(4096);
        got += items.length;
        last = items[items.length - 1];
      }
    }
    const secs = (performance.now() - t0) / 1000;
    if (last.id !== n - 1 || last.name !== `item-${n - 1}`) throw new Error(`wrong last message ${JSON.stringify(last)}`);
    const code = await exited;
    if (code !== 0) throw new Error(`producer exited with ${code}`);
    return n / secs;
  } finally {
    q.close();
    Queue.unlink(name);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const o = args(process.argv.slice(2));
if (o.role) {
  await producer(o.role);
} else {
  const out = {};
  for (const [key, batch] of [['node_q_tput_single', 1], ['node_q_tput_batch', o.batch]]) {
    const runs = [];
    for (let r = 0; r < o.repeat; r++) runs.push(Math.round(await run(o.n, batch)));
    out[key] = {
      msgs_per_s: median(runs),
      runs,
      n: o.n,
      batch,
      object: '{"id": i, "name": "item-<i>", "vals": [1.5, 2.5, 3.5]}',
      node: process.version,
      lib: mpipc.libraryPath,
    };
  }
  console.log(JSON.stringify(out, null, 1));
}
