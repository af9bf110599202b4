#!/usr/bin/env node
'use strict';
// Generates lib/ffi_header.js (the koffi prototypes of every function of
// include/mpipc.h, its opaque handles, structs and integer constants) from
// the header, as bindings/python/tools/gen_bindings.py generates Python's
// ctypes signatures (STYLE.md rule 34): the header is the one source of the
// C ABI for every binding (issue 20, item 4). test/ffi.test.js fails when
// the committed file differs from what this script writes.
//
//   node bindings/node/tools/gen_ffi.js [--check]
//
// How C types become koffi types (the conventions lib/ffi.js documents):
// - an opaque handle `struct mp_x *` (const or not) is koffi's `mp_x *`;
//   `struct mp_x **` (the handle a constructor makes) is `_Out_ mp_x **`;
// - the struct `mpq_options` is passed as a JavaScript object (`const
//   mpq_options *` in, `_Out_ mpq_options *` out); every other struct
//   pointer (`mp_buf *`, `mpq_view *`, ...), `char **` and the pipe array
//   of mp_wait are `void *`, memory the binding lays out in a TypedArray;
// - `bool *` and `char *` out-buffers are `uint8_t *` (a Uint8Array or a
//   Buffer passes; a C bool is one byte, 0 or 1, here);
// - `mp_status` is `int32_t`; every other scalar and pointer is as written.
// A C type not covered stops the generator, as a new kind of parameter
// needs a decision, not a guess.

const fs = require('node:fs');
const path = require('node:path');

const HEADER = path.resolve(__dirname, '..', '..', '..', 'include', 'mpipc.h');
const OUT = path.resolve(__dirname, '..', 'lib', 'ffi_header.js');

/** Structs the binding passes as JavaScript objects (koffi converts them). */
const OBJECT_STRUCTS = new Set(['mpq_options']);

/** C types koffi reads as written. */
const AS_WRITTEN = new Set([
  'void', 'bool', 'char', 'int', 'size_t', 'uint8_t', 'uint32_t', 'int32_t', 'int64_t', 'uint64_t', 'double',
  'const char *', 'const uint8_t *', 'uint8_t *', 'void *', 'const void *',
  'size_t *', 'const size_t *', 'uint32_t *', 'int64_t *', 'uint64_t *', 'double *',
]);

/** Spaces normalised: `struct mpq*const*` -> `struct mpq *const *`. */
function norm(c) {
  return c.replace(/\*/g, ' * ').split(/\s+/).filter(Boolean).join(' ')
    .replace(/ \*/g, ' *').replace(/\* \*/g, '**').replace(/\* const \*/g, '*const *').replace(/\* \*/g, '**');
}

/** The koffi spelling of the C type `c` (see the header comment). */
function koffiType(c, opaque, where) {
  c = norm(c);
  if (c === 'mp_status') return 'int32_t';
  if (AS_WRITTEN.has(c)) return c;
  if (c === 'bool *' || c === 'char *') return 'uint8_t *';
  if (c === 'char **') return 'void *';
  let m = /^(const )?struct (\w+) \*$/.exec(c);
  if (m) {
    const [, isConst, name] = m;
    if (opaque.has(name)) return `${name} *`;
    if (OBJECT_STRUCTS.has(name)) return isConst ? `const ${name} *` : `_Out_ ${name} *`;
    return 'void *';
  }
  m = /^struct (\w+) \*\*$/.exec(c);
  if (m && opaque.has(m[1])) return `_Out_ ${m[1]} **`;
  m = /^struct (\w+) \*const \*$/.exec(c);
  if (m && opaque.has(m[1])) return 'void *';
  throw new Error(`gen_ffi: unmapped C type '${c}' in ${where}: decide how Node passes it (tools/gen_ffi.js)`);
}

/**
 * The header's declarations: opaque handles, structs (fields as C types),
 * integer #defines and functions ({name, ret, params: [{name, type}]}),
 * in header order.
 */
function parse(text) {
  text = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
  const opaque = [...text.matchAll(/typedef struct (\w+) \1;/g)].map((m) => m[1]);
  const structs = [...text.matchAll(/typedef struct (\w+) \{([^}]*)\} \1;/g)].map((m) => ({
    name: m[1],
    fields: m[2].split(';').map((f) => f.trim()).filter(Boolean).map((f) => {
      const fm = /^(.*?)(\w+)$/.exec(f.replace(/\s+/g, ' '));
      return { name: fm[2], type: norm(fm[1]) };
    }),
  }));
  const constants = [...text.matchAll(/#define\s+(MPQ?_[A-Z0-9_]+)\s+(-?\d+)\b/g)].map((m) => [m[1], Number(m[2])]);
  const funcs = [];
  for (const m of text.matchAll(/([A-Za-z_][\w *]*?)\b((?:mp|mpq)_\w+)\s*\(([^;{]*?)\)\s*;/g)) {
    const ret = m[1].trim();
    if (ret.startsWith('typedef')) continue;
    const args = m[3].replace(/\s+/g, ' ').trim();
    const params = args === '' || args === 'void' ? [] : args.split(',').map((a) => {
      const pm = /^(.*?)(\w+)$/.exec(a.trim());
      return { name: pm[2], type: norm(pm[1]) };
    });
    funcs.push({ name: m[2], ret: norm(ret), params });
  }
  return { opaque, structs, constants, funcs };
}

/** The koffi prototype string of a parsed function. */
function prototype(f, opaque) {
  const where = `${f.name}()`;
  const ret = koffiType(f.ret, opaque, where);
  const params = f.params.map((p) => `${koffiType(p.type, opaque, where)} ${p.name}`.replace('* ', '*'));
  return `${ret.endsWith('*') ? ret : ret + ' '}${f.name}(${params.join(', ') || 'void'})`;
}

function render({ opaque, structs, constants, funcs }) {
  const handles = new Set(opaque);
  const q = (s) => `'${s}'`;
  const out = [
    "'use strict';",
    '// Generated by tools/gen_ffi.js from include/mpipc.h -- do not edit;',
    '// test/ffi.test.js fails when this file is stale (run `node tools/gen_ffi.js`).',
    '',
    '/** The opaque handle types of the header (koffi.opaque). */',
    `const OPAQUE = [${opaque.map(q).join(', ')}];`,
    '',
    '/** The structs of the header, field by field (koffi.struct; pointers as void *). */',
    'const STRUCTS = {',
  ];
  for (const s of structs) {
    const fields = s.fields.map((f) => `${f.name}: ${q(f.type.endsWith('*') ? 'void *' : koffiType(f.type, handles, s.name))}`);
    out.push(`  ${s.name}: { ${fields.join(', ')} },`);
  }
  out.push('};', '', '/** The integer constants of the header (#define), in header order. */', 'const CONSTANTS = {');
  for (const [k, v] of constants) out.push(`  ${k}: ${v},`);
  out.push('};', '', '/** Every function of the header as a koffi prototype, in header order. */', 'const PROTOTYPES = [');
  for (const f of funcs) out.push(`  ${q(prototype(f, handles))},`);
  out.push('];', '', 'module.exports = { OPAQUE, STRUCTS, CONSTANTS, PROTOTYPES };', '');
  return out.join('\n');
}

function generate() {
  return render(parse(fs.readFileSync(HEADER, 'utf8')));
}

function main() {
  const text = generate();
  if (process.argv.includes('--check')) {
    const have = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : '';
    if (have !== text) {
      process.stderr.write(`${OUT} is stale: run node tools/gen_ffi.js\n`);
      process.exit(1);
    }
    return;
  }
  fs.writeFileSync(OUT, text);
}

module.exports = { parse, koffiType, generate, HEADER, OUT };

if (require.main === module) main();
