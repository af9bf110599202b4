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
 *    before libcbor allocates anything (mpcbor_scan).
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

/* The end of the well-formed item at p (nested at most 128 deep, every
 * count and length within the bytes left), or NULL. Run before cbor_load
 * because libcbor 0.8 allocates what a head claims before it reads the
 * items: a 5-byte message claiming an array of 2^28 items costs 2 GiB
 * (docs/TYPES.md rule 6: never allocate more than the message implies),
 * and it accepts any depth. */
static inline const uint8_t *mpcbor_scan(const uint8_t *p, const uint8_t *end, int depth) {
    if (depth > 128 || p >= end) return NULL;
    uint8_t b = *p++;
    unsigned major = b >> 5, ai = b & 31;
    uint64_t arg = ai;
    if (ai >= 24 && ai <= 27) {
        size_t k = (size_t)1 << (ai - 24);
        if ((size_t)(end - p) < k) return NULL;
        arg = 0;
        for (size_t i = 0; i < k; i++) arg = arg << 8 | *p++;
    } else if (ai >= 28 && ai <= 30) {
        return NULL; /* reserved */
    } else if (ai == 31) { /* indefinite length, up to the break 0xff */
        if (major < 2 || major > 5) return NULL;
        while (p < end && *p != 0xff) {
            if (major <= 3 && ((*p >> 5) != major || (*p & 31) == 31)) return NULL; /* chunks: definite, same type */
            if (!(p = mpcbor_scan(p, end, depth + 1))) return NULL;
            if (major == 5 && !(p = mpcbor_scan(p, end, depth + 1))) return NULL;
        }
        return p < end ? p + 1 : NULL;
    }
    size_t left = (size_t)(end - p);
    switch (major) {
    case 2:
    case 3: /* byte and text strings: the bytes must be there */
        return arg <= left ? p + arg : NULL;
    case 4:
    case 5: { /* every item takes at least one byte */
        uint64_t items = major == 5 ? (arg <= left / 2 ? arg * 2 : UINT64_MAX) : arg;
        if (items > left) return NULL;
        for (uint64_t i = 0; i < items; i++)
            if (!(p = mpcbor_scan(p, end, depth + 1))) return NULL;
        return p;
    }
    case 6: /* a tag: its item follows */
        return mpcbor_scan(p, end, depth + 1);
    default: /* integers, simple values, floats: the head was all (libcbor refuses the bad simple values) */
        return p;
    }
}

/* Decodes one whole message: the item (release it with cbor_decref), or
 * NULL when the bytes are not exactly one well-formed CBOR item within the
 * limits of mpcbor_scan. */
static inline cbor_item_t *mpcbor_decode(const uint8_t *p, size_t n) {
    if (mpcbor_scan(p, p + n, 0) != p + n) return NULL; /* malformed, too deep, or trailing bytes */
    struct cbor_load_result r;
    cbor_item_t *item = cbor_load(p, n, &r);
    if (item != NULL && r.read != n) cbor_decref(&item); /* cannot happen after the scan; kept as a guard */
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
