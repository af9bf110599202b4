/*
 * test_json.c: the JSON bridge of the C ABI (docs/TYPES.md, "JSON
 * bridge"): mp_json_to_cbor, mp_cbor_to_json, mp_json_free, and the
 * put/get-as-JSON calls of the queue (mpq_put_json, mpq_put_json_timeout,
 * mpq_get_json), the pipe (mp_pipe_send_json, mp_pipe_recv_json) and the
 * manager dict (mp_mgr_dict_set_json, mp_mgr_dict_get_json).
 *
 *  1. Conversions: the example map is the CBOR every binding
 *     writes (the bytes checked), and comes back as the same JSON;
 *     every extended form ($bytes, $float, $tag, $map), integers beyond
 *     64 bits, floats that stay floats; the text is NUL-terminated;
 *     a length, not a NUL, ends the input.
 *  2. Every refusal: invalid JSON, not UTF-8, bad extended forms,
 *     nesting deeper than 128, a PICKLE both ways (MP_E_TYPE), invalid
 *     CBOR; NULL arguments of every function; outputs untouched.
 *  3. The queue across processes: a child puts JSON, the parent gets it
 *     as JSON and as the CBOR bytes, the parent puts, the child gets;
 *     refused texts put nothing; a message that is not CBOR is
 *     MP_E_CORRUPT and consumed; MP_E_EMPTY, MP_E_FULL.
 *  4. The pipe across processes: a child echoes what it receives as JSON
 *     back as JSON; refused texts send nothing; EOF.
 *  5. The manager dict: a server in this process, a client child that
 *     reads what the parent set as JSON and sets a value of its own; the
 *     CBOR calls see the same entries; errors.
 *
 * fork() and threads: mp_mgr_serve starts threads, so section 5 forks its
 * child before serving, and runs last.
 *
 * Build and run: tests/c/run.sh (also under valgrind). Prints "N passed,
 * 0 failed" and exits 0 on success.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mpipc.h"

#define CHECK_NAME_PREFIX "cjson" /* queue names cjson-<pid>-<tag> */
#define CHECK_CHILD_ALARM_S 60
#include "check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every wait on another process is bounded by this. */
#define T_MS 20000

/* The example, and its CBOR: a map of 4, keys in the order
 * written, 0.5 as a 64-bit float (0xfb), as every binding writes it. */
static const char EXAMPLE[] = "{\"name\": \"a\", \"id\": 1, \"score\": 0.5, \"vals\": [1, 2]}";
static const char EXAMPLE_OUT[] = "{\"name\":\"a\",\"id\":1,\"score\":0.5,\"vals\":[1,2]}";
static const uint8_t EXAMPLE_CBOR[] = {0xa4, 0x64, 'n', 'a', 'm', 'e', 0x61, 'a', 0x62, 'i', 'd', 0x01,
                                       0x65, 's', 'c', 'o', 'r', 'e', 0xfb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0,
                                       0x64, 'v', 'a', 'l', 's', 0x82, 0x01, 0x02};

/* A PICKLE (tag 0x6d70706b around 1 byte): what Python writes only with
 * its opt-in. */
static const uint8_t PICKLE[] = {0xda, 0x6d, 0x70, 0x70, 0x6b, 0x41, 0x80};

/* Whether mp_last_error() contains `part`. */
static int error_has(const char *part) {
    return strstr(mp_last_error(), part) != NULL;
}

/* JSON -> CBOR -> JSON: `json` converts, and comes back as `want`. */
static void round_trip(const char *json, const char *want) {
    mp_buf b = {0};
    CHECK_OK(mp_json_to_cbor(json, strlen(json), &b));
    char *out = NULL;
    CHECK_OK(mp_cbor_to_json(b.ptr, b.len, &out));
    if (strcmp(out, want) != 0)
        fprintf(stderr, "round trip of %s: got %s, want %s\n", json, out, want);
    CHECK(strcmp(out, want) == 0);
    mp_json_free(out);
    mp_buf_free(&b);
}

/* mp_json_to_cbor(json) fails with `want` and a message holding `part`,
 * leaving the output untouched. */
static void refused(const char *json, size_t len, mp_status want, const char *part) {
    mp_buf b = {0};
    CHECK_ST(mp_json_to_cbor(json, len, &b), want);
    if (!error_has(part))
        fprintf(stderr, "refusing %.*s: \"%s\" lacks \"%s\"\n", (int)len, json, mp_last_error(), part);
    CHECK(error_has(part));
    CHECK(b.ptr == NULL && b.len == 0);
}

/* ------------------------------------------------------------------ */
/* 1. Conversions                                                       */
/* ------------------------------------------------------------------ */

static void test_conversions(void) {
    g_section = "1. conversions";
    mp_buf b = {0};
    CHECK_OK(mp_json_to_cbor(EXAMPLE, strlen(EXAMPLE), &b));
    CHECK(b.len == sizeof EXAMPLE_CBOR && memcmp(b.ptr, EXAMPLE_CBOR, b.len) == 0);
    char *out = NULL;
    CHECK_OK(mp_cbor_to_json(b.ptr, b.len, &out));
    CHECK(strlen(out) == strlen(EXAMPLE_OUT) && strcmp(out, EXAMPLE_OUT) == 0);
    mp_json_free(out);
    mp_buf_free(&b);
    CHECK(b.ptr == NULL);

    /* The length ends the input: "[1]" of "[1]xyz". */
    CHECK_OK(mp_json_to_cbor("[1]xyz", 3, &b));
    CHECK(b.len == 2 && b.ptr[0] == 0x81 && b.ptr[1] == 0x01);
    mp_buf_free(&b);

    /* Every form. */
    round_trip("null", "null");
    round_trip("[true, false, 0, -1, 23, 24, 255, 65536]", "[true,false,0,-1,23,24,255,65536]");
    round_trip("[18446744073709551615, -18446744073709551616]", "[18446744073709551615,-18446744073709551616]");
    /* Beyond 64 bits: bignums (tags 2/3), exact both ways. */
    round_trip("[18446744073709551616, -18446744073709551617, 123456789012345678901234567890]",
               "[18446744073709551616,-18446744073709551617,123456789012345678901234567890]");
    /* A float keeps a fraction or an exponent, so it comes back a float. */
    round_trip("[1.0, 0.5, -0.0, 1e20, 1E-7, 2.5e+3]", "[1.0,0.5,-0.0,1e+20,1e-7,2500.0]");
    round_trip("\"h\\u00e9llo \\\"q\\\" \\n\"", "\"h\xc3\xa9llo \\\"q\\\" \\n\"");
    round_trip("{\"$bytes\": \"AAEC\"}", "{\"$bytes\":\"AAEC\"}");
    round_trip("[{\"$float\": \"NaN\"}, {\"$float\": \"Infinity\"}, {\"$float\": \"-Infinity\"}]",
               "[{\"$float\":\"NaN\"},{\"$float\":\"Infinity\"},{\"$float\":\"-Infinity\"}]");
    round_trip("{\"$tag\": 1, \"$value\": 1.5}", "{\"$tag\":1,\"$value\":1.5}");
    round_trip("{\"$value\": \"x\", \"$tag\": 32}", "{\"$tag\":32,\"$value\":\"x\"}");
    round_trip("{\"$map\": [[1, \"one\"], [[1, 2], null], [{\"$bytes\": \"AQ==\"}, 2]]}",
               "{\"$map\":[[1,\"one\"],[[1,2],null],[{\"$bytes\":\"AQ==\"},2]]}");
    /* Key order is kept; other $ keys are plain keys. A repeated name is
     * refused (docs/TYPES.md rule 5: no map holds two equal keys), and so
     * are two equal keys of a $map (1 and 1.0) and CBOR holding them. */
    round_trip("{\"b\": 1, \"a\": 2, \"c\": 3, \"$other\": 4}", "{\"b\":1,\"a\":2,\"c\":3,\"$other\":4}");
    refused("{\"b\": 1, \"a\": 2, \"b\": 3}", 24, MP_E_INVAL, "duplicate key \"b\"");
    refused("{\"$map\": [[1, 0], [1.0, 1]]}", 28, MP_E_INVAL, "duplicate key");
    refused("{\"$tag\": 1, \"$value\": \"x\"}", 26, MP_E_INVAL, "must hold a number");
    {
        static const uint8_t equal_keys[] = {0xa2, 0x01, 0x00, 0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x01};
        char *js = NULL;
        CHECK_ST(mp_cbor_to_json(equal_keys, sizeof equal_keys, &js), MP_E_INVAL);
        CHECK(error_has("equal keys") && js == NULL);
    }
    /* A TUPLE is a plain array in JSON. */
    round_trip("{\"$tag\": 1836086389, \"$value\": [1, \"a\"]}", "[1,\"a\"]");
    /* 128 nested arrays: the limit, as on the CBOR. */
    char deep[2 * 128 + 2];
    memset(deep, '[', 128);
    deep[128] = '1';
    memset(deep + 129, ']', 128);
    deep[257] = 0;
    mp_buf d = {0};
    CHECK_OK(mp_json_to_cbor(deep, strlen(deep), &d));
    CHECK(d.len == 129);
    mp_buf_free(&d);

    /* CBOR from other encoders: a half float, undefined, an indefinite
     * array, a non-shortest head. */
    const uint8_t other[] = {0x9f, 0xf9, 0x3e, 0x00, 0xf7, 0x18, 0x01, 0xff};
    CHECK_OK(mp_cbor_to_json(other, sizeof other, &out));
    CHECK(strcmp(out, "[1.5,null,1]") == 0);
    mp_json_free(out);
    mp_json_free(NULL); /* a no-op */
}

/* ------------------------------------------------------------------ */
/* 2. Refusals                                                          */
/* ------------------------------------------------------------------ */

static void test_refusals(void) {
    g_section = "2. refusals";
    const char *bad_json[] = {"", "{", "[1,]", "{\"a\": }", "nul", "'a'", "1 2", "NaN", "01", "[\"a\"", "{1: 2}"};
    for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++)
        refused(bad_json[i], strlen(bad_json[i]), MP_E_INVAL, "json: invalid JSON: ");
    refused("{\"a\": }", 7, MP_E_INVAL, "at line 1 column 7");
    refused("\"\xff\"", 3, MP_E_INVAL, "not UTF-8");
    refused("1e400", 5, MP_E_INVAL, "out of range");
    refused("{\"$bytes\": \"AA\"}", 16, MP_E_INVAL, "base64");
    refused("{\"$bytes\": 1}", 13, MP_E_INVAL, "base64 string");
    refused("{\"$float\": \"nan\"}", 17, MP_E_INVAL, "$float");
    refused("{\"$map\": [[1]]}", 15, MP_E_INVAL, "[key, value] pairs");
    refused("{\"$map\": 1}", 11, MP_E_INVAL, "[key, value] pairs");
    refused("{\"$tag\": -1, \"$value\": 0}", 25, MP_E_INVAL, "$tag");
    refused("{\"$tag\": 2, \"$value\": {\"$bytes\": \"AQ==\"}}", 41, MP_E_INVAL, "integer literals");
    refused("{\"$tag\": 1836085862, \"$value\": [\"dict\"]}", 40, MP_E_INVAL, "REF");
    refused("{\"$tag\": 1836085355, \"$value\": {\"$bytes\": \"gAQ=\"}}", 50, MP_E_TYPE, "pickle");
    char digits[4400];
    memset(digits, '7', sizeof digits - 1);
    digits[sizeof digits - 1] = 0;
    refused(digits, strlen(digits), MP_E_INVAL, "digits");
    /* 130 nested arrays: the innermost is at depth 129. */
    char deep[261];
    memset(deep, '[', 130);
    memset(deep + 130, ']', 130);
    deep[260] = 0;
    refused(deep, strlen(deep), MP_E_INVAL, "nesting deeper than 128");

    /* CBOR -> JSON. */
    char *out = (char *)"untouched";
    const uint8_t trailing[] = {0x00, 0x00}, simple[] = {0xf8, 0x20}, huge[] = {0x5b, 0x40, 0, 0, 0, 0, 0, 0, 0};
    CHECK_ST(mp_cbor_to_json(trailing, sizeof trailing, &out), MP_E_INVAL);
    CHECK(error_has("cbor: invalid CBOR: trailing bytes"));
    CHECK_ST(mp_cbor_to_json(simple, sizeof simple, &out), MP_E_INVAL);
    CHECK_ST(mp_cbor_to_json(huge, sizeof huge, &out), MP_E_INVAL);
    CHECK(error_has("exceeds the input"));
    CHECK_ST(mp_cbor_to_json(PICKLE, sizeof PICKLE, &out), MP_E_TYPE);
    CHECK(error_has("a Python pickle"));
    CHECK_ST(mp_cbor_to_json(NULL, 0, &out), MP_E_INVAL);
    CHECK(strcmp(out, "untouched") == 0);

    /* NULL arguments of every function. */
    mp_buf b = {0};
    CHECK_ST(mp_json_to_cbor(NULL, 1, &b), MP_E_NULL);
    CHECK_ST(mp_json_to_cbor("1", 1, NULL), MP_E_NULL);
    CHECK_ST(mp_cbor_to_json(NULL, 1, &out), MP_E_NULL);
    CHECK_ST(mp_cbor_to_json(EXAMPLE_CBOR, sizeof EXAMPLE_CBOR, NULL), MP_E_NULL);
    CHECK_ST(mpq_put_json(NULL, "1"), MP_E_NULL);
    CHECK_ST(mpq_put_json_timeout(NULL, "1", 0), MP_E_NULL);
    CHECK_ST(mpq_get_json(NULL, &out, 0), MP_E_NULL);
    CHECK_ST(mp_pipe_send_json(NULL, "1"), MP_E_NULL);
    CHECK_ST(mp_pipe_recv_json(NULL, &out, 0), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_set_json(NULL, "d", "1", "1"), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_get_json(NULL, "d", "1", &out), MP_E_NULL);
    CHECK(strcmp(out, "untouched") == 0 && b.ptr == NULL);
}

/* ------------------------------------------------------------------ */
/* 3. The queue, across processes                                       */
/* ------------------------------------------------------------------ */

static const char *g_qname;

/* The child: puts the example and a bignum, then gets what the parent
 * put and checks it. */
static void queue_child(void *arg) {
    (void)arg;
    mpq *q = NULL;
    CHILD_ST(mpq_open(g_qname, NULL, &q), MP_OK, 10);
    CHILD_ST(mpq_put_json(q, EXAMPLE), MP_OK, 11);
    CHILD_ST(mpq_put_json_timeout(q, "{\"n\": 340282366920938463463374607431768211456}", T_MS), MP_OK, 12);
    /* The parent's reply comes on a second queue. */
    char reply_name[300];
    snprintf(reply_name, sizeof reply_name, "%s-reply", g_qname);
    mpq *r = NULL;
    CHILD_ST(mpq_open(reply_name, NULL, &r), MP_OK, 13);
    char *got = NULL;
    CHILD_ST(mpq_get_json(r, &got, T_MS), MP_OK, 14);
    CHILD_REQUIRE(strcmp(got, "{\"from\":\"parent\",\"b\":{\"$bytes\":\"/w==\"}}") == 0, 15);
    mp_json_free(got);
    mpq_close(r);
    mpq_close(q);
}

static void test_queue(void) {
    g_section = "3. queue across processes";
    g_qname = qname("q");
    char reply_name[300];
    snprintf(reply_name, sizeof reply_name, "%s-reply", g_qname);
    keep_name(reply_name);
    mpq *q = NULL, *r = NULL;
    CHECK_OK(mpq_open(g_qname, NULL, &q));
    CHECK_OK(mpq_open(reply_name, NULL, &r));
    pid_t kid = spawn(queue_child, NULL);

    /* The child's example, as the CBOR bytes every binding writes ... */
    mp_buf b = {0};
    CHECK_OK(mpq_get_timeout(q, &b, T_MS));
    CHECK(b.len == sizeof EXAMPLE_CBOR && memcmp(b.ptr, EXAMPLE_CBOR, b.len) == 0);
    /* ... and its second message as JSON. */
    char *got = NULL;
    CHECK_OK(mpq_get_json(q, &got, T_MS));
    CHECK(strcmp(got, "{\"n\":340282366920938463463374607431768211456}") == 0);
    mp_json_free(got);
    /* The reply. */
    CHECK_OK(mpq_put_json(r, "{\"from\": \"parent\", \"b\": {\"$bytes\": \"/w==\"}}"));
    CHECK_CHILD(kid, T_MS, 0);

    /* The example put as JSON, read back as JSON. */
    CHECK_OK(mpq_put_json(q, EXAMPLE));
    got = NULL;
    CHECK_OK(mpq_get_json(q, &got, 0));
    CHECK(strcmp(got, EXAMPLE_OUT) == 0);
    mp_json_free(got);
    mp_buf_free(&b);

    /* Refused texts put nothing. */
    size_t n = 99;
    CHECK_ST(mpq_put_json(q, "{\"id\": }"), MP_E_INVAL);
    CHECK(error_has("json: invalid JSON"));
    CHECK_ST(mpq_put_json(q, "{\"$tag\": 1836085355, \"$value\": {\"$bytes\": \"\"}}"), MP_E_TYPE);
    CHECK_ST(mpq_put_json(q, NULL), MP_E_NULL);
    CHECK_OK(mpq_qsize(q, &n));
    CHECK(n == 0);
    /* Nothing to get: MP_E_EMPTY, the output untouched. */
    got = (char *)"untouched";
    CHECK_ST(mpq_get_json(q, &got, 0), MP_E_EMPTY);
    CHECK_ST(mpq_get_json(q, NULL, 0), MP_E_NULL);
    /* A message that is not CBOR, then a pickle: refused, and consumed
     * (as the bindings' decode errors consume them). */
    const uint8_t not_cbor[] = {0x01, 0x02};
    CHECK_OK(mpq_put(q, not_cbor, sizeof not_cbor));
    CHECK_OK(mpq_put(q, PICKLE, sizeof PICKLE));
    CHECK_ST(mpq_get_json(q, &got, 0), MP_E_CORRUPT);
    CHECK(error_has("message: invalid CBOR: trailing bytes"));
    CHECK_ST(mpq_get_json(q, &got, 0), MP_E_TYPE);
    CHECK(error_has("pickle"));
    CHECK(strcmp(got, "untouched") == 0);
    CHECK_OK(mpq_qsize(q, &n));
    CHECK(n == 0);
    mpq_close(q);
    mpq_close(r);
    CHECK_OK(mpq_unlink(g_qname));
    CHECK_OK(mpq_unlink(reply_name));

    /* A full queue: MP_E_FULL within the timeout. */
    mpq_options o = {0};
    o.maxsize = 1;
    CHECK_OK(mpq_open(g_qname, &o, &q));
    CHECK_OK(mpq_put_json_timeout(q, "1", 0));
    CHECK_ST(mpq_put_json_timeout(q, "2", 0), MP_E_FULL);
    mpq_close(q);
    CHECK_OK(mpq_unlink(g_qname));
}

/* ------------------------------------------------------------------ */
/* 4. The pipe, across processes                                        */
/* ------------------------------------------------------------------ */

/* The child: receives JSON on ends[1] until EOF and sends each back as
 * JSON. It closes its copy of the parent's end first, so that the
 * parent's close is an EOF here. */
static void pipe_child(void *arg) {
    mp_pipe **ends = arg;
    mp_pipe_close(ends[0]);
    mp_pipe *p = ends[1];
    for (;;) {
        char *got = NULL;
        mp_status st = mp_pipe_recv_json(p, &got, T_MS);
        if (st == MP_E_EOF)
            break;
        CHILD_ST(st, MP_OK, 20);
        CHILD_ST(mp_pipe_send_json(p, got), MP_OK, 21);
        mp_json_free(got);
    }
    mp_pipe_close(p);
}

static void test_pipe(void) {
    g_section = "4. pipe across processes";
    mp_pipe *a = NULL, *b = NULL;
    CHECK_OK(mp_pipe_new(true, &a, &b));
    mp_pipe *ends[2] = {a, b};
    pid_t kid = spawn(pipe_child, ends);
    mp_pipe_close(b);
    const char *texts[][2] = {
        {EXAMPLE, EXAMPLE_OUT},
        {"[18446744073709551616, {\"$float\": \"-Infinity\"}]", "[18446744073709551616,{\"$float\":\"-Infinity\"}]"},
        {"{\"$map\": [[null, {\"$tag\": 99, \"$value\": []}]]}", "{\"$map\":[[null,{\"$tag\":99,\"$value\":[]}]]}"},
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        CHECK_OK(mp_pipe_send_json(a, texts[i][0]));
        char *got = NULL;
        CHECK_OK(mp_pipe_recv_json(a, &got, T_MS));
        CHECK(strcmp(got, texts[i][1]) == 0);
        mp_json_free(got);
    }
    /* Refused texts send nothing: the next reply is the next good one. */
    CHECK_ST(mp_pipe_send_json(a, "[1,"), MP_E_INVAL);
    CHECK_ST(mp_pipe_send_json(a, NULL), MP_E_NULL);
    CHECK_OK(mp_pipe_send_json(a, "\"after\""));
    char *got = NULL;
    CHECK_OK(mp_pipe_recv_json(a, &got, T_MS));
    CHECK(strcmp(got, "\"after\"") == 0);
    mp_json_free(got);
    CHECK_ST(mp_pipe_recv_json(a, NULL, 0), MP_E_NULL);
    got = (char *)"untouched";
    CHECK_ST(mp_pipe_recv_json(a, &got, 0), MP_E_EMPTY);
    /* Closing our end: the child sees EOF and ends. */
    mp_pipe_close(a);
    CHECK_CHILD(kid, T_MS, 0);
    CHECK(strcmp(got, "untouched") == 0);

    /* A message that is not CBOR: refused, consumed; then EOF. */
    CHECK_OK(mp_pipe_new(true, &a, &b));
    const uint8_t not_cbor[] = {0xff};
    CHECK_OK(mp_pipe_send(a, not_cbor, sizeof not_cbor));
    CHECK_ST(mp_pipe_recv_json(b, &got, T_MS), MP_E_CORRUPT);
    bool ready = true;
    CHECK_OK(mp_pipe_poll(b, 0, &ready));
    CHECK(!ready);
    mp_pipe_close(a);
    CHECK_ST(mp_pipe_recv_json(b, &got, T_MS), MP_E_EOF);
    mp_pipe_close(b);
}

/* ------------------------------------------------------------------ */
/* 5. The manager dict                                                  */
/* ------------------------------------------------------------------ */

static char g_addr[128];

/* The client child: waits for the parent's byte (the server is up and
 * "j1" set), reads "j1" as JSON, sets "j2". */
static void manager_child(void *arg) {
    int fd = *(int *)arg;
    char c = 0;
    CHILD_REQUIRE(read_timeout(fd, &c, 1, T_MS) == 1, 30);
    mp_mgr *m = NULL;
    CHILD_ST(mp_mgr_connect(g_addr, NULL, 0, T_MS, &m), MP_OK, 31);
    char *got = NULL;
    CHILD_ST(mp_mgr_dict_get_json(m, "jobs", "\"j1\"", &got), MP_OK, 32);
    CHILD_REQUIRE(strcmp(got, EXAMPLE_OUT) == 0, 33);
    mp_json_free(got);
    CHILD_ST(mp_mgr_dict_set_json(m, "jobs", "\"j2\"", "{\"by\": \"child\", \"n\": [1, 2.5]}"), MP_OK, 34);
    mp_mgr_close(m);
}

static void test_manager(void) {
    g_section = "5. manager dict";
    snprintf(g_addr, sizeof g_addr, "unix:@cjson-%ld", (long)getpid());
    int fds[2];
    CHECK(pipe(fds) == 0);
    /* Forked before mp_mgr_serve starts threads. */
    pid_t kid = spawn(manager_child, &fds[0]);
    close(fds[0]);
    mp_mgr_server *s = NULL;
    CHECK_OK(mp_mgr_serve(g_addr, NULL, 0, &s));
    mp_mgr *m = NULL;
    CHECK_OK(mp_mgr_connect(g_addr, NULL, 0, T_MS, &m));
    CHECK_OK(mp_mgr_dict_set_json(m, "jobs", "\"j1\"", EXAMPLE));
    put_byte(fds[1], 'g');
    close(fds[1]);
    CHECK_CHILD(kid, T_MS, 0);
    char *got = NULL;
    CHECK_OK(mp_mgr_dict_get_json(m, "jobs", "\"j2\"", &got));
    CHECK(strcmp(got, "{\"by\":\"child\",\"n\":[1,2.5]}") == 0);
    mp_json_free(got);

    /* The CBOR calls see the same entries: "j1" is the text key j1 and
     * its value the example's bytes; an incr'd key reads as JSON. */
    const uint8_t j1[] = {0x62, 'j', '1'}, hits[] = {0x64, 'h', 'i', 't', 's'};
    mp_buf b = {0};
    CHECK_OK(mp_mgr_dict_get(m, "jobs", j1, sizeof j1, &b));
    CHECK(b.len == sizeof EXAMPLE_CBOR && memcmp(b.ptr, EXAMPLE_CBOR, b.len) == 0);
    mp_buf_free(&b);
    int64_t n = 0;
    CHECK_OK(mp_mgr_dict_incr(m, "jobs", hits, sizeof hits, 3, &n));
    CHECK_OK(mp_mgr_dict_get_json(m, "jobs", "\"hits\"", &got));
    CHECK(strcmp(got, "3") == 0);
    mp_json_free(got);
    /* Keys of other types: an integer, an array (Python's tuple key). */
    CHECK_OK(mp_mgr_dict_set_json(m, "jobs", "7", "{\"$bytes\": \"AQID\"}"));
    CHECK_OK(mp_mgr_dict_set_json(m, "jobs", "[1, \"a\"]", "null"));
    CHECK_OK(mp_mgr_dict_get_json(m, "jobs", "7", &got));
    CHECK(strcmp(got, "{\"$bytes\":\"AQID\"}") == 0);
    mp_json_free(got);
    CHECK_OK(mp_mgr_dict_get_json(m, "jobs", "[1, \"a\"]", &got));
    CHECK(strcmp(got, "null") == 0);
    mp_json_free(got);

    /* Errors: each names its argument; nothing changes. */
    got = (char *)"untouched";
    CHECK_ST(mp_mgr_dict_get_json(m, "jobs", "\"nope\"", &got), MP_E_NOTFOUND);
    CHECK(error_has("KeyError"));
    CHECK_ST(mp_mgr_dict_set_json(m, "jobs", "j3", "1"), MP_E_INVAL);
    CHECK(error_has("key_json: invalid JSON"));
    CHECK_ST(mp_mgr_dict_set_json(m, "jobs", "\"j3\"", "{\"$float\": 1}"), MP_E_INVAL);
    CHECK(error_has("val_json: "));
    CHECK_ST(mp_mgr_dict_set_json(m, "jobs", "{\"a\": 1}", "1"), MP_E_TYPE); /* unhashable */
    CHECK_ST(mp_mgr_dict_get_json(m, "jobs", "[", &got), MP_E_INVAL);
    CHECK_ST(mp_mgr_dict_set_json(m, NULL, "1", "1"), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_set_json(m, "jobs", NULL, "1"), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_set_json(m, "jobs", "1", NULL), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_get_json(m, "jobs", NULL, &got), MP_E_NULL);
    CHECK_ST(mp_mgr_dict_get_json(m, "jobs", "1", NULL), MP_E_NULL);
    /* A value stored as a pickle (Python with its opt-in): MP_E_TYPE. */
    CHECK_OK(mp_mgr_dict_set(m, "jobs", j1, sizeof j1, PICKLE, sizeof PICKLE));
    CHECK_ST(mp_mgr_dict_get_json(m, "jobs", "\"j1\"", &got), MP_E_TYPE);
    CHECK(strcmp(got, "untouched") == 0);
    size_t len = 0;
    CHECK_OK(mp_mgr_dict_len(m, "jobs", &len));
    CHECK(len == 5);
    mp_mgr_close(m);
    CHECK_OK(mp_mgr_server_shutdown(s));
}

int main(void) {
    g_check_on_fail = kill_kids; /* then check_cleanup() unlinks the queues */
    start_watchdog("test_json", 120); /* last-resort watchdog */
    double t0 = now_ms();

    test_conversions();
    test_refusals();
    test_queue();
    test_pipe();
    test_manager(); /* last: it serves (threads) */

    alarm(0);
    return check_summary("test_json", t0);
}
