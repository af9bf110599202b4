// q_rtt for the Node binding: round trips between a Node process and a C
// (or another Node) process through two mpipc queues, the small object
// {"id": i, "name": `item-${i}`, "vals": [1.5, 2.5, 3.5]} as CBOR, one
// put / get per message. Prints one JSON object (keys node_q_rtt_*), like
// bench/qtput.mjs.
//
//   node bench/roundtrip.mjs [--quick] [--rounds R] [--warmup W] [--repeat N]
//                            [--pairs node-c,c-node,node-node] [--c-peer PATH]
//
// Pairs (pinger-ponger): the pinger puts round i on q1 and takes the reply
// from q2, timing put + get with its own monotonic clock; the ponger takes
// from q1 and puts what it decoded, re-encoded, on q2.
// - node-c:    Node pings (this process), the C peer pongs. The figure of
//              issue #17 part 4: how fast an `await q.get()` in Node wakes
//              for a message put by C.
// - c-node:    the C peer pings, a Node child pongs (Node's get and put on
//              the answering side).
// - node-node: Node pings, a Node child pongs.
// The C peer is tests/polyglot/peers/c/peer.c ("bench roles",
// tests/polyglot/PEERS.md), compiled here with gcc against include/ and the
// library this binding loaded, unless --c-peer names a built one.
//
// Each run reports the median and p99 of its R timed rounds (after W
// warm-up rounds); the JSON has the median over runs of both, and every
// run's. The binding's main-thread spin in force (Queue.syncSpinUs, default or
// $MPIPC_NODE_SYNC_SPIN_US) is recorded with the results.

import { fork, spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mpipc from '../index.js';

const { Queue } = mpipc;
const self = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(self), '..', '..', '..');
const small = (i) => ({ id: i, name: `item-${i}`, vals: [1.5, 2.5, 3.5] });
const PAIRS = ['node-c', 'c-node', 'node-node'];

function args(argv) {
  const o = { rounds: 20000, warmup: 2000, repeat: 5, pairs: PAIRS, cPeer: null, quick: false, role: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--rounds') o.rounds = Number(argv[++i]);
    else if (a === '--warmup') o.warmup = Number(argv[++i]);
    else if (a === '--repeat') o.repeat = Number(argv[++i]);
    else if (a === '--pairs') o.pairs = argv[++i].split(',').filter(Boolean);
    else if (a === '--c-peer') o.cPeer = argv[++i];
    else if (a === '--pong') o.role = { q1: argv[++i], q2: argv[++i], n: Number(argv[++i]) };
    else {
      throw new Error('usage: node bench/roundtrip.mjs [--quick] [--rounds R] [--warmup W] [--repeat N] ' +
        `[--pairs ${PAIRS.join(',')}] [--c-peer PATH] (got ${a})`);
    }
  }
  for (const p of o.pairs) if (!PAIRS.includes(p)) throw new Error(`unknown pair ${p} (known: ${PAIRS.join(', ')})`);
  if (o.quick) {
    o.rounds = 500;
    o.warmup = 50;
    o.repeat = 1;
  }
  return o;
}

/** The Node ponger (a child process): get from q1, put on q2, n times; says READY on stdout first. */
async function pong({ q1, q2, n }) {
  const a = new Queue(q1);
  const b = new Queue(q2);
  process.stdout.write('READY\n');
  for (let i = 0; i < n; i++) await b.put(await a.get());
  a.close();
  b.close();
}

/** The Node pinger, in this process: {median, p99} in ns of put + get. */
async function ping(q1, q2, rounds, warmup) {
  const a = new Queue(q1);
  const b = new Queue(q2);
  try {
    const lat = new Float64Array(rounds);
    for (let i = 0; i < warmup + rounds; i++) {
      const t0 = process.hrtime.bigint();
      await a.put(small(i));
      const m = await b.get();
      const t1 = process.hrtime.bigint();
      if (m.id !== i) throw new Error(`round ${i}: got id ${m.id} back`);
      if (i >= warmup) lat[i - warmup] = Number(t1 - t0);
    }
    lat.sort();
    return { median: lat[rounds >> 1], p99: lat[Math.min(rounds - 1, Math.floor((rounds * 99) / 100))] };
  } finally {
    a.close();
    b.close();
  }
}

/** The C peer: the given one, or peer.c compiled into a temporary directory. */
function cPeer(o, cleanups) {
  if (o.cPeer) return o.cPeer;
  const dir = mkdtempSync(path.join(tmpdir(), 'mpipc-node-rtt-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'c_peer');
  const libDir = path.dirname(mpipc.libraryPath);
  execFileSync('gcc', ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-I', path.join(ROOT, 'include'),
    path.join(ROOT, 'tests', 'polyglot', 'peers', 'c', 'peer.c'), mpipc.libraryPath, '-lcbor', `-Wl,-rpath,${libDir}`,
    '-o', out], { stdio: ['ignore', 'inherit', 'inherit'] });
  return out;
}

/** Resolves with the first line of `child`'s stdout that starts with `want`; rejects on exit first. */
function line(child, want) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      const l = buf.slice(0, nl).trim();
      if (l.startsWith(want)) resolve(l);
      else reject(new Error(`peer said ${JSON.stringify(l)}, want ${want}`));
    };
    const onExit = (code) => reject(new Error(`peer exited with ${code} before ${want}`));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.on('exit', onExit);
  });
}

function exited(child) {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return child.exitCode === 0 ? resolve() : reject(new Error(`peer exited with ${child.exitCode}`));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`peer exited with ${code}`))));
  });
}

let seq = 0;

/** One run of `pair`: {median, p99} in ns. */
async function runOnce(pair, o, cPath) {
  const tag = `node-bench-rtt-${process.pid}-${seq++}`;
  const q1 = `${tag}-a`;
  const q2 = `${tag}-b`;
  // Created here first, so that both sides find them whoever starts first.
  const made = [new Queue(q1), new Queue(q2)];
  const total = o.rounds + o.warmup;
  const opts = { stdio: ['pipe', 'pipe', 'inherit'] };
  try {
    if (pair === 'c-node') {
      const ponger = fork(self, ['--pong', q1, q2, String(total)], { ...opts, stdio: ['pipe', 'pipe', 'inherit', 'ipc'] });
      await line(ponger, 'READY');
      const pinger = spawn(cPath, ['bench-ping', q1, q2, String(o.rounds), String(o.warmup)], opts);
      await line(pinger, 'READY');
      const result = line(pinger, 'RESULT');
      pinger.stdin.end('GO\n');
      const [, med, p99] = (await result).split(/\s+/).map(Number);
      await Promise.all([exited(pinger), exited(ponger)]);
      return { median: med, p99 };
    }
    const ponger = pair === 'node-c'
      ? spawn(cPath, ['bench-pong', q1, q2, String(total)], opts)
      : fork(self, ['--pong', q1, q2, String(total)], { ...opts, stdio: ['pipe', 'pipe', 'inherit', 'ipc'] });
    await line(ponger, 'READY');
    const r = await ping(q1, q2, o.rounds, o.warmup);
    await exited(ponger);
    return r;
  } finally {
    for (const q of made) q.close();
    for (const n of [q1, q2]) {
      try {
        Queue.unlink(n);
      } catch {
        // already gone
      }
    }
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const us = (ns) => Math.round(ns / 10) / 100;

const o = args(process.argv.slice(2));
if (o.role) {
  await pong(o.role);
} else {
  const cleanups = [];
  try {
    const cPath = o.pairs.some((p) => p.includes('c')) ? cPeer(o, cleanups) : null;
    const out = {};
    for (const pair of o.pairs) {
      const runs = [];
      for (let r = 0; r < o.repeat; r++) runs.push(await runOnce(pair, o, cPath));
      const [pinger, ponger] = pair.split('-');
      out[`node_q_rtt_${pair.replace('-', '_')}`] = {
        median_us: us(median(runs.map((r) => r.median))),
        p99_us: us(median(runs.map((r) => r.p99))),
        runs_median_us: runs.map((r) => us(r.median)),
        runs_p99_us: runs.map((r) => us(r.p99)),
        rounds: o.rounds,
        warmup: o.warmup,
        pinger,
        ponger,
        sync_spin_us: Queue.syncSpinUs,
        object: '{"id": i, "name": "item-<i>", "vals": [1.5, 2.5, 3.5]}',
        node: process.version,
        lib: mpipc.libraryPath,
      };
    }
    console.log(JSON.stringify(out, null, 1));
  } finally {
    for (const c of cleanups) c();
  }
}
