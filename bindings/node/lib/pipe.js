'use strict';
// Pipe / Connection / Listener / Client / wait over mp_pipe_*, mp_listener_*
// and mp_wait: Python's multiprocessing.connection, wire-compatible with it.
//
// Receiving: timeout 0 first on the main thread, then slices on the pool.
// Sending: the C ABI has no non-blocking send (mp_pipe_send blocks while the
// peer does not read), so sends always run on the pool; sends issued while
// one is running are queued and go out together in one mp_pipe_send_many,
// in order, so a burst of sends costs one pool round trip.

const { F, C, STATUS, takeBuf, readCString } = require('./ffi');
const { check, makeError, ClosedError } = require('./errors');
const { Handle, msOrForever, runAsync, runWait, sliceMs } = require('./handle');
const { AbortError } = require('./errors');
const { bytesOf } = require('./queue');
const cbor = require('./cbor');
const { performance } = require('node:perf_hooks');

const { MP_OK, MP_E_EMPTY, MP_E_BUFSIZE, MP_E_TIMEOUT } = STATUS;

function keyBytes(authkey) {
  if (authkey == null) return null;
  const k = bytesOf(authkey);
  return k.length ? k : null;
}

class Connection extends Handle {
  /** Wraps a C handle; use Pipe(), connect(), Listener#accept() or Connection.fromFd(). */
  constructor(ptr, what = 'connection') {
    super(ptr, F.mp_pipe_close, what);
    this._rx = Buffer.allocUnsafe(64 * 1024);
    this._len = new BigUint64Array(1);
    this._u8 = new Uint8Array(1);
    this._sendq = [];
    this._sending = false;
  }

  /** Takes ownership of descriptor `fd` (a socket or pipe end, e.g. inherited as fd 3); closed on failure too. */
  static fromFd(fd) {
    const out = [null];
    check(F.mp_pipe_from_fd(fd | 0, out), `connection from fd ${fd}`);
    return new Connection(out[0], `connection (fd ${fd})`);
  }

  // ------------------------------------------------------------ sending

  /** Sends `obj` as CBOR. Resolves once the kernel holds every byte; EOFError if the peer closed. */
  send(obj) {
    try {
      this.ptr();
      return this._enqueue(cbor.encode(obj));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Sends raw bytes (Python's send_bytes). */
  sendBytes(data) {
    try {
      this.ptr();
      return this._enqueue(Buffer.from(bytesOf(data)));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  _enqueue(buf) {
    return new Promise((resolve, reject) => {
      this._sendq.push({ buf, resolve, reject });
      if (!this._sending) this._flush();
    });
  }

  _flush() {
    const batch = this._sendq;
    if (batch.length === 0) {
      this._sending = false;
      return;
    }
    this._sendq = [];
    if (this._closed) {
      for (const m of batch) m.reject(new ClosedError(`${this._what} was closed before sending`));
      this._sending = false;
      return;
    }
    this._sending = true;
    const done = (err, s) => {
      this._inflight--;
      for (const m of batch) {
        if (err) m.reject(err);
        else if (s !== MP_OK) m.reject(makeError(s, `${this._what}: send`));
        else m.resolve();
      }
      this._maybeFree();
      this._flush();
    };
    this._inflight++;
    if (batch.length === 1) {
      const b = batch[0].buf;
      runAsync(F.mp_pipe_send, this._ptr, b, b.length, done);
    } else {
      const data = Buffer.concat(batch.map((m) => m.buf));
      const lens = BigUint64Array.from(batch, (m) => BigInt(m.buf.length));
      runAsync(F.mp_pipe_send_many, this._ptr, data, lens, batch.length, done);
    }
  }

  // ------------------------------------------------------------ receiving

  /** Receives one value, waiting at most `timeout` ms (default forever): EmptyError on expiry, EOFError once the peer closed. */
  recv(opts) {
    return this._recv(opts, true);
  }

  /** Receives one message as raw bytes (a Buffer), as recv. */
  recvBytes(opts) {
    return this._recv(opts, false);
  }

  _recv(opts, decode) {
    try {
      return this._recvImpl(opts, decode);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  _recvImpl(opts, decode) {
    const p = this.ptr();
    let s;
    for (;;) {
      s = F.mp_pipe_recv_into(p, this._rx, this._rx.length, this._len, 0);
      if (s !== MP_E_BUFSIZE) break;
      this._rx = Buffer.allocUnsafe(Number(this._len[0]));
    }
    if (s === MP_OK) {
      const view = this._rx.subarray(0, Number(this._len[0]));
      try {
        return Promise.resolve(decode ? cbor.decode(view) : Buffer.from(view));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    if (s !== MP_E_EMPTY || (opts && opts.timeout === 0)) {
      return Promise.reject(makeError(s, `${this._what}: recv`, F.mp_last_error()));
    }
    const mbuf = new BigUint64Array(2);
    const o = opts || {};
    return this._sliced({
      timeout: o.timeout,
      signal: o.signal,
      expired: MP_E_EMPTY,
      call: (pp, slice, cb) => runWait(F.mp_pipe_recv_timeout, pp, mbuf, slice, cb),
      done: (st) => {
        if (st !== MP_OK) throw makeError(st, `${this._what}: recv`);
        const b = takeBuf(mbuf);
        return decode ? cbor.decode(b) : b;
      },
    });
  }

  /** Whether a message (or EOF) can be received, waiting at most `timeout` ms (default 0). */
  async poll(opts = {}) {
    const p = this.ptr();
    check(F.mp_pipe_poll(p, 0, this._u8), `${this._what}: poll`);
    if (this._u8[0] || !opts.timeout) return Promise.resolve(this._u8[0] !== 0);
    const ready = new Uint8Array(1);
    return this._sliced({
      timeout: opts.timeout,
      signal: opts.signal,
      expired: -1000, // a slice "fails" when not ready: handled in done via re-poll below
      call: (pp, slice, cb) => runWait(F.mp_pipe_poll, pp, slice, ready, (e, s) => cb(e, s === MP_OK && !ready[0] ? -1000 : s)),
      done: (s) => {
        if (s === -1000) return false;
        if (s !== MP_OK) throw makeError(s, `${this._what}: poll`);
        return true;
      },
    });
  }

  /** The descriptor (owned by the connection: do not close it). */
  fileno() {
    return F.mp_pipe_fileno(this.ptr());
  }

  /** The largest incoming frame accepted, in bytes (default 1 GiB). */
  setMaxFrame(bytes) {
    check(F.mp_pipe_set_max_frame(this.ptr(), BigInt(bytes)), this._what);
  }

  /** How long a receive busy-polls before sleeping, in µs (default 0). */
  setSpin(us) {
    check(F.mp_pipe_set_spin(this.ptr(), us >>> 0), this._what);
  }

  /** Iterates over received values until the peer closes (EOF). */
  async *[Symbol.asyncIterator]() {
    for (;;) {
      try {
        yield await this.recv();
      } catch (e) {
        if (e.code === 'MP_E_EOF') return;
        throw e;
      }
    }
  }

  _beforeFree() {
    this._rx = null;
  }
}

/**
 * A connected pair (Python's Pipe): duplex (a socketpair) by default; with
 * {duplex: false}, the first end only receives and the second only sends.
 * @returns {[Connection, Connection]}
 */
function Pipe(opts = {}) {
  const a = [null];
  const b = [null];
  check(F.mp_pipe_new(opts.duplex !== false, a, b), 'pipe');
  return [new Connection(a[0], 'pipe end'), new Connection(b[0], 'pipe end')];
}

/**
 * Connects to a Listener (ours or Python's) at `address` (`unix:/path`,
 * `unix:@name`, `tcp:host:port`), authenticating with `authkey` if given.
 * Runs on the pool (at most `timeout` ms, default 10 s).
 */
async function connect(address, opts = {}) {
  const key = keyBytes(opts.authkey);
  const out = [null];
  const timeout = opts.timeout == null ? 10000 : msOrForever(opts.timeout);
  return new Promise((resolve, reject) => {
    runAsync(F.mp_pipe_connect, String(address), key, key ? key.length : 0, timeout, out, (err, s) => {
      if (err) return reject(err);
      if (s !== MP_OK) return reject(makeError(s, `connect to ${address}`));
      resolve(new Connection(out[0], `connection to ${address}`));
    });
  });
}

class Listener extends Handle {
  /**
   * Binds `address` (`unix:/path`, `unix:@name`, `tcp:host:port`, port 0 =
   * any). With an authkey every peer must pass the HMAC handshake; TCP
   * requires one unless {allowTcpWithoutAuthkey: true}.
   */
  constructor(address, opts = {}) {
    const key = keyBytes(opts.authkey);
    const out = [null];
    check(F.mp_listener_bind_ex(String(address), key, key ? key.length : 0, opts.allowTcpWithoutAuthkey ? C.MP_LISTENER_ALLOW_TCP_WITHOUT_AUTHKEY : 0, out),
      `listener at ${address}`);
    super(out[0], F.mp_listener_close, `listener at ${address}`);
    this._bound = String(address);
  }

  /** The bound address (e.g. the real port after tcp:...:0). */
  get address() {
    const r = readCString(F.mp_listener_address, this.ptr());
    check(r.status, this._what);
    return r.value;
  }

  /** Accepts one connection, waiting at most `timeout` ms (default forever): TimeoutError on expiry, AuthError for a peer that failed the handshake. */
  async accept(opts = {}) {
    this.ptr();
    const out = [null];
    return this._sliced({
      timeout: opts.timeout,
      signal: opts.signal,
      expired: MP_E_TIMEOUT,
      call: (p, slice, cb) => runWait(F.mp_listener_accept, p, slice, out, cb),
      done: (s) => {
        if (s !== MP_OK) throw makeError(s, `${this._what}: accept`);
        return new Connection(out[0], `connection accepted at ${this._bound}`);
      },
    });
  }

  /** Iterates over accepted connections until the listener is closed. */
  async *[Symbol.asyncIterator]() {
    for (;;) {
      try {
        yield await this.accept();
      } catch (e) {
        if (e.code === 'MP_E_CLOSED') return;
        throw e;
      }
    }
  }
}

/**
 * Waits until at least one of `conns` can receive (a message or EOF), at most
 * `timeout` ms (default forever): resolves to the ready ones (an empty array
 * on expiry), as multiprocessing.connection.wait.
 */
async function wait(conns, opts = {}) {
  const list = Array.from(conns);
  const n = list.length;
  const ptrs = BigUint64Array.from(list, (c) => c.ptr());
  const idx = new BigUint64Array(Math.max(1, n));
  const nready = new BigUint64Array(1);
  const pick = () => Array.from(idx.subarray(0, Number(nready[0])), (i) => list[Number(i)]);
  check(F.mp_wait(ptrs, n, 0, idx, nready), 'wait');
  if (nready[0] > 0n || opts.timeout === 0) return Promise.resolve(pick());
  const deadline = opts.timeout == null || opts.timeout < 0 ? Infinity : performance.now() + opts.timeout;
  return new Promise((resolve, reject) => {
    const step = () => {
      for (const c of list) {
        if (c._closed) return reject(new ClosedError(`${c._what} was closed while waiting`));
      }
      if (opts.signal && opts.signal.aborted) return reject(new AbortError('wait aborted', opts.signal.reason));
      const left = deadline - performance.now();
      const max = sliceMs();
      const slice = left === Infinity ? max : Math.max(0, Math.min(max, Math.ceil(left)));
      for (const c of list) c._inflight++;
      runWait(F.mp_wait, ptrs, n, slice, idx, nready, (err, s) => {
        for (const c of list) {
          c._inflight--;
          c._maybeFree();
        }
        if (err) return reject(err);
        if (s !== MP_OK) return reject(makeError(s, 'wait'));
        if (nready[0] > 0n) return resolve(pick());
        if (performance.now() >= deadline) return resolve([]);
        step();
      });
    };
    step();
  });
}

module.exports = { Connection, Pipe, connect, Listener, wait };
