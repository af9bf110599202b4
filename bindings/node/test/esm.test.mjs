// The package imports as ESM with named exports (index.js is CommonJS).
import test from 'node:test';
import assert from 'node:assert/strict';
import mpipc, { Queue, Pipe, EmptyError, STATUS, version } from '../index.js';

test('named ESM imports', async () => {
  assert.equal(mpipc.Queue, Queue);
  assert.match(version, /^\d+\.\d+\.\d+$/);
  assert.equal(STATUS.MP_E_EMPTY, -4);
  const [a, b] = Pipe();
  await a.send({ esm: true });
  assert.deepStrictEqual(await b.recv(), { esm: true });
  await assert.rejects(b.recv({ timeout: 0 }), EmptyError);
  a.close();
  b.close();
});
