/*
 * shim.h — thin C wrappers between the Go package and include/mpipc.h.
 *
 * Why they exist: mpipc keeps the detail of a failure in a thread-local
 * slot (mp_last_error), but a goroutine may move to another OS thread
 * between two cgo calls, and another goroutine may fail on this thread in
 * between. So the message has to be copied inside the same C call as the
 * failing function. Each go_<fn> calls <fn> and, only when it fails,
 * stores a malloc'ed copy of the message in *err_ (the Go side turns it
 * into an *Error and frees it). The success path costs one compare.
 *
 * No logic of the library is repeated here: the wrappers only forward.
 * Who holds a lock is the lock's own record (mp_lock_held_by_me and
 * friends): the one helper with a condition in it, the Condition's "lock
 * must be held" check, asks it.
 */
#ifndef MPIPC_GO_SHIM_H
#define MPIPC_GO_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The library exists for x86-64 Linux with glibc only (ffi.go defines
 * MPGO_UNSUPPORTED_PLATFORM for other GOOS/GOARCH, whatever the C compiler
 * targets): say so here rather than fail on a missing header or symbols. */
#if defined(MPGO_UNSUPPORTED_PLATFORM) || !defined(__linux__) || !defined(__x86_64__)
#error "mpipc supports x86-64 Linux with glibc only (GOOS=linux GOARCH=amd64); this build targets another platform"
#elif !defined(__GLIBC__)
#error "mpipc supports x86-64 Linux with glibc only; this C library is not glibc (musl?)"
#endif

#include "mpipc.h"

/* A malloc'ed copy of this thread's last error message (NULL if out of memory). */
static inline char *mpgo_last_error(void) {
    const char *m = mp_last_error();
    return strdup(m ? m : "");
}

#define MPGO(name, params, args)                                  \
    static inline mp_status go_##name params {                    \
        mp_status s_ = name args;                                 \
        if (s_ != MP_OK) *err_ = mpgo_last_error();               \
        return s_;                                                \
    }

/* ---- queue ---- */
MPGO(mpq_open, (const char *name, const mpq_options *o, mpq **out, char **err_), (name, o, out))
MPGO(mpq_put_timeout, (mpq *q, const uint8_t *d, size_t n, int64_t t, char **err_), (q, d, n, t))
MPGO(mpq_put_many, (mpq *q, const uint8_t *d, const size_t *lens, size_t n, int64_t t, size_t *out, char **err_),
     (q, d, lens, n, t, out))
MPGO(mpq_get_into, (mpq *q, uint8_t *b, size_t cap, size_t *len, int64_t t, char **err_), (q, b, cap, len, t))
MPGO(mpq_get_many, (mpq *q, uint8_t *b, size_t cap, size_t *lens, size_t max_n, int64_t t, size_t *n, size_t *bytes,
                    char **err_),
     (q, b, cap, lens, max_n, t, n, bytes))
MPGO(mpq_qsize, (const mpq *q, size_t *out, char **err_), (q, out))
MPGO(mpq_empty, (const mpq *q, bool *out, char **err_), (q, out))
MPGO(mpq_full, (const mpq *q, bool *out, char **err_), (q, out))
MPGO(mpq_task_done, (mpq *q, char **err_), (q))
MPGO(mpq_join, (mpq *q, int64_t t, char **err_), (q, t))
MPGO(mpq_shutdown, (mpq *q, bool immediate, char **err_), (q, immediate))
MPGO(mpq_options_of, (const mpq *q, mpq_options *out, char **err_), (q, out))
MPGO(mpq_set_spin, (mpq *q, uint32_t us, char **err_), (q, us))
MPGO(mpq_unlink, (const char *name, char **err_), (name))

/* ---- pipe, listener, wait ---- */
MPGO(mp_pipe_new, (bool duplex, mp_pipe **a, mp_pipe **b, char **err_), (duplex, a, b))
MPGO(mp_pipe_from_fd, (int fd, mp_pipe **out, char **err_), (fd, out))
MPGO(mp_pipe_connect, (const char *addr, const uint8_t *key, size_t keylen, int64_t t, mp_pipe **out, char **err_),
     (addr, key, keylen, t, out))
MPGO(mp_pipe_send, (mp_pipe *p, const uint8_t *d, size_t n, char **err_), (p, d, n))
MPGO(mp_pipe_send_many, (mp_pipe *p, const uint8_t *d, const size_t *lens, size_t n, char **err_), (p, d, lens, n))
MPGO(mp_pipe_recv_into, (mp_pipe *p, uint8_t *b, size_t cap, size_t *len, int64_t t, char **err_), (p, b, cap, len, t))
MPGO(mp_pipe_poll, (mp_pipe *p, int64_t t, bool *ready, char **err_), (p, t, ready))
MPGO(mp_pipe_set_max_frame, (mp_pipe *p, uint64_t max, char **err_), (p, max))
MPGO(mp_pipe_set_spin, (mp_pipe *p, uint32_t us, char **err_), (p, us))
MPGO(mp_wait, (mp_pipe *const *pipes, size_t n, int64_t t, size_t *idx, size_t *nready, char **err_),
     (pipes, n, t, idx, nready))
MPGO(mp_listener_bind_ex, (const char *addr, const uint8_t *key, size_t keylen, uint32_t flags, mp_listener **out,
                           char **err_),
     (addr, key, keylen, flags, out))
MPGO(mp_listener_accept, (mp_listener *l, int64_t t, mp_pipe **out, char **err_), (l, t, out))
MPGO(mp_listener_address, (const mp_listener *l, char *buf, size_t cap, size_t *len, char **err_), (l, buf, cap, len))

/* ---- manager ---- */
MPGO(mp_mgr_connect, (const char *addr, const uint8_t *key, size_t keylen, int64_t t, mp_mgr **out, char **err_),
     (addr, key, keylen, t, out))
MPGO(mp_mgr_call, (mp_mgr *m, const char *kind, const char *name, const char *method, const uint8_t *args,
                   size_t len, mp_buf *out, char **err_),
     (m, kind, name, method, args, len, out))
MPGO(mp_mgr_call_many, (mp_mgr *m, const uint8_t *reqs, size_t len, mp_buf *out, char **err_), (m, reqs, len, out))
MPGO(mp_mgr_dict_set, (mp_mgr *m, const char *d, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                       char **err_),
     (m, d, k, kl, v, vl))
MPGO(mp_mgr_dict_get, (mp_mgr *m, const char *d, const uint8_t *k, size_t kl, mp_buf *out, char **err_),
     (m, d, k, kl, out))
MPGO(mp_mgr_dict_del, (mp_mgr *m, const char *d, const uint8_t *k, size_t kl, char **err_), (m, d, k, kl))
MPGO(mp_mgr_dict_len, (mp_mgr *m, const char *d, size_t *out, char **err_), (m, d, out))
MPGO(mp_mgr_dict_incr, (mp_mgr *m, const char *d, const uint8_t *k, size_t kl, int64_t delta, int64_t *out,
                        char **err_),
     (m, d, k, kl, delta, out))
MPGO(mp_mgr_set_spin, (mp_mgr *m, uint32_t us, char **err_), (m, us))
MPGO(mp_mgr_reconnect, (mp_mgr *m, int64_t t, char **err_), (m, t))
MPGO(mp_mgr_is_connected, (mp_mgr *m, bool *out, char **err_), (m, out))
MPGO(mp_mgr_serve, (const char *addr, const uint8_t *key, size_t keylen, mp_mgr_server **out, char **err_),
     (addr, key, keylen, out))
MPGO(mp_mgr_server_address, (const mp_mgr_server *s, char *buf, size_t cap, size_t *len, char **err_),
     (s, buf, cap, len))
MPGO(mp_mgr_server_shutdown, (mp_mgr_server *s, char **err_), (s))

/* ---- shared memory, arrays, values, shareable lists ---- */
MPGO(mp_shm_open, (const char *name, size_t size, uint32_t flags, mp_shm **out, char **err_), (name, size, flags, out))
MPGO(mp_shm_unlink, (const char *name, char **err_), (name))
MPGO(mp_shm_unlink_raw, (const char *name, char **err_), (name))
MPGO(mp_array_open, (const char *name, char tc, size_t len, uint32_t flags, mp_array **out, char **err_),
     (name, tc, len, flags, out))
MPGO(mp_array_lock, (mp_array *a, int64_t t, char **err_), (a, t))
MPGO(mp_array_unlock, (mp_array *a, char **err_), (a))
MPGO(mp_array_get_i64, (mp_array *a, size_t i, int64_t *out, char **err_), (a, i, out))
MPGO(mp_array_get_u64, (mp_array *a, size_t i, uint64_t *out, char **err_), (a, i, out))
MPGO(mp_array_get_f64, (mp_array *a, size_t i, double *out, char **err_), (a, i, out))
MPGO(mp_array_set_i64, (mp_array *a, size_t i, int64_t v, char **err_), (a, i, v))
MPGO(mp_array_set_u64, (mp_array *a, size_t i, uint64_t v, char **err_), (a, i, v))
MPGO(mp_array_set_f64, (mp_array *a, size_t i, double v, char **err_), (a, i, v))
MPGO(mp_array_incr, (mp_array *a, size_t i, int64_t d, int64_t *out, char **err_), (a, i, d, out))
MPGO(mp_array_read, (mp_array *a, size_t start, void *out, size_t n, char **err_), (a, start, out, n))
MPGO(mp_array_write, (mp_array *a, size_t start, const void *in, size_t n, char **err_), (a, start, in, n))
MPGO(mp_array_unlink, (const char *name, char **err_), (name))
MPGO(mp_slist_open, (const char *name, const uint8_t *items, size_t len, uint32_t flags, mp_slist **out, char **err_),
     (name, items, len, flags, out))
MPGO(mp_slist_len, (mp_slist *l, size_t *out, char **err_), (l, out))
MPGO(mp_slist_get, (mp_slist *l, size_t i, mp_buf *out, char **err_), (l, i, out))
MPGO(mp_slist_set, (mp_slist *l, size_t i, const uint8_t *item, size_t len, char **err_), (l, i, item, len))
MPGO(mp_slist_capacity, (mp_slist *l, size_t i, size_t *out, char **err_), (l, i, out))
MPGO(mp_slist_unlink, (const char *name, char **err_), (name))

/* ---- locks and friends ---- */
MPGO(mp_lock_open, (const char *name, uint32_t flags, mp_lock **out, char **err_), (name, flags, out))
MPGO(mp_lock_acquire, (mp_lock *l, int64_t t, char **err_), (l, t))
MPGO(mp_lock_release, (mp_lock *l, char **err_), (l))
MPGO(mp_lock_owner_deaths, (mp_lock *l, uint64_t *out, char **err_), (l, out))
MPGO(mp_lock_unlink, (const char *name, char **err_), (name))
MPGO(mp_sem_open, (const char *name, uint32_t v, uint32_t flags, mp_sem **out, char **err_), (name, v, flags, out))
MPGO(mp_sem_acquire, (mp_sem *s, int64_t t, char **err_), (s, t))
MPGO(mp_sem_release, (mp_sem *s, char **err_), (s))
MPGO(mp_sem_value, (mp_sem *s, uint32_t *out, char **err_), (s, out))
MPGO(mp_sem_unlink, (const char *name, char **err_), (name))
MPGO(mp_event_open, (const char *name, uint32_t flags, mp_event **out, char **err_), (name, flags, out))
MPGO(mp_event_set, (mp_event *e, char **err_), (e))
MPGO(mp_event_clear, (mp_event *e, char **err_), (e))
MPGO(mp_event_is_set, (mp_event *e, bool *out, char **err_), (e, out))
MPGO(mp_event_wait, (mp_event *e, int64_t t, char **err_), (e, t))
MPGO(mp_event_unlink, (const char *name, char **err_), (name))
MPGO(mp_cond_open, (const char *name, uint32_t flags, mp_cond **out, char **err_), (name, flags, out))
MPGO(mp_cond_wait, (mp_cond *c, mp_lock *l, int64_t t, char **err_), (c, l, t))
MPGO(mp_cond_unlink, (const char *name, char **err_), (name))
MPGO(mp_barrier_open, (const char *name, uint32_t parties, uint32_t flags, mp_barrier **out, char **err_),
     (name, parties, flags, out))
MPGO(mp_barrier_wait, (mp_barrier *b, int64_t t, uint32_t *idx, char **err_), (b, t, idx))
MPGO(mp_barrier_abort, (mp_barrier *b, char **err_), (b))
MPGO(mp_barrier_reset, (mp_barrier *b, char **err_), (b))
MPGO(mp_barrier_parties, (mp_barrier *b, uint32_t *out, char **err_), (b, out))
MPGO(mp_barrier_n_waiting, (mp_barrier *b, uint32_t *out, char **err_), (b, out))
MPGO(mp_barrier_broken, (mp_barrier *b, bool *out, char **err_), (b, out))
MPGO(mp_barrier_unlink, (const char *name, char **err_), (name))

/* Notify, with Python's check that the caller holds the lock (mp_cond_notify
 * does not know the lock; DECISIONS.md leaves the check to bindings). The
 * lock answers who holds it; asking in the same C call as the notify keeps
 * both on one OS thread. */
static inline mp_status go_mp_cond_notify(mp_cond *c, mp_lock *l, size_t n, bool all, char **err_) {
    bool held = false;
    mp_status s = mp_lock_held_by_me(l, &held);
    if (s == MP_OK && !held) {
        *err_ = strdup("cannot notify on an un-acquired lock: hold the condition's lock (Python's RuntimeError)");
        return MP_E_PERM;
    }
    if (s == MP_OK) s = all ? mp_cond_notify_all(c) : mp_cond_notify(c, n);
    if (s != MP_OK) *err_ = mpgo_last_error();
    return s;
}

#endif /* MPIPC_GO_SHIM_H */
