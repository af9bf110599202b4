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
 *   sleep_ms(ms)           sleeps `ms` milliseconds, resuming after signals
 *   check_summary(test,t0) prints "<test>: mpipc <version>, <ms since t0> ms"
 *                          and "N passed, 0 failed" on stdout; returns 0, for
 *                          `return check_summary(...)` at the end of main()
 *
 * Child processes (for the tests that fork; the parent remembers each child
 * in g_kids until it is waited for, so that a failed check can kill it):
 *   #define CHECK_CHILD_ALARM_S 60   optional; default 0 (none): each
 *                                    spawn()ed child calls alarm(60) first,
 *                                    so none outlives a hung parent by much
 *   fork_child()           fflush()es stdio, then fork(); in the child sets
 *                          g_in_child and returns 0; in the parent remembers
 *                          the child and returns its pid (CHECKs the fork)
 *   spawn(fn, arg)         fork_child(), then the child runs fn(arg) and
 *                          _exit(0)s; returns the child's pid
 *   wait_child(pid, ms)    waits at most `ms`: the exit code, -1000 - signal
 *                          if killed by one, or -1 if it had to be killed
 *                          for running late (and forgets the child)
 *   CHECK_CHILD(pid, ms, want)  wait_child(pid, ms) returns `want`
 *   kill_kids()            SIGKILLs and reaps every remembered child (for
 *                          g_check_on_fail; does nothing in a child)
 *   g_in_child             set in children made by fork_child()/spawn()
 * In a child, report and _exit(code) rather than CHECK (never exit(): the
 * parent's atexit handlers and stdio buffers must not run twice):
 *   CHILD_REQUIRE(cond, code)   cond is true
 *   CHILD_ST(call, want, code)  call returns the mp_status want
 *   write_all(fd, p, n)         writes all n bytes, or says why and _exit(30)
 */
#ifndef MPIPC_TESTS_C_CHECK_H
#define MPIPC_TESTS_C_CHECK_H

#include "mpipc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CHECK_NAME_PREFIX
#define CHECK_NAME_PREFIX "ctest"
#endif

#ifndef CHECK_CHILD_ALARM_S
#define CHECK_CHILD_ALARM_S 0
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

/* Sleeps `ms` milliseconds, the whole time even if a signal interrupts. */
static inline void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* The end of a passing run; `t0` is now_ms() at its start. */
static inline int check_summary(const char *test, double t0) {
    printf("%s: mpipc %s, %.0f ms\n", test, mp_version(), now_ms() - t0);
    printf("%u passed, 0 failed\n", g_passed);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Child processes                                                      */
/* ------------------------------------------------------------------ */

/* The children not yet waited for (0: a free slot), for kill_kids(). */
#define CHECK_MAX_KIDS 128
static pid_t g_kids[CHECK_MAX_KIDS];

/* Set in a child made by fork_child() or spawn(): g_kids there is only the
 * parent's copy, and signal handlers and cleanups can tell where they run. */
static volatile sig_atomic_t g_in_child;

/* SIGKILLs and reaps every child not yet waited for. Meant for
 * g_check_on_fail (directly or from a test's own); nothing in a child. */
static inline void kill_kids(void) {
    if (g_in_child)
        return;
    for (int i = 0; i < CHECK_MAX_KIDS; i++) {
        if (g_kids[i] > 0) {
            kill(g_kids[i], SIGKILL);
            waitpid(g_kids[i], NULL, 0);
            g_kids[i] = 0;
        }
    }
}

/* Remembers child `pid` in a free slot of g_kids; with none left, kills it
 * and fails. */
static inline void add_kid(pid_t pid) {
    for (int i = 0; i < CHECK_MAX_KIDS; i++) {
        if (g_kids[i] == 0) {
            g_kids[i] = pid;
            return;
        }
    }
    kill(pid, SIGKILL);
    CHECK(!"too many children at once");
}

/* fork() after flushing stdio (so that nothing buffered is written twice).
 * In the child: sets g_in_child and returns 0. In the parent: remembers the
 * child (add_kid) and returns its pid. A failed fork is a failed CHECK. */
static inline pid_t fork_child(void) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        g_in_child = 1;
        return 0;
    }
    add_kid(pid);
    return pid;
}

typedef void (*child_fn)(void *arg);

/* Runs fn(arg) in a new child (fork_child()), which then _exit(0)s; a
 * failure in fn ends it with another code (CHILD_REQUIRE, CHILD_ST). With
 * CHECK_CHILD_ALARM_S > 0 the child first calls alarm(CHECK_CHILD_ALARM_S).
 * Returns the child's pid, in the parent. */
static inline pid_t spawn(child_fn fn, void *arg) {
    pid_t pid = fork_child();
    if (pid == 0) {
        if (CHECK_CHILD_ALARM_S > 0)
            alarm(CHECK_CHILD_ALARM_S); /* a child never outlives a hung parent by much */
        fn(arg);
        _exit(0);
    }
    return pid;
}

/* Waits for child `pid` at most `timeout_ms`. Returns its exit code, or
 * -1000 - signal if it was killed by a signal, or -1 if it had to be
 * killed because it did not finish in time (-2: waitpid failed, -3: neither
 * exited nor killed). The child is forgotten (g_kids). */
static inline int wait_child(pid_t pid, long timeout_ms) {
    double deadline = now_ms() + (double)timeout_ms;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "waitpid(%ld): %s\n", (long)pid, strerror(errno));
            return -2;
        }
        if (now_ms() > deadline) {
            fprintf(stderr, "child %ld did not finish within %ld ms: killing it\n", (long)pid, timeout_ms);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            status = -1;
            break;
        }
        sleep_ms(1);
    }
    for (int i = 0; i < CHECK_MAX_KIDS; i++)
        if (g_kids[i] == pid)
            g_kids[i] = 0;
    if (status == -1)
        return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return -1000 - WTERMSIG(status);
    return -3;
}

/* CHECK_CHILD(pid, timeout_ms, want): the child ends with `want` (an exit
 * code, or -1000 - signal) within the time; says what it got otherwise. */
#define CHECK_CHILD(pid, timeout_ms, want)                                                       \
    do {                                                                                         \
        int got_ = wait_child((pid), (timeout_ms));                                              \
        if (got_ != (want))                                                                      \
            fprintf(stderr, "child %ld ended with %d (exit code, or -1000 - signal, -1 = hung), " \
                    "expected %d\n", (long)(pid), got_, (int)(want));                            \
        CHECK(got_ == (want));                                                                   \
    } while (0)

/* In a child: on failure, say why and _exit(code) (never exit(): no atexit
 * handlers or stdio buffers of the parent must run twice). */
#define CHILD_REQUIRE(cond, code)                                                        \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "[child %ld] %s:%d: %s failed; mp_last_error(): \"%s\"\n",   \
                    (long)getpid(), __FILE__, __LINE__, #cond, mp_last_error());         \
            _exit(code);                                                                 \
        }                                                                                \
    } while (0)

/* CHILD_ST(call, want, code): in a child, `call` returns `want`. */
#define CHILD_ST(call, want, code)                                                        \
    do {                                                                                  \
        mp_status cst_ = (call);                                                          \
        if (cst_ != (want)) {                                                             \
            fprintf(stderr, "[child %ld] %s:%d: %s returned %s, want %s; \"%s\"\n",       \
                    (long)getpid(), __FILE__, __LINE__, #call, mp_status_str(cst_),       \
                    mp_status_str(want), mp_last_error());                                \
            _exit(code);                                                                  \
        }                                                                                 \
    } while (0)

/* Writes the `n` bytes at `p` to `fd`, retrying short writes and EINTR. On
 * an error (or a write of 0): says why and _exit(30) (a child's failure). */
static inline void write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "[%ld] write_all: %s\n", (long)getpid(), strerror(errno));
            _exit(30);
        }
        c += w;
        n -= (size_t)w;
    }
}

#endif /* MPIPC_TESTS_C_CHECK_H */
