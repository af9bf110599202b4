/*
 * test_pipe.c: connections (mp_pipe_*), listeners (mp_listener_*) and
 * mp_wait across real processes (fork; exec of python3 for the interop
 * cases). No handle is used by two processes: after a fork each process
 * closes (mp_pipe_close) the end that belongs to the other.
 *
 *  1. mp_pipe_new duplex and not: messages of 0 B .. 10 MiB round trip
 *     intact and in order through a child; direction errors (MP_E_INVAL).
 *  2. EOF: the peer exits -> the rest is drained, then MP_E_EOF (both
 *     directions); sending to a closed peer is MP_E_EOF and never SIGPIPE
 *     (socketpair and pipe, small and 10 MiB sends).
 *  3. Timeouts: recv_timeout 0 / 50 ms -> MP_E_EMPTY in time; mp_pipe_poll;
 *     mp_wait over several pipes (none ready -> MP_OK, nready 0; buffered
 *     messages count as ready; EOF counts as ready).
 *  4. mp_pipe_recv_into: MP_E_BUFSIZE with the size needed, message kept.
 *  5. Bad input written raw to the socket by a child: a 2^62 length ->
 *     MP_E_TOOBIG at once, without allocating (checked under RLIMIT_AS);
 *     length -5 -> MP_E_CORRUPT; a peer SIGKILLed mid-frame -> MP_E_EOF,
 *     not a hang; mp_pipe_set_max_frame.
 *  6. mp_pipe_from_fd: a socketpair(2) end inherited by a child; -1,
 *     /dev/null and a regular file -> MP_E_INVAL with the fd closed.
 *  7. Listeners at unix:/path (mode 0600, removed on close), unix:@name and
 *     tcp:127.0.0.1:0: right key, wrong key (MP_E_AUTH on both sides, the
 *     listener stays usable), no key; TCP without a key; accept timeout;
 *     nobody listening -> MP_E_NOTFOUND.
 *  8. 64 client processes connecting at once to one listener.
 *  9. Python interop (python3, multiprocessing.connection): a Python
 *     Client against our Listener (unix path and TCP) and our client
 *     against a Python Listener, with right and wrong keys.
 *
 * Every wait is bounded (T_MS); alarm(120) is the last-resort watchdog.
 *
 * Regression checks for four bugs this test found (now fixed) use
 * CHECK_REGRESSION: non-fatal, so that one regression does not hide the
 * others; a run with any failing ends with "N passed, M failed", exit 1:
 *   - section 2: a pipe sender died of SIGPIPE when the reader exited
 *     during a large, partially written send;
 *   - section 3: mp_wait omitted ready descriptors as soon as one pipe had
 *     a buffered message;
 *   - section 5: an announced frame length that could not be allocated
 *     aborted the receiver instead of returning an error;
 *   - section 7: mp_pipe_connect to a unix address ignored its timeout
 *     while the listener's backlog was full.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mpipc.h"

#define CHECK_NAME_PREFIX "cpipe"
#define CHECK_CHILD_ALARM_S 60 /* a spawn()ed child never outlives a hung parent by much */
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The bound of every wait in the test (receive, accept, child exit...). */
#define T_MS 10000

/* From check.h: CHECK_REGRESSION (for the checks of the bugs listed at the top); spawn(),
 * fork_child(), wait_child(), CHECK_CHILD, CHILD_REQUIRE, CHILD_ST and
 * kill_kids(); tmp_path() (socket files /tmp/cpipe-<pid>-<tag>, unlinked at
 * the end and by a failed check); read_byte(); proc_start() and the rest for
 * python3; g_section and the watchdog. */

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

static uint8_t pat(size_t i, unsigned seed) {
    return (uint8_t)(i * 7u + (i >> 11) + seed * 13u + 1u);
}

static void fill(uint8_t *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        p[i] = pat(i, seed);
}

static int verify(const uint8_t *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != pat(i, seed))
            return 0;
    return 1;
}

static int is_msg(const mp_buf *m, const char *s) {
    size_t n = strlen(s);
    return m->len == n && (n == 0 || memcmp(m->ptr, s, n) == 0);
}

static mp_status send_str(mp_pipe *p, const char *s) {
    return mp_pipe_send(p, (const uint8_t *)s, strlen(s));
}

/* Receives one message (bounded) and compares it with `s`: 1 if equal. */
static int recv_is(mp_pipe *p, const char *s) {
    mp_buf m = {0};
    mp_status st = mp_pipe_recv_timeout(p, &m, T_MS);
    int ok = st == MP_OK && is_msg(&m, s);
    if (!ok)
        fprintf(stderr, "recv_is(\"%s\"): %s, got %zu bytes\n", s, mp_status_str(st), m.len);
    mp_buf_free(&m);
    return ok;
}

/* Whether the raw descriptor is readable right now. */
static int fd_readable(int fd) {
    struct pollfd pf = {fd, POLLIN, 0};
    return poll(&pf, 1, 0) == 1;
}

/* A plain pipe(2) for synchronisation with a child: [0] read, [1] write. */
struct sync {
    int fd[2];
};

static void sync_open(struct sync *s) {
    CHECK(pipe(s->fd) == 0);
}

static void sync_close(struct sync *s) {
    close(s->fd[0]);
    close(s->fd[1]);
}

/* Writes a byte (a command or "done"). */
static void sync_put(struct sync *s, char c) {
    put_byte(s->fd[1], c);
}

/* ------------------------------------------------------------------ */
/* 1. Round trips through a child, duplex and not                      */
/* ------------------------------------------------------------------ */

static const size_t k_sizes[] = {0, 1, 64, 65532, 65536, 65537, 1u << 20, 10u << 20};
#define NSIZES (sizeof k_sizes / sizeof k_sizes[0])

struct rt_arg {
    mp_pipe *in, *out;           /* the child's ends (the same when duplex) */
    mp_pipe *close1, *close2;    /* the parent's ends, closed in the child */
};

/* Receives every message (checking it), then echoes them all, then waits
 * for EOF from the parent. */
static void echo_all_main(void *p) {
    struct rt_arg *a = p;
    mp_pipe_close(a->close1);
    mp_pipe_close(a->close2);
    mp_buf got[NSIZES];
    for (size_t k = 0; k < NSIZES; k++) {
        got[k] = (mp_buf){0};
        CHILD_ST(mp_pipe_recv_timeout(a->in, &got[k], T_MS), MP_OK, 10);
        CHILD_REQUIRE(got[k].len == k_sizes[k], 11);
        CHILD_REQUIRE(verify(got[k].ptr, got[k].len, (unsigned)k), 12);
    }
    mp_buf extra = {0};
    CHILD_ST(mp_pipe_recv_timeout(a->in, &extra, 0), MP_E_EMPTY, 13);
    if (a->in != a->out) { /* direction errors on the child's ends too */
        CHILD_ST(mp_pipe_send(a->in, (const uint8_t *)"x", 1), MP_E_INVAL, 14);
        CHILD_ST(mp_pipe_recv_timeout(a->out, &extra, 0), MP_E_INVAL, 15);
    }
    for (size_t k = 0; k < NSIZES; k++) {
        CHILD_ST(mp_pipe_send(a->out, got[k].ptr, got[k].len), MP_OK, 16);
        mp_buf_free(&got[k]);
    }
    CHILD_ST(mp_pipe_recv_timeout(a->in, &extra, T_MS), MP_E_EOF, 17);
    mp_pipe_close(a->in);
    if (a->out != a->in)
        mp_pipe_close(a->out);
    _exit(0);
}

/* The parent's half: send every size, then receive every echo. */
static void send_all_recv_all(mp_pipe *out, mp_pipe *in) {
    uint8_t *buf = malloc(10u << 20);
    CHECK(buf != NULL);
    for (size_t k = 0; k < NSIZES; k++) {
        fill(buf, k_sizes[k], (unsigned)k);
        CHECK_OK(mp_pipe_send(out, k_sizes[k] ? buf : NULL, k_sizes[k]));
    }
    free(buf);
    for (size_t k = 0; k < NSIZES; k++) {
        mp_buf m = {0};
        CHECK_OK(mp_pipe_recv_timeout(in, &m, T_MS));
        CHECK(m.len == k_sizes[k]);
        CHECK(verify(m.ptr, m.len, (unsigned)k));
        mp_buf_free(&m);
        CHECK(m.ptr == NULL && m.len == 0);
    }
    mp_buf m = {0};
    CHECK_ST(mp_pipe_recv_timeout(in, &m, 0), MP_E_EMPTY);
}

static void test_roundtrip(void) {
    g_section = "1. round trips";
    /* direction errors of a non-duplex pair: a receives, b sends */
    mp_pipe *a = NULL, *b = NULL;
    CHECK_OK(mp_pipe_new(false, &a, &b));
    CHECK(a != NULL && b != NULL && mp_pipe_fileno(a) >= 0 && mp_pipe_fileno(b) >= 0);
    mp_buf m = {0};
    size_t n = 0;
    bool ready = true;
    uint8_t small[8];
    CHECK_ST(mp_pipe_send(a, (const uint8_t *)"x", 1), MP_E_INVAL);
    CHECK_ST(mp_pipe_recv_timeout(b, &m, 0), MP_E_INVAL);
    CHECK_ST(mp_pipe_recv_into(b, small, sizeof small, &n, 0), MP_E_INVAL);
    CHECK_ST(mp_pipe_poll(b, 0, &ready), MP_E_INVAL);
    size_t idx[1], nready = 0;
    CHECK_ST(mp_wait(&b, 1, 0, idx, &nready), MP_E_INVAL);
    CHECK_OK(send_str(b, "one way"));
    CHECK(recv_is(a, "one way"));
    mp_pipe_close(a);
    mp_pipe_close(b);

    /* duplex: one socketpair, the child echoes on the same end */
    double t0 = now_ms();
    CHECK_OK(mp_pipe_new(true, &a, &b));
    /* Both ends busy-poll before sleeping (recv with MSG_DONTWAIT on a
     * socket); the results must be the same as without. */
    CHECK_ST(mp_pipe_set_spin(NULL, 100), MP_E_NULL);
    CHECK_OK(mp_pipe_set_spin(a, 100));
    CHECK_OK(mp_pipe_set_spin(b, 100));
    struct rt_arg ra = {.in = b, .out = b, .close1 = a, .close2 = NULL};
    pid_t kid = spawn(echo_all_main, &ra);
    mp_pipe_close(b);
    send_all_recv_all(a, a);
    mp_pipe_close(a); /* the child sees EOF and exits */
    CHECK_CHILD(kid, T_MS, 0);
    double dt_duplex = now_ms() - t0;

    /* non-duplex: two pipes, parent -> child on one, child -> parent on the other */
    t0 = now_ms();
    mp_pipe *r1, *w1, *r2, *w2;
    CHECK_OK(mp_pipe_new(false, &r1, &w1));
    CHECK_OK(mp_pipe_new(false, &r2, &w2));
    CHECK_OK(mp_pipe_set_spin(r2, 100)); /* a pipe spins with poll(2) */
    struct rt_arg rs = {.in = r1, .out = w2, .close1 = w1, .close2 = r2};
    kid = spawn(echo_all_main, &rs);
    mp_pipe_close(r1);
    mp_pipe_close(w2);
    send_all_recv_all(w1, r2);
    CHECK_ST(mp_pipe_send(r2, (const uint8_t *)"x", 1), MP_E_INVAL);
    CHECK_ST(mp_pipe_recv_timeout(w1, &m, 0), MP_E_INVAL);
    mp_pipe_close(w1); /* child: EOF on r1, closes w2 and exits */
    CHECK_CHILD(kid, T_MS, 0);
    CHECK_ST(mp_pipe_recv_timeout(r2, &m, T_MS), MP_E_EOF);
    mp_pipe_close(r2);
    printf("round trips: %zu sizes (0 B .. 10 MiB) there and back: socketpair %.0f ms, pipes %.0f ms\n", NSIZES,
           dt_duplex, now_ms() - t0);
}

/* ------------------------------------------------------------------ */
/* 2. EOF, both directions; no SIGPIPE                                 */
/* ------------------------------------------------------------------ */

struct eof_arg {
    mp_pipe *mine, *theirs;
};

#define DRAIN_BIG 50000 /* fits in a pipe's 64 KiB with the rest */

/* Sends three messages and exits without closing anything. */
static void send3_exit_main(void *p) {
    struct eof_arg *a = p;
    mp_pipe_close(a->theirs);
    static uint8_t big[DRAIN_BIG];
    fill(big, sizeof big, 3);
    CHILD_ST(send_str(a->mine, "one"), MP_OK, 10);
    CHILD_ST(send_str(a->mine, "two"), MP_OK, 11);
    CHILD_ST(mp_pipe_send(a->mine, big, sizeof big), MP_OK, 12);
    _exit(0);
}

/* Receives two messages, then must see EOF. */
static void recv2_eof_main(void *p) {
    struct eof_arg *a = p;
    mp_pipe_close(a->theirs);
    mp_buf m = {0};
    CHILD_ST(mp_pipe_recv_timeout(a->mine, &m, T_MS), MP_OK, 10);
    CHILD_REQUIRE(is_msg(&m, "first"), 11);
    mp_buf_free(&m);
    CHILD_ST(mp_pipe_recv_timeout(a->mine, &m, T_MS), MP_OK, 12);
    CHILD_REQUIRE(is_msg(&m, "second"), 13);
    mp_buf_free(&m);
    CHILD_ST(mp_pipe_recv_timeout(a->mine, &m, T_MS), MP_E_EOF, 14);
    CHILD_ST(mp_pipe_recv_timeout(a->mine, &m, 0), MP_E_EOF, 15);
    mp_pipe_close(a->mine);
    _exit(0);
}

static void drain_then_eof(bool duplex) {
    mp_pipe *a, *b; /* non-duplex: a receives, b sends */
    CHECK_OK(mp_pipe_new(duplex, &a, &b));
    /* child -> parent: the child exits, the parent drains, then EOF */
    struct eof_arg ca = {.mine = b, .theirs = a};
    pid_t kid = spawn(send3_exit_main, &ca);
    mp_pipe_close(b);
    CHECK_CHILD(kid, T_MS, 0); /* gone before we read anything */
    CHECK(recv_is(a, "one"));
    size_t idx[1], nready = 0;
    CHECK_OK(mp_wait(&a, 1, 0, idx, &nready));
    CHECK(nready == 1 && idx[0] == 0);
    CHECK(recv_is(a, "two"));
    mp_buf m = {0};
    CHECK_OK(mp_pipe_recv_timeout(a, &m, T_MS));
    CHECK(m.len == DRAIN_BIG && verify(m.ptr, m.len, 3));
    mp_buf_free(&m);
    CHECK_ST(mp_pipe_recv_timeout(a, &m, T_MS), MP_E_EOF);
    CHECK_ST(mp_pipe_recv_timeout(a, &m, 0), MP_E_EOF); /* and stays so */
    uint8_t small[4];
    size_t n = 0;
    CHECK_ST(mp_pipe_recv_into(a, small, sizeof small, &n, 0), MP_E_EOF);
    bool ready = false;
    CHECK_OK(mp_pipe_poll(a, 0, &ready));
    CHECK(ready); /* EOF is "something to receive" */
    nready = 0;
    CHECK_OK(mp_wait(&a, 1, T_MS, idx, &nready));
    CHECK(nready == 1 && idx[0] == 0);
    mp_pipe_close(a);

    /* parent -> child: the parent closes, the child drains, then EOF */
    CHECK_OK(mp_pipe_new(duplex, &a, &b));
    struct eof_arg cb = {.mine = a, .theirs = b};
    kid = spawn(recv2_eof_main, &cb);
    mp_pipe_close(a);
    CHECK_OK(send_str(b, "first"));
    CHECK_OK(send_str(b, "second"));
    mp_pipe_close(b);
    CHECK_CHILD(kid, T_MS, 0);
}

/* The sender, in its own process (SIGPIPE at its default action: it would
 * die of it): its peer (a grandchild) exits; every send must then return
 * MP_E_EOF. mode 0: the peer exits at once; mode 1: the peer reads 100
 * bytes of a 10 MiB message and exits while the sender is blocked in it. */
struct sigpipe_arg {
    bool duplex;
    int mode;
};

static void sigpipe_sender_main(void *p) {
    struct sigpipe_arg *a = p;
    signal(SIGPIPE, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    mp_pipe *x, *y; /* non-duplex: x receives, y sends */
    CHILD_ST(mp_pipe_new(a->duplex, &x, &y), MP_OK, 10);
    mp_pipe *mine = y, *peer = x;
    fflush(stderr);
    pid_t g = fork();
    CHILD_REQUIRE(g >= 0, 11);
    if (g == 0) {
        mp_pipe_close(mine);
        if (a->mode == 1) {
            char buf[100];
            size_t got = 0;
            while (got < sizeof buf) {
                ssize_t r = read(mp_pipe_fileno(peer), buf + got, sizeof buf - got);
                if (r <= 0)
                    _exit(40);
                got += (size_t)r;
            }
        }
        _exit(0); /* without closing: exit closes */
    }
    mp_pipe_close(peer);
    if (a->mode == 0) {
        int st = 0;
        double deadline = now_ms() + T_MS;
        while (waitpid(g, &st, WNOHANG) == 0 && now_ms() < deadline)
            sleep_ms(1);
        CHILD_REQUIRE(WIFEXITED(st) && WEXITSTATUS(st) == 0, 12);
        CHILD_ST(send_str(mine, "anyone?"), MP_E_EOF, 13);
        CHILD_ST(send_str(mine, "again"), MP_E_EOF, 14);
        CHILD_ST(mp_pipe_send(mine, NULL, 0), MP_E_EOF, 15);
    } else {
        size_t len = 10u << 20;
        uint8_t *big = malloc(len);
        CHILD_REQUIRE(big != NULL, 16);
        memset(big, 0x5a, len);
        CHILD_ST(mp_pipe_send(mine, big, len), MP_E_EOF, 17);
        free(big);
        int st = 0;
        double deadline = now_ms() + T_MS;
        while (waitpid(g, &st, WNOHANG) == 0 && now_ms() < deadline)
            sleep_ms(1);
        CHILD_REQUIRE(WIFEXITED(st) && WEXITSTATUS(st) == 0, 18);
        CHILD_ST(send_str(mine, "after"), MP_E_EOF, 19);
    }
    /* no SIGPIPE left pending either (it would kill us once unblocked) */
    sigset_t pend;
    sigpending(&pend);
    CHILD_REQUIRE(!sigismember(&pend, SIGPIPE), 20);
    mp_pipe_close(mine);
    _exit(0);
}

static void test_eof(void) {
    g_section = "2. EOF";
    double t0 = now_ms();
    drain_then_eof(true);
    drain_then_eof(false);
    for (int duplex = 1; duplex >= 0; duplex--) {
        for (int mode = 0; mode < 2; mode++) {
            struct sigpipe_arg sa = {.duplex = duplex, .mode = mode};
            pid_t kid = spawn(sigpipe_sender_main, &sa);
            if (duplex || mode == 0) {
                CHECK_CHILD(kid, T_MS, 0); /* -1013 would be: killed by SIGPIPE */
                continue;
            }
            /* Regression: a pipe (non-duplex) sender blocked in a large
             * write when the reader goes away must not die of SIGPIPE: the
             * kernel raises it although writev returns the short count
             * written so far (> 0), so the library must consume a pending
             * SIGPIPE whatever writev returned. */
            int got = wait_child(kid, T_MS);
            if (got != 0)
                fprintf(stderr, "pipe sender, reader gone mid-send: ended with %d (-1013 = killed by SIGPIPE), "
                        "want exit 0 (MP_E_EOF)\n", got);
            CHECK_REGRESSION(got == 0, "mp_pipe_send on a pipe: SIGPIPE kills the process when the reader exits "
                                "during a large (partially written) send");
        }
    }
    printf("EOF: drained then MP_E_EOF both ways; send to a closed peer is MP_E_EOF, no SIGPIPE "
           "(socketpair and pipe, 10 MiB mid-send): %.0f ms\n",
           now_ms() - t0);
}

/* ------------------------------------------------------------------ */
/* 3. Timeouts, poll and mp_wait                                        */
/* ------------------------------------------------------------------ */

#define NW 4

struct wait_arg {
    mp_pipe *mine[NW], *theirs[NW];
    struct sync cmd, done;
};

/* Does what the parent's command bytes say; exits on 'Q' (closing every
 * end: EOF everywhere) or EOF of the command pipe. */
static void wait_helper_main(void *p) {
    struct wait_arg *a = p;
    for (int i = 0; i < NW; i++)
        mp_pipe_close(a->theirs[i]);
    close(a->cmd.fd[1]);
    close(a->done.fd[0]);
    for (;;) {
        int c = read_byte(a->cmd.fd[0], T_MS);
        CHILD_REQUIRE(c != -2, 20);
        if (c == -1 || c == 'Q')
            _exit(0);
        switch (c) {
        case 'A': /* one message on 1 and on 3 */
            CHILD_ST(send_str(a->mine[1], "m1"), MP_OK, 21);
            CHILD_ST(send_str(a->mine[3], "m3"), MP_OK, 22);
            break;
        case 'B': /* two on 2 */
            CHILD_ST(send_str(a->mine[2], "x"), MP_OK, 23);
            CHILD_ST(send_str(a->mine[2], "y"), MP_OK, 24);
            break;
        case 'C': /* two on 0, one on 3 */
            CHILD_ST(send_str(a->mine[0], "p"), MP_OK, 25);
            CHILD_ST(send_str(a->mine[0], "q"), MP_OK, 26);
            CHILD_ST(send_str(a->mine[3], "r"), MP_OK, 27);
            break;
        case 'D': /* later, on 1 */
            sleep_ms(100);
            CHILD_ST(send_str(a->mine[1], "late"), MP_OK, 28);
            break;
        case 'E': /* later, on 0 */
            sleep_ms(100);
            CHILD_ST(send_str(a->mine[0], "late0"), MP_OK, 29);
            break;
        default:
            _exit(31);
        }
        char ok = 'k';
        write_all(a->done.fd[1], &ok, 1);
    }
}

static void wait_done(struct wait_arg *w) {
    CHECK(read_byte(w->done.fd[0], T_MS) == 'k');
}

/* mp_wait with timeout `ms` must report exactly the indexes in `want`
 * (a string of digits, in order). */
static int wait_reports(mp_pipe **pipes, int64_t ms, const char *want) {
    size_t idx[NW] = {0}, nready = 99;
    mp_status st = mp_wait(pipes, NW, ms, idx, &nready);
    char got[NW + 1] = {0};
    for (size_t i = 0; i < nready && i < NW; i++)
        got[i] = (char)('0' + idx[i]);
    int ok = st == MP_OK && nready == strlen(want) && strcmp(got, want) == 0;
    if (!ok)
        fprintf(stderr, "mp_wait(%lld ms): %s, nready %zu, indexes \"%s\"; want \"%s\"\n", (long long)ms,
                mp_status_str(st), nready, got, want);
    return ok;
}

static void test_timeouts(void) {
    g_section = "3. timeouts and mp_wait";
    struct wait_arg w;
    mp_pipe *p[NW];
    for (int i = 0; i < NW; i++) {
        CHECK_OK(mp_pipe_new(true, &p[i], &w.mine[i]));
        w.theirs[i] = p[i];
    }
    sync_open(&w.cmd);
    sync_open(&w.done);
    pid_t kid = spawn(wait_helper_main, &w);
    for (int i = 0; i < NW; i++)
        mp_pipe_close(w.mine[i]);
    close(w.cmd.fd[0]);
    close(w.done.fd[1]);

    /* receive timeouts with nothing coming */
    mp_buf m = {0};
    uint8_t buf[16];
    size_t n = 0;
    double t0 = now_ms();
    CHECK_ST(mp_pipe_recv_timeout(p[0], &m, 0), MP_E_EMPTY);
    double dt0 = now_ms() - t0;
    CHECK(dt0 < 100);
    t0 = now_ms();
    CHECK_ST(mp_pipe_recv_timeout(p[0], &m, 50), MP_E_EMPTY);
    double dt50 = now_ms() - t0;
    CHECK(dt50 >= 40 && dt50 < 2000);
    t0 = now_ms();
    CHECK_ST(mp_pipe_recv_into(p[0], buf, sizeof buf, &n, 50), MP_E_EMPTY);
    double dt = now_ms() - t0;
    CHECK(dt >= 40 && dt < 2000);

    /* poll: false now, false after 50 ms, then true once a message came */
    bool ready = true;
    CHECK_OK(mp_pipe_poll(p[0], 0, &ready));
    CHECK(!ready);
    ready = true;
    t0 = now_ms();
    CHECK_OK(mp_pipe_poll(p[0], 50, &ready));
    dt = now_ms() - t0;
    CHECK(!ready && dt >= 40 && dt < 2000);
    t0 = now_ms();
    sync_put(&w.cmd, 'E');
    CHECK_OK(mp_pipe_poll(p[0], T_MS, &ready));
    double dt_poll = now_ms() - t0;
    CHECK(ready && dt_poll >= 50);
    CHECK_OK(mp_pipe_recv_timeout(p[0], &m, 0)); /* already here: no wait */
    CHECK(is_msg(&m, "late0"));
    mp_buf_free(&m);
    wait_done(&w);
    CHECK_OK(mp_pipe_poll(p[0], 0, &ready));
    CHECK(!ready);

    /* a receive timeout waits for a message that comes later */
    t0 = now_ms();
    sync_put(&w.cmd, 'D');
    CHECK_OK(mp_pipe_recv_timeout(p[1], &m, T_MS));
    double dt_late = now_ms() - t0;
    CHECK(is_msg(&m, "late") && dt_late >= 50);
    mp_buf_free(&m);
    wait_done(&w);

    /* mp_wait: none ready -> MP_OK with nready 0, at once or after the time */
    CHECK(wait_reports(p, 0, ""));
    t0 = now_ms();
    CHECK(wait_reports(p, 50, ""));
    dt = now_ms() - t0;
    CHECK(dt >= 40 && dt < 2000);

    /* some ready: 1 and 3 */
    sync_put(&w.cmd, 'A');
    wait_done(&w);
    CHECK(wait_reports(p, T_MS, "13"));
    CHECK(recv_is(p[1], "m1"));
    CHECK(wait_reports(p, 0, "3"));
    CHECK(recv_is(p[3], "m3"));
    CHECK(wait_reports(p, 0, ""));

    /* a waiting mp_wait is woken by a message */
    t0 = now_ms();
    sync_put(&w.cmd, 'D');
    CHECK(wait_reports(p, T_MS, "1"));
    CHECK(now_ms() - t0 >= 50);
    CHECK(recv_is(p[1], "late"));
    wait_done(&w);

    /* two messages on 2: after the first is received the second sits in
     * our buffer, the descriptor is not readable, yet 2 is ready */
    sync_put(&w.cmd, 'B');
    wait_done(&w);
    CHECK(recv_is(p[2], "x"));
    CHECK(!fd_readable(mp_pipe_fileno(p[2]))); /* really only in the buffer */
    CHECK(wait_reports(p, 0, "2"));
    CHECK(wait_reports(p, T_MS, "2"));
    CHECK_OK(mp_pipe_poll(p[2], 0, &ready));
    CHECK(ready);
    CHECK(recv_is(p[2], "y"));
    CHECK(wait_reports(p, 0, ""));
    CHECK_OK(mp_pipe_poll(p[2], 0, &ready));
    CHECK(!ready);

    /* a buffered message on 0 and a readable descriptor on 3: both are
     * ready.
     * Regression: mp_wait once returned only the buffered pipes (without
     * polling the descriptors), so a peer whose messages keep arriving in
     * batches could starve every other pipe of an mp_wait event loop.
     * Python's connection.wait returns every ready object. */
    sync_put(&w.cmd, 'C');
    wait_done(&w);
    CHECK(recv_is(p[0], "p"));
    CHECK(!fd_readable(mp_pipe_fileno(p[0])));
    CHECK(fd_readable(mp_pipe_fileno(p[3])));
    CHECK_REGRESSION(wait_reports(p, 0, "03"),
              "mp_wait omits pipes whose descriptor is readable when another pipe has a buffered message");
    CHECK_REGRESSION(wait_reports(p, T_MS, "03"), "(same, with a timeout)");
    CHECK(recv_is(p[0], "q"));
    CHECK(wait_reports(p, 0, "3"));
    CHECK(recv_is(p[3], "r"));
    CHECK(wait_reports(p, 0, ""));

    /* the child exits: EOF on every pipe is "ready" */
    sync_put(&w.cmd, 'Q');
    CHECK_CHILD(kid, T_MS, 0);
    CHECK(wait_reports(p, T_MS, "0123"));
    for (int i = 0; i < NW; i++) {
        CHECK_ST(mp_pipe_recv_timeout(p[i], &m, 0), MP_E_EOF);
        mp_pipe_close(p[i]);
    }
    sync_close(&w.cmd); /* closes the ends still open (errors ignored) */
    sync_close(&w.done);
    printf("timeouts: recv 0 ms -> EMPTY in %.2f ms, 50 ms -> EMPTY in %.1f ms; poll woken after %.0f ms, "
           "recv after %.0f ms (message sent 100 ms later)\n",
           dt0, dt50, dt_poll, dt_late);
}

/* ------------------------------------------------------------------ */
/* 4. mp_pipe_recv_into                                                 */
/* ------------------------------------------------------------------ */

#define BIG_INTO (1u << 20)

/* Sends "hello world", 1 MiB and an empty message, then waits for EOF. */
static void into_sender_main(void *p) {
    struct eof_arg *a = p;
    mp_pipe_close(a->theirs);
    CHILD_ST(send_str(a->mine, "hello world"), MP_OK, 10);
    uint8_t *big = malloc(BIG_INTO);
    CHILD_REQUIRE(big != NULL, 11);
    fill(big, BIG_INTO, 4);
    CHILD_ST(mp_pipe_send(a->mine, big, BIG_INTO), MP_OK, 12);
    free(big);
    CHILD_ST(mp_pipe_send(a->mine, NULL, 0), MP_OK, 13);
    mp_buf m = {0};
    CHILD_ST(mp_pipe_recv_timeout(a->mine, &m, T_MS), MP_E_EOF, 14);
    mp_pipe_close(a->mine);
    _exit(0);
}

static void test_recv_into(void) {
    g_section = "4. recv_into";
    mp_pipe *a, *b;
    CHECK_OK(mp_pipe_new(true, &a, &b));
    struct eof_arg ia = {.mine = b, .theirs = a};
    pid_t kid = spawn(into_sender_main, &ia);
    mp_pipe_close(b);

    uint8_t small[4];
    size_t n = 0;
    CHECK_ST(mp_pipe_recv_into(a, small, sizeof small, &n, T_MS), MP_E_BUFSIZE);
    CHECK(n == 11);
    n = 0;
    CHECK_ST(mp_pipe_recv_into(a, NULL, 0, &n, 0), MP_E_BUFSIZE); /* still there */
    CHECK(n == 11);
    uint8_t mid[64];
    CHECK_OK(mp_pipe_recv_into(a, mid, sizeof mid, &n, 0));
    CHECK(n == 11 && memcmp(mid, "hello world", 11) == 0);

    /* 1 MiB, most of it still in the socket */
    uint8_t *big = malloc(BIG_INTO);
    CHECK(big != NULL);
    n = 0;
    CHECK_ST(mp_pipe_recv_into(a, mid, sizeof mid, &n, T_MS), MP_E_BUFSIZE);
    CHECK(n == BIG_INTO);
    CHECK_ST(mp_pipe_recv_into(a, big, BIG_INTO - 1, &n, T_MS), MP_E_BUFSIZE);
    CHECK(n == BIG_INTO);
    memset(big, 0, BIG_INTO);
    n = 0;
    CHECK_OK(mp_pipe_recv_into(a, big, BIG_INTO, &n, T_MS));
    CHECK(n == BIG_INTO && verify(big, BIG_INTO, 4));
    free(big);

    /* the empty message fits in no buffer at all */
    n = 99;
    CHECK_OK(mp_pipe_recv_into(a, NULL, 0, &n, T_MS));
    CHECK(n == 0);
    CHECK_ST(mp_pipe_recv_into(a, mid, sizeof mid, &n, 0), MP_E_EMPTY);
    CHECK_ST(mp_pipe_recv_into(a, mid, sizeof mid, NULL, 0), MP_E_NULL);
    mp_pipe_close(a);
    CHECK_CHILD(kid, T_MS, 0);
    printf("recv_into: MP_E_BUFSIZE with the size needed (11 B, 1 MiB), message kept, then received whole\n");
}

/* ------------------------------------------------------------------ */
/* 5. Bad input on the wire                                             */
/* ------------------------------------------------------------------ */

struct raw_arg {
    mp_pipe *mine, *theirs;
    const uint8_t *bytes;
    size_t n;
    struct sync go; /* the child writes 'k' on done.fd[1] (here go.fd[1]) */
    struct sync release;
};

/* Writes `bytes` raw to its end's descriptor, says so, then stays alive
 * until released (or killed). */
static void raw_writer_main(void *p) {
    struct raw_arg *a = p;
    mp_pipe_close(a->theirs);
    close(a->go.fd[0]);
    close(a->release.fd[1]);
    int fd = mp_pipe_fileno(a->mine);
    CHILD_REQUIRE(fd >= 0, 10);
    write_all(fd, a->bytes, a->n);
    char k = 'k';
    write_all(a->go.fd[1], &k, 1);
    (void)read_byte(a->release.fd[0], T_MS);
    _exit(0);
}

static pid_t start_raw(struct raw_arg *r, mp_pipe **mine, const uint8_t *bytes, size_t n) {
    mp_pipe *a, *b;
    CHECK_OK(mp_pipe_new(true, &a, &b));
    r->mine = b;
    r->theirs = a;
    r->bytes = bytes;
    r->n = n;
    sync_open(&r->go);
    sync_open(&r->release);
    pid_t kid = spawn(raw_writer_main, r);
    mp_pipe_close(b);
    close(r->go.fd[1]);
    close(r->release.fd[0]);
    r->go.fd[1] = -1;
    r->release.fd[0] = -1;
    CHECK(read_byte(r->go.fd[0], T_MS) == 'k'); /* every byte is in the socket */
    *mine = a;
    return kid;
}

static void end_raw(struct raw_arg *r) {
    close(r->go.fd[0]);
    close(r->release.fd[1]); /* EOF releases the child, if still alive */
}

struct killer {
    pid_t pid;
    long after_ms;
};

static void *killer_thread(void *p) {
    struct killer *k = p;
    sleep_ms(k->after_ms);
    kill(k->pid, SIGKILL);
    return NULL;
}

/* Receives in a child limited to ~64 MiB more address space than it uses:
 * had the library allocated for the announced length, it could not. */
struct limited_arg {
    mp_pipe *mine, *theirs;
    uint64_t max_frame; /* 0 = default */
    mp_status want;     /* MP_OK here means: any error status will do */
    int err_fd;         /* its stderr (a Rust abort prints a backtrace) */
};

static void limited_receiver_main(void *p) {
    struct limited_arg *a = p;
    mp_pipe_close(a->theirs);
    dup2(a->err_fd, 2);
    if (a->max_frame)
        CHILD_ST(mp_pipe_set_max_frame(a->mine, a->max_frame), MP_OK, 10);
    long vm_kb = proc_status_kb(0, "VmSize");
    CHILD_REQUIRE(vm_kb > 0, 12);
    rlim_t lim = (rlim_t)vm_kb * 1024 + (64u << 20);
    struct rlimit rl = {lim, lim};
    CHILD_REQUIRE(setrlimit(RLIMIT_AS, &rl) == 0, 13);
    mp_buf m = {0};
    double t0 = now_ms();
    if (a->want == MP_OK) {
        mp_status st = mp_pipe_recv_timeout(a->mine, &m, T_MS);
        if (st == MP_OK || st == MP_E_EMPTY) {
            fprintf(stderr, "[child] recv returned %s, want an error\n", mp_status_str(st));
            _exit(17);
        }
        _exit(0);
    }
    CHILD_ST(mp_pipe_recv_timeout(a->mine, &m, T_MS), a->want, 14);
    CHILD_REQUIRE(now_ms() - t0 < 1000, 15); /* decided from the header */
    CHILD_ST(mp_pipe_recv_timeout(a->mine, &m, 0), a->want, 16); /* broken for good */
    _exit(0);
}

/* A raw frame header claiming `len` bytes, then a few payload bytes, read
 * by a receiver under RLIMIT_AS. Returns the receiver's end code. */
static int limited_case(const uint8_t *bytes, size_t n, uint64_t max_frame, mp_status want) {
    struct raw_arg r;
    mp_pipe *a;
    pid_t writer = start_raw(&r, &a, bytes, n);
    FILE *err = tmpfile();
    CHECK(err != NULL);
    struct limited_arg la = {.mine = a, .theirs = NULL, .max_frame = max_frame, .want = want, .err_fd = fileno(err)};
    pid_t recv_kid = spawn(limited_receiver_main, &la);
    mp_pipe_close(a);
    int got = wait_child(recv_kid, T_MS);
    if (got != 0) { /* the first line of what it said */
        char line[256] = "";
        rewind(err);
        if (fgets(line, sizeof line, err) != NULL)
            fprintf(stderr, "  receiver's stderr: %s", line);
    }
    fclose(err);
    end_raw(&r);
    CHECK_CHILD(writer, T_MS, 0);
    return got;
}

/* Sends a 100-byte and a 101-byte message, then waits for EOF. */
static void max_frame_sender_main(void *p) {
    struct eof_arg *a = p;
    mp_pipe_close(a->theirs);
    uint8_t buf[101];
    fill(buf, sizeof buf, 5);
    CHILD_ST(mp_pipe_send(a->mine, buf, 100), MP_OK, 10);
    CHILD_ST(mp_pipe_send(a->mine, buf, 101), MP_OK, 11);
    mp_buf m = {0};
    CHILD_ST(mp_pipe_recv_timeout(a->mine, &m, T_MS), MP_E_EOF, 12);
    _exit(0);
}

static void test_bad_input(void) {
    g_section = "5. bad input";
    mp_pipe *a;
    mp_buf m = {0};
    struct raw_arg r;
    double t0, dt;

    /* 2^62 bytes announced in the long form: refused from the header */
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c'};
    pid_t kid = start_raw(&r, &a, huge, sizeof huge);
    t0 = now_ms();
    CHECK_ST(mp_pipe_recv_timeout(a, &m, T_MS), MP_E_TOOBIG);
    dt = now_ms() - t0;
    CHECK(dt < 1000);
    CHECK_ST(mp_pipe_recv_timeout(a, &m, T_MS), MP_E_TOOBIG); /* the stream stays broken */
    size_t n = 0;
    uint8_t small[8];
    CHECK_ST(mp_pipe_recv_into(a, small, sizeof small, &n, 0), MP_E_TOOBIG);
    bool ready = false;
    CHECK_OK(mp_pipe_poll(a, 0, &ready));
    CHECK(ready); /* a receive would not block */
    mp_pipe_close(a);
    end_raw(&r);
    CHECK_CHILD(kid, T_MS, 0);
    double dt_huge = dt;

    /* the same under RLIMIT_AS: proves nothing was allocated for it */
    int got = limited_case(huge, sizeof huge, 0, MP_E_TOOBIG);
    if (got != 0)
        fprintf(stderr, "receiver under RLIMIT_AS ended with %d (exit code, or -1000 - signal)\n", got);
    CHECK(got == 0);
    /* 512 MiB announced, max_frame 1 MiB: refused before allocating */
    static const uint8_t half_gib[] = {0x20, 0, 0, 0, 'x', 'y'};
    got = limited_case(half_gib, sizeof half_gib, 1u << 20, MP_E_TOOBIG);
    if (got != 0)
        fprintf(stderr, "receiver under RLIMIT_AS ended with %d (exit code, or -1000 - signal)\n", got);
    CHECK(got == 0);

    /* 512 MiB announced, under the default max_frame (1 GiB), to a
     * receiver that cannot get that much memory: the receive must fail
     * with a status, like Python's MemoryError.
     * Regression: an allocation failure once aborted the process (any
     * peer could kill a receiver running under ulimit -v or strict
     * overcommit); now it is MP_E_TOOBIG. Same with
     * mp_pipe_set_max_frame(UINT64_MAX) and a 2^62-byte header. */
    got = limited_case(half_gib, sizeof half_gib, 0, MP_OK);
    if (got != 0)
        fprintf(stderr, "receiver of an unallocatable frame ended with %d (-1006 = SIGABRT)\n", got);
    CHECK_REGRESSION(got == 0, "an allocation failure for an announced frame length aborts the process "
                        "instead of returning an error status");
    got = limited_case(huge, sizeof huge, UINT64_MAX, MP_OK);
    if (got != 0)
        fprintf(stderr, "receiver of a 2^62-byte frame with max_frame UINT64_MAX ended with %d\n", got);
    CHECK_REGRESSION(got == 0, "(same: max_frame UINT64_MAX, 2^62-byte header)");

    /* invalid negative length -5 */
    static const uint8_t neg[] = {0xff, 0xff, 0xff, 0xfb, 'z', 'z', 'z', 'z', 'z'};
    kid = start_raw(&r, &a, neg, sizeof neg);
    t0 = now_ms();
    CHECK_ST(mp_pipe_recv_timeout(a, &m, T_MS), MP_E_CORRUPT);
    CHECK(now_ms() - t0 < 1000);
    CHECK_ST(mp_pipe_recv_timeout(a, &m, 0), MP_E_CORRUPT);
    mp_pipe_close(a);
    end_raw(&r);
    CHECK_CHILD(kid, T_MS, 0);

    /* the long form is valid for any size: 5 bytes, then 0 bytes */
    static const uint8_t longform[] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o',
                                       0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 'o', 'k'};
    kid = start_raw(&r, &a, longform, sizeof longform);
    CHECK(recv_is(a, "hello"));
    CHECK(recv_is(a, ""));
    CHECK(recv_is(a, "ok"));
    CHECK_ST(mp_pipe_recv_timeout(a, &m, 0), MP_E_EMPTY);
    mp_pipe_close(a);
    end_raw(&r);
    CHECK_CHILD(kid, T_MS, 0);

    /* 256 bytes announced, 10 sent, then the writer is SIGKILLed while we
     * are blocked in the receive: MP_E_EOF, not a hang */
    static const uint8_t partial[] = {0, 0, 1, 0, '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'};
    kid = start_raw(&r, &a, partial, sizeof partial);
    struct killer k = {kid, 200};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, killer_thread, &k) == 0);
    t0 = now_ms();
    mp_status st = mp_pipe_recv_timeout(a, &m, T_MS);
    double dt_kill = now_ms() - t0;
    CHECK(pthread_join(th, NULL) == 0);
    CHECK_ST(st, MP_E_EOF);
    CHECK(dt_kill >= 150 && dt_kill < 5000);
    CHECK_ST(mp_pipe_recv_timeout(a, &m, 0), MP_E_EOF);
    mp_pipe_close(a);
    end_raw(&r);
    CHECK_CHILD(kid, T_MS, -1000 - SIGKILL);

    /* half a header, the writer killed before we look: MP_E_EOF */
    static const uint8_t half_header[] = {0, 0};
    kid = start_raw(&r, &a, half_header, sizeof half_header);
    CHECK(kill(kid, SIGKILL) == 0);
    CHECK_CHILD(kid, T_MS, -1000 - SIGKILL);
    CHECK_ST(mp_pipe_recv_timeout(a, &m, T_MS), MP_E_EOF);
    mp_pipe_close(a);
    end_raw(&r);

    /* mp_pipe_set_max_frame: exactly the maximum passes, one more is refused */
    mp_pipe *b;
    CHECK_OK(mp_pipe_new(true, &a, &b));
    CHECK_OK(mp_pipe_set_max_frame(a, 100));
    struct eof_arg fa = {.mine = b, .theirs = a};
    kid = spawn(max_frame_sender_main, &fa);
    mp_pipe_close(b);
    CHECK_OK(mp_pipe_recv_timeout(a, &m, T_MS));
    CHECK(m.len == 100 && verify(m.ptr, m.len, 5));
    mp_buf_free(&m);
    CHECK_ST(mp_pipe_recv_timeout(a, &m, T_MS), MP_E_TOOBIG);
    CHECK_ST(mp_pipe_recv_timeout(a, &m, T_MS), MP_E_TOOBIG);
    mp_pipe_close(a);
    CHECK_CHILD(kid, T_MS, 0);

    printf("bad input: 2^62-byte header -> MP_E_TOOBIG in %.2f ms (also under RLIMIT_AS), -5 -> MP_E_CORRUPT, "
           "writer SIGKILLed mid-frame -> MP_E_EOF after %.0f ms\n",
           dt_huge, dt_kill);
}

/* ------------------------------------------------------------------ */
/* 6. mp_pipe_from_fd                                                   */
/* ------------------------------------------------------------------ */

struct fromfd_arg {
    int fd;    /* the inherited raw descriptor to wrap */
    int other; /* the parent's, closed in the child */
};

#define FROMFD_BIG 300000

static void fromfd_child_main(void *p) {
    struct fromfd_arg *a = p;
    close(a->other);
    mp_pipe *c = NULL;
    CHILD_ST(mp_pipe_from_fd(a->fd, &c), MP_OK, 10);
    CHILD_REQUIRE(mp_pipe_fileno(c) == a->fd, 11);
    mp_buf m = {0};
    CHILD_ST(mp_pipe_recv_timeout(c, &m, T_MS), MP_OK, 12);
    CHILD_REQUIRE(is_msg(&m, "ping"), 13);
    mp_buf_free(&m);
    CHILD_ST(mp_pipe_recv_timeout(c, &m, T_MS), MP_OK, 14);
    CHILD_REQUIRE(m.len == FROMFD_BIG && verify(m.ptr, m.len, 6), 15);
    CHILD_ST(mp_pipe_send(c, m.ptr, m.len), MP_OK, 16);
    mp_buf_free(&m);
    CHILD_ST(send_str(c, "pong"), MP_OK, 17);
    CHILD_ST(mp_pipe_recv_timeout(c, &m, T_MS), MP_E_EOF, 18);
    mp_pipe_close(c);
    _exit(0);
}

/* Whether `fd` is closed (checked at once: nothing else opens fds here). */
static int fd_closed(int fd) {
    errno = 0;
    return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

static void test_from_fd(void) {
    g_section = "6. mp_pipe_from_fd";
    /* a socketpair(2) end inherited by a child, wrapped there */
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    struct fromfd_arg fa = {.fd = sv[1], .other = sv[0]};
    pid_t kid = spawn(fromfd_child_main, &fa);
    close(sv[1]);
    mp_pipe *p = NULL;
    CHECK_OK(mp_pipe_from_fd(sv[0], &p));
    CHECK(mp_pipe_fileno(p) == sv[0]);
    CHECK_OK(send_str(p, "ping"));
    uint8_t *big = malloc(FROMFD_BIG);
    CHECK(big != NULL);
    fill(big, FROMFD_BIG, 6);
    CHECK_OK(mp_pipe_send(p, big, FROMFD_BIG));
    free(big);
    mp_buf m = {0};
    CHECK_OK(mp_pipe_recv_timeout(p, &m, T_MS));
    CHECK(m.len == FROMFD_BIG && verify(m.ptr, m.len, 6));
    mp_buf_free(&m);
    CHECK(recv_is(p, "pong"));
    mp_pipe_close(p); /* the child sees EOF */
    CHECK_CHILD(kid, T_MS, 0);
    CHECK(fd_closed(sv[0])); /* mp_pipe_close closed the wrapped descriptor */

    /* pipe(2) ends: the direction comes from the access mode; a
     * non-blocking descriptor still gives proper timeouts */
    int pf[2];
    CHECK(pipe(pf) == 0);
    CHECK(fcntl(pf[0], F_SETFL, fcntl(pf[0], F_GETFL) | O_NONBLOCK) == 0);
    mp_pipe *r = NULL, *w = NULL;
    CHECK_OK(mp_pipe_from_fd(pf[0], &r));
    CHECK_OK(mp_pipe_from_fd(pf[1], &w));
    CHECK_ST(send_str(r, "x"), MP_E_INVAL);
    CHECK_ST(mp_pipe_recv_timeout(w, &m, 0), MP_E_INVAL);
    double t0 = now_ms();
    CHECK_ST(mp_pipe_recv_timeout(r, &m, 50), MP_E_EMPTY);
    CHECK(now_ms() - t0 >= 40);
    CHECK_OK(send_str(w, "through a pipe"));
    CHECK(recv_is(r, "through a pipe"));
    mp_pipe_close(w);
    CHECK_ST(mp_pipe_recv_timeout(r, &m, T_MS), MP_E_EOF);
    mp_pipe_close(r);

    /* refused descriptors: MP_E_INVAL, and closed (ownership on every path) */
    p = NULL;
    CHECK_ST(mp_pipe_from_fd(-1, &p), MP_E_INVAL);
    CHECK(p == NULL);
    int dn = open("/dev/null", O_RDWR);
    CHECK(dn >= 0);
    CHECK_ST(mp_pipe_from_fd(dn, &p), MP_E_INVAL);
    CHECK(fd_closed(dn));
    CHECK(p == NULL);
    char tmpl[] = "/tmp/cpipe-file-XXXXXX";
    int rf = mkstemp(tmpl);
    CHECK(rf >= 0);
    unlink(tmpl);
    CHECK_ST(mp_pipe_from_fd(rf, &p), MP_E_INVAL);
    CHECK(fd_closed(rf));
    int sv2[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2) == 0);
    CHECK_ST(mp_pipe_from_fd(sv2[0], NULL), MP_E_NULL);
    CHECK(fd_closed(sv2[0]));
    close(sv2[1]);
    printf("from_fd: socketpair end wrapped in a child; pipe ends; -1, /dev/null, a file, NULL out -> "
           "refused with the fd closed\n");
}

/* ------------------------------------------------------------------ */
/* 7. Listeners                                                         */
/* ------------------------------------------------------------------ */

struct client_arg {
    const char *addr;
    const uint8_t *key;
    size_t keylen;
    mp_status want;
    int id;
};

/* Connects; if that was to succeed, says hello and expects a welcome. */
static void client_main(void *p) {
    struct client_arg *a = p;
    mp_pipe *c = NULL;
    CHILD_ST(mp_pipe_connect(a->addr, a->key, a->keylen, T_MS, &c), a->want, 10);
    if (a->want != MP_OK)
        _exit(0);
    char msg[32];
    snprintf(msg, sizeof msg, "hello %d", a->id);
    CHILD_ST(send_str(c, msg), MP_OK, 11);
    mp_buf m = {0};
    CHILD_ST(mp_pipe_recv_timeout(c, &m, T_MS), MP_OK, 12);
    snprintf(msg, sizeof msg, "welcome %d", a->id);
    CHILD_REQUIRE(is_msg(&m, msg), 13);
    mp_buf_free(&m);
    mp_pipe_close(c);
    _exit(0);
}

/* Connects without a key to a listener that has one: the listener's
 * challenge arrives as a message, our reply is not an answer, the
 * listener says #FAILURE# and drops us. */
static void nokey_client_main(void *p) {
    struct client_arg *a = p;
    mp_pipe *c = NULL;
    CHILD_ST(mp_pipe_connect(a->addr, NULL, 0, T_MS, &c), MP_OK, 10);
    mp_buf m = {0};
    CHILD_ST(mp_pipe_recv_timeout(c, &m, T_MS), MP_OK, 11);
    CHILD_REQUIRE(m.len > 11 && memcmp(m.ptr, "#CHALLENGE#", 11) == 0, 12);
    mp_buf_free(&m);
    CHILD_ST(send_str(c, "I have no key"), MP_OK, 13);
    CHILD_ST(mp_pipe_recv_timeout(c, &m, T_MS), MP_OK, 14);
    CHILD_REQUIRE(is_msg(&m, "#FAILURE#"), 15);
    mp_buf_free(&m);
    CHILD_ST(mp_pipe_recv_timeout(c, &m, T_MS), MP_E_EOF, 16);
    mp_pipe_close(c);
    _exit(0);
}

static void serve_one(mp_listener *l, int id) {
    mp_pipe *c = NULL;
    CHECK_OK(mp_listener_accept(l, T_MS, &c));
    char msg[32];
    snprintf(msg, sizeof msg, "hello %d", id);
    CHECK(recv_is(c, msg));
    snprintf(msg, sizeof msg, "welcome %d", id);
    CHECK_OK(send_str(c, msg));
    mp_buf m = {0};
    CHECK_ST(mp_pipe_recv_timeout(c, &m, T_MS), MP_E_EOF); /* the client closed */
    mp_pipe_close(c);
}

/* The listener's address, read with mp_listener_address (checking the
 * MP_E_BUFSIZE protocol on the way). */
static void get_address(mp_listener *l, char *out, size_t cap) {
    size_t need = 0, len = 0;
    CHECK_ST(mp_listener_address(l, NULL, 0, &need), MP_E_BUFSIZE);
    CHECK(need > 1 && need <= cap);
    CHECK_ST(mp_listener_address(l, out, need - 1, &len), MP_E_BUFSIZE);
    CHECK(len == need);
    CHECK_OK(mp_listener_address(l, out, need, &len));
    CHECK(len == need - 1 && strlen(out) == len);
}

static const uint8_t k_key[] = "k3y-for-ctest";
#define KEYLEN (sizeof k_key - 1)

/* Right key, wrong key, no key, right key again, on one listener. */
static void listener_cases(mp_listener *l, const char *addr, bool is_unix) {
    mp_pipe *c = NULL;
    double t0 = now_ms();
    CHECK_ST(mp_listener_accept(l, 0, &c), MP_E_TIMEOUT);
    CHECK(now_ms() - t0 < 100);
    t0 = now_ms();
    CHECK_ST(mp_listener_accept(l, 50, &c), MP_E_TIMEOUT);
    double dt = now_ms() - t0;
    CHECK(dt >= 40 && dt < 2000);
    CHECK(c == NULL);

    struct client_arg ok1 = {addr, k_key, KEYLEN, MP_OK, 1};
    pid_t kid = spawn(client_main, &ok1);
    serve_one(l, 1);
    CHECK_CHILD(kid, T_MS, 0);

    static const uint8_t wrong[] = "not-the-key";
    struct client_arg bad = {addr, wrong, sizeof wrong - 1, MP_E_AUTH, 2};
    kid = spawn(client_main, &bad);
    CHECK_ST(mp_listener_accept(l, T_MS, &c), MP_E_AUTH);
    CHECK(c == NULL);
    CHECK_CHILD(kid, T_MS, 0); /* its connect returned MP_E_AUTH */

    if (is_unix) {
        kid = spawn(nokey_client_main, &ok1);
        CHECK_ST(mp_listener_accept(l, T_MS, &c), MP_E_AUTH);
        CHECK_CHILD(kid, T_MS, 0);
    } else {
        CHECK_ST(mp_pipe_connect(addr, NULL, 0, T_MS, &c), MP_E_INVAL); /* TCP needs a key */
    }

    struct client_arg ok3 = {addr, k_key, KEYLEN, MP_OK, 3};
    kid = spawn(client_main, &ok3);
    serve_one(l, 3); /* the listener is still usable */
    CHECK_CHILD(kid, T_MS, 0);
    CHECK_ST(mp_listener_accept(l, 0, &c), MP_E_TIMEOUT);
}

/* Binds `path` and is killed: the socket file stays behind. */
static void bind_and_wait_main(void *p) {
    const char *addr = p;
    mp_listener *l = NULL;
    CHILD_ST(mp_listener_bind(addr, k_key, KEYLEN, &l), MP_OK, 10);
    sleep_ms(T_MS);
    _exit(11);
}

static void raw_tcp_client_main(void *p) {
    int port = *(int *)p;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    CHILD_REQUIRE(s >= 0, 10);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHILD_REQUIRE(connect(s, (struct sockaddr *)&sa, sizeof sa) == 0, 11);
    mp_pipe *c = NULL;
    CHILD_ST(mp_pipe_from_fd(s, &c), MP_OK, 12);
    CHILD_ST(send_str(c, "raw tcp"), MP_OK, 13);
    mp_buf m = {0};
    CHILD_ST(mp_pipe_recv_timeout(c, &m, T_MS), MP_OK, 14);
    CHILD_REQUIRE(is_msg(&m, "ack"), 15);
    mp_buf_free(&m);
    mp_pipe_close(c);
    _exit(0);
}

/* Four connects with a 300 ms timeout to a listener whose backlog is
 * full: each must come back (MP_E_TIMEOUT) in time. */
static void backlog_client_main(void *p) {
    const char *addr = p;
    for (int i = 0; i < 4; i++) {
        mp_pipe *c = NULL;
        double t0 = now_ms();
        mp_status st = mp_pipe_connect(addr, k_key, KEYLEN, 300, &c);
        double dt = now_ms() - t0;
        if (st != MP_E_TIMEOUT || dt > 2000) {
            fprintf(stderr, "[child] connect %d: %s after %.0f ms, want MP_E_TIMEOUT after ~300 ms\n", i,
                    mp_status_str(st), dt);
            _exit(10 + i);
        }
    }
    _exit(0);
}

/* A raw socket at the abstract `name` (no "unix:@"): listening, with a
 * backlog of 1 and nobody accepting; or else connected to it. */
static int raw_abstract_socket(const char *name, bool listening) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(s >= 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(name);
    CHECK(n + 1 < sizeof sa.sun_path);
    memcpy(sa.sun_path + 1, name, n);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    if (listening)
        CHECK(bind(s, (struct sockaddr *)&sa, len) == 0 && listen(s, 1) == 0);
    else
        CHECK(connect(s, (struct sockaddr *)&sa, len) == 0);
    return s;
}

static int port_of(const char *addr) {
    const char *colon = strrchr(addr, ':');
    return colon ? atoi(colon + 1) : 0;
}

static void test_listeners(void) {
    g_section = "7. listeners";
    double t0 = now_ms();
    char addr[200], got[200];
    mp_listener *l = NULL, *l2 = NULL;
    mp_pipe *c = NULL;
    struct stat st;

    /* unix:/path */
    const char *path = tmp_path("lst.sock");
    snprintf(addr, sizeof addr, "unix:%s", path);
    CHECK_OK(mp_listener_bind(addr, k_key, KEYLEN, &l));
    CHECK(stat(path, &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 07777) == 0600);
    get_address(l, got, sizeof got);
    CHECK(strcmp(got, addr) == 0);
    CHECK_ST(mp_listener_bind(addr, k_key, KEYLEN, &l2), MP_E_EXISTS);
    CHECK(stat(path, &st) == 0); /* the failed bind left the file alone */
    listener_cases(l, addr, true);
    mp_listener_close(l);
    errno = 0;
    CHECK(stat(path, &st) == -1 && errno == ENOENT); /* removed by close */
    CHECK_ST(mp_pipe_connect(addr, k_key, KEYLEN, T_MS, &c), MP_E_NOTFOUND);

    /* a listener killed without closing leaves its file: connect says
     * nobody listens, bind says it exists */
    const char *stale = tmp_path("stale.sock");
    char saddr[200];
    snprintf(saddr, sizeof saddr, "unix:%s", stale);
    pid_t kid = spawn(bind_and_wait_main, saddr);
    double deadline = now_ms() + T_MS;
    while (stat(stale, &st) != 0 && now_ms() < deadline)
        sleep_ms(1);
    sleep_ms(20); /* bound, then listening */
    CHECK(kill(kid, SIGKILL) == 0);
    CHECK_CHILD(kid, T_MS, -1000 - SIGKILL);
    CHECK(stat(stale, &st) == 0);
    CHECK_ST(mp_pipe_connect(saddr, k_key, KEYLEN, T_MS, &c), MP_E_NOTFOUND);
    CHECK_ST(mp_listener_bind(saddr, k_key, KEYLEN, &l2), MP_E_EXISTS);
    CHECK(unlink(stale) == 0);

    /* unix:@abstract */
    snprintf(addr, sizeof addr, "unix:@cpipe-%ld-abstract", (long)getpid());
    CHECK_OK(mp_listener_bind(addr, k_key, KEYLEN, &l));
    get_address(l, got, sizeof got);
    CHECK(strcmp(got, addr) == 0);
    CHECK_ST(mp_listener_bind(addr, k_key, KEYLEN, &l2), MP_E_EXISTS);
    listener_cases(l, addr, true);
    /* a peer that connects and leaves before the handshake: accept fails
     * (MP_E_EOF today, which its doc does not list) and the listener
     * stays usable */
    char aname[120];
    snprintf(aname, sizeof aname, "cpipe-%ld-abstract", (long)getpid());
    close(raw_abstract_socket(aname, false));
    mp_status ast = mp_listener_accept(l, T_MS, &c);
    if (ast != MP_E_EOF && ast != MP_E_AUTH)
        fprintf(stderr, "accept of a peer gone before the handshake: %s\n", mp_status_str(ast));
    CHECK(ast == MP_E_EOF || ast == MP_E_AUTH);
    CHECK(c == NULL);
    struct client_arg ok4 = {addr, k_key, KEYLEN, MP_OK, 4};
    kid = spawn(client_main, &ok4);
    serve_one(l, 4);
    CHECK_CHILD(kid, T_MS, 0);
    mp_listener_close(l);
    CHECK_ST(mp_pipe_connect(addr, k_key, KEYLEN, T_MS, &c), MP_E_NOTFOUND);

    /* connect honours its timeout when the listener's backlog is full
     * (Python's Listener has backlog=1 by default: a busy Python server).
     * Regression: unix: connects once used a blocking connect(2), which
     * sleeps until the listener accepts, however long: the third connect
     * never returned. */
    snprintf(aname, sizeof aname, "cpipe-%ld-backlog", (long)getpid());
    int busy = raw_abstract_socket(aname, true);
    snprintf(addr, sizeof addr, "unix:@%s", aname);
    kid = spawn(backlog_client_main, addr);
    int bgot = wait_child(kid, 4000);
    if (bgot != 0)
        fprintf(stderr, "connects to a full backlog ended with %d (-1 = hung, killed after 4 s; 12 = 3rd connect "
                "wrong), want 0\n", bgot);
    CHECK_REGRESSION(bgot == 0, "mp_pipe_connect to a unix: listener with a full backlog blocks past its timeout");
    close(busy);

    /* tcp: needs a key */
    l = NULL;
    CHECK_ST(mp_listener_bind("tcp:127.0.0.1:0", NULL, 0, &l), MP_E_INVAL);
    CHECK_ST(mp_listener_bind_ex("tcp:127.0.0.1:0", NULL, 0, 0, &l), MP_E_INVAL);
    CHECK_ST(mp_listener_bind_ex("tcp:127.0.0.1:0", k_key, KEYLEN, 0x80, &l), MP_E_INVAL); /* unknown flag */
    CHECK(l == NULL);
    CHECK_OK(mp_listener_bind("tcp:127.0.0.1:0", k_key, KEYLEN, &l));
    get_address(l, addr, sizeof addr);
    CHECK(strncmp(addr, "tcp:127.0.0.1:", 14) == 0);
    int port = port_of(addr);
    CHECK(port > 0 && port < 65536);
    listener_cases(l, addr, false);
    mp_listener_close(l);
    CHECK_ST(mp_pipe_connect(addr, k_key, KEYLEN, T_MS, &c), MP_E_NOTFOUND);

    /* tcp without a key, opted in: a plain socket wrapped by from_fd talks to it */
    CHECK_OK(mp_listener_bind_ex("tcp:127.0.0.1:0", NULL, 0, MP_LISTENER_ALLOW_TCP_WITHOUT_AUTHKEY, &l));
    get_address(l, addr, sizeof addr);
    port = port_of(addr);
    CHECK(port > 0);
    kid = spawn(raw_tcp_client_main, &port);
    CHECK_OK(mp_listener_accept(l, T_MS, &c));
    CHECK(recv_is(c, "raw tcp"));
    CHECK_OK(send_str(c, "ack"));
    mp_buf m = {0};
    CHECK_ST(mp_pipe_recv_timeout(c, &m, T_MS), MP_E_EOF);
    mp_pipe_close(c);
    CHECK_CHILD(kid, T_MS, 0);
    mp_listener_close(l);

    /* nobody there; bad addresses */
    c = NULL;
    snprintf(addr, sizeof addr, "unix:@cpipe-%ld-nobody", (long)getpid());
    CHECK_ST(mp_pipe_connect(addr, k_key, KEYLEN, T_MS, &c), MP_E_NOTFOUND);
    snprintf(addr, sizeof addr, "unix:/tmp/cpipe-%ld-nobody.sock", (long)getpid());
    CHECK_ST(mp_pipe_connect(addr, k_key, KEYLEN, T_MS, &c), MP_E_NOTFOUND);
    CHECK_ST(mp_pipe_connect("nowhere", k_key, KEYLEN, T_MS, &c), MP_E_INVAL);
    CHECK_ST(mp_listener_bind("tcp:127.0.0.1", k_key, KEYLEN, &l2), MP_E_INVAL);
    CHECK(c == NULL && l2 == NULL);
    mp_listener_close(NULL);
    printf("listeners: unix path (0600, removed on close), abstract, tcp; right/wrong/no key: %.0f ms\n",
           now_ms() - t0);
}

/* ------------------------------------------------------------------ */
/* 8. Many clients at once                                              */
/* ------------------------------------------------------------------ */

#define NCLIENTS 64

struct many_arg {
    const char *addr;
    uint32_t id;
};

static void many_client_main(void *p) {
    struct many_arg *a = p;
    mp_pipe *c = NULL;
    CHILD_ST(mp_pipe_connect(a->addr, k_key, KEYLEN, T_MS, &c), MP_OK, 10);
    CHILD_ST(mp_pipe_send(c, (const uint8_t *)&a->id, sizeof a->id), MP_OK, 11);
    uint32_t reply = 0;
    size_t n = 0;
    CHILD_ST(mp_pipe_recv_into(c, (uint8_t *)&reply, sizeof reply, &n, T_MS), MP_OK, 12);
    CHILD_REQUIRE(n == sizeof reply && reply == a->id * 2, 13);
    mp_pipe_close(c);
    _exit(0);
}

static void test_many_clients(void) {
    g_section = "8. many clients";
    char addr[200];
    snprintf(addr, sizeof addr, "unix:@cpipe-%ld-many", (long)getpid());
    mp_listener *l = NULL;
    CHECK_OK(mp_listener_bind(addr, k_key, KEYLEN, &l));
    static struct many_arg args[NCLIENTS];
    pid_t kids[NCLIENTS];
    double t0 = now_ms();
    for (uint32_t i = 0; i < NCLIENTS; i++) {
        args[i] = (struct many_arg){addr, i};
        kids[i] = spawn(many_client_main, &args[i]);
    }
    unsigned seen[NCLIENTS] = {0};
    unsigned bad = 0;
    for (int i = 0; i < NCLIENTS; i++) {
        mp_pipe *c = NULL;
        CHECK_OK(mp_listener_accept(l, T_MS, &c));
        uint32_t id = 0;
        size_t n = 0;
        CHECK_OK(mp_pipe_recv_into(c, (uint8_t *)&id, sizeof id, &n, T_MS));
        if (n != sizeof id || id >= NCLIENTS) {
            bad++;
        } else {
            seen[id]++;
            uint32_t reply = id * 2;
            CHECK_OK(mp_pipe_send(c, (const uint8_t *)&reply, sizeof reply));
        }
        mp_pipe_close(c);
    }
    double dt = now_ms() - t0;
    CHECK(bad == 0);
    for (int i = 0; i < NCLIENTS; i++)
        CHECK(seen[i] == 1);
    for (int i = 0; i < NCLIENTS; i++)
        CHECK_CHILD(kids[i], T_MS, 0);
    mp_pipe *c = NULL;
    CHECK_ST(mp_listener_accept(l, 0, &c), MP_E_TIMEOUT);
    mp_listener_close(l);
    printf("many clients: %d processes connected (with the handshake) and answered in %.0f ms\n", NCLIENTS, dt);
}

/* ------------------------------------------------------------------ */
/* 9. Python interop                                                    */
/* ------------------------------------------------------------------ */

/* argv: kind (unix|tcp), address (path, or host:port), key */
static const char k_py_client[] =
    "import sys\n"
    "from multiprocessing.connection import Client\n"
    "kind, addr, key = sys.argv[1], sys.argv[2], sys.argv[3].encode()\n"
    "if kind == 'tcp':\n"
    "    host, port = addr.rsplit(':', 1)\n"
    "    address = (host, int(port))\n"
    "else:\n"
    "    address = addr\n"
    "try:\n"
    "    c = Client(address, authkey=key)\n"
    "except Exception as e:\n"
    "    print(type(e).__name__ + ': ' + str(e), flush=True)\n"
    "    sys.exit(3)\n"
    "big = bytes(range(256)) * 1000\n"
    "c.send_bytes(b'ping from python')\n"
    "c.send_bytes(big)\n"
    "r = c.recv_bytes()\n"
    "r2 = c.recv_bytes()\n"
    "if r2 != big[::-1]:\n"
    "    print('big echo differs', flush=True)\n"
    "    sys.exit(4)\n"
    "print('got ' + r.decode(), flush=True)\n"
    "c.close()\n";

/* argv: address (a path, or @name for an abstract socket), key */
static const char k_py_listener[] =
    "import sys\n"
    "from multiprocessing.connection import Listener\n"
    "address, key = sys.argv[1], sys.argv[2].encode()\n"
    "if address.startswith('@'):\n"
    "    address = '\\0' + address[1:]\n"
    "l = Listener(address, family='AF_UNIX', authkey=key)\n"
    "print('ready', flush=True)\n"
    "try:\n"
    "    c = l.accept()\n"
    "except Exception as e:\n"
    "    print(type(e).__name__ + ': ' + str(e), flush=True)\n"
    "    l.close()\n"
    "    sys.exit(3)\n"
    "m = c.recv_bytes()\n"
    "c.send_bytes(b'py:' + m)\n"
    "big = c.recv_bytes()\n"
    "c.send_bytes(big[::-1])\n"
    "print('served %d %d' % (len(m), len(big)), flush=True)\n"
    "c.close()\n"
    "l.close()\n";

/* python3 -c script a1 a2 a3 (the first NULL ends the arguments), its
 * stdout on a pipe to `pp`. */
static void py_start(struct proc *pp, const char *script, const char *a1, const char *a2, const char *a3) {
    const char *argv[] = {"python3", "-c", script, a1, a2, a3, NULL};
    proc_start(pp, 1, 0, argv);
}

/* CHECK_PY(pp, code, needle): python3 ends (proc_finish) with exit code
 * `code`, having written `needle`; shows its output otherwise. */
#define CHECK_PY(pp, code, needle)                                                                  \
    do {                                                                                            \
        int code_ = proc_finish(pp, T_MS);                                                          \
        int ok_ = code_ == (code) && strstr((pp)->out, (needle)) != NULL;                           \
        if (!ok_)                                                                                   \
            fprintf(stderr, "python3 ended with %d (want %d), its output (want \"%s\"):\n%s\n",      \
                    code_, (int)(code), (needle), (pp)->out);                                       \
        CHECK(ok_);                                                                                 \
    } while (0)

static const uint8_t k_py_key[] = "s3cret";
#define PY_KEYLEN (sizeof k_py_key - 1)
#define PY_BIG (256 * 1000)

/* Serves one Python client on `l`: its two messages, our two replies. */
static void serve_python(mp_listener *l) {
    mp_pipe *c = NULL;
    CHECK_OK(mp_listener_accept(l, T_MS, &c));
    CHECK(recv_is(c, "ping from python"));
    mp_buf m = {0};
    CHECK_OK(mp_pipe_recv_timeout(c, &m, T_MS));
    CHECK(m.len == PY_BIG);
    int same = 1;
    for (size_t i = 0; i < m.len && same; i++)
        same = m.ptr[i] == (uint8_t)(i % 256);
    CHECK(same);
    for (size_t i = 0; i < m.len / 2; i++) {
        uint8_t t = m.ptr[i];
        m.ptr[i] = m.ptr[m.len - 1 - i];
        m.ptr[m.len - 1 - i] = t;
    }
    CHECK_OK(send_str(c, "pong from C"));
    CHECK_OK(mp_pipe_send(c, m.ptr, m.len));
    mp_buf_free(&m);
    CHECK_ST(mp_pipe_recv_timeout(c, &m, T_MS), MP_E_EOF);
    mp_pipe_close(c);
}

/* Our client against a Python Listener at `pyaddr` (path or @name). */
static void c_client_to_python(const char *pyaddr, const char *cpath_or_null, bool right_key) {
    struct proc pp;
    py_start(&pp, k_py_listener, pyaddr, "s3cret", NULL);
    if (!proc_read_until(&pp, "ready", T_MS)) {
        fprintf(stderr, "python3 Listener did not say ready; output:\n%s\n", pp.out);
        CHECK(!"python3 Listener ready");
    }
    char addr[200];
    snprintf(addr, sizeof addr, "unix:%s", pyaddr);
    mp_pipe *c = NULL;
    if (!right_key) {
        static const uint8_t wrong[] = "wrong";
        CHECK_ST(mp_pipe_connect(addr, wrong, sizeof wrong - 1, T_MS, &c), MP_E_AUTH);
        CHECK(c == NULL);
        CHECK_PY(&pp, 3, "AuthenticationError");
        return;
    }
    CHECK_OK(mp_pipe_connect(addr, k_py_key, PY_KEYLEN, T_MS, &c));
    CHECK_OK(send_str(c, "hello from C"));
    CHECK(recv_is(c, "py:hello from C"));
    size_t len = 3u << 20;
    uint8_t *big = malloc(len);
    CHECK(big != NULL);
    fill(big, len, 9);
    CHECK_OK(mp_pipe_send(c, big, len));
    mp_buf m = {0};
    CHECK_OK(mp_pipe_recv_timeout(c, &m, T_MS));
    CHECK(m.len == len);
    int same = 1;
    for (size_t i = 0; i < len && same; i++)
        same = m.ptr[i] == big[len - 1 - i];
    CHECK(same);
    mp_buf_free(&m);
    free(big);
    CHECK_ST(mp_pipe_recv_timeout(c, &m, T_MS), MP_E_EOF); /* Python closed */
    mp_pipe_close(c);
    CHECK_PY(&pp, 0, "served 12 3145728");
    if (cpath_or_null != NULL) { /* Python's close removed its socket file */
        struct stat st;
        CHECK(stat(cpath_or_null, &st) == -1);
    }
}

static void test_python(void) {
    g_section = "9. python interop";
    struct proc pp;
    py_start(&pp, "import multiprocessing.connection", NULL, NULL, NULL);
    int code = proc_finish(&pp, T_MS);
    if (code == 127) {
        printf("python interop: SKIPPED (no python3 on PATH)\n");
        return;
    }
    CHECK(code == 0);
    double t0 = now_ms();

    /* (a) Python Client -> our Listener at a unix path, key "s3cret" */
    const char *path = tmp_path("py-c.sock");
    char addr[200];
    snprintf(addr, sizeof addr, "unix:%s", path);
    mp_listener *l = NULL;
    CHECK_OK(mp_listener_bind(addr, k_py_key, PY_KEYLEN, &l));
    py_start(&pp, k_py_client, "unix", path, "wrong-key");
    mp_pipe *c = NULL;
    CHECK_ST(mp_listener_accept(l, T_MS, &c), MP_E_AUTH);
    CHECK_PY(&pp, 3, "AuthenticationError");
    py_start(&pp, k_py_client, "unix", path, "s3cret");
    serve_python(l);
    CHECK_PY(&pp, 0, "got pong from C");
    mp_listener_close(l);

    /* (a') over TCP */
    CHECK_OK(mp_listener_bind("tcp:127.0.0.1:0", k_py_key, PY_KEYLEN, &l));
    get_address(l, addr, sizeof addr);
    const char *hostport = addr + 4; /* "127.0.0.1:port" */
    py_start(&pp, k_py_client, "tcp", hostport, "s3cret");
    serve_python(l);
    CHECK_PY(&pp, 0, "got pong from C");
    py_start(&pp, k_py_client, "tcp", hostport, "wrong-key");
    CHECK_ST(mp_listener_accept(l, T_MS, &c), MP_E_AUTH);
    CHECK_PY(&pp, 3, "AuthenticationError");
    mp_listener_close(l);

    /* (b) our client -> Python Listener: unix path (wrong key, right key),
     * abstract name */
    const char *pypath = tmp_path("py-l.sock");
    c_client_to_python(pypath, NULL, false);
    unlink(pypath); /* Python's close removes it; this is in case */
    c_client_to_python(pypath, pypath, true);
    char abs_name[100];
    snprintf(abs_name, sizeof abs_name, "@cpipe-%ld-py-abstract", (long)getpid());
    c_client_to_python(abs_name, NULL, true);
    printf("python interop: Python Client -> C Listener (unix, tcp), C client -> Python Listener (path, "
           "abstract), right and wrong keys: %.0f ms\n",
           now_ms() - t0);
}

/* ------------------------------------------------------------------ */

int main(void) {
    g_check_on_fail = kill_kids; /* then check_cleanup() unlinks the files */
    start_watchdog("test_pipe", 120); /* last-resort watchdog */
    double t0 = now_ms();

    test_roundtrip();
    test_eof();
    test_timeouts();
    test_recv_into();
    test_bad_input();
    test_from_fd();
    test_listeners();
    test_many_clients();
    test_python();

    alarm(0);
    unlink_paths();
    return check_summary("test_pipe", t0); /* "N passed, M failed" and 1 after a failed CHECK_REGRESSION */
}
