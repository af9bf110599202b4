'use strict';
// index.d.ts and the typed programs test/types/usage.ts (the README's API)
// and test/types/generic.ts (Queue<Job>, Connection<T>, ... with Job an
// interface; values of the wrong type refused) pass `tsc --noEmit` in
// strict mode.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

test('tsc --noEmit over index.d.ts, test/types/usage.ts and test/types/generic.ts', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '-p', path.join(__dirname, 'types')], { encoding: 'utf8' });
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});
