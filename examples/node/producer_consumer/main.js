'use strict';
// A JoinableQueue by name: this process produces jobs, two consumer
// processes (consumer.js) take them, mark them done, and report results on
// a second queue. Any process in any language could take either role.
//
//   node examples/node/producer_consumer/main.js

const path = require('node:path');
const { fork } = require('node:child_process');
const { Queue } = require('../../../bindings/node');

async function main() {
  const tag = `${process.pid}`;
  const jobs = new Queue(`example-jobs-${tag}`, { maxsize: 64 });
  const results = new Queue(`example-results-${tag}`);
  const consumers = [1, 2].map((n) => fork(path.join(__dirname, 'consumer.js'), [tag, String(n)]));

  const N = 1000;
  for (let i = 0; i < N; i++) await jobs.put({ id: i, numbers: [i, i + 1, i + 2] }); // waits while 64 are queued
  await jobs.join(); // every job marked done
  jobs.shutdown(); // the consumers' loops end

  const done = await results.getMany(N, { timeout: 5000 });
  while (done.length < N) done.push(...(await results.getMany(N - done.length, { timeout: 5000 })));
  const byWorker = {};
  for (const r of done) byWorker[r.worker] = (byWorker[r.worker] || 0) + 1;
  const total = done.reduce((s, r) => s + r.sum, 0);
  console.log(`${done.length} jobs done, sum of sums ${total}, per consumer ${JSON.stringify(byWorker)}`);

  await Promise.all(consumers.map((c) => new Promise((r) => c.on('exit', r))));
  for (const q of [jobs, results]) {
    q.close();
    Queue.unlink(q.name);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
