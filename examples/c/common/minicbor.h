/*
 * minicbor.h: the few lines of CBOR (RFC 8949) the C examples need, header
 * only. mpipc's C ABI moves bytes; the bindings (Go, Node, Python) encode
 * and decode CBOR (docs/TYPES.md). A C program that talks to them writes
 * and reads the items itself: here, definite-length maps, arrays, text,
 * integers, and a reader that can find a text key in a map and skip any
 * item it does not care about.
 *
 * Not a general CBOR library: no floats written, no bignums, no
 * indefinite lengths read (the bindings never write them).
 */
#ifndef MINICBOR_H
#define MINICBOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- writer ------------------------------------------------------------ */

typedef struct {
    uint8_t buf[512];
    size_t len;
    int overflow; /* set when something did not fit */
} cbw;

static inline void cbw_bytes(cbw *w, const void *p, size_t n) {
    if (w->len + n > sizeof w->buf) {
        w->overflow = 1;
        return;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

/* A head: major type (0..7) and argument, in the shortest form. */
static inline void cbw_head(cbw *w, unsigned major, uint64_t v) {
    uint8_t h[9];
    size_t n;
    uint8_t m = (uint8_t)(major << 5);
    if (v < 24) {
        h[0] = m | (uint8_t)v;
        n = 1;
    } else if (v <= 0xff) {
        h[0] = m | 24;
        h[1] = (uint8_t)v;
        n = 2;
    } else if (v <= 0xffff) {
        h[0] = m | 25;
        h[1] = (uint8_t)(v >> 8);
        h[2] = (uint8_t)v;
        n = 3;
    } else if (v <= 0xffffffffu) {
        h[0] = m | 26;
        for (int i = 0; i < 4; i++) h[1 + i] = (uint8_t)(v >> (24 - 8 * i));
        n = 5;
    } else {
        h[0] = m | 27;
        for (int i = 0; i < 8; i++) h[1 + i] = (uint8_t)(v >> (56 - 8 * i));
        n = 9;
    }
    cbw_bytes(w, h, n);
}

static inline void cbw_int(cbw *w, int64_t v) {
    if (v >= 0)
        cbw_head(w, 0, (uint64_t)v);
    else
        cbw_head(w, 1, (uint64_t)(-(v + 1)));
}
static inline void cbw_text(cbw *w, const char *s) {
    size_t n = strlen(s);
    cbw_head(w, 3, n);
    cbw_bytes(w, s, n);
}
static inline void cbw_array(cbw *w, size_t n) { cbw_head(w, 4, n); }
static inline void cbw_map(cbw *w, size_t n) { cbw_head(w, 5, n); }

/* ---- reader ------------------------------------------------------------ */

typedef struct {
    const uint8_t *p, *end;
} cbr;

/* Reads one head; 0 on success, -1 if truncated or indefinite. */
static inline int cbr_head(cbr *r, unsigned *major, uint64_t *arg) {
    if (r->p >= r->end) return -1;
    uint8_t b = *r->p++;
    unsigned ai = b & 31;
    *major = b >> 5;
    if (ai < 24) {
        *arg = ai;
        return 0;
    }
    size_t n = ai == 24 ? 1 : ai == 25 ? 2 : ai == 26 ? 4 : ai == 27 ? 8 : 0;
    if (n == 0 || (size_t)(r->end - r->p) < n) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = (v << 8) | *r->p++;
    *arg = v;
    return 0;
}

/* Skips one whole item (nesting at most `depth` deep); 0 or -1. */
static inline int cbr_skip_depth(cbr *r, int depth) {
    unsigned major;
    uint64_t arg;
    if (depth <= 0 || cbr_head(r, &major, &arg)) return -1;
    switch (major) {
    case 0:
    case 1:
    case 7: /* ints; simple values and floats: the head carried the payload */
        return 0;
    case 2:
    case 3:
        if ((uint64_t)(r->end - r->p) < arg) return -1;
        r->p += arg;
        return 0;
    case 4:
    case 5: {
        uint64_t items = major == 5 ? arg * 2 : arg;
        if (items > (uint64_t)(r->end - r->p)) return -1; /* each item is >= 1 byte */
        for (uint64_t i = 0; i < items; i++)
            if (cbr_skip_depth(r, depth - 1)) return -1;
        return 0;
    }
    default: /* 6: a tag, then its item */
        return cbr_skip_depth(r, depth - 1);
    }
}
static inline int cbr_skip(cbr *r) { return cbr_skip_depth(r, 128); }

/* Reads an integer item (major 0 or 1) that fits int64; 0 or -1. */
static inline int cbr_int(cbr *r, int64_t *out) {
    unsigned major;
    uint64_t arg;
    if (cbr_head(r, &major, &arg) || major > 1 || arg > INT64_MAX) return -1;
    *out = major == 0 ? (int64_t)arg : -1 - (int64_t)arg;
    return 0;
}

/* Reads a text item: its bytes (not NUL-terminated) and length; 0 or -1. */
static inline int cbr_text(cbr *r, const char **s, size_t *n) {
    unsigned major;
    uint64_t arg;
    if (cbr_head(r, &major, &arg) || major != 3 || (uint64_t)(r->end - r->p) < arg) return -1;
    *s = (const char *)r->p;
    *n = (size_t)arg;
    r->p += arg;
    return 0;
}

/* In the map that starts at `msg`, finds the text key `key`: on success the
 * reader `val` is positioned at its value and 0 is returned; -1 if the
 * message is not a map or has no such key. */
static inline int cbr_find(const uint8_t *msg, size_t len, const char *key, cbr *val) {
    cbr r = {msg, msg + len};
    unsigned major;
    uint64_t n;
    if (cbr_head(&r, &major, &n) || major != 5) return -1;
    size_t klen = strlen(key);
    for (uint64_t i = 0; i < n; i++) {
        cbr k = r;
        unsigned km;
        uint64_t ka;
        int match = 0;
        if (cbr_head(&k, &km, &ka) == 0 && km == 3 && ka == klen && (size_t)(k.end - k.p) >= klen &&
            memcmp(k.p, key, klen) == 0)
            match = 1;
        if (cbr_skip(&r)) return -1; /* the key */
        if (match) {
            *val = r;
            return 0;
        }
        if (cbr_skip(&r)) return -1; /* its value */
    }
    return -1;
}

/* The integer at text key `key` of the map `msg`; 0 or -1. */
static inline int cbr_find_int(const uint8_t *msg, size_t len, const char *key, int64_t *out) {
    cbr v;
    return cbr_find(msg, len, key, &v) ? -1 : cbr_int(&v, out);
}

/* Whether the map `msg` has text `want` at text key `key`. */
static inline int cbr_find_text_is(const uint8_t *msg, size_t len, const char *key, const char *want) {
    cbr v;
    const char *s;
    size_t n;
    if (cbr_find(msg, len, key, &v) || cbr_text(&v, &s, &n)) return 0;
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

#endif /* MINICBOR_H */
