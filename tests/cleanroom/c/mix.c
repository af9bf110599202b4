/* The C side of the clean room's mixed-language exchange
 * (tests/cleanroom/run.sh; roles in the contract there):
 *
 *   mix produce QUEUE N CONSUMERS   creates QUEUE (room for all), puts the
 *                                   maps {"id": i, "text": "job-<i>"}, i < N,
 *                                   then CONSUMERS nulls
 *   mix consume QUEUE MGR_ADDR      takes maps until a null; checks each,
 *                                   adds 1 to counts["c"] and id to
 *                                   counts["idsum"] in the manager's dict
 *   mix read MGR_ADDR N             checks counts: idsum == N(N-1)/2 and the
 *                                   languages' counts sum to N; prints them
 *
 * MGR_ADDR is unix:/path (a bare /path is taken as unix:/path). Values are
 * CBOR (RFC 8949), encoded and decoded here by hand for the few shapes the
 * exchange uses: maps with text keys, integers, text, null.
 */
#include <mpipc.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LANG "c"

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mix(c): ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void check(mp_status s, const char *what) {
    if (s != MP_OK) {
        die("%s: %s: %s", what, mp_status_str(s), mp_last_error());
    }
}

/* ---- CBOR encoding ---- */

typedef struct {
    uint8_t b[96];
    size_t n;
} enc;

/* The head of an item: major type and argument, in the shortest form. */
static void put_head(enc *e, unsigned major, uint64_t arg) {
    unsigned m = major << 5;
    if (arg < 24) {
        e->b[e->n++] = (uint8_t)(m | arg);
        return;
    }
    int bytes = arg <= 0xff ? 1 : arg <= 0xffff ? 2 : arg <= 0xffffffffu ? 4 : 8;
    e->b[e->n++] = (uint8_t)(m | (bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27));
    for (int i = bytes - 1; i >= 0; i--) {
        e->b[e->n++] = (uint8_t)(arg >> (8 * i));
    }
}

static void put_text(enc *e, const char *s) {
    size_t len = strlen(s);
    put_head(e, 3, len);
    memcpy(e->b + e->n, s, len);
    e->n += len;
}

/* ---- CBOR decoding ---- */

typedef struct {
    const uint8_t *p, *end;
} dec;

typedef struct {
    unsigned major;
    uint64_t arg; /* the argument; for major 7, the simple value */
} head;

static int get_head(dec *d, head *h) {
    if (d->p >= d->end) {
        return -1;
    }
    uint8_t b = *d->p++;
    h->major = b >> 5;
    unsigned ai = b & 31;
    if (ai < 24) {
        h->arg = ai;
        return 0;
    }
    int bytes = ai == 24 ? 1 : ai == 25 ? 2 : ai == 26 ? 4 : ai == 27 ? 8 : 0;
    if (bytes == 0 || d->end - d->p < bytes) {
        return -1; /* indefinite lengths and reserved values are not used here */
    }
    h->arg = 0;
    for (int i = 0; i < bytes; i++) {
        h->arg = h->arg << 8 | *d->p++;
    }
    return 0;
}

/* Skips one item (any type but indefinite-length ones). */
static int skip(dec *d) {
    head h;
    if (get_head(d, &h) != 0) {
        return -1;
    }
    switch (h.major) {
    case 2:
    case 3:
        if ((uint64_t)(d->end - d->p) < h.arg) {
            return -1;
        }
        d->p += h.arg;
        return 0;
    case 4:
    case 5:
        for (uint64_t i = 0; i < (h.major == 5 ? 2 * h.arg : h.arg); i++) {
            if (skip(d) != 0) {
                return -1;
            }
        }
        return 0;
    case 6:
        return skip(d);
    default:
        return 0;
    }
}

static int get_int(dec *d, int64_t *out) {
    head h;
    if (get_head(d, &h) != 0 || h.major > 1 || h.arg > INT64_MAX) {
        return -1;
    }
    *out = h.major == 0 ? (int64_t)h.arg : -1 - (int64_t)h.arg;
    return 0;
}

static int get_text(dec *d, const char **s, size_t *len) {
    head h;
    if (get_head(d, &h) != 0 || h.major != 3 || (uint64_t)(d->end - d->p) < h.arg) {
        return -1;
    }
    *s = (const char *)d->p;
    *len = (size_t)h.arg;
    d->p += h.arg;
    return 0;
}

static int text_is(const char *s, size_t len, const char *want) {
    return len == strlen(want) && memcmp(s, want, len) == 0;
}

/* ---- roles ---- */

static const char *mgr_address(const char *arg, char *buf, size_t cap) {
    if (arg[0] == '/') {
        snprintf(buf, cap, "unix:%s", arg);
        return buf;
    }
    return arg;
}

static int produce(const char *name, long n, long consumers) {
    mpq_options o = {0};
    o.maxsize = (size_t)(n + consumers);
    /* Room for every message at once (each takes 8 bytes + its length
     * rounded up to 8, under 48 here), so that no put ever waits. */
    size_t need = (size_t)(n + consumers) * 48;
    o.capacity_bytes = need > (1u << 20) ? need : 0;
    mpq *q = NULL;
    check(mpq_open(name, &o, &q), "mpq_open");
    for (long i = 0; i < n; i++) {
        enc e = {.n = 0};
        char text[32];
        snprintf(text, sizeof text, "job-%ld", i);
        put_head(&e, 5, 2);
        put_text(&e, "id");
        put_head(&e, 0, (uint64_t)i);
        put_text(&e, "text");
        put_text(&e, text);
        check(mpq_put(q, e.b, e.n), "mpq_put");
    }
    const uint8_t null = 0xf6;
    for (long i = 0; i < consumers; i++) {
        check(mpq_put(q, &null, 1), "mpq_put");
    }
    mpq_close(q);
    printf("c produced %ld\n", n);
    return 0;
}

static int64_t incr(mp_mgr *m, const char *key, int64_t delta) {
    enc e = {.n = 0};
    put_text(&e, key);
    int64_t now = 0;
    check(mp_mgr_dict_incr(m, "counts", e.b, e.n, delta, &now), "mp_mgr_dict_incr");
    return now;
}

static int consume(const char *name, const char *addr) {
    char abuf[4200];
    mp_mgr *m = NULL;
    check(mp_mgr_connect(mgr_address(addr, abuf, sizeof abuf), NULL, 0, 10000, &m), "mp_mgr_connect");
    mpq_options o = {0};
    o.flags = MPQ_ATTACH_ONLY;
    mpq *q = NULL;
    check(mpq_open(name, &o, &q), "mpq_open");
    long got = 0;
    for (;;) {
        mp_buf b = {0};
        /* A bound, not a synchronisation: the nulls end the loop. */
        check(mpq_get_timeout(q, &b, 60000), "mpq_get_timeout");
        dec d = {b.ptr, b.ptr + b.len};
        if (b.len == 1 && b.ptr[0] == 0xf6) {
            mp_buf_free(&b);
            break;
        }
        head h;
        int64_t id = -1;
        const char *text = NULL;
        size_t tlen = 0;
        if (get_head(&d, &h) != 0 || h.major != 5) {
            die("message %ld is not a map", got);
        }
        for (uint64_t i = 0; i < h.arg; i++) {
            const char *k;
            size_t klen;
            if (get_text(&d, &k, &klen) != 0) {
                die("message %ld has a key that is not text", got);
            }
            int bad = text_is(k, klen, "id")     ? get_int(&d, &id)
                      : text_is(k, klen, "text") ? get_text(&d, &text, &tlen)
                                                 : skip(&d);
            if (bad) {
                die("message %ld: bad value for key '%.*s'", got, (int)klen, k);
            }
        }
        char want[32];
        int wlen = snprintf(want, sizeof want, "job-%" PRId64, id);
        if (id < 0 || text == NULL || tlen != (size_t)wlen || memcmp(text, want, tlen) != 0) {
            die("message %ld: id %" PRId64 " with text '%.*s'", got, id, (int)tlen, text ? text : "");
        }
        mp_buf_free(&b);
        incr(m, LANG, 1);
        incr(m, "idsum", id);
        got++;
    }
    mpq_close(q);
    mp_mgr_close(m);
    printf("%s consumed %ld\n", LANG, got);
    return 0;
}

static int read_counts(const char *addr, long n) {
    char abuf[4200];
    mp_mgr *m = NULL;
    check(mp_mgr_connect(mgr_address(addr, abuf, sizeof abuf), NULL, 0, 10000, &m), "mp_mgr_connect");
    const uint8_t no_args = 0x80; /* [] */
    mp_buf b = {0};
    check(mp_mgr_call(m, "dict", "counts", "copy", &no_args, 1, &b), "dict counts copy");
    dec d = {b.ptr, b.ptr + b.len};
    head h;
    if (get_head(&d, &h) != 0 || h.major != 5) {
        die("counts.copy() is not a map");
    }
    int64_t idsum = -1, total = 0;
    printf("counts:");
    for (uint64_t i = 0; i < h.arg; i++) {
        const char *k;
        size_t klen;
        int64_t v;
        if (get_text(&d, &k, &klen) != 0 || get_int(&d, &v) != 0) {
            die("counts holds an entry that is not text -> integer");
        }
        printf(" %.*s=%" PRId64, (int)klen, k, v);
        if (text_is(k, klen, "idsum")) {
            idsum = v;
        } else {
            total += v;
        }
    }
    printf("\n");
    mp_buf_free(&b);
    mp_mgr_close(m);
    int64_t want = (int64_t)n * (n - 1) / 2;
    if (idsum != want || total != n) {
        fprintf(stderr, "mix(c): read: idsum %" PRId64 " (expected %" PRId64 "), %" PRId64 " consumed (expected %ld)\n",
                idsum, want, total, n);
        return 1;
    }
    return 0;
}

static long number(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0) {
        die("'%s' is not a count", s);
    }
    return v;
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "produce") == 0) {
        return produce(argv[2], number(argv[3]), number(argv[4]));
    }
    if (argc == 4 && strcmp(argv[1], "consume") == 0) {
        return consume(argv[2], argv[3]);
    }
    if (argc == 4 && strcmp(argv[1], "read") == 0) {
        return read_counts(argv[2], number(argv[3]));
    }
    fprintf(stderr, "usage: mix produce QUEUE N CONSUMERS | consume QUEUE MGR_ADDR | read MGR_ADDR N\n");
    return 2;
}
