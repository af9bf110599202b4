/*
 * The fault torture's C worker (tests/torture): one process playing one
 * role of one scenario through the C ABI (include/mpipc.h), recording
 * what it does in the shared log (torture_log.h) so that the orchestrator
 * (torture.py) can check the outcome after killing it with SIGKILL at any
 * instant. worker.py plays the same roles through the Python binding;
 * the two take the same arguments and write the same log.
 *
 *   worker ROLE --log PATH --slot S --seed N [--name OBJ] [--bound-ms MS]
 *          [--nprod P] [--max-seq M] [--fd FD] [--peer SLOT]
 *          [--addr ADDR] [--key HEX] [--variant V] [--parties N] [--cap N]
 *   worker --layout       prints the log layout (checked by torture.py)
 *
 * Roles: qprod qcons (queue and joinable queue), psend precv (pipe),
 * lserver lclient (listener/client), mclient (manager), alock (array /
 * lock / rlock sections), sem, evset evwait, cprod ccons csleep
 * (condition), bar (barrier), slw slr (shareable list).
 *
 * Exit status: 0, 1 (an unexpected result, printed), 3 (a bounded wait
 * ran out: a deadlock as far as this worker can tell).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mpipc.h"
#include "torture_log.h"

/* ---- arguments, log, helpers ------------------------------------------ */

static const char *g_role = "?";
static int g_slot = -1;
static volatile uint64_t *g_log;
static size_t g_log_len;
static uint64_t g_rng;

static const char *arg_s(int argc, char **argv, const char *name, const char *dflt) {
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return dflt;
}

static int64_t arg_i(int argc, char **argv, const char *name, int64_t dflt) {
    const char *s = arg_s(argc, argv, name, NULL);
    return s ? strtoll(s, NULL, 10) : dflt;
}

static uint64_t ld(size_t w) { return __atomic_load_n(&g_log[w], __ATOMIC_SEQ_CST); }
static void st(size_t w, uint64_t v) { __atomic_store_n(&g_log[w], v, __ATOMIC_SEQ_CST); }
static size_t slotw(int slot, int w) { return G_WORDS + (size_t)slot * SLOT_WORDS + (size_t)w; }
static uint64_t me(int w) { return ld(slotw(g_slot, w)); }
static void set_me(int w, uint64_t v) { st(slotw(g_slot, w), v); }
static void add_me(int w, uint64_t d) { set_me(w, me(w) + d); }
static bool stopping(void) { return ld(G_STOP) != 0; }

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void sleep_us(uint64_t us) {
    struct timespec t = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    nanosleep(&t, NULL);
}

static uint64_t rnd(void) { /* xorshift64* */
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545F4914F6CDD1DULL;
}

static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }

/* An unexpected result: counted in the log, printed, and the worker exits. */
static void fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "worker[c %s slot %d pid %d]: ", g_role, g_slot, (int)getpid());
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (g_log) add_me(S_ERR, 1);
    exit(code);
}

static void check(mp_status s, const char *what) {
    if (s != MP_OK) fail(EXIT_FAIL, "%s: %s (%s)", what, mp_status_str(s), mp_last_error());
}

static void map_log(const char *path) {
    int fd = open(path, O_RDWR);
    if (fd < 0) fail(EXIT_FAIL, "open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) fail(EXIT_FAIL, "fstat: %s", strerror(errno));
    g_log_len = (size_t)sb.st_size;
    void *p = mmap(NULL, g_log_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) fail(EXIT_FAIL, "mmap: %s", strerror(errno));
    close(fd);
    g_log = (volatile uint64_t *)p;
}

/* Bitmap k's byte for bit `seq` (queue bookkeeping). */
static volatile uint8_t *bm_byte(uint64_t max_seq, int k, uint64_t seq) {
    size_t off = BM_BASE + (size_t)k * (size_t)(max_seq / 8) + (size_t)(seq / 8);
    if (seq >= max_seq || off >= g_log_len) fail(EXIT_FAIL, "bitmap offset out of range");
    return (volatile uint8_t *)g_log + off;
}

/* ---- records ------------------------------------------------------------ *
 * A record: "TRT1", src u32, seq u64, n u32, n filler bytes, CRC-32 of all
 * that (zlib's). The filler is PAT[(start + i) % 1024] with start derived
 * from (src, seq), so a record mixed from two others, shifted, cut or
 * flipped fails the check. */
#define REC_HDR 20
#define REC_MIN 24

static uint8_t PAT[1024];
static uint32_t CRC_T[256];

static void rec_init(void) {
    for (int j = 0; j < 1024; j++) PAT[j] = (uint8_t)((j * 167 + 13) & 255);
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        CRC_T[i] = c;
    }
}

static uint32_t crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = CRC_T[(c ^ p[i]) & 255] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static void put_le(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static size_t rec_len(uint32_t n) { return REC_HDR + (size_t)n + 4; }

/* Writes the record into out (rec_len(n) bytes). */
static void rec_make(uint8_t *out, uint32_t src, uint64_t seq, uint32_t n) {
    memcpy(out, "TRT1", 4);
    put_le(out + 4, src, 4);
    put_le(out + 8, seq, 8);
    put_le(out + 16, n, 4);
    size_t start = (size_t)((seq * 13 + (uint64_t)src * 5) % 1024);
    for (uint32_t i = 0; i < n; i++) out[REC_HDR + i] = PAT[(start + i) % 1024];
    put_le(out + REC_HDR + n, crc32(out, REC_HDR + n), 4);
}

/* Checks a record; on success writes its src and seq. */
static bool rec_check(const uint8_t *m, size_t len, uint32_t *src, uint64_t *seq) {
    if (len < REC_MIN || memcmp(m, "TRT1", 4) != 0) return false;
    uint32_t n = (uint32_t)get_le(m + 16, 4);
    if (rec_len(n) != len) return false;
    if ((uint32_t)get_le(m + REC_HDR + n, 4) != crc32(m, REC_HDR + n)) return false;
    uint32_t s = (uint32_t)get_le(m + 4, 4);
    uint64_t q = get_le(m + 8, 8);
    size_t start = (size_t)((q * 13 + (uint64_t)s * 5) % 1024);
    for (uint32_t i = 0; i < n; i++)
        if (m[REC_HDR + i] != PAT[(start + i) % 1024]) return false;
    *src = s;
    *seq = q;
    return true;
}

/* ---- small CBOR helpers (queue messages are CBOR byte strings, so that the
 * Python binding's put(bytes)/get() interoperate; manager arguments) ---- */

static size_t cbor_head(uint8_t *out, int major, uint64_t v) {
    uint8_t mt = (uint8_t)(major << 5);
    if (v < 24) { out[0] = mt | (uint8_t)v; return 1; }
    if (v < 256) { out[0] = mt | 24; out[1] = (uint8_t)v; return 2; }
    if (v < 65536) { out[0] = mt | 25; out[1] = (uint8_t)(v >> 8); out[2] = (uint8_t)v; return 3; }
    if (v < 4294967296ULL) {
        out[0] = mt | 26;
        for (int i = 0; i < 4; i++) out[1 + i] = (uint8_t)(v >> (24 - 8 * i));
        return 5;
    }
    out[0] = mt | 27;
    for (int i = 0; i < 8; i++) out[1 + i] = (uint8_t)(v >> (56 - 8 * i));
    return 9;
}

/* Parses one CBOR head at p (n bytes); returns its length or 0. */
static size_t cbor_parse_head(const uint8_t *p, size_t n, int *major, uint64_t *v) {
    if (n < 1) return 0;
    *major = p[0] >> 5;
    uint8_t ai = p[0] & 31;
    if (ai < 24) { *v = ai; return 1; }
    size_t k = ai == 24 ? 1 : ai == 25 ? 2 : ai == 26 ? 4 : ai == 27 ? 8 : 0;
    if (k == 0 || n < 1 + k) return 0;
    uint64_t x = 0;
    for (size_t i = 0; i < k; i++) x = (x << 8) | p[1 + i];
    *v = x;
    return 1 + k;
}

/* A CBOR integer result (manager replies). */
static bool cbor_int(const mp_buf *b, int64_t *out) {
    int major;
    uint64_t v;
    size_t h = cbor_parse_head(b->ptr, b->len, &major, &v);
    if (h == 0 || h != b->len) return false;
    if (major == 0) { *out = (int64_t)v; return true; }
    if (major == 1) { *out = -1 - (int64_t)v; return true; }
    return false;
}

/* ---- queue: qprod / qcons --------------------------------------------- */

typedef struct {
    int argc;
    char **argv;
    const char *name;
    int64_t bound_ms;
} ctx;

static void role_qprod(ctx *c) {
    uint64_t max_seq = (uint64_t)arg_i(c->argc, c->argv, "--max-seq", 0);
    mpq_options o = {.flags = MPQ_ATTACH_ONLY};
    mpq *q;
    check(mpq_open(c->name, &o, &q), "mpq_open");
    set_me(S_READY, 1);
    static uint8_t data[8 * 512];
    size_t lens[8];
    while (!stopping()) {
        uint64_t first = me(S_SEQ);
        uint64_t batch = below(4) == 0 ? 1 + below(8) : 1;
        if (first + batch > max_seq) { sleep_us(1000); continue; }
        set_me(S_SEQ, first + batch); /* burnt before the put: never reused */
        size_t off = 0;
        for (uint64_t i = 0; i < batch; i++) {
            uint32_t n = (uint32_t)(8 + ((first + i) * 7 + (uint64_t)g_slot * 3) % 200);
            size_t h = cbor_head(data + off, 2, rec_len(n));
            rec_make(data + off + h, (uint32_t)g_slot, first + i, n);
            lens[i] = h + rec_len(n);
            off += lens[i];
        }
        size_t put = 0;
        mp_status s;
        if (batch == 1) {
            s = mpq_put_timeout(q, data, lens[0], 200);
            put = 1;
        } else {
            s = mpq_put_many(q, data, lens, batch, 200, &put);
        }
        if (s == MP_OK) {
            for (uint64_t i = 0; i < put; i++) {
                volatile uint8_t *b = bm_byte(max_seq, g_slot, first + i);
                *b = (uint8_t)(*b | (1u << ((first + i) % 8)));
            }
            add_me(S_OPS, put);
        } else if (s == MP_E_SHUTDOWN) {
            break;
        } else if (s != MP_E_FULL) {
            check(s, "put");
        }
    }
    mpq_close(q);
}

static void record_delivery(uint64_t max_seq, int nprod, int cslot, const uint8_t *m, size_t len) {
    int major;
    uint64_t v;
    size_t h = cbor_parse_head(m, len, &major, &v);
    uint32_t src;
    uint64_t seq;
    if (h == 0 || major != 2 || h + v != len || !rec_check(m + h, len - h, &src, &seq) ||
        (int)src >= nprod || seq >= max_seq) {
        add_me(S_CORRUPT, 1);
        fprintf(stderr, "worker[c qcons slot %d]: corrupt message of %zu bytes\n", g_slot, len);
        return;
    }
    int k = nprod + (cslot - nprod) * nprod + (int)src;
    volatile uint8_t *b = bm_byte(max_seq, k, seq);
    uint8_t bit = (uint8_t)(1u << (seq % 8));
    if (*b & bit) {
        add_me(S_DUP, 1);
        fprintf(stderr, "worker[c qcons slot %d]: duplicate %u/%" PRIu64 "\n", g_slot, src, seq);
    }
    *b = (uint8_t)(*b | bit);
    add_me(S_OPS, 1);
}

static void task_done(mpq *q) {
    set_me(S_TDPEND, 1);
    check(mpq_task_done(q), "task_done");
    add_me(S_TD, 1);
    set_me(S_TDPEND, 0);
}

static void role_qcons(ctx *c) {
    uint64_t max_seq = (uint64_t)arg_i(c->argc, c->argv, "--max-seq", 0);
    int nprod = (int)arg_i(c->argc, c->argv, "--nprod", 1);
    bool joinable = strcmp(arg_s(c->argc, c->argv, "--variant", "queue"), "joinable") == 0;
    mpq_options o = {.flags = MPQ_ATTACH_ONLY};
    mpq *q;
    check(mpq_open(c->name, &o, &q), "mpq_open");
    set_me(S_READY, 1);
    static uint8_t buf[16384];
    size_t lens[8];
    for (;;) {
        if (joinable && ld(G_FLAG) == 1) {
            /* Drained: everything this worker took is done; wait for the
             * orchestrator to settle what dead consumers left unfinished. */
            set_me(S_STATE, 9);
            mp_status s = mpq_join(q, c->bound_ms);
            if (s == MP_E_TIMEOUT) fail(EXIT_DEADLOCK, "join did not return within %" PRId64 " ms", c->bound_ms);
            check(s, "join");
            break;
        }
        int mode = (int)below(3);
        set_me(S_PEND, mode == 2 ? 8 : 1);
        mp_status s;
        if (mode == 0) {
            mp_buf m = {0};
            s = mpq_get_timeout(q, &m, 100);
            if (s == MP_OK) {
                record_delivery(max_seq, nprod, g_slot, m.ptr, m.len);
                mp_buf_free(&m);
                if (joinable) task_done(q);
            }
        } else if (mode == 1) {
            size_t n = 0;
            s = mpq_get_into(q, buf, sizeof buf, &n, 100);
            if (s == MP_OK) {
                record_delivery(max_seq, nprod, g_slot, buf, n);
                if (joinable) task_done(q);
            }
        } else {
            size_t n = 0, bytes = 0;
            s = mpq_get_many(q, buf, sizeof buf, lens, 8, 100, &n, &bytes);
            if (s == MP_OK) {
                size_t off = 0;
                for (size_t i = 0; i < n; i++) {
                    record_delivery(max_seq, nprod, g_slot, buf + off, lens[i]);
                    off += lens[i];
                }
                if (off != bytes) fail(EXIT_FAIL, "get_many: lengths add up to %zu, not %zu", off, bytes);
                if (joinable)
                    for (size_t i = 0; i < n; i++) task_done(q);
            }
        }
        set_me(S_PEND, 0);
        if (s == MP_E_SHUTDOWN) break;
        if (s != MP_OK && s != MP_E_EMPTY) check(s, "get");
    }
    mpq_close(q);
}

/* ---- pipe: psend / precv ---------------------------------------------- */

/* A message size: mostly small, sometimes large enough to be streamed in
 * many writes, so that kills land mid-message. */
static uint32_t pipe_msg_n(void) {
    uint64_t r = below(32);
    if (r == 0) return (uint32_t)(65536 + below(200000));
    if (r < 8) return (uint32_t)(8 + below(8192));
    return (uint32_t)(8 + below(400));
}

static void role_psend(ctx *c) {
    int fd = (int)arg_i(c->argc, c->argv, "--fd", -1);
    mp_pipe *p;
    check(mp_pipe_from_fd(fd, &p), "mp_pipe_from_fd");
    set_me(S_READY, 1);
    uint8_t *buf = malloc(rec_len(300000));
    if (!buf) fail(EXIT_FAIL, "malloc");
    while (!stopping()) {
        uint64_t seq = me(S_SEQ);
        uint32_t n = pipe_msg_n();
        rec_make(buf, (uint32_t)g_slot, seq, n);
        set_me(S_SEQ, seq + 1);
        mp_status s = mp_pipe_send(p, buf, rec_len(n));
        if (s == MP_E_EOF) {
            set_me(S_EOF, 1);
            break;
        }
        check(s, "send");
        set_me(S_ACK, seq + 1);
        add_me(S_OPS, 1);
    }
    free(buf);
    mp_pipe_close(p);
}

static void role_precv(ctx *c) {
    int fd = (int)arg_i(c->argc, c->argv, "--fd", -1);
    int peer = (int)arg_i(c->argc, c->argv, "--peer", -1);
    mp_pipe *p;
    check(mp_pipe_from_fd(fd, &p), "mp_pipe_from_fd");
    set_me(S_READY, 1);
    for (;;) {
        mp_buf m = {0};
        mp_status s = mp_pipe_recv_timeout(p, &m, c->bound_ms);
        if (s == MP_E_EOF) {
            set_me(S_EOF, 1);
            break;
        }
        if (s == MP_E_EMPTY) fail(EXIT_DEADLOCK, "nothing (not even EOF) within %" PRId64 " ms", c->bound_ms);
        check(s, "recv");
        uint32_t src;
        uint64_t seq;
        uint64_t want = me(S_SEQ);
        if (!rec_check(m.ptr, m.len, &src, &seq) || (int)src != peer || seq != want) {
            add_me(S_CORRUPT, 1);
            fprintf(stderr, "worker[c precv slot %d]: bad message (%zu bytes, expected seq %" PRIu64 ")\n",
                    g_slot, m.len, want);
        }
        set_me(S_SEQ, want + 1);
        add_me(S_OPS, 1);
        mp_buf_free(&m);
    }
    mp_pipe_close(p);
}

/* ---- listener / client: lserver / lclient ------------------------------ */

#define REPLY_BASE 1000u
#define MAX_CONNS 32

static size_t unhex(const char *hex, uint8_t *out, size_t cap) {
    size_t n = 0;
    while (hex[0] && hex[1] && n < cap) {
        unsigned v;
        if (sscanf(hex, "%2x", &v) != 1) break;
        out[n++] = (uint8_t)v;
        hex += 2;
    }
    return n;
}

static void role_lserver(ctx *c) {
    const char *addr = arg_s(c->argc, c->argv, "--addr", "");
    uint8_t key[64];
    size_t klen = unhex(arg_s(c->argc, c->argv, "--key", ""), key, sizeof key);
    /* A killed server leaves its socket file behind; a new one replaces it. */
    if (strncmp(addr, "unix:", 5) == 0) unlink(addr + 5);
    mp_listener *l;
    check(mp_listener_bind(addr, key, klen, &l), "bind");
    set_me(S_READY, 1);
    mp_pipe *conns[MAX_CONNS];
    size_t nconn = 0, ready[MAX_CONNS], nready = 0;
    uint8_t *reply = malloc(rec_len(300000));
    if (!reply) fail(EXIT_FAIL, "malloc");
    while (!stopping()) {
        mp_pipe *nc;
        mp_status s = mp_listener_accept(l, nconn ? 0 : 20, &nc);
        if (s == MP_OK) {
            if (nconn == MAX_CONNS) fail(EXIT_FAIL, "too many connections");
            conns[nconn++] = nc;
        } else if (s == MP_E_EOF) {
            add_me(S_EOF, 1); /* a client killed during the handshake */
        } else if (s != MP_E_TIMEOUT) {
            check(s, "accept");
        }
        if (nconn == 0) continue;
        check(mp_wait(conns, nconn, 20, ready, &nready), "mp_wait");
        for (size_t r = nready; r-- > 0;) { /* backwards: closing swaps the last in */
            size_t i = ready[r];
            mp_buf m = {0};
            s = mp_pipe_recv_timeout(conns[i], &m, 0);
            if (s == MP_E_EMPTY) continue;
            bool drop = false;
            if (s == MP_E_EOF) {
                add_me(S_EOF, 1);
                drop = true;
            } else {
                check(s, "server recv");
                uint32_t src;
                uint64_t seq;
                if (!rec_check(m.ptr, m.len, &src, &seq) || src >= REPLY_BASE) {
                    add_me(S_CORRUPT, 1);
                    fprintf(stderr, "worker[c lserver slot %d]: bad request of %zu bytes\n", g_slot, m.len);
                    drop = true;
                } else {
                    uint32_t n = (uint32_t)(m.len - REC_MIN);
                    rec_make(reply, REPLY_BASE + src, seq, n);
                    s = mp_pipe_send(conns[i], reply, rec_len(n));
                    if (s == MP_E_EOF) {
                        add_me(S_EOF, 1);
                        drop = true;
                    } else {
                        check(s, "server send");
                        add_me(S_OPS, 1);
                    }
                }
                mp_buf_free(&m);
            }
            if (drop) {
                mp_pipe_close(conns[i]);
                conns[i] = conns[--nconn];
            }
        }
    }
    for (size_t i = 0; i < nconn; i++) mp_pipe_close(conns[i]);
    mp_listener_close(l);
    free(reply);
}

static void role_lclient(ctx *c) {
    const char *addr = arg_s(c->argc, c->argv, "--addr", "");
    uint8_t key[64];
    size_t klen = unhex(arg_s(c->argc, c->argv, "--key", ""), key, sizeof key);
    uint8_t *req = malloc(rec_len(300000));
    if (!req) fail(EXIT_FAIL, "malloc");
    mp_pipe *p = NULL;
    uint64_t since = now_ns();
    set_me(S_READY, 1);
    while (!stopping()) {
        if (!p) {
            mp_status s = mp_pipe_connect(addr, key, klen, 1000, &p);
            if (s != MP_OK) {
                /* No server (killed, not yet replaced) or one killed
                 * mid-handshake: retry, within the bound. */
                if (s != MP_E_NOTFOUND && s != MP_E_EOF && s != MP_E_TIMEOUT) check(s, "connect");
                p = NULL;
                if ((now_ns() - since) / 1000000 > (uint64_t)c->bound_ms)
                    fail(EXIT_DEADLOCK, "no server for %" PRId64 " ms", c->bound_ms);
                sleep_us(2000);
                continue;
            }
        }
        uint64_t seq = me(S_SEQ);
        set_me(S_SEQ, seq + 1);
        uint32_t n = pipe_msg_n();
        if (n > 20000) n = 20000;
        rec_make(req, (uint32_t)g_slot, seq, n);
        mp_status s = mp_pipe_send(p, req, rec_len(n));
        mp_buf m = {0};
        if (s == MP_OK) s = mp_pipe_recv_timeout(p, &m, c->bound_ms);
        if (s == MP_E_EOF) { /* the server died: reconnect */
            add_me(S_EOF, 1);
            mp_pipe_close(p);
            p = NULL;
            since = now_ns();
            continue;
        }
        if (s == MP_E_EMPTY) fail(EXIT_DEADLOCK, "no reply (not even EOF) within %" PRId64 " ms", c->bound_ms);
        check(s, "client send/recv");
        uint32_t src;
        uint64_t rseq;
        if (!rec_check(m.ptr, m.len, &src, &rseq) || src != REPLY_BASE + (uint32_t)g_slot || rseq != seq ||
            m.len != rec_len(n)) {
            add_me(S_CORRUPT, 1);
            fprintf(stderr, "worker[c lclient slot %d]: bad reply to %" PRIu64 "\n", g_slot, seq);
        }
        mp_buf_free(&m);
        add_me(S_OPS, 1);
        since = now_ns();
    }
    if (p) mp_pipe_close(p);
    free(req);
}

/* ---- manager: mclient --------------------------------------------------- */

static mp_status mgr_call(mp_mgr *m, const char *kind, const char *name, const char *method, const uint8_t *args,
                          size_t alen, mp_buf *out) {
    return mp_mgr_call(m, kind, name, method, args, alen, out);
}

static int64_t mgr_get_int(mp_mgr *m, const char *dict, const char *key) {
    uint8_t args[64];
    size_t n = 0;
    args[n++] = 0x82; /* [key, 0] */
    n += cbor_head(args + n, 3, strlen(key));
    memcpy(args + n, key, strlen(key));
    n += strlen(key);
    args[n++] = 0x00;
    mp_buf r = {0};
    check(mgr_call(m, "dict", dict, "get", args, n, &r), "dict get");
    int64_t v;
    if (!cbor_int(&r, &v)) fail(EXIT_FAIL, "dict get: not an integer");
    mp_buf_free(&r);
    return v;
}

static int64_t mgr_incr(mp_mgr *m, const char *dict, const char *key, int64_t delta) {
    uint8_t k[32];
    size_t n = cbor_head(k, 3, strlen(key));
    memcpy(k + n, key, strlen(key));
    n += strlen(key);
    int64_t out;
    check(mp_mgr_dict_incr(m, dict, k, n, delta, &out), "dict incr");
    return out;
}

/* Manager client state (S_STATE): 0 idle, 1 incr in flight, 2 append in
 * flight, 3 acquiring the lock, 4 holding it, 5 releasing it. */
static void role_mclient(ctx *c) {
    const char *addr = arg_s(c->argc, c->argv, "--addr", "");
    mp_mgr *m;
    check(mp_mgr_connect(addr, NULL, 0, c->bound_ms, &m), "connect");
    char mykey[16];
    snprintf(mykey, sizeof mykey, "s%d", g_slot);
    set_me(S_READY, 1);
    while (!stopping()) {
        uint64_t op = below(3);
        if (op == 0) { /* counts[s<slot>] += 1; S_AUX1 = attempted, S_ACK = acknowledged */
            set_me(S_AUX1, me(S_AUX1) + 1);
            set_me(S_STATE, 1);
            mgr_incr(m, "counts", mykey, 1);
            add_me(S_ACK, 1);
            set_me(S_STATE, 0);
        } else if (op == 1) { /* appends.append([slot, seq]); S_SEQ burnt before, S_AUX2 = done */
            uint64_t seq = me(S_SEQ);
            set_me(S_SEQ, seq + 1);
            set_me(S_STATE, 2);
            uint8_t args[32];
            size_t n = 0;
            args[n++] = 0x81;
            args[n++] = 0x82;
            n += cbor_head(args + n, 0, (uint64_t)g_slot);
            n += cbor_head(args + n, 0, seq);
            mp_buf r = {0};
            check(mgr_call(m, "list", "appends", "append", args, n, &r), "list append");
            mp_buf_free(&r);
            set_me(S_AUX2, seq + 1);
            set_me(S_STATE, 0);
        } else { /* under the manager lock "L": guard.a and guard.b stay equal */
            set_me(S_STATE, 3);
            uint8_t args[16];
            size_t n = 0;
            args[n++] = 0x81;
            n += cbor_head(args + n, 0, (uint64_t)c->bound_ms);
            mp_buf r = {0};
            check(mgr_call(m, "lock", "L", "acquire", args, n, &r), "lock acquire");
            bool got = r.len == 1 && r.ptr[0] == 0xf5;
            mp_buf_free(&r);
            if (!got) fail(EXIT_DEADLOCK, "manager lock not acquired within %" PRId64 " ms", c->bound_ms);
            set_me(S_STATE, 4);
            int64_t a = mgr_get_int(m, "guard", "a"), b = mgr_get_int(m, "guard", "b");
            if (a != b) {
                /* A holder killed between its two increments: the server
                 * released its lock at the disconnect. Roll forward. */
                if (a != b + 1) {
                    add_me(S_CORRUPT, 1);
                    fprintf(stderr, "worker[c mclient slot %d]: guard a=%" PRId64 " b=%" PRId64 "\n", g_slot, a,
                            b);
                }
                mgr_incr(m, "guard", "b", a - b);
                add_me(S_REPAIR, 1);
            }
            mgr_incr(m, "guard", "a", 1);
            if (below(2)) sleep_us(below(300));
            mgr_incr(m, "guard", "b", 1);
            add_me(S_AUX3, 1);
            set_me(S_STATE, 5);
            check(mgr_call(m, "lock", "L", "release", (const uint8_t *)"\x80", 1, &r), "lock release");
            mp_buf_free(&r);
            set_me(S_STATE, 0);
        }
        add_me(S_OPS, 1);
    }
    mp_mgr_close(m);
}

/* ---- array / lock / rlock sections: alock ------------------------------- *
 * Two cells that must stay equal, each critical section adding one to
 * both, with a pause between the two writes. S_STATE: 3 acquiring, 1
 * holding (writing), 2 releasing, 0 outside. S_AUX1 = completed sections. */

typedef struct {
    int kind; /* 0 array (its own lock), 1 Lock + lockless array, 2 RLock (taken twice) + SharedMemory */
    mp_array *arr;
    mp_lock *lock;
    mp_shm *shm;
    volatile int64_t *cell;
} section;

static mp_status sec_acquire(section *s, int64_t ms) {
    if (s->kind == 0) return mp_array_lock(s->arr, ms);
    mp_status r = mp_lock_acquire(s->lock, ms);
    if (s->kind == 2 && (r == MP_OK || r == MP_E_OWNER_DEAD)) {
        mp_status r2 = mp_lock_acquire(s->lock, ms); /* re-entry: depth 2 */
        if (r2 != MP_OK) fail(EXIT_FAIL, "RLock re-entry: %s", mp_status_str(r2));
    }
    return r;
}

static void sec_release(section *s) {
    if (s->kind == 0) {
        check(mp_array_unlock(s->arr), "unlock");
        return;
    }
    if (s->kind == 2) check(mp_lock_release(s->lock), "release (depth 2)");
    check(mp_lock_release(s->lock), "release");
}

static void role_alock(ctx *c) {
    const char *v = arg_s(c->argc, c->argv, "--variant", "array");
    section s = {0};
    char nm[256];
    if (strcmp(v, "array") == 0) {
        check(mp_array_open(c->name, 'q', 4, MP_OPEN_ATTACH_ONLY, &s.arr), "array open");
        s.cell = mp_array_ptr(s.arr);
    } else if (strcmp(v, "lock") == 0) {
        s.kind = 1;
        snprintf(nm, sizeof nm, "%s.lock", c->name);
        check(mp_lock_open(nm, MP_OPEN_ATTACH_ONLY, &s.lock), "lock open");
        check(mp_array_open(c->name, 'q', 4, MP_OPEN_ATTACH_ONLY | MP_ARRAY_NO_LOCK, &s.arr), "array open");
        s.cell = mp_array_ptr(s.arr);
    } else {
        s.kind = 2;
        snprintf(nm, sizeof nm, "%s.lock", c->name);
        check(mp_lock_open(nm, MP_LOCK_RECURSIVE | MP_OPEN_ATTACH_ONLY, &s.lock), "rlock open");
        check(mp_shm_open(c->name, 0, MP_OPEN_ATTACH_ONLY, &s.shm), "shm open");
        s.cell = mp_shm_ptr(s.shm);
    }
    set_me(S_READY, 1);
    while (!stopping()) {
        set_me(S_STATE, 3);
        mp_status r = sec_acquire(&s, c->bound_ms);
        if (r == MP_E_TIMEOUT) fail(EXIT_DEADLOCK, "lock not acquired within %" PRId64 " ms", c->bound_ms);
        if (r != MP_OK && r != MP_E_OWNER_DEAD) check(r, "acquire");
        set_me(S_STATE, 1);
        int64_t a = s.cell[0], b = s.cell[1];
        if (r == MP_E_OWNER_DEAD) add_me(S_OWNDEAD, 1);
        if (a != b) {
            /* Only a holder killed between its two writes leaves a != b,
             * and then this acquire must have reported the dead owner. */
            if (r != MP_E_OWNER_DEAD || a != b + 1) {
                add_me(S_CORRUPT, 1);
                fprintf(stderr, "worker[c alock slot %d]: cells %" PRId64 " %" PRId64 " (owner dead: %d)\n", g_slot,
                        a, b, r == MP_E_OWNER_DEAD);
            }
            s.cell[1] = a;
            add_me(S_REPAIR, 1);
        }
        s.cell[0] = a + 1;
        /* A pause between the two writes, sometimes a sleep, so that kills
         * land inside the section too. */
        if (below(4) == 0) sleep_us(below(300));
        else for (uint64_t spin = below(2000); spin > 0; spin--) __asm__ volatile("" ::: "memory");
        s.cell[1] = a + 1;
        add_me(S_AUX1, 1);
        set_me(S_STATE, 2);
        sec_release(&s);
        set_me(S_STATE, 0);
        add_me(S_OPS, 1);
        if (below(4) == 0) sleep_us(below(200));
    }
    mp_array_close(s.arr);
    mp_lock_close(s.lock);
    mp_shm_close(s.shm);
}

/* ---- semaphore: sem ------------------------------------------------------ *
 * S_STATE: 1 acquiring, 2 holding (acquire returned), 3 releasing, 0 not
 * holding; S_AUX2 counts the times it left state 2. Pauses (G_FLAG =
 * epoch) park every worker without a unit. */

static void role_sem(ctx *c) {
    int nslots = (int)arg_i(c->argc, c->argv, "--nslots", 1);
    uint32_t cap = (uint32_t)arg_i(c->argc, c->argv, "--cap", 1);
    mp_sem *s;
    check(mp_sem_open(c->name, 0, MP_SEM_BOUNDED | MP_OPEN_ATTACH_ONLY, &s), "sem open");
    set_me(S_READY, 1);
    uint64_t waited_since = now_ns();
    while (!stopping()) {
        uint64_t epoch = ld(G_FLAG);
        if (epoch != me(S_PARK)) {
            set_me(S_PARK, epoch); /* not holding: parked for this epoch */
            sleep_us(500);
            waited_since = now_ns();
            continue;
        }
        if (epoch % 2 == 1) { /* odd epoch = paused */
            sleep_us(500);
            waited_since = now_ns();
            continue;
        }
        set_me(S_STATE, 1);
        mp_status r = mp_sem_acquire(s, 50);
        if (r == MP_E_TIMEOUT) {
            set_me(S_STATE, 0);
            if ((now_ns() - waited_since) / 1000000 > (uint64_t)c->bound_ms)
                fail(EXIT_DEADLOCK, "no unit within %" PRId64 " ms", c->bound_ms);
            continue;
        }
        check(r, "acquire");
        set_me(S_STATE, 2);
        waited_since = now_ns();
        /* Slots that all held a unit at one instant: state 2 at the first
         * read and no release (S_AUX2 unchanged) by the second. A plain
         * scan could count a holder that left and the one that took its
         * unit. */
        uint64_t gen[MAX_SLOTS];
        bool held[MAX_SLOTS];
        for (int i = 0; i < nslots; i++) {
            gen[i] = ld(slotw(i, S_AUX2));
            held[i] = ld(slotw(i, S_STATE)) == 2;
        }
        int holders = 0;
        for (int i = 0; i < nslots; i++)
            if (held[i] && ld(slotw(i, S_AUX2)) == gen[i]) holders++;
        uint32_t v;
        check(mp_sem_value(s, &v), "value");
        if (holders > (int)cap || v > cap) {
            add_me(S_CORRUPT, 1);
            fprintf(stderr, "worker[c sem slot %d]: %d holders, value %u, bound %u (slots:", g_slot, holders, v, cap);
            for (int i = 0; i < nslots; i++)
                fprintf(stderr, " %d:state=%" PRIu64 ",pid=%" PRIu64, i, ld(slotw(i, S_STATE)), ld(slotw(i, S_PID)));
            fprintf(stderr, ")\n");
        }
        sleep_us(below(300));
        add_me(S_AUX2, 1); /* leaves state 2 (see the count above) */
        set_me(S_STATE, 3);
        r = mp_sem_release(s);
        if (r == MP_E_INVAL) {
            add_me(S_CORRUPT, 1);
            fprintf(stderr, "worker[c sem slot %d]: release refused (over the bound)\n", g_slot);
        } else {
            check(r, "release");
        }
        set_me(S_STATE, 0);
        add_me(S_OPS, 1);
    }
    mp_sem_close(s);
}

/* ---- event: evset / evwait ------------------------------------------------ */

static void role_evset(ctx *c) {
    int nslots = (int)arg_i(c->argc, c->argv, "--nslots", 1);
    mp_event *e;
    check(mp_event_open(c->name, MP_OPEN_ATTACH_ONLY, &e), "event open");
    set_me(S_READY, 1);
    while (!stopping()) {
        uint64_t g = ld(G_GEN) + 1;
        check(mp_event_clear(e), "clear");
        bool f;
        check(mp_event_is_set(e, &f), "is_set");
        if (f) add_me(S_CORRUPT, 1);
        sleep_us(below(1000));
        check(mp_event_set(e), "set");
        check(mp_event_is_set(e, &f), "is_set");
        if (!f) add_me(S_CORRUPT, 1);
        st(G_SETNS, now_ns());
        st(G_GEN, g);
        /* Every waiter (slots other than this one) must see generation g. */
        uint64_t t0 = now_ns();
        for (int i = 0; i < nslots; i++) {
            if (i == g_slot) continue;
            while (ld(slotw(i, S_SEEN)) < g && !stopping()) {
                if ((now_ns() - t0) / 1000000 > (uint64_t)c->bound_ms)
                    fail(EXIT_DEADLOCK, "waiter slot %d did not see generation %" PRIu64 " within %" PRId64 " ms", i,
                         g, c->bound_ms);
                sleep_us(100);
            }
        }
        add_me(S_OPS, 1);
    }
    mp_event_close(e);
}

static void role_evwait(ctx *c) {
    mp_event *e;
    check(mp_event_open(c->name, MP_OPEN_ATTACH_ONLY, &e), "event open");
    set_me(S_READY, 1);
    while (!stopping()) {
        set_me(S_STATE, 1);
        mp_status r = mp_event_wait(e, c->bound_ms);
        set_me(S_STATE, 0);
        if (r == MP_E_TIMEOUT) {
            if (stopping()) break;
            fail(EXIT_DEADLOCK, "event not set within %" PRId64 " ms", c->bound_ms);
        }
        check(r, "wait");
        uint64_t g = ld(G_GEN);
        if (g > me(S_SEEN)) {
            uint64_t lat = now_ns() - ld(G_SETNS);
            if (g == me(S_SEEN) + 1 && me(S_OPS) > 0 && lat > me(S_LATMAX)) set_me(S_LATMAX, lat);
            set_me(S_SEEN, g);
            add_me(S_OPS, 1);
        } else {
            sleep_us(200); /* still set from a generation already seen */
        }
    }
    mp_event_close(e);
}

/* ---- condition: cprod / ccons / csleep ------------------------------------ *
 * A one-slot buffer: cells [T, P, C] of a lockless array under the
 * condition's Lock, T == P - C; producers wait on "<name>.nf" (not full),
 * consumers on "<name>.ne" (not empty), each notify wakes one. S_STATE: 3
 * acquiring, 1 holding, 4 waiting, 2 releasing, 0 outside. */

typedef struct {
    mp_lock *lock;
    mp_cond *nf, *ne;
    mp_array *arr;
    volatile int64_t *cell;
} cbuf;

static void cbuf_open(ctx *c, cbuf *b) {
    char nm[256];
    snprintf(nm, sizeof nm, "%s.lock", c->name);
    check(mp_lock_open(nm, MP_OPEN_ATTACH_ONLY, &b->lock), "lock open");
    snprintf(nm, sizeof nm, "%s.nf", c->name);
    check(mp_cond_open(nm, MP_OPEN_ATTACH_ONLY, &b->nf), "cond open");
    snprintf(nm, sizeof nm, "%s.ne", c->name);
    check(mp_cond_open(nm, MP_OPEN_ATTACH_ONLY, &b->ne), "cond open");
    check(mp_array_open(c->name, 'q', 4, MP_OPEN_ATTACH_ONLY | MP_ARRAY_NO_LOCK, &b->arr), "array open");
    b->cell = mp_array_ptr(b->arr);
}

static void cbuf_close(cbuf *b) {
    mp_lock_close(b->lock);
    mp_cond_close(b->nf);
    mp_cond_close(b->ne);
    mp_array_close(b->arr);
}

/* After a dead holder: T = P - C again (a half-done section is undone). */
static void cbuf_repair(cbuf *b, bool owner_dead) {
    if (owner_dead) add_me(S_OWNDEAD, 1);
    int64_t t = b->cell[0], p = b->cell[1], cc = b->cell[2];
    if (t != p - cc) {
        if (!owner_dead || (t != p - cc + 1 && t != p - cc - 1)) {
            add_me(S_CORRUPT, 1);
            fprintf(stderr, "worker[c cond slot %d]: T=%" PRId64 " P=%" PRId64 " C=%" PRId64 "\n", g_slot, t, p, cc);
        }
        b->cell[0] = p - cc;
        add_me(S_REPAIR, 1);
    }
}

static void role_cbuf(ctx *c, bool producer) {
    cbuf b;
    cbuf_open(c, &b);
    set_me(S_READY, 1);
    const int64_t slice = 1000; /* a timed-out wait re-checks the predicate */
    while (!stopping()) {
        set_me(S_STATE, 3);
        mp_status r = mp_lock_acquire(b.lock, c->bound_ms);
        if (r == MP_E_TIMEOUT) fail(EXIT_DEADLOCK, "lock not acquired within %" PRId64 " ms", c->bound_ms);
        if (r != MP_OK && r != MP_E_OWNER_DEAD) check(r, "acquire");
        set_me(S_STATE, 1);
        cbuf_repair(&b, r == MP_E_OWNER_DEAD);
        uint64_t t0 = now_ns();
        bool quit = false;
        while (producer ? b.cell[0] >= 1 : b.cell[0] <= 0) {
            if (stopping()) { quit = true; break; }
            set_me(S_STATE, 4);
            r = mp_cond_wait(producer ? b.nf : b.ne, b.lock, slice);
            set_me(S_STATE, 1);
            if (r == MP_E_OWNER_DEAD) {
                cbuf_repair(&b, true);
            } else if (r == MP_E_TIMEOUT) {
                if (producer ? b.cell[0] < 1 : b.cell[0] > 0) add_me(S_STALL, 1); /* missed a notification */
            } else {
                check(r, "cond wait");
            }
            if ((now_ns() - t0) / 1000000 > (uint64_t)c->bound_ms)
                fail(EXIT_DEADLOCK, "condition never true within %" PRId64 " ms", c->bound_ms);
        }
        if (!quit) {
            if (producer) {
                b.cell[0] = b.cell[0] + 1;
                b.cell[1] = b.cell[1] + 1;
            } else {
                b.cell[0] = b.cell[0] - 1;
                b.cell[2] = b.cell[2] + 1;
            }
            add_me(S_AUX1, 1);
            check(mp_cond_notify(producer ? b.ne : b.nf, 1), "notify");
        }
        set_me(S_STATE, 2);
        check(mp_lock_release(b.lock), "release");
        set_me(S_STATE, 0);
        if (!quit) add_me(S_OPS, 1);
        if (producer) sleep_us(below(300));
    }
    cbuf_close(&b);
}

/* Waits on "<name>.z" (under "<name>.zlock"), which only the orchestrator
 * notifies, once per round, after killing the previous sleeper: the
 * notification must reach this live waiter, not the dead one. S_STATE 4
 * = about to wait / waiting (the lock is held until the wait releases
 * it); S_OPS = notifications received, S_AUX1 = waits that timed out. */
static void role_csleep(ctx *c) {
    char nm[256];
    mp_lock *l;
    mp_cond *z;
    snprintf(nm, sizeof nm, "%s.zlock", c->name);
    check(mp_lock_open(nm, MP_OPEN_ATTACH_ONLY, &l), "lock open");
    snprintf(nm, sizeof nm, "%s.z", c->name);
    check(mp_cond_open(nm, MP_OPEN_ATTACH_ONLY, &z), "cond open");
    set_me(S_READY, 1);
    while (!stopping()) {
        mp_status r = mp_lock_acquire(l, c->bound_ms);
        if (r == MP_E_TIMEOUT) fail(EXIT_DEADLOCK, "lock not acquired within %" PRId64 " ms", c->bound_ms);
        if (r == MP_E_OWNER_DEAD) add_me(S_OWNDEAD, 1);
        else check(r, "acquire");
        set_me(S_STATE, 4);
        r = mp_cond_wait(z, l, c->bound_ms);
        if (r == MP_E_OWNER_DEAD) add_me(S_OWNDEAD, 1);
        else if (r == MP_OK) add_me(S_OPS, 1);
        else if (r == MP_E_TIMEOUT) add_me(S_AUX1, 1);
        else check(r, "cond wait");
        set_me(S_STATE, 2);
        check(mp_lock_release(l), "release");
        set_me(S_STATE, 0);
    }
    mp_lock_close(l);
    mp_cond_close(z);
}

/* ---- barrier: bar ----------------------------------------------------------- *
 * S_OPS = passes, S_BROKEN = BROKEN results, S_SEEN = orchestrator aborts
 * acknowledged, S_STATE 1 = waiting. */

static void role_bar(ctx *c) {
    mp_barrier *b;
    check(mp_barrier_open(c->name, 0, MP_OPEN_ATTACH_ONLY, &b), "barrier open");
    uint32_t parties;
    check(mp_barrier_parties(b, &parties), "parties");
    set_me(S_SEEN, ld(G_ABORTS)); /* a new party does not owe older aborts */
    set_me(S_READY, 1);
    for (;;) {
        set_me(S_STATE, 1);
        uint32_t idx = 0;
        mp_status r = mp_barrier_wait(b, c->bound_ms, &idx);
        set_me(S_STATE, 0);
        if (stopping()) break;
        if (r == MP_OK) {
            if (idx >= parties) add_me(S_CORRUPT, 1);
            add_me(S_OPS, 1);
            continue;
        }
        if (r != MP_E_BROKEN) check(r, "barrier wait");
        add_me(S_BROKEN, 1);
        uint64_t aborts = ld(G_ABORTS);
        if (aborts <= me(S_SEEN))
            fail(EXIT_DEADLOCK, "barrier broken without an abort (a wait timed out after %" PRId64 " ms?)",
                 c->bound_ms);
        /* The orchestrator aborted it: acknowledge, then wait for its reset. */
        set_me(S_SEEN, aborts);
        uint64_t t0 = now_ns();
        bool broken = true;
        while (broken && !stopping()) {
            check(mp_barrier_broken(b, &broken), "broken");
            if ((now_ns() - t0) / 1000000 > (uint64_t)c->bound_ms)
                fail(EXIT_DEADLOCK, "barrier not reset within %" PRId64 " ms", c->bound_ms);
            sleep_us(500);
        }
        if (stopping()) break;
    }
    mp_barrier_close(b);
}

/* ---- shareable list: slw / slr ----------------------------------------------- */

#define SL_N 60000 /* filler bytes of every item: all items have one length */

static void role_slw(ctx *c) {
    mp_slist *l;
    check(mp_slist_open(c->name, NULL, 0, MP_OPEN_ATTACH_ONLY, &l), "slist open");
    size_t n;
    check(mp_slist_len(l, &n), "len");
    /* Ready-made items (all of one length), so that the loop is mostly the
     * library's store: kills land inside it. */
    static uint8_t items[16][3 + REC_MIN + SL_N];
    size_t ilen = 0;
    for (int k = 0; k < 16; k++) {
        size_t h = cbor_head(items[k], 2, rec_len(SL_N));
        rec_make(items[k] + h, (uint32_t)g_slot, me(S_SEQ) + (uint64_t)k, SL_N);
        ilen = h + rec_len(SL_N);
    }
    set_me(S_SEQ, me(S_SEQ) + 16);
    set_me(S_READY, 1);
    while (!stopping()) {
        set_me(S_STATE, 1);
        check(mp_slist_set(l, (size_t)below(n), items[below(16)], ilen), "set");
        set_me(S_STATE, 0);
        add_me(S_OPS, 1);
    }
    mp_slist_close(l);
}

static void role_slr(ctx *c) {
    mp_slist *l;
    check(mp_slist_open(c->name, NULL, 0, MP_OPEN_ATTACH_ONLY, &l), "slist open");
    size_t n;
    check(mp_slist_len(l, &n), "len");
    bool was_null[64] = {false}, was_bad[64] = {false};
    if (n > 64) fail(EXIT_FAIL, "list too long");
    set_me(S_READY, 1);
    while (!stopping()) {
        for (size_t i = 0; i < n; i++) {
            mp_buf b = {0};
            check(mp_slist_get(l, i, &b), "get");
            int major;
            uint64_t v;
            size_t h = cbor_parse_head(b.ptr, b.len, &major, &v);
            uint32_t src;
            uint64_t seq;
            bool bad = false;
            if (b.len == 1 && b.ptr[0] == 0xf6) { /* null: a torn item the library repaired */
                if (!was_null[i]) add_me(S_NULLS, 1);
                was_null[i] = true;
            } else if (h && major == 2 && h + v == b.len && rec_check(b.ptr + h, b.len - h, &src, &seq)) {
                was_null[i] = false;
            } else {
                bad = true;
                if (!was_bad[i]) { /* counted once until the item is overwritten */
                    add_me(S_CORRUPT, 1);
                    fprintf(stderr, "worker[c slr slot %d]: item %zu is corrupt (%zu bytes)\n", g_slot, i, b.len);
                }
            }
            was_bad[i] = bad;
            mp_buf_free(&b);
            add_me(S_OPS, 1);
        }
    }
    mp_slist_close(l);
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--layout") == 0) {
        printf("G_WORDS=%d MAX_SLOTS=%d SLOT_WORDS=%d BM_BASE=%d S_NULLS=%d S_PARK=%d\n", G_WORDS, MAX_SLOTS,
               SLOT_WORDS, BM_BASE, S_NULLS, S_PARK);
        return 0;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: worker ROLE --log PATH --slot S --seed N ...\n");
        return 2;
    }
    g_role = argv[1];
    g_slot = (int)arg_i(argc, argv, "--slot", -1);
    if (g_slot < 0 || g_slot >= MAX_SLOTS) fail(EXIT_FAIL, "bad --slot");
    g_rng = (uint64_t)arg_i(argc, argv, "--seed", 1) | 1;
    rec_init();
    map_log(arg_s(argc, argv, "--log", ""));
    set_me(S_PID, (uint64_t)getpid());
    ctx c = {argc, argv, arg_s(argc, argv, "--name", ""), arg_i(argc, argv, "--bound-ms", 10000)};
    const char *r = g_role;
    if (!strcmp(r, "qprod")) role_qprod(&c);
    else if (!strcmp(r, "qcons")) role_qcons(&c);
    else if (!strcmp(r, "psend")) role_psend(&c);
    else if (!strcmp(r, "precv")) role_precv(&c);
    else if (!strcmp(r, "lserver")) role_lserver(&c);
    else if (!strcmp(r, "lclient")) role_lclient(&c);
    else if (!strcmp(r, "mclient")) role_mclient(&c);
    else if (!strcmp(r, "alock")) role_alock(&c);
    else if (!strcmp(r, "sem")) role_sem(&c);
    else if (!strcmp(r, "evset")) role_evset(&c);
    else if (!strcmp(r, "evwait")) role_evwait(&c);
    else if (!strcmp(r, "cprod")) role_cbuf(&c, true);
    else if (!strcmp(r, "ccons")) role_cbuf(&c, false);
    else if (!strcmp(r, "csleep")) role_csleep(&c);
    else if (!strcmp(r, "bar")) role_bar(&c);
    else if (!strcmp(r, "slw")) role_slw(&c);
    else if (!strcmp(r, "slr")) role_slr(&c);
    else fail(EXIT_FAIL, "unknown role %s", r);
    munmap((void *)g_log, g_log_len);
    return 0;
}
