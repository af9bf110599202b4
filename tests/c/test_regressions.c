/*
 * test_regressions.c: library bugs found while writing the C suite, each
 * asserting the correct (documented) behaviour. Kept apart from
 * test_queue_api.c so that a known bug does not hide what the ASan and
 * valgrind runs of that test say.
 *
 * A. Calls made while a thread is exiting must return their status, not
 *    abort the process. Once a call has failed on a thread (filling the
 *    library's thread-local last-error slot), a failing call made after
 *    that thread's Rust thread-locals were destroyed (glibc runs them
 *    before atexit handlers and before pthread key destructors) panics with
 *    "cannot access a Thread Local Storage value during or after
 *    destruction"; the panic boundary panics again while recording it, and
 *    the process aborts: "panic in a function that cannot unwind", SIGABRT.
 *    Each case runs in a forked child.
 *
 * B. A timeout bounds the wait even when mpq_set_spin allows a long spin.
 *    The header: mpq_get_timeout waits "at most timeout_ms"; mpq_set_spin
 *    sets "how long a blocked call ... spins before it sleeps". The spin
 *    loop does not look at the deadline, so with a spin of 6 s a 50 ms
 *    get/put/join returns after ~6 s.
 *
 * C. A ShareableList given bytes that are not well-formed CBOR reported
 *    MP_E_TYPE, the status of a value of the wrong type; every binding
 *    reports a decode error as MP_E_CORRUPT (issue 20, item 6). Malformed
 *    CBOR is MP_E_CORRUPT, well-formed CBOR a list cannot hold (an array,
 *    a tag) stays MP_E_TYPE, and nothing is stored either way.
 *
 * Prints one line per case and "N passed, M failed"; exits 1 if any failed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mpipc.h"

#include "check.h" /* g_passed, g_failed, now_ms(); cases report() rather than CHECK */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Set-up steps that must work for a case to mean anything. */
#define REQUIRE(cond)                                                                 \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n  mp_last_error(): \"%s\"\n", \
                    __FILE__, __LINE__, #cond, mp_last_error());                      \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

static void report(const char *what, int ok) {
    printf("%-6s %s\n", ok ? "ok" : "FAILED", what);
    fflush(stdout);
    if (ok)
        g_passed++;
    else
        g_failed++;
}

/* ------------------------------------------------------------------ */
/* A. calls while exiting                                               */
/* ------------------------------------------------------------------ */

/* What the exit-time calls returned, shared with the parent. */
struct results {
    atomic_int ran;
    atomic_int unlink_st;
    atomic_int open_st;
    atomic_int last_error_nonnull;
};

static struct results *g_res;
static char g_missing[128];

static void exit_time_calls(void) {
    mpq *q = NULL;
    atomic_store(&g_res->unlink_st, mpq_unlink(g_missing));
    atomic_store(&g_res->open_st, mpq_open("bad/name", NULL, &q));
    atomic_store(&g_res->last_error_nonnull, mp_last_error() != NULL);
    atomic_store(&g_res->ran, 1);
}

static void case_atexit(int fail_first) {
    atexit(exit_time_calls);
    if (fail_first && mpq_unlink(g_missing) != MP_E_NOTFOUND) /* fills the thread-local slot */
        _exit(40);
    exit(0); /* runs the handler */
}

static pthread_key_t g_key;

static void key_destructor(void *p) {
    (void)p;
    exit_time_calls();
}

static void *key_thread(void *arg) {
    (void)arg;
    pthread_setspecific(g_key, (void *)1);
    if (mpq_unlink(g_missing) != MP_E_NOTFOUND)
        _exit(41);
    return NULL; /* thread exit: Rust TLS destroyed, then key_destructor */
}

static void case_thread_key(void) {
    if (pthread_key_create(&g_key, key_destructor) != 0)
        _exit(42);
    pthread_t t;
    if (pthread_create(&t, NULL, key_thread, NULL) != 0 || pthread_join(t, NULL) != 0)
        _exit(43);
    _exit(0);
}

static void print_head(FILE *f) {
    fflush(f);
    rewind(f);
    char line[512];
    for (int i = 0; i < 4 && fgets(line, sizeof line, f) != NULL; i++)
        fprintf(stderr, "    | %s", line);
}

static void test_calls_while_exiting(void) {
    static const char *names[] = {
        "A1 failing call in an atexit handler (no earlier failure)",
        "A2 failing call in an atexit handler after a failure in main",
        "A3 failing call in a pthread key destructor after a failure on that thread",
    };
    for (int which = 0; which < 3; which++) {
        FILE *err = tmpfile(); /* the child's stderr */
        REQUIRE(err != NULL);
        memset(g_res, 0, sizeof *g_res);
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            dup2(fileno(err), 2);
            alarm(30);
            if (which == 2)
                case_thread_key();
            case_atexit(which == 1);
            _exit(44);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && atomic_load(&g_res->ran) &&
                 atomic_load(&g_res->unlink_st) == MP_E_NOTFOUND && atomic_load(&g_res->open_st) == MP_E_INVAL &&
                 atomic_load(&g_res->last_error_nonnull);
        report(names[which], ok);
        if (!ok) {
            fprintf(stderr, "  child ");
            if (WIFSIGNALED(status))
                fprintf(stderr, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
            else
                fprintf(stderr, "exited with %d", WEXITSTATUS(status));
            fprintf(stderr, "; exit-time calls completed: %d; want a normal exit 0, mpq_unlink -> %d, mpq_open -> %d\n",
                    atomic_load(&g_res->ran), MP_E_NOTFOUND, MP_E_INVAL);
            fprintf(stderr, "  child's stderr (head):\n");
            print_head(err);
        }
        fclose(err);
    }
}

/* ------------------------------------------------------------------ */
/* B. timeouts with a long spin                                         */
/* ------------------------------------------------------------------ */

#define LONG_SPIN_US 6000000u /* 6 s */
#define TIMEOUT_MS 50
#define BOUND_MS 3000.0 /* generous: 60 x the timeout, half the spin */

enum { OP_GET, OP_PUT, OP_JOIN };

struct spin_case {
    char name[96];
    int op;
    mp_status st;
    double elapsed_ms;
};

static void *spin_thread(void *p) {
    struct spin_case *c = p;
    mpq_options o = {.maxsize = 1};
    mpq *q = NULL;
    REQUIRE(mpq_open(c->name, &o, &q) == MP_OK);
    if (c->op != OP_GET) /* full, with one unfinished task */
        REQUIRE(mpq_put(q, (const uint8_t *)"x", 1) == MP_OK);
    REQUIRE(mpq_set_spin(q, LONG_SPIN_US) == MP_OK);
    mp_buf m = {0};
    double t0 = now_ms();
    switch (c->op) {
    case OP_GET:
        c->st = mpq_get_timeout(q, &m, TIMEOUT_MS);
        break;
    case OP_PUT:
        c->st = mpq_put_timeout(q, (const uint8_t *)"y", 1, TIMEOUT_MS);
        break;
    default:
        c->st = mpq_join(q, TIMEOUT_MS);
    }
    c->elapsed_ms = now_ms() - t0;
    mp_buf_free(&m);
    mpq_close(q);
    REQUIRE(mpq_unlink(c->name) == MP_OK);
    return NULL;
}

static void test_timeout_with_long_spin(void) {
    static const char *what[] = {"get_timeout", "put_timeout (full)", "join"};
    static const mp_status want[] = {MP_E_EMPTY, MP_E_FULL, MP_E_TIMEOUT};
    struct spin_case c[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) { /* in parallel: one spin's time in all */
        memset(&c[i], 0, sizeof c[i]);
        snprintf(c[i].name, sizeof c[i].name, "creg-%ld-spin%d", (long)getpid(), i);
        c[i].op = i;
        REQUIRE(pthread_create(&t[i], NULL, spin_thread, &c[i]) == 0);
    }
    for (int i = 0; i < 3; i++)
        REQUIRE(pthread_join(t[i], NULL) == 0);
    for (int i = 0; i < 3; i++) {
        char line[200];
        snprintf(line, sizeof line, "B%d mpq_set_spin(%u us) then %s(%d ms) returns within %.0f ms", i + 1,
                 LONG_SPIN_US, what[i], TIMEOUT_MS, BOUND_MS);
        int ok = c[i].st == want[i] && c[i].elapsed_ms >= TIMEOUT_MS - 10 && c[i].elapsed_ms < BOUND_MS;
        report(line, ok);
        if (!ok)
            fprintf(stderr, "  got %s after %.0f ms; want %s after about %d ms\n", mp_status_str(c[i].st),
                    c[i].elapsed_ms, mp_status_str(want[i]), TIMEOUT_MS);
    }
}

/* ------------------------------------------------------------------ */
/* C. ShareableList: malformed CBOR is MP_E_CORRUPT                      */
/* ------------------------------------------------------------------ */

static void test_slist_malformed_cbor(void) {
    char name[64];
    snprintf(name, sizeof name, "creg-%ld-slist", (long)getpid());
    static const uint8_t items[] = {0x82, 0x01, 0x63, 'a', 'b', 'c'}; /* [1, "abc"] */
    mp_slist *l = NULL;
    REQUIRE(mp_slist_open(name, items, sizeof items, MP_OPEN_CREATE_ONLY, &l) == MP_OK);

    static const uint8_t truncated_text[] = {0x63, 'a'};   /* "a.." cut short */
    static const uint8_t trailing[] = {0x01, 0x02};        /* 1, then a stray byte */
    static const uint8_t bad_utf8[] = {0x62, 0xff, 0xfe};  /* text that is not UTF-8 */
    static const uint8_t reserved[] = {0x1c};              /* a reserved head */
    static const uint8_t array[] = {0x81, 0x01};           /* [1]: well-formed, not a scalar */
    static const uint8_t tagged[] = {0xc1, 0x00};          /* 1(0): well-formed, tagged */
    report("slist_set truncated text -> MP_E_CORRUPT",
           mp_slist_set(l, 1, truncated_text, sizeof truncated_text) == MP_E_CORRUPT &&
               strstr(mp_last_error(), "not well-formed CBOR") != NULL);
    report("slist_set trailing bytes -> MP_E_CORRUPT", mp_slist_set(l, 0, trailing, sizeof trailing) == MP_E_CORRUPT);
    report("slist_set bad UTF-8 -> MP_E_CORRUPT", mp_slist_set(l, 1, bad_utf8, sizeof bad_utf8) == MP_E_CORRUPT);
    report("slist_set reserved head -> MP_E_CORRUPT", mp_slist_set(l, 0, reserved, sizeof reserved) == MP_E_CORRUPT);
    report("slist_set array -> MP_E_TYPE", mp_slist_set(l, 0, array, sizeof array) == MP_E_TYPE);
    report("slist_set tag -> MP_E_TYPE", mp_slist_set(l, 0, tagged, sizeof tagged) == MP_E_TYPE);
    mp_buf b = {0};
    REQUIRE(mp_slist_get(l, 1, &b) == MP_OK);
    report("nothing stored by the refused sets", b.len == 4 && memcmp(b.ptr, items + 2, 4) == 0);
    mp_buf_free(&b);

    static const uint8_t short_array[] = {0x82, 0x01};      /* 2 items announced, 1 given */
    static const uint8_t array_of_array[] = {0x81, 0x80};   /* [[]] */
    mp_slist *l2 = NULL;
    report("slist_open truncated array -> MP_E_CORRUPT",
           mp_slist_open(name, short_array, sizeof short_array, 0, &l2) == MP_E_CORRUPT && l2 == NULL);
    report("slist_open nested array -> MP_E_TYPE",
           mp_slist_open(name, array_of_array, sizeof array_of_array, 0, &l2) == MP_E_TYPE && l2 == NULL);
    mp_slist_close(l);
    REQUIRE(mp_slist_unlink(name) == MP_OK);
}

int main(void) {
    g_res = mmap(NULL, sizeof *g_res, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(g_res != MAP_FAILED);
    snprintf(g_missing, sizeof g_missing, "creg-%ld-no-such-queue", (long)getpid());

    test_calls_while_exiting();
    test_timeout_with_long_spin();
    test_slist_malformed_cbor();

    if (g_failed != 0) {
        fprintf(stderr, "%u passed, %u failed\n", g_passed, g_failed);
        return 1;
    }
    printf("%u passed, 0 failed\n", g_passed);
    return 0;
}
