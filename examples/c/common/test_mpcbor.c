/*
 * test_mpcbor.c: mpcbor.h's decoder against the shared vectors of
 * docs/TYPES.md (tests/vectors/cbor.json), as every binding's suite runs
 * them: every `valid` vector decodes (mpcbor_decode) and libcbor writes it
 * back to exactly its bytes (libcbor keeps the widths it read, and the
 * vectors are canonical); every `decode_only` and `times` vector decodes;
 * every `invalid` vector is refused, except the Python pickles (C passes
 * PICKLE through as a tagged item, as Rust does). Also: tag 55799 is
 * dropped, tags 6 to 20 read (libcbor 0.8 refuses their one-byte heads),
 * and key equality spans every number form.
 *
 *   test_mpcbor [tests/vectors/cbor.json]     (examples/c/run_all.sh runs it)
 *
 * The file is read as json.dump(indent=1) writes it: each section a
 * top-level key, each vector an object at indent 2 with a "hex" field.
 */
#include "mpcbor.h"

static int failures;

#define FAIL(...)                                                                                                      \
    do {                                                                                                               \
        fprintf(stderr, "test_mpcbor: FAIL: " __VA_ARGS__);                                                           \
        fputc('\n', stderr);                                                                                           \
        failures++;                                                                                                    \
    } while (0)

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s == NULL || fread(s, 1, (size_t)n, f) != (size_t)n) exit(2);
    s[n] = 0;
    fclose(f);
    return s;
}

/* Hex digits (spaces between bytes allowed) to bytes; returns the count. */
static size_t unhex(const char *h, size_t len, uint8_t *out) {
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        if (h[i] == ' ') {
            i++;
            continue;
        }
        unsigned v;
        if (i + 1 >= len || sscanf(h + i, "%2x", &v) != 1) exit(2);
        out[n++] = (uint8_t)v;
        i += 2;
    }
    return n;
}

/* Calls check(name, bytes, n, entry) for every vector of `section`. */
static int each(const char *doc, const char *section, void (*check)(const char *, const uint8_t *, size_t, const char *)) {
    char key[64];
    snprintf(key, sizeof key, "\n \"%s\": [", section);
    const char *p = strstr(doc, key);
    if (p == NULL) {
        FAIL("no section %s", section);
        return 0;
    }
    const char *end = strstr(p + strlen(key), "\n ]");
    int count = 0;
    while ((p = strstr(p, "\n  {\n")) != NULL && p < end) {
        const char *close = strstr(p, "\n  }");
        size_t elen = (size_t)(close - p);
        char *entry = malloc(elen + 1);
        memcpy(entry, p, elen);
        entry[elen] = 0;
        char name[256] = "?";
        const char *nm = strstr(entry, "\"name\": \"");
        if (nm) snprintf(name, sizeof name, "%.*s", (int)(strchr(nm + 9, '"') - (nm + 9)), nm + 9);
        const char *hx = strstr(entry, "\"hex\": \"");
        if (hx == NULL) {
            FAIL("%s: %s: no hex", section, name);
        } else {
            hx += 8;
            size_t hlen = (size_t)(strchr(hx, '"') - hx);
            uint8_t *bytes = malloc(hlen / 2 + 1);
            size_t n = unhex(hx, hlen, bytes);
            check(name, bytes, n, entry);
            free(bytes);
        }
        free(entry);
        count++;
        p = close;
    }
    return count;
}

static void valid(const char *name, const uint8_t *b, size_t n, const char *entry) {
    (void)entry;
    cbor_item_t *item = mpcbor_decode(b, n);
    if (item == NULL) {
        FAIL("valid %s: refused", name);
        return;
    }
    unsigned char *out = NULL;
    size_t len = mpcbor_encode(item, &out);
    if (len != n || memcmp(out, b, n) != 0) FAIL("valid %s: written back differently", name);
    free(out);
    cbor_decref(&item);
}

static void accepted(const char *name, const uint8_t *b, size_t n, const char *entry) {
    (void)entry;
    cbor_item_t *item = mpcbor_decode(b, n);
    if (item == NULL) FAIL("%s: refused", name);
    else cbor_decref(&item);
}

static void invalid(const char *name, const uint8_t *b, size_t n, const char *entry) {
    cbor_item_t *item = mpcbor_decode(b, n);
    bool pickle = strstr(entry, "\"pickle\":") != NULL;
    if (pickle && item == NULL) FAIL("invalid %s: a pickle, passed through by C, was refused", name);
    if (!pickle && item != NULL) FAIL("invalid %s: accepted", name);
    if (item) cbor_decref(&item);
}

/* decode(hex) is written as want (hex). */
static void decodes_as(const char *hex, const char *want) {
    uint8_t b[256], w[256];
    size_t n = unhex(hex, strlen(hex), b), m = unhex(want, strlen(want), w);
    cbor_item_t *item = mpcbor_decode(b, n);
    if (item == NULL) {
        FAIL("%s refused", hex);
        return;
    }
    unsigned char *out = NULL;
    size_t len = mpcbor_encode(item, &out);
    if (len != m || memcmp(out, w, m) != 0) FAIL("%s: written back differently, want %s", hex, want);
    free(out);
    cbor_decref(&item);
}

static void refused(const char *hex) {
    uint8_t b[256];
    size_t n = unhex(hex, strlen(hex), b);
    cbor_item_t *item = mpcbor_decode(b, n);
    if (item != NULL) {
        FAIL("%s accepted", hex);
        cbor_decref(&item);
    }
}

int main(int argc, char **argv) {
    char *doc = read_file(argc > 1 ? argv[1] : "tests/vectors/cbor.json");
    int nv = each(doc, "valid", valid);
    int nd = each(doc, "decode_only", accepted);
    int nt = each(doc, "times", accepted);
    int ni = each(doc, "invalid", invalid);
    free(doc);
    if (nv < 100 || nd < 10 || nt < 5 || ni < 40) FAIL("too few vectors: %d %d %d %d", nv, nd, nt, ni);
    /* Tag 55799 dropped, at the top, in an array, around a key, in a REF. */
    decodes_as("d9d9f7d9d9f701", "01");
    decodes_as("82d9d9f70102", "820102");
    decodes_as("a1d9d9f7616101", "a1616101");
    decodes_as("da6d707266d9d9f78360d9d9f76060", "da6d707266 83606060");
    /* Tags 6 to 20 in their one-byte heads (libcbor 0.8's decoder alone
     * refuses them), and a longer head for one written shortest. */
    decodes_as("c601", "c601");
    decodes_as("d81e 82 02 d204", "d81e 82 02 d204");
    decodes_as("d811 01", "d1 01");
    decodes_as("c6 a1 f4 a0", "c6 a1 f4 a0");
    /* Key equality on every number form: half and single floats, bignums
     * with leading zeros, floats beyond 64 bits, -2^64 both ways. */
    refused("a201 00 f93c00 01");
    refused("a2f93c0000fa3f80000001");
    refused("a2c2420001 00 01 01");
    refused("a2fb43f0000000000000 00 c249010000000000000000 01");
    refused("a2fbc3f0000000000000 00 3bffffffffffffffff 01");
    refused("a2fbc7f0000000000000 00 c350ffffffffffffffffffffffffffffffff 01");
    decodes_as("a2f5000101", "a2f5000101");                 /* true and 1: two keys */
    decodes_as("a2fb3ff8000000000000 00 01 01", "a2fb3ff800000000000000 0101");
    if (failures) {
        fprintf(stderr, "test_mpcbor: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_mpcbor: %d valid, %d decode_only, %d times, %d invalid vectors and the extra cases passed\n", nv, nd,
           nt, ni);
    return 0;
}
