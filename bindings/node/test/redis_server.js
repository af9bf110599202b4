'use strict';
// The Redis / Valkey servers of the Redis test files (test/redis*.test.js):
// scripts/redis-server.sh starts each in a fresh directory of its own (a
// free loopback port and a unix socket) and stops it. A server that is not
// installed fails the run under CI=true (scripts/install-deps.sh and
// tests/redis/setup-venv.sh install both) and is skipped loudly elsewhere.
//
// Also a minimal RESP client (`command`) for what the tests look at on the
// server itself: `INFO clients` (how many clients are blocked: the state a
// test waits for before it wakes them) and the documented key layout
// (docs/REDIS.md, "Key layout"), read as any plain client would.

const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const SCRIPT = path.resolve(__dirname, '..', '..', '..', 'scripts', 'redis-server.sh');
const CI = process.env.CI === 'true';

/**
 * Starts a server of `kind` ('redis' or 'valkey'): {kind, dir, port,
 * socket, pid, stop()}, or {missing: why} when it is not installed here
 * (a thrown error instead under CI=true).
 */
function start(kind = 'redis') {
  // A short directory: the socket path must fit in sun_path (107 bytes).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `njs-${kind}-`));
  const args = [SCRIPT, 'start', dir];
  if (kind === 'valkey') args.push('--valkey');
  const r = spawnSync('bash', args, { encoding: 'utf8' });
  if (r.status === 3) {
    fs.rmSync(dir, { recursive: true, force: true });
    const why = `${kind} is not installed: ${r.stderr.trim()}`;
    if (CI) throw new Error(`CI=true: ${why}`);
    process.stderr.write(`\n*** SKIPPED the Node ${kind} tests: ${why}\n\n`);
    return { missing: why };
  }
  if (r.status !== 0) throw new Error(`redis-server.sh start failed (${r.status}):\n${r.stderr}`);
  const f = Object.fromEntries(r.stdout.trim().split(/\s+/).map((kv) => kv.split('=')));
  return {
    kind,
    dir,
    port: Number(f.port),
    socket: f.socket,
    pid: Number(f.pid),
    stop() {
      const s = spawnSync('bash', [SCRIPT, 'stop', dir], { encoding: 'utf8' });
      if (s.status !== 0) throw new Error(`redis-server.sh stop failed:\n${s.stderr}`);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Encodes one command as a RESP array of bulk strings. */
function encodeCommand(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Parses one RESP2 reply at `buf[pos..]`: [value, next position], or null
 * when the reply is not complete yet. Bulk strings stay Buffers (the
 * queue's messages are bytes); an error reply becomes an Error value.
 */
function parse(buf, pos) {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return null;
  const head = buf.toString('latin1', pos + 1, eol);
  const next = eol + 2;
  switch (String.fromCharCode(buf[pos])) {
    case '+': return [head, next];
    case '-': return [new Error(head), next];
    case ':': return [Number(head), next];
    case '$': {
      const n = Number(head);
      if (n < 0) return [null, next];
      if (buf.length < next + n + 2) return null;
      return [buf.subarray(next, next + n), next + n + 2];
    }
    case '*': {
      const n = Number(head);
      if (n < 0) return [null, next];
      const out = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const r = parse(buf, p);
        if (!r) return null;
        out.push(r[0]);
        p = r[1];
      }
      return [out, p];
    }
    default: throw new Error(`unexpected RESP reply byte ${buf[pos]}`);
  }
}

/** Sends one command to the server on `port` over a fresh connection: its reply. */
function command(port, ...args) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const r = parse(buf, 0);
      if (!r) return;
      sock.end();
      if (r[0] instanceof Error) reject(r[0]);
      else resolve(r[0]);
    });
    sock.write(encodeCommand(args));
  });
}

/** The number of clients blocked in a blocking command on the server (INFO clients). */
async function blockedClients(port) {
  const info = String(await command(port, 'INFO', 'clients'));
  const m = /blocked_clients:(\d+)/.exec(info);
  if (!m) throw new Error(`no blocked_clients in INFO clients: ${info}`);
  return Number(m[1]);
}

/**
 * Resolves once at least `n` clients are blocked on the server: a waiter in
 * another process (or on the thread pool) is then parked on the server,
 * the state a test must reach before it wakes it.
 */
async function untilBlocked(port, n) {
  while ((await blockedClients(port)) < n) {
    await new Promise((r) => setTimeout(r, 2));
  }
}

module.exports = { CI, start, command, blockedClients, untilBlocked };
