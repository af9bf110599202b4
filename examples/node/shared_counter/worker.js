'use strict';
// Increments the shared counter 1000 times (pipelined: the calls go out in batches).
const { connectManager } = require('../../../bindings/node');

async function main() {
  const [address, authkey, n] = process.argv.slice(2);
  const mgr = await connectManager(address, authkey);
  const stats = mgr.dict('stats');
  await Promise.all(Array.from({ length: 1000 }, () => stats.incr('hits')));
  // read-modify-write of a whole value needs a lock (held by this connection,
  // released by the server even if this process dies)
  await mgr.lock('stats-lock').withLock(async () => {
    const by = await stats.get('by-worker', {});
    by[`worker-${n}`] = 1000;
    await stats.set('by-worker', by);
  });
  await mgr.list('log').append(`worker ${n} done`);
  mgr.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
