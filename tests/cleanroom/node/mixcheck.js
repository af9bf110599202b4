'use strict';
// Checks the mix wrapper before the mixed-language exchange uses it: a
// manager server in this process (serveManager) with the dict "counts", one
// `mix produce QUEUE N 2`, then two `mix consume` processes at once (one
// given unix:/path, one a bare /path). Every wait is for a process exit.
// Usage: node mixcheck.js MIX N; prints the counts, exits 1 on a mismatch.

const path = require('node:path');
const { spawn } = require('node:child_process');
const { serveManager, connectManager, Queue, NotFoundError } = require('mpipc');

/** Runs the mix wrapper with `args`; resolves to its stdout, rejects unless it exits 0. */
function mix(wrapper, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(wrapper, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('exit', (code, signal) => (code === 0 ? resolve(out) : reject(new Error(`mix ${args.join(' ')}: exit ${code} ${signal || ''}`))));
  });
}

async function main() {
  const [wrapper, count] = process.argv.slice(2);
  const n = Number(count);
  const sock = path.join(__dirname, `mgr-${process.pid}.sock`);
  const queue = `/cr-node-mixcheck-${process.pid}`;
  const server = serveManager(`unix:${sock}`);
  const mgr = await connectManager(`unix:${sock}`);
  await mgr.create('dict', 'counts');
  try {
    await mix(wrapper, ['produce', queue, String(n), '2']);
    const outs = await Promise.all([mix(wrapper, ['consume', queue, `unix:${sock}`]), mix(wrapper, ['consume', queue, sock])]);
    let consumed = 0;
    for (const o of outs) {
      const m = /^node consumed (\d+)$/m.exec(o);
      if (!m) throw new Error(`mix consume printed ${JSON.stringify(o)}`);
      consumed += Number(m[1]);
    }
    const counts = await mgr.dict('counts').copy();
    console.log(`mixcheck: counts ${JSON.stringify(counts)}, consumers printed ${consumed}`);
    const want = (n * (n - 1)) / 2;
    if (counts.node !== n || counts.idsum !== want || consumed !== n) {
      throw new Error(`expected node=${n} idsum=${want} consumed=${n}`);
    }
  } finally {
    try {
      Queue.unlink(queue);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e; // produce failed before creating it
    }
    mgr.close();
    await server.shutdown();
  }
}

main().catch((e) => {
  console.error(`mixcheck: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
