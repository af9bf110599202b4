'use strict';
// The lock owner thread (see lib/owner.js): a worker thread that makes every
// lock call of this process, so that one OS thread owns every lock the
// process holds, as the C ABI requires (ownership is per thread).
//
// It runs a plain loop, not an event loop: it takes requests with
// receiveMessageOnPort, sleeps in Atomics.wait when nothing can run, and
// runs each blocking operation (acquire, condition wait) one slice of at
// most SLICE_MS at a time, round robin, so that a long wait on one lock
// delays requests for the others by at most a slice.
//
// Per lock, requests run in order (a FIFO): an acquire of a Lock this
// process already holds waits for the release (JS tasks of one process
// exclude each other, as threads do in Python), while release and notify
// run at once.

const { workerData, parentPort, receiveMessageOnPort } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');

process.env.MPIPC_LIB = workerData.libPath;
const { F, STATUS } = require('./ffi');

const { MP_OK, MP_E_TIMEOUT, MP_E_OWNER_DEAD, MP_E_PERM, MP_E_INVAL } = STATUS;
const SLICE_MS = 10;
const RETRY_MS = 5;
const sig = new Int32Array(workerData.sig);
const port = workerData.port;

/** key -> {kind: 'lock'|'rlock'|'array', ptr, depth, queue: [op]} */
const locks = new Map();

function reply(id, status, extra) {
  const msg = { id, status };
  if (status !== MP_OK && status !== MP_E_TIMEOUT) msg.message = F.mp_last_error();
  if (extra) Object.assign(msg, extra);
  parentPort.postMessage(msg);
}

function replyText(id, status, message) {
  parentPort.postMessage({ id, status, message });
}

function acquireC(st, timeout) {
  return st.kind === 'array' ? F.mp_array_lock(st.ptr, timeout) : F.mp_lock_acquire(st.ptr, timeout);
}

function releaseC(st) {
  return st.kind === 'array' ? F.mp_array_unlock(st.ptr) : F.mp_lock_release(st.ptr);
}

function handle(m) {
  switch (m.op) {
    case 'register':
      locks.set(m.key, { kind: m.kind, ptr: m.ptr, depth: 0, queue: [] });
      return reply(m.id, MP_OK);
    case 'acquire':
    case 'condwait': {
      const st = locks.get(m.key);
      m.deadline = m.timeout < 0 ? Infinity : performance.now() + m.timeout;
      st.queue.push(m);
      return undefined;
    }
    case 'release': {
      const st = locks.get(m.key);
      if (st.depth === 0) return replyText(m.id, MP_E_PERM, 'release of a lock this process does not hold');
      const s = releaseC(st);
      if (s === MP_OK) st.depth--;
      return reply(m.id, s);
    }
    case 'notify': {
      const st = locks.get(m.key);
      if (st.depth === 0) return replyText(m.id, MP_E_PERM, 'notify on a condition whose lock this process does not hold');
      const s = m.all ? F.mp_cond_notify_all(m.cond) : F.mp_cond_notify(m.cond, m.n);
      return reply(m.id, s);
    }
    case 'forget': {
      // The handle is being closed: drop what waits on it, release what we
      // hold (a closed handle could never release it), and let the main
      // thread free the C handle once we reply.
      const st = locks.get(m.key);
      if (st) {
        for (const op of st.queue) replyText(op.id, -1000, 'closed while waiting');
        while (st.depth > 0 && releaseC(st) === MP_OK) st.depth--;
        locks.delete(m.key);
      }
      return reply(m.id, MP_OK);
    }
    case 'forgetcond': {
      for (const st of locks.values()) {
        st.queue = st.queue.filter((op) => {
          if (op.op === 'condwait' && op.cond === m.cond) {
            replyText(op.id, -1000, 'closed while waiting');
            return false;
          }
          return true;
        });
      }
      return reply(m.id, MP_OK);
    }
    default:
      return replyText(m.id, STATUS.MP_E_INVAL, `unknown request ${m.op}`);
  }
}

/** Whether the head of `st`'s queue can run now. */
function runnable(st, now = performance.now()) {
  const op = st.queue[0];
  if (!op) return false;
  if (op.op === 'acquire' && st.kind === 'lock' && st.depth > 0) return false; // wait for our own release
  if (op.retryAt !== undefined && op.retryAt > now) return false;
  return true;
}

/** Runs one slice of the head of `st`'s queue. */
function runSlice(st, slice) {
  const op = st.queue[0];
  const left = op.deadline - performance.now();
  const t = left === Infinity ? slice : Math.max(0, Math.min(slice, Math.ceil(left)));
  let s;
  if (op.op === 'acquire') {
    s = acquireC(st, t);
    if (s === MP_OK || s === MP_E_OWNER_DEAD) st.depth++;
    if (s === MP_E_INVAL && st.kind === 'lock') {
      // Held by this thread through another handle of the same lock: wait
      // for that handle's release as for our own (checked every RETRY_MS).
      op.retryAt = performance.now() + RETRY_MS;
      if (performance.now() < op.deadline) return undefined;
      s = MP_E_TIMEOUT;
    }
  } else {
    if (st.depth === 0) {
      st.queue.shift();
      return replyText(op.id, MP_E_PERM, 'wait on a condition whose lock this process does not hold');
    }
    s = F.mp_cond_wait(op.cond, st.ptr, t);
  }
  if (s === MP_E_TIMEOUT && performance.now() < op.deadline) return undefined;
  st.queue.shift();
  return reply(op.id, s);
}

/** Replies TIMEOUT to queued requests (not at the head, or not runnable) whose deadline passed. */
function expire(now) {
  let next = Infinity;
  for (const st of locks.values()) {
    const keep = [];
    st.queue.forEach((op, i) => {
      const running = i === 0 && runnable(st, now);
      if (!running && op.deadline <= now) {
        replyText(op.id, MP_E_TIMEOUT, 'timed out');
      } else {
        keep.push(op);
        if (!running) next = Math.min(next, op.deadline, op.retryAt === undefined ? Infinity : op.retryAt);
      }
    });
    st.queue = keep;
  }
  return next;
}

for (;;) {
  const seen = Atomics.load(sig, 0);
  let m;
  while ((m = receiveMessageOnPort(port)) !== undefined) handle(m.message);
  const next = expire(performance.now());
  const ready = [];
  for (const st of locks.values()) if (runnable(st)) ready.push(st);
  if (ready.length === 0) {
    const wait = next === Infinity ? 1000 : Math.max(0, Math.ceil(next - performance.now()));
    Atomics.wait(sig, 0, seen, wait);
    continue;
  }
  for (const st of ready) runSlice(st, SLICE_MS);
}
