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
//
// Whether this process holds a lock is asked of the lock
// (mp_lock_held_by_me: this thread is the process's one holder thread),
// through whichever handle took it. The one count kept here, `taken`, is
// not ownership but this handle's debt: the levels acquired through it and
// not yet released, which closing the handle gives back.

const { workerData, parentPort, receiveMessageOnPort } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');

process.env.MPIPC_LIB = workerData.libPath;
const { F, STATUS } = require('./ffi');

const { MP_OK, MP_E_TIMEOUT, MP_E_OWNER_DEAD, MP_E_PERM } = STATUS;
const SLICE_MS = 10;
const sig = new Int32Array(workerData.sig);
const port = workerData.port;

/** key -> {kind: 'lock'|'rlock'|'array', ptr, taken, queue: [op]} */
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

const flag = new Uint8Array(1);

/** Whether this thread (so this process) holds the lock, through any handle: the lock's own answer. */
function heldC(st) {
  const s = st.kind === 'array' ? F.mp_array_lock_held_by_me(st.ptr, flag) : F.mp_lock_held_by_me(st.ptr, flag);
  return s === MP_OK && flag[0] !== 0;
}

function handle(m) {
  switch (m.op) {
    case 'register':
      locks.set(m.key, { kind: m.kind, ptr: m.ptr, taken: 0, queue: [] });
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
      const s = releaseC(st);
      if (s === MP_E_PERM) return replyText(m.id, MP_E_PERM, 'release of a lock this process does not hold');
      if (s === MP_OK && st.taken > 0) st.taken--;
      return reply(m.id, s);
    }
    case 'notify': {
      const st = locks.get(m.key);
      if (!heldC(st)) return replyText(m.id, MP_E_PERM, 'notify on a condition whose lock this process does not hold');
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
        while (st.taken > 0 && releaseC(st) === MP_OK) st.taken--;
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
function runnable(st) {
  const op = st.queue[0];
  if (!op) return false;
  // A Lock this process holds (through any handle): wait for its release,
  // which is a request, so the loop asks again after it.
  if (op.op === 'acquire' && st.kind === 'lock' && heldC(st)) return false;
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
    if (s === MP_OK || s === MP_E_OWNER_DEAD) st.taken++;
  } else {
    if (!heldC(st)) {
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
      const running = i === 0 && runnable(st);
      if (!running && op.deadline <= now) {
        replyText(op.id, MP_E_TIMEOUT, 'timed out');
      } else {
        keep.push(op);
        if (!running) next = Math.min(next, op.deadline);
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
