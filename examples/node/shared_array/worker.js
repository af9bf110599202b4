'use strict';
// Writes squares into its half of the array, straight into shared memory.
const { SharedArray } = require('../../../bindings/node');

async function main() {
  const [tag, half] = process.argv.slice(2);
  const data = new SharedArray(`example-data-${tag}`, 'd', 0, { attach: true }); // 0: any length
  const count = new SharedArray(`example-count-${tag}`, 'q', 0, { attach: true });
  const view = data.view; // Float64Array, no copy
  const start = Number(half) * (data.length / 2);
  for (let i = start; i < start + data.length / 2; i++) {
    view[i] = i * i + 0.5;
    // a read-modify-write of the view under the array's lock...
    await count.withLock((c) => {
      c[0] += 1n;
    });
  }
  count.incr(0, 0); // ...or one locked call (mp_array_incr)
  data.close();
  count.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
