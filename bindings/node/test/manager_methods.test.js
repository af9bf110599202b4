'use strict';
// Every method of every manager kind is reachable from this binding's
// proxies: the method table (docs/manager-methods.json, generated from the
// server's table of kinds and kept equal to it by a Rust test) against the
// proxy classes, by name. A protocol method `compare_and_set` is the method
// `compareAndSet`; one exposed under another name is in ALIASES, one not
// exposed in NOT_EXPOSED, a kind without a typed proxy in NO_PROXY, each
// with the reason. A new method in the table fails here until a proxy has
// it or one of these lists says why not.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
// The proxy classes are not exported by the package: read them where they
// are defined.
const m = require('../lib/manager');

const TABLE = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'docs', 'manager-methods.json'), 'utf8'));

// The proxy class of each kind.
const PROXIES = {
  dict: m.DictProxy,
  list: m.ListProxy,
  value: m.ValueProxy,
  queue: m.QueueProxy,
  lock: m.LockProxy,
  rlock: m.LockProxy,
  semaphore: m.LockProxy,
  bounded_semaphore: m.LockProxy,
  event: m.EventProxy,
};

// Kinds without a typed proxy: reached through the generic one,
// `mgr.proxy(kind, name).call(method, ...args)` (or `mgr.call`), which
// takes any method of the table.
const NO_PROXY = new Set(['set', 'namespace', 'condition', 'barrier', 'array']);

// 'kind.method' -> the proxy method that calls it.
const ALIASES = {
  'dict.del': 'delete',
  'dict.contains': 'has',
  'list.getitem': 'get',
  'list.setitem': 'set',
  'list.delitem': 'delete',
  'list.getslice': 'slice',
  'list.setslice': 'setSlice',
  'list.delslice': 'deleteSlice',
  'list.contains': 'includes',
  'semaphore.get_value': 'value',
  'bounded_semaphore.get_value': 'value',
};

// 'kind.method' -> why no proxy method calls it.
const NOT_EXPOSED = {
  // The core's client asks for the replica itself (every binding reads a
  // local dict through it); it is not a method a user calls.
  'dict.replica': 'used by the client library',
  // The same call as setdefault, under its Python-extension name.
  'dict.get_or_set': 'setdefault',
};

const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

test('every method of the table has a proxy method', () => {
  const missing = [];
  for (const [kind, methods] of Object.entries(TABLE)) {
    if (NO_PROXY.has(kind)) continue;
    const cls = PROXIES[kind];
    if (!cls) {
      missing.push(`${kind} (no proxy class)`);
      continue;
    }
    for (const meth of methods) {
      const key = `${kind}.${meth}`;
      if (key in NOT_EXPOSED) continue;
      const name = ALIASES[key] || camel(meth);
      if (typeof cls.prototype[name] !== 'function') missing.push(`${key} (as ${cls.name}.${name})`);
    }
  }
  assert.deepEqual(missing, [], `methods of the table no proxy has: ${missing.join(', ')}`);
});

test('the generic proxy reaches the kinds without a typed one', () => {
  assert.equal(typeof m.Manager.prototype.proxy, 'function');
  assert.equal(typeof m.Manager.prototype.call, 'function');
});

test('the lists name only what the table has', () => {
  // A stale entry (a method renamed or removed on the server) fails too.
  const has = (key) => {
    const [kind, meth] = key.split('.');
    return (TABLE[kind] || []).includes(meth);
  };
  for (const [key, name] of Object.entries(ALIASES)) {
    assert.ok(has(key), `alias ${key}: not in the table`);
    assert.notEqual(name, camel(key.split('.')[1]), `alias ${key}: ${name} is its plain name`);
  }
  for (const key of Object.keys(NOT_EXPOSED)) assert.ok(has(key), `not-exposed ${key}: not in the table`);
  for (const kind of [...NO_PROXY, ...Object.keys(PROXIES)]) assert.ok(kind in TABLE, `kind ${kind}: not in the table`);
  for (const kind of NO_PROXY) assert.ok(!(kind in PROXIES), `kind ${kind}: has a proxy, remove it from NO_PROXY`);
});
