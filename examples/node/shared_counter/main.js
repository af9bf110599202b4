'use strict';
// A counter in a manager: this process serves a manager (serveManager; the
// `mpipc manager serve` command works as well), four worker processes
// (worker.js) increment one dict entry concurrently with the atomic incr.
//
//   node examples/node/shared_counter/main.js

const os = require('node:os');
const path = require('node:path');
const { fork } = require('node:child_process');
const { serveManager, connectManager } = require('../../../bindings/node');

const AUTHKEY = 'example secret';

async function main() {
  const server = serveManager(`unix:${path.join(os.tmpdir(), `mpipc-example-mgr-${process.pid}.sock`)}`, AUTHKEY);
  const workers = [1, 2, 3, 4].map((n) => fork(path.join(__dirname, 'worker.js'), [server.address, AUTHKEY, String(n)]));
  await Promise.all(workers.map((w) => new Promise((resolve) => w.on('exit', resolve))));

  const mgr = await connectManager(server.address, AUTHKEY);
  const stats = mgr.dict('stats');
  console.log(`hits: ${await stats.get('hits')}`); // 4 workers x 1000
  console.log(`by worker: ${JSON.stringify(await stats.get('by-worker'))}`);
  console.log(`log: ${(await mgr.list('log').len())} entries`);
  mgr.close();
  await server.shutdown();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
