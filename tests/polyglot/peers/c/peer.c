/*
 * The C peer of the cross-language end-to-end tests (tests/polyglot/PEERS.md).
 *
 *   peer [--json] <send|recv> <queue|pipe|listener|manager|array|lock> <name> <vectors.json>
 *
 * With --json (queue only; test_e2e.py's test_object, the sender or
 * receiver "cjson"), the peer goes through the C ABI's JSON bridge instead
 * of libcbor: the sender puts each vector's `json` text with mpq_put_json,
 * the receiver gets each message with mpq_get_json and compares the text
 * with `json` (the bridge's compact form), then converts it back with
 * mp_json_to_cbor, which must give `hex`.
 *
 * Uses include/mpipc.h and libcbor (Debian's libcbor-dev), C's CBOR
 * library in this project (docs/TYPES.md, the "C (libcbor)" column): "the
 * native value" of a vector is a libcbor item (cbor_item_t). The sender
 * builds each vector's item from its description (`value`) with libcbor's
 * builders (integers in the shortest head, floats 64-bit, definite
 * lengths, bignums beyond 64 bits as tags 2/3, TUPLE and REF as the tagged
 * items they are) and sends what cbor_serialize_alloc writes. The receiver
 * compares the raw bytes with `hex`, decodes them with cbor_load into an
 * item, compares that item with the one built from the description, and
 * re-encodes it, which must give `hex` again. Every CBOR byte this peer
 * writes (the manager dict keys and the argument arrays included) comes
 * from libcbor.
 *
 * Prints READY (one line) on stdout once its object is open; diagnostics go
 * to stderr; exit 0 only if every check passed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cbor.h>

#include "mpipc.h"
/* mpcbor_decode: the checked decode the C examples document (rule 6 before
 * cbor_load allocates), used by the differential echo. */
#include "../../../../examples/c/common/mpcbor.h"

static const uint8_t AUTHKEY[] = "polyglot";
#define AUTHKEY_LEN 8
#define TIMEOUT_MS 10000

static int g_failed;

static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "c peer: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    g_failed++;
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "c peer: fatal: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void die_st(const char *what, mp_status st) {
    die("%s: %s (%s)", what, mp_status_str(st), mp_last_error());
}

static void ready(void) {
    fputs("READY\n", stdout);
    fflush(stdout);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- the vectors file: a minimal JSON reader (names and hex only) ---- */

typedef struct {
    char *name;
    char *hex; /* what the sender wrote: hex, or hex_plain from Go and Node */
    char *hex_plain; /* a Python tuple as the plain array (NULL: the value holds no tuple) */
    uint8_t *bytes;
    size_t len;
    cbor_item_t *item; /* the described value (every TUPLE an array when the sender is Go or Node) */
    char *json; /* the value as the JSON bridge writes it (NULL: the vector has no `json`; --json needs it) */
    int skip;   /* left out of this exchange by both peers (see skipped()) */
} vector;

/* The primitive of this run (argv[2]): the manager leaves out the deepest vectors. */
static const char *g_prim = "";

/* Whether the sender (MPIPC_E2E_SENDER) writes a Python tuple as the plain
 * array (PEERS.md): Go and Node. */
static int sender_is_plain(void) {
    const char *sender = getenv("MPIPC_E2E_SENDER");
    return sender && (strcmp(sender, "go") == 0 || strcmp(sender, "node") == 0);
}

static vector *g_vec;
static size_t g_nvec;

static const char *ws(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return p;
}

static void put_utf8(char **o, char *end, unsigned cp) {
    char tmp[4];
    int n;
    if (cp < 0x80) {
        tmp[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        tmp[0] = (char)(0xc0 | (cp >> 6));
        tmp[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        tmp[0] = (char)(0xe0 | (cp >> 12));
        tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        tmp[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        tmp[0] = (char)(0xf0 | (cp >> 18));
        tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        tmp[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    for (int i = 0; i < n && *o < end; i++)
        *(*o)++ = tmp[i];
}

static unsigned hex4(const char *p) {
    unsigned cp;
    if (sscanf(p, "%4x", &cp) != 1)
        die("vectors: bad \\u escape");
    return cp;
}

/* Reads a JSON string at p (which is at the opening quote); a copy, with
 * escapes decoded (a surrogate pair as its code point; NUL-terminated, and
 * its length in *len since the text may hold a NUL), goes to *out when out
 * is not NULL. Returns the position after the closing quote. */
static const char *json_string_n(const char *p, char **out, size_t *len) {
    if (*p != '"')
        die("vectors: string expected at \"%.20s\"", p);
    p++;
    size_t cap = strlen(p) + 1;
    char *buf = out ? malloc(cap) : NULL, *o = buf, *end = buf ? buf + cap - 1 : NULL;
    while (*p && *p != '"') {
        if (*p == '\\') {
            p++;
            unsigned cp;
            switch (*p) {
            case 'n': cp = '\n'; break;
            case 't': cp = '\t'; break;
            case 'r': cp = '\r'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'u':
                cp = hex4(p + 1);
                p += 4;
                if (cp >= 0xd800 && cp < 0xdc00 && p[1] == '\\' && p[2] == 'u') {
                    unsigned lo = hex4(p + 3);
                    if (lo >= 0xdc00 && lo < 0xe000) {
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        p += 6;
                    }
                }
                break;
            default: cp = (unsigned char)*p;
            }
            if (buf)
                put_utf8(&o, end, cp);
            p++;
        } else {
            if (buf && o < end)
                *o++ = *p;
            p++;
        }
    }
    if (*p != '"')
        die("vectors: unterminated string");
    if (buf) {
        *o = 0;
        *out = buf;
        if (len)
            *len = (size_t)(o - buf);
    }
    return p + 1;
}

static const char *json_string(const char *p, char **out) { return json_string_n(p, out, NULL); }

static const char *json_skip(const char *p) {
    p = ws(p);
    if (*p == '"')
        return json_string(p, NULL);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = ws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (close == '}') {
                p = ws(json_string(ws(p), NULL));
                if (*p != ':')
                    die("vectors: ':' expected");
                p++;
            }
            p = ws(json_skip(p));
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p != close)
                die("vectors: '%c' expected at \"%.20s\"", close, p);
            return p + 1;
        }
    }
    while (*p && !strchr(",]} \n\r\t", *p)) /* number, true, false, null */
        p++;
    return p;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    die("vectors: bad hex digit %c", c);
    return 0;
}

/* ---- a vector's description (`value`) as a libcbor item ---- */

#define TAG_TUPLE 0x6d707475u
#define TAG_REF 0x6d707266u

/* libcbor returns NULL only when malloc fails. */
static cbor_item_t *ok(cbor_item_t *item) {
    if (!item)
        die("libcbor: out of memory");
    return item;
}

/* An unsigned integer in the shortest head (docs/TYPES.md rule 3): libcbor
 * writes an integer in the width it was built with, so the width follows
 * the value (uint8 covers 0..23 in the head byte itself, and 24..255). */
static cbor_item_t *build_uint(uint64_t v) {
    if (v <= UINT8_MAX)
        return ok(cbor_build_uint8((uint8_t)v));
    if (v <= UINT16_MAX)
        return ok(cbor_build_uint16((uint16_t)v));
    if (v <= UINT32_MAX)
        return ok(cbor_build_uint32((uint32_t)v));
    return ok(cbor_build_uint64(v));
}

/* A negative integer -1 - arg, in the shortest head. */
static cbor_item_t *build_negint(uint64_t arg) {
    if (arg <= UINT8_MAX)
        return ok(cbor_build_negint8((uint8_t)arg));
    if (arg <= UINT16_MAX)
        return ok(cbor_build_negint16((uint16_t)arg));
    if (arg <= UINT32_MAX)
        return ok(cbor_build_negint32((uint32_t)arg));
    return ok(cbor_build_negint64(arg));
}

/* {int: "<decimal>"}: major type 0/1 within 64 bits, else a bignum (tag 2
 * for n, tag 3 for -1 - n, the magnitude big-endian without leading
 * zeros). The decimal is converted to base 256 digit by digit. */
static cbor_item_t *build_int(const char *dec) {
    int neg = *dec == '-';
    const char *d = dec + neg;
    uint8_t mag[64] = {0}; /* big-endian, fixed width */
    size_t w = sizeof mag;
    if (!*d)
        die("vectors: empty integer");
    for (; *d; d++) {
        if (*d < '0' || *d > '9')
            die("vectors: bad integer %s", dec);
        unsigned carry = (unsigned)(*d - '0');
        for (size_t i = w; i-- > 0;) {
            unsigned x = mag[i] * 10u + carry;
            mag[i] = (uint8_t)x;
            carry = x >> 8;
        }
        if (carry)
            die("vectors: integer %s too large", dec);
    }
    if (neg) { /* the argument of a negative integer: magnitude - 1 */
        for (size_t i = w; i-- > 0;)
            if (mag[i]-- != 0)
                break;
    }
    size_t lead = 0;
    while (lead < w && mag[lead] == 0)
        lead++;
    if (w - lead <= 8) {
        uint64_t v = 0;
        for (size_t i = lead; i < w; i++)
            v = v << 8 | mag[i];
        return neg ? build_negint(v) : build_uint(v);
    }
    cbor_item_t *bytes = ok(cbor_build_bytestring(mag + lead, w - lead));
    cbor_item_t *tag = ok(cbor_build_tag(neg ? 3 : 2, bytes));
    cbor_decref(&bytes); /* the tag holds its own reference */
    return tag;
}

static const char *parse_desc(const char *p, cbor_item_t **out, int plain);

/* [v, ...] as a definite array. */
static const char *parse_desc_array(const char *p, cbor_item_t **out, int plain) {
    cbor_item_t *items[64];
    size_t n = 0;
    p = ws(p);
    if (*p != '[')
        die("vectors: array expected at \"%.20s\"", p);
    p = ws(p + 1);
    while (*p != ']') {
        if (n == 64)
            die("vectors: array too long");
        p = ws(parse_desc(p, &items[n++], plain));
        if (*p == ',')
            p = ws(p + 1);
    }
    cbor_item_t *a = ok(cbor_new_definite_array(n));
    for (size_t i = 0; i < n; i++)
        if (!cbor_array_push(a, cbor_move(items[i]))) /* the array takes the reference */
            die("libcbor: cbor_array_push");
    *out = a;
    return p + 1;
}

/* Wraps `item` in tag `tag`, giving up our reference to it. */
static cbor_item_t *tagged(uint64_t tag, cbor_item_t *item) {
    cbor_item_t *t = ok(cbor_build_tag(tag, item));
    cbor_decref(&item);
    return t;
}

/* Parses one description (the grammar of the vectors file's `about`) into
 * a new libcbor item. With `plain`, a {tuple} is the plain array. */
static const char *parse_desc(const char *p, cbor_item_t **out, int plain) {
    p = ws(p);
    if (*p != '{')
        die("vectors: description expected at \"%.20s\"", p);
    p = ws(p + 1);
    cbor_item_t *item = NULL, *tag_content = NULL;
    uint64_t tag = 0;
    int has_tag = 0;
    long nest = -1; /* {nest: k, [tag: n,] value: v}: k arrays (or tags n) around v */
    while (*p != '}') {
        char *key;
        p = ws(json_string(p, &key));
        if (*p != ':')
            die("vectors: ':' expected");
        p = ws(p + 1);
        if (strcmp(key, "null") == 0) {
            p = json_skip(p);
            item = ok(cbor_new_null());
        } else if (strcmp(key, "bool") == 0) {
            item = ok(cbor_build_bool(strncmp(p, "true", 4) == 0));
            p = json_skip(p);
        } else if (strcmp(key, "int") == 0) {
            char *dec;
            p = json_string(p, &dec);
            item = build_int(dec);
            free(dec);
        } else if (strcmp(key, "float") == 0) {
            double d;
            if (*p == '"') { /* "inf", "-inf", "-0.0", "nan" (glibc's strtod: the quiet NaN 0x7ff8000000000000) */
                char *s;
                p = json_string(p, &s);
                d = strtod(s, NULL);
                free(s);
            } else {
                char *end;
                d = strtod(p, &end); /* glibc's strtod rounds correctly: the same double as the writer's */
                p = end;
            }
            item = ok(cbor_build_float8(d)); /* always 64-bit (rule 2) */
        } else if (strcmp(key, "text") == 0) {
            char *s;
            size_t n;
            p = json_string_n(p, &s, &n);
            item = ok(cbor_build_stringn(s, n));
            free(s);
        } else if (strcmp(key, "bytes") == 0) {
            char *h;
            p = json_string(p, &h);
            size_t n = strlen(h) / 2;
            uint8_t *b = malloc(n ? n : 1);
            for (size_t i = 0; i < n; i++)
                b[i] = (uint8_t)(hexval(h[2 * i]) << 4 | hexval(h[2 * i + 1]));
            item = ok(cbor_build_bytestring(b, n));
            free(b);
            free(h);
        } else if (strcmp(key, "array") == 0) {
            p = parse_desc_array(p, &item, plain);
        } else if (strcmp(key, "tuple") == 0) {
            p = parse_desc_array(p, &item, plain);
            if (!plain)
                item = tagged(TAG_TUPLE, item);
        } else if (strcmp(key, "ref") == 0) {
            p = ws(p);
            if (*p != '[')
                die("vectors: ref: array expected");
            p = ws(p + 1);
            cbor_item_t *a = ok(cbor_new_definite_array(3));
            while (*p != ']') {
                char *s;
                size_t n;
                p = ws(json_string_n(p, &s, &n));
                if (!cbor_array_push(a, cbor_move(ok(cbor_build_stringn(s, n)))))
                    die("vectors: ref with more than 3 texts");
                free(s);
                if (*p == ',')
                    p = ws(p + 1);
            }
            p++;
            item = tagged(TAG_REF, a);
        } else if (strcmp(key, "map") == 0) {
            struct cbor_pair pairs[64];
            size_t n = 0;
            if (*p != '[')
                die("vectors: map: array expected");
            p = ws(p + 1);
            while (*p != ']') {
                if (n == 64 || *p != '[')
                    die("vectors: map: too long, or an entry is not [k, v]");
                p = ws(parse_desc(p + 1, &pairs[n].key, plain));
                if (*p != ',')
                    die("vectors: map entry: ',' expected");
                p = ws(parse_desc(p + 1, &pairs[n].value, plain));
                if (*p != ']')
                    die("vectors: map entry: ']' expected");
                n++;
                p = ws(p + 1);
                if (*p == ',')
                    p = ws(p + 1);
            }
            p++;
            item = ok(cbor_new_definite_map(n));
            for (size_t i = 0; i < n; i++) /* the map takes both references */
                if (!cbor_map_add(item, (struct cbor_pair){.key = cbor_move(pairs[i].key),
                                                          .value = cbor_move(pairs[i].value)}))
                    die("libcbor: cbor_map_add");
        } else if (strcmp(key, "tag") == 0) {
            char *end;
            tag = strtoull(p, &end, 10);
            p = end;
            has_tag = 1;
        } else if (strcmp(key, "value") == 0) {
            p = parse_desc(p, &tag_content, plain);
        } else if (strcmp(key, "nest") == 0) {
            char *end;
            nest = strtol(p, &end, 10);
            p = end;
        } else if (strcmp(key, "generic") == 0) { /* C has no time type: every tag is a tagged item */
            p = json_skip(p);
        } else {
            die("vectors: unknown description key %s", key);
        }
        free(key);
        p = ws(p);
        if (*p == ',')
            p = ws(p + 1);
    }
    if (nest >= 0) {
        if (!tag_content)
            die("vectors: {nest} without value");
        for (item = tag_content; nest > 0; nest--) {
            if (has_tag) {
                item = tagged(tag, item);
            } else {
                cbor_item_t *a = ok(cbor_new_definite_array(1));
                if (!cbor_array_push(a, cbor_move(item)))
                    die("libcbor: cbor_array_push");
                item = a;
            }
        }
    } else if (has_tag) {
        if (!tag_content)
            die("vectors: {tag} without value");
        item = tagged(tag, tag_content);
    }
    if (!item)
        die("vectors: empty description");
    *out = item;
    return p + 1;
}

/* The depth of the deepest item of `it` (docs/TYPES.md D3: the top item is
 * at depth 0, an item inside an array, a map or a tag one deeper). */
static size_t item_depth(cbor_item_t *it) {
    size_t d = 0;
    if (cbor_isa_array(it)) {
        for (size_t i = 0; i < cbor_array_size(it); i++) {
            size_t c = 1 + item_depth(cbor_array_handle(it)[i]);
            d = c > d ? c : d;
        }
    } else if (cbor_isa_map(it)) {
        for (size_t i = 0; i < cbor_map_size(it); i++) {
            size_t k = 1 + item_depth(cbor_map_handle(it)[i].key), x = 1 + item_depth(cbor_map_handle(it)[i].value);
            d = k > d ? k : d;
            d = x > d ? x : d;
        }
    } else if (cbor_isa_tag(it)) {
        cbor_item_t *c = cbor_tag_item(it); /* a new reference */
        d = 1 + item_depth(c);
        cbor_decref(&c);
    }
    return d;
}

/* Whether `it` (built with every tuple a TUPLE tag) holds an untagged array
 * (an {array}) inside a map key: Python cannot send that value (a key's
 * list is a tuple there, written with the TUPLE tag). */
static int array_in_key(cbor_item_t *it, int in_key) {
    int found = 0;
    if (cbor_isa_array(it)) {
        found = in_key;
        for (size_t i = 0; !found && i < cbor_array_size(it); i++)
            found = array_in_key(cbor_array_handle(it)[i], in_key);
    } else if (cbor_isa_map(it)) {
        for (size_t i = 0; !found && i < cbor_map_size(it); i++)
            found = array_in_key(cbor_map_handle(it)[i].key, 1) || array_in_key(cbor_map_handle(it)[i].value, in_key);
    } else if (cbor_isa_tag(it)) {
        cbor_item_t *c = cbor_tag_item(it);
        if (cbor_tag_value(it) == TAG_TUPLE && cbor_isa_array(c)) /* a {tuple}: its items, not the array */
            for (size_t i = 0; !found && i < cbor_array_size(c); i++)
                found = array_in_key(cbor_array_handle(c)[i], in_key);
        else
            found = array_in_key(c, in_key);
        cbor_decref(&c);
    }
    return found;
}

/* Reads a JSON array of texts (a vector's refused_by): whether it holds
 * the sender's language, and dies if it holds "c" (this peer has no check
 * of a refusal: no vector asks one of C). */
static const char *json_refused_by(const char *p, int *by_sender) {
    const char *sender = getenv("MPIPC_E2E_SENDER");
    if (*p != '[')
        die("vectors: refused_by: array expected");
    p = ws(p + 1);
    while (*p != ']') {
        char *b;
        p = ws(json_string(p, &b));
        if (strcmp(b, "c") == 0)
            die("vectors: a vector refused by C (refused_by): this peer does not check refusals");
        if (sender && strcmp(b, sender) == 0)
            *by_sender = 1;
        free(b);
        if (*p == ',')
            p = ws(p + 1);
    }
    return p + 1;
}

/* Skips a vector's reencoded object; dies if it names "c" (libcbor writes
 * back what it read: no vector says otherwise). */
static const char *json_reencoded(const char *p) {
    if (*p != '{')
        die("vectors: reencoded: object expected");
    p = ws(p + 1);
    while (*p != '}') {
        char *b;
        p = ws(json_string(p, &b));
        if (strcmp(b, "c") == 0)
            die("vectors: a vector re-encoded otherwise by C (reencoded): this peer does not check that");
        free(b);
        p = ws(json_skip(ws(p + 1)));
        if (*p == ',')
            p = ws(p + 1);
    }
    return p + 1;
}

static const char *json_vector(const char *p, vector *v) {
    memset(v, 0, sizeof *v);
    const char *desc = NULL;
    int by_sender = 0;
    p = ws(p);
    if (*p != '{')
        die("vectors: object expected in \"valid\"");
    p = ws(p + 1);
    while (*p != '}') {
        char *key;
        p = ws(json_string(p, &key));
        if (*p != ':')
            die("vectors: ':' expected");
        p = ws(p + 1);
        if (strcmp(key, "name") == 0)
            p = json_string(p, &v->name);
        else if (strcmp(key, "hex") == 0)
            p = json_string(p, &v->hex);
        else if (strcmp(key, "hex_plain") == 0)
            p = json_string(p, &v->hex_plain);
        else if (strcmp(key, "json") == 0)
            p = json_string(p, &v->json);
        else if (strcmp(key, "value") == 0)
            p = parse_desc(desc = p, &v->item, sender_is_plain());
        else if (strcmp(key, "refused_by") == 0)
            p = json_refused_by(p, &by_sender);
        else if (strcmp(key, "reencoded") == 0)
            p = json_reencoded(p);
        else
            p = json_skip(p);
        free(key);
        p = ws(p);
        if (*p == ',')
            p = ws(p + 1);
    }
    if (!v->name || !v->hex || !v->item)
        die("vectors: a valid vector without name, hex or value");
    /* Left out by both peers alike (PEERS.md, "Vectors a peer leaves out"):
     * the sender's binding refuses it (it cannot build the value), Python
     * sends an {array} map key, or the manager carries a value too deep to
     * sit in a call's argument array (D3's limit is 128). Depth and keys
     * are those of the description, every tuple its TUPLE tag. */
    cbor_item_t *tagged_item;
    parse_desc(desc, &tagged_item, 0);
    const char *sender = getenv("MPIPC_E2E_SENDER");
    v->skip = by_sender || (sender && strcmp(sender, "python") == 0 && array_in_key(tagged_item, 0)) ||
              (strcmp(g_prim, "manager") == 0 && item_depth(tagged_item) >= 128);
    cbor_decref(&tagged_item);
    /* Go and Node write a Python tuple as the plain array (PEERS.md); the
     * driver names the sender in MPIPC_E2E_SENDER. C itself keeps the
     * TUPLE tag (a tagged item) and sends hex. */
    if (v->hex_plain && sender_is_plain())
        v->hex = v->hex_plain;
    size_t n = strlen(v->hex) / 2;
    v->bytes = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        v->bytes[i] = (uint8_t)(hexval(v->hex[2 * i]) << 4 | hexval(v->hex[2 * i + 1]));
    v->len = n;
    return p + 1;
}

static void load_vectors(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    if (fread(text, 1, (size_t)size, f) != (size_t)size)
        die("cannot read %s", path);
    text[size] = 0;
    fclose(f);

    const char *p = ws(text);
    if (*p != '{')
        die("vectors: top-level object expected");
    p = ws(p + 1);
    while (*p && *p != '}') {
        char *key;
        p = ws(json_string(p, &key));
        if (*p != ':')
            die("vectors: ':' expected");
        p = ws(p + 1);
        if (strcmp(key, "valid") == 0) {
            if (*p != '[')
                die("vectors: \"valid\" is not an array");
            p = ws(p + 1);
            size_t cap = 64;
            g_vec = malloc(cap * sizeof *g_vec);
            while (*p != ']') {
                if (g_nvec == cap)
                    g_vec = realloc(g_vec, (cap *= 2) * sizeof *g_vec);
                p = ws(json_vector(p, &g_vec[g_nvec]));
                if (g_vec[g_nvec].skip)
                    cbor_decref(&g_vec[g_nvec].item); /* the rest is not freed: one load a run */
                else
                    g_nvec++;
                if (*p == ',')
                    p = ws(p + 1);
            }
            p++;
        } else {
            p = json_skip(p);
        }
        free(key);
        p = ws(p);
        if (*p == ',')
            p = ws(p + 1);
    }
    free(text);
    if (g_nvec == 0)
        die("vectors: no valid vector in %s", path);
}

/* ---- checks ---- */

static void print_hex(char *out, size_t cap, const uint8_t *b, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 3 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%02x", b[i]);
    if (o < cap)
        out[o] = 0;
}

/* Whether two libcbor items are the same value: types, integer values,
 * float bits and width, text and bytes, array and map order, tag numbers.
 * Strings are compared as definite (the only ones the valid vectors hold). */
static int item_equal(const cbor_item_t *a, const cbor_item_t *b) {
    if (cbor_typeof(a) != cbor_typeof(b))
        return 0;
    switch (cbor_typeof(a)) {
    case CBOR_TYPE_UINT:
    case CBOR_TYPE_NEGINT:
        return cbor_get_int(a) == cbor_get_int(b);
    case CBOR_TYPE_BYTESTRING:
        return cbor_bytestring_is_definite(a) && cbor_bytestring_is_definite(b) &&
               cbor_bytestring_length(a) == cbor_bytestring_length(b) &&
               memcmp(cbor_bytestring_handle(a), cbor_bytestring_handle(b), cbor_bytestring_length(a)) == 0;
    case CBOR_TYPE_STRING:
        return cbor_string_is_definite(a) && cbor_string_is_definite(b) &&
               cbor_string_length(a) == cbor_string_length(b) &&
               memcmp(cbor_string_handle(a), cbor_string_handle(b), cbor_string_length(a)) == 0;
    case CBOR_TYPE_ARRAY:
        if (cbor_array_size(a) != cbor_array_size(b))
            return 0;
        for (size_t i = 0; i < cbor_array_size(a); i++)
            if (!item_equal(cbor_array_handle(a)[i], cbor_array_handle(b)[i]))
                return 0;
        return 1;
    case CBOR_TYPE_MAP:
        if (cbor_map_size(a) != cbor_map_size(b))
            return 0;
        for (size_t i = 0; i < cbor_map_size(a); i++)
            if (!item_equal(cbor_map_handle(a)[i].key, cbor_map_handle(b)[i].key) ||
                !item_equal(cbor_map_handle(a)[i].value, cbor_map_handle(b)[i].value))
                return 0;
        return 1;
    case CBOR_TYPE_TAG: {
        if (cbor_tag_value(a) != cbor_tag_value(b))
            return 0;
        cbor_item_t *ia = cbor_tag_item(a), *ib = cbor_tag_item(b); /* increfs */
        int eq = item_equal(ia, ib);
        cbor_decref(&ia);
        cbor_decref(&ib);
        return eq;
    }
    case CBOR_TYPE_FLOAT_CTRL: {
        if (cbor_float_get_width(a) != cbor_float_get_width(b))
            return 0;
        if (cbor_float_ctrl_is_ctrl(a))
            return cbor_ctrl_value(a) == cbor_ctrl_value(b);
        double da = cbor_float_get_float(a), db = cbor_float_get_float(b);
        return memcmp(&da, &db, sizeof da) == 0; /* bits: -0.0 and NaN exactly */
    }
    }
    return 0;
}

/* What a message holds for vector v: its canonical bytes (`hex`); decoded
 * with cbor_load, the described value; re-encoded with libcbor, `hex`
 * again. */
static void check_bytes(const char *where, const vector *v, const uint8_t *got, size_t n) {
    if (n != v->len || memcmp(got, v->bytes, n) != 0) {
        char buf[512];
        print_hex(buf, sizeof buf, got, n);
        fail("%s: vector %s: got bytes %s, want %s", where, v->name, buf, v->hex);
    }
    struct cbor_load_result res;
    cbor_item_t *item = cbor_load(got, n, &res);
    if (!item) {
        fail("%s: vector %s: cbor_load refused it (error %d at byte %zu)", where, v->name, (int)res.error.code,
             res.error.position);
        return;
    }
    if (res.read != n)
        fail("%s: vector %s: cbor_load read %zu of %zu bytes", where, v->name, res.read, n);
    if (!item_equal(item, v->item))
        fail("%s: vector %s: decoded item differs from the described value", where, v->name);
    unsigned char *re;
    size_t cap, rl = cbor_serialize_alloc(item, &re, &cap);
    if (rl != v->len || memcmp(re, v->bytes, rl) != 0) {
        char buf[512];
        print_hex(buf, sizeof buf, re, rl);
        fail("%s: vector %s: re-encoded as %s, want %s", where, v->name, buf, v->hex);
    }
    free(re);
    cbor_decref(&item);
}

/* The bytes to send for vector v: its described item, encoded by libcbor
 * (malloc'ed; *len set). */
static unsigned char *encode_vector(const vector *v, size_t *len) {
    unsigned char *buf;
    size_t cap;
    *len = cbor_serialize_alloc(v->item, &buf, &cap);
    if (*len == 0)
        die("libcbor: cannot encode vector %s", v->name);
    return buf;
}

/* ---- primitives ---- */

static void queue_send(const char *name) {
    mpq *q;
    mp_status st = mpq_open(name, NULL, &q);
    if (st)
        die_st("mpq_open", st);
    ready();
    for (size_t i = 0; i < g_nvec; i++) {
        size_t len;
        unsigned char *b = encode_vector(&g_vec[i], &len);
        if ((st = mpq_put_timeout(q, b, len, TIMEOUT_MS)))
            die_st(g_vec[i].name, st);
        free(b);
    }
    mpq_close(q);
}

static void queue_recv(const char *name) {
    mpq *q;
    mp_status st = mpq_open(name, NULL, &q);
    if (st)
        die_st("mpq_open", st);
    ready();
    for (size_t i = 0; i < g_nvec; i++) {
        mp_buf m;
        if ((st = mpq_get_timeout(q, &m, TIMEOUT_MS)))
            die("queue get of vector %s: %s (%s)", g_vec[i].name, mp_status_str(st), mp_last_error());
        check_bytes("queue", &g_vec[i], m.ptr, m.len);
        mp_buf_free(&m);
    }
    size_t n;
    if ((st = mpq_qsize(q, &n)))
        die_st("mpq_qsize", st);
    if (n != 0)
        fail("queue: %zu messages left after the last vector", n);
    mpq_close(q);
}

/* --json: the queue exchange through the JSON bridge (the header comment). */
static void queue_send_json(const char *name) {
    mpq *q;
    mp_status st = mpq_open(name, NULL, &q);
    if (st)
        die_st("mpq_open", st);
    ready();
    for (size_t i = 0; i < g_nvec; i++)
        if ((st = mpq_put_json_timeout(q, g_vec[i].json, TIMEOUT_MS)))
            die_st(g_vec[i].name, st);
    mpq_close(q);
}

static void queue_recv_json(const char *name) {
    mpq *q;
    mp_status st = mpq_open(name, NULL, &q);
    if (st)
        die_st("mpq_open", st);
    ready();
    for (size_t i = 0; i < g_nvec; i++) {
        const vector *v = &g_vec[i];
        char *json;
        if ((st = mpq_get_json(q, &json, TIMEOUT_MS)))
            die("queue get (JSON) of vector %s: %s (%s)", v->name, mp_status_str(st), mp_last_error());
        if (strcmp(json, v->json) != 0)
            fail("queue (JSON): vector %s: got %s, want %s", v->name, json, v->json);
        mp_buf b;
        if ((st = mp_json_to_cbor(json, strlen(json), &b))) {
            fail("queue (JSON): vector %s: mp_json_to_cbor of what mpq_get_json gave: %s (%s)", v->name,
                 mp_status_str(st), mp_last_error());
        } else {
            if (b.len != v->len || memcmp(b.ptr, v->bytes, b.len) != 0) {
                char buf[512];
                print_hex(buf, sizeof buf, b.ptr, b.len);
                fail("queue (JSON): vector %s: back to CBOR as %s, want %s", v->name, buf, v->hex);
            }
            mp_buf_free(&b);
        }
        mp_json_free(json);
    }
    size_t n;
    if ((st = mpq_qsize(q, &n)))
        die_st("mpq_qsize", st);
    if (n != 0)
        fail("queue (JSON): %zu messages left after the last vector", n);
    mpq_close(q);
}

static int env_fd(void) {
    const char *s = getenv("MPIPC_E2E_FD");
    if (!s || !*s)
        die("MPIPC_E2E_FD is not set");
    return atoi(s);
}

static void send_all(mp_pipe *c, const char *what) {
    for (size_t i = 0; i < g_nvec; i++) {
        size_t len;
        unsigned char *b = encode_vector(&g_vec[i], &len);
        mp_status st = mp_pipe_send(c, b, len);
        if (st)
            die("%s send of vector %s: %s (%s)", what, g_vec[i].name, mp_status_str(st), mp_last_error());
        free(b);
    }
}

static void recv_all(mp_pipe *c, const char *what) {
    for (size_t i = 0; i < g_nvec; i++) {
        mp_buf m;
        mp_status st = mp_pipe_recv_timeout(c, &m, TIMEOUT_MS);
        if (st)
            die("%s recv of vector %s: %s (%s)", what, g_vec[i].name, mp_status_str(st), mp_last_error());
        check_bytes(what, &g_vec[i], m.ptr, m.len);
        mp_buf_free(&m);
    }
    mp_buf m;
    mp_status st = mp_pipe_recv_timeout(c, &m, TIMEOUT_MS);
    if (st == MP_OK) {
        char buf[256];
        print_hex(buf, sizeof buf, m.ptr, m.len);
        fail("%s: a message after the last vector: %s", what, buf);
        mp_buf_free(&m);
    } else if (st != MP_E_EOF) {
        fail("%s: after the last vector: %s, want MP_E_EOF", what, mp_status_str(st));
    }
}

static void pipe_role(int send) {
    mp_pipe *c;
    mp_status st = mp_pipe_from_fd(env_fd(), &c);
    if (st)
        die_st("mp_pipe_from_fd", st);
    ready();
    if (send)
        send_all(c, "pipe");
    else
        recv_all(c, "pipe");
    mp_pipe_close(c);
}

static void listener_role(int send, const char *name) {
    char addr[256];
    snprintf(addr, sizeof addr, "unix:/tmp/%s.sock", name);
    mp_status st;
    if (!send) {
        mp_listener *l;
        if ((st = mp_listener_bind(addr, AUTHKEY, AUTHKEY_LEN, &l)))
            die_st("mp_listener_bind", st);
        ready();
        mp_pipe *c;
        if ((st = mp_listener_accept(l, TIMEOUT_MS, &c)))
            die_st("mp_listener_accept", st);
        recv_all(c, "listener");
        mp_pipe_close(c);
        mp_listener_close(l);
        return;
    }
    mp_pipe *c = NULL;
    int64_t deadline = now_ms() + 5000;
    for (;;) {
        st = mp_pipe_connect(addr, AUTHKEY, AUTHKEY_LEN, TIMEOUT_MS, &c);
        if (st == MP_OK)
            break;
        if (now_ms() >= deadline)
            die_st("mp_pipe_connect (for 5 s)", st);
        sleep_ms(20);
    }
    ready();
    send_all(c, "listener");
    mp_pipe_close(c);
}

/* Encodes `item` with libcbor into out (cap bytes; the dict keys and the
 * empty argument array are small) and releases it; returns the length. */
static size_t encode_small(cbor_item_t *item, uint8_t *out, size_t cap) {
    size_t n = cbor_serialize(item, out, cap);
    cbor_decref(&item);
    if (n == 0)
        die("libcbor: cannot encode a small item");
    return n;
}

static void manager_role(int send, const char *name) {
    const char *addr = getenv("MPIPC_E2E_MANAGER");
    if (!addr || !*addr)
        die("MPIPC_E2E_MANAGER is not set");
    char dname[256], lname[256];
    snprintf(dname, sizeof dname, "%s-dict", name);
    snprintf(lname, sizeof lname, "%s-list", name);
    mp_mgr *m;
    mp_status st = mp_mgr_connect(addr, AUTHKEY, AUTHKEY_LEN, TIMEOUT_MS, &m);
    if (st)
        die_st("mp_mgr_connect", st);
    ready();
    uint8_t key[16];
    if (send) {
        for (size_t i = 0; i < g_nvec; i++) {
            size_t kl = encode_small(build_uint(i), key, sizeof key), len;
            unsigned char *b = encode_vector(&g_vec[i], &len);
            if ((st = mp_mgr_dict_set(m, dname, key, kl, b, len)))
                die("dict set of vector %s: %s (%s)", g_vec[i].name, mp_status_str(st), mp_last_error());
            free(b);
        }
        for (size_t i = 0; i < g_nvec; i++) {
            /* The arguments: the array [item]. */
            cbor_item_t *args = ok(cbor_new_definite_array(1));
            if (!cbor_array_push(args, g_vec[i].item)) /* increfs: the vector keeps its reference */
                die("libcbor: cbor_array_push");
            unsigned char *b;
            size_t cap, len = cbor_serialize_alloc(args, &b, &cap);
            cbor_decref(&args);
            if (len == 0)
                die("libcbor: cannot encode the arguments of vector %s", g_vec[i].name);
            mp_buf r;
            st = mp_mgr_call(m, "list", lname, "append", b, len, &r);
            free(b);
            if (st)
                die("list append of vector %s: %s (%s)", g_vec[i].name, mp_status_str(st), mp_last_error());
            mp_buf_free(&r);
        }
        mp_mgr_close(m);
        return;
    }
    size_t n;
    if ((st = mp_mgr_dict_len(m, dname, &n)))
        die_st("dict len", st);
    if (n != g_nvec)
        fail("dict %s holds %zu entries, want %zu", dname, n, g_nvec);
    for (size_t i = 0; i < g_nvec; i++) {
        size_t kl = encode_small(build_uint(i), key, sizeof key);
        mp_buf v;
        if ((st = mp_mgr_dict_get(m, dname, key, kl, &v))) {
            fail("dict get of vector %s: %s (%s)", g_vec[i].name, mp_status_str(st), mp_last_error());
            continue;
        }
        check_bytes("manager dict", &g_vec[i], v.ptr, v.len);
        mp_buf_free(&v);
    }
    /* The whole list: an array of the vectors, i.e. its head followed by
     * every vector's bytes back to back. */
    mp_buf r;
    uint8_t noargs[1];
    size_t nl = encode_small(ok(cbor_new_definite_array(0)), noargs, sizeof noargs); /* [] */
    if ((st = mp_mgr_call(m, "list", lname, "copy", noargs, nl, &r)))
        die_st("list copy", st);
    uint8_t head[3];
    size_t hl;
    if (g_nvec < 24) {
        head[0] = (uint8_t)(0x80 | g_nvec);
        hl = 1;
    } else if (g_nvec < 256) {
        head[0] = 0x98;
        head[1] = (uint8_t)g_nvec;
        hl = 2;
    } else {
        head[0] = 0x99;
        head[1] = (uint8_t)(g_nvec >> 8);
        head[2] = (uint8_t)g_nvec;
        hl = 3;
    }
    if (r.len < hl || memcmp(r.ptr, head, hl) != 0) {
        char buf[64];
        print_hex(buf, sizeof buf, r.ptr, r.len < 8 ? r.len : 8);
        fail("list copy: not an array of %zu items (starts %s)", g_nvec, buf);
    } else {
        size_t off = hl;
        for (size_t i = 0; i < g_nvec; i++) {
            const vector *v = &g_vec[i];
            if (off + v->len > r.len || memcmp(r.ptr + off, v->bytes, v->len) != 0) {
                size_t n2 = r.len - off < v->len + 8 ? r.len - off : v->len + 8;
                char buf[512];
                print_hex(buf, sizeof buf, r.ptr + off, n2);
                fail("manager list: vector %s: bytes at its place %s..., want %s (later items not compared)",
                     v->name, buf, v->hex);
                break;
            }
            off += v->len;
            if (i + 1 == g_nvec && off != r.len)
                fail("manager list: %zu bytes after the last vector", r.len - off);
        }
        /* Decoded as one item: an array whose elements are the described
         * values, each re-encoding to its hex. */
        struct cbor_load_result res;
        cbor_item_t *list = cbor_load(r.ptr, r.len, &res);
        if (!list || res.read != r.len || !cbor_isa_array(list) || cbor_array_size(list) != g_nvec) {
            fail("manager list: cbor_load did not give an array of %zu items", g_nvec);
        } else {
            for (size_t i = 0; i < g_nvec; i++) {
                cbor_item_t *el = cbor_array_handle(list)[i];
                if (!item_equal(el, g_vec[i].item))
                    fail("manager list: vector %s: decoded item differs from the described value", g_vec[i].name);
                unsigned char *re;
                size_t cap, rl = cbor_serialize_alloc(el, &re, &cap);
                if (rl != g_vec[i].len || memcmp(re, g_vec[i].bytes, rl) != 0)
                    fail("manager list: vector %s: re-encoded differently", g_vec[i].name);
                free(re);
            }
        }
        if (list)
            cbor_decref(&list);
    }
    mp_buf_free(&r);
    mp_mgr_close(m);
}

static const char TC[3] = {'q', 'd', 'B'};

static void array_role(int send, const char *name) {
    char an[3][256];
    for (int k = 0; k < 3; k++)
        snprintf(an[k], sizeof an[k], "%s-%c", name, TC[k]);
    const size_t lens[3] = {4, 4, 2};
    const int64_t q[4] = {0, -1, INT64_MAX, INT64_MIN};
    const double d[4] = {1.5, -0.0, INFINITY, 1e300};
    const int64_t b[2] = {0, 255};
    mp_array *a[3];
    mp_status st;
    for (int k = 0; k < 3; k++)
        if ((st = mp_array_open(an[k], TC[k], send ? lens[k] : 0, send ? 0 : MP_OPEN_ATTACH_ONLY, &a[k])))
            die("mp_array_open %s: %s (%s)", an[k], mp_status_str(st), mp_last_error());
    ready();
    if (send) {
        for (size_t i = 0; i < 4; i++)
            if ((st = mp_array_set_i64(a[0], i, q[i])))
                die_st("set q", st);
        for (size_t i = 0; i < 4; i++)
            if ((st = mp_array_set_f64(a[1], i, d[i])))
                die_st("set d", st);
        for (size_t i = 0; i < 2; i++)
            if ((st = mp_array_set_i64(a[2], i, b[i])))
                die_st("set B", st);
        int64_t nv;
        if ((st = mp_array_incr(a[0], 0, 5, &nv)))
            die_st("incr", st);
        if (nv != 5)
            fail("array incr returned %lld, want 5", (long long)nv);
    } else {
        for (int k = 0; k < 3; k++) {
            if (mp_array_typecode(a[k]) != TC[k])
                fail("array %s: typecode %c, want %c", an[k], mp_array_typecode(a[k]), TC[k]);
            if (mp_array_len(a[k]) != lens[k])
                fail("array %s: length %zu, want %zu", an[k], mp_array_len(a[k]), lens[k]);
        }
        const int64_t wantq[4] = {5, -1, INT64_MAX, INT64_MIN};
        for (size_t i = 0; i < 4; i++) {
            int64_t v = 0;
            if ((st = mp_array_get_i64(a[0], i, &v)))
                fail("get q[%zu]: %s", i, mp_status_str(st));
            else if (v != wantq[i])
                fail("q[%zu] = %lld, want %lld", i, (long long)v, (long long)wantq[i]);
        }
        for (size_t i = 0; i < 4; i++) {
            double v = 0;
            uint64_t gb, wb;
            if ((st = mp_array_get_f64(a[1], i, &v))) {
                fail("get d[%zu]: %s", i, mp_status_str(st));
                continue;
            }
            memcpy(&gb, &v, 8);
            memcpy(&wb, &d[i], 8);
            if (gb != wb)
                fail("d[%zu] bits %016llx, want %016llx", i, (unsigned long long)gb, (unsigned long long)wb);
        }
        for (size_t i = 0; i < 2; i++) {
            int64_t v = 0;
            if ((st = mp_array_get_i64(a[2], i, &v)))
                fail("get B[%zu]: %s", i, mp_status_str(st));
            else if (v != b[i])
                fail("B[%zu] = %lld, want %lld", i, (long long)v, (long long)b[i]);
        }
    }
    for (int k = 0; k < 3; k++)
        mp_array_close(a[k]);
}

static void lock_role(int send, const char *name) {
    mp_lock *l;
    mp_status st = mp_lock_open(name, 0, &l);
    if (st)
        die_st("mp_lock_open", st);
    if (send) {
        if ((st = mp_lock_acquire(l, TIMEOUT_MS)))
            die_st("mp_lock_acquire", st);
        ready();
        for (;;)
            pause(); /* until SIGKILL */
    }
    if ((st = mp_lock_acquire(l, 0)) != MP_E_TIMEOUT)
        die("acquire with timeout 0 of a held lock: %s, want MP_E_TIMEOUT", mp_status_str(st));
    ready();
    if ((st = mp_lock_acquire(l, TIMEOUT_MS)) != MP_E_OWNER_DEAD)
        die("acquire after the holder was killed: %s, want MP_E_OWNER_DEAD", mp_status_str(st));
    if ((st = mp_lock_release(l)))
        fail("release after MP_E_OWNER_DEAD: %s, want MP_OK", mp_status_str(st));
    if ((st = mp_lock_release(l)) != MP_E_PERM)
        fail("second release: %s, want MP_E_PERM", mp_status_str(st));
    mp_lock_close(l);
}

/* ---- bench roles (benches/polyglot_bench.py; PEERS.md "Bench roles") ----
 *
 * The message is the small object {"id": i, "name": "item-<i>", "vals":
 * [1.5, 2.5, 3.5]}. C has no CBOR encoder in the project, so it is written
 * from a template: the map and key heads and the encoded "vals" array are
 * constant bytes, the id (uint head) and the name's digits are patched in
 * per message. The decoder validates the whole layout (map of 3, the three
 * keys in order, "item-" followed by the id's digits, the three float64s)
 * and parses the id. */

static const uint8_t BENCH_VALS[] = {
    0x64, 'v', 'a', 'l', 's', 0x83,
    0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,
    0xfb, 0x40, 0x04, 0, 0, 0, 0, 0, 0,
    0xfb, 0x40, 0x0c, 0, 0, 0, 0, 0, 0};

static size_t bench_encode(uint8_t *out, uint32_t id) {
    uint8_t *p = out;
    *p++ = 0xa3;
    *p++ = 0x62, *p++ = 'i', *p++ = 'd';
    if (id < 24) {
        *p++ = (uint8_t)id;
    } else if (id < 256) {
        *p++ = 0x18, *p++ = (uint8_t)id;
    } else if (id < 65536) {
        *p++ = 0x19, *p++ = (uint8_t)(id >> 8), *p++ = (uint8_t)id;
    } else {
        *p++ = 0x1a, *p++ = (uint8_t)(id >> 24), *p++ = (uint8_t)(id >> 16), *p++ = (uint8_t)(id >> 8),
        *p++ = (uint8_t)id;
    }
    *p++ = 0x64, memcpy(p, "name", 4), p += 4;
    char digits[16];
    int nd = 0;
    uint32_t v = id;
    do
        digits[nd++] = (char)('0' + v % 10), v /= 10;
    while (v);
    *p++ = (uint8_t)(0x60 | (5 + nd));
    memcpy(p, "item-", 5), p += 5;
    while (nd)
        *p++ = (uint8_t)digits[--nd];
    memcpy(p, BENCH_VALS, sizeof BENCH_VALS);
    return (size_t)(p - out) + sizeof BENCH_VALS;
}

/* 0 and *id on success, -1 if b is not the small object. */
static int bench_decode(const uint8_t *b, size_t len, uint32_t *id) {
    const uint8_t *p = b, *end = b + len;
    if (len < 4 + 1 + 5 + 6 + sizeof BENCH_VALS || memcmp(p, "\xa3\x62id", 4) != 0)
        return -1;
    p += 4;
    uint32_t v;
    if (*p < 24)
        v = *p++;
    else if (*p == 0x18 && end - p > 2)
        v = p[1], p += 2;
    else if (*p == 0x19 && end - p > 3)
        v = (uint32_t)p[1] << 8 | p[2], p += 3;
    else if (*p == 0x1a && end - p > 5)
        v = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4], p += 5;
    else
        return -1;
    if (end - p < 11 || memcmp(p, "\x64name", 5) != 0 || (p[5] & 0xe0) != 0x60)
        return -1;
    size_t tl = p[5] & 0x1f;
    p += 6;
    if (tl < 6 || tl > 23 || (size_t)(end - p) != tl + sizeof BENCH_VALS || memcmp(p, "item-", 5) != 0)
        return -1;
    uint64_t d = 0;
    for (size_t k = 5; k < tl; k++) {
        if (p[k] < '0' || p[k] > '9')
            return -1;
        d = d * 10 + (uint64_t)(p[k] - '0');
    }
    if (d != v || memcmp(p + tl, BENCH_VALS, sizeof BENCH_VALS) != 0)
        return -1;
    *id = v;
    return 0;
}

static mpq *bench_open(const char *name) {
    mpq *q;
    mp_status st = mpq_open(name, NULL, &q);
    if (st)
        die_st("mpq_open", st);
    return q;
}

static void bench_wait_go(void) {
    char line[32];
    if (!fgets(line, sizeof line, stdin) || strncmp(line, "GO", 2) != 0)
        die("bench: expected GO on stdin");
}

static uint32_t bench_get(mpq *q) {
    uint8_t buf[256];
    size_t len;
    uint32_t id;
    mp_status st = mpq_get_into(q, buf, sizeof buf, &len, -1);
    if (st)
        die_st("mpq_get_into", st);
    if (bench_decode(buf, len, &id))
        die("bench: received bytes are not the small object");
    return id;
}

static void bench_put(mpq *q, uint32_t id) {
    uint8_t buf[64];
    mp_status st = mpq_put(q, buf, bench_encode(buf, id));
    if (st)
        die_st("mpq_put", st);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int bench_main(int argc, char **argv) {
    const char *role = argv[1];
    if (strcmp(role, "bench-put") == 0 && argc == 4) {
        mpq *q = bench_open(argv[2]);
        uint32_t n = (uint32_t)strtoul(argv[3], NULL, 10);
        ready();
        bench_wait_go();
        for (uint32_t i = 0; i < n; i++)
            bench_put(q, i);
        mpq_close(q);
    } else if (strcmp(role, "bench-get") == 0 && argc == 4) {
        mpq *q = bench_open(argv[2]);
        uint32_t n = (uint32_t)strtoul(argv[3], NULL, 10);
        ready();
        for (uint32_t i = 0; i < n; i++)
            if (bench_get(q) != i)
                die("bench-get: message %u out of order", i);
        printf("DONE\n");
        fflush(stdout);
        mpq_close(q);
    } else if (strcmp(role, "bench-pong") == 0 && argc == 5) {
        mpq *q1 = bench_open(argv[2]), *q2 = bench_open(argv[3]);
        uint32_t n = (uint32_t)strtoul(argv[4], NULL, 10);
        ready();
        for (uint32_t i = 0; i < n; i++)
            bench_put(q2, bench_get(q1));
        mpq_close(q1);
        mpq_close(q2);
    } else if (strcmp(role, "bench-ping") == 0 && argc == 6) {
        mpq *q1 = bench_open(argv[2]), *q2 = bench_open(argv[3]);
        uint32_t rounds = (uint32_t)strtoul(argv[4], NULL, 10), warm = (uint32_t)strtoul(argv[5], NULL, 10);
        uint64_t *lat = calloc(rounds ? rounds : 1, sizeof *lat);
        ready();
        bench_wait_go();
        for (uint32_t i = 0; i < warm + rounds; i++) {
            uint64_t t0 = now_ns();
            bench_put(q1, i);
            if (bench_get(q2) != i)
                die("bench-ping: round %u: wrong id back", i);
            if (i >= warm)
                lat[i - warm] = now_ns() - t0;
        }
        qsort(lat, rounds, sizeof *lat, cmp_u64);
        printf("RESULT %llu %llu\n", (unsigned long long)lat[rounds / 2],
               (unsigned long long)lat[(size_t)rounds * 99 / 100 < rounds ? (size_t)rounds * 99 / 100 : rounds - 1]);
        fflush(stdout);
        free(lat);
        mpq_close(q1);
        mpq_close(q2);
    } else {
        die("usage: %s bench-put|bench-get <queue> <n> | bench-ping <q1> <q2> <rounds> <warmup> | "
            "bench-pong <q1> <q2> <total>", argv[0]);
    }
    return 0;
}

/* Puts the differential echo's answer for a message that could not be
 * decoded ('D') or encoded ('E'): 0xff, the letter and the reason. */
static void echo_refused(mpq *dst, char kind, const char *why) {
    char msg[600];
    int n = snprintf(msg, sizeof msg, "\xff%c%s", kind, why);
    mp_status st = mpq_put_timeout(dst, (const uint8_t *)msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1,
                                   60000);
    if (st)
        die_st("echo: put", st);
}

/* The differential test's echo (tests/polyglot/test_differential.py): each
 * message of queue in_name decoded and encoded again onto out_name, either
 * with libcbor (mpcbor_decode, cbor_serialize_alloc) or, with --json,
 * through the C ABI's JSON bridge (mp_cbor_to_json, then mpq_put_json); a
 * message that does not decode (or encode) is answered with 0xff 'D'
 * (0xff 'E') and the reason; 0xff "STOP" ends it. */
static int echo_role(int json, const char *in_name, const char *out_name) {
    mpq *src, *dst;
    mp_status st;
    if ((st = mpq_open(in_name, NULL, &src)) || (st = mpq_open(out_name, NULL, &dst)))
        die_st("mpq_open", st);
    ready();
    for (;;) {
        mp_buf m;
        if ((st = mpq_get_timeout(src, &m, 60000)))
            die_st("echo: get", st);
        if (m.len == 5 && memcmp(m.ptr, "\xffSTOP", 5) == 0) {
            mp_buf_free(&m);
            break;
        }
        if (json) {
            char *text = NULL;
            if ((st = mp_cbor_to_json(m.ptr, m.len, &text))) {
                echo_refused(dst, 'D', mp_last_error());
            } else {
                if ((st = mpq_put_json_timeout(dst, text, 60000)))
                    echo_refused(dst, 'E', mp_last_error());
                mp_json_free(text);
            }
        } else {
            cbor_item_t *item = mpcbor_decode(m.ptr, m.len);
            if (item == NULL) {
                echo_refused(dst, 'D', "mpcbor_decode refused it");
            } else {
                unsigned char *out;
                size_t cap, len = cbor_serialize_alloc(item, &out, &cap);
                if (len == 0)
                    echo_refused(dst, 'E', "cbor_serialize_alloc failed");
                else if ((st = mpq_put_timeout(dst, out, len, 60000)))
                    die_st("echo: put", st);
                free(out);
                cbor_decref(&item);
            }
        }
        mp_buf_free(&m);
    }
    mpq_close(src);
    mpq_close(dst);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strncmp(argv[1], "bench-", 6) == 0)
        return bench_main(argc, argv);
    if (argc == 4 && strcmp(argv[1], "echo") == 0)
        return echo_role(0, argv[2], argv[3]);
    if (argc == 5 && strcmp(argv[1], "--json") == 0 && strcmp(argv[2], "echo") == 0)
        return echo_role(1, argv[3], argv[4]);
    int json = argc == 6 && strcmp(argv[1], "--json") == 0;
    if (json) { /* drop the flag, keeping the program's name in argv[0] */
        argv[1] = argv[0];
        argv++, argc--;
    }
    if (argc != 5)
        die("usage: %s [--json] <send|recv> <primitive> <name> <vectors.json>", argv[0]);
    int send = strcmp(argv[1], "send") == 0;
    if (!send && strcmp(argv[1], "recv") != 0)
        die("role %s: want send or recv", argv[1]);
    const char *prim = g_prim = argv[2], *name = argv[3];
    load_vectors(argv[4]);
    if (json) {
        if (strcmp(prim, "queue") != 0)
            die("--json: only the queue exchange goes through the JSON bridge, not %s", prim);
        for (size_t i = 0; i < g_nvec; i++)
            if (!g_vec[i].json)
                die("--json: vector %s has no \"json\" text", g_vec[i].name);
        send ? queue_send_json(name) : queue_recv_json(name);
    } else if (strcmp(prim, "queue") == 0)
        send ? queue_send(name) : queue_recv(name);
    else if (strcmp(prim, "pipe") == 0)
        pipe_role(send);
    else if (strcmp(prim, "listener") == 0)
        listener_role(send, name);
    else if (strcmp(prim, "manager") == 0)
        manager_role(send, name);
    else if (strcmp(prim, "array") == 0)
        array_role(send, name);
    else if (strcmp(prim, "lock") == 0)
        lock_role(send, name);
    else
        die("unknown primitive %s", prim);
    if (g_failed) {
        fprintf(stderr, "c peer: %s %s: %d check(s) failed\n", argv[1], prim, g_failed);
        return 1;
    }
    return 0;
}
