// Clean-room consumer, an ES module importing the installed package by name:
// takes jobs until the null sentinel, checks each is the next one in order
// (one producer, one consumer: FIFO). Usage: node consumer.mjs QUEUE N
// Prints a "LIB {...}" line and "consumed K idsum S"; exits 1 on a wrong job.
import fs from 'node:fs';
import { Queue, libraryPath } from 'mpipc';

const [name, count] = process.argv.slice(2);
const n = Number(count);
const q = new Queue(name, { maxsize: 16 });
let k = 0;
let idsum = 0;
for (;;) {
  // A failsafe, not synchronisation: a producer that died would otherwise hang the test.
  const job = await q.get({ timeout: 60000 });
  if (job === null) break;
  if (job.id !== k || job.name !== `job-${k}`) {
    console.error(`consumer: job ${k} expected, got ${JSON.stringify(job)}`);
    process.exit(1);
  }
  k += 1;
  idsum += job.id;
}
q.close();
Queue.unlink(name);
const mapped = [...new Set(fs.readFileSync('/proc/self/maps', 'utf8').split('\n')
  .filter((l) => l.includes('/'))
  .map((l) => l.slice(l.indexOf('/')))
  .filter((f) => /libmpipc|koffi/.test(f)))];
console.log(`LIB ${JSON.stringify({ libraryPath, mapped })}`);
console.log(`consumed ${k} idsum ${idsum}`);
if (k !== n) {
  console.error(`consumer: ${k} jobs, expected ${n}`);
  process.exit(1);
}
