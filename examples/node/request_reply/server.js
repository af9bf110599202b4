'use strict';
// Accepts one client and answers its requests until it hangs up.
const { Listener } = require('../../../bindings/node');

const handlers = {
  // Integers arrive as numbers while safe (|n| < 2^53), as BigInt beyond.
  add: (a, b) => (typeof a === 'bigint' || typeof b === 'bigint' ? BigInt(a) + BigInt(b) : a + b),
  upper: (s) => s.toUpperCase(),
};

async function main() {
  const [address, authkey] = process.argv.slice(2);
  const listener = new Listener(address, { authkey });
  process.send?.('listening');
  const conn = await listener.accept();
  for await (const req of conn) { // ends at EOF
    const fn = handlers[req.op];
    await conn.send(fn ? { result: fn(...req.args) } : { error: `unknown op ${req.op}` });
  }
  conn.close();
  listener.close(); // removes the socket file
  process.disconnect?.();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
