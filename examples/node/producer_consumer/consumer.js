'use strict';
// One consumer: takes jobs until the queue is shut down.
const { Queue } = require('../../../bindings/node');

async function main() {
  const [tag, worker] = process.argv.slice(2);
  const jobs = new Queue(`example-jobs-${tag}`, { attach: true });
  const results = new Queue(`example-results-${tag}`, { attach: true });
  for await (const job of jobs) { // ends when the queue is shut down and drained
    await results.put({ id: job.id, worker: Number(worker), sum: job.numbers.reduce((a, b) => a + b, 0) });
    jobs.taskDone();
  }
  jobs.close();
  results.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
