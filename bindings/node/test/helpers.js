'use strict';
// Shared by the tests: unique names, child processes, leftover checks.

const fs = require('node:fs');
const path = require('node:path');
const { fork } = require('node:child_process');

/** Every name a test run uses starts with this (unique per test process). */
const PREFIX = `njs${process.pid}x${Date.now().toString(36)}`;
let counter = 0;

/** A fresh name for a shared object. */
function uniq(what = 'o') {
  counter += 1;
  return `${PREFIX}-${what}${counter}`;
}

/** A fresh Unix socket address under the OS temp dir. */
function sockAddr(what = 's') {
  return `unix:${path.join(require('node:os').tmpdir(), `${uniq(what)}.sock`)}`;
}

const CHILD = path.join(__dirname, 'child.js');

/**
 * Runs test/child.js (descriptors in `opts.extraStdio` become the child's
 * fd 3, 4, ...) with `role` and `args` in a new Node process. Resolves
 * the returned `exited` promise with {code, signal}; `messages` collects
 * what the child sends with process.send; `next()` waits for the next one.
 */
function child(role, args = [], opts = {}) {
  const proc = fork(CHILD, [role, ...args.map(String)], { stdio: ['inherit', 'inherit', 'inherit', ...(opts.extraStdio || []), 'ipc'], ...opts.fork });
  const queue = [];
  const waiters = [];
  proc.on('message', (m) => {
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    exited,
    next() {
      if (queue.length) return Promise.resolve(queue.shift());
      return new Promise((resolve, reject) => {
        waiters.push(resolve);
        exited.then((e) => reject(new Error(`child ${role} exited (${e.code}/${e.signal}) before sending`)));
      });
    },
    send(m) {
      proc.send(m);
    },
  };
}

/** The /dev/shm entries of this run (there must be none once a test file is done). */
function leftovers() {
  return fs.readdirSync('/dev/shm').filter((f) => f.includes(PREFIX));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves once a 10 ms interval timer has run `n` times: the event loop
 * went round its timers `n` times, however long a loaded machine takes for
 * it (a state to wait for, where counting ticks in a fixed time would
 * depend on the load).
 */
function timerTicks(n) {
  return new Promise((resolve) => {
    let ticks = 0;
    const iv = setInterval(() => {
      ticks += 1;
      if (ticks === n) {
        clearInterval(iv);
        resolve();
      }
    }, 10);
  });
}

module.exports = { PREFIX, uniq, sockAddr, child, leftovers, sleep, timerTicks };
