'use strict';
// Where the library is loaded from (lib/loader.js): $MPIPC_LIB, the
// package's own copy, the system's libmpipc.so.0, the checkout's build; the
// errors when none works or the platform is not linux/x64/glibc. The
// package cases run in real child processes, on a copy of this package in a
// temporary directory laid out as an installed one.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const koffi = require('koffi');
const loader = require('../lib/loader');
const { libraryPath } = require('..');

const PKG = path.resolve(__dirname, '..');
const NODE_MODULES = path.join(PKG, 'node_modules');

/** A copy of this package (its shipped files only) in a fresh directory, with or without prebuilds/. */
function copyPackage(withLibrary) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpipc-loader-'));
  const pkg = path.join(dir, 'mpipc');
  fs.mkdirSync(pkg);
  for (const f of ['index.js', 'package.json']) fs.copyFileSync(path.join(PKG, f), path.join(pkg, f));
  fs.cpSync(path.join(PKG, 'lib'), path.join(pkg, 'lib'), { recursive: true });
  if (withLibrary) {
    const dest = path.join(pkg, loader.PACKAGED);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(libraryPath, dest);
  }
  return { dir, pkg };
}

/**
 * Runs `code` in a new Node process with `env` (no MPIPC_LIB unless given;
 * koffi resolved from this package's node_modules) and returns its result.
 */
function run(code, env = {}, args = []) {
  const base = { PATH: process.env.PATH, NODE_PATH: NODE_MODULES };
  return spawnSync(process.execPath, [...args, '-e', code], { env: { ...base, ...env }, encoding: 'utf8' });
}

/** A child's report: where the library came from, what is mapped, and that it works (a pipe and a lock). */
const PROBE = (pkg) => `
  const fs = require('node:fs');
  const m = require(${JSON.stringify(pkg)});
  const ffi = require(${JSON.stringify(path.join(pkg, 'lib', 'ffi.js'))});
  (async () => {
    const [a, b] = m.Pipe();
    await a.send({ hello: 1 });
    const got = await b.recv({ timeout: 5000 });
    const lock = new m.Lock('njs-loader-' + process.pid);
    const locked = await lock.acquire({ timeout: 5000 });
    lock.release();
    lock.close();
    m.Lock.unlink('njs-loader-' + process.pid);
    const mapped = fs.readFileSync('/proc/self/maps', 'utf8').split('\\n')
      .filter((l) => l.includes('libmpipc')).map((l) => l.slice(l.indexOf('/')));
    console.log(JSON.stringify({ libraryPath: m.libraryPath, source: ffi.LIB_SOURCE, mapped: [...new Set(mapped)], got, locked }));
  })();`;

test('platformError: linux/x64/glibc only, a message naming the platform otherwise', () => {
  assert.equal(loader.platformError({ platform: 'linux', arch: 'x64', libc: 'glibc' }), null);
  for (const [info, here] of [
    [{ platform: 'darwin', arch: 'arm64', libc: null }, 'darwin/arm64'],
    [{ platform: 'win32', arch: 'x64', libc: null }, 'win32/x64'],
    [{ platform: 'linux', arch: 'arm64', libc: 'glibc' }, 'linux/arm64/glibc'],
    [{ platform: 'linux', arch: 'x64', libc: 'musl' }, 'linux/x64/musl'],
    [{ platform: 'linux', arch: 'x64', libc: null }, 'linux/x64/unknown libc'],
  ]) {
    const msg = loader.platformError(info);
    assert.match(msg, new RegExp(`unsupported platform ${here}: this package is built for linux/x64/glibc only`));
  }
});

test('detectLibc finds the GNU C library this test runs on', () => {
  assert.equal(loader.detectLibc(), 'glibc');
});

test('another platform: a clear error before koffi or the library is loaded', () => {
  const { dir, pkg } = copyPackage(true);
  try {
    // A preloaded module makes this process report another architecture.
    const pre = path.join(dir, 'arm64.js');
    fs.writeFileSync(pre, "Object.defineProperty(process, 'arch', { value: 'arm64' });\n");
    const r = run(`try { require(${JSON.stringify(pkg)}); } catch (e) {
      console.log(JSON.stringify({ code: e.code, message: e.message,
        koffi: Object.keys(require.cache).some((k) => k.includes('koffi')) })); }`, {}, ['--require', pre]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.code, 'MPIPC_UNSUPPORTED_PLATFORM');
    assert.match(out.message, /unsupported platform linux\/arm64\/glibc: this package is built for linux\/x64\/glibc only/);
    assert.equal(out.koffi, false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an installed package loads its own library with nothing set', () => {
  const { dir, pkg } = copyPackage(true);
  try {
    const r = run(PROBE(pkg));
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const own = path.join(pkg, loader.PACKAGED);
    assert.equal(out.source, 'package');
    assert.equal(out.libraryPath, own);
    assert.deepEqual(out.mapped, [own]);
    assert.deepEqual(out.got, { hello: 1 });
    assert.equal(out.locked, true);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('MPIPC_LIB overrides the package copy; a bad one is an error naming it, with nothing else tried', () => {
  const { dir, pkg } = copyPackage(true);
  try {
    const r = run(PROBE(pkg), { MPIPC_LIB: libraryPath });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.source, 'MPIPC_LIB');
    assert.equal(out.libraryPath, libraryPath);

    const bad = path.join(dir, 'nowhere', 'libmpipc.so');
    const e = run(`require(${JSON.stringify(pkg)})`, { MPIPC_LIB: bad });
    assert.notEqual(e.status, 0);
    assert.match(e.stderr, /mpipc: cannot load libmpipc\.so\. Tried:/);
    assert.ok(e.stderr.includes(`MPIPC_LIB: ${bad}: `), e.stderr);
    assert.match(e.stderr, /MPIPC_LIB is set, so nothing else was tried/);
    assert.ok(!e.stderr.includes('package: '), e.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('without its own copy, the package loads the system library by soname (dlopen search)', () => {
  const { dir, pkg } = copyPackage(false);
  try {
    // A directory on LD_LIBRARY_PATH stands for the system's library path.
    const sysdir = path.join(dir, 'syslib');
    fs.mkdirSync(sysdir);
    fs.copyFileSync(libraryPath, path.join(sysdir, loader.SONAME));
    const r = run(PROBE(pkg), { LD_LIBRARY_PATH: sysdir });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.source, 'system');
    assert.equal(out.libraryPath, path.join(sysdir, loader.SONAME));
    assert.deepEqual(out.mapped, [path.join(sysdir, loader.SONAME)]);
    assert.equal(out.locked, true);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('nothing found: an error listing every place tried and what to do', () => {
  const { dir, pkg } = copyPackage(false);
  try {
    const absent = 'libmpipc-absent-for-test.so.0';
    assert.throws(() => loader.loadLibrary({ load: (p) => koffi.load(p), env: {}, pkgDir: pkg, soname: absent }), (e) => {
      assert.equal(e.code, 'MPIPC_LIB_NOT_FOUND');
      assert.ok(e.message.includes(`package: ${path.join(pkg, loader.PACKAGED)}: not present`), e.message);
      assert.ok(e.message.includes(`system: ${absent}: `), e.message);
      // Not a checkout: its build is not looked for.
      assert.doesNotMatch(e.message, /^ {2}checkout: /m);
      assert.match(e.message, /npm install mpipc-<version>\.tgz/);
      assert.match(e.message, /set MPIPC_LIB/);
      return true;
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('in a checkout, the build in target/ is the last resort', () => {
  const root = loader.checkoutRoot(PKG);
  assert.equal(root, path.resolve(PKG, '..', '..'));
  const release = path.join(root, 'target', 'release', 'libmpipc.so');
  assert.ok(fs.existsSync(release), `${release} is missing: cargo build --release`);
  const r = loader.loadLibrary({ load: (p) => koffi.load(p), env: {}, pkgDir: PKG, soname: 'libmpipc-absent-for-test.so.0' });
  assert.equal(r.via, 'checkout');
  assert.equal(r.path, release);
  assert.equal(loader.checkoutRoot(path.join(os.tmpdir(), 'bindings', 'node')), null);
});
