/*
 * test_queue_procs.c: the queue across real processes (fork). Each child
 * opens the queue by name itself; no handle crosses a fork.
 *
 *  1. MPMC: 2 producers (one with mpq_put_many batches, one with single
 *     mpq_put) x 20000 messages, 2 consumers (mpq_get_many / mpq_get) that
 *     call task_done for each message and stop when the parent shuts the
 *     queue down. Every message must arrive exactly once, intact, and in
 *     per-producer FIFO order within each consumer.
 *  2. JoinableQueue: the parent puts N tasks; a child takes them and calls
 *     task_done for each; mpq_join(-1) in the parent (and in a second child)
 *     returns only once all are done.
 *  3. Wake-ups: a child blocked in mpq_get, a child blocked in mpq_put on a
 *     full queue and a child blocked in mpq_join are woken by mpq_shutdown
 *     from the parent; a child SIGKILLed while blocked does not break the
 *     queue; messages put by a child that has exited are still there.
 *  4. Zero-copy: a producer child writes messages in place (mpq_reserve /
 *     mpq_commit, some shrunk, some cancelled, some over the two-phase
 *     size) and a consumer child reads them in place (mpq_get_view /
 *     mpq_release_view): all arrive intact and in order. A child SIGKILLed
 *     between mpq_reserve and mpq_commit, and one SIGKILLed holding a
 *     view, leave the queue working and lose no other message.
 *
 * Prints "N passed, 0 failed" and exits 0 on success.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mpipc.h"

#define CHECK_NAME_PREFIX "cprocs" /* queue names cprocs-<pid>-<tag> */
#include "check.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Children                                                             */
/* ------------------------------------------------------------------ */

/* spawn(), wait_child(), CHECK_CHILD, CHILD_REQUIRE and kill_kids() (our
 * g_check_on_fail) are in check.h. */

/* Shared (MAP_SHARED | MAP_ANONYMOUS) flags and counters, inherited by fork. */
struct shared {
    atomic_int ready[8];
    atomic_long done;
};

static struct shared *g_sh;

static mpq *child_attach(const char *name) {
    mpq_options o = {.flags = MPQ_ATTACH_ONLY};
    mpq *q = NULL;
    mp_status st = mpq_open(name, &o, &q);
    CHILD_REQUIRE(st == MP_OK && q != NULL, 90);
    return q;
}

/* ------------------------------------------------------------------ */
/* 1. MPMC                                                              */
/* ------------------------------------------------------------------ */

#define NPROD 2
#define NCONS 2
#define PER_PRODUCER 20000
#define BATCH 64
#define MAXMSG (8 + 16)

struct rec {
    uint32_t producer;
    uint32_t seq;
};

/* Message (p, s): 8-byte header then s % 17 bytes of a known pattern. */
static size_t encode(uint8_t *out, uint32_t p, uint32_t s) {
    memcpy(out, &p, 4);
    memcpy(out + 4, &s, 4);
    size_t pad = s % 17;
    for (size_t k = 0; k < pad; k++)
        out[8 + k] = (uint8_t)(p * 31 + s + k);
    return 8 + pad;
}

/* Decodes and validates; 0 if malformed. */
static int decode(const uint8_t *m, size_t len, struct rec *r) {
    if (len < 8)
        return 0;
    memcpy(&r->producer, m, 4);
    memcpy(&r->seq, m + 4, 4);
    if (r->producer >= NPROD || r->seq >= PER_PRODUCER || len != 8 + r->seq % 17)
        return 0;
    for (size_t k = 0; k < len - 8; k++)
        if (m[8 + k] != (uint8_t)(r->producer * 31 + r->seq + k))
            return 0;
    return 1;
}

struct prod_arg {
    const char *name;
    uint32_t id;
};

static void producer_main(void *p) {
    struct prod_arg *a = p;
    mpq *q = child_attach(a->name);
    if (a->id == 0) { /* batches */
        uint8_t data[BATCH * MAXMSG];
        size_t lens[BATCH];
        for (uint32_t s = 0; s < PER_PRODUCER;) {
            uint32_t n = PER_PRODUCER - s < BATCH ? PER_PRODUCER - s : BATCH;
            size_t off = 0;
            for (uint32_t i = 0; i < n; i++) {
                lens[i] = encode(data + off, a->id, s + i);
                off += lens[i];
            }
            /* partial puts: call again with the rest */
            size_t done = 0, doff = 0;
            while (done < n) {
                size_t put = 0;
                mp_status st = mpq_put_many(q, data + doff, lens + done, n - done, 30000, &put);
                CHILD_REQUIRE(st == MP_OK, 11);
                CHILD_REQUIRE(put >= 1 && put <= n - done, 12);
                for (size_t i = 0; i < put; i++)
                    doff += lens[done + i];
                done += put;
            }
            s += n;
        }
    } else { /* single puts */
        uint8_t m[MAXMSG];
        for (uint32_t s = 0; s < PER_PRODUCER; s++) {
            size_t len = encode(m, a->id, s);
            mp_status st = mpq_put(q, m, len);
            CHILD_REQUIRE(st == MP_OK, 13);
        }
    }
    mpq_close(q);
    _exit(0);
}

struct cons_arg {
    const char *name;
    int id;
    int fd; /* results: struct rec per message, in the order received */
};

static void consumer_main(void *p) {
    struct cons_arg *a = p;
    mpq *q = child_attach(a->name);
    static struct rec out[NPROD * PER_PRODUCER];
    size_t nout = 0;
    mp_status st;
    if (a->id == 0) { /* get_many */
        uint8_t buf[BATCH * MAXMSG];
        size_t lens[BATCH], n = 0, nb = 0;
        while ((st = mpq_get_many(q, buf, sizeof buf, lens, BATCH, 30000, &n, &nb)) == MP_OK) {
            CHILD_REQUIRE(n >= 1 && n <= BATCH, 21);
            size_t off = 0;
            for (size_t i = 0; i < n; i++) {
                CHILD_REQUIRE(nout < NPROD * PER_PRODUCER, 22);
                CHILD_REQUIRE(decode(buf + off, lens[i], &out[nout]), 23);
                nout++;
                off += lens[i];
                CHILD_REQUIRE(mpq_task_done(q) == MP_OK, 24);
            }
            CHILD_REQUIRE(off == nb, 25);
        }
    } else { /* single get */
        mp_buf m = {0};
        while ((st = mpq_get_timeout(q, &m, 30000)) == MP_OK) {
            CHILD_REQUIRE(nout < NPROD * PER_PRODUCER, 22);
            CHILD_REQUIRE(decode(m.ptr, m.len, &out[nout]), 23);
            nout++;
            mp_buf_free(&m);
            CHILD_REQUIRE(mpq_task_done(q) == MP_OK, 24);
        }
    }
    /* only the parent's shutdown ends the loop; MP_E_EMPTY = 30 s stall */
    CHILD_REQUIRE(st == MP_E_SHUTDOWN, 26);
    write_all(a->fd, out, nout * sizeof out[0]);
    mpq_close(q);
    _exit(0);
}

static void test_mpmc(void) {
    const char *name = qname("mpmc");
    mpq_options o = {.maxsize = 1024, .flags = MPQ_CREATE_ONLY};
    mpq *q = NULL;
    CHECK_OK(mpq_open(name, &o, &q));

    FILE *res[NCONS];
    struct cons_arg ca[NCONS];
    pid_t cons[NCONS], prod[NPROD];
    for (int i = 0; i < NCONS; i++) {
        res[i] = tmpfile();
        CHECK(res[i] != NULL);
        ca[i] = (struct cons_arg){.name = name, .id = i, .fd = fileno(res[i])};
    }
    double t0 = now_ms();
    for (int i = 0; i < NCONS; i++)
        cons[i] = spawn(consumer_main, &ca[i]);
    struct prod_arg pa[NPROD];
    for (int i = 0; i < NPROD; i++) {
        pa[i] = (struct prod_arg){.name = name, .id = (uint32_t)i};
        prod[i] = spawn(producer_main, &pa[i]);
    }
    for (int i = 0; i < NPROD; i++)
        CHECK_CHILD(prod[i], 120000, 0);
    /* every message put was taken and marked done */
    CHECK_OK(mpq_join(q, 120000));
    size_t n = 99;
    CHECK_OK(mpq_qsize(q, &n));
    CHECK(n == 0);
    /* consumers stop on shutdown */
    CHECK_OK(mpq_shutdown(q, false));
    for (int i = 0; i < NCONS; i++)
        CHECK_CHILD(cons[i], 30000, 0);
    double dt = now_ms() - t0;

    /* verify: exactly once overall, per-producer FIFO within each consumer */
    static unsigned char seen[NPROD][PER_PRODUCER];
    memset(seen, 0, sizeof seen);
    size_t total = 0, dup = 0, order = 0, per_cons[NCONS];
    for (int c = 0; c < NCONS; c++) {
        long last[NPROD];
        for (int p = 0; p < NPROD; p++)
            last[p] = -1;
        per_cons[c] = 0;
        CHECK(fseek(res[c], 0, SEEK_SET) == 0);
        struct rec r;
        while (fread(&r, sizeof r, 1, res[c]) == 1) {
            /* decode() in the child already validated the ranges */
            if (r.producer >= NPROD || r.seq >= PER_PRODUCER) {
                dup++;
                continue;
            }
            if (seen[r.producer][r.seq]++)
                dup++;
            if ((long)r.seq <= last[r.producer])
                order++;
            last[r.producer] = (long)r.seq;
            per_cons[c]++;
            total++;
        }
        fclose(res[c]);
    }
    size_t missing = 0;
    for (int p = 0; p < NPROD; p++)
        for (int s = 0; s < PER_PRODUCER; s++)
            if (!seen[p][s])
                missing++;
    CHECK(dup == 0);
    CHECK(order == 0);
    CHECK(missing == 0);
    CHECK(total == (size_t)NPROD * PER_PRODUCER);
    printf("mpmc: %d producers x %d messages, %d consumers (got %zu + %zu) in %.0f ms\n", NPROD, PER_PRODUCER,
           NCONS, per_cons[0], per_cons[1], dt);

    mpq_close(q);
    CHECK_OK(mpq_unlink(name));
}

/* ------------------------------------------------------------------ */
/* 2. JoinableQueue across processes                                    */
/* ------------------------------------------------------------------ */

#define NTASKS 2000

static void worker_main(void *p) {
    const char *name = p;
    mpq *q = child_attach(name);
    uint8_t buf[16];
    for (long i = 0; i < NTASKS; i++) {
        size_t len = 0;
        mp_status st = mpq_get_into(q, buf, sizeof buf, &len, 30000);
        CHILD_REQUIRE(st == MP_OK, 40);
        long v = -1;
        CHILD_REQUIRE(len == sizeof v, 41);
        memcpy(&v, buf, sizeof v);
        CHILD_REQUIRE(v == i, 42); /* FIFO */
        if (i % 100 == 99)
            sleep_ms(2); /* make the joiners really wait */
        atomic_fetch_add(&g_sh->done, 1); /* count it before it is done */
        CHILD_REQUIRE(mpq_task_done(q) == MP_OK, 43);
    }
    /* one task_done too many */
    CHILD_REQUIRE(mpq_task_done(q) == MP_E_INVAL, 44);
    mpq_close(q);
    _exit(0);
}

static void joiner_main(void *p) {
    const char *name = p;
    mpq *q = child_attach(name);
    atomic_store(&g_sh->ready[0], 1);
    mp_status st = mpq_join(q, MP_WAIT_FOREVER);
    CHILD_REQUIRE(st == MP_OK, 50);
    CHILD_REQUIRE(atomic_load(&g_sh->done) == NTASKS, 51);
    mpq_close(q);
    _exit(0);
}

static void test_join(void) {
    const char *name = qname("join");
    mpq_options o = {.flags = MPQ_CREATE_ONLY};
    mpq *q = NULL;
    CHECK_OK(mpq_open(name, &o, &q));
    atomic_store(&g_sh->done, 0);
    atomic_store(&g_sh->ready[0], 0);

    /* N tasks, put in batches of 100 */
    long vals[100];
    size_t lens[100];
    for (long i = 0; i < NTASKS; i += 100) {
        for (long k = 0; k < 100; k++) {
            vals[k] = i + k;
            lens[k] = sizeof(long);
        }
        size_t put = 0;
        CHECK_OK(mpq_put_many(q, (const uint8_t *)vals, lens, 100, MP_NO_WAIT, &put));
        CHECK(put == 100);
    }
    CHECK_ST(mpq_join(q, MP_NO_WAIT), MP_E_TIMEOUT);

    pid_t joiner = spawn(joiner_main, (void *)name);
    while (!atomic_load(&g_sh->ready[0]))
        sleep_ms(1);
    pid_t worker = spawn(worker_main, (void *)name);
    double t0 = now_ms();
    CHECK_OK(mpq_join(q, MP_WAIT_FOREVER));
    double dt = now_ms() - t0;
    CHECK(atomic_load(&g_sh->done) == NTASKS);
    CHECK_CHILD(worker, 60000, 0);
    CHECK_CHILD(joiner, 60000, 0);
    CHECK_OK(mpq_join(q, MP_NO_WAIT));
    CHECK_ST(mpq_task_done(q), MP_E_INVAL);
    printf("join: %d tasks done by a child; mpq_join waited %.0f ms\n", NTASKS, dt);
    mpq_close(q);
    CHECK_OK(mpq_unlink(name));
}

/* ------------------------------------------------------------------ */
/* 3. Wake-ups by shutdown; killed and exited children                  */
/* ------------------------------------------------------------------ */

struct wake_arg {
    const char *name;
    int slot;
};

static void blocked_get_main(void *p) {
    struct wake_arg *a = p;
    mpq *q = child_attach(a->name);
    mp_buf m = {0};
    atomic_store(&g_sh->ready[a->slot], 1);
    mp_status st = mpq_get(q, &m); /* blocks: nothing is ever put */
    mp_buf_free(&m);
    mpq_close(q);
    _exit(-st); /* MP_E_SHUTDOWN -> 6 */
}

static void blocked_put_main(void *p) {
    struct wake_arg *a = p;
    mpq *q = child_attach(a->name);
    atomic_store(&g_sh->ready[a->slot], 1);
    mp_status st = mpq_put(q, (const uint8_t *)"never", 5); /* blocks: queue full */
    mpq_close(q);
    _exit(-st);
}

static void blocked_join_main(void *p) {
    struct wake_arg *a = p;
    mpq *q = child_attach(a->name);
    atomic_store(&g_sh->ready[a->slot], 1);
    mp_status st = mpq_join(q, MP_WAIT_FOREVER); /* blocks: a task is unfinished */
    mpq_close(q);
    _exit(-st); /* MP_OK -> 0 */
}

static void put_and_exit_main(void *p) {
    const char *name = p;
    mpq *q = child_attach(name);
    CHILD_REQUIRE(mpq_put(q, (const uint8_t *)"left", 4) == MP_OK, 60);
    CHILD_REQUIRE(mpq_put(q, (const uint8_t *)"behind", 6) == MP_OK, 61);
    _exit(0); /* without mpq_close */
}

static void wait_ready(int slot) {
    double deadline = now_ms() + 10000.0;
    while (!atomic_load(&g_sh->ready[slot]) && now_ms() < deadline)
        sleep_ms(1);
    CHECK(atomic_load(&g_sh->ready[slot]));
}

static void test_wakeups(void) {
    const char *gname = qname("wake-get");
    const char *pname = qname("wake-put");
    mpq_options o = {.maxsize = 1, .flags = MPQ_CREATE_ONLY};
    mpq *qg = NULL, *qp = NULL;
    CHECK_OK(mpq_open(gname, &o, &qg));
    CHECK_OK(mpq_open(pname, &o, &qp));
    for (int i = 0; i < 8; i++)
        atomic_store(&g_sh->ready[i], 0);

    /* a consumer SIGKILLed while blocked in get must not break the queue */
    struct wake_arg wk = {gname, 4};
    pid_t victim = spawn(blocked_get_main, &wk);
    wait_ready(4);
    wait_asleep(victim);
    CHECK(kill(victim, SIGKILL) == 0);
    CHECK_CHILD(victim, 10000, -1000 - SIGKILL);
    CHECK_OK(mpq_put_timeout(qg, (const uint8_t *)"ok", 2, 1000));
    mp_buf m = {0};
    CHECK_OK(mpq_get_timeout(qg, &m, 1000));
    CHECK(m.len == 2 && memcmp(m.ptr, "ok", 2) == 0);
    mp_buf_free(&m);
    CHECK_OK(mpq_task_done(qg));

    /* qp: full (maxsize 1) with one unfinished task */
    CHECK_OK(mpq_put(qp, (const uint8_t *)"full", 4));
    struct wake_arg wg = {gname, 0}, wp = {pname, 1}, wj = {pname, 2};
    pid_t getter = spawn(blocked_get_main, &wg);
    pid_t putter = spawn(blocked_put_main, &wp);
    pid_t joiner = spawn(blocked_join_main, &wj);
    wait_ready(0);
    wait_ready(1);
    wait_ready(2);
    wait_asleep(getter);
    wait_asleep(putter);
    wait_asleep(joiner);
    /* still blocked: nothing happened to their queues yet */
    int st = 0;
    CHECK(waitpid(getter, &st, WNOHANG) == 0);
    CHECK(waitpid(putter, &st, WNOHANG) == 0);
    CHECK(waitpid(joiner, &st, WNOHANG) == 0);

    double t0 = now_ms();
    CHECK_OK(mpq_shutdown(qg, false));
    CHECK_CHILD(getter, 10000, -MP_E_SHUTDOWN);
    /* immediate: "full" is discarded and counted as done, which ends the join */
    CHECK_OK(mpq_shutdown(qp, true));
    CHECK_CHILD(putter, 10000, -MP_E_SHUTDOWN);
    CHECK_CHILD(joiner, 10000, 0);
    double dt = now_ms() - t0;
    size_t n = 99;
    CHECK_OK(mpq_qsize(qp, &n));
    CHECK(n == 0);
    CHECK_OK(mpq_join(qp, MP_NO_WAIT));
    printf("wake-ups: blocked get, put and join in 3 children woken by mpq_shutdown in %.1f ms\n", dt);
    mpq_close(qg);
    mpq_close(qp);
    CHECK_OK(mpq_unlink(gname));
    CHECK_OK(mpq_unlink(pname));

    /* messages outlive the child that put them (it exits without mpq_close) */
    const char *sname = qname("survive");
    o = (mpq_options){.flags = MPQ_CREATE_ONLY};
    mpq *qs = NULL;
    CHECK_OK(mpq_open(sname, &o, &qs));
    pid_t writer = spawn(put_and_exit_main, (void *)sname);
    CHECK_CHILD(writer, 10000, 0);
    CHECK_OK(mpq_qsize(qs, &n));
    CHECK(n == 2);
    CHECK_OK(mpq_get_timeout(qs, &m, MP_NO_WAIT));
    CHECK(m.len == 4 && memcmp(m.ptr, "left", 4) == 0);
    mp_buf_free(&m);
    CHECK_OK(mpq_get_timeout(qs, &m, MP_NO_WAIT));
    CHECK(m.len == 6 && memcmp(m.ptr, "behind", 6) == 0);
    mp_buf_free(&m);
    mpq_close(qs);
    CHECK_OK(mpq_unlink(sname));
}

/* ------------------------------------------------------------------ */
/* 4. Zero-copy across processes                                        */
/* ------------------------------------------------------------------ */

#define ZC_N 400
#define ZC_BIG (40 * 1024) /* over the two-phase size (32 KiB) */

/* Length and byte pattern of zero-copy message i. */
static size_t zc_len(uint32_t i) { return i % 10 == 3 ? ZC_BIG + i : 4 + (i * 37) % 300; }
static uint8_t zc_byte(uint32_t i, size_t k) { return (uint8_t)(i * 13 + k * 7); }

static void zc_producer_main(void *p) {
    mpq *q = child_attach(p);
    for (uint32_t i = 0; i < ZC_N; i++) {
        size_t len = zc_len(i);
        mpq_reservation r;
        if (i % 7 == 0) { /* a cancelled one first: nothing is put */
            CHILD_REQUIRE(mpq_reserve(q, 64, 30000, &r) == MP_OK, 60);
            CHILD_REQUIRE(mpq_cancel(q, &r) == MP_OK, 61);
        }
        /* reserve a little more than needed, commit the real length */
        CHILD_REQUIRE(mpq_reserve(q, len + i % 5, 30000, &r) == MP_OK, 62);
        CHILD_REQUIRE(r.len == len + i % 5, 63);
        memcpy(r.data, &i, 4);
        for (size_t k = 4; k < len; k++)
            r.data[k] = zc_byte(i, k);
        CHILD_REQUIRE(mpq_commit(q, &r, len) == MP_OK, 64);
    }
    mpq_close(q);
    _exit(0);
}

static void zc_consumer_main(void *p) {
    mpq *q = child_attach(p);
    for (uint32_t i = 0; i < ZC_N; i++) {
        mpq_view v;
        CHILD_REQUIRE(mpq_get_view(q, 30000, &v) == MP_OK, 70);
        CHILD_REQUIRE(v.len == zc_len(i), 71);
        uint32_t got;
        memcpy(&got, v.data, 4);
        CHILD_REQUIRE(got == i, 72); /* FIFO */
        for (size_t k = 4; k < v.len; k++)
            CHILD_REQUIRE(v.data[k] == zc_byte(i, k), 73);
        CHILD_REQUIRE(mpq_release_view(q, &v) == MP_OK, 74);
        CHILD_REQUIRE(mpq_release_view(q, &v) == MP_E_INVAL, 75);
    }
    mpq_close(q);
    _exit(0);
}

/* Reserves 100 bytes (slot 5 of g_sh->ready says so) or takes a view (slot
 * 6), then waits to be killed holding it. */
static void zc_hold_main(void *p) {
    struct wake_arg *a = p;
    mpq *q = child_attach(a->name);
    if (a->slot == 5) {
        mpq_reservation r;
        CHILD_REQUIRE(mpq_reserve(q, 100, 10000, &r) == MP_OK, 80);
        memcpy(r.data, "half-written", 12);
    } else {
        mpq_view v;
        CHILD_REQUIRE(mpq_get_view(q, 10000, &v) == MP_OK, 81);
    }
    atomic_store(&g_sh->ready[a->slot], 1);
    for (;;)
        pause();
}

static void test_zero_copy(void) {
    const char *name = qname("zc");
    mpq_options o = {.capacity_bytes = 4 * ZC_BIG, .flags = MPQ_CREATE_ONLY};
    mpq *q = NULL;
    CHECK_OK(mpq_open(name, &o, &q));
    double t0 = now_ms();
    pid_t cons = spawn(zc_consumer_main, (void *)name);
    pid_t prod = spawn(zc_producer_main, (void *)name);
    CHECK_CHILD(prod, 60000, 0);
    CHECK_CHILD(cons, 60000, 0);
    double dt = now_ms() - t0;
    size_t n = 99;
    CHECK_OK(mpq_qsize(q, &n));
    CHECK(n == 0);

    /* killed between reserve and commit */
    atomic_store(&g_sh->ready[5], 0);
    CHECK_OK(mpq_put_timeout(q, (const uint8_t *)"first", 5, 0));
    struct wake_arg hr = {name, 5};
    pid_t holder = spawn(zc_hold_main, &hr);
    wait_ready(5);
    CHECK_OK(mpq_put_timeout(q, (const uint8_t *)"behind", 6, 0)); /* queued behind the reservation */
    mp_buf m = {0};
    CHECK_OK(mpq_get_timeout(q, &m, 0));
    CHECK(m.len == 5 && memcmp(m.ptr, "first", 5) == 0);
    mp_buf_free(&m);
    CHECK_ST(mpq_get_timeout(q, &m, 0), MP_E_EMPTY); /* waits for a live reservation */
    CHECK(kill(holder, SIGKILL) == 0);
    CHECK_CHILD(holder, 10000, -1000 - SIGKILL);
    CHECK_OK(mpq_get_timeout(q, &m, 0)); /* the dead one is passed */
    CHECK(m.len == 6 && memcmp(m.ptr, "behind", 6) == 0);
    mp_buf_free(&m);
    CHECK_OK(mpq_qsize(q, &n));
    CHECK(n == 0);

    /* killed holding a view: its bytes come back to the next put needing them */
    mpq_close(q);
    CHECK_OK(mpq_unlink(name));
    o.capacity_bytes = 256;
    CHECK_OK(mpq_open(name, &o, &q));
    uint8_t big[100];
    memset(big, 'v', sizeof big);
    CHECK_OK(mpq_put_timeout(q, big, sizeof big, 0));
    CHECK_OK(mpq_put_timeout(q, big, sizeof big, 0));
    atomic_store(&g_sh->ready[6], 0);
    struct wake_arg hv = {name, 6};
    holder = spawn(zc_hold_main, &hv);
    wait_ready(6);
    CHECK_ST(mpq_put_timeout(q, big, sizeof big, 0), MP_E_FULL);
    CHECK(kill(holder, SIGKILL) == 0);
    CHECK_CHILD(holder, 10000, -1000 - SIGKILL);
    CHECK_OK(mpq_put_timeout(q, big, sizeof big, 0));
    CHECK_OK(mpq_qsize(q, &n));
    CHECK(n == 2);
    printf("zero-copy: %d messages reserved/committed and viewed across processes in %.0f ms; "
           "dead reservation and dead view recovered\n",
           ZC_N, dt);
    mpq_close(q);
    CHECK_OK(mpq_unlink(name));
}

/* Review regressions of the claims (issue #17 part 5). Slot 7 of
 * g_sh->ready says the child got as far as it should. */
struct claim_arg {
    const char *name;
    const char *lock_name;
    int what;
};

/* what 0: reserves 200 bytes of a 256-byte ring and waits to be killed.
 * what 1: reserves, closes its handle (the reservation still open), exits.
 * what 2: takes a Lock, reserves, closes the queue handle, releases the
 *         Lock (glibc walks the robust list through the claim's mutex),
 *         exits 0.
 * what 3: takes all 32 claim slots and waits to be killed. */
static void claim_child_main(void *p) {
    struct claim_arg *a = p;
    mp_lock *l = NULL;
    if (a->what == 2) {
        CHILD_REQUIRE(mp_lock_open(a->lock_name, 0, &l) == MP_OK, 70);
        CHILD_REQUIRE(mp_lock_acquire(l, -1) == MP_OK, 71);
    }
    mpq *q = child_attach(a->name);
    mpq_reservation r;
    if (a->what == 3) {
        for (int i = 0; i < 32; i++)
            CHILD_REQUIRE(mpq_reserve(q, 8, 0, &r) == MP_OK, 72);
    } else {
        CHILD_REQUIRE(mpq_reserve(q, a->what == 0 ? 200 : 64, 10000, &r) == MP_OK, 73);
    }
    if (a->what == 1 || a->what == 2)
        mpq_close(q);
    if (a->what == 2) {
        CHILD_REQUIRE(mp_lock_release(l) == MP_OK, 74);
        mp_lock_close(l);
    }
    atomic_store(&g_sh->ready[7], 1);
    if (a->what == 1 || a->what == 2)
        _exit(0);
    for (;;)
        pause();
}

static pid_t claim_child(struct claim_arg *a) {
    atomic_store(&g_sh->ready[7], 0);
    pid_t c = spawn(claim_child_main, a);
    wait_ready(7);
    return c;
}

static void test_claim_recovery(void) {
    mpq *q = NULL;
    mp_buf m = {0};
    uint8_t msg[100];
    memset(msg, 'm', sizeof msg);

    /* A dead reservation filling most of a small ring: the next put
     * recovers it and finds the room at once, with no reader involved. */
    const char *name = qname("dead-res-room");
    mpq_options o = {.capacity_bytes = 256, .flags = MPQ_CREATE_ONLY};
    CHECK_OK(mpq_open(name, &o, &q));
    struct claim_arg a0 = {name, NULL, 0};
    pid_t c = claim_child(&a0);
    CHECK(kill(c, SIGKILL) == 0);
    CHECK_CHILD(c, 10000, -1000 - SIGKILL);
    CHECK_OK(mpq_put_timeout(q, msg, sizeof msg, 0));
    CHECK_OK(mpq_put_timeout(q, msg, sizeof msg, 0));
    CHECK_OK(mpq_get_timeout(q, &m, 0));
    CHECK(m.len == sizeof msg);
    mp_buf_free(&m);
    mpq_close(q);
    CHECK_OK(mpq_unlink(name));

    /* A process that closed its handle with a reservation open, then
     * exited: the reservation is still recovered (the handle kept its
     * mapping, so the kernel marked the claim's mutex owner-dead). */
    name = qname("closed-res");
    o.capacity_bytes = 4096;
    CHECK_OK(mpq_open(name, &o, &q));
    struct claim_arg a1 = {name, NULL, 1};
    c = claim_child(&a1);
    CHECK_CHILD(c, 10000, 0);
    CHECK_OK(mpq_put_timeout(q, (const uint8_t *)"after", 5, 0));
    CHECK_OK(mpq_get_timeout(q, &m, 0));
    CHECK(m.len == 5 && memcmp(m.ptr, "after", 5) == 0);
    mp_buf_free(&m);

    /* The same with a Lock taken before the reservation and released
     * after the close: no crash (glibc's robust list stays mapped). */
    const char *lname = qname("closed-res-lock");
    struct claim_arg a2 = {name, lname, 2};
    c = claim_child(&a2);
    CHECK_CHILD(c, 10000, 0);
    CHECK_OK(mpq_put_timeout(q, (const uint8_t *)"again", 5, 0));
    CHECK_OK(mpq_get_timeout(q, &m, 0));
    CHECK(m.len == 5 && memcmp(m.ptr, "again", 5) == 0);
    mp_buf_free(&m);
    CHECK_OK(mp_lock_unlink(lname));

    /* A reservation of another queue is refused, not committed here. */
    const char *other = qname("other-q");
    mpq *q2 = NULL;
    CHECK_OK(mpq_open(other, &o, &q2));
    mpq_reservation ra, rb;
    CHECK_OK(mpq_reserve(q, 16, 0, &ra));
    CHECK_OK(mpq_reserve(q2, 16, 0, &rb));
    CHECK_ST(mpq_commit(q2, &ra, 5), MP_E_INVAL);
    size_t n = 99;
    CHECK_OK(mpq_qsize(q2, &n));
    CHECK(n == 0);
    CHECK_OK(mpq_cancel(q, &ra));
    CHECK_OK(mpq_cancel(q2, &rb));
    mpq_close(q2);
    CHECK_OK(mpq_unlink(other));

    /* Every claim slot held by a killed process: a zero-timeout reserve
     * recovers them and succeeds on its first call. */
    struct claim_arg a3 = {name, NULL, 3};
    c = claim_child(&a3);
    CHECK(kill(c, SIGKILL) == 0);
    CHECK_CHILD(c, 10000, -1000 - SIGKILL);
    CHECK_OK(mpq_reserve(q, 8, 0, &ra));
    CHECK_OK(mpq_commit(q, &ra, 8));
    CHECK_OK(mpq_qsize(q, &n));
    CHECK(n == 1);
    printf("claims: dead reservation's room reused at once; a closed handle's claim recovered; "
           "another queue's reservation refused; 32 dead claims reaped in one call\n");
    mpq_close(q);
    CHECK_OK(mpq_unlink(name));
}

int main(void) {
    g_check_on_fail = kill_kids;
    alarm(600); /* last-resort watchdog */
    g_sh = mmap(NULL, sizeof *g_sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(g_sh != MAP_FAILED);
    double t0 = now_ms();

    test_mpmc();
    test_join();
    test_wakeups();
    test_zero_copy();
    test_claim_recovery();

    return check_summary("test_queue_procs", t0);
}
