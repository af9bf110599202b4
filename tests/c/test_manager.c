/*
 * test_manager.c: the manager (mp_mgr_*) through the C ABI: an embedded
 * server (mp_mgr_serve), the standalone `mpipc manager serve`, and clients
 * in several processes. Keys, values and arguments cross as CBOR, written
 * and read by the tiny codec below.
 *
 *  1. Embedded servers at unix:@name (no key), unix:/tmp/path (authkey,
 *     socket file mode 0600, removed at shutdown) and tcp:127.0.0.1:0:
 *     mp_mgr_server_address (MP_E_BUFSIZE with the size needed); connect
 *     with the right key, a wrong key (MP_E_AUTH), to nobody
 *     (MP_E_NOTFOUND); address in use (MP_E_EXISTS); bad addresses and
 *     NULL arguments.
 *  2. Typed dict shortcuts (mp_mgr_dict_set/get/del/len/incr): ints of
 *     every width, text, bytes, arrays, null, bool round trip; 1 and 1.0
 *     are one key; missing keys (get, del) are MP_E_NOTFOUND with
 *     "KeyError" in mp_last_error; incr starts a missing key at 0, refuses
 *     text (MP_E_TYPE) and overflow (MP_E_INVAL); malformed CBOR
 *     (MP_E_INVAL), a map key (MP_E_TYPE), NULL arguments (MP_E_NULL);
 *     outputs untouched on failure; mp_buf_free.
 *  3. mp_mgr_call on lists (append/pop/getitem, MP_E_INDEX), values
 *     (create/incr/compare_and_set), locks, queues, the manager itself;
 *     unknown method/kind (MP_E_UNSUPPORTED), kind mismatch (MP_E_TYPE),
 *     args not an array (MP_E_INVAL). mp_mgr_call_many: a batch with
 *     failing elements (per-element [status, result]), 1000 pipelined
 *     incrs, malformed batches.
 * 3b. One mp_mgr shared by 4 threads (replies never cross, mp_last_error
 *     per thread); mp_mgr_close releases the lock and semaphore it held;
 *     an 8 MiB value round trip; a request over the server's 64 MiB limit
 *     is refused by the client before sending (MP_E_TOOBIG, its
 *     connection kept), others unharmed.
 *  4. Across processes (server in a forked child, clients in others):
 *     4 clients x 2500 mp_mgr_dict_incr on one key -> exactly 10000; a
 *     client holding lock "L" is SIGKILLed -> a client blocked in acquire
 *     gets it within 5 s (Python's manager would leave it locked); a child
 *     blocked in event wait is released by the parent's event set.
 *  5. The standalone server: exec MPIPC_BIN (default target/debug/mpipc,
 *     relative to the repo root where run.sh runs) `manager serve
 *     --address unix:@...`, read its "serving at" line, use it, SIGTERM ->
 *     exit 0 even with a client blocked in a call (which gets an error);
 *     a connected client then gets MP_E_EOF / MP_E_IO and new connects
 *     MP_E_NOTFOUND. Again at a unix:/tmp path with --authkey-file.
 *  5b. The standalone server SIGKILLed: the next call is MP_E_EOF saying
 *     the connection is lost (and later calls too, at once),
 *     mp_mgr_is_connected says false, mp_mgr_reconnect times out while
 *     nobody listens; restarted at the same path (over the stale socket
 *     file), mp_mgr_reconnect reaches it and the state is empty.
 *  6. mp_mgr_server_shutdown while a client in another process is blocked
 *     in a lock acquire (forever): the call returns an error, shutdown
 *     returns in bounded time; mp_mgr_server_shutdown(NULL) -> MP_E_NULL;
 *     mp_mgr_close(NULL) is a no-op.
 *
 * (First, the CBOR codec checks itself against RFC 8949's examples.)
 *
 * fork() and threads: mp_mgr_serve starts threads, and a fork() after that
 * could copy a lock held by one of them (malloc's). So this process forks
 * only before its first mp_mgr_serve: sections 5, 4 and 6 run first
 * (4 serves in a forked child; 6 forks its client, then serves here), then
 * 1, 2, 3 and 3b, which fork nothing (3b starts threads of its own).
 *
 * Every wait is bounded (T_MS); alarm(120) is the last-resort watchdog.
 * The embedded servers log refused connections (the wrong-key cases) and a
 * dropped oversized request on stderr: expected.
 *
 * Regression checks for two bugs this test found use CHECK_REGRESSION:
 * non-fatal, so that one does not hide the other; a run with any failing
 * ends with "N passed, M failed", exit 1:
 *   - section 2/3: CBOR with trailing bytes after the item (a key, a value,
 *     an args array, a batch) was accepted, the rest silently ignored,
 *     instead of MP_E_INVAL (ciborium's from_reader reads one item);
 *   - section 6: mp_mgr_server_shutdown shut the sockets down before the
 *     blocked calls it woke could reply, so they failed with MP_E_EOF, not
 *     the documented MP_E_SHUTDOWN, unless a waiter happened to look at the
 *     stop flag while the accept thread was being joined (the test times
 *     its shutdown so that the outcome does not depend on luck).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mpipc.h"

#define CHECK_NAME_PREFIX "cmgr"
#define CHECK_CHILD_ALARM_S 60 /* a spawn()ed child never outlives a hung parent by much */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The bound of every wait in the test (connect, child exit, a line...). */
#define T_MS 10000

/* ------------------------------------------------------------------ */
/* Addresses, and bugs in the test                                      */
/* ------------------------------------------------------------------ */

/* CHECK_REGRESSION, tmp_path() (/tmp/cmgr-<pid>-<tag>, unlinked at the end
 * and by a failed check), g_section and the watchdog are in check.h. */

/* An abstract address unix:@cmgr-<pid>-<tag> (written to `buf`). */
static const char *abstract_addr(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "unix:@cmgr-%ld-%s", (long)getpid(), tag);
    return buf;
}

/* A failure of the test itself (not of the library): in a child, say so
 * and _exit(50); in the parent, a failed check. */
static void bug_in_test(const char *what) {
    if (g_in_child) {
        fprintf(stderr, "[child %ld] test bug: %s\n", (long)getpid(), what);
        _exit(50);
    }
    fprintf(stderr, "test bug: %s\n", what);
    CHECK(!"test bug");
}

/* ------------------------------------------------------------------ */
/* A tiny CBOR encoder                                                  */
/* ------------------------------------------------------------------ */

/* Writes into caller-provided storage of `cap` bytes. */
struct cbe {
    uint8_t *p;
    size_t n, cap;
};

static void cbe_put(struct cbe *e, const void *d, size_t k) {
    if (e->cap - e->n < k)
        bug_in_test("CBOR encoder: buffer too small");
    if (k > 0)
        memcpy(e->p + e->n, d, k);
    e->n += k;
}

/* The head of an item: major type `maj` with argument `v`, shortest form. */
static void cbe_head(struct cbe *e, unsigned maj, uint64_t v) {
    uint8_t b[9];
    size_t k;
    if (v < 24) {
        b[0] = (uint8_t)(maj << 5 | v);
        k = 1;
    } else {
        unsigned nb = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
        b[0] = (uint8_t)(maj << 5 | (nb == 1 ? 24 : nb == 2 ? 25 : nb == 4 ? 26 : 27));
        for (unsigned i = 0; i < nb; i++)
            b[1 + i] = (uint8_t)(v >> (8 * (nb - 1 - i)));
        k = 1 + nb;
    }
    cbe_put(e, b, k);
}

static void cbe_int(struct cbe *e, int64_t v) {
    if (v >= 0)
        cbe_head(e, 0, (uint64_t)v);
    else
        cbe_head(e, 1, (uint64_t)(-1 - v)); /* -1 - INT64_MIN == INT64_MAX: no overflow */
}

static void cbe_text(struct cbe *e, const char *s) {
    size_t n = strlen(s);
    cbe_head(e, 3, n);
    cbe_put(e, s, n);
}

static void cbe_bytes(struct cbe *e, const void *p, size_t n) {
    cbe_head(e, 2, n);
    cbe_put(e, p, n);
}

static void cbe_simple(struct cbe *e, uint8_t b) {
    cbe_put(e, &b, 1);
}

static void cbe_f64(struct cbe *e, double d) {
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    uint8_t b[9] = {0xfb};
    for (int i = 0; i < 8; i++)
        b[1 + i] = (uint8_t)(bits >> (8 * (7 - i)));
    cbe_put(e, b, sizeof b);
}

/* Encodes one item described by the format at *f (advanced past it):
 *   i int   L int64_t   u uint64_t   t text (const char *)
 *   y bytes (const void *, size_t)   n null   T true   F false
 *   d double   [N array of N items, which follow in the format */
static void enc_fmt(struct cbe *e, const char **f, va_list *ap) {
    char c = *(*f)++;
    switch (c) {
    case 'i':
        cbe_int(e, va_arg(*ap, int));
        break;
    case 'L':
        cbe_int(e, va_arg(*ap, int64_t));
        break;
    case 'u':
        cbe_head(e, 0, va_arg(*ap, uint64_t));
        break;
    case 't':
        cbe_text(e, va_arg(*ap, const char *));
        break;
    case 'y': {
        const void *p = va_arg(*ap, const void *);
        size_t n = va_arg(*ap, size_t);
        cbe_bytes(e, p, n);
        break;
    }
    case 'n':
        cbe_simple(e, 0xf6);
        break;
    case 'T':
        cbe_simple(e, 0xf5);
        break;
    case 'F':
        cbe_simple(e, 0xf4);
        break;
    case 'd':
        cbe_f64(e, va_arg(*ap, double));
        break;
    case '[': {
        char *end;
        unsigned long k = strtoul(*f, &end, 10);
        if (end == *f)
            bug_in_test("CBOR format: '[' without a count");
        *f = end;
        cbe_head(e, 4, k);
        for (unsigned long i = 0; i < k; i++)
            enc_fmt(e, f, ap);
        break;
    }
    default:
        bug_in_test("CBOR format: unknown or missing item");
    }
}

/* One encoded item (a key, a value, an args array). */
typedef struct {
    uint8_t b[1024];
    size_t n;
} item_t;

/* Encodes the whole format `fmt` (enc_fmt) into `e`: 0 if it describes
 * more than one item. */
static int enc_all(struct cbe *e, const char *fmt, va_list *ap) {
    const char *f = fmt;
    enc_fmt(e, &f, ap);
    return *f == '\0';
}

static item_t it(const char *fmt, ...) {
    item_t r;
    struct cbe e = {r.b, 0, sizeof r.b};
    va_list ap;
    va_start(ap, fmt);
    int one = enc_all(&e, fmt, &ap);
    va_end(ap);
    if (!one)
        bug_in_test("CBOR format: more than one item");
    r.n = e.n;
    return r;
}

/* ------------------------------------------------------------------ */
/* A minimal CBOR decoder (what the checks need)                        */
/* ------------------------------------------------------------------ */

/* A slice holding (we hope) one CBOR item. */
typedef struct {
    const uint8_t *p;
    size_t n;
} cbs;

static cbs cbs_of(const mp_buf *b) {
    return (cbs){b->ptr, b->len};
}

/* Reads one head at *pos: 0 if truncated, indefinite or reserved. */
static int cb_head(cbs s, size_t *pos, int *maj, uint64_t *arg) {
    if (*pos >= s.n)
        return 0;
    uint8_t ib = s.p[(*pos)++];
    *maj = ib >> 5;
    unsigned ai = ib & 31;
    if (ai < 24) {
        *arg = ai;
        return 1;
    }
    size_t nb = ai == 24 ? 1 : ai == 25 ? 2 : ai == 26 ? 4 : ai == 27 ? 8 : 0;
    if (nb == 0 || s.n - *pos < nb)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < nb; i++)
        v = v << 8 | s.p[(*pos)++];
    *arg = v;
    return 1;
}

/* Skips one whole item at *pos: 0 if malformed. */
static int cb_skip(cbs s, size_t *pos, int depth) {
    int maj;
    uint64_t a;
    if (depth > 64 || !cb_head(s, pos, &maj, &a))
        return 0;
    switch (maj) {
    case 0:
    case 1:
    case 7:
        return 1;
    case 2:
    case 3:
        if (a > s.n - *pos)
            return 0;
        *pos += (size_t)a;
        return 1;
    case 4:
    case 5:
        if (a > s.n)
            return 0;
        for (uint64_t i = 0; i < (maj == 5 ? 2 * a : a); i++)
            if (!cb_skip(s, pos, depth + 1))
                return 0;
        return 1;
    case 6:
        return cb_skip(s, pos, depth + 1);
    }
    return 0;
}

/* Whether `s` is exactly one well-formed item. */
static int cb_valid(cbs s) {
    size_t pos = 0;
    return cb_skip(s, &pos, 0) && pos == s.n;
}

static int cb_int(cbs s, int64_t *v) {
    size_t pos = 0;
    int maj;
    uint64_t a;
    if (!cb_head(s, &pos, &maj, &a) || pos != s.n || a > (uint64_t)INT64_MAX)
        return 0;
    if (maj == 0)
        *v = (int64_t)a;
    else if (maj == 1)
        *v = -1 - (int64_t)a;
    else
        return 0;
    return 1;
}

/* Text or bytes (major `want_maj`): the payload in *out. */
static int cb_string(cbs s, int want_maj, cbs *out) {
    size_t pos = 0;
    int maj;
    uint64_t a;
    if (!cb_head(s, &pos, &maj, &a) || maj != want_maj || a != s.n - pos)
        return 0;
    *out = (cbs){s.p + pos, (size_t)a};
    return 1;
}

/* Number of elements of an array (0 if `s` is not one). */
static int cb_arr(cbs s, size_t *count) {
    size_t pos = 0;
    int maj;
    uint64_t a;
    if (!cb_valid(s) || !cb_head(s, &pos, &maj, &a) || maj != 4)
        return 0;
    *count = (size_t)a;
    return 1;
}

/* Element `i` of an array. */
static int cb_at(cbs s, size_t i, cbs *out) {
    size_t count, pos = 0;
    int maj;
    uint64_t a;
    if (!cb_arr(s, &count) || i >= count)
        return 0;
    cb_head(s, &pos, &maj, &a);
    for (size_t k = 0; k < i; k++)
        cb_skip(s, &pos, 1);
    size_t start = pos;
    cb_skip(s, &pos, 1);
    *out = (cbs){s.p + start, pos - start};
    return 1;
}

/* The checks' predicates. */
static int is_int(cbs s, int64_t want) {
    int64_t v;
    return cb_int(s, &v) && v == want;
}

static int is_text(cbs s, const char *want) {
    cbs t;
    return cb_string(s, 3, &t) && t.n == strlen(want) && memcmp(t.p, want, t.n) == 0;
}

/* Text containing `needle`. */
static int text_has(cbs s, const char *needle) {
    cbs t;
    char buf[1024];
    if (!cb_string(s, 3, &t) || t.n >= sizeof buf)
        return 0;
    memcpy(buf, t.p, t.n);
    buf[t.n] = '\0';
    return strstr(buf, needle) != NULL;
}

static int is_bytes(cbs s, const void *want, size_t n) {
    cbs t;
    return cb_string(s, 2, &t) && t.n == n && (n == 0 || memcmp(t.p, want, n) == 0);
}

static int is_bool(cbs s, int want) {
    return s.n == 1 && s.p[0] == (want ? 0xf5 : 0xf4);
}

static int is_null(cbs s) {
    return s.n == 1 && s.p[0] == 0xf6;
}

/* Element i of an array, or an empty slice (which no predicate accepts). */
static cbs at(cbs s, size_t i) {
    cbs out = {NULL, 0};
    if (!cb_at(s, i, &out))
        out = (cbs){NULL, 0};
    return out;
}

static int arr_len_is(cbs s, size_t want) {
    size_t n;
    return cb_arr(s, &n) && n == want;
}

/* The codec checks itself against known encodings (RFC 8949 appendix A). */
static void test_codec(void) {
    item_t x;
    x = it("i", 0);
    CHECK(x.n == 1 && x.b[0] == 0x00);
    x = it("i", 23);
    CHECK(x.n == 1 && x.b[0] == 0x17);
    x = it("i", 24);
    CHECK(x.n == 2 && x.b[0] == 0x18 && x.b[1] == 24);
    x = it("i", 1000);
    CHECK(x.n == 3 && x.b[0] == 0x19 && x.b[1] == 0x03 && x.b[2] == 0xe8);
    x = it("i", -1);
    CHECK(x.n == 1 && x.b[0] == 0x20);
    x = it("i", -1000);
    CHECK(x.n == 3 && x.b[0] == 0x39 && x.b[1] == 0x03 && x.b[2] == 0xe7);
    x = it("u", UINT64_MAX);
    CHECK(x.n == 9 && x.b[0] == 0x1b && x.b[1] == 0xff && x.b[8] == 0xff);
    x = it("L", INT64_MIN);
    CHECK(x.n == 9 && x.b[0] == 0x3b && x.b[1] == 0x7f && x.b[8] == 0xff);
    x = it("t", "IETF");
    CHECK(x.n == 5 && memcmp(x.b, "\x64IETF", 5) == 0);
    x = it("[3i[2ii[2ii", 1, 2, 3, 4, 5);
    CHECK(x.n == 8 && memcmp(x.b, "\x83\x01\x82\x02\x03\x82\x04\x05", 8) == 0);
    x = it("d", 1.1);
    CHECK(x.n == 9 && memcmp(x.b, "\xfb\x3f\xf1\x99\x99\x99\x99\x99\x9a", 9) == 0);
    /* and the decoder reads back what the encoder wrote */
    x = it("[6LLtyTn", INT64_MIN, INT64_MAX, "héllo", "\x00\x01", (size_t)2);
    cbs s = {x.b, x.n};
    CHECK(arr_len_is(s, 6));
    CHECK(is_int(at(s, 0), INT64_MIN) && is_int(at(s, 1), INT64_MAX));
    CHECK(is_text(at(s, 2), "héllo") && is_bytes(at(s, 3), "\x00\x01", 2));
    CHECK(is_bool(at(s, 4), 1) && is_null(at(s, 5)) && at(s, 6).n == 0);
    CHECK(!cb_valid((cbs){(const uint8_t *)"\x62" "a", 2}));
}

/* ------------------------------------------------------------------ */
/* Calls                                                                */
/* ------------------------------------------------------------------ */

/* The result of the last callf (freed by the next one). */
static mp_buf g_res;

static cbs res(void) {
    return cbs_of(&g_res);
}

/* mp_mgr_call with the args array given as a format (enc_fmt), e.g.
 * callf(m, "list", "l", "append", "[1t", "x"); the result in res(). */
static mp_status callf(mp_mgr *m, const char *kind, const char *name, const char *method, const char *fmt, ...) {
    uint8_t buf[2048];
    struct cbe e = {buf, 0, sizeof buf};
    va_list ap;
    va_start(ap, fmt);
    int one = enc_all(&e, fmt, &ap);
    va_end(ap);
    if (!one)
        bug_in_test("callf: more than one item in the format");
    mp_buf_free(&g_res);
    return mp_mgr_call(m, kind, name, method, buf, e.n, &g_res);
}

static int last_error_has(const char *needle) {
    return strstr(mp_last_error(), needle) != NULL;
}

static const uint8_t k_key[] = "s3cret";
#define KEYLEN (sizeof k_key - 1)

static mp_mgr *connect_ok(const char *addr, const uint8_t *key, size_t keylen) {
    mp_mgr *m = NULL;
    CHECK_OK(mp_mgr_connect(addr, key, keylen, T_MS, &m));
    CHECK(m != NULL);
    return m;
}

/* In a child: connect or _exit(code). */
static mp_mgr *child_connect(const char *addr, const uint8_t *key, size_t keylen, int code) {
    mp_mgr *m = NULL;
    CHILD_ST(mp_mgr_connect(addr, key, keylen, T_MS, &m), MP_OK, code);
    return m;
}

/* ------------------------------------------------------------------ */
/* Synchronisation with children                                        */
/* ------------------------------------------------------------------ */

/* read_byte() and put_byte() are in check.h. */

/* Whether child `pid` is still running (its status is left to be reaped). */
static int running(pid_t pid) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return 0;
    return si.si_pid == 0;
}

/* Sleeps until now_ms() reaches `t` (at once if it has). */
static void sleep_until(double t) {
    long ms = (long)(t - now_ms());
    if (ms > 0)
        sleep_ms(ms);
}

/* A client blocked in a manager call sleeps in its socket read: a fixed
 * pause, then check.h's wait_asleep(). */
static void wait_blocked(pid_t pid) {
    sleep_ms(100);
    wait_asleep(pid);
}

/* The exit code a child uses to report an unexpected mp_status. */
static int status_code(mp_status st) {
    return st < 0 && st > -100 ? 100 - st : 99;
}

/* ------------------------------------------------------------------ */
/* 5. The standalone server: mpipc manager serve                        */
/* ------------------------------------------------------------------ */

static const char *mpipc_bin(void) {
    const char *b = getenv("MPIPC_BIN");
    return b != NULL && b[0] != '\0' ? b : "target/debug/mpipc";
}

struct standalone {
    struct proc p;    /* the server, its stderr in p.out */
    char addr[256];   /* from its "serving at" line */
    long logged_pid;
};

/* Execs `mpipc manager serve --address addr [--authkey-file keyfile]` with
 * its stderr on a pipe, and reads its "serving at ADDR (pid N)" line. */
static void sa_start(struct standalone *sa, const char *addr, const char *keyfile) {
    const char *bin = mpipc_bin();
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "cannot run %s (%s): set MPIPC_BIN, or run from the repo root after building\n", bin,
                strerror(errno));
        CHECK(!"the mpipc binary is runnable");
    }
    const char *argv[] = {bin, "manager", "serve", "--address", addr, "--authkey-file", keyfile, NULL};
    if (keyfile == NULL)
        argv[5] = NULL;
    memset(sa, 0, sizeof *sa);
    /* alarm(60): the server never outlives a hung test by much */
    proc_start(&sa->p, 2, 60, argv);
    /* the whole "serving at ..." line */
    double deadline = now_ms() + T_MS;
    for (;;) {
        const char *l = strstr(sa->p.out, "serving at ");
        if (l != NULL && strchr(l, '\n') != NULL)
            break;
        int left = (int)(deadline - now_ms());
        if (left <= 0 || proc_read_some(&sa->p, left) <= 0)
            break;
    }
    const char *line = strstr(sa->p.out, "serving at ");
    if (line == NULL || strchr(line, '\n') == NULL) {
        fprintf(stderr, "mpipc manager serve said: \"%s\"\n", sa->p.out);
        CHECK(!"a \"serving at\" line");
    }
    line += strlen("serving at ");
    const char *sp = strstr(line, " (pid ");
    CHECK(sp != NULL && (size_t)(sp - line) < sizeof sa->addr);
    memcpy(sa->addr, line, (size_t)(sp - line));
    sa->addr[sp - line] = '\0';
    sa->logged_pid = strtol(sp + strlen(" (pid "), NULL, 10);
}

/* A client blocked in an event wait (forever) while the server stops: the
 * call must fail (EOF / IO / SHUTDOWN), not hang. */
struct blocked_arg {
    const char *addr;
    const uint8_t *key;
    size_t keylen;
    int ready_w; /* written just before the blocking call */
    const char *kind, *name; /* "event" -> wait; "lock" -> acquire */
};

static void blocked_call_main(void *p) {
    struct blocked_arg *a = p;
    mp_mgr *m = child_connect(a->addr, a->key, a->keylen, 10);
    put_byte(a->ready_w, 'b');
    mp_status st;
    if (strcmp(a->kind, "event") == 0)
        st = callf(m, "event", a->name, "wait", "[0");
    else
        st = callf(m, "lock", a->name, "acquire", "[0");
    mp_mgr_close(m);
    if (st == MP_OK) {
        fprintf(stderr, "[child] the blocked call returned MP_OK\n");
        _exit(11);
    }
    _exit(status_code(st)); /* 100 + |status|: the parent checks which */
}

static void test_standalone(void) {
    g_section = "5. standalone server";
    double t0 = now_ms();
    char want[128];
    abstract_addr(want, sizeof want, "standalone");
    struct standalone sa;
    sa_start(&sa, want, NULL);
    CHECK(strcmp(sa.addr, want) == 0);
    CHECK(sa.logged_pid == (long)sa.p.pid);

    /* use it */
    mp_mgr *m = connect_ok(sa.addr, NULL, 0);
    item_t k = it("t", "answer"), v = it("[3itT", 42, "x", 1);
    CHECK_OK(mp_mgr_dict_set(m, "d", k.b, k.n, v.b, v.n));
    mp_buf got = {0};
    CHECK_OK(mp_mgr_dict_get(m, "d", k.b, k.n, &got));
    CHECK(got.len == v.n && memcmp(got.ptr, v.b, v.n) == 0);
    mp_buf_free(&got);
    int64_t n = 0;
    CHECK_OK(mp_mgr_dict_incr(m, "d", it("t", "n").b, it("t", "n").n, 3, &n));
    CHECK(n == 3);
    mp_mgr *m2 = connect_ok(sa.addr, NULL, 0); /* a second client sees the same state */
    CHECK_ST(mp_mgr_set_spin(NULL, 0), MP_E_NULL);
    CHECK_OK(mp_mgr_set_spin(m2, 0)); /* sleeps at once for its replies */
    CHECK_OK(mp_mgr_dict_incr(m2, "d", it("t", "n").b, it("t", "n").n, 4, &n));
    CHECK(n == 7);

    /* local reads from the dict's replica (a unix: address): into the
     * caller's buffer, with the version it was read at; another client's
     * write moves the version; local reads off give round trips (version 0) */
    uint8_t buf[64];
    size_t len = 0;
    uint64_t ver = 0, ver2 = 0;
    CHECK_OK(mp_mgr_dict_get_into(m, "d", k.b, k.n, buf, sizeof buf, &len, &ver));
    CHECK(len == v.n && memcmp(buf, v.b, v.n) == 0);
    CHECK(ver != 0);
    CHECK_OK(mp_mgr_dict_version(m, "d", &ver2));
    CHECK(ver2 == ver);
    CHECK_ST(mp_mgr_dict_get_into(m, "d", k.b, k.n, buf, 1, &len, NULL), MP_E_BUFSIZE);
    CHECK(len == v.n);
    item_t absent = it("t", "absent");
    CHECK_ST(mp_mgr_dict_get_into(m, "d", absent.b, absent.n, buf, sizeof buf, &len, NULL), MP_E_NOTFOUND);
    CHECK(last_error_has("KeyError"));
    item_t v2 = it("i", 5);
    CHECK_OK(mp_mgr_dict_set(m2, "d", k.b, k.n, v2.b, v2.n));
    CHECK_OK(mp_mgr_dict_version(m, "d", &ver2));
    CHECK(ver2 != ver);
    CHECK_OK(mp_mgr_dict_get_into(m, "d", k.b, k.n, buf, sizeof buf, &len, NULL));
    CHECK(len == v2.n && memcmp(buf, v2.b, v2.n) == 0); /* the other client's write, at once */
    CHECK_OK(mp_mgr_set_local_reads(m2, false));
    CHECK_OK(mp_mgr_dict_get_into(m2, "d", k.b, k.n, buf, sizeof buf, &len, &ver));
    CHECK(ver == 0 && len == v2.n);
    CHECK_OK(mp_mgr_dict_version(m2, "d", &ver));
    CHECK(ver == 0);
    CHECK_ST(mp_mgr_set_local_reads(NULL, true), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_version(m, "d", NULL), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_get_into(m, "d", k.b, k.n, buf, sizeof buf, NULL, NULL), MP_E_NULL);
    CHECK_OK(mp_mgr_dict_set(m, "d", k.b, k.n, v.b, v.n));
    mp_mgr_close(m2);

    /* a client blocked in an event wait (forever) when the server stops */
    int sync[2];
    CHECK(pipe(sync) == 0);
    struct blocked_arg ba = {sa.addr, NULL, 0, sync[1], "event", "never-set"};
    pid_t blocked = spawn(blocked_call_main, &ba);
    CHECK(read_byte(sync[0], T_MS) == 'b');
    wait_blocked(blocked);
    CHECK(running(blocked));

    /* SIGTERM: exit 0, in bounded time, despite the blocked call */
    double ts = now_ms();
    CHECK(kill(sa.p.pid, SIGTERM) == 0);
    int code = wait_child(sa.p.pid, 5000);
    double dt_stop = now_ms() - ts;
    proc_read_until(&sa.p, NULL, 1000);
    if (code != 0)
        fprintf(stderr, "mpipc manager serve: exit %d, said: \"%s\"\n", code, sa.p.out);
    CHECK(code == 0);
    CHECK(strstr(sa.p.out, "shutting down") != NULL && strstr(sa.p.out, "stopped") != NULL);
    close(sa.p.fd);
    int bcode = wait_child(blocked, 5000);
    if (bcode < 100)
        fprintf(stderr, "blocked client: exit %d\n", bcode);
    CHECK(bcode == status_code(MP_E_EOF) || bcode == status_code(MP_E_IO) || bcode == status_code(MP_E_SHUTDOWN));
    mp_status blocked_st = (mp_status)(100 - bcode);
    close(sync[0]);
    close(sync[1]);

    /* the connected client: EOF (or IO); new connects: nobody there */
    mp_status st = mp_mgr_dict_incr(m, "d", k.b, k.n, 1, &n);
    CHECK(st == MP_E_EOF || st == MP_E_IO);
    CHECK(n == 7); /* untouched on failure */
    mp_status st2 = mp_mgr_dict_len(m, "d", (size_t[]){0});
    CHECK(st2 == MP_E_EOF || st2 == MP_E_IO);
    mp_mgr_close(m);
    mp_mgr *m3 = NULL;
    CHECK_ST(mp_mgr_connect(sa.addr, NULL, 0, 1000, &m3), MP_E_NOTFOUND);
    CHECK(m3 == NULL);
    printf("standalone (unix:@): served, SIGTERM -> exit 0 in %.0f ms; blocked client got %s; then %s\n", dt_stop,
           mp_status_str(blocked_st), mp_status_str(st));

    /* again at a path, with --authkey-file (one trailing newline ignored) */
    const char *keyfile = tmp_path("key");
    const char *sock = tmp_path("standalone.sock");
    int kfd = open(keyfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(kfd >= 0);
    write_all(kfd, "standalone-key\n", 15);
    close(kfd);
    char paddr[160];
    snprintf(paddr, sizeof paddr, "unix:%s", sock);
    sa_start(&sa, paddr, keyfile);
    CHECK(strcmp(sa.addr, paddr) == 0);
    struct stat stb;
    CHECK(stat(sock, &stb) == 0 && S_ISSOCK(stb.st_mode));
    m = NULL;
    CHECK_ST(mp_mgr_connect(paddr, (const uint8_t *)"standalone-key\n", 15, T_MS, &m), MP_E_AUTH);
    CHECK(m == NULL);
    m = connect_ok(paddr, (const uint8_t *)"standalone-key", 14);
    CHECK_OK(callf(m, "manager", "", "ping", "[0"));
    CHECK(is_null(res()));
    CHECK(kill(sa.p.pid, SIGTERM) == 0);
    CHECK_CHILD(sa.p.pid, 5000, 0);
    proc_read_until(&sa.p, NULL, 1000);
    close(sa.p.fd);
    CHECK(strstr(sa.p.out, "connection refused") != NULL); /* the wrong key was logged */
    st = callf(m, "manager", "", "ping", "[0");
    CHECK(st == MP_E_EOF || st == MP_E_IO);
    mp_mgr_close(m);
    CHECK(stat(sock, &stb) != 0 && errno == ENOENT); /* the socket file is removed */
    CHECK_ST(mp_mgr_connect(paddr, (const uint8_t *)"standalone-key", 14, 1000, &m), MP_E_NOTFOUND);
    unlink(keyfile);
    printf("standalone (unix path, --authkey-file): right/wrong key, SIGTERM, socket removed: total %.0f ms\n",
           now_ms() - t0);
    /* 5b. Killed and restarted (SIGKILL: the socket file stays behind). */
    double tk = now_ms();
    const char *ksock = tmp_path("killed.sock");
    char kaddr[160];
    snprintf(kaddr, sizeof kaddr, "unix:%s", ksock);
    sa_start(&sa, kaddr, NULL);
    m = connect_ok(kaddr, NULL, 0);
    CHECK_OK(mp_mgr_dict_set(m, "d", k.b, k.n, v.b, v.n));
    bool up = false;
    CHECK_OK(mp_mgr_is_connected(m, &up));
    CHECK(up);
    CHECK(kill(sa.p.pid, SIGKILL) == 0);
    CHECK(wait_child(sa.p.pid, 5000) == -1000 - SIGKILL);
    close(sa.p.fd);
    CHECK(stat(ksock, &stb) == 0 && S_ISSOCK(stb.st_mode)); /* stale, left behind */
    /* the next call says the connection is lost and how to recover */
    CHECK_ST(mp_mgr_dict_get(m, "d", k.b, k.n, &got), MP_E_EOF);
    CHECK(last_error_has("lost") && last_error_has("reconnect"));
    CHECK_OK(mp_mgr_is_connected(m, &up));
    CHECK(!up);
    /* later calls fail at once, the same way */
    CHECK_ST(mp_mgr_dict_len(m, "d", (size_t[]){0}), MP_E_EOF);
    CHECK_ST(callf(m, "manager", "", "ping", "[0"), MP_E_EOF);
    /* nobody listens: reconnect gives up at its timeout */
    double tr = now_ms();
    CHECK_ST(mp_mgr_reconnect(m, 200), MP_E_TIMEOUT);
    CHECK(now_ms() - tr < 5000);
    CHECK_ST(mp_mgr_reconnect(NULL, 0), MP_E_NULL);
    CHECK_ST(mp_mgr_is_connected(NULL, &up), MP_E_NULL);
    CHECK_ST(mp_mgr_is_connected(m, NULL), MP_E_NULL);
    /* restarted at the same path (over the stale socket file) */
    sa_start(&sa, kaddr, NULL);
    CHECK(strcmp(sa.addr, kaddr) == 0);
    CHECK_OK(mp_mgr_reconnect(m, T_MS));
    CHECK_OK(mp_mgr_is_connected(m, &up));
    CHECK(up);
    /* the restarted server starts empty: state loss, as documented */
    CHECK_ST(mp_mgr_dict_get(m, "d", k.b, k.n, &got), MP_E_NOTFOUND);
    CHECK_OK(mp_mgr_dict_set(m, "d", k.b, k.n, v.b, v.n));
    CHECK_OK(mp_mgr_dict_get(m, "d", k.b, k.n, &got));
    CHECK(got.len == v.n && memcmp(got.ptr, v.b, v.n) == 0);
    mp_buf_free(&got);
    /* a reconnect on a live connection replaces it: still usable */
    CHECK_OK(mp_mgr_reconnect(m, T_MS));
    CHECK_OK(mp_mgr_dict_get(m, "d", k.b, k.n, &got));
    mp_buf_free(&got);
    mp_mgr_close(m);
    CHECK(kill(sa.p.pid, SIGTERM) == 0);
    CHECK_CHILD(sa.p.pid, 5000, 0);
    proc_read_until(&sa.p, NULL, 1000);
    close(sa.p.fd);
    printf("standalone killed (SIGKILL) and restarted: MP_E_EOF \"lost\", reconnect timeout, restart over the "
           "stale socket, reconnect, empty state: %.0f ms\n",
           now_ms() - tk);
}

/* ------------------------------------------------------------------ */
/* 4. Across processes                                                  */
/* ------------------------------------------------------------------ */

/* A manager server in a forked child: the threads of mp_mgr_serve live
 * there, never in this process (which keeps forking). */
struct srv_arg {
    char addr[128];
    const uint8_t *key;
    size_t keylen;
    int ready_w; /* 'R' once serving */
    int cmd_r;   /* any byte or EOF: shut down */
};

static void server_main(void *p) {
    struct srv_arg *a = p;
    mp_mgr_server *s = NULL;
    mp_status st = mp_mgr_serve(a->addr, a->key, a->keylen, &s);
    if (st != MP_OK) {
        fprintf(stderr, "[server child] mp_mgr_serve(%s): %s: %s\n", a->addr, mp_status_str(st), mp_last_error());
        put_byte(a->ready_w, 'F');
        _exit(10);
    }
    put_byte(a->ready_w, 'R');
    read_byte(a->cmd_r, 55000);
    _exit(mp_mgr_server_shutdown(s) == MP_OK ? 0 : 11);
}

struct srvproc {
    pid_t pid;
    int ready[2], cmd[2];
    struct srv_arg arg;
};

static void srvproc_start(struct srvproc *sp, const char *tag, const uint8_t *key, size_t keylen) {
    abstract_addr(sp->arg.addr, sizeof sp->arg.addr, tag);
    CHECK(pipe(sp->ready) == 0 && pipe(sp->cmd) == 0);
    sp->arg.key = key;
    sp->arg.keylen = keylen;
    sp->arg.ready_w = sp->ready[1];
    sp->arg.cmd_r = sp->cmd[0];
    sp->pid = spawn(server_main, &sp->arg);
    CHECK(read_byte(sp->ready[0], T_MS) == 'R');
}

static void srvproc_stop(struct srvproc *sp) {
    put_byte(sp->cmd[1], 'q');
    CHECK_CHILD(sp->pid, T_MS, 0);
    close(sp->ready[0]);
    close(sp->ready[1]);
    close(sp->cmd[0]);
    close(sp->cmd[1]);
}

#define N_INCR_PROCS 4
#define N_INCR 2500

struct incr_arg {
    const char *addr;
    int ready_w, go_r;
    int id; /* set before each fork */
};

/* Connects, says so, waits for "go", then N_INCR incrs of d["hits"]; every
 * new value must be above the previous one and within 1..total. */
static void incr_main(void *p) {
    struct incr_arg *a = p;
    mp_mgr *m = child_connect(a->addr, k_key, KEYLEN, 10);
    /* Half the clients never spin for their replies: both ways count. */
    if (a->id % 2)
        CHILD_ST(mp_mgr_set_spin(m, 0), MP_OK, 14);
    put_byte(a->ready_w, 'c');
    CHILD_REQUIRE(read_byte(a->go_r, T_MS) == 'g', 11);
    item_t k = it("t", "hits");
    int64_t prev = 0;
    for (int i = 0; i < N_INCR; i++) {
        int64_t v = -1;
        CHILD_ST(mp_mgr_dict_incr(m, "counts", k.b, k.n, 1, &v), MP_OK, 12);
        CHILD_REQUIRE(v > prev && v <= (int64_t)N_INCR_PROCS * N_INCR, 13);
        prev = v;
    }
    mp_mgr_close(m);
}

struct lock_arg {
    const char *addr;
    int ready_w;
};

/* Takes lock "L", says so, and waits to be SIGKILLed. */
static void holder_main(void *p) {
    struct lock_arg *a = p;
    mp_mgr *m = child_connect(a->addr, k_key, KEYLEN, 10);
    CHILD_ST(callf(m, "lock", "L", "acquire", "[0"), MP_OK, 11);
    CHILD_REQUIRE(is_bool(res(), 1), 12);
    put_byte(a->ready_w, 'H');
    sleep_ms(50000);
    _exit(13); /* not killed? */
}

/* Finds "L" held (acquire with timeout 0 -> false), says so, then blocks in
 * acquire (8 s) and must get it once the holder is killed. */
static void waiter_main(void *p) {
    struct lock_arg *a = p;
    mp_mgr *m = child_connect(a->addr, k_key, KEYLEN, 10);
    CHILD_ST(callf(m, "lock", "L", "acquire", "[1i", 0), MP_OK, 11);
    CHILD_REQUIRE(is_bool(res(), 0), 12);
    CHILD_ST(callf(m, "lock", "L", "locked", "[0"), MP_OK, 13);
    CHILD_REQUIRE(is_bool(res(), 1), 14);
    CHILD_ST(callf(m, "lock", "L", "release", "[0"), MP_E_PERM, 15); /* not ours */
    put_byte(a->ready_w, 'W');
    CHILD_ST(callf(m, "lock", "L", "acquire", "[1i", 8000), MP_OK, 16);
    CHILD_REQUIRE(is_bool(res(), 1), 17); /* false: timed out, the lock stayed held */
    CHILD_ST(callf(m, "lock", "L", "release", "[0"), MP_OK, 18);
    mp_mgr_close(m);
}

/* Blocks in event wait (10 s); must be released by the parent's set. */
static void event_waiter_main(void *p) {
    struct lock_arg *a = p;
    mp_mgr *m = child_connect(a->addr, k_key, KEYLEN, 10);
    put_byte(a->ready_w, 'r');
    CHILD_ST(callf(m, "event", "E", "wait", "[1i", 10000), MP_OK, 11);
    CHILD_REQUIRE(is_bool(res(), 1), 12); /* false: timed out */
    mp_mgr_close(m);
}

static void test_processes(void) {
    g_section = "4. across processes";
    struct srvproc sp;
    srvproc_start(&sp, "procs", k_key, KEYLEN);
    const char *addr = sp.arg.addr;
    mp_mgr *m = connect_ok(addr, k_key, KEYLEN);

    /* (a) 4 x 2500 incr on one key */
    int ready[2], go[2];
    CHECK(pipe(ready) == 0 && pipe(go) == 0);
    struct incr_arg ia = {addr, ready[1], go[0], 0};
    pid_t kids[N_INCR_PROCS];
    for (int i = 0; i < N_INCR_PROCS; i++) {
        ia.id = i;
        kids[i] = spawn(incr_main, &ia);
    }
    for (int i = 0; i < N_INCR_PROCS; i++)
        CHECK(read_byte(ready[0], T_MS) == 'c');
    double t0 = now_ms();
    for (int i = 0; i < N_INCR_PROCS; i++)
        put_byte(go[1], 'g');
    for (int i = 0; i < N_INCR_PROCS; i++)
        CHECK_CHILD(kids[i], 30000, 0);
    double dt = now_ms() - t0;
    item_t k = it("t", "hits");
    mp_buf got = {0};
    CHECK_OK(mp_mgr_dict_get(m, "counts", k.b, k.n, &got));
    CHECK(is_int(cbs_of(&got), N_INCR_PROCS * N_INCR));
    mp_buf_free(&got);
    size_t len = 0;
    CHECK_OK(mp_mgr_dict_len(m, "counts", &len));
    CHECK(len == 1);
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
    printf("processes: %d clients x %d mp_mgr_dict_incr -> exactly %d in %.0f ms (%.0f incr/s)\n", N_INCR_PROCS,
           N_INCR, N_INCR_PROCS * N_INCR, dt, N_INCR_PROCS * N_INCR / (dt / 1000.0));

    /* (b) the holder of "L" is SIGKILLed: a blocked waiter gets the lock */
    int sync[2];
    CHECK(pipe(sync) == 0);
    struct lock_arg la = {addr, sync[1]};
    pid_t holder = spawn(holder_main, &la);
    CHECK(read_byte(sync[0], T_MS) == 'H');
    CHECK_OK(callf(m, "lock", "L", "acquire", "[1i", 0));
    CHECK(is_bool(res(), 0));
    pid_t waiter = spawn(waiter_main, &la);
    CHECK(read_byte(sync[0], T_MS) == 'W');
    wait_blocked(waiter);
    CHECK(running(waiter) && running(holder));
    double tk = now_ms();
    CHECK(kill(holder, SIGKILL) == 0);
    CHECK_CHILD(holder, T_MS, -1000 - SIGKILL);
    CHECK_CHILD(waiter, T_MS, 0);
    double dt_lock = now_ms() - tk;
    CHECK(dt_lock < 5000);
    /* the waiter exited (released it): free again for us */
    CHECK_OK(callf(m, "lock", "L", "acquire", "[1i", 5000));
    CHECK(is_bool(res(), 1));
    CHECK_OK(callf(m, "lock", "L", "release", "[0"));
    CHECK_ST(callf(m, "lock", "L", "release", "[0"), MP_E_PERM);

    /* (c) a child blocked in event wait, released by our set */
    pid_t ew = spawn(event_waiter_main, &la);
    CHECK(read_byte(sync[0], T_MS) == 'r');
    wait_blocked(ew);
    CHECK(running(ew));
    CHECK_OK(callf(m, "event", "E", "is_set", "[0"));
    CHECK(is_bool(res(), 0));
    double te = now_ms();
    CHECK_OK(callf(m, "event", "E", "set", "[0"));
    CHECK_CHILD(ew, T_MS, 0);
    double dt_event = now_ms() - te;
    CHECK(dt_event < 3000); /* released by the set, not by its 10 s timeout */
    close(sync[0]);
    close(sync[1]);

    mp_mgr_close(m);
    srvproc_stop(&sp);
    printf("processes: lock of a SIGKILLed holder passed to a blocked waiter in %.0f ms; event wait released "
           "in %.0f ms\n",
           dt_lock, dt_event);
}

/* ------------------------------------------------------------------ */
/* 6. mp_mgr_server_shutdown with a client blocked in another process   */
/* ------------------------------------------------------------------ */

struct shut_arg {
    struct blocked_arg b;
    int go_r;
};

static void shut_client_main(void *p) {
    struct shut_arg *a = p;
    if (read_byte(a->go_r, T_MS) != 'g')
        _exit(9);
    blocked_call_main(&a->b);
}

static void test_shutdown_blocked(void) {
    g_section = "6. shutdown with a blocked client";
    char addr[128];
    abstract_addr(addr, sizeof addr, "shutdown");
    int go[2], sync[2];
    CHECK(pipe(go) == 0 && pipe(sync) == 0);
    /* fork the client first: no fork after mp_mgr_serve in this process */
    struct shut_arg sa = {{addr, NULL, 0, sync[1], "lock", "L6"}, go[0]};
    pid_t kid = spawn(shut_client_main, &sa);

    mp_mgr_server *s = NULL;
    CHECK_OK(mp_mgr_serve(addr, NULL, 0, &s));
    mp_mgr *m = connect_ok(addr, NULL, 0);
    CHECK_OK(callf(m, "lock", "L6", "acquire", "[0"));
    CHECK(is_bool(res(), 1));
    CHECK_ST(callf(m, "lock", "L6", "acquire", "[1i", 0), MP_E_INVAL); /* not recursive */
    put_byte(go[1], 'g');
    CHECK(read_byte(sync[0], T_MS) == 'b');
    double tb = now_ms(); /* the child sends its acquire now */

    /* When shutdown is called matters for the status the blocked call gets
     * (see CHECK_REGRESSION below). The server's accept thread waits in
     * 100 ms slices, and shutdown first joins it, then shuts down every
     * connection's socket, then wakes the waiters. A waiter also looks at
     * the shutdown flag each 100 ms of its wait: if one of those falls
     * between the join and the socket shutdown, its MP_E_SHUTDOWN reply
     * still goes out; otherwise its socket is gone first (MP_E_EOF).
     * Timeline, from the child's request (its waits end at +100, +200,
     * +300...): a connect at +240 starts a new accept slice (ending at
     * +340), and shutdown at +330 then takes ~10 ms to join the accept
     * thread: no waiter check in [+330, +340], so the outcome is the same
     * on every run, not 70/30. The status promised should not depend on
     * any of this. */
    sleep_until(tb + 240);
    CHECK(running(kid)); /* blocked in acquire (forever) */
    mp_mgr *tick = connect_ok(addr, NULL, 0);
    mp_mgr_close(tick);
    sleep_until(tb + 330);
    double t0 = now_ms();
    CHECK_OK(mp_mgr_server_shutdown(s));
    double dt_shutdown = now_ms() - t0;
    CHECK(dt_shutdown < 5000);
    int code = wait_child(kid, 5000);
    double dt_client = now_ms() - t0;
    if (code < 100)
        fprintf(stderr, "blocked client: exit %d (-1: still blocked after 5 s)\n", code);
    CHECK(code >= 100); /* its call failed; it did not hang */
    mp_status kid_st = (mp_status)(100 - code);
    CHECK(kid_st == MP_E_SHUTDOWN || kid_st == MP_E_EOF || kid_st == MP_E_IO);
    CHECK_REGRESSION(kid_st == MP_E_SHUTDOWN,
                     "mp_mgr_server_shutdown: a call blocked in the server fails with MP_E_EOF, not the documented "
                     "MP_E_SHUTDOWN: the sockets are shut down before the woken calls can send their reply");

    /* our own client: the server is gone */
    mp_status st = callf(m, "lock", "L6", "locked", "[0");
    CHECK(st == MP_E_EOF || st == MP_E_IO);
    mp_mgr_close(m);
    mp_mgr *m2 = NULL;
    CHECK_ST(mp_mgr_connect(addr, NULL, 0, 1000, &m2), MP_E_NOTFOUND);
    CHECK_ST(mp_mgr_server_shutdown(NULL), MP_E_NULL);
    mp_mgr_close(NULL);
    close(go[0]);
    close(go[1]);
    close(sync[0]);
    close(sync[1]);
    printf("shutdown: returned in %.0f ms; the client blocked in acquire(forever) got %s after %.0f ms\n",
           dt_shutdown, mp_status_str(kid_st), dt_client);
}

/* ------------------------------------------------------------------ */
/* 1. Embedded servers, connecting                                      */
/* ------------------------------------------------------------------ */

/* The address of `s`, checking the MP_E_BUFSIZE protocol on the way. */
static void server_address(mp_mgr_server *s, char *buf, size_t cap) {
    size_t need = 0, len = 0;
    CHECK_ST(mp_mgr_server_address(s, NULL, 0, &need), MP_E_BUFSIZE);
    CHECK(need >= 2 && need <= cap);
    char small[4];
    size_t need2 = 0;
    CHECK_ST(mp_mgr_server_address(s, small, need - 1 < sizeof small ? need - 1 : sizeof small, &need2),
             MP_E_BUFSIZE);
    CHECK(need2 == need);
    CHECK_OK(mp_mgr_server_address(s, buf, need, &len));
    CHECK(len == need - 1 && strlen(buf) == len);
}

static mp_mgr_server *g_s1; /* unix:@, no key: sections 1-3 */
static char g_addr1[128];

static void test_embedded(void) {
    g_section = "1. embedded servers";
    double t0 = now_ms();
    char want[128], addr[256];

    /* unix:@name, no key */
    abstract_addr(want, sizeof want, "embedded");
    CHECK_OK(mp_mgr_serve(want, NULL, 0, &g_s1));
    CHECK(g_s1 != NULL);
    server_address(g_s1, addr, sizeof addr);
    CHECK(strcmp(addr, want) == 0);
    strcpy(g_addr1, addr);
    mp_mgr *m = connect_ok(addr, NULL, 0);
    CHECK_OK(callf(m, "manager", "", "ping", "[0"));
    CHECK(is_null(res()));
    mp_mgr_server *dup = NULL;
    CHECK_ST(mp_mgr_serve(want, NULL, 0, &dup), MP_E_EXISTS); /* in use */
    CHECK(dup == NULL);
    /* a key offered to a server without one: an error within the timeout */
    mp_mgr *mk = NULL;
    double tk = now_ms();
    mp_status stk = mp_mgr_connect(addr, k_key, KEYLEN, 500, &mk);
    CHECK(stk != MP_OK && mk == NULL);
    CHECK(now_ms() - tk < 3000);

    /* unix:/tmp path, with a key */
    const char *path = tmp_path("embedded.sock");
    char paddr[160];
    snprintf(paddr, sizeof paddr, "unix:%s", path);
    mp_mgr_server *s2 = NULL;
    CHECK_OK(mp_mgr_serve(paddr, k_key, KEYLEN, &s2));
    server_address(s2, addr, sizeof addr);
    CHECK(strcmp(addr, paddr) == 0);
    struct stat stb;
    CHECK(stat(path, &stb) == 0 && S_ISSOCK(stb.st_mode) && (stb.st_mode & 0777) == 0600);
    mp_mgr *bad = NULL;
    CHECK_ST(mp_mgr_connect(paddr, (const uint8_t *)"wrong", 5, T_MS, &bad), MP_E_AUTH);
    CHECK(bad == NULL);
    CHECK_ST(mp_mgr_connect(paddr, k_key, KEYLEN - 1, T_MS, &bad), MP_E_AUTH); /* a prefix of the key */
    mp_mgr *good = connect_ok(paddr, k_key, KEYLEN);
    CHECK_OK(callf(good, "dict", "d", "incr", "[2ti", "k", 1));
    CHECK(is_int(res(), 1));
    mp_mgr_close(good);
    mp_mgr_server *dup2 = NULL;
    CHECK_ST(mp_mgr_serve(paddr, NULL, 0, &dup2), MP_E_EXISTS);
    CHECK_OK(mp_mgr_server_shutdown(s2));
    CHECK(stat(path, &stb) != 0 && errno == ENOENT); /* removed */
    CHECK_ST(mp_mgr_connect(paddr, k_key, KEYLEN, 1000, &bad), MP_E_NOTFOUND);

    /* tcp:127.0.0.1:0 with a key: the real port comes back */
    CHECK_ST(mp_mgr_serve("tcp:127.0.0.1:0", NULL, 0, &s2), MP_E_INVAL); /* TCP needs a key */
    CHECK_OK(mp_mgr_serve("tcp:127.0.0.1:0", k_key, KEYLEN, &s2));
    server_address(s2, addr, sizeof addr);
    CHECK(strncmp(addr, "tcp:127.0.0.1:", 14) == 0 && atoi(addr + 14) > 0);
    CHECK_ST(mp_mgr_connect(addr, NULL, 0, T_MS, &bad), MP_E_INVAL); /* nor the client */
    CHECK_ST(mp_mgr_connect(addr, (const uint8_t *)"wrong", 5, T_MS, &bad), MP_E_AUTH);
    good = connect_ok(addr, k_key, KEYLEN);
    CHECK_OK(callf(good, "manager", "", "ping", "[0"));
    mp_mgr_close(good);
    CHECK_OK(mp_mgr_server_shutdown(s2));

    /* nobody there */
    char nobody[128];
    CHECK_ST(mp_mgr_connect(abstract_addr(nobody, sizeof nobody, "nobody"), NULL, 0, 1000, &bad), MP_E_NOTFOUND);
    snprintf(nobody, sizeof nobody, "unix:/tmp/cmgr-%ld-nobody.sock", (long)getpid());
    CHECK_ST(mp_mgr_connect(nobody, NULL, 0, 1000, &bad), MP_E_NOTFOUND);
    CHECK(bad == NULL);

    /* bad addresses and NULL arguments */
    CHECK_ST(mp_mgr_serve("bogus:x", NULL, 0, &s2), MP_E_INVAL);
    CHECK_ST(mp_mgr_connect("bogus:x", NULL, 0, 1000, &bad), MP_E_INVAL);
    CHECK_ST(mp_mgr_serve(NULL, NULL, 0, &s2), MP_E_NULL);
    CHECK_ST(mp_mgr_serve(want, NULL, 0, NULL), MP_E_NULL);
    CHECK_ST(mp_mgr_serve(want, NULL, 3, &s2), MP_E_NULL); /* keylen without a key */
    CHECK_ST(mp_mgr_connect(NULL, NULL, 0, 1000, &bad), MP_E_NULL);
    CHECK_ST(mp_mgr_connect(g_addr1, NULL, 0, 1000, NULL), MP_E_NULL);
    size_t len = 0;
    CHECK_ST(mp_mgr_server_address(NULL, addr, sizeof addr, &len), MP_E_NULL);
    CHECK_ST(mp_mgr_server_address(g_s1, addr, sizeof addr, NULL), MP_E_NULL);
    CHECK(bad == NULL);
    mp_mgr_close(m);
    printf("embedded servers: unix:@, unix path (0600, removed), tcp; keys right/wrong; nobody; bad input: "
           "%.0f ms; a key offered to a keyless server: %s\n",
           now_ms() - t0, mp_status_str(stk));
}

/* ------------------------------------------------------------------ */
/* 2. Typed dict shortcuts                                              */
/* ------------------------------------------------------------------ */

/* dict_get of `k` returns exactly one item satisfying the caller's check. */
static mp_buf get_item(mp_mgr *m, const char *dict, item_t k) {
    mp_buf b = {0};
    CHECK_OK(mp_mgr_dict_get(m, dict, k.b, k.n, &b));
    CHECK(cb_valid(cbs_of(&b)));
    return b;
}

static void set_item(mp_mgr *m, const char *dict, item_t k, item_t v) {
    CHECK_OK(mp_mgr_dict_set(m, dict, k.b, k.n, v.b, v.n));
}

static void test_dict(void) {
    g_section = "2. dict shortcuts";
    double t0 = now_ms();
    mp_mgr *m = connect_ok(g_addr1, NULL, 0);
    const char *D = "d2";
    size_t len = 99;
    CHECK_OK(mp_mgr_dict_len(m, D, &len)); /* created on first use */
    CHECK(len == 0);

    /* incr: a missing key starts at 0 */
    item_t hits = it("t", "hits");
    int64_t v = 0;
    CHECK_OK(mp_mgr_dict_incr(m, D, hits.b, hits.n, 5, &v));
    CHECK(v == 5);
    CHECK_OK(mp_mgr_dict_incr(m, D, hits.b, hits.n, -7, &v));
    CHECK(v == -2);
    CHECK_OK(mp_mgr_dict_incr(m, D, hits.b, hits.n, 0, &v));
    CHECK(v == -2);
    item_t fresh = it("t", "fresh");
    CHECK_OK(mp_mgr_dict_incr(m, D, fresh.b, fresh.n, 0, &v));
    CHECK(v == 0);
    mp_buf b = get_item(m, D, hits);
    CHECK(is_int(cbs_of(&b), -2));
    mp_buf_free(&b);
    CHECK(b.ptr == NULL && b.len == 0);
    mp_buf_free(&b); /* twice: a no-op */
    mp_buf_free(NULL);

    /* values of every kind, under keys of several kinds */
    static const int64_t ints[] = {0, 1, 23, 24, 255, 256, 65535, 65536, 4294967295LL, 4294967296LL, INT64_MAX,
                                   -1, -24, -25, -256, -257, -65537, -4294967297LL, INT64_MIN};
    size_t nints = sizeof ints / sizeof ints[0];
    for (size_t i = 0; i < nints; i++)
        set_item(m, D, it("[2ti", "int", (int)i), it("L", ints[i]));
    for (size_t i = 0; i < nints; i++) {
        b = get_item(m, D, it("[2ti", "int", (int)i));
        CHECK(is_int(cbs_of(&b), ints[i]));
        mp_buf_free(&b);
    }
    uint8_t blob[300];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (uint8_t)(i * 7);
    set_item(m, D, it("i", 7), it("y", blob, sizeof blob));
    set_item(m, D, it("i", -3), it("t", "minus three"));
    set_item(m, D, it("y", "\x00\xff", (size_t)2), it("[4TFn[1t", "nested"));
    set_item(m, D, it("t", ""), it("y", "", (size_t)0));
    b = get_item(m, D, it("i", 7));
    CHECK(is_bytes(cbs_of(&b), blob, sizeof blob));
    mp_buf_free(&b);
    b = get_item(m, D, it("i", -3));
    CHECK(is_text(cbs_of(&b), "minus three"));
    mp_buf_free(&b);
    b = get_item(m, D, it("y", "\x00\xff", (size_t)2));
    cbs s = cbs_of(&b);
    CHECK(arr_len_is(s, 4) && is_bool(at(s, 0), 1) && is_bool(at(s, 1), 0) && is_null(at(s, 2)));
    CHECK(arr_len_is(at(s, 3), 1) && is_text(at(at(s, 3), 0), "nested"));
    mp_buf_free(&b);
    b = get_item(m, D, it("t", ""));
    CHECK(is_bytes(cbs_of(&b), "", 0));
    mp_buf_free(&b);
    /* text "7" and bytes are other keys than int 7; 7.0 is the same key */
    mp_buf none = {0};
    CHECK_ST(mp_mgr_dict_get(m, D, it("t", "7").b, it("t", "7").n, &none), MP_E_NOTFOUND);
    b = get_item(m, D, it("d", 7.0));
    CHECK(is_bytes(cbs_of(&b), blob, sizeof blob));
    mp_buf_free(&b);
    set_item(m, D, it("d", -3.0), it("t", "replaced"));
    b = get_item(m, D, it("i", -3));
    CHECK(is_text(cbs_of(&b), "replaced"));
    mp_buf_free(&b);

    size_t want_len = 2 + nints + 3 + 1; /* hits, fresh, ints, 7, -3, bytes key, "" */
    CHECK_OK(mp_mgr_dict_len(m, D, &len));
    CHECK(len == want_len);

    /* missing keys: get and del are MP_E_NOTFOUND, KeyError; outputs kept */
    item_t missing = it("t", "no-such-key");
    CHECK_ST(mp_mgr_dict_get(m, D, missing.b, missing.n, &none), MP_E_NOTFOUND);
    CHECK(last_error_has("KeyError"));
    CHECK(none.ptr == NULL && none.len == 0);
    char msg[256];
    size_t mlen = 0;
    CHECK_OK(mp_last_error_message(msg, sizeof msg, &mlen));
    CHECK(strstr(msg, "KeyError") != NULL && strstr(msg, "no-such-key") != NULL);
    /* the key as the user wrote it, never Rust's Text("...") (issue 20 item 6) */
    CHECK(strstr(msg, "KeyError: \"no-such-key\"") != NULL && strstr(msg, "Text(") == NULL);
    CHECK_ST(mp_mgr_dict_del(m, D, missing.b, missing.n), MP_E_NOTFOUND);
    CHECK(last_error_has("KeyError"));
    CHECK_ST(mp_mgr_dict_get(m, D, it("i", -5).b, it("i", -5).n, &none), MP_E_NOTFOUND);
    CHECK(last_error_has("KeyError: -5"));
    CHECK_ST(mp_mgr_dict_get(m, "never-used-dict", missing.b, missing.n, &none), MP_E_NOTFOUND);

    /* del */
    CHECK_OK(mp_mgr_dict_del(m, D, it("i", -3).b, it("i", -3).n));
    CHECK_OK(mp_mgr_dict_len(m, D, &len));
    CHECK(len == want_len - 1);
    CHECK_ST(mp_mgr_dict_del(m, D, it("i", -3).b, it("i", -3).n), MP_E_NOTFOUND);
    CHECK(last_error_has("KeyError"));
    CHECK_ST(mp_mgr_dict_get(m, D, it("i", -3).b, it("i", -3).n, &none), MP_E_NOTFOUND);

    /* incr on a non-integer: MP_E_TYPE, value kept; overflow: MP_E_INVAL */
    item_t txt = it("t", "text");
    set_item(m, D, txt, it("t", "not a number"));
    v = 12345;
    CHECK_ST(mp_mgr_dict_incr(m, D, txt.b, txt.n, 1, &v), MP_E_TYPE);
    CHECK(v == 12345);
    /* the message and the status text say what happened (issue 20 item 6) */
    CHECK(last_error_has("the value is text, not an integer"));
    CHECK(strstr(mp_status_str(MP_E_TYPE), "a value the call cannot use") != NULL);
    b = get_item(m, D, txt);
    CHECK(is_text(cbs_of(&b), "not a number"));
    mp_buf_free(&b);
    set_item(m, D, it("i", 7), it("[1i", 1));
    CHECK_ST(mp_mgr_dict_incr(m, D, it("i", 7).b, it("i", 7).n, 1, &v), MP_E_TYPE);
    item_t big = it("t", "big");
    set_item(m, D, big, it("L", INT64_MAX));
    CHECK_ST(mp_mgr_dict_incr(m, D, big.b, big.n, 1, &v), MP_E_INVAL);
    CHECK(v == 12345);
    set_item(m, D, big, it("L", INT64_MIN));
    CHECK_ST(mp_mgr_dict_incr(m, D, big.b, big.n, -1, &v), MP_E_INVAL);
    CHECK_OK(mp_mgr_dict_incr(m, D, big.b, big.n, INT64_MAX, &v));
    CHECK(v == -1);

    /* malformed CBOR: MP_E_INVAL, for the key and for the value */
    static const struct {
        const char *b;
        size_t n;
    } bad[] = {
        {"\xff", 1},         /* a break with nothing to break */
        {"\x62" "a", 2},     /* text of 2 bytes, 1 present */
        {"", 0},             /* nothing */
        {"\x1c", 1},         /* reserved additional information */
    };
    size_t nbad = sizeof bad / sizeof bad[0];
    item_t one = it("i", 1);
    for (size_t i = 0; i < nbad; i++) {
        const uint8_t *kb = (const uint8_t *)bad[i].b;
        size_t kn = bad[i].n;
        CHECK_ST(mp_mgr_dict_set(m, D, kb, kn, one.b, one.n), MP_E_INVAL);
        CHECK_ST(mp_mgr_dict_set(m, D, one.b, one.n, kb, kn), MP_E_INVAL);
        CHECK_ST(mp_mgr_dict_get(m, D, kb, kn, &none), MP_E_INVAL);
        CHECK_ST(mp_mgr_dict_del(m, D, kb, kn), MP_E_INVAL);
        CHECK_ST(mp_mgr_dict_incr(m, D, kb, kn, 1, &v), MP_E_INVAL);
    }
    CHECK(none.ptr == NULL && v == -1);
    /* trailing bytes after the item (two items): malformed too. On a dict
     * of their own, so that a library accepting them changes nothing here */
    const uint8_t two[] = {0x01, 0x02};
    mp_buf tmp = {0};
    mp_status st = mp_mgr_dict_set(m, "d2-trailing", two, sizeof two, one.b, one.n);
    CHECK_REGRESSION(st == MP_E_INVAL, "mp_mgr_dict_set: a key with trailing bytes after the CBOR item is accepted "
                                       "(the first item used, the rest ignored)");
    st = mp_mgr_dict_set(m, "d2-trailing", one.b, one.n, two, sizeof two);
    CHECK_REGRESSION(st == MP_E_INVAL, "mp_mgr_dict_set: a value with trailing bytes is accepted");
    st = mp_mgr_dict_get(m, "d2-trailing", two, sizeof two, &tmp);
    CHECK_REGRESSION(st == MP_E_INVAL, "mp_mgr_dict_get: a key with trailing bytes is accepted");
    mp_buf_free(&tmp);
    int64_t v2 = 0;
    st = mp_mgr_dict_incr(m, "d2-trailing", two, sizeof two, 1, &v2);
    CHECK_REGRESSION(st == MP_E_INVAL, "mp_mgr_dict_incr: a key with trailing bytes is accepted");
    st = mp_mgr_dict_del(m, "d2-trailing", two, sizeof two);
    CHECK_REGRESSION(st == MP_E_INVAL, "mp_mgr_dict_del: a key with trailing bytes is accepted");
    /* a map is not hashable: MP_E_TYPE */
    CHECK_ST(mp_mgr_dict_set(m, D, (const uint8_t *)"\xa0", 1, one.b, one.n), MP_E_TYPE);
    CHECK_ST(mp_mgr_dict_get(m, D, (const uint8_t *)"\xa1\x01\x02", 3, &none), MP_E_TYPE);
    CHECK_OK(mp_mgr_dict_len(m, D, &len));
    CHECK(len == want_len - 1 + 2); /* + "text", "big"; nothing from the failures */

    /* NULL arguments: MP_E_NULL */
    CHECK_ST(mp_mgr_dict_set(NULL, D, one.b, one.n, one.b, one.n), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_set(m, NULL, one.b, one.n, one.b, one.n), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_set(m, D, NULL, 1, one.b, one.n), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_set(m, D, one.b, one.n, NULL, 1), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_get(NULL, D, one.b, one.n, &none), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_get(m, NULL, one.b, one.n, &none), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_get(m, D, NULL, 1, &none), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_get(m, D, one.b, one.n, NULL), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_del(NULL, D, one.b, one.n), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_del(m, NULL, one.b, one.n), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_del(m, D, NULL, 1), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_len(NULL, D, &len), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_len(m, NULL, &len), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_len(m, D, NULL), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_incr(NULL, D, one.b, one.n, 1, &v), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_incr(m, NULL, one.b, one.n, 1, &v), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_incr(m, D, NULL, 1, 1, &v), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_incr(m, D, one.b, one.n, 1, NULL), MP_E_NULL);
    CHECK(none.ptr == NULL);
    CHECK_OK(mp_mgr_dict_len(m, D, &len)); /* and the connection still works */
    CHECK(len == want_len + 1);
    mp_mgr_close(m);
    printf("dict shortcuts: %zu keys, ints of every width, errors, NULLs: %.0f ms\n", want_len + 1, now_ms() - t0);
}

/* ------------------------------------------------------------------ */
/* 3. mp_mgr_call and mp_mgr_call_many                                  */
/* ------------------------------------------------------------------ */

static void test_call(void) {
    g_section = "3. mp_mgr_call";
    double t0 = now_ms();
    mp_mgr *m = connect_ok(g_addr1, NULL, 0);

    /* list */
    CHECK_OK(callf(m, "list", "l", "append", "[1t", "a"));
    CHECK(is_null(res()));
    CHECK_OK(callf(m, "list", "l", "append", "[1i", 2));
    CHECK_OK(callf(m, "list", "l", "append", "[1[2it", 3, "x"));
    CHECK_OK(callf(m, "list", "l", "len", "[0"));
    CHECK(is_int(res(), 3));
    CHECK_OK(callf(m, "list", "l", "getitem", "[1i", 0));
    CHECK(is_text(res(), "a"));
    CHECK_OK(callf(m, "list", "l", "getitem", "[1i", -1));
    CHECK(arr_len_is(res(), 2) && is_int(at(res(), 0), 3) && is_text(at(res(), 1), "x"));
    mp_buf keep = g_res; /* an error leaves the result buffer alone */
    g_res = (mp_buf){0};
    CHECK_ST(callf(m, "list", "l", "getitem", "[1i", 3), MP_E_INDEX);
    CHECK(g_res.ptr == NULL && last_error_has("out of range"));
    CHECK_ST(callf(m, "list", "l", "getitem", "[1i", -4), MP_E_INDEX);
    g_res = keep;
    CHECK_ST(callf(m, "list", "l", "getitem", "[1t", "0"), MP_E_TYPE);
    CHECK_ST(callf(m, "list", "l", "index", "[1t", "zz"), MP_E_NOTFOUND);
    CHECK_OK(callf(m, "list", "l", "pop", "[0"));
    CHECK(arr_len_is(res(), 2));
    CHECK_OK(callf(m, "list", "l", "pop", "[1i", 0));
    CHECK(is_text(res(), "a"));
    CHECK_OK(callf(m, "list", "l", "pop", "[0"));
    CHECK(is_int(res(), 2));
    CHECK_ST(callf(m, "list", "l", "pop", "[0"), MP_E_INDEX);
    CHECK_ST(callf(m, "list", "l", "getitem", "[1i", 0), MP_E_INDEX);
    CHECK_OK(callf(m, "list", "l", "copy", "[0"));
    CHECK(arr_len_is(res(), 0));

    /* value */
    CHECK_OK(callf(m, "value", "v", "create", "[1i", 41));
    CHECK(is_bool(res(), 1)); /* created */
    CHECK_OK(callf(m, "value", "v", "create", "[1i", 0));
    CHECK(is_bool(res(), 0)); /* existed: untouched */
    CHECK_OK(callf(m, "value", "v", "get", "[0"));
    CHECK(is_int(res(), 41));
    CHECK_OK(callf(m, "value", "v", "incr", "[0"));
    CHECK(is_int(res(), 42));
    CHECK_OK(callf(m, "value", "v", "incr", "[1i", -50));
    CHECK(is_int(res(), -8));
    CHECK_OK(callf(m, "value", "v", "compare_and_set", "[2it", -8, "swapped"));
    CHECK(is_bool(res(), 1));
    CHECK_OK(callf(m, "value", "v", "compare_and_set", "[2it", -8, "again"));
    CHECK(is_bool(res(), 0));
    CHECK_OK(callf(m, "value", "v", "get", "[0"));
    CHECK(is_text(res(), "swapped"));
    CHECK_ST(callf(m, "value", "v", "incr", "[0"), MP_E_TYPE);
    CHECK_OK(callf(m, "value", "fresh", "get", "[0"));
    CHECK(is_null(res())); /* created on first use, null */
    CHECK_ST(callf(m, "value", "v", "set", "[0"), MP_E_INVAL); /* arity */
    CHECK_ST(callf(m, "value", "v", "set", "[2ii", 1, 2), MP_E_INVAL);

    /* unknown method / kind; kind mismatch; args not an array */
    CHECK_ST(callf(m, "list", "l", "fly", "[0"), MP_E_UNSUPPORTED);
    CHECK(last_error_has("fly"));
    CHECK_ST(callf(m, "widget", "w", "get", "[0"), MP_E_UNSUPPORTED);
    CHECK_ST(callf(m, "manager", "", "reboot", "[0"), MP_E_UNSUPPORTED);
    CHECK_ST(callf(m, "dict", "l", "len", "[0"), MP_E_TYPE);
    CHECK(last_error_has("list"));
    CHECK_ST(callf(m, "value", "l", "create", "[0"), MP_E_TYPE);
    item_t notarr = it("i", 5);
    mp_buf r = {0};
    CHECK_ST(mp_mgr_call(m, "list", "l", "len", notarr.b, notarr.n, &r), MP_E_INVAL);
    CHECK_ST(mp_mgr_call(m, "list", "l", "len", (const uint8_t *)"\x81", 1, &r), MP_E_INVAL); /* truncated */
    CHECK_ST(mp_mgr_call(m, "list", "l", "len", NULL, 0, &r), MP_E_INVAL);                    /* empty */
    CHECK(r.ptr == NULL);
    mp_status st = mp_mgr_call(m, "list", "l", "len", (const uint8_t *)"\x80\x01", 2, &r); /* [] then 1 */
    CHECK_REGRESSION(st == MP_E_INVAL, "mp_mgr_call: args with trailing bytes after the CBOR array are accepted");
    mp_buf_free(&r);
    /* NULL arguments */
    item_t none = it("[0");
    CHECK_ST(mp_mgr_call(NULL, "list", "l", "len", none.b, none.n, &r), MP_E_NULL);
    CHECK_ST(mp_mgr_call(m, NULL, "l", "len", none.b, none.n, &r), MP_E_NULL);
    CHECK_ST(mp_mgr_call(m, "list", NULL, "len", none.b, none.n, &r), MP_E_NULL);
    CHECK_ST(mp_mgr_call(m, "list", "l", NULL, none.b, none.n, &r), MP_E_NULL);
    CHECK_ST(mp_mgr_call(m, "list", "l", "len", NULL, 1, &r), MP_E_NULL);
    CHECK_ST(mp_mgr_call(m, "list", "l", "len", none.b, none.n, NULL), MP_E_NULL);
    CHECK_OK(mp_mgr_call(m, "list", "l", "len", none.b, none.n, &r));
    CHECK(is_int(cbs_of(&r), 0));
    mp_buf_free(&r);

    /* lock, queue, manager */
    CHECK_OK(callf(m, "lock", "lk", "acquire", "[1i", 0));
    CHECK(is_bool(res(), 1));
    CHECK_ST(callf(m, "lock", "lk", "acquire", "[0"), MP_E_INVAL); /* not recursive: no self-deadlock */
    CHECK_OK(callf(m, "lock", "lk", "release", "[0"));
    CHECK_ST(callf(m, "lock", "lk", "release", "[0"), MP_E_PERM);
    CHECK_OK(callf(m, "queue", "q", "put", "[1[2ty", "job", "\x01", (size_t)1));
    CHECK_OK(callf(m, "queue", "q", "get", "[1i", 1000));
    CHECK(arr_len_is(res(), 2) && is_text(at(res(), 0), "job") && is_bytes(at(res(), 1), "\x01", 1));
    double tq = now_ms();
    CHECK_ST(callf(m, "queue", "q", "get", "[1i", 50), MP_E_EMPTY);
    double dtq = now_ms() - tq;
    CHECK(dtq >= 40 && dtq < 3000);
    CHECK_OK(callf(m, "manager", "", "list", "[0"));
    size_t nobj = 0;
    CHECK(cb_arr(res(), &nobj) && nobj >= 5);

    /* call_many: a batch with failing elements */
    uint8_t *big = malloc(64 * 1024);
    CHECK(big != NULL);
    struct cbe e = {big, 0, 64 * 1024};
    cbe_head(&e, 4, 7);
    const char *reqs[7][3] = {
        {"dict", "b", "set"},    {"dict", "b", "get"}, {"dict", "b", "get"}, {"list", "empty", "pop"},
        {"value", "b", "get"},   {"dict", "b", "len"}, {"dict", "b", "nope"},
    };
    for (int i = 0; i < 7; i++) {
        cbe_head(&e, 4, 4);
        cbe_text(&e, reqs[i][0]);
        cbe_text(&e, reqs[i][1]);
        cbe_text(&e, reqs[i][2]);
        if (i == 0) {
            cbe_head(&e, 4, 2);
            cbe_int(&e, 1);
            cbe_text(&e, "one");
        } else if (i == 1 || i == 2) {
            cbe_head(&e, 4, 1);
            cbe_int(&e, i == 1 ? 1 : 9);
        } else {
            cbe_head(&e, 4, 0);
        }
    }
    mp_buf rb = {0};
    CHECK_OK(mp_mgr_call_many(m, big, e.n, &rb));
    cbs rs = cbs_of(&rb);
    CHECK(arr_len_is(rs, 7));
    for (size_t i = 0; i < 7; i++)
        CHECK(arr_len_is(at(rs, i), 2));
    CHECK(is_int(at(at(rs, 0), 0), 0) && is_null(at(at(rs, 0), 1)));
    CHECK(is_int(at(at(rs, 1), 0), 0) && is_text(at(at(rs, 1), 1), "one"));
    CHECK(is_int(at(at(rs, 2), 0), MP_E_NOTFOUND) && text_has(at(at(rs, 2), 1), "KeyError"));
    CHECK(is_int(at(at(rs, 3), 0), MP_E_INDEX));
    CHECK(is_int(at(at(rs, 4), 0), MP_E_TYPE) && text_has(at(at(rs, 4), 1), "dict"));
    CHECK(is_int(at(at(rs, 5), 0), 0) && is_int(at(at(rs, 5), 1), 1)); /* ran after the failures */
    CHECK(is_int(at(at(rs, 6), 0), MP_E_UNSUPPORTED));
    mp_buf_free(&rb);

    /* 1000 pipelined incrs */
    e.n = 0;
    cbe_head(&e, 4, 1000);
    for (int i = 0; i < 1000; i++) {
        cbe_head(&e, 4, 4);
        cbe_text(&e, "dict");
        cbe_text(&e, "b");
        cbe_text(&e, "incr");
        cbe_head(&e, 4, 2);
        cbe_text(&e, "n");
        cbe_int(&e, 1);
    }
    double tp = now_ms();
    CHECK_OK(mp_mgr_call_many(m, big, e.n, &rb));
    double dtp = now_ms() - tp;
    rs = cbs_of(&rb);
    CHECK(arr_len_is(rs, 1000));
    int in_order = 1;
    for (size_t i = 0; i < 1000; i += 111)
        in_order &= is_int(at(at(rs, i), 0), 0) && is_int(at(at(rs, i), 1), (int64_t)i + 1);
    CHECK(in_order && is_int(at(at(rs, 999), 1), 1000));
    mp_buf_free(&rb);

    /* malformed batches: MP_E_INVAL, nothing sent */
    CHECK_ST(mp_mgr_call_many(m, notarr.b, notarr.n, &rb), MP_E_INVAL);
    item_t bad1 = it("[1[3ttt", "dict", "b", "len");                 /* 3 parts */
    item_t bad2 = it("[1[4tttt", "dict", "b", "len", "not args");    /* args not an array */
    item_t bad3 = it("[2[4ttt[0i", "dict", "b", "len", 5);           /* an element not an array */
    CHECK_ST(mp_mgr_call_many(m, bad1.b, bad1.n, &rb), MP_E_INVAL);
    CHECK_ST(mp_mgr_call_many(m, bad2.b, bad2.n, &rb), MP_E_INVAL);
    CHECK_ST(mp_mgr_call_many(m, bad3.b, bad3.n, &rb), MP_E_INVAL);
    CHECK_ST(mp_mgr_call_many(m, (const uint8_t *)"\x81", 1, &rb), MP_E_INVAL);
    st = mp_mgr_call_many(m, (const uint8_t *)"\x80\x80", 2, &rb); /* [] then [] */
    CHECK_REGRESSION(st == MP_E_INVAL, "mp_mgr_call_many: a batch with trailing bytes is accepted");
    mp_buf_free(&rb);
    CHECK_ST(mp_mgr_call_many(NULL, none.b, none.n, &rb), MP_E_NULL);
    CHECK_ST(mp_mgr_call_many(m, none.b, none.n, NULL), MP_E_NULL);
    CHECK_ST(mp_mgr_call_many(m, NULL, 3, &rb), MP_E_NULL);
    CHECK(rb.ptr == NULL);
    CHECK_OK(mp_mgr_call_many(m, none.b, none.n, &rb)); /* an empty batch */
    CHECK(arr_len_is(cbs_of(&rb), 0));
    mp_buf_free(&rb);
    CHECK_OK(callf(m, "dict", "b", "get", "[1t", "n")); /* nothing of the bad batches ran */
    CHECK(is_int(res(), 1000));
    free(big);
    mp_buf_free(&g_res);
    mp_mgr_close(m);
    printf("mp_mgr_call: list, value, lock, queue, manager, errors; call_many: mixed batch, 1000 incrs in %.1f ms: "
           "%.0f ms\n",
           dtp, now_ms() - t0);
}

/* ------------------------------------------------------------------ */
/* 3b. One handle shared by threads; close releases locks; big values   */
/* ------------------------------------------------------------------ */

#define N_THREADS 4
#define N_THREAD_INCR 500

struct thr_arg {
    mp_mgr *m;
    int ok;
};

/* N_THREAD_INCR incrs of d["t"] on the shared handle: each new value above
 * the last (a reply meant for another thread would break this), plus a
 * KeyError whose message must be this thread's own. */
static void *thread_main(void *p) {
    struct thr_arg *a = p;
    item_t k = it("t", "t");
    int64_t prev = 0;
    a->ok = 1;
    for (int i = 0; i < N_THREAD_INCR; i++) {
        int64_t v = 0;
        if (mp_mgr_dict_incr(a->m, "threads", k.b, k.n, 1, &v) != MP_OK || v <= prev ||
            v > N_THREADS * N_THREAD_INCR)
            a->ok = 0;
        prev = v;
        if (i % 100 == 0) {
            mp_buf b = {0};
            item_t missing = it("[2ti", "missing", i);
            if (mp_mgr_dict_get(a->m, "threads", missing.b, missing.n, &b) != MP_E_NOTFOUND ||
                strstr(mp_last_error(), "KeyError") == NULL)
                a->ok = 0;
        }
    }
    return NULL;
}

static void test_threads_and_sizes(void) {
    g_section = "3b. threads, close, sizes";
    double t0 = now_ms();
    mp_mgr *m = connect_ok(g_addr1, NULL, 0);
    pthread_t th[N_THREADS];
    struct thr_arg ta[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        ta[i].m = m;
        CHECK(pthread_create(&th[i], NULL, thread_main, &ta[i]) == 0);
    }
    for (int i = 0; i < N_THREADS; i++) {
        CHECK(pthread_join(th[i], NULL) == 0);
        CHECK(ta[i].ok);
    }
    mp_buf b = get_item(m, "threads", it("t", "t"));
    CHECK(is_int(cbs_of(&b), N_THREADS * N_THREAD_INCR));
    mp_buf_free(&b);
    double dt_threads = now_ms() - t0;

    /* mp_mgr_close releases the locks (and semaphores) the handle holds */
    mp_mgr *a = connect_ok(g_addr1, NULL, 0);
    CHECK_OK(callf(a, "lock", "LC", "acquire", "[0"));
    CHECK(is_bool(res(), 1));
    CHECK_OK(callf(a, "semaphore", "SC", "create", "[1i", 1));
    CHECK_OK(callf(a, "semaphore", "SC", "acquire", "[0"));
    CHECK(is_bool(res(), 1));
    CHECK_OK(callf(m, "lock", "LC", "acquire", "[1i", 0));
    CHECK(is_bool(res(), 0));
    CHECK_OK(callf(m, "semaphore", "SC", "get_value", "[0"));
    CHECK(is_int(res(), 0));
    mp_mgr_close(a);
    double tc = now_ms();
    CHECK_OK(callf(m, "lock", "LC", "acquire", "[1i", 5000));
    CHECK(is_bool(res(), 1));
    CHECK_OK(callf(m, "semaphore", "SC", "acquire", "[1i", 5000));
    CHECK(is_bool(res(), 1));
    CHECK(now_ms() - tc < 5000);
    CHECK_OK(callf(m, "lock", "LC", "release", "[0"));
    CHECK_OK(callf(m, "semaphore", "SC", "release", "[0"));

    /* an 8 MiB value there and back */
    size_t big_n = 8u << 20;
    uint8_t *big = malloc(big_n + 16);
    CHECK(big != NULL);
    struct cbe e = {big, 0, big_n + 16};
    cbe_head(&e, 2, big_n - 16);
    for (size_t i = 0; i < big_n - 16; i++)
        big[e.n + i] = (uint8_t)(i * 31 + (i >> 13));
    e.n += big_n - 16;
    item_t kb = it("t", "big");
    double tb = now_ms();
    CHECK_OK(mp_mgr_dict_set(m, "sizes", kb.b, kb.n, big, e.n));
    b = get_item(m, "sizes", kb);
    double dt_big = now_ms() - tb;
    CHECK(b.len == e.n && memcmp(b.ptr, big, e.n) == 0);
    mp_buf_free(&b);
    free(big);

    /* a request over the server's 64 MiB limit: refused by the client
     * before sending (MP_E_TOOBIG), the connection kept; the server goes on
     * serving everyone else */
    size_t huge_n = (64u << 20) + 1024;
    uint8_t *huge = malloc(huge_n + 16);
    CHECK(huge != NULL);
    e = (struct cbe){huge, 0, huge_n + 16};
    cbe_head(&e, 2, huge_n);
    memset(huge + e.n, 0x5a, huge_n);
    e.n += huge_n;
    mp_mgr *h = connect_ok(g_addr1, NULL, 0);
    double th0 = now_ms();
    mp_status sth = mp_mgr_dict_set(h, "sizes", kb.b, kb.n, huge, e.n);
    double dt_huge = now_ms() - th0;
    free(huge);
    CHECK(sth == MP_E_TOOBIG);
    CHECK(dt_huge < 30000);
    mp_status sth2 = callf(h, "manager", "", "ping", "[0"); /* that connection: still usable */
    CHECK(sth2 == MP_OK);
    mp_mgr_close(h);
    CHECK_OK(callf(m, "manager", "", "ping", "[0")); /* others: fine */
    size_t len = 0;
    CHECK_OK(mp_mgr_dict_len(m, "sizes", &len));
    CHECK(len == 1);
    mp_mgr_close(m);
    printf("threads: %d x %d incr on one shared handle: %.0f ms; close released lock+semaphore; 8 MiB value "
           "round trip %.0f ms; a 64 MiB+ request: %s, then %s\n",
           N_THREADS, N_THREAD_INCR, dt_threads, dt_big, mp_status_str(sth), mp_status_str(sth2));
}

/* ------------------------------------------------------------------ */

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* in order with stderr */
    g_check_on_fail = kill_kids; /* then check_cleanup() unlinks the files */
    start_watchdog("test_manager", 120); /* last-resort watchdog */
    double t0 = now_ms();

    test_codec();
    /* the sections that fork first; then the embedded server here */
    test_standalone();
    test_processes();
    test_shutdown_blocked();
    test_embedded();
    test_dict();
    test_call();
    test_threads_and_sizes();
    g_section = "end";
    CHECK_OK(mp_mgr_server_shutdown(g_s1));

    alarm(0);
    unlink_paths();
    return check_summary("test_manager", t0); /* "N passed, M failed" and 1 after a failed CHECK_REGRESSION */
}
