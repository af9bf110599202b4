'use strict';
// The one place that knows the C ABI: loads libmpipc.so and declares every
// function of include/mpipc.h with koffi (https://koffi.dev).
//
// Conventions of this file:
// - Handles are opaque pointers (koffi 3: BigInt addresses); a closed handle
//   is never passed back (each class checks first, lib/handle.js).
// - Out-parameters are TypedArrays declared as plain pointers (`size_t *`
//   with a BigUint64Array(1), an `mp_buf *` with a BigUint64Array(2) laid out
//   as {ptr, len}): koffi passes their memory directly, with no per-call
//   allocation, in synchronous and asynchronous calls alike.
// - Every function is callable synchronously (`F.mpq_get_into(...)`) and,
//   for blocking ones, asynchronously (`F.mpq_get_into.async(..., cb)`),
//   which runs on libuv's thread pool.

const loader = require('./loader');

// Before koffi is even required: on any other platform, say so plainly
// rather than fail on a binary that cannot load.
loader.checkPlatform();

const koffi = require('koffi');

/**
 * $MPIPC_LIB, else the package's own copy, else the system's libmpipc.so.0,
 * else (in a checkout) target/release or target/debug: lib/loader.js.
 */
const loaded = loader.loadLibrary({ load: (p) => koffi.load(p) });
const lib = loaded.lib;
/**
 * The file the library was loaded from: as given, or, when dlopen found it
 * by soname, the file it mapped (so that the lock owner thread, which loads
 * it by path, gets the same one).
 */
const LIB_PATH = loaded.via === 'system' ? (loader.mappedPath(loader.SONAME) || loaded.path) : loaded.path;
/** Which of the places was used: 'MPIPC_LIB', 'package', 'system' or 'checkout'. */
const LIB_SOURCE = loaded.via;

for (const t of ['mpq', 'mp_pipe', 'mp_listener', 'mp_mgr', 'mp_mgr_server', 'mp_shm', 'mp_array',
  'mp_slist', 'mp_lock', 'mp_sem', 'mp_event', 'mp_cond', 'mp_barrier']) {
  koffi.opaque(t);
}
// mp_buf {uint8_t *ptr; size_t len;} is passed as a 16-byte BigUint64Array
// (see above), so it needs no struct type; mpq_options is a struct.
koffi.struct('mpq_options', {
  maxsize: 'size_t',
  capacity_bytes: 'size_t',
  max_message: 'size_t',
  mode: 'uint32_t',
  flags: 'uint32_t',
});

const PROTOTYPES = [
  // errors and version
  'const char *mp_status_str(int32_t code)',
  'const char *mp_last_error(void)',
  'const char *mp_version(void)',
  'uint32_t mp_version_number(void)',
  'void mp_buf_free(void *buf)',
  // queue
  'int32_t mpq_open(const char *name, const mpq_options *opts, _Out_ mpq **out)',
  'int32_t mpq_put_timeout(mpq *q, const uint8_t *data, size_t len, int64_t timeout_ms)',
  'int32_t mpq_put_many(mpq *q, const uint8_t *data, const size_t *lens, size_t n, int64_t timeout_ms, size_t *out_put)',
  'int32_t mpq_get_timeout(mpq *q, void *out, int64_t timeout_ms)',
  'int32_t mpq_get_into(mpq *q, uint8_t *buf, size_t cap, size_t *out_len, int64_t timeout_ms)',
  'int32_t mpq_get_many(mpq *q, uint8_t *buf, size_t cap, size_t *lens, size_t max_n, int64_t timeout_ms, size_t *out_n, size_t *out_bytes)',
  'int32_t mpq_qsize(mpq *q, size_t *out)',
  'int32_t mpq_empty(mpq *q, uint8_t *out)',
  'int32_t mpq_full(mpq *q, uint8_t *out)',
  'int32_t mpq_task_done(mpq *q)',
  'int32_t mpq_join(mpq *q, int64_t timeout_ms)',
  'int32_t mpq_shutdown(mpq *q, bool immediate)',
  'int32_t mpq_options_of(mpq *q, _Out_ mpq_options *out)',
  'int32_t mpq_set_spin(mpq *q, uint32_t spin_us)',
  'void mpq_close(mpq *q)',
  'int32_t mpq_unlink(const char *name)',
  // pipes, listeners, wait
  'int32_t mp_pipe_new(bool duplex, _Out_ mp_pipe **a, _Out_ mp_pipe **b)',
  'int32_t mp_pipe_from_fd(int fd, _Out_ mp_pipe **out)',
  'int32_t mp_pipe_connect(const char *address, const uint8_t *authkey, size_t keylen, int64_t timeout_ms, _Out_ mp_pipe **out)',
  'int32_t mp_pipe_send(mp_pipe *p, const uint8_t *data, size_t len)',
  'int32_t mp_pipe_send_many(mp_pipe *p, const uint8_t *data, const size_t *lens, size_t n)',
  'int32_t mp_pipe_recv_timeout(mp_pipe *p, void *out, int64_t timeout_ms)',
  'int32_t mp_pipe_recv_into(mp_pipe *p, uint8_t *buf, size_t cap, size_t *out_len, int64_t timeout_ms)',
  'int32_t mp_pipe_poll(mp_pipe *p, int64_t timeout_ms, uint8_t *ready)',
  'int mp_pipe_fileno(mp_pipe *p)',
  'int32_t mp_pipe_set_max_frame(mp_pipe *p, uint64_t max_bytes)',
  'int32_t mp_pipe_set_spin(mp_pipe *p, uint32_t spin_us)',
  'int32_t mp_wait(void *pipes, size_t n, int64_t timeout_ms, size_t *ready_idx, size_t *nready)',
  'void mp_pipe_close(mp_pipe *p)',
  'int32_t mp_listener_bind_ex(const char *address, const uint8_t *authkey, size_t keylen, uint32_t flags, _Out_ mp_listener **out)',
  'int32_t mp_listener_accept(mp_listener *l, int64_t timeout_ms, _Out_ mp_pipe **out)',
  'int32_t mp_listener_address(mp_listener *l, uint8_t *buf, size_t cap, size_t *out_len)',
  'void mp_listener_close(mp_listener *l)',
  // manager
  'int32_t mp_mgr_connect(const char *address, const uint8_t *authkey, size_t keylen, int64_t timeout_ms, _Out_ mp_mgr **out)',
  'int32_t mp_mgr_call(mp_mgr *m, const char *kind, const char *name, const char *method, const uint8_t *args, size_t args_len, void *result)',
  'int32_t mp_mgr_call_many(mp_mgr *m, const uint8_t *reqs, size_t len, void *results)',
  'int32_t mp_mgr_set_spin(mp_mgr *m, uint32_t spin_us)',
  'int32_t mp_mgr_reconnect(mp_mgr *m, int64_t timeout_ms)',
  'int32_t mp_mgr_is_connected(mp_mgr *m, uint8_t *out)',
  'void mp_mgr_close(mp_mgr *m)',
  'int32_t mp_mgr_serve(const char *address, const uint8_t *authkey, size_t keylen, _Out_ mp_mgr_server **out)',
  'int32_t mp_mgr_server_address(mp_mgr_server *s, uint8_t *buf, size_t cap, size_t *out_len)',
  'int32_t mp_mgr_server_shutdown(mp_mgr_server *s)',
  // shared memory, arrays, values, shareable lists
  'int32_t mp_shm_open(const char *name, size_t size, uint32_t flags, _Out_ mp_shm **out)',
  'void *mp_shm_ptr(mp_shm *s)',
  'size_t mp_shm_size(mp_shm *s)',
  'void mp_shm_close(mp_shm *s)',
  'int32_t mp_shm_unlink(const char *name)',
  'int32_t mp_shm_unlink_raw(const char *name)',
  'int32_t mp_array_open(const char *name, char typecode, size_t length, uint32_t flags, _Out_ mp_array **out)',
  'int32_t mp_value_open(const char *name, char typecode, uint32_t flags, _Out_ mp_array **out)',
  'void *mp_array_ptr(mp_array *a)',
  'size_t mp_array_len(mp_array *a)',
  'char mp_array_typecode(mp_array *a)',
  'size_t mp_array_itemsize(mp_array *a)',
  'int32_t mp_array_lock(mp_array *a, int64_t timeout_ms)',
  'int32_t mp_array_unlock(mp_array *a)',
  'int32_t mp_array_lock_held_by_me(mp_array *a, uint8_t *out)',
  'int32_t mp_array_get_i64(mp_array *a, size_t index, int64_t *out)',
  'int32_t mp_array_get_u64(mp_array *a, size_t index, uint64_t *out)',
  'int32_t mp_array_get_f64(mp_array *a, size_t index, double *out)',
  'int32_t mp_array_set_i64(mp_array *a, size_t index, int64_t value)',
  'int32_t mp_array_set_u64(mp_array *a, size_t index, uint64_t value)',
  'int32_t mp_array_set_f64(mp_array *a, size_t index, double value)',
  'int32_t mp_array_incr(mp_array *a, size_t index, int64_t delta, int64_t *out_new)',
  'int32_t mp_array_read(mp_array *a, size_t start, void *out, size_t count)',
  'int32_t mp_array_write(mp_array *a, size_t start, const void *data, size_t count)',
  'void mp_array_close(mp_array *a)',
  'int32_t mp_array_unlink(const char *name)',
  'int32_t mp_slist_open(const char *name, const uint8_t *items, size_t len, uint32_t flags, _Out_ mp_slist **out)',
  'int32_t mp_slist_len(mp_slist *l, size_t *out)',
  'int32_t mp_slist_get(mp_slist *l, size_t index, void *out)',
  'int32_t mp_slist_set(mp_slist *l, size_t index, const uint8_t *item, size_t len)',
  'int32_t mp_slist_capacity(mp_slist *l, size_t index, size_t *out)',
  'void mp_slist_close(mp_slist *l)',
  'int32_t mp_slist_unlink(const char *name)',
  // locks and the rest of threading's family
  'int32_t mp_lock_open(const char *name, uint32_t flags, _Out_ mp_lock **out)',
  'int32_t mp_lock_acquire(mp_lock *l, int64_t timeout_ms)',
  'int32_t mp_lock_release(mp_lock *l)',
  'int32_t mp_lock_owner_deaths(mp_lock *l, uint64_t *out)',
  'int32_t mp_lock_held_by_me(mp_lock *l, uint8_t *out)',
  'void mp_lock_close(mp_lock *l)',
  'int32_t mp_lock_unlink(const char *name)',
  'int32_t mp_sem_open(const char *name, uint32_t value, uint32_t flags, _Out_ mp_sem **out)',
  'int32_t mp_sem_acquire(mp_sem *s, int64_t timeout_ms)',
  'int32_t mp_sem_release(mp_sem *s)',
  'int32_t mp_sem_value(mp_sem *s, uint32_t *out)',
  'void mp_sem_close(mp_sem *s)',
  'int32_t mp_sem_unlink(const char *name)',
  'int32_t mp_event_open(const char *name, uint32_t flags, _Out_ mp_event **out)',
  'int32_t mp_event_set(mp_event *e)',
  'int32_t mp_event_clear(mp_event *e)',
  'int32_t mp_event_is_set(mp_event *e, uint8_t *out)',
  'int32_t mp_event_wait(mp_event *e, int64_t timeout_ms)',
  'void mp_event_close(mp_event *e)',
  'int32_t mp_event_unlink(const char *name)',
  'int32_t mp_cond_open(const char *name, uint32_t flags, _Out_ mp_cond **out)',
  'int32_t mp_cond_wait(mp_cond *c, mp_lock *lock, int64_t timeout_ms)',
  'int32_t mp_cond_notify(mp_cond *c, size_t n)',
  'int32_t mp_cond_notify_all(mp_cond *c)',
  'void mp_cond_close(mp_cond *c)',
  'int32_t mp_cond_unlink(const char *name)',
  'int32_t mp_barrier_open(const char *name, uint32_t parties, uint32_t flags, _Out_ mp_barrier **out)',
  'int32_t mp_barrier_wait(mp_barrier *b, int64_t timeout_ms, uint32_t *out_index)',
  'int32_t mp_barrier_abort(mp_barrier *b)',
  'int32_t mp_barrier_reset(mp_barrier *b)',
  'int32_t mp_barrier_parties(mp_barrier *b, uint32_t *out)',
  'int32_t mp_barrier_n_waiting(mp_barrier *b, uint32_t *out)',
  'int32_t mp_barrier_broken(mp_barrier *b, uint8_t *out)',
  'void mp_barrier_close(mp_barrier *b)',
  'int32_t mp_barrier_unlink(const char *name)',
];

/** Every C function, by its C name. */
const F = Object.create(null);
for (const proto of PROTOTYPES) {
  const fn = lib.func(proto);
  F[fn.info ? fn.info.name : proto.match(/([a-z_0-9]+)\(/)[1]] = fn;
}

// `bool *` out-parameters are declared `uint8_t *` above (a C bool is one
// byte, 0 or 1 here) so that a Uint8Array can be passed.

/** The constants of include/mpipc.h that the binding uses. */
const C = Object.freeze({
  MP_OK: 0,
  MP_WAIT_FOREVER: -1,
  MP_OPEN_CREATE_ONLY: 1,
  MP_OPEN_ATTACH_ONLY: 2,
  MP_ARRAY_NO_LOCK: 256,
  MP_LISTENER_ALLOW_TCP_WITHOUT_AUTHKEY: 1,
  MP_LOCK_RECURSIVE: 256,
  MP_SEM_BOUNDED: 256,
  MP_VERSION_NUMBER: 1000,
});

/** The status codes, by name (MP_E_* of include/mpipc.h, one for one). */
const STATUS = Object.freeze({
  MP_OK: 0,
  MP_E_NULL: -1,
  MP_E_INVAL: -2,
  MP_E_TIMEOUT: -3,
  MP_E_EMPTY: -4,
  MP_E_FULL: -5,
  MP_E_SHUTDOWN: -6,
  MP_E_TOOBIG: -7,
  MP_E_BUFSIZE: -8,
  MP_E_NOTFOUND: -9,
  MP_E_EXISTS: -10,
  MP_E_TYPE: -11,
  MP_E_VERSION: -12,
  MP_E_CORRUPT: -13,
  MP_E_PERM: -14,
  MP_E_IO: -15,
  MP_E_PANIC: -16,
  MP_E_POISONED: -17,
  MP_E_EOF: -18,
  MP_E_AUTH: -19,
  MP_E_INDEX: -20,
  MP_E_UNSUPPORTED: -21,
  MP_E_BROKEN: -22,
  MP_E_OWNER_DEAD: -23,
});

/** Copies `len` bytes at address `ptr` (BigInt) into a new Buffer. */
function copyOut(ptr, len) {
  if (len === 0) return Buffer.alloc(0);
  return Buffer.from(new Uint8Array(koffi.view(ptr, len)));
}

/** The bytes of an mp_buf (a BigUint64Array(2): ptr, len), copied, then freed. */
function takeBuf(mbuf) {
  const out = copyOut(mbuf[0], Number(mbuf[1]));
  F.mp_buf_free(mbuf);
  return out;
}

/** A C string out of a `(buf, cap, out_len)` call such as mp_listener_address. */
function readCString(fn, handle) {
  let cap = 256;
  for (;;) {
    const buf = Buffer.alloc(cap);
    const len = new BigUint64Array(1);
    const s = fn(handle, buf, cap, len);
    if (s === STATUS.MP_E_BUFSIZE) { cap = Number(len[0]); continue; }
    return { status: s, value: buf.toString('utf8', 0, Number(len[0])) };
  }
}

module.exports = { koffi, lib, F, C, STATUS, LIB_PATH, LIB_SOURCE, copyOut, takeBuf, readCString };
