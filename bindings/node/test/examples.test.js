'use strict';
// The examples under examples/node run and print what their READMEs say.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');

const EXAMPLES = path.join(__dirname, '..', '..', '..', 'examples', 'node');
const run = (name) => promisify(execFile)(process.execPath, [path.join(EXAMPLES, name, 'main.js')], { timeout: 30000 });

test('producer_consumer', async () => {
  const { stdout } = await run('producer_consumer');
  assert.match(stdout, /^1000 jobs done, sum of sums 1501500, per consumer/);
});

test('request_reply', async () => {
  const { stdout } = await run('request_reply');
  assert.match(stdout, /20 \+ 22 = 42/);
  assert.match(stdout, /18446744073709551616 \+ 1 = 18446744073709551617/);
  assert.match(stdout, /upper: HÉLLO/);
});

test('shared_counter', async () => {
  const { stdout } = await run('shared_counter');
  assert.match(stdout, /^hits: 4000$/m);
});

test('shared_array', async () => {
  const { stdout } = await run('shared_array');
  assert.match(stdout, /^data: 0\.5, 1\.5, 4\.5, 9\.5, 16\.5, 25\.5, 36\.5, 49\.5$/m);
  assert.match(stdout, /^rows written: 8$/m);
});
