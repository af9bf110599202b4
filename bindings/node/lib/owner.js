'use strict';
// Why a thread of its own for locks: the C ABI's Lock, RLock, Condition and
// Array lock belong to the *thread* that acquired them (releasing from
// another is MP_E_PERM, a Condition wait needs its lock held by the waiting
// thread). koffi's asynchronous calls run on whichever libuv pool thread is
// free, and the main thread must never block; so neither can own a lock
// across an `await`. One worker thread per process (lib/owner_worker.js)
// makes every such call instead: it is "this process" as far as lock
// ownership goes. Started on first use, unref'd while idle so that it never
// keeps the process alive; requests and replies are messages, and the
// worker is woken with Atomics.notify.

const path = require('node:path');
const { Worker, MessageChannel } = require('node:worker_threads');
const { LIB_PATH } = require('./ffi');

let owner = null;

class OwnerThread {
  constructor() {
    this.sig = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(path.join(__dirname, 'owner_worker.js'), {
      workerData: { libPath: LIB_PATH, sig: this.sig.buffer, port: port2 },
      transferList: [port2],
    });
    this.worker.unref();
    this.pending = new Map();
    this.nextId = 1;
    this.nextKey = 1;
    this.worker.on('message', (m) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      p(m);
    });
    this.worker.on('error', (e) => {
      for (const p of this.pending.values()) p({ status: -16, message: `lock owner thread failed: ${e.message}` });
      this.pending.clear();
      owner = null;
    });
  }

  /** Sends a request; resolves with the worker's reply {status, message?}. */
  request(msg) {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      if (this.pending.size === 1) this.worker.ref();
      this.port.postMessage({ ...msg, id });
      Atomics.add(this.sig, 0, 1);
      Atomics.notify(this.sig, 0);
    });
  }

  /** A fresh key for a lock registered with the worker. */
  key() {
    return this.nextKey++;
  }
}

/** The process's lock owner thread, started on first use. */
function getOwner() {
  if (owner === null) owner = new OwnerThread();
  return owner;
}

module.exports = { getOwner };
