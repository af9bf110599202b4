'use strict';
// The one place that knows the C ABI: loads libmpipc.so and declares every
// function of include/mpipc.h with koffi (https://koffi.dev), from the
// prototypes tools/gen_ffi.js generates from the header (lib/ffi_header.js).
//
// Conventions of this file:
// - Handles are opaque pointers (koffi 3: BigInt addresses); a closed handle
//   is never passed back (each class checks first, lib/handle.js).
// - Out-parameters are TypedArrays declared as plain pointers (`size_t *`
//   with a BigUint64Array(1), an `mp_buf *` with a BigUint64Array(2) laid out
//   as {ptr, len}): koffi passes their memory directly, with no per-call
//   allocation, in synchronous and asynchronous calls alike.
// - Every function is callable synchronously (`F.mpq_get_into(...)`) and,
//   for blocking ones, asynchronously (`F.mpq_get_into.async(..., cb)`),
//   which runs on libuv's thread pool.

const loader = require('./loader');

// Before koffi is even required: on any other platform, say so plainly
// rather than fail on a binary that cannot load.
loader.checkPlatform();

const koffi = require('koffi');

/**
 * $MPIPC_LIB, else the package's own copy, else the system's libmpipc.so.0,
 * else (in a checkout) target/release or target/debug: lib/loader.js.
 */
const loaded = loader.loadLibrary({ load: (p) => koffi.load(p) });
const lib = loaded.lib;
/**
 * The file the library was loaded from: as given, or, when dlopen found it
 * by soname, the file it mapped (so that the lock owner thread, which loads
 * it by path, gets the same one).
 */
const LIB_PATH = loaded.via === 'system' ? (loader.mappedPath(loader.SONAME) || loaded.path) : loaded.path;
/** Which of the places was used: 'MPIPC_LIB', 'package', 'system' or 'checkout'. */
const LIB_SOURCE = loaded.via;

// The handles, structs, constants and prototypes come from include/mpipc.h
// through tools/gen_ffi.js (lib/ffi_header.js, committed; test/ffi.test.js
// fails when it is stale): the header is the one source of the C ABI.
const H = require('./ffi_header');

for (const t of H.OPAQUE) koffi.opaque(t);
// mp_buf {uint8_t *ptr; size_t len;} and the other structs but mpq_options
// are passed as TypedArrays (see above); defining them all keeps koffi's
// view of the header whole.
for (const [name, fields] of Object.entries(H.STRUCTS)) koffi.struct(name, fields);

/**
 * Every C function of the header, by its C name. A function the loaded
 * library lacks (a library older than this binding: index.js warns about
 * the version) throws a clear error when called, instead of failing the
 * whole binding at require time.
 */
const F = Object.create(null);
for (const proto of H.PROTOTYPES) {
  const name = proto.match(/([a-z_0-9]+)\(/)[1];
  try {
    F[name] = lib.func(proto);
  } catch (e) {
    if (!/^Cannot find function/.test(String(e && e.message))) throw e; // a bad prototype is a bug: surface it
    const missing = () => { throw new Error(`mpipc: ${LIB_PATH} has no ${name} (a library older than this binding)`); };
    missing.async = (...args) => args[args.length - 1](new Error(`mpipc: ${LIB_PATH} has no ${name}`));
    missing.missing = true;
    F[name] = missing;
  }
}

// `bool *` out-parameters are declared `uint8_t *` (a C bool is one byte,
// 0 or 1 here) so that a Uint8Array can be passed.

/** The integer constants of include/mpipc.h, by name (C.MP_LOCK_RECURSIVE, ...). */
const C = Object.freeze({ ...H.CONSTANTS });

/** The status codes, by name: MP_OK and every MP_E_* of include/mpipc.h. */
const STATUS = Object.freeze(Object.fromEntries(
  Object.entries(H.CONSTANTS).filter(([k]) => k === 'MP_OK' || k.startsWith('MP_E_')),
));

/** Copies `len` bytes at address `ptr` (BigInt) into a new Buffer. */
function copyOut(ptr, len) {
  if (len === 0) return Buffer.alloc(0);
  return Buffer.from(new Uint8Array(koffi.view(ptr, len)));
}

/** The bytes of an mp_buf (a BigUint64Array(2): ptr, len), copied, then freed. */
function takeBuf(mbuf) {
  const out = copyOut(mbuf[0], Number(mbuf[1]));
  F.mp_buf_free(mbuf);
  return out;
}

/** A C string out of a `(buf, cap, out_len)` call such as mp_listener_address. */
function readCString(fn, handle) {
  let cap = 256;
  for (;;) {
    const buf = Buffer.alloc(cap);
    const len = new BigUint64Array(1);
    const s = fn(handle, buf, cap, len);
    if (s === STATUS.MP_E_BUFSIZE) { cap = Number(len[0]); continue; }
    return { status: s, value: buf.toString('utf8', 0, Number(len[0])) };
  }
}

module.exports = { koffi, lib, F, C, STATUS, LIB_PATH, LIB_SOURCE, copyOut, takeBuf, readCString };
