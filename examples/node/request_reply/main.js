'use strict';
// Request/reply over a connection (Python's multiprocessing.connection):
// server.js listens on a Unix socket with an authkey and answers each
// request; this process is the client.
//
//   node examples/node/request_reply/main.js

const os = require('node:os');
const path = require('node:path');
const { fork } = require('node:child_process');
const { connect } = require('../../../bindings/node');

const AUTHKEY = 'example secret';

async function main() {
  const address = `unix:${path.join(os.tmpdir(), `mpipc-example-${process.pid}.sock`)}`;
  const server = fork(path.join(__dirname, 'server.js'), [address, AUTHKEY]);
  await new Promise((resolve) => server.once('message', resolve)); // listening

  const conn = await connect(address, { authkey: AUTHKEY });
  for (const [a, b] of [[1, 2], [20, 22], [2n ** 64n, 1n]]) {
    await conn.send({ op: 'add', args: [a, b] });
    const reply = await conn.recv({ timeout: 5000 });
    console.log(`${a} + ${b} = ${reply.result}`);
  }
  await conn.send({ op: 'upper', args: ['héllo'] });
  console.log('upper:', (await conn.recv()).result);
  await conn.send({ op: 'nope', args: [] });
  console.log('error reply:', (await conn.recv()).error);
  conn.close(); // the server sees EOF and exits
  await new Promise((resolve) => server.on('exit', resolve));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
