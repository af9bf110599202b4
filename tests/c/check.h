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
 * Non-fatal checks, for the regression checks of library bugs (so that one
 * does not hide another):
 *   CHECK_REGRESSION(cond, what)  like CHECK, but a failure is reported
 *                         (with `what`) and counted in g_failed, and the run
 *                         goes on; it then ends "N passed, M failed", exit 1
 *                         (check_summary)
 *
 * Queue names and files (so that a failed check can remove what the run
 * created):
 *   qname(tag)       a fresh name "<CHECK_NAME_PREFIX>-<pid>-<tag>", remembered
 *   keep_name(name)  remember any other name; returns the remembered copy
 *   tmp_path(tag)    a fresh path "/tmp/<CHECK_NAME_PREFIX>-<pid>-<tag>" (a
 *                    socket file, a key file), unlinked now, remembered
 *   unlink_paths()   unlinks every remembered path (at the end of a run;
 *                    async-signal-safe)
 *   check_cleanup()  runs g_check_on_fail (if set), then unlinks every
 *                    remembered name and (not in a child) path, ignoring
 *                    errors
 *   g_check_on_fail  extra cleanup for a failed check, run before the unlinks
 *                    (the tests that fork set it to kill_kids)
 *
 * Time and the end of the run:
 *   now_ms()               CLOCK_MONOTONIC in milliseconds
 *   sleep_ms(ms)           sleeps `ms` milliseconds, resuming after signals
 *   wait_asleep(pid)       waits (best effort, at most 5 s) until child `pid`
 *                          sleeps in the kernel, e.g. blocked in a futex wait
 *   proc_status_kb(pid, f) field `f` of /proc/<pid>/status in kB ("VmRSS",
 *                          "VmHWM"; pid 0 = this process), -1 if unreadable
 *   check_summary(test,t0) prints "<test>: mpipc <version>, <ms since t0> ms"
 *                          and "N passed, 0 failed" on stdout and returns 0;
 *                          or, after a failed CHECK_REGRESSION, "N passed,
 *                          M failed" on stderr and returns 1. For
 *                          `return check_summary(...)` at the end of main()
 *
 * The watchdog (a hang anywhere becomes a failure that names the section):
 *   start_watchdog(test, s)  alarm(s), and on SIGALRM: in a child _exit(99);
 *                          in the parent say "<test>: watchdog: still running
 *                          after <s> s, in section: <g_section>", SIGKILL the
 *                          remembered children, unlink_paths(), _exit(2)
 *   g_section              what the test is doing, for that message
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
 *
 * Reading with a time limit (pipes to and from children):
 *   read_timeout(fd, buf, cap, ms)  one read(): bytes read, 0 at EOF, -1 on
 *                          timeout or error
 *   read_byte(fd, ms)      the byte, -1 at EOF, -2 on timeout or error
 *   put_byte(fd, c)        write_all() of one byte
 *
 * Programs run with their stdout or stderr on a pipe (python3, the mpipc
 * binary): a struct proc holds the child and what it wrote so far
 *   proc_start(p, out_fd, alarm_s, argv)  fork_child(), then in the child
 *                          out_fd (1 or 2) onto the pipe, alarm(alarm_s) if
 *                          > 0 (it survives exec), execvp(argv[0], argv)
 *   proc_read_some(p, ms)  one read into p->out: bytes, 0 at EOF, -1 on
 *                          timeout, error or a full p->out
 *   proc_read_until(p, needle, ms)  until needle is in p->out (1), or EOF or
 *                          `ms` pass (0); needle NULL: until EOF (1)
 *   proc_finish(p, ms)     reads the rest, closes the pipe, wait_child()
 */
#ifndef MPIPC_TESTS_C_CHECK_H
#define MPIPC_TESTS_C_CHECK_H

#include "mpipc.h"

#include <errno.h>
#include <poll.h>
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
/* Queue names and files, and cleanup after a failed check              */
/* ------------------------------------------------------------------ */

#define CHECK_MAX_NAMES 64
static char g_names[CHECK_MAX_NAMES][256];
static int g_nnames;

/* Files the run may create (tmp_path()): socket files, key files. 108 is
 * the size of sun_path, so that any of them can be a unix socket. */
#define CHECK_MAX_PATHS 16
static char g_paths[CHECK_MAX_PATHS][108];
static int g_npaths;

/* Set in a child made by fork_child() or spawn(): g_kids there is only the
 * parent's copy, and signal handlers and cleanups can tell where they run. */
static volatile sig_atomic_t g_in_child;

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

/* Unlinks every path from tmp_path(), ignoring errors. Async-signal-safe
 * (the watchdog calls it). */
static inline void unlink_paths(void) {
    for (int i = 0; i < g_npaths; i++)
        unlink(g_paths[i]);
}

/* On failure: g_check_on_fail, then unlink whatever the run left behind
 * (errors ignored; the files only in the parent, whose they are). Called
 * directly, not from atexit(): a failing library call made at exit time is
 * what test_regressions.c, case A, is about. */
static inline void check_cleanup(void) {
    if (g_check_on_fail != NULL)
        g_check_on_fail();
    for (int i = 0; i < g_nnames; i++)
        (void)mpq_unlink(g_names[i]);
    if (!g_in_child)
        unlink_paths();
}

/* ------------------------------------------------------------------ */
/* Checks                                                               */
/* ------------------------------------------------------------------ */

static unsigned g_passed;
static unsigned g_failed; /* failed CHECK_REGRESSIONs (a failed CHECK exits) */

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

/* CHECK_REGRESSION(cond, what): like CHECK, but a failure is reported with
 * `what` (the bug it means), counted in g_failed, and the run goes on (it
 * ends with "N passed, M failed", exit 1: check_summary). For the checks of
 * library bugs a test found, so that one does not hide another. */
#define CHECK_REGRESSION(cond, what)                                                               \
    do {                                                                                           \
        if (cond) {                                                                                \
            g_passed++;                                                                            \
        } else {                                                                                   \
            g_failed++;                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed (regression): %s\n  %s\n  mp_last_error(): \"%s\"\n", \
                    __FILE__, __LINE__, #cond, what, mp_last_error());                             \
        }                                                                                          \
    } while (0)

/* A fresh path "/tmp/<CHECK_NAME_PREFIX>-<pid>-<tag>" (any stale file there
 * unlinked), remembered for unlink_paths() and check_cleanup(). Counts as a
 * check (that there is room for it). */
static inline const char *tmp_path(const char *tag) {
    CHECK(g_npaths < CHECK_MAX_PATHS);
    snprintf(g_paths[g_npaths], sizeof g_paths[0], "/tmp/" CHECK_NAME_PREFIX "-%ld-%s", (long)getpid(), tag);
    unlink(g_paths[g_npaths]);
    return g_paths[g_npaths++];
}

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

/* A field of /proc/<pid>/status in kB ("VmRSS", "VmHWM"; pid 0 = this
 * process); -1 when the file or the field cannot be read. */
static inline long proc_status_kb(pid_t pid, const char *field) {
    char path[64], line[256];
    if (pid == 0)
        snprintf(path, sizeof path, "/proc/self/status");
    else
        snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long kb = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            kb = atol(line + n + 1);
    fclose(f);
    return kb;
}

/* Linux: waits until `pid` is asleep (state S in /proc/<pid>/stat) three
 * times in a row, 20 ms apart: blocked in its futex wait rather than about
 * to call it. Best effort: gives up after 5 s; without /proc sleeps 200 ms. */
static inline void wait_asleep(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    double deadline = now_ms() + 5000.0;
    int asleep_in_a_row = 0;
    while (now_ms() < deadline) {
        FILE *f = fopen(path, "r");
        if (f == NULL) {
            sleep_ms(200);
            return;
        }
        char line[1024];
        size_t n = fread(line, 1, sizeof line - 1, f);
        fclose(f);
        line[n] = '\0';
        char *rp = strrchr(line, ')');
        if (rp != NULL && rp[1] == ' ' && rp[2] == 'S') {
            if (++asleep_in_a_row >= 3)
                return;
        } else {
            asleep_in_a_row = 0;
        }
        sleep_ms(20);
    }
}

/* The end of a run that got there; `t0` is now_ms() at its start. Returns
 * main()'s exit code: 0, or 1 after a failed CHECK_REGRESSION. */
static inline int check_summary(const char *test, double t0) {
    printf("%s: mpipc %s, %.0f ms\n", test, mp_version(), now_ms() - t0);
    if (g_failed != 0) {
        fprintf(stderr, "%u passed, %u failed\n", g_passed, g_failed);
        return 1;
    }
    printf("%u passed, 0 failed\n", g_passed);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Child processes                                                      */
/* ------------------------------------------------------------------ */

/* The children not yet waited for (0: a free slot), for kill_kids(). */
#define CHECK_MAX_KIDS 128
static pid_t g_kids[CHECK_MAX_KIDS];

/* g_in_child is with the names and files above. */

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

/* ------------------------------------------------------------------ */
/* The watchdog                                                         */
/* ------------------------------------------------------------------ */

/* What the test is doing (a section's name), for the watchdog's message. */
static const char *volatile g_section = "start";

/* "<test>: watchdog: still running after <s> s, in section: " */
static char g_watchdog_says[160];

/* Writes `s` to stderr; async-signal-safe. */
static inline void say(const char *s) {
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

/* The SIGALRM handler of start_watchdog(). */
static inline void on_watchdog(int sig) {
    (void)sig;
    if (g_in_child)
        _exit(99);
    say(g_watchdog_says);
    say(g_section);
    say("\n");
    for (int i = 0; i < CHECK_MAX_KIDS; i++)
        if (g_kids[i] > 0)
            kill(g_kids[i], SIGKILL);
    unlink_paths();
    _exit(2);
}

/* The last-resort watchdog: after `seconds`, a hang anywhere becomes a
 * failure (exit 2) that names the test and g_section; the children are
 * killed and the files unlinked. alarm(0) at the end of the run stops it. */
static inline void start_watchdog(const char *test, unsigned seconds) {
    snprintf(g_watchdog_says, sizeof g_watchdog_says, "%s: watchdog: still running after %u s, in section: ", test,
             seconds);
    signal(SIGALRM, on_watchdog);
    alarm(seconds);
}

/* ------------------------------------------------------------------ */
/* Reading with a time limit                                            */
/* ------------------------------------------------------------------ */

/* One read() of at most `cap` bytes from `fd`, waiting at most `ms` in all
 * (EINTR retried): the bytes read, 0 at EOF, -1 on timeout or error. */
static inline ssize_t read_timeout(int fd, void *buf, size_t cap, int ms) {
    struct pollfd pf = {fd, POLLIN, 0};
    double deadline = now_ms() + ms;
    for (;;) {
        int left = (int)(deadline - now_ms());
        int r = poll(&pf, 1, left < 0 ? 0 : left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t n = read(fd, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? -1 : n;
    }
}

/* Reads one byte from `fd`, waiting at most `ms`: the byte, -1 on EOF,
 * -2 on timeout or error. */
static inline int read_byte(int fd, int ms) {
    unsigned char c;
    ssize_t n = read_timeout(fd, &c, 1, ms);
    if (n == 0)
        return -1;
    return n == 1 ? c : -2;
}

/* Writes the byte `c` (a command, "ready", "done"...) to `fd`: write_all. */
static inline void put_byte(int fd, char c) {
    write_all(fd, &c, 1);
}

/* ------------------------------------------------------------------ */
/* Programs run with their output on a pipe                             */
/* ------------------------------------------------------------------ */

/* A child running a program (python3, the mpipc binary) with its stdout or
 * stderr on a pipe, and what it wrote there so far. */
struct proc {
    pid_t pid;
    int fd;          /* the pipe's read end */
    char out[8192];  /* what it wrote, '\0'-terminated */
    size_t len;
};

/* Runs argv[0] (execvp(): searched in PATH unless it holds a '/') with
 * arguments argv (NULL-terminated) in a child from fork_child(), its file
 * descriptor `out_fd` (1: stdout, 2: stderr) on a pipe to `p`. With
 * alarm_s > 0 the child calls alarm(alarm_s) first, which survives exec: the
 * program never outlives a hung test by much. A failed exec: _exit(127). */
static inline void proc_start(struct proc *p, int out_fd, unsigned alarm_s, const char *const argv[]) {
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork_child();
    if (pid == 0) {
        dup2(fds[1], out_fd);
        close(fds[0]);
        close(fds[1]);
        if (alarm_s > 0)
            alarm(alarm_s);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    p->pid = pid;
    p->fd = fds[0];
    p->len = 0;
    p->out[0] = '\0';
}

/* Reads what the program wrote (one read, waiting at most `ms`) on to
 * p->out: bytes read, 0 on EOF, -1 on timeout or error (or a full p->out). */
static inline int proc_read_some(struct proc *p, int ms) {
    if (p->len + 1 >= sizeof p->out)
        return -1;
    ssize_t n = read_timeout(p->fd, p->out + p->len, sizeof p->out - 1 - p->len, ms);
    if (n > 0) {
        p->len += (size_t)n;
        p->out[p->len] = '\0';
    }
    return (int)n;
}

/* Reads what the program writes until `needle` is in p->out (1), or EOF or
 * `ms` pass (0); needle NULL: until EOF (1). */
static inline int proc_read_until(struct proc *p, const char *needle, int ms) {
    double deadline = now_ms() + ms;
    for (;;) {
        if (needle != NULL && strstr(p->out, needle) != NULL)
            return 1;
        int left = (int)(deadline - now_ms());
        if (left <= 0)
            return 0;
        int r = proc_read_some(p, left);
        if (r == 0)
            return needle == NULL;
        if (r < 0)
            return 0;
    }
}

/* Reads the rest of what the program writes, closes the pipe and waits for
 * it, each at most `ms`: its exit code (as wait_child()). */
static inline int proc_finish(struct proc *p, long ms) {
    (void)proc_read_until(p, NULL, (int)ms);
    close(p->fd);
    return wait_child(p->pid, ms);
}

#endif /* MPIPC_TESTS_C_CHECK_H */
