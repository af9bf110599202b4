'use strict';
// Python's Array by name: a Float64Array over shared memory. Two worker
// processes (worker.js) fill halves of it in place, and count their rows in
// a second array under its lock.
//
//   node examples/node/shared_array/main.js

const path = require('node:path');
const { fork } = require('node:child_process');
const { SharedArray } = require('../../../bindings/node');

async function main() {
  const tag = `${process.pid}`;
  const data = new SharedArray(`example-data-${tag}`, 'd', 8); // 8 doubles, zeroed
  const count = new SharedArray(`example-count-${tag}`, 'q', 1);
  const workers = [0, 1].map((half) => fork(path.join(__dirname, 'worker.js'), [tag, String(half)]));
  await Promise.all(workers.map((w) => new Promise((resolve) => w.on('exit', resolve))));

  console.log('data:', Array.from(data.view).join(', ')); // a Float64Array over the shared memory itself
  console.log('rows written:', count.get(0));
  for (const a of [data, count]) {
    a.close();
    SharedArray.unlink(a.name);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
