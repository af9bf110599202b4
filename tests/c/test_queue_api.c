/*
 * test_queue_api.c: single-process test of the whole mpq_* C API of
 * include/mpipc.h: every function, every documented error path.
 *
 * Build (tests/c/run.sh does this):
 *   gcc -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE -Iinclude \
 *       tests/c/test_queue_api.c -Ltarget/debug -lmpipc \
 *       -Wl,-rpath,$PWD/target/debug -o build/c/test_queue_api
 *
 * Every queue name contains getpid(); every queue created is unlinked, and
 * the last check verifies that no segment of this process is left in
 * /dev/shm. Prints "N passed, 0 failed" and exits 0 on success; the first
 * failed check prints file:line, the expression, the status and
 * mp_last_error(), and exits 1.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mpipc.h"

#define CHECK_NAME_PREFIX "capi" /* queue names capi-<pid>-<tag> */
#include "check.h"

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* Opens `name` with the given sizes (create or attach); checks MP_OK. */
static mpq *open_q(const char *name, size_t maxsize, size_t capacity, size_t max_message) {
    mpq_options o = {0};
    o.maxsize = maxsize;
    o.capacity_bytes = capacity;
    o.max_message = max_message;
    mpq *q = NULL;
    CHECK_OK(mpq_open(name, &o, &q));
    CHECK(q != NULL);
    return q;
}

static size_t qsize(const mpq *q) {
    size_t n = (size_t)-1;
    CHECK_OK(mpq_qsize(q, &n));
    return n;
}

static mp_status put_str(mpq *q, const char *s, int64_t timeout_ms) {
    return mpq_put_timeout(q, (const uint8_t *)s, strlen(s), timeout_ms);
}

/* Gets one message (nowait) and checks it equals `want`. */
static void expect_get(mpq *q, const char *want) {
    mp_buf b = {0};
    CHECK_OK(mpq_get_timeout(q, &b, MP_NO_WAIT));
    CHECK(b.len == strlen(want));
    CHECK(b.len == 0 || (b.ptr != NULL && memcmp(b.ptr, want, b.len) == 0));
    mp_buf_free(&b);
    CHECK(b.ptr == NULL && b.len == 0);
}

/* A batch of two 1-byte messages is refused with `want`: mpq_put_many
 * leaves its count untouched and the queue keeps its `size` messages. */
static void expect_put_many_refused(mpq *q, int64_t timeout_ms, mp_status want, size_t size) {
    const uint8_t two[2] = {'d', 'e'};
    const size_t lens[2] = {1, 1};
    size_t put = 12345;
    CHECK_ST(mpq_put_many(q, two, lens, 2, timeout_ms, &put), want);
    CHECK(put == 12345);
    CHECK(qsize(q) == size);
}

static int contains(const char *hay, const char *needle) {
    return hay != NULL && strstr(hay, needle) != NULL;
}

static void close_unlink(mpq *q, const char *name) {
    mpq_close(q);
    CHECK_OK(mpq_unlink(name));
}

/* ------------------------------------------------------------------ */
/* Tests                                                                */
/* ------------------------------------------------------------------ */

/* Must run first: before any failure the last-error message is empty. */
static void test_last_error_initially_empty(void) {
    CHECK(mp_last_error() != NULL);
    CHECK(strcmp(mp_last_error(), "") == 0);
    size_t n = 12345;
    CHECK_ST(mp_last_error_message(NULL, 0, &n), MP_E_BUFSIZE);
    CHECK(n == 1); /* just the NUL */
    char buf[4] = {'x', 'x', 'x', 'x'};
    CHECK_OK(mp_last_error_message(buf, sizeof buf, &n));
    CHECK(n == 0 && buf[0] == '\0');
}

static void test_version(void) {
    CHECK(MP_VERSION_NUMBER == mp_version_number());
    CHECK(MP_VERSION_NUMBER == MP_VERSION_MAJOR * 1000000 + MP_VERSION_MINOR * 1000 + MP_VERSION_PATCH);
    CHECK(MP_ABI_VERSION >= 1);
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", MP_VERSION_MAJOR, MP_VERSION_MINOR, MP_VERSION_PATCH);
    CHECK(mp_version() != NULL);
    CHECK(strcmp(mp_version(), want) == 0);
    CHECK(mp_version() == mp_version()); /* static */
    CHECK(MP_WAIT_FOREVER < 0);
    CHECK(MP_NO_WAIT == 0);
}

static void test_status_str(void) {
    static const struct {
        mp_status code;
        const char *name;
    } table[] = {
        {MP_OK, "MP_OK"},
        {MP_E_NULL, "MP_E_NULL"},
        {MP_E_INVAL, "MP_E_INVAL"},
        {MP_E_TIMEOUT, "MP_E_TIMEOUT"},
        {MP_E_EMPTY, "MP_E_EMPTY"},
        {MP_E_FULL, "MP_E_FULL"},
        {MP_E_SHUTDOWN, "MP_E_SHUTDOWN"},
        {MP_E_TOOBIG, "MP_E_TOOBIG"},
        {MP_E_BUFSIZE, "MP_E_BUFSIZE"},
        {MP_E_NOTFOUND, "MP_E_NOTFOUND"},
        {MP_E_EXISTS, "MP_E_EXISTS"},
        {MP_E_TYPE, "MP_E_TYPE"},
        {MP_E_VERSION, "MP_E_VERSION"},
        {MP_E_CORRUPT, "MP_E_CORRUPT"},
        {MP_E_PERM, "MP_E_PERM"},
        {MP_E_IO, "MP_E_IO"},
        {MP_E_PANIC, "MP_E_PANIC"},
        {MP_E_POISONED, "MP_E_POISONED"},
        {MP_E_EOF, "MP_E_EOF"},
        {MP_E_AUTH, "MP_E_AUTH"},
        {MP_E_INDEX, "MP_E_INDEX"},
        {MP_E_UNSUPPORTED, "MP_E_UNSUPPORTED"},
        {MP_E_BROKEN, "MP_E_BROKEN"},
        {MP_E_OWNER_DEAD, "MP_E_OWNER_DEAD"},
    };
    size_t n = sizeof table / sizeof table[0];
    CHECK(n == 24);
    for (size_t i = 0; i < n; i++) {
        const char *s = mp_status_str(table[i].code);
        CHECK(s != NULL);
        size_t k = strlen(table[i].name);
        /* "MP_E_EMPTY: empty": the name, then ':' and a description */
        CHECK(strncmp(s, table[i].name, k) == 0);
        CHECK(s[k] == ':' && strlen(s) > k + 2);
        CHECK(mp_status_str(table[i].code) == s); /* static storage */
        /* the codes are distinct, 0 and -1..-23 */
        CHECK(table[i].code == -(mp_status)i);
    }
    const mp_status unknown[] = {1, 42, -24, -1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = mp_status_str(unknown[i]);
        CHECK(s != NULL);
        CHECK(strncmp(s, "MP_E_UNKNOWN", 12) == 0);
    }
}

static void test_open_errors(void) {
    const char *name = qname("open");
    mpq *q = NULL;
    mpq_options o = {0};

    /* NULL arguments */
    CHECK_ST(mpq_open(NULL, NULL, &q), MP_E_NULL);
    CHECK(q == NULL);
    CHECK(mp_last_error()[0] != '\0');
    CHECK_ST(mpq_open(name, NULL, NULL), MP_E_NULL);
    CHECK(contains(mp_last_error(), "NULL"));
    CHECK_ST(mpq_open(NULL, &o, NULL), MP_E_NULL);

    /* bad names */
    const char *bad[] = {"", "../x", "a/b", "/", "//x", "a b", "a\\b", "x\n", "caf\xc3\xa9", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ST(mpq_open(bad[i], NULL, &q), MP_E_INVAL);
        CHECK(q == NULL);
        CHECK(mp_last_error()[0] != '\0');
    }
    /* 201 characters: too long; 200 is the maximum */
    char longname[202];
    snprintf(longname, sizeof longname, CHECK_NAME_PREFIX "-%ld-long-", (long)getpid());
    size_t pre = strlen(longname);
    memset(longname + pre, 'x', 201 - pre);
    longname[201] = '\0';
    CHECK_ST(mpq_open(longname, NULL, &q), MP_E_INVAL);
    CHECK(q == NULL);
    longname[200] = '\0';
    CHECK(strlen(longname) == 200);
    keep_name(longname); /* unlinked if a check fails */
    CHECK_OK(mpq_open(longname, NULL, &q));
    CHECK(q != NULL);
    close_unlink(q, longname);
    q = NULL;

    /* bad options */
    o = (mpq_options){0};
    o.flags = MPQ_CREATE_ONLY | MPQ_ATTACH_ONLY;
    CHECK_ST(mpq_open(name, &o, &q), MP_E_INVAL);
    CHECK(contains(mp_last_error(), "flags"));
    o = (mpq_options){0};
    o.flags = 0x100;
    CHECK_ST(mpq_open(name, &o, &q), MP_E_INVAL);
    o = (mpq_options){0};
    o.capacity_bytes = 16; /* below the minimum ring */
    CHECK_ST(mpq_open(name, &o, &q), MP_E_INVAL);
    CHECK(contains(mp_last_error(), "capacity"));
    o = (mpq_options){0};
    o.capacity_bytes = 4096;
    o.max_message = 4096; /* + 8-byte header does not fit */
    CHECK_ST(mpq_open(name, &o, &q), MP_E_INVAL);
    CHECK(contains(mp_last_error(), "max_message"));
    CHECK(q == NULL);
    /* none of these created the queue */
    CHECK_ST(mpq_unlink(name), MP_E_NOTFOUND);
}

static void test_open_flags_and_attach(void) {
    const char *name = qname("flags");
    mpq *q1 = NULL, *q2 = NULL, *q3 = NULL;
    mpq_options o = {0};

    o.flags = MPQ_ATTACH_ONLY;
    CHECK_ST(mpq_open(name, &o, &q1), MP_E_NOTFOUND);
    CHECK(q1 == NULL);
    CHECK(mp_last_error()[0] != '\0');

    o = (mpq_options){.maxsize = 10, .capacity_bytes = 4096, .max_message = 100, .mode = 0600, .flags = MPQ_CREATE_ONLY};
    CHECK_OK(mpq_open(name, &o, &q1));
    CHECK(q1 != NULL);
    CHECK_ST(mpq_open(name, &o, &q2), MP_E_EXISTS);
    CHECK(q2 == NULL);
    CHECK(mp_last_error()[0] != '\0');

    /* attach: zero fields mean "whatever it is" */
    o = (mpq_options){.flags = MPQ_ATTACH_ONLY};
    CHECK_OK(mpq_open(name, &o, &q2));
    CHECK_OK(mpq_open(name, NULL, &q3)); /* NULL options: create or attach */
    mpq_options got;
    memset(&got, 0xab, sizeof got);
    CHECK_OK(mpq_options_of(q2, &got));
    CHECK(got.maxsize == 10 && got.capacity_bytes == 4096 && got.max_message == 100);
    CHECK(got.mode == 0 && got.flags == 0);

    /* attach with matching sizes works, mismatching ones give MP_E_INVAL */
    mpq *q4 = NULL;
    o = (mpq_options){.maxsize = 10, .capacity_bytes = 4096, .max_message = 100};
    CHECK_OK(mpq_open(name, &o, &q4));
    mpq_close(q4);
    q4 = NULL;
    o = (mpq_options){.maxsize = 11};
    CHECK_ST(mpq_open(name, &o, &q4), MP_E_INVAL);
    CHECK(contains(mp_last_error(), "maxsize"));
    o = (mpq_options){.capacity_bytes = 8192, .flags = MPQ_ATTACH_ONLY};
    CHECK_ST(mpq_open(name, &o, &q4), MP_E_INVAL);
    CHECK(contains(mp_last_error(), "capacity"));
    o = (mpq_options){.max_message = 99};
    CHECK_ST(mpq_open(name, &o, &q4), MP_E_INVAL);
    CHECK(contains(mp_last_error(), "max_message"));
    CHECK(q4 == NULL);

    /* the handles share one queue */
    CHECK_OK(put_str(q1, "via q1", MP_NO_WAIT));
    CHECK(qsize(q2) == 1 && qsize(q3) == 1);
    expect_get(q3, "via q1");
    CHECK(qsize(q1) == 0);
    mpq_close(q1);
    CHECK_OK(put_str(q2, "after close", MP_NO_WAIT)); /* other handles unaffected */
    expect_get(q3, "after close");

    /* one leading '/' is ignored */
    char slashed[260];
    snprintf(slashed, sizeof slashed, "/%s", name);
    mpq *q5 = NULL;
    o = (mpq_options){.flags = MPQ_ATTACH_ONLY};
    CHECK_OK(mpq_open(slashed, &o, &q5));
    CHECK_OK(put_str(q5, "slash", MP_NO_WAIT));
    expect_get(q2, "slash");
    mpq_close(q5);

    /* unlink: open handles keep the old queue; the name is gone */
    CHECK_OK(put_str(q2, "old", MP_NO_WAIT));
    CHECK_OK(mpq_unlink(name));
    CHECK_ST(mpq_unlink(name), MP_E_NOTFOUND);
    CHECK(mp_last_error()[0] != '\0');
    CHECK_ST(mpq_open(name, &o, &q5), MP_E_NOTFOUND); /* ATTACH_ONLY */
    expect_get(q3, "old");
    /* opening again creates a new, empty queue with the new options */
    mpq *fresh = open_q(name, 3, 0, 0);
    CHECK(qsize(fresh) == 0);
    CHECK_OK(put_str(q2, "old-only", MP_NO_WAIT));
    CHECK(qsize(fresh) == 0);
    CHECK(qsize(q3) == 1);
    CHECK_OK(mpq_options_of(fresh, &got));
    CHECK(got.maxsize == 3);
    mpq_close(q2);
    mpq_close(q3);
    close_unlink(fresh, name);

    /* unlink argument errors */
    CHECK_ST(mpq_unlink(NULL), MP_E_NULL);
    CHECK_ST(mpq_unlink(""), MP_E_INVAL);
    CHECK_ST(mpq_unlink("../x"), MP_E_INVAL);
    CHECK_ST(mpq_unlink("a/b"), MP_E_INVAL);
}

static void test_options_of_defaults(void) {
    const char *name = qname("defaults");
    mpq *q = NULL;
    CHECK_OK(mpq_open(name, NULL, &q));
    mpq_options o;
    memset(&o, 0xff, sizeof o);
    CHECK_OK(mpq_options_of(q, &o));
    CHECK(o.maxsize == 0);
    CHECK(o.capacity_bytes == 1048576);
    CHECK(o.max_message == 1048576 - 8);
    CHECK(o.mode == 0 && o.flags == 0);
    CHECK_ST(mpq_options_of(q, NULL), MP_E_NULL);
    CHECK_ST(mpq_options_of(NULL, &o), MP_E_NULL);
    /* an all-zero options struct means the same defaults */
    mpq *q2 = NULL;
    mpq_options zero = {0};
    CHECK_OK(mpq_open(name, &zero, &q2));
    mpq_close(q2);
    close_unlink(q, name);

    /* explicit sizes are reported back */
    name = qname("sizes");
    q = open_q(name, 7, 8192, 1000);
    CHECK_OK(mpq_options_of(q, &o));
    CHECK(o.maxsize == 7 && o.capacity_bytes == 8192 && o.max_message == 1000);
    close_unlink(q, name);
}

/* mpq_options.mode: the segment /dev/shm/mpipc.q.<name> (as documented)
 * gets that mode; 0 means 0600. Attaching ignores the mode. */
static int shm_mode(const char *name) {
    char path[300];
    snprintf(path, sizeof path, "/dev/shm/mpipc.q.%s", name);
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return (int)(st.st_mode & 0777);
}

static void test_mode(void) {
    const char *name = qname("mode-default");
    mpq *q = open_q(name, 0, 4096, 0);
    CHECK(shm_mode(name) == 0600);
    close_unlink(q, name);
    CHECK(shm_mode(name) == -1); /* unlinked */

    name = qname("mode-0640");
    mpq_options o = {.capacity_bytes = 4096, .mode = 0640};
    q = NULL;
    CHECK_OK(mpq_open(name, &o, &q));
    CHECK(shm_mode(name) == 0640);
    mpq *q2 = NULL;
    o.mode = 0666; /* attach: mode is not compared nor applied */
    CHECK_OK(mpq_open(name, &o, &q2));
    CHECK(shm_mode(name) == 0640);
    mpq_close(q2);
    close_unlink(q, name);
}

/* Every function given a NULL handle or NULL out-pointer. */
static void test_null_arguments(void) {
    const char *name = qname("nulls");
    mpq *q = open_q(name, 0, 4096, 0);
    uint8_t data[8] = "abcdefg";
    size_t lens[2] = {3, 4};
    size_t n = 777, nb = 888;
    bool b = true;
    mp_buf buf = {0};
    mpq_options o;

    CHECK_ST(mpq_put(NULL, data, 1), MP_E_NULL);
    CHECK(contains(mp_last_error(), "NULL"));
    CHECK_ST(mpq_put_timeout(NULL, data, 1, 0), MP_E_NULL);
    CHECK_ST(mpq_put_many(NULL, data, lens, 2, 0, &n), MP_E_NULL);
    CHECK_ST(mpq_get(NULL, &buf), MP_E_NULL);
    CHECK_ST(mpq_get_timeout(NULL, &buf, 0), MP_E_NULL);
    CHECK_ST(mpq_get_into(NULL, data, sizeof data, &n, 0), MP_E_NULL);
    CHECK_ST(mpq_get_many(NULL, data, sizeof data, lens, 2, 0, &n, &nb), MP_E_NULL);
    CHECK_ST(mpq_qsize(NULL, &n), MP_E_NULL);
    CHECK_ST(mpq_empty(NULL, &b), MP_E_NULL);
    CHECK_ST(mpq_full(NULL, &b), MP_E_NULL);
    CHECK_ST(mpq_task_done(NULL), MP_E_NULL);
    CHECK_ST(mpq_join(NULL, 0), MP_E_NULL);
    CHECK_ST(mpq_shutdown(NULL, false), MP_E_NULL);
    CHECK_ST(mpq_shutdown(NULL, true), MP_E_NULL);
    CHECK_ST(mpq_options_of(NULL, &o), MP_E_NULL);
    CHECK_ST(mpq_set_spin(NULL, 10), MP_E_NULL);
    mpq_reservation r = {0};
    mpq_view v = {0};
    CHECK_ST(mpq_reserve(NULL, 8, 0, &r), MP_E_NULL);
    CHECK_ST(mpq_commit(NULL, &r, 0), MP_E_NULL);
    CHECK_ST(mpq_cancel(NULL, &r), MP_E_NULL);
    CHECK_ST(mpq_get_view(NULL, 0, &v), MP_E_NULL);
    CHECK_ST(mpq_release_view(NULL, &v), MP_E_NULL);
    CHECK_ST(mpq_reserve(q, 8, 0, NULL), MP_E_NULL);
    CHECK_ST(mpq_commit(q, NULL, 0), MP_E_NULL);
    CHECK_ST(mpq_cancel(q, NULL), MP_E_NULL);
    CHECK_ST(mpq_release_view(q, NULL), MP_E_NULL);
    CHECK(r.data == NULL && v.data == NULL);
    CHECK(n == 777 && nb == 888 && b == true);
    CHECK(buf.ptr == NULL);

    /* NULL data with a nonzero length */
    CHECK_ST(mpq_put(q, NULL, 1), MP_E_NULL);
    CHECK_ST(mpq_put_timeout(q, NULL, 5, 0), MP_E_NULL);
    CHECK_ST(mpq_put_many(q, NULL, lens, 2, 0, &n), MP_E_NULL);
    CHECK_ST(mpq_put_many(q, data, NULL, 2, 0, &n), MP_E_NULL);
    CHECK(qsize(q) == 0);

    /* NULL out-pointers: with a message queued, so the NULL check is what fails */
    CHECK_OK(put_str(q, "x", 0));
    CHECK_ST(mpq_put_many(q, data, lens, 2, 0, NULL), MP_E_NULL);
    CHECK(qsize(q) == 1);
    CHECK_ST(mpq_get(q, NULL), MP_E_NULL);
    CHECK_ST(mpq_get_timeout(q, NULL, 0), MP_E_NULL);
    CHECK_ST(mpq_get_into(q, data, sizeof data, NULL, 0), MP_E_NULL);
    CHECK_ST(mpq_get_into(q, NULL, 5, &n, 0), MP_E_NULL); /* buf NULL with cap > 0 */
    CHECK_ST(mpq_get_many(q, data, sizeof data, lens, 2, 0, NULL, &nb), MP_E_NULL);
    CHECK_ST(mpq_get_many(q, data, sizeof data, lens, 2, 0, &n, NULL), MP_E_NULL);
    CHECK_ST(mpq_get_many(q, data, sizeof data, NULL, 2, 0, &n, &nb), MP_E_NULL);
    CHECK_ST(mpq_get_many(q, NULL, 5, lens, 2, 0, &n, &nb), MP_E_NULL);
    CHECK_ST(mpq_qsize(q, NULL), MP_E_NULL);
    CHECK_ST(mpq_empty(q, NULL), MP_E_NULL);
    CHECK_ST(mpq_full(q, NULL), MP_E_NULL);
    CHECK_ST(mpq_get_view(q, 0, NULL), MP_E_NULL);
    CHECK(n == 777 && nb == 888);
    CHECK(qsize(q) == 1); /* nothing was consumed by the failed calls */
    expect_get(q, "x");
    close_unlink(q, name);
}

static void test_put_get_basics(void) {
    const char *name = qname("basics");
    mpq *q = open_q(name, 0, 0, 0);
    bool b = false;

    CHECK_OK(mpq_empty(q, &b));
    CHECK(b == true);
    CHECK_OK(mpq_full(q, &b));
    CHECK(b == false);
    CHECK(qsize(q) == 0);

    CHECK_OK(mpq_put(q, (const uint8_t *)"hello", 5));
    CHECK(qsize(q) == 1);
    CHECK_OK(mpq_empty(q, &b));
    CHECK(b == false);

    mp_buf m = {0};
    CHECK_OK(mpq_get(q, &m));
    CHECK(m.len == 5 && m.ptr != NULL && memcmp(m.ptr, "hello", 5) == 0);
    mp_buf_free(&m);
    CHECK(m.ptr == NULL && m.len == 0);
    mp_buf_free(&m); /* double free: no-op */
    CHECK(m.ptr == NULL && m.len == 0);
    mp_buf_free(NULL); /* no-op */
    mp_buf zeroed = {0};
    mp_buf_free(&zeroed); /* no-op */
    mpq_close(NULL); /* no-op */

    /* zero-length message, NULL data allowed */
    CHECK_OK(mpq_put(q, NULL, 0));
    CHECK_OK(mpq_put_timeout(q, (const uint8_t *)"ignored", 0, MP_NO_WAIT));
    CHECK(qsize(q) == 2);
    CHECK_OK(mpq_get(q, &m));
    CHECK(m.len == 0);
    mp_buf_free(&m); /* must be freed even when empty */
    CHECK(m.ptr == NULL);
    size_t n = 99;
    CHECK_OK(mpq_get_into(q, NULL, 0, &n, MP_NO_WAIT)); /* empty message into no buffer */
    CHECK(n == 0);

    /* binary data with NULs survives; FIFO order */
    uint8_t bin[256];
    for (int i = 0; i < 256; i++)
        bin[i] = (uint8_t)(255 - i);
    for (size_t len = 1; len <= 256; len += 51)
        CHECK_OK(mpq_put(q, bin, len));
    for (size_t len = 1; len <= 256; len += 51) {
        CHECK_OK(mpq_get_timeout(q, &m, MP_WAIT_FOREVER));
        CHECK(m.len == len && memcmp(m.ptr, bin, len) == 0);
        mp_buf_free(&m);
    }

    /* a message of exactly max_message bytes (default: 1 MiB - 8) fits */
    size_t big = 1048576 - 8;
    uint8_t *p = malloc(big + 1);
    CHECK(p != NULL);
    for (size_t i = 0; i < big + 1; i++)
        p[i] = (uint8_t)(i * 7);
    CHECK_ST(mpq_put_timeout(q, p, big + 1, MP_NO_WAIT), MP_E_TOOBIG);
    CHECK_OK(mpq_put_timeout(q, p, big, MP_NO_WAIT));
    CHECK_ST(put_str(q, "", MP_NO_WAIT), MP_E_FULL); /* ring full of bytes */
    CHECK_OK(mpq_full(q, &b));
    CHECK(b == false); /* unbounded count: never "full" */
    CHECK_OK(mpq_get(q, &m));
    CHECK(m.len == big && memcmp(m.ptr, p, big) == 0);
    mp_buf_free(&m);
    free(p);

    /* wrap-around: many odd-sized messages through a small ring */
    mpq_close(q);
    CHECK_OK(mpq_unlink(name));
    name = qname("wrap");
    q = open_q(name, 0, 256, 0);
    uint8_t out[256];
    unsigned bad = 0;
    for (unsigned i = 0; i < 2000; i++) {
        uint8_t msg[61];
        size_t len = 1 + i % 61;
        for (size_t k = 0; k < len; k++)
            msg[k] = (uint8_t)(i + k);
        if (mpq_put_timeout(q, msg, len, MP_NO_WAIT) != MP_OK)
            bad++;
        if (i > 0) { /* keep one or two messages in the ring; check message i-1 */
            size_t got = 0, want = 1 + (i - 1) % 61;
            if (mpq_get_into(q, out, sizeof out, &got, MP_NO_WAIT) != MP_OK || got != want)
                bad++;
            for (size_t k = 0; k < got && k < want; k++)
                if (out[k] != (uint8_t)(i - 1 + k))
                    bad++;
        }
    }
    CHECK(bad == 0);
    close_unlink(q, name);
}

static void test_timeouts_full_empty(void) {
    const char *name = qname("bounded");
    mpq *q = open_q(name, 3, 0, 0);
    bool b = true;
    mp_buf m = {0};
    size_t n = 5, nb = 6, lens[4];
    uint8_t buf[64];

    /* empty: nowait gets fail at once */
    CHECK_ST(mpq_get_timeout(q, &m, MP_NO_WAIT), MP_E_EMPTY);
    CHECK(m.ptr == NULL);
    CHECK(contains(mp_last_error(), "empty"));
    CHECK_ST(mpq_get_into(q, buf, sizeof buf, &n, MP_NO_WAIT), MP_E_EMPTY);
    CHECK_ST(mpq_get_many(q, buf, sizeof buf, lens, 4, MP_NO_WAIT, &n, &nb), MP_E_EMPTY);
    CHECK(n == 5 && nb == 6); /* out-params untouched on failure */

    /* timed get: roughly the timeout (lower bound only) */
    double t0 = now_ms();
    CHECK_ST(mpq_get_timeout(q, &m, 50), MP_E_EMPTY);
    double dt = now_ms() - t0;
    CHECK(dt >= 40.0);
    CHECK(dt < 10000.0);
    t0 = now_ms();
    CHECK_ST(mpq_get_into(q, buf, sizeof buf, &n, 50), MP_E_EMPTY);
    CHECK(now_ms() - t0 >= 40.0);
    t0 = now_ms();
    CHECK_ST(mpq_get_many(q, buf, sizeof buf, lens, 4, 50, &n, &nb), MP_E_EMPTY);
    CHECK(now_ms() - t0 >= 40.0);

    /* the same with spinning disabled (pure sleep path) */
    CHECK_OK(mpq_set_spin(q, 0));
    t0 = now_ms();
    CHECK_ST(mpq_get_timeout(q, &m, 50), MP_E_EMPTY);
    CHECK(now_ms() - t0 >= 40.0);
    CHECK_OK(mpq_set_spin(q, 1000));
    t0 = now_ms();
    CHECK_ST(mpq_get_timeout(q, &m, 50), MP_E_EMPTY);
    CHECK(now_ms() - t0 >= 40.0);
    CHECK_OK(mpq_set_spin(q, 50));

    /* fill to maxsize */
    CHECK_OK(put_str(q, "a", MP_NO_WAIT));
    CHECK_OK(put_str(q, "b", MP_NO_WAIT));
    CHECK_OK(mpq_full(q, &b));
    CHECK(b == false);
    CHECK_OK(put_str(q, "c", MP_NO_WAIT));
    CHECK_OK(mpq_full(q, &b));
    CHECK(b == true);
    CHECK(qsize(q) == 3);
    CHECK_ST(put_str(q, "d", MP_NO_WAIT), MP_E_FULL);
    CHECK(contains(mp_last_error(), "full"));
    t0 = now_ms();
    CHECK_ST(put_str(q, "d", 50), MP_E_FULL);
    CHECK(now_ms() - t0 >= 40.0);
    expect_put_many_refused(q, MP_NO_WAIT, MP_E_FULL, 3);

    /* FIFO */
    expect_get(q, "a");
    CHECK_OK(put_str(q, "d", MP_NO_WAIT));
    expect_get(q, "b");
    expect_get(q, "c");
    expect_get(q, "d");
    CHECK_OK(mpq_empty(q, &b));
    CHECK(b == true);
    close_unlink(q, name);
}

static void test_toobig(void) {
    const char *name = qname("toobig");
    mpq *q = open_q(name, 0, 4096, 100);
    uint8_t data[300];
    memset(data, 'z', sizeof data);

    CHECK_OK(put_str(q, "first", MP_NO_WAIT));
    CHECK_ST(mpq_put(q, data, 101), MP_E_TOOBIG);
    CHECK(contains(mp_last_error(), "max_message"));
    CHECK(qsize(q) == 1);
    CHECK_ST(mpq_put_timeout(q, data, 300, MP_NO_WAIT), MP_E_TOOBIG);
    CHECK_ST(mpq_put_timeout(q, data, 101, MP_WAIT_FOREVER), MP_E_TOOBIG); /* no waiting */
    CHECK(qsize(q) == 1);
    CHECK_OK(mpq_put(q, data, 100)); /* exactly max_message */
    CHECK(qsize(q) == 2);

    /* put_many: one message too big -> nothing put */
    size_t lens[3] = {10, 101, 10};
    size_t put = 999;
    CHECK_ST(mpq_put_many(q, data, lens, 3, MP_NO_WAIT, &put), MP_E_TOOBIG);
    CHECK(put == 999);
    CHECK(qsize(q) == 2);
    expect_get(q, "first");
    size_t got = 0;
    uint8_t out[128];
    CHECK_OK(mpq_get_into(q, out, sizeof out, &got, MP_NO_WAIT));
    CHECK(got == 100 && memcmp(out, data, 100) == 0);
    close_unlink(q, name);
}

static void test_get_into(void) {
    const char *name = qname("getinto");
    mpq *q = open_q(name, 0, 4096, 0);
    const char *msg = "0123456789";
    uint8_t small[4], exact[10], big[64];
    size_t n = 0;

    CHECK_OK(put_str(q, msg, MP_NO_WAIT));
    CHECK_OK(put_str(q, "next", MP_NO_WAIT));
    memset(small, '#', sizeof small);
    CHECK_ST(mpq_get_into(q, small, sizeof small, &n, MP_NO_WAIT), MP_E_BUFSIZE);
    CHECK(n == 10); /* the size needed */
    CHECK(memcmp(small, "####", 4) == 0);
    CHECK(qsize(q) == 2); /* message stays queued */
    n = 0;
    CHECK_ST(mpq_get_into(q, NULL, 0, &n, MP_NO_WAIT), MP_E_BUFSIZE);
    CHECK(n == 10);
    n = 0;
    CHECK_ST(mpq_get_into(q, exact, 9, &n, MP_WAIT_FOREVER), MP_E_BUFSIZE); /* does not block */
    CHECK(n == 10);
    CHECK(qsize(q) == 2);
    CHECK_OK(mpq_get_into(q, exact, sizeof exact, &n, MP_NO_WAIT));
    CHECK(n == 10 && memcmp(exact, msg, 10) == 0);
    CHECK_OK(mpq_get_into(q, big, sizeof big, &n, MP_WAIT_FOREVER));
    CHECK(n == 4 && memcmp(big, "next", 4) == 0);
    CHECK(qsize(q) == 0);
    close_unlink(q, name);
}

static void test_put_many_get_many(void) {
    const char *name = qname("batch");
    mpq *q = open_q(name, 5, 0, 0);
    /* 8 messages "m0", "m11", "m222", ... of lengths 2..9 */
    uint8_t data[256];
    size_t lens[8], off = 0;
    for (size_t i = 0; i < 8; i++) {
        data[off] = 'm';
        for (size_t k = 0; k <= i; k++)
            data[off + 1 + k] = (uint8_t)('0' + i);
        lens[i] = i + 2;
        off += lens[i];
    }
    size_t total = off;

    size_t put = 0;
    CHECK_OK(mpq_put_many(q, data, lens, 0, MP_NO_WAIT, &put)); /* n = 0 */
    CHECK(put == 0);
    CHECK_OK(mpq_put_many(q, NULL, NULL, 0, MP_NO_WAIT, &put));
    CHECK(put == 0);
    CHECK(qsize(q) == 0);

    /* partial put: maxsize 5 */
    CHECK_OK(mpq_put_many(q, data, lens, 8, MP_NO_WAIT, &put));
    CHECK(put == 5);
    CHECK(qsize(q) == 5);
    size_t put2 = 42;
    size_t rest_off = lens[0] + lens[1] + lens[2] + lens[3] + lens[4];
    CHECK_ST(mpq_put_many(q, data + rest_off, lens + 5, 3, MP_NO_WAIT, &put2), MP_E_FULL);
    CHECK(put2 == 42);

    /* get_many packs messages back to back */
    uint8_t buf[256];
    size_t glens[8] = {0}, n = 0, nb = 0;
    CHECK_OK(mpq_get_many(q, buf, sizeof buf, glens, 3, MP_NO_WAIT, &n, &nb));
    CHECK(n == 3);
    CHECK(glens[0] == 2 && glens[1] == 3 && glens[2] == 4);
    CHECK(nb == 9);
    CHECK(memcmp(buf, data, 9) == 0);
    CHECK(qsize(q) == 2);

    /* the rest now fits */
    CHECK_OK(mpq_put_many(q, data + rest_off, lens + 5, 3, MP_NO_WAIT, &put2));
    CHECK(put2 == 3);
    CHECK(qsize(q) == 5);

    /* cap fits only the first message: one is taken */
    n = nb = 0;
    CHECK_OK(mpq_get_many(q, buf, 5, glens, 8, MP_NO_WAIT, &n, &nb));
    CHECK(n == 1 && nb == 5 && glens[0] == 5);
    CHECK(memcmp(buf, "m3333", 5) == 0);

    /* cap too small for the first: BUFSIZE, needed size in out_bytes */
    n = 777;
    nb = 0;
    CHECK_ST(mpq_get_many(q, buf, 3, glens, 8, MP_NO_WAIT, &n, &nb), MP_E_BUFSIZE);
    CHECK(nb == 6);
    CHECK(n == 777);
    CHECK(qsize(q) == 4);
    nb = 0;
    CHECK_ST(mpq_get_many(q, NULL, 0, glens, 8, MP_WAIT_FOREVER, &n, &nb), MP_E_BUFSIZE);
    CHECK(nb == 6);
    CHECK(qsize(q) == 4);

    /* max_n == 0 is invalid */
    CHECK_ST(mpq_get_many(q, buf, sizeof buf, glens, 0, MP_NO_WAIT, &n, &nb), MP_E_INVAL);
    CHECK(mp_last_error()[0] != '\0');
    CHECK(qsize(q) == 4);

    /* take the rest: stops at what is queued, not at max_n */
    CHECK_OK(mpq_get_many(q, buf, sizeof buf, glens, 8, MP_NO_WAIT, &n, &nb));
    CHECK(n == 4);
    CHECK(glens[0] == 6 && glens[1] == 7 && glens[2] == 8 && glens[3] == 9);
    CHECK(nb == 30);
    CHECK(memcmp(buf, data + total - 30, 30) == 0);
    CHECK(qsize(q) == 0);

    /* lengths whose sum overflows size_t: MP_E_INVAL, nothing put */
    size_t huge[2] = {SIZE_MAX, 2};
    put = 31;
    CHECK_ST(mpq_put_many(q, data, huge, 2, MP_NO_WAIT, &put), MP_E_INVAL);
    CHECK(put == 31);
    CHECK(qsize(q) == 0);

    /* empty messages with NULL data */
    size_t zl[3] = {0, 0, 0};
    CHECK_OK(mpq_put_many(q, NULL, zl, 3, MP_NO_WAIT, &put));
    CHECK(put == 3);
    CHECK_OK(mpq_get_many(q, NULL, 0, glens, 8, MP_NO_WAIT, &n, &nb));
    CHECK(n == 3 && nb == 0 && glens[0] == 0 && glens[2] == 0);
    close_unlink(q, name);

    /* partial put bounded by bytes, not count: 64-byte ring, records of 8+24 */
    name = qname("batchbytes");
    q = open_q(name, 0, 64, 0);
    uint8_t d3[72];
    memset(d3, 'q', sizeof d3);
    size_t l3[3] = {24, 24, 24};
    CHECK_OK(mpq_put_many(q, d3, l3, 3, MP_NO_WAIT, &put));
    CHECK(put == 2);
    CHECK_ST(mpq_put_many(q, d3, l3, 1, 30, &put2), MP_E_FULL);
    bool full = true;
    CHECK_OK(mpq_full(q, &full));
    CHECK(full == false); /* short of bytes, not of count */
    CHECK_OK(mpq_get_many(q, buf, sizeof buf, glens, 8, MP_NO_WAIT, &n, &nb));
    CHECK(n == 2 && nb == 48);
    close_unlink(q, name);
}

static void test_task_done_join(void) {
    const char *name = qname("join");
    mpq *q = open_q(name, 0, 4096, 0);

    CHECK_OK(mpq_join(q, MP_NO_WAIT)); /* nothing put: done */
    CHECK_OK(mpq_join(q, MP_WAIT_FOREVER));
    CHECK_ST(mpq_task_done(q), MP_E_INVAL);
    CHECK(contains(mp_last_error(), "too many"));

    CHECK_OK(put_str(q, "t1", 0));
    CHECK_OK(put_str(q, "t2", 0));
    CHECK_ST(mpq_join(q, MP_NO_WAIT), MP_E_TIMEOUT);
    CHECK(mp_last_error()[0] != '\0');
    double t0 = now_ms();
    CHECK_ST(mpq_join(q, 50), MP_E_TIMEOUT);
    CHECK(now_ms() - t0 >= 40.0);

    expect_get(q, "t1");
    expect_get(q, "t2");
    CHECK_ST(mpq_join(q, MP_NO_WAIT), MP_E_TIMEOUT); /* taken is not done */
    CHECK_OK(mpq_task_done(q));
    CHECK_ST(mpq_join(q, 10), MP_E_TIMEOUT);
    CHECK_OK(mpq_task_done(q));
    CHECK_OK(mpq_join(q, MP_NO_WAIT));
    CHECK_OK(mpq_join(q, MP_WAIT_FOREVER));
    CHECK_ST(mpq_task_done(q), MP_E_INVAL);

    /* task_done may precede the get (Python allows it too: only counts matter) */
    CHECK_OK(put_str(q, "t3", 0));
    CHECK_OK(mpq_task_done(q));
    CHECK_OK(mpq_join(q, MP_NO_WAIT));
    expect_get(q, "t3");
    CHECK_ST(mpq_task_done(q), MP_E_INVAL);

    /* put_many counts every message put */
    uint8_t d[3] = {'a', 'b', 'c'};
    size_t l[3] = {1, 1, 1}, put = 0;
    CHECK_OK(mpq_put_many(q, d, l, 3, MP_NO_WAIT, &put));
    CHECK(put == 3);
    for (int i = 0; i < 3; i++) {
        CHECK_ST(mpq_join(q, MP_NO_WAIT), MP_E_TIMEOUT);
        CHECK_OK(mpq_task_done(q));
    }
    CHECK_OK(mpq_join(q, MP_NO_WAIT));
    CHECK_ST(mpq_task_done(q), MP_E_INVAL);
    close_unlink(q, name);
}

static void test_shutdown(void) {
    const char *name = qname("shut");
    mpq *q = open_q(name, 0, 4096, 0);
    mpq *q2 = open_q(name, 0, 0, 0);
    mp_buf m = {0};
    size_t n = 0, nb = 0, lens[4];
    uint8_t buf[64];

    CHECK_OK(put_str(q, "one", 0));
    CHECK_OK(put_str(q, "two", 0));
    CHECK_OK(put_str(q, "three", 0));
    CHECK_OK(mpq_shutdown(q, false));
    CHECK_OK(mpq_shutdown(q, false)); /* idempotent */

    /* puts fail at once, on every handle */
    CHECK_ST(put_str(q, "x", MP_NO_WAIT), MP_E_SHUTDOWN);
    CHECK(contains(mp_last_error(), "shut"));
    CHECK_ST(mpq_put(q2, (const uint8_t *)"x", 1), MP_E_SHUTDOWN);
    CHECK_ST(put_str(q2, "x", MP_WAIT_FOREVER), MP_E_SHUTDOWN);
    expect_put_many_refused(q, MP_WAIT_FOREVER, MP_E_SHUTDOWN, 3);

    /* gets drain what is left, then fail with MP_E_SHUTDOWN */
    expect_get(q2, "one");
    CHECK_OK(mpq_get_into(q, buf, sizeof buf, &n, MP_WAIT_FOREVER));
    CHECK(n == 3 && memcmp(buf, "two", 3) == 0);
    CHECK_OK(mpq_get_many(q, buf, sizeof buf, lens, 4, MP_WAIT_FOREVER, &n, &nb));
    CHECK(n == 1 && nb == 5 && memcmp(buf, "three", 5) == 0);
    CHECK_ST(mpq_get(q, &m), MP_E_SHUTDOWN); /* does not block */
    CHECK(m.ptr == NULL);
    CHECK(contains(mp_last_error(), "shut"));
    CHECK_ST(mpq_get_timeout(q2, &m, MP_NO_WAIT), MP_E_SHUTDOWN); /* not MP_E_EMPTY */
    CHECK_ST(mpq_get_timeout(q2, &m, 50), MP_E_SHUTDOWN);
    CHECK_ST(mpq_get_into(q, buf, sizeof buf, &n, MP_WAIT_FOREVER), MP_E_SHUTDOWN);
    CHECK_ST(mpq_get_many(q, buf, sizeof buf, lens, 4, MP_WAIT_FOREVER, &n, &nb), MP_E_SHUTDOWN);

    /* the join accounting still works after shutdown */
    CHECK_ST(mpq_join(q, MP_NO_WAIT), MP_E_TIMEOUT);
    for (int i = 0; i < 3; i++)
        CHECK_OK(mpq_task_done(q));
    CHECK_OK(mpq_join(q, MP_NO_WAIT));
    CHECK_ST(mpq_task_done(q), MP_E_INVAL);

    /* reading state is allowed */
    bool b = false;
    CHECK_OK(mpq_empty(q, &b));
    CHECK(b == true);
    mpq_options o;
    CHECK_OK(mpq_options_of(q, &o));

    /* a new handle on the same name sees the shutdown: it is permanent */
    mpq *q3 = open_q(name, 0, 0, 0);
    CHECK_ST(put_str(q3, "x", MP_NO_WAIT), MP_E_SHUTDOWN);
    mpq_close(q3);
    mpq_close(q2);
    /* unlink and reopen to start afresh */
    close_unlink(q, name);
    q = open_q(name, 0, 4096, 0);
    CHECK_OK(put_str(q, "fresh", MP_NO_WAIT));
    expect_get(q, "fresh");
    close_unlink(q, name);

    /* shutdown(true): what is left is discarded and counted as done */
    name = qname("shutnow");
    q = open_q(name, 0, 4096, 0);
    CHECK_OK(put_str(q, "a", 0));
    CHECK_OK(put_str(q, "b", 0));
    CHECK_OK(put_str(q, "c", 0));
    expect_get(q, "a"); /* taken, not yet done */
    CHECK_OK(mpq_shutdown(q, true));
    CHECK(qsize(q) == 0);
    CHECK_ST(mpq_get_timeout(q, &m, MP_WAIT_FOREVER), MP_E_SHUTDOWN);
    CHECK_ST(put_str(q, "d", 0), MP_E_SHUTDOWN);
    CHECK_ST(mpq_join(q, MP_NO_WAIT), MP_E_TIMEOUT); /* "a" is still unfinished */
    CHECK_OK(mpq_task_done(q));
    CHECK_OK(mpq_join(q, MP_NO_WAIT));
    CHECK_ST(mpq_task_done(q), MP_E_INVAL);
    CHECK_OK(mpq_shutdown(q, true));  /* idempotent */
    CHECK_OK(mpq_shutdown(q, false)); /* and harmless after immediate */
    close_unlink(q, name);
}

static void test_last_error_message(void) {
    const char *name = qname("lasterr");
    mpq *q = open_q(name, 0, 4096, 0);
    mp_buf m = {0};

    CHECK_ST(mpq_get_timeout(q, &m, MP_NO_WAIT), MP_E_EMPTY);
    const char *e = mp_last_error();
    CHECK(e != NULL && strlen(e) > 0);
    char copy[512];
    snprintf(copy, sizeof copy, "%s", e);
    CHECK(contains(copy, "empty"));

    /* a successful call leaves it unchanged */
    CHECK(qsize(q) == 0);
    CHECK_OK(put_str(q, "x", 0));
    expect_get(q, "x");
    CHECK_OK(mpq_task_done(q));
    CHECK(strcmp(mp_last_error(), copy) == 0);

    /* size query: NULL buffer -> BUFSIZE with length + 1 */
    size_t need = 0;
    CHECK_ST(mp_last_error_message(NULL, 0, &need), MP_E_BUFSIZE);
    CHECK(need == strlen(copy) + 1);
    /* buffer one byte short */
    char *buf = malloc(need);
    CHECK(buf != NULL);
    size_t n = 0;
    memset(buf, '#', need);
    CHECK_ST(mp_last_error_message(buf, need - 1, &n), MP_E_BUFSIZE);
    CHECK(n == need);
    /* NULL buffer with a nonzero cap is still just a size query */
    n = 0;
    CHECK_ST(mp_last_error_message(NULL, 100, &n), MP_E_BUFSIZE);
    CHECK(n == need);
    /* exact size */
    CHECK_OK(mp_last_error_message(buf, need, &n));
    CHECK(n == need - 1);
    CHECK(buf[n] == '\0');
    CHECK(strcmp(buf, copy) == 0);
    /* NULL out_len: MP_E_NULL, message unchanged */
    CHECK_ST(mp_last_error_message(buf, need, NULL), MP_E_NULL);
    CHECK(strcmp(mp_last_error(), copy) == 0);
    free(buf);

    /* a failing call replaces the message */
    CHECK_ST(mpq_task_done(q), MP_E_INVAL);
    CHECK(strcmp(mp_last_error(), copy) != 0);
    CHECK(contains(mp_last_error(), "task_done"));
    char big[1024];
    CHECK_OK(mp_last_error_message(big, sizeof big, &n));
    CHECK(n == strlen(mp_last_error()) && strcmp(big, mp_last_error()) == 0);

    /* the message names the queue / argument where it helps */
    CHECK_ST(mpq_put_timeout(q, NULL, 3, 0), MP_E_NULL);
    CHECK(contains(mp_last_error(), "data"));
    mpq_options o = {.maxsize = 9};
    mpq *q2 = NULL;
    CHECK_ST(mpq_open(name, &o, &q2), MP_E_INVAL);
    CHECK(contains(mp_last_error(), name));
    close_unlink(q, name);
}

/* The last error is per thread. */
struct thread_arg {
    const char *name;
    mp_status st;
    char msg[256];
};

static void *thread_fail(void *p) {
    struct thread_arg *a = p;
    /* fresh thread: empty message */
    snprintf(a->msg, sizeof a->msg, "%s", mp_last_error());
    if (a->msg[0] != '\0') {
        a->st = 1;
        return NULL;
    }
    mpq_options o = {.flags = MPQ_ATTACH_ONLY};
    mpq *q = NULL;
    a->st = mpq_open(a->name, &o, &q);
    snprintf(a->msg, sizeof a->msg, "%s", mp_last_error());
    return NULL;
}

static void test_last_error_per_thread(void) {
    const char *name = qname("thread");
    mpq *q = open_q(name, 0, 4096, 0);
    CHECK_ST(mpq_task_done(q), MP_E_INVAL);
    char mine[256];
    snprintf(mine, sizeof mine, "%s", mp_last_error());

    struct thread_arg a = {.name = "capi-no-such-queue-for-thread-test"};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, thread_fail, &a) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(a.st == MP_E_NOTFOUND);
    CHECK(a.msg[0] != '\0');
    CHECK(strcmp(a.msg, mine) != 0);
    CHECK(strcmp(mp_last_error(), mine) == 0); /* this thread's message is untouched */
    close_unlink(q, name);
}

/* A get blocked in another thread is woken by a put, and by shutdown. */
struct waiter_arg {
    const char *name;
    mp_status st;
    size_t len;
};

static void *thread_get(void *p) {
    struct waiter_arg *a = p;
    mpq *q = NULL;
    a->st = mpq_open(a->name, NULL, &q);
    if (a->st != MP_OK)
        return NULL;
    uint8_t buf[64];
    a->st = mpq_get_into(q, buf, sizeof buf, &a->len, 20000);
    mpq_close(q);
    return NULL;
}

static void test_blocking_wakeups(void) {
    const char *name = qname("wake");
    mpq *q = open_q(name, 0, 4096, 0);
    struct waiter_arg a = {.name = name, .st = 99};
    pthread_t t;

    CHECK(pthread_create(&t, NULL, thread_get, &a) == 0);
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    CHECK_OK(put_str(q, "wake!", 0));
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(a.st == MP_OK && a.len == 5);

    a.st = 99;
    double t0 = now_ms();
    CHECK(pthread_create(&t, NULL, thread_get, &a) == 0);
    nanosleep(&ts, NULL);
    CHECK_OK(mpq_shutdown(q, false));
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(a.st == MP_E_SHUTDOWN);
    CHECK(now_ms() - t0 < 15000.0); /* woken, not timed out at 20 s */
    close_unlink(q, name);
}

/* No segment of this process is left in /dev/shm. */
static void test_nothing_left(void) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "mpipc.q." CHECK_NAME_PREFIX "-%ld-", (long)getpid());
    DIR *d = opendir("/dev/shm");
    CHECK(d != NULL);
    int left = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            fprintf(stderr, "left behind: /dev/shm/%s\n", e->d_name);
            left++;
        }
    }
    closedir(d);
    CHECK(left == 0);
}

int main(void) {
    alarm(300); /* last-resort watchdog: a hang in the library ends the test */
    double t0 = now_ms();

    test_last_error_initially_empty();
    test_version();
    test_status_str();
    test_open_errors();
    test_open_flags_and_attach();
    test_options_of_defaults();
    test_mode();
    test_null_arguments();
    test_put_get_basics();
    test_timeouts_full_empty();
    test_toobig();
    test_get_into();
    test_put_many_get_many();
    test_task_done_join();
    test_shutdown();
    test_last_error_message();
    test_last_error_per_thread();
    test_blocking_wakeups();
    test_nothing_left();

    return check_summary("test_queue_api", t0);
}
