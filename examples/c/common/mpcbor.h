/*
 * mpcbor.h: the few helpers the C examples put around libcbor (Debian's
 * libcbor-dev; `pkg-config --cflags --libs libcbor`), header only.
 *
 * mpipc's C ABI moves bytes; every object that crosses to Go, Node, Python
 * or Rust is one CBOR item following docs/TYPES.md. libcbor builds and reads
 * those items; the rules it leaves to the caller are done here:
 *
 *  - integers in the shortest head (TYPES.md rule 3): libcbor writes an
 *    integer in the width it was built with (cbor_build_uint8/16/32/64), so
 *    mpcbor_int / mpcbor_uint choose the width from the value;
 *  - floats always 64-bit (rule 2): use cbor_build_float8, never float2/4;
 *  - definite lengths (rule 1): cbor_new_definite_map / _array, and
 *    cbor_build_string / cbor_build_bytestring (never the indefinite ones);
 *  - decoding a message: exactly one item, nothing after it, nested at
 *    most 128 deep, no count or length beyond the message (rule 6), checked
 *    before libcbor allocates anything (mpcbor_scan); then what needs the
 *    decoded item (mpcbor_check): tags 0-3 and mpipc's own tags around the
 *    content TYPES.md fixes, no map with two equal keys (1 and 1.0 are one
 *    key: mpcbor_key_bytes); tag 55799 dropped wherever it appears (rule 8).
 *    mpcbor_decode does all of it.
 *
 * Ownership follows libcbor: a cbor_build_* / cbor_new_* result is owned by
 * the caller (one reference, released with cbor_decref); the helpers that
 * take an item "consume" it (they take over that reference), so that
 * nested values can be written inline without leaks.
 */
#ifndef MPCBOR_H
#define MPCBOR_H

#include <cbor.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libcbor returns NULL only when malloc fails: the examples stop there
 * (a real program would report it like any allocation failure). */
static inline cbor_item_t *mpcbor_ok(cbor_item_t *item) {
    if (item == NULL) {
        fprintf(stderr, "libcbor: out of memory\n");
        abort();
    }
    return item;
}

/* An unsigned integer in the shortest head: 0..23 and 24..255 are
 * cbor_build_uint8 (libcbor writes a value below 24 in the head byte
 * itself), then uint16, uint32, uint64. */
static inline cbor_item_t *mpcbor_uint(uint64_t v) {
    if (v <= UINT8_MAX) return mpcbor_ok(cbor_build_uint8((uint8_t)v));
    if (v <= UINT16_MAX) return mpcbor_ok(cbor_build_uint16((uint16_t)v));
    if (v <= UINT32_MAX) return mpcbor_ok(cbor_build_uint32((uint32_t)v));
    return mpcbor_ok(cbor_build_uint64(v));
}

/* A signed integer in the shortest head. CBOR writes a negative n as
 * major type 1 with the argument -1 - n (libcbor's cbor_build_negint*
 * take that argument). */
static inline cbor_item_t *mpcbor_int(int64_t v) {
    if (v >= 0) return mpcbor_uint((uint64_t)v);
    uint64_t arg = (uint64_t)(-(v + 1)); /* no overflow: -(INT64_MIN + 1) fits */
    if (arg <= UINT8_MAX) return mpcbor_ok(cbor_build_negint8((uint8_t)arg));
    if (arg <= UINT16_MAX) return mpcbor_ok(cbor_build_negint16((uint16_t)arg));
    if (arg <= UINT32_MAX) return mpcbor_ok(cbor_build_negint32((uint32_t)arg));
    return mpcbor_ok(cbor_build_negint64(arg));
}

/* Text (definite, UTF-8 as given) and a 64-bit float. */
static inline cbor_item_t *mpcbor_text(const char *s) { return mpcbor_ok(cbor_build_string(s)); }
static inline cbor_item_t *mpcbor_float(double d) { return mpcbor_ok(cbor_build_float8(d)); }

/* Adds key: value to a map made with cbor_new_definite_map(n), consuming
 * the value; false if the map already holds its n pairs. */
static inline bool mpcbor_map_set(cbor_item_t *map, const char *key, cbor_item_t *value) {
    /* cbor_map_add takes its own references (incref); cbor_move gives ours
     * up, so the map ends up the only owner of both. */
    return cbor_map_add(map, (struct cbor_pair){.key = cbor_move(mpcbor_text(key)), .value = cbor_move(value)});
}

/* Appends an item to a cbor_new_definite_array(n), consuming it. */
static inline bool mpcbor_push(cbor_item_t *array, cbor_item_t *value) {
    return cbor_array_push(array, cbor_move(value));
}

/* Encodes item into a malloc'ed buffer (free it); returns the length. The
 * item is borrowed. */
static inline size_t mpcbor_encode(const cbor_item_t *item, unsigned char **buf) {
    size_t cap;
    size_t len = cbor_serialize_alloc(item, buf, &cap);
    if (len == 0) {
        fprintf(stderr, "libcbor: cannot encode (out of memory)\n");
        abort();
    }
    return len;
}

/* The head at *pp: its major type, additional information and argument
 * (for ai 25..27 of major 7, the float's bits; for ai 31, 31); advances
 * *pp past it. False if the bytes end first or ai is reserved (28..30). */
static inline bool mpcbor_head(const uint8_t **pp, const uint8_t *end, unsigned *major, unsigned *ai, uint64_t *arg) {
    const uint8_t *p = *pp;
    if (p >= end) return false;
    uint8_t b = *p++;
    *major = b >> 5;
    *ai = b & 31;
    *arg = *ai;
    if (*ai >= 24 && *ai <= 27) {
        size_t k = (size_t)1 << (*ai - 24);
        if ((size_t)(end - p) < k) return false;
        *arg = 0;
        for (size_t i = 0; i < k; i++) *arg = *arg << 8 | *p++;
    } else if (*ai >= 28 && *ai <= 30) {
        return false; /* reserved */
    }
    *pp = p;
    return true;
}

/* Tag 55799 (self-described CBOR, RFC 8949 §3.4.6) means nothing: every
 * binding drops it wherever it appears (docs/TYPES.md rule 8). Returns p
 * past any run of its heads. */
static inline const uint8_t *mpcbor_skip_self_described(const uint8_t *p, const uint8_t *end) {
    for (;;) {
        const uint8_t *q = p;
        unsigned major, ai;
        uint64_t arg;
        if (!mpcbor_head(&q, end, &major, &ai, &arg) || major != 6 || ai == 31 || arg != 55799) return p;
        p = q;
    }
}

/* The end of the well-formed item at p (nested at most 128 deep, every
 * count and length within the bytes left), or NULL; when out is not NULL,
 * the item's bytes are copied to *out (advanced) without the heads of tag
 * 55799, which are skipped and not counted (an item inside one is at its
 * depth; docs/TYPES.md "Nesting depth"). Run before cbor_load because
 * libcbor 0.8 allocates what a head claims before it reads the items: a
 * 5-byte message claiming an array of 2^28 items costs 2 GiB (docs/TYPES.md
 * rule 6: never allocate more than the message implies), and it accepts
 * any depth. */
static inline const uint8_t *mpcbor_scan_copy(const uint8_t *p, const uint8_t *end, int depth, uint8_t **out) {
    p = mpcbor_skip_self_described(p, end);
    if (depth > 128 || p >= end) return NULL;
    const uint8_t *start = p;
    unsigned major, ai;
    uint64_t arg;
    if (!mpcbor_head(&p, end, &major, &ai, &arg)) return NULL;
    if (out && major == 6 && ai >= 6 && ai <= 20) {
        /* libcbor 0.8's decoder refuses the one-byte heads of tags 6 to 20
         * (0xc6-0xd4; its own encoder writes them): the same tag with a
         * one-byte argument (0xd8 n), which it reads. */
        *(*out)++ = 0xd8;
        *(*out)++ = (uint8_t)ai;
    } else if (out) {
        memcpy(*out, start, (size_t)(p - start));
        *out += p - start;
    }
    if (ai == 31) { /* indefinite length, up to the break 0xff */
        if (major < 2 || major > 5) return NULL;
        while (p < end && *p != 0xff) {
            if (major <= 3) { /* chunks: definite strings of the same type, not nested items */
                if ((*p >> 5) != major || (*p & 31) == 31) return NULL;
                if (!(p = mpcbor_scan_copy(p, end, depth, out))) return NULL;
                continue;
            }
            if (!(p = mpcbor_scan_copy(p, end, depth + 1, out))) return NULL;
            if (major == 5 && !(p = mpcbor_scan_copy(p, end, depth + 1, out))) return NULL;
        }
        if (p >= end) return NULL;
        if (out) *(*out)++ = 0xff;
        return p + 1;
    }
    size_t left = (size_t)(end - p);
    switch (major) {
    case 2:
    case 3: /* byte and text strings: the bytes must be there */
        if (arg > left) return NULL;
        if (out) {
            memcpy(*out, p, (size_t)arg);
            *out += arg;
        }
        return p + arg;
    case 4:
    case 5: { /* every item takes at least one byte */
        uint64_t items = major == 5 ? (arg <= left / 2 ? arg * 2 : UINT64_MAX) : arg;
        if (items > left) return NULL;
        for (uint64_t i = 0; i < items; i++)
            if (!(p = mpcbor_scan_copy(p, end, depth + 1, out))) return NULL;
        return p;
    }
    case 6: /* a tag: its item follows, one deeper */
        return mpcbor_scan_copy(p, end, depth + 1, out);
    default: /* integers, simple values, floats: the head was all (libcbor refuses the bad simple values) */
        return p;
    }
}

/* mpcbor_scan_copy without the copy. */
static inline const uint8_t *mpcbor_scan(const uint8_t *p, const uint8_t *end, int depth) {
    return mpcbor_scan_copy(p, end, depth, NULL);
}

/* mpipc's own tags (docs/TYPES.md "mpipc's own tags"). */
#define MPCBOR_TAG_TUPLE 0x6d707475u
#define MPCBOR_TAG_PICKLE 0x6d70706bu
#define MPCBOR_TAG_REF 0x6d707266u

/* A growable byte buffer (the key bytes of a map's keys). */
typedef struct {
    uint8_t *p;
    size_t len, cap;
} mpcbor_buf;

static inline void mpcbor_buf_put(mpcbor_buf *b, const void *src, size_t n) {
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->len < n) cap *= 2;
        uint8_t *p = (uint8_t *)realloc(b->p, cap);
        if (p == NULL) {
            fprintf(stderr, "mpcbor: out of memory\n");
            abort();
        }
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, src, n);
    b->len += n;
}

/* Appends a head in its shortest form. */
static inline void mpcbor_buf_head(mpcbor_buf *b, unsigned major, uint64_t n) {
    uint8_t h[9];
    size_t k = n < 24 ? 0 : n <= 0xff ? 1 : n <= 0xffff ? 2 : n <= 0xffffffffu ? 4 : 8;
    h[0] = (uint8_t)(major << 5 | (k == 0 ? n : k == 1 ? 24 : k == 2 ? 25 : k == 4 ? 26 : 27));
    for (size_t i = 0; i < k; i++) h[1 + i] = (uint8_t)(n >> (8 * (k - 1 - i)));
    mpcbor_buf_put(b, h, 1 + k);
}

/* The key bytes of an integer given by its sign and big-endian magnitude
 * (the value is -1 - magnitude when negative, as CBOR's tag 3): a plain
 * head when it fits 64 bits, else the bignum without leading zeros. */
static inline void mpcbor_key_bignum(mpcbor_buf *b, bool negative, const uint8_t *m, size_t n) {
    while (n > 0 && *m == 0) m++, n--;
    if (n <= 8) {
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) v = v << 8 | m[i];
        mpcbor_buf_head(b, negative ? 1 : 0, v);
    } else {
        mpcbor_buf_head(b, 6, negative ? 3 : 2);
        mpcbor_buf_head(b, 2, n);
        mpcbor_buf_put(b, m, n);
    }
}

/* The key bytes of a double: the integer it equals when it is finite and
 * integral (-0.0 is 0; beyond 64 bits a bignum), else its 64-bit form
 * (so a NaN equals only a NaN of the same bits). Decided on the bits, so
 * no libm is needed. */
static inline void mpcbor_key_double(mpcbor_buf *b, double d) {
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    int e = (int)((bits >> 52) & 0x7ff) - 1075; /* d = mantissa * 2^e */
    uint64_t mant = bits & ((1ull << 52) - 1);
    bool negative = bits >> 63;
    bool integral;
    if (((bits >> 52) & 0x7ff) == 0x7ff) integral = false;          /* NaN, infinities */
    else if (((bits >> 52) & 0x7ff) == 0) integral = mant == 0;      /* zero (subnormals are not integral) */
    else integral = e >= 0 || (-e < 53 && (mant & ((1ull << -e) - 1)) == 0);
    if (!integral) {
        uint8_t h[9] = {0xfb};
        for (int i = 0; i < 8; i++) h[1 + i] = (uint8_t)(bits >> (56 - 8 * i));
        mpcbor_buf_put(b, h, 9);
        return;
    }
    if (((bits >> 52) & 0x7ff) == 0) { /* +0.0 and -0.0 are 0 */
        mpcbor_buf_head(b, 0, 0);
        return;
    }
    mant |= 1ull << 52;
    /* The magnitude, big-endian: mant << e, or mant >> -e (exact). */
    uint8_t m[8 + 128];
    size_t n;
    if (e <= 0) {
        uint64_t v = mant >> -e;
        for (int i = 0; i < 8; i++) m[i] = (uint8_t)(v >> (56 - 8 * i));
        n = 8;
    } else {
        uint64_t v = mant << (e % 8); /* at most 60 bits */
        for (int i = 0; i < 8; i++) m[i] = (uint8_t)(v >> (56 - 8 * i));
        n = 8 + (size_t)(e / 8);
        memset(m + 8, 0, (size_t)(e / 8));
    }
    if (negative) { /* CBOR's negative integers hold |d| - 1 */
        for (size_t i = n; i-- > 0;)
            if (m[i]--) break;
    }
    mpcbor_key_bignum(b, negative, m, n);
}

/* Appends the content of a byte or text string item, definite or chunked. */
static inline void mpcbor_string_bytes(mpcbor_buf *b, const cbor_item_t *it, bool text) {
    if (text ? cbor_string_is_definite(it) : cbor_bytestring_is_definite(it)) {
        mpcbor_buf_put(b, text ? cbor_string_handle(it) : cbor_bytestring_handle(it),
                       text ? cbor_string_length(it) : cbor_bytestring_length(it));
        return;
    }
    cbor_item_t **chunks = text ? cbor_string_chunks_handle(it) : cbor_bytestring_chunks_handle(it);
    size_t count = text ? cbor_string_chunk_count(it) : cbor_bytestring_chunk_count(it);
    for (size_t i = 0; i < count; i++)
        mpcbor_buf_put(b, text ? cbor_string_handle(chunks[i]) : cbor_bytestring_handle(chunks[i]),
                       text ? cbor_string_length(chunks[i]) : cbor_bytestring_length(chunks[i]));
}

/* Appends a byte or text string as one definite string. */
static inline void mpcbor_key_string(mpcbor_buf *b, const cbor_item_t *it, unsigned major) {
    mpcbor_buf s = {0};
    mpcbor_string_bytes(&s, it, major == 3);
    mpcbor_buf_head(b, major, s.len);
    mpcbor_buf_put(b, s.p, s.len);
    free(s.p);
}

/* Appends the key bytes of an item: two items are equal under mpipc's key
 * equality (docs/TYPES.md "Map keys": numbers by value, 1 == 1.0 ==
 * 2(h'01'), 0 == -0.0; booleans are not numbers; text by code points;
 * bytes bytewise; arrays element-wise; the TUPLE tag ignored) exactly when
 * these bytes are; the same bytes as the Rust crate's
 * mpipc::manager::cbor::key_bytes. */
static inline void mpcbor_key_bytes(mpcbor_buf *b, const cbor_item_t *it) {
    switch (cbor_typeof(it)) {
    case CBOR_TYPE_UINT:
        mpcbor_buf_head(b, 0, cbor_get_int(it));
        break;
    case CBOR_TYPE_NEGINT:
        mpcbor_buf_head(b, 1, cbor_get_int(it));
        break;
    case CBOR_TYPE_BYTESTRING:
        mpcbor_key_string(b, it, 2);
        break;
    case CBOR_TYPE_STRING:
        mpcbor_key_string(b, it, 3);
        break;
    case CBOR_TYPE_ARRAY: {
        cbor_item_t **items = cbor_array_handle(it);
        mpcbor_buf_head(b, 4, cbor_array_size(it));
        for (size_t i = 0; i < cbor_array_size(it); i++) mpcbor_key_bytes(b, items[i]);
        break;
    }
    case CBOR_TYPE_MAP: {
        struct cbor_pair *pairs = cbor_map_handle(it);
        mpcbor_buf_head(b, 5, cbor_map_size(it));
        for (size_t i = 0; i < cbor_map_size(it); i++) {
            mpcbor_key_bytes(b, pairs[i].key);
            mpcbor_key_bytes(b, pairs[i].value);
        }
        break;
    }
    case CBOR_TYPE_TAG: {
        uint64_t t = cbor_tag_value(it);
        cbor_item_t *c = cbor_tag_item(it); /* a new reference */
        if (t == MPCBOR_TAG_TUPLE) {
            mpcbor_key_bytes(b, c);
        } else if ((t == 2 || t == 3) && cbor_isa_bytestring(c)) {
            mpcbor_buf m = {0};
            mpcbor_string_bytes(&m, c, false);
            mpcbor_key_bignum(b, t == 3, m.p, m.len);
            free(m.p);
        } else {
            mpcbor_buf_head(b, 6, t);
            mpcbor_key_bytes(b, c);
        }
        cbor_decref(&c);
        break;
    }
    case CBOR_TYPE_FLOAT_CTRL:
        if (cbor_float_get_width(it) != CBOR_FLOAT_0) {
            mpcbor_key_double(b, cbor_float_get_float(it));
        } else {
            uint8_t v = cbor_ctrl_value(it);
            uint8_t h = v == CBOR_CTRL_FALSE ? 0xf4 : v == CBOR_CTRL_TRUE ? 0xf5 : 0xf6; /* undefined reads as null */
            mpcbor_buf_put(b, &h, 1);
        }
        break;
    }
}

/* A key's bytes inside mpcbor_buf, for sorting. */
typedef struct {
    const uint8_t *p;
    size_t n;
} mpcbor_span;

static inline int mpcbor_span_cmp(const void *x, const void *y) {
    const mpcbor_span *a = (const mpcbor_span *)x, *b = (const mpcbor_span *)y;
    int c = memcmp(a->p, b->p, a->n < b->n ? a->n : b->n);
    return c ? c : (a->n > b->n) - (a->n < b->n);
}

/* Whether a map's keys are all different under mpipc's key equality
 * (sorted key bytes: O(n log n)). */
static inline bool mpcbor_keys_distinct(const cbor_item_t *map) {
    size_t n = cbor_map_size(map);
    if (n < 2) return true;
    struct cbor_pair *pairs = cbor_map_handle(map);
    mpcbor_buf b = {0};
    size_t *at = (size_t *)malloc((n + 1) * sizeof *at);
    mpcbor_span *spans = (mpcbor_span *)malloc(n * sizeof *spans);
    if (at == NULL || spans == NULL) {
        fprintf(stderr, "mpcbor: out of memory\n");
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        at[i] = b.len;
        mpcbor_key_bytes(&b, pairs[i].key);
    }
    at[n] = b.len;
    for (size_t i = 0; i < n; i++) spans[i] = (mpcbor_span){b.p + at[i], at[i + 1] - at[i]};
    qsort(spans, n, sizeof *spans, mpcbor_span_cmp);
    bool ok = true;
    for (size_t i = 1; i < n && ok; i++) ok = mpcbor_span_cmp(&spans[i - 1], &spans[i]) != 0;
    free(spans);
    free(at);
    free(b.p);
    return ok;
}

/* The checks of docs/TYPES.md rule 6 that need the decoded item: tag 0
 * around a text, tag 1 around an integer or a float, tags 2 and 3 around
 * a byte string ("Times"); mpipc's TUPLE around an array, PICKLE around
 * bytes, REF around three texts; no map with two equal keys (rule 5). */
static inline bool mpcbor_check(const cbor_item_t *it) {
    switch (cbor_typeof(it)) {
    case CBOR_TYPE_ARRAY: {
        cbor_item_t **items = cbor_array_handle(it);
        for (size_t i = 0; i < cbor_array_size(it); i++)
            if (!mpcbor_check(items[i])) return false;
        return true;
    }
    case CBOR_TYPE_MAP: {
        struct cbor_pair *pairs = cbor_map_handle(it);
        for (size_t i = 0; i < cbor_map_size(it); i++)
            if (!mpcbor_check(pairs[i].key) || !mpcbor_check(pairs[i].value)) return false;
        return mpcbor_keys_distinct(it);
    }
    case CBOR_TYPE_TAG: {
        uint64_t t = cbor_tag_value(it);
        cbor_item_t *c = cbor_tag_item(it); /* a new reference */
        bool ok = true;
        if (t == 0) ok = cbor_isa_string(c);
        else if (t == 1) ok = cbor_isa_uint(c) || cbor_isa_negint(c) ||
                              (cbor_isa_float_ctrl(c) && cbor_float_get_width(c) != CBOR_FLOAT_0);
        else if (t == 2 || t == 3 || t == MPCBOR_TAG_PICKLE) ok = cbor_isa_bytestring(c);
        else if (t == MPCBOR_TAG_TUPLE) ok = cbor_isa_array(c);
        else if (t == MPCBOR_TAG_REF) {
            ok = cbor_isa_array(c) && cbor_array_size(c) == 3;
            for (size_t i = 0; ok && i < 3; i++) ok = cbor_isa_string(cbor_array_handle(c)[i]);
        }
        ok = ok && mpcbor_check(c);
        cbor_decref(&c);
        return ok;
    }
    default:
        return true;
    }
}

/* Decodes one whole message: the item (release it with cbor_decref), or
 * NULL when the bytes are not exactly one CBOR item valid under
 * docs/TYPES.md rule 6: well-formed within the limits of mpcbor_scan, no
 * trailing bytes, tags 0-3 and mpipc's tags around the right content, no
 * map with two equal keys (mpcbor_check). Tag 55799 is dropped wherever it
 * appears (its content in its place); tags 6 to 20, which libcbor 0.8
 * cannot read in their shortest form, are read all the same. */
static inline cbor_item_t *mpcbor_decode(const uint8_t *p, size_t n) {
    if (mpcbor_scan(p, p + n, 0) != p + n) return NULL; /* malformed, too deep, or trailing bytes */
    /* Every head of tag 55799 holds the bytes d9 f7 (shortest or not), a
     * head libcbor misreads is one byte 0xc6-0xd4 (mpcbor_scan_copy):
     * without those bytes there is nothing to rewrite, and libcbor reads p
     * itself; else it reads a copy (at most twice as long). */
    uint8_t *copy = NULL;
    size_t m = n;
    for (size_t i = 0; i < n; i++) {
        if ((p[i] >= 0xc6 && p[i] <= 0xd4) || (i + 1 < n && p[i] == 0xd9 && p[i + 1] == 0xf7)) {
            uint8_t *w = copy = (uint8_t *)malloc(2 * n);
            if (copy == NULL) {
                fprintf(stderr, "mpcbor: out of memory\n");
                abort();
            }
            mpcbor_scan_copy(p, p + n, 0, &w);
            m = (size_t)(w - copy);
            break;
        }
    }
    struct cbor_load_result r;
    cbor_item_t *item = cbor_load(copy ? copy : p, m, &r);
    free(copy);
    if (item != NULL && r.read != m) cbor_decref(&item); /* cannot happen after the scan; kept as a guard */
    if (item != NULL && !mpcbor_check(item)) cbor_decref(&item);
    return item;
}

/* The value at text key `key` of a map (borrowed: it lives as long as the
 * map), or NULL when `map` is not a map or has no such key. */
static inline cbor_item_t *mpcbor_get(const cbor_item_t *map, const char *key) {
    if (map == NULL || !cbor_isa_map(map)) return NULL;
    size_t klen = strlen(key);
    struct cbor_pair *pairs = cbor_map_handle(map);
    for (size_t i = 0; i < cbor_map_size(map); i++) {
        const cbor_item_t *k = pairs[i].key;
        if (cbor_isa_string(k) && cbor_string_is_definite(k) && cbor_string_length(k) == klen &&
            memcmp(cbor_string_handle(k), key, klen) == 0)
            return pairs[i].value;
    }
    return NULL;
}

/* Reads an integer item that fits int64_t (any head width); false if the
 * item is not one. */
static inline bool mpcbor_as_int(const cbor_item_t *item, int64_t *out) {
    if (item == NULL || !(cbor_isa_uint(item) || cbor_isa_negint(item))) return false;
    uint64_t arg = cbor_get_int(item);
    if (arg > INT64_MAX) return false;
    *out = cbor_isa_uint(item) ? (int64_t)arg : -1 - (int64_t)arg;
    return true;
}

/* Reads a float item of any width (half, single, double); false if the
 * item is not a float. */
static inline bool mpcbor_as_float(const cbor_item_t *item, double *out) {
    if (item == NULL || !cbor_isa_float_ctrl(item) || cbor_float_get_width(item) == CBOR_FLOAT_0) return false;
    *out = cbor_float_get_float(item);
    return true;
}

/* Whether the item is the definite text `want`. */
static inline bool mpcbor_text_is(const cbor_item_t *item, const char *want) {
    size_t n = strlen(want);
    return item != NULL && cbor_isa_string(item) && cbor_string_is_definite(item) &&
           cbor_string_length(item) == n && memcmp(cbor_string_handle(item), want, n) == 0;
}

/* The integer at text key `key` of the map; false if absent or not one. */
static inline bool mpcbor_get_int(const cbor_item_t *map, const char *key, int64_t *out) {
    return mpcbor_as_int(mpcbor_get(map, key), out);
}

#endif /* MPCBOR_H */
