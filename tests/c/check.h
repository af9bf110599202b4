/*
 * check.h: the check framework and helpers shared by the C tests in
 * tests/c/.
 *
 * Each test is a single translation unit that includes this header once, so
 * the header holds the shared state itself (the pass counter, the list of
 * queue names) as statics, and its functions are static inline: nothing to
 * link, and a test that does not use a helper gets no "unused" warning under
 * -Wall -Wextra -Werror. Define _GNU_SOURCE before any include (the tests do,
 * and tests/c/run.sh passes -D_GNU_SOURCE).
 *
 *   #define CHECK_NAME_PREFIX "capi"     optional; default "ctest"
 *   #include "check.h"
 *
 * Checks (the test stops at the first failure):
 *   CHECK(cond)           cond is true
 *   CHECK_ST(call, want)  call returns the mp_status want
 *   CHECK_OK(call)        call returns MP_OK
 *   A passed check adds 1 to g_passed. A failed one prints file:line, the
 *   expression, the status (CHECK_ST, CHECK_OK) and mp_last_error(), then
 *   "N passed, 1 failed" on stderr, runs check_cleanup() and exits 1.
 *
 * Queue names (so that a failed check can unlink what the run created):
 *   qname(tag)       a fresh name "<CHECK_NAME_PREFIX>-<pid>-<tag>", remembered
 *   keep_name(name)  remember any other name; returns the remembered copy
 *   check_cleanup()  runs g_check_on_fail (if set), then unlinks every
 *                    remembered name, ignoring errors
 *   g_check_on_fail  extra cleanup for a failed check, run before the unlinks
 *                    (test_queue_procs sets it to kill its children)
 *
 * Time and the end of the run:
 *   now_ms()               CLOCK_MONOTONIC in milliseconds
 *   check_summary(test,t0) prints "<test>: mpipc <version>, <ms since t0> ms"
 *                          and "N passed, 0 failed" on stdout; returns 0, for
 *                          `return check_summary(...)` at the end of main()
 */
#ifndef MPIPC_TESTS_C_CHECK_H
#define MPIPC_TESTS_C_CHECK_H

#include "mpipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef CHECK_NAME_PREFIX
#define CHECK_NAME_PREFIX "ctest"
#endif

/* ------------------------------------------------------------------ */
/* Queue names, and cleanup after a failed check                        */
/* ------------------------------------------------------------------ */

#define CHECK_MAX_NAMES 64
static char g_names[CHECK_MAX_NAMES][256];
static int g_nnames;

/* Extra cleanup run by a failed check before the names are unlinked. */
static void (*g_check_on_fail)(void);

/* Remembers `name` for check_cleanup(); returns the remembered copy. */
static inline const char *keep_name(const char *name) {
    if (g_nnames == CHECK_MAX_NAMES || strlen(name) >= sizeof g_names[0]) {
        fprintf(stderr, "too many queue names, or too long: \"%s\"\n", name);
        exit(1);
    }
    return strcpy(g_names[g_nnames++], name);
}

/* A fresh queue name "<CHECK_NAME_PREFIX>-<pid>-<tag>", remembered. */
static inline const char *qname(const char *tag) {
    char n[sizeof g_names[0]];
    snprintf(n, sizeof n, CHECK_NAME_PREFIX "-%ld-%s", (long)getpid(), tag);
    return keep_name(n);
}

/* On failure: g_check_on_fail, then unlink whatever the run left behind
 * (errors ignored). Called directly, not from atexit(): a failing library
 * call made at exit time is what test_regressions.c, case A, is about. */
static inline void check_cleanup(void) {
    if (g_check_on_fail != NULL)
        g_check_on_fail();
    for (int i = 0; i < g_nnames; i++)
        (void)mpq_unlink(g_names[i]);
}

/* ------------------------------------------------------------------ */
/* Checks                                                               */
/* ------------------------------------------------------------------ */

static unsigned g_passed;

static inline void fail_at(const char *file, int line, const char *expr, int have_status, mp_status st) {
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, expr);
    if (have_status)
        fprintf(stderr, "  status: %d (%s)\n", (int)st, mp_status_str(st));
    fprintf(stderr, "  mp_last_error(): \"%s\"\n", mp_last_error());
    fprintf(stderr, "%u passed, 1 failed\n", g_passed);
    check_cleanup();
    exit(1);
}

/* CHECK(cond): a boolean check. */
#define CHECK(cond)                                                   \
    do {                                                              \
        if (cond)                                                     \
            g_passed++;                                               \
        else                                                          \
            fail_at(__FILE__, __LINE__, #cond, 0, MP_OK);             \
    } while (0)

/* CHECK_ST(call, want): `call` returns mp_status `want`. */
#define CHECK_ST(call, want)                                          \
    do {                                                              \
        mp_status st_ = (call);                                       \
        if (st_ == (want))                                            \
            g_passed++;                                               \
        else                                                          \
            fail_at(__FILE__, __LINE__, #call " == " #want, 1, st_);  \
    } while (0)

/* CHECK_OK(call): `call` returns MP_OK. */
#define CHECK_OK(call) CHECK_ST(call, MP_OK)

/* ------------------------------------------------------------------ */
/* Time, and the closing lines                                          */
/* ------------------------------------------------------------------ */

static inline double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The end of a passing run; `t0` is now_ms() at its start. */
static inline int check_summary(const char *test, double t0) {
    printf("%s: mpipc %s, %.0f ms\n", test, mp_version(), now_ms() - t0);
    printf("%u passed, 0 failed\n", g_passed);
    return 0;
}

#endif /* MPIPC_TESTS_C_CHECK_H */
