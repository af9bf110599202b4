'use strict';
// Where libmpipc.so comes from, and the platform check that runs before it
// is looked for. Kept apart from lib/ffi.js (and free of koffi) so that the
// decisions can be tested on their own (test/loader.test.js).
//
// The order (README.md, "Install"):
//   1. $MPIPC_LIB, an explicit override: used alone, an error if it fails;
//   2. the library inside this package (prebuilds/linux-x64/libmpipc.so,
//      put there by packaging/node/dist.sh): what an installed package uses;
//   3. the system library by soname, libmpipc.so.0, through dlopen's own
//      search (LD_LIBRARY_PATH, ld.so.cache: the Debian package, or
//      `make install` then ldconfig);
//   4. the repository's build (target/release, then target/debug), only
//      when this directory is bindings/node of a checkout: development.

const fs = require('node:fs');
const path = require('node:path');

/** The one platform the package is built for (package.json os/cpu/libc say the same). */
const SUPPORTED = 'linux/x64/glibc';
/** The soname the C library is installed under (the Debian package, `make install`). */
const SONAME = 'libmpipc.so.0';
/** The package's own copy, relative to the package directory. */
const PACKAGED = path.join('prebuilds', 'linux-x64', 'libmpipc.so');

/**
 * The C library this process runs on: 'glibc', 'musl' or null (unknown),
 * from Node's diagnostic report, which states glibc's version only when
 * Node runs on glibc.
 */
function detectLibc() {
  if (process.platform !== 'linux') return null;
  const report = process.report;
  if (!report || typeof report.getReport !== 'function') return null;
  // The report would otherwise list the network interfaces (slow on some hosts).
  const saved = report.excludeNetwork;
  report.excludeNetwork = true;
  try {
    const r = report.getReport();
    if (r.header && r.header.glibcVersionRuntime) return 'glibc';
    const objs = r.sharedObjects || [];
    if (objs.some((o) => /(^|\/)(ld-)?musl/.test(o))) return 'musl';
    return null;
  } finally {
    report.excludeNetwork = saved;
  }
}

/**
 * null when `info` ({platform, arch, libc}) is the supported platform, else
 * the message of the error to throw.
 */
function platformError(info) {
  const { platform, arch, libc } = info;
  if (platform === 'linux' && arch === 'x64' && libc === 'glibc') return null;
  const here = `${platform}/${arch}${platform === 'linux' ? `/${libc || 'unknown libc'}` : ''}`;
  return `mpipc: unsupported platform ${here}: this package is built for ${SUPPORTED} only `
    + '(x86-64 Linux with the GNU C library); its native library libmpipc.so cannot run here';
}

/** Throws the platform error for this process, if any. */
function checkPlatform() {
  const msg = platformError({ platform: process.platform, arch: process.arch, libc: detectLibc() });
  if (msg) {
    const err = new Error(msg);
    err.code = 'MPIPC_UNSUPPORTED_PLATFORM';
    throw err;
  }
}

/**
 * The repository root if `pkgDir` is bindings/node of a checkout (a
 * Cargo.toml and include/mpipc.h two levels up), else null: the in-repo
 * build is a development fallback, never looked for in an installed package.
 */
function checkoutRoot(pkgDir) {
  const root = path.resolve(pkgDir, '..', '..');
  if (path.basename(path.dirname(pkgDir)) !== 'bindings') return null;
  if (!fs.existsSync(path.join(root, 'Cargo.toml')) || !fs.existsSync(path.join(root, 'include', 'mpipc.h'))) return null;
  return root;
}

/**
 * Loads the library with `load(pathOrSoname)` (koffi.load), trying the
 * places above in order. Returns {lib, path, via}: `path` is what was
 * passed to `load` (a soname for the system library; the caller resolves
 * it), `via` one of 'MPIPC_LIB', 'package', 'system', 'checkout'. Throws an
 * Error (code 'MPIPC_LIB_NOT_FOUND') listing every place tried and why it
 * failed, and what to do. `env`, `pkgDir` and `soname` are parameters for
 * the tests only.
 */
function loadLibrary({ load, env = process.env, pkgDir = path.resolve(__dirname, '..'), soname = SONAME }) {
  const tried = [];
  const attempt = (p, via) => {
    try {
      return { lib: load(p), path: p, via };
    } catch (e) {
      tried.push(`${via}: ${p}: ${firstLine(e)}`);
      return null;
    }
  };

  if (env.MPIPC_LIB) {
    const r = attempt(env.MPIPC_LIB, 'MPIPC_LIB');
    if (r) return r;
    throw notFound(tried, 'MPIPC_LIB is set, so nothing else was tried: point it at a libmpipc.so, or unset it.');
  }

  const packaged = path.join(pkgDir, PACKAGED);
  if (fs.existsSync(packaged)) {
    const r = attempt(packaged, 'package');
    if (r) return r;
  } else {
    tried.push(`package: ${packaged}: not present`);
  }

  const sys = attempt(soname, 'system');
  if (sys) return sys;

  const root = checkoutRoot(pkgDir);
  if (root) {
    for (const profile of ['release', 'debug']) {
      const p = path.join(root, 'target', profile, 'libmpipc.so');
      if (!fs.existsSync(p)) {
        tried.push(`checkout: ${p}: not present`);
        continue;
      }
      const r = attempt(p, 'checkout');
      if (r) return r;
    }
  }

  throw notFound(tried,
    'Install the packed package (npm install mpipc-<version>.tgz, or from the registry), which carries the '
    + 'library; or install the C library (the Debian package, or `make install` then ldconfig); or set '
    + 'MPIPC_LIB to a libmpipc.so. In a checkout: cargo build --release. Note: `npm install <directory>` '
    + 'links the source directory, which has no library; install the tarball instead.');
}

function firstLine(e) {
  return String((e && e.message) || e).split('\n')[0];
}

function notFound(tried, advice) {
  const err = new Error(`mpipc: cannot load libmpipc.so. Tried:\n  ${tried.join('\n  ')}\n${advice}`);
  err.code = 'MPIPC_LIB_NOT_FOUND';
  return err;
}

/**
 * The file a loaded shared object was mapped from, by its soname or file
 * name (`/proc/self/maps`), or null: the real path of the library
 * dlopen found by soname.
 */
function mappedPath(name) {
  let maps;
  try {
    maps = fs.readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return null;
  }
  for (const line of maps.split('\n')) {
    const i = line.indexOf('/');
    if (i < 0) continue;
    const file = line.slice(i);
    if (path.basename(file) === name || path.basename(file).startsWith(`${name}.`)) return file;
  }
  return null;
}

module.exports = { SUPPORTED, SONAME, PACKAGED, detectLibc, platformError, checkPlatform, checkoutRoot, loadLibrary, mappedPath };
