'use strict';
// The header is the one source of the C ABI (issue 20, item 4): lib/ffi.js
// declares exactly the functions of include/mpipc.h, with the argument and
// return types the header gives, from lib/ffi_header.js, which
// tools/gen_ffi.js generates from the header; the status codes and
// constants come from the same place, and every status has its error
// class and its TypeScript name.
//
// The types are checked against the header by a reading of the header
// made here, independent of the generator's: each C type's size and kind
// (signed, unsigned, float, bool, text, pointer) must be koffi's.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ffi = require('../lib/ffi');
const errors = require('../lib/errors');

const ROOT = path.resolve(__dirname, '..');
const HEADER = path.resolve(ROOT, '..', '..', 'include', 'mpipc.h');

/** The header's functions as {name, ret, params: [C type]}, and its #defines. */
function readHeader() {
  const text = fs.readFileSync(HEADER, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
  const funcs = new Map();
  // A declaration: return type, name, parameters, ';' (typedefs excluded).
  for (const m of text.matchAll(/^([a-z_][a-z0-9_ ]*?[ *]+)((?:mp|mpq)_[a-z0-9_]+)\(([^)]*)\);/gm)) {
    if (m[1].startsWith('typedef')) continue;
    const args = m[3].replace(/\s+/g, ' ').trim();
    const params = args === 'void' || args === '' ? [] : args.split(',').map((a) => a.trim().replace(/\w+$/, '').trim());
    funcs.set(m[2], { ret: m[1].trim(), params });
  }
  const defines = new Map([...text.matchAll(/^#define (MPQ?_[A-Z0-9_]+) (-?\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
  return { funcs, defines };
}

/** What koffi must see for a C type: [primitive kinds allowed, size]. */
function expected(c) {
  c = c.replace(/\s+/g, ' ');
  if (c.includes('*')) return c === 'const char *' ? [['String'], 8] : [['Pointer'], 8];
  const scalars = {
    void: [['Void'], 0], bool: [['Bool'], 1], char: [['Int8'], 1], uint8_t: [['UInt8'], 1],
    int: [['Int32'], 4], int32_t: [['Int32'], 4], mp_status: [['Int32'], 4], uint32_t: [['UInt32'], 4],
    int64_t: [['Int64'], 8], uint64_t: [['UInt64'], 8], size_t: [['UInt64'], 8], double: [['Float64'], 8],
  };
  assert.ok(scalars[c], `C type '${c}' unknown to this test`);
  return scalars[c];
}

/** Checks koffi's view of one argument or result (koffi 3 gives arguments as {type, direction}). */
function sameType(arg, c, where) {
  const t = arg.type || arg;
  const [kinds, size] = expected(c);
  // A handle a constructor makes (`struct mp_x **out`) is written by C: an output.
  if (/^struct \w+ \*\*$/.test(c.replace(/\s+/g, ' '))) assert.equal(arg.direction, 'Output', `${where}: '${c}'`);
  assert.ok(kinds.includes(t.primitive), `${where}: C '${c}' is koffi ${t.primitive} (${t.name}), want ${kinds}`);
  if (size) assert.equal(t.size, size, `${where}: C '${c}' has size ${size}, koffi ${t.size} (${t.name})`);
}

test('lib/ffi_header.js is what tools/gen_ffi.js makes of include/mpipc.h', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'tools', 'gen_ffi.js'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('every function of the header is declared, with its types, and nothing else', () => {
  const { funcs } = readHeader();
  assert.ok(funcs.size >= 150, `only ${funcs.size} functions read from the header`);
  assert.deepEqual(Object.keys(ffi.F).sort(), [...funcs.keys()].sort());
  for (const [name, h] of funcs) {
    const fn = ffi.F[name];
    assert.ok(!fn.missing, `${ffi.LIB_PATH} lacks ${name}`);
    assert.equal(fn.info.name, name);
    assert.equal(fn.info.arguments.length, h.params.length, `${name}: argument count`);
    sameType(fn.info.result, h.ret, `${name} result`);
    h.params.forEach((c, i) => sameType(fn.info.arguments[i], c, `${name} argument ${i + 1}`));
  }
});

test('constants and status codes are the header\'s', () => {
  const { defines } = readHeader();
  assert.deepEqual(Object.entries(ffi.C).sort(), [...defines].sort());
  const codes = [...defines].filter(([k]) => k === 'MP_OK' || k.startsWith('MP_E_'));
  assert.ok(codes.length >= 24);
  assert.deepEqual(Object.entries(ffi.STATUS).sort(), codes.sort());
  assert.equal(ffi.F.mp_version_number(), ffi.C.MP_VERSION_NUMBER);
});

test('every status has its error class, the library\'s name and its TypeScript name', () => {
  const dts = fs.readFileSync(path.join(ROOT, 'index.d.ts'), 'utf8');
  const union = /type StatusName =([^;]*);/.exec(dts);
  assert.ok(union, 'index.d.ts declares StatusName');
  const tsNames = [...union[1].matchAll(/'(MP_E_[A-Z_]+)'/g)].map((m) => m[1]).sort();
  const names = Object.keys(ffi.STATUS).filter((k) => k !== 'MP_OK').sort();
  assert.deepEqual(tsNames, names, 'index.d.ts StatusName lists the header\'s MP_E_* codes');
  for (const name of names) {
    const code = ffi.STATUS[name];
    const e = errors.makeError(code, 'ctx', 'detail');
    assert.notEqual(e.constructor, errors.MpipcError, `${name} has no class of its own`);
    assert.ok(e instanceof errors.MpipcError);
    assert.equal(e.code, name);
    assert.equal(e.status, code);
    assert.equal(errors.statusName(code), name);
    assert.ok(ffi.F.mp_status_str(code).startsWith(`${name}: `), ffi.F.mp_status_str(code));
  }
});
