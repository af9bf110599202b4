// The polyglot demo's job shares (examples/polyglot_demo, `make demo`):
// how many of the jobs the Node worker takes beside the C and Python
// workers, one of each, over several runs. Prints one JSON object (key
// node_demo_share), like bench/qtput.mjs. Issue #17 part 4's goal: Node's
// share at least half of Python's.
//
//   node bench/demo_share.mjs [--quick] [--runs N] [--jobs J]
//
// The first run goes through examples/polyglot_demo/run.sh (which builds
// the C worker and the Go producer and prepares the Python venv); the
// others call its orchestrator directly with the same arguments. Each run
// must end with the demo's "RESULT: OK"; the per-worker counts are read
// from its report. Reported: every run's counts, the median count per
// language and the median over runs of Node's count / Python's.

import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mpipc from '../index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const DEMO = path.join(ROOT, 'examples', 'polyglot_demo');

function args(argv) {
  const o = { runs: 11, jobs: 3000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.runs = 2;
    else if (a === '--runs') o.runs = Number(argv[++i]);
    else if (a === '--jobs') o.jobs = Number(argv[++i]);
    else throw new Error(`usage: node bench/demo_share.mjs [--quick] [--runs N] [--jobs J] (got ${a})`);
  }
  if (!(o.runs >= 1) || !(o.jobs >= 1)) throw new Error('--runs and --jobs must be at least 1');
  return o;
}

/** {c, python, node} job counts out of one demo report; throws unless the run was OK. */
function parse(report) {
  if (!/^RESULT: OK/m.test(report)) throw new Error(`the demo failed:\n${report}`);
  const counts = {};
  for (const m of report.matchAll(/^\S+\s+(c|python|node)\s+\d+\s+(\d+)\s+\d+\s+\d+\s*$/gm)) {
    counts[m[1]] = (counts[m[1]] || 0) + Number(m[2]);
  }
  for (const lang of ['c', 'python', 'node']) {
    if (!(lang in counts)) throw new Error(`no ${lang} worker in the report:\n${report}`);
  }
  return counts;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const o = args(process.argv.slice(2));
const lib = path.dirname(mpipc.libraryPath);
const env = { ...process.env, MPIPC_LIB: mpipc.libraryPath };
const opts = { cwd: ROOT, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 << 20 };
const runs = [];
const demoArgs = ['--jobs', String(o.jobs), '--c', '1', '--python', '1', '--node', '1'];
runs.push(parse(execFileSync('bash', [path.join(DEMO, 'run.sh'), lib, ...demoArgs], opts)));
const python = path.join(ROOT, 'build', 'venv-python', 'bin', 'python');
const orchestrator = [path.join(DEMO, 'orchestrator.py'), '--bin-dir', path.join(ROOT, 'build', 'polyglot_demo'), ...demoArgs];
while (runs.length < o.runs) runs.push(parse(execFileSync(python, orchestrator, opts)));

console.log(JSON.stringify({
  node_demo_share: {
    median_node: median(runs.map((r) => r.node)),
    median_python: median(runs.map((r) => r.python)),
    median_c: median(runs.map((r) => r.c)),
    median_node_over_python: Math.round(median(runs.map((r) => r.node / Math.max(1, r.python))) * 100) / 100,
    runs,
    jobs: o.jobs,
    node: process.version,
    sync_spin_us: mpipc.Queue.syncSpinUs,
    lib: mpipc.libraryPath,
  },
}, null, 1));
