/*
 * test_redis_queue.c: the queue at a Redis address (issue 22,
 * docs/REDIS.md) across real processes, through the C ABI. The test starts
 * its own server (scripts/redis-server.sh, through redis_server.h) and
 * reaches it over TCP and over its unix socket.
 *
 *  1. MPMC: 2 producer processes (mpq_put_many batches / mpq_put) x N
 *     messages, 2 consumer processes (mpq_get_many / mpq_get) that call
 *     mpq_task_done for each, on a queue of maxsize 8: every message
 *     arrives exactly once, intact, in per-producer order within each
 *     consumer; mpq_join returns with every task done; mpq_shutdown from the
 *     parent wakes both consumers, blocked in their gets in their own
 *     processes, with MP_E_SHUTDOWN. Over TCP, then over the unix socket.
 *  2. Waits in other processes: two joiners block in mpq_join while tasks
 *     are not done (they cannot return before the last task_done) and
 *     return after it; a putter blocked on a full queue gets MP_E_SHUTDOWN,
 *     a joiner blocked on it returns MP_OK after an immediate shutdown
 *     (what was left counts as done), an at-least-once getter blocked on an
 *     empty queue gets MP_E_SHUTDOWN.
 *  3. fork() with an open handle: parent and child use the same inherited
 *     mpq handle at the same time (put, get, qsize): every message once and
 *     intact, so each process talks over its own connection. An
 *     at-least-once handle whose consumer the parent registered: the child
 *     takes a message through it and dies without task_done; the message
 *     comes back to the parent once the child's lease ends (the child was a
 *     consumer of its own, not the parent's, whose lease the parent keeps
 *     renewing).
 *  4. fork() with an open manager handle at the Redis address
 *     (mp_mgr_connect("redis://...")): parent and child each 10,000
 *     mp_mgr_dict_incr of one key through the inherited handle at the same
 *     time: exactly 20,000 (1,000 each under valgrind).
 *
 * Prints "N passed, 0 failed" and exits 0 on success.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mpipc.h"

#define CHECK_NAME_PREFIX "credisq"
#define CHECK_CHILD_ALARM_S 240
#include "check.h"
#include "redis_server.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

/* ------------------------------------------------------------------ */
/* Shared bookkeeping                                                   */
/* ------------------------------------------------------------------ */

#define NPROD 2
#define NCONS 2
#define MAXN 4000 /* messages per producer, at most */
#define BATCH 16
#define MAXMSG (8 + 16)

/* MAP_SHARED | MAP_ANONYMOUS, inherited by every child. */
struct shared {
    atomic_uchar seen[NPROD][MAXN]; /* deliveries of (producer, seq) */
    atomic_long delivered;
    atomic_long dups, corrupt, disorder;
    atomic_int in_call[8]; /* 1 while child i is inside its blocking call */
    atomic_int ready, go;
    atomic_int returned[4]; /* the joiners of section 2 */
    atomic_int got_b;       /* section 3: the child took its message */
};

static struct shared *g_sh;

/* The server of the whole run. */
static struct redis_srv g_srv;

/* Opens the queue at `addr` (attach only) in a child. */
static mpq *child_attach(const char *addr) {
    mpq_options o = {.flags = MPQ_ATTACH_ONLY};
    mpq *q = NULL;
    CHILD_ST(mpq_open(addr, &o, &q), MP_OK, 90);
    return q;
}

/* Message (p, s): an 8-byte header, then s % 17 bytes of a known pattern. */
static size_t encode(uint8_t *out, uint32_t p, uint32_t s) {
    memcpy(out, &p, 4);
    memcpy(out + 4, &s, 4);
    size_t pad = s % 17;
    for (size_t k = 0; k < pad; k++)
        out[8 + k] = (uint8_t)(p * 31 + s + k);
    return 8 + pad;
}

/* Decodes and validates message `m`; 0 if malformed. */
static int decode(const uint8_t *m, size_t len, uint32_t nprod, uint32_t n, uint32_t *p, uint32_t *s) {
    if (len < 8)
        return 0;
    memcpy(p, m, 4);
    memcpy(s, m + 4, 4);
    if (*p >= nprod || *s >= n || len != 8 + *s % 17)
        return 0;
    for (size_t k = 0; k < len - 8; k++)
        if (m[8 + k] != (uint8_t)(*p * 31 + *s + k))
            return 0;
    return 1;
}

/* Records the delivery of message m (in a child or the parent). */
static void record(const uint8_t *m, size_t len, uint32_t n, uint32_t *last) {
    uint32_t p, s;
    if (!decode(m, len, NPROD, n, &p, &s)) {
        atomic_fetch_add(&g_sh->corrupt, 1);
        return;
    }
    if (atomic_fetch_add(&g_sh->seen[p][s], 1) != 0)
        atomic_fetch_add(&g_sh->dups, 1);
    if (last != NULL) {
        /* Each producer's messages reach one consumer in the order put. */
        if (last[p] != UINT32_MAX && s <= last[p])
            atomic_fetch_add(&g_sh->disorder, 1);
        last[p] = s;
    }
    atomic_fetch_add(&g_sh->delivered, 1);
}

/* Prints how long the section that just ended took (for the log). */
static void section_done(double *t) {
    double now = now_ms();
    printf("  %s: %.0f ms\n", g_section, now - *t);
    fflush(stdout);
    *t = now;
}

static void reset_shared(void) {
    memset(g_sh, 0, sizeof *g_sh);
}

/* Waits until child slot i is inside its blocking call and asleep there. */
static void wait_blocked(int i, pid_t pid) {
    while (atomic_load(&g_sh->in_call[i]) == 0) {
        CHECK(waitpid(pid, NULL, WNOHANG) == 0); /* still there */
        sleep_ms(1);
    }
    wait_asleep(pid);
}

/* ------------------------------------------------------------------ */
/* 1. MPMC                                                              */
/* ------------------------------------------------------------------ */

struct role {
    const char *addr;
    uint32_t id;
    uint32_t n;
};

static void producer_main(void *arg) {
    struct role *a = arg;
    mpq *q = child_attach(a->addr);
    if (a->id == 0) { /* batches */
        uint8_t data[BATCH * MAXMSG];
        size_t lens[BATCH];
        for (uint32_t s = 0; s < a->n;) {
            size_t n = a->n - s < BATCH ? a->n - s : BATCH, off = 0;
            for (size_t i = 0; i < n; i++) {
                lens[i] = encode(data + off, a->id, s + (uint32_t)i);
                off += lens[i];
            }
            size_t put = 0;
            CHILD_ST(mpq_put_many(q, data, lens, n, -1, &put), MP_OK, 91);
            CHILD_REQUIRE(put >= 1 && put <= n, 92);
            s += (uint32_t)put;
        }
    } else {
        uint8_t m[MAXMSG];
        for (uint32_t s = 0; s < a->n; s++) {
            size_t len = encode(m, a->id, s);
            CHILD_ST(mpq_put(q, m, len), MP_OK, 93);
        }
    }
    mpq_close(q);
}

static void consumer_main(void *arg) {
    struct role *a = arg;
    mpq *q = child_attach(a->addr);
    uint32_t last[NPROD];
    for (int p = 0; p < NPROD; p++)
        last[p] = UINT32_MAX;
    uint8_t buf[BATCH * MAXMSG];
    size_t lens[BATCH];
    for (;;) {
        atomic_store(&g_sh->in_call[a->id], 1);
        mp_status st;
        if (a->id == 0) {
            size_t n = 0, bytes = 0;
            st = mpq_get_many(q, buf, sizeof buf, lens, BATCH, -1, &n, &bytes);
            atomic_store(&g_sh->in_call[a->id], 0);
            if (st == MP_OK) {
                CHILD_REQUIRE(n >= 1 && n <= BATCH, 94);
                size_t off = 0;
                for (size_t i = 0; i < n; i++) {
                    record(buf + off, lens[i], a->n, last);
                    off += lens[i];
                    CHILD_ST(mpq_task_done(q), MP_OK, 95);
                }
                CHILD_REQUIRE(off == bytes, 96);
            }
        } else {
            mp_buf b = {0};
            st = mpq_get(q, &b);
            atomic_store(&g_sh->in_call[a->id], 0);
            if (st == MP_OK) {
                record(b.ptr, b.len, a->n, last);
                mp_buf_free(&b);
                CHILD_ST(mpq_task_done(q), MP_OK, 97);
            }
        }
        if (st == MP_E_SHUTDOWN)
            break;
        CHILD_REQUIRE(st == MP_OK, 98);
    }
    mpq_close(q);
}

static void test_mpmc(const char *addr, uint32_t n) {
    reset_shared();
    keep_name(addr);
    (void)mpq_unlink(addr);
    mpq_options o = {.maxsize = 8, .flags = MPQ_CREATE_ONLY};
    mpq *q = NULL;
    CHECK_OK(mpq_open(addr, &o, &q));
    mpq_options got = {0};
    CHECK_OK(mpq_options_of(q, &got));
    CHECK(got.maxsize == 8);

    struct role cons[NCONS], prod[NPROD];
    pid_t cpid[NCONS], ppid[NPROD];
    for (uint32_t i = 0; i < NCONS; i++) {
        cons[i] = (struct role){addr, i, n};
        cpid[i] = spawn(consumer_main, &cons[i]);
    }
    for (uint32_t i = 0; i < NPROD; i++) {
        prod[i] = (struct role){addr, i, n};
        ppid[i] = spawn(producer_main, &prod[i]);
    }
    /* Every put returned: the producers are done. */
    for (int i = 0; i < NPROD; i++)
        CHECK_CHILD(ppid[i], 180000, 0);
    /* join returns once every message put was marked done: every one was
     * recorded (a consumer records before its task_done). */
    CHECK_OK(mpq_join(q, -1));
    CHECK(atomic_load(&g_sh->delivered) == (long)(NPROD * n));
    size_t qs = 99;
    CHECK_OK(mpq_qsize(q, &qs));
    CHECK(qs == 0);
    bool empty = false;
    CHECK_OK(mpq_empty(q, &empty));
    CHECK(empty);

    /* Both consumers are now blocked in their gets in their own processes:
     * a shutdown from here must wake them (MP_E_SHUTDOWN, then exit 0). */
    for (int i = 0; i < NCONS; i++)
        wait_blocked(i, cpid[i]);
    CHECK_OK(mpq_shutdown(q, false));
    for (int i = 0; i < NCONS; i++)
        CHECK_CHILD(cpid[i], 60000, 0);

    CHECK(atomic_load(&g_sh->dups) == 0);
    CHECK(atomic_load(&g_sh->corrupt) == 0);
    CHECK(atomic_load(&g_sh->disorder) == 0);
    for (int p = 0; p < NPROD; p++)
        for (uint32_t s = 0; s < n; s++)
            CHECK(atomic_load(&g_sh->seen[p][s]) == 1);
    /* After the shutdown: puts fail, a get finds it drained. */
    uint8_t m[MAXMSG];
    CHECK_ST(mpq_put(q, m, encode(m, 0, 0)), MP_E_SHUTDOWN);
    mp_buf b = {0};
    CHECK_ST(mpq_get_timeout(q, &b, 0), MP_E_SHUTDOWN);
    mpq_close(q);
    CHECK_OK(mpq_unlink(addr));
    CHECK_ST(mpq_unlink(addr), MP_E_NOTFOUND);
}

/* ------------------------------------------------------------------ */
/* 2. Waits in other processes                                          */
/* ------------------------------------------------------------------ */

struct waiter {
    const char *addr;
    int slot;
    int what; /* 0 join (want MP_OK), 1 put on a full queue (want SHUTDOWN), 2 get (want SHUTDOWN) */
};

static void waiter_main(void *arg) {
    struct waiter *w = arg;
    mpq *q = child_attach(w->addr);
    atomic_store(&g_sh->in_call[w->slot], 1);
    mp_status st;
    if (w->what == 0) {
        st = mpq_join(q, -1);
        atomic_store(&g_sh->returned[w->slot], 1);
        CHILD_ST(st, MP_OK, 80);
    } else if (w->what == 1) {
        st = mpq_put(q, (const uint8_t *)"late", 4);
        CHILD_ST(st, MP_E_SHUTDOWN, 81);
    } else {
        mp_buf b = {0};
        st = mpq_get(q, &b);
        CHILD_ST(st, MP_E_SHUTDOWN, 82);
    }
    mpq_close(q);
}

static void test_waits(void) {
    char a1[256], a2[256], a3[256];
    reset_shared();

    /* Joiners wait for task_done in other processes. */
    redis_addr(&g_srv, a1, sizeof a1, "/%s", qname("join"));
    keep_name(a1);
    mpq *q = NULL;
    CHECK_OK(mpq_open(a1, NULL, &q));
    for (int i = 0; i < 5; i++)
        CHECK_OK(mpq_put(q, (const uint8_t *)"task", 4));
    struct waiter j[2] = {{a1, 0, 0}, {a1, 1, 0}};
    pid_t jp[2];
    for (int i = 0; i < 2; i++)
        jp[i] = spawn(waiter_main, &j[i]);
    for (int i = 0; i < 2; i++)
        wait_blocked(i, jp[i]);
    /* Five tasks undone: no joiner may have returned, whatever the timing. */
    mp_buf b = {0};
    for (int i = 0; i < 5; i++) {
        CHECK(atomic_load(&g_sh->returned[0]) == 0 && atomic_load(&g_sh->returned[1]) == 0);
        CHECK_OK(mpq_get(q, &b));
        CHECK(b.len == 4 && memcmp(b.ptr, "task", 4) == 0);
        mp_buf_free(&b);
        CHECK_OK(mpq_task_done(q));
    }
    for (int i = 0; i < 2; i++)
        CHECK_CHILD(jp[i], 60000, 0);
    CHECK_ST(mpq_task_done(q), MP_E_INVAL); /* one too many */
    mpq_close(q);
    CHECK_OK(mpq_unlink(a1));

    /* Shutdown wakes a putter on a full queue and a joiner (immediate: what
     * is left counts as done), and an at-least-once getter. */
    reset_shared();
    redis_addr(&g_srv, a2, sizeof a2, "/%s", qname("full"));
    keep_name(a2);
    redis_addr(&g_srv, a3, sizeof a3, "/%s?ack=at-least-once&lease_ms=2000", qname("alo-empty"));
    keep_name(a3);
    mpq_options o = {.maxsize = 1};
    mpq *full = NULL, *alo = NULL;
    CHECK_OK(mpq_open(a2, &o, &full));
    CHECK_OK(mpq_open(a3, NULL, &alo));
    CHECK_OK(mpq_put(full, (const uint8_t *)"x", 1));
    bool isfull = false;
    CHECK_OK(mpq_full(full, &isfull));
    CHECK(isfull);
    CHECK_ST(mpq_put_timeout(full, (const uint8_t *)"y", 1, 0), MP_E_FULL);
    struct waiter w[3] = {{a2, 0, 1}, {a2, 1, 0}, {a3, 2, 2}};
    pid_t wp[3];
    for (int i = 0; i < 3; i++)
        wp[i] = spawn(waiter_main, &w[i]);
    for (int i = 0; i < 3; i++)
        wait_blocked(i, wp[i]);
    CHECK(atomic_load(&g_sh->returned[1]) == 0); /* the joiner: 1 task undone */
    CHECK_OK(mpq_shutdown(full, true));
    CHECK_OK(mpq_shutdown(alo, false));
    for (int i = 0; i < 3; i++)
        CHECK_CHILD(wp[i], 60000, 0);
    size_t qs = 99;
    CHECK_OK(mpq_qsize(full, &qs));
    CHECK(qs == 0); /* discarded by the immediate shutdown */
    CHECK_OK(mpq_join(full, 0));
    mpq_close(full);
    mpq_close(alo);
    CHECK_OK(mpq_unlink(a2));
    CHECK_OK(mpq_unlink(a3));
}

/* ------------------------------------------------------------------ */
/* 3. fork() with an open queue handle                                  */
/* ------------------------------------------------------------------ */

#define FORK_N 1000

/* Puts FORK_N messages of producer `side` and takes FORK_N messages (any
 * side's) through the same handle, with a qsize now and then; records
 * what it took. Returns 0, or the number of the step that failed. */
static int fork_side(mpq *q, uint32_t side) {
    uint8_t m[MAXMSG];
    for (uint32_t i = 0; i < FORK_N; i++) {
        size_t len = encode(m, side, i);
        if (mpq_put(q, m, len) != MP_OK)
            return 1;
        mp_buf b = {0};
        if (mpq_get(q, &b) != MP_OK)
            return 2;
        record(b.ptr, b.len, FORK_N, NULL);
        mp_buf_free(&b);
        if (i % 64 == 0) {
            size_t qs = 0;
            if (mpq_qsize(q, &qs) != MP_OK || qs > 2 * FORK_N)
                return 3;
        }
    }
    return 0;
}

static mpq *g_fork_q;

static void fork_child_main(void *arg) {
    (void)arg;
    atomic_store(&g_sh->ready, 1);
    while (atomic_load(&g_sh->go) == 0) {
    }
    int r = fork_side(g_fork_q, 1);
    if (r != 0) {
        fprintf(stderr, "[child] inherited handle: step %d failed: %s\n", r, mp_last_error());
        _exit(70 + r);
    }
    /* Closing drops this process's connections and its copies of the
     * parent's (only close(2): the parent goes on with them). */
    mpq_close(g_fork_q);
}

static void alo_child_main(void *arg) {
    (void)arg;
    mp_buf b = {0};
    /* The inherited at-least-once handle: this process becomes a consumer
     * of its own. */
    CHILD_ST(mpq_get(g_fork_q, &b), MP_OK, 60);
    CHILD_REQUIRE(b.len == 1 && b.ptr[0] == 'B', 61);
    mp_buf_free(&b);
    atomic_store(&g_sh->got_b, 1);
    /* Dies without task_done (and without closing), SIGKILLed by the
     * parent: its lease ends and B goes back to the queue. (Killed from
     * outside rather than by raise(): valgrind would then report the
     * parent's lease thread, absent in this process, as a leak.) */
    for (;;)
        pause();
}

static void test_fork_queue(void) {
    char addr[256];
    reset_shared();
    redis_addr(&g_srv, addr, sizeof addr, "/%s", qname("fork"));
    keep_name(addr);
    CHECK_OK(mpq_open(addr, NULL, &g_fork_q));
    /* Use it first, so that a pooled connection exists at the fork. */
    CHECK_OK(mpq_put(g_fork_q, (const uint8_t *)"warm", 4));
    mp_buf b = {0};
    CHECK_OK(mpq_get(g_fork_q, &b));
    CHECK(b.len == 4);
    mp_buf_free(&b);

    pid_t child = spawn(fork_child_main, NULL);
    while (atomic_load(&g_sh->ready) == 0)
        CHECK(waitpid(child, NULL, WNOHANG) == 0);
    atomic_store(&g_sh->go, 1);
    int r = fork_side(g_fork_q, 0);
    if (r != 0)
        fprintf(stderr, "parent: step %d failed\n", r);
    CHECK(r == 0);
    CHECK_CHILD(child, 180000, 0);
    CHECK(atomic_load(&g_sh->corrupt) == 0);
    CHECK(atomic_load(&g_sh->dups) == 0);
    CHECK(atomic_load(&g_sh->delivered) == 2 * FORK_N);
    for (uint32_t s = 0; s < FORK_N; s++)
        CHECK(atomic_load(&g_sh->seen[0][s]) == 1 && atomic_load(&g_sh->seen[1][s]) == 1);
    size_t qs = 99;
    CHECK_OK(mpq_qsize(g_fork_q, &qs));
    CHECK(qs == 0);
    mpq_close(g_fork_q);
    CHECK_OK(mpq_unlink(addr));

    /* At-least-once: the parent is a consumer (it holds A) when it forks. */
    redis_addr(&g_srv, addr, sizeof addr, "/%s?ack=at-least-once&lease_ms=500", qname("fork-alo"));
    keep_name(addr);
    CHECK_OK(mpq_open(addr, NULL, &g_fork_q));
    CHECK_OK(mpq_put(g_fork_q, (const uint8_t *)"A", 1));
    CHECK_OK(mpq_put(g_fork_q, (const uint8_t *)"B", 1));
    CHECK_OK(mpq_get(g_fork_q, &b));
    CHECK(b.len == 1 && b.ptr[0] == 'A');
    mp_buf_free(&b);
    child = spawn(alo_child_main, NULL);
    while (atomic_load(&g_sh->got_b) == 0) {
        CHECK(waitpid(child, NULL, WNOHANG) == 0);
        sleep_ms(1);
    }
    CHECK(kill(child, SIGKILL) == 0);
    CHECK_CHILD(child, 60000, -1000 - SIGKILL);
    /* B comes back once the child's lease ends (the reaper runs in our
     * lease renewals and gets); A stays ours: our lease is renewed. */
    CHECK_OK(mpq_get_timeout(g_fork_q, &b, 60000));
    CHECK(b.len == 1 && b.ptr[0] == 'B');
    mp_buf_free(&b);
    CHECK_OK(mpq_task_done(g_fork_q)); /* A */
    CHECK_OK(mpq_task_done(g_fork_q)); /* B */
    CHECK_OK(mpq_join(g_fork_q, 0));
    CHECK_ST(mpq_task_done(g_fork_q), MP_E_INVAL);
    CHECK_OK(mpq_qsize(g_fork_q, &qs));
    CHECK(qs == 0);
    mpq_close(g_fork_q);
    CHECK_OK(mpq_unlink(addr));
}

/* ------------------------------------------------------------------ */
/* 4. fork() with an open manager handle                                */
/* ------------------------------------------------------------------ */

/* 10,000 each (the figure); 1,000 under valgrind (tests/c/run.sh
 * runs every test there too, for memory errors: 20,000 round trips through
 * the debug library take a minute there, the count is checked here all the
 * same). */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifdef RUNNING_ON_VALGRIND
#define INCR_N (RUNNING_ON_VALGRIND ? 1000 : 10000)
#else
#define INCR_N 10000
#endif

static mp_mgr *g_mgr;
static char g_dict[64];

/* CBOR text "hits": the dict key. */
static const uint8_t KEY_HITS[] = {0x64, 'h', 'i', 't', 's'};

static int incr_many(void) {
    int64_t v = 0;
    for (int i = 0; i < INCR_N; i++)
        if (mp_mgr_dict_incr(g_mgr, g_dict, KEY_HITS, sizeof KEY_HITS, 1, &v) != MP_OK)
            return 1;
    return 0;
}

static void mgr_child_main(void *arg) {
    (void)arg;
    atomic_store(&g_sh->ready, 1);
    while (atomic_load(&g_sh->go) == 0) {
    }
    if (incr_many() != 0) {
        fprintf(stderr, "[child] incr through the inherited manager handle: %s\n", mp_last_error());
        _exit(50);
    }
    mp_mgr_close(g_mgr); /* this process's connections only */
}

static void test_fork_manager(void) {
    char addr[256];
    reset_shared();
    redis_addr(&g_srv, addr, sizeof addr, "?ns=%s", qname("ns"));
    CHECK_OK(mp_mgr_connect(addr, NULL, 0, 10000, &g_mgr));
    snprintf(g_dict, sizeof g_dict, "counts");
    int64_t v = -1;
    /* Used before the fork: a pooled connection exists. */
    CHECK_OK(mp_mgr_dict_incr(g_mgr, g_dict, KEY_HITS, sizeof KEY_HITS, 0, &v));
    CHECK(v == 0);
    pid_t child = spawn(mgr_child_main, NULL);
    while (atomic_load(&g_sh->ready) == 0)
        CHECK(waitpid(child, NULL, WNOHANG) == 0);
    atomic_store(&g_sh->go, 1);
    CHECK(incr_many() == 0);
    CHECK_CHILD(child, 300000, 0);
    CHECK_OK(mp_mgr_dict_incr(g_mgr, g_dict, KEY_HITS, sizeof KEY_HITS, 0, &v));
    CHECK(v == 2 * INCR_N);
    /* The value reads back as the CBOR integer 2 * INCR_N (0x19 + 2 bytes). */
    mp_buf val = {0};
    CHECK_OK(mp_mgr_dict_get(g_mgr, g_dict, KEY_HITS, sizeof KEY_HITS, &val));
    CHECK(val.len == 3 && val.ptr[0] == 0x19 && val.ptr[1] == ((2 * INCR_N) >> 8) &&
          val.ptr[2] == ((2 * INCR_N) & 0xff));
    mp_buf_free(&val);
    CHECK_OK(mp_mgr_dict_del(g_mgr, g_dict, KEY_HITS, sizeof KEY_HITS));
    mp_mgr_close(g_mgr);
}

int main(void) {
    start_watchdog("test_redis_queue", 900);
    redis_guard();
    g_sh = mmap(NULL, sizeof *g_sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(g_sh != MAP_FAILED);
    double t0 = now_ms();
    g_section = "server start";
    redis_start(&g_srv, NULL);

    char addr[256];
    double ts = now_ms();
    g_section = "1. MPMC over TCP";
    test_mpmc(redis_addr(&g_srv, addr, sizeof addr, "/%s", qname("mpmc-tcp")), 1000);
    section_done(&ts);
    g_section = "1. MPMC over the unix socket";
    char uaddr[256];
    test_mpmc(redis_uaddr(&g_srv, uaddr, sizeof uaddr, "/%s", qname("mpmc-unix")), 500);
    section_done(&ts);
    g_section = "2. waits in other processes";
    test_waits();
    section_done(&ts);
    g_section = "3. fork with an open queue handle";
    test_fork_queue();
    section_done(&ts);
    g_section = "4. fork with an open manager handle";
    test_fork_manager();
    section_done(&ts);

    g_section = "server stop";
    redis_stop(&g_srv);
    alarm(0);
    return check_summary("test_redis_queue", t0);
}
