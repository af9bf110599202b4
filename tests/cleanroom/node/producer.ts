// Clean-room producer, in TypeScript against the installed package's
// typings: a typed Queue<Job | null> (Job is an interface), N jobs then the
// null sentinel. Usage (compiled): node build/producer.js QUEUE N
// Prints a "LIB {...}" line (where the library and koffi were loaded from)
// and "produced N".
import * as fs from 'node:fs';
import { Queue, libraryPath } from 'mpipc';

interface Job { id: number; name: string }

/** The mapped files of libmpipc and koffi's native module in this process. */
function mapped(): string[] {
  const files = fs.readFileSync('/proc/self/maps', 'utf8').split('\n')
    .filter((l) => l.includes('/'))
    .map((l) => l.slice(l.indexOf('/')))
    .filter((f) => /libmpipc|koffi/.test(f));
  return [...new Set(files)];
}

async function main(): Promise<void> {
  const [name, count] = process.argv.slice(2);
  const n = Number(count);
  // maxsize well below N: the producer blocks on a full queue, across processes.
  const q = new Queue<Job | null>(name, { maxsize: 16 });
  for (let i = 0; i < n; i++) {
    const job: Job = { id: i, name: `job-${i}` };
    await q.put(job);
  }
  await q.put(null);
  q.close();
  console.log(`LIB ${JSON.stringify({ libraryPath, mapped: mapped() })}`);
  console.log(`produced ${n}`);
}

/** Never called: the typings must refuse what is not a Job (tsc fails if this compiles). */
export function refused(q: Queue<Job>): void {
  // @ts-expect-error: id is a number
  void q.put({ id: '1', name: 'x' });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
