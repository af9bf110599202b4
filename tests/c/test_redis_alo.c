/*
 * test_redis_alo.c: the at-least-once queue at a Redis address
 * (`?ack=at-least-once&lease_ms=500`, docs/REDIS.md "Delivery") across real
 * processes, through the C ABI, with a server of our own
 * (scripts/redis-server.sh, through redis_server.h).
 *
 *  1. Consumers SIGKILLed between get and task_done: three consumer
 *     processes take jobs (mpq_get, mpq_get_many, mpq_get_into; one of them
 *     finishes one job first) and are SIGKILLed holding them; two surviving
 *     consumer processes then take jobs until the queue is shut down. Every
 *     job is processed at least once (each one a killed consumer held, by a
 *     survivor), the job finished before the kill is not given out again,
 *     the unfinished count reaches 0 after the survivors' task_done (mpq_join
 *     in the parent returns), the queue ends empty.
 *  2. A get whose reply is lost (the server runs it after the client's
 *     timeout_ms: a Lua script keeps the server busy): the message it moved
 *     into the consumer's processing list must still reach a consumer;
 *     the consumer's next task_done must not count it as done.
 *
 * Prints "N passed, 0 failed" and exits 0 on success.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mpipc.h"

#define CHECK_NAME_PREFIX "credisa"
#define CHECK_CHILD_ALARM_S 240
#include "check.h"
#include "redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>

#define JOBS 30
#define NDOOMED 3
#define NSURV 2

/* MAP_SHARED | MAP_ANONYMOUS, inherited by the children. */
struct shared {
    atomic_int held[JOBS];      /* taken by a consumer that was then killed */
    atomic_int done_early[JOBS]; /* finished (task_done) by one before it was killed */
    atomic_int by_survivor[JOBS];
    atomic_int doomed_ready[NDOOMED];
    atomic_int survivor_errors;
};
static struct shared *g_sh;

static struct redis_srv g_srv;
static char g_addr[256];

/* "job-NNN" -> NNN, or -1. */
static int job_of(const uint8_t *m, size_t len) {
    if (len != 7 || memcmp(m, "job-", 4) != 0)
        return -1;
    int n = (m[4] - '0') * 100 + (m[5] - '0') * 10 + (m[6] - '0');
    return n >= 0 && n < JOBS ? n : -1;
}

static mpq *child_open(void) {
    mpq_options o = {.flags = MPQ_ATTACH_ONLY};
    mpq *q = NULL;
    CHILD_ST(mpq_open(g_addr, &o, &q), MP_OK, 90);
    return q;
}

/* Takes jobs, tells the parent, and waits to be SIGKILLed holding them. */
static void doomed_main(void *arg) {
    int id = (int)(intptr_t)arg;
    mpq *q = child_open();
    if (id == 0) {
        mp_buf b = {0};
        CHILD_ST(mpq_get(q, &b), MP_OK, 91);
        int j = job_of(b.ptr, b.len);
        CHILD_REQUIRE(j >= 0, 92);
        atomic_fetch_add(&g_sh->held[j], 1);
        mp_buf_free(&b);
    } else if (id == 1) {
        uint8_t buf[256];
        size_t lens[3], n = 0, bytes = 0;
        CHILD_ST(mpq_get_many(q, buf, sizeof buf, lens, 3, -1, &n, &bytes), MP_OK, 93);
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
            int j = job_of(buf + off, lens[i]);
            CHILD_REQUIRE(j >= 0, 94);
            atomic_fetch_add(&g_sh->held[j], 1);
            off += lens[i];
        }
    } else {
        /* One job done, then one held. */
        uint8_t buf[16];
        size_t len = 0;
        CHILD_ST(mpq_get_into(q, buf, sizeof buf, &len, -1), MP_OK, 95);
        int j = job_of(buf, len);
        CHILD_REQUIRE(j >= 0, 96);
        atomic_fetch_add(&g_sh->done_early[j], 1);
        CHILD_ST(mpq_task_done(q), MP_OK, 97);
        CHILD_ST(mpq_get_into(q, buf, sizeof buf, &len, -1), MP_OK, 98);
        j = job_of(buf, len);
        CHILD_REQUIRE(j >= 0, 99);
        atomic_fetch_add(&g_sh->held[j], 1);
    }
    atomic_store(&g_sh->doomed_ready[id], 1);
    for (;;)
        pause(); /* until SIGKILL */
}

/* Takes and finishes jobs until the queue is shut down. */
static void survivor_main(void *arg) {
    (void)arg;
    mpq *q = child_open();
    for (;;) {
        mp_buf b = {0};
        mp_status st = mpq_get(q, &b);
        if (st == MP_E_SHUTDOWN)
            break;
        CHILD_ST(st, MP_OK, 80);
        int j = job_of(b.ptr, b.len);
        mp_buf_free(&b);
        if (j < 0) {
            atomic_fetch_add(&g_sh->survivor_errors, 1);
            continue;
        }
        atomic_fetch_add(&g_sh->by_survivor[j], 1);
        CHILD_ST(mpq_task_done(q), MP_OK, 81);
    }
    mpq_close(q);
}

static void test_killed_consumers(void) {
    redis_addr(&g_srv, g_addr, sizeof g_addr, "/%s?ack=at-least-once&lease_ms=500", qname("alo"));
    keep_name(g_addr);
    (void)mpq_unlink(g_addr);
    mpq_options o = {.flags = MPQ_CREATE_ONLY};
    mpq *q = NULL;
    CHECK_OK(mpq_open(g_addr, &o, &q));
    char m[16];
    for (int j = 0; j < JOBS; j++) {
        snprintf(m, sizeof m, "job-%03d", j);
        CHECK_OK(mpq_put(q, (const uint8_t *)m, 7));
    }

    pid_t doomed[NDOOMED];
    for (int i = 0; i < NDOOMED; i++)
        doomed[i] = spawn(doomed_main, (void *)(intptr_t)i);
    for (int i = 0; i < NDOOMED; i++) {
        while (atomic_load(&g_sh->doomed_ready[i]) == 0) {
            CHECK(waitpid(doomed[i], NULL, WNOHANG) == 0);
            sleep_ms(1);
        }
    }
    /* 1 + 3 + 1 jobs held, 1 done. */
    int held = 0, early = 0;
    for (int j = 0; j < JOBS; j++) {
        held += atomic_load(&g_sh->held[j]);
        early += atomic_load(&g_sh->done_early[j]);
    }
    CHECK(held == 5 && early == 1);
    size_t qs = 0;
    CHECK_OK(mpq_qsize(q, &qs));
    CHECK(qs == JOBS - 6); /* the held ones are not in the queue meanwhile */
    for (int i = 0; i < NDOOMED; i++) {
        CHECK(kill(doomed[i], SIGKILL) == 0);
        CHECK_CHILD(doomed[i], 10000, -1000 - SIGKILL);
    }

    pid_t surv[NSURV];
    for (int i = 0; i < NSURV; i++)
        surv[i] = spawn(survivor_main, NULL);
    /* Every job put is finished once the held ones came back (their
     * consumers' leases ended) and the survivors finished them. */
    CHECK_OK(mpq_join(q, -1));
    CHECK_OK(mpq_join(q, 0));
    CHECK_OK(mpq_qsize(q, &qs));
    CHECK(qs == 0);
    CHECK_OK(mpq_shutdown(q, false));
    for (int i = 0; i < NSURV; i++)
        CHECK_CHILD(surv[i], 60000, 0);
    CHECK(atomic_load(&g_sh->survivor_errors) == 0);

    int total = 0, dups = 0;
    for (int j = 0; j < JOBS; j++) {
        int s = atomic_load(&g_sh->by_survivor[j]);
        total += s;
        dups += s > 1 ? s - 1 : 0;
        if (atomic_load(&g_sh->done_early[j]) != 0) {
            /* Finished before its consumer died: never handed out again. */
            CHECK(s == 0);
        } else {
            /* Every other job, the held ones included, reached a survivor. */
            if (s < 1)
                fprintf(stderr, "job %d (held by a killed consumer: %d) never reached a survivor\n", j,
                        atomic_load(&g_sh->held[j]));
            CHECK(s >= 1);
        }
    }
    printf("at-least-once: %d jobs, 5 held by killed consumers, %d deliveries to survivors (%d repeated)\n", JOBS,
           total, dups);
    mpq_close(q);
    CHECK_OK(mpq_unlink(g_addr));
}

/* ------------------------------------------------------------------ */
/* 2. A get whose reply is lost                                         */
/* ------------------------------------------------------------------ */

/* CPU time (user + system, in clock ticks) of process `pid`, or -1. */
static long cpu_ticks(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    /* Fields after ')': state is the 1st; utime and stime the 12th, 13th. */
    long utime = 0, stime = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime) != 2)
        return -1;
    return utime + stime;
}

/* Sends EVAL of a Lua loop that keeps the server busy for `ms` on a new
 * raw connection, and waits until the server is running it (its CPU time
 * grew by 5 ticks: an idle server uses next to none). Returns the socket:
 * its reply comes when the loop ends. */
static int busy_server(int ms) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_srv.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    char script[512], cmd[1024];
    snprintf(script, sizeof script,
             "local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] "
             "while true do local n = redis.call('TIME') "
             "if n[1] * 1000000 + n[2] - s > %d then break end end return 1",
             ms * 1000);
    int n = snprintf(cmd, sizeof cmd, "*3\r\n$4\r\nEVAL\r\n$%zu\r\n%s\r\n$1\r\n0\r\n", strlen(script), script);
    long t0 = cpu_ticks(g_srv.pid);
    CHECK(t0 >= 0);
    write_all(fd, cmd, (size_t)n);
    while (cpu_ticks(g_srv.pid) < t0 + 5)
        sleep_ms(1);
    return fd;
}

/* Waits for the busy loop's reply (":1"), and closes its socket. */
static void busy_end(int fd) {
    char r[16];
    ssize_t n = read_timeout(fd, r, sizeof r, 60000);
    CHECK(n >= 2 && r[0] == ':');
    close(fd);
}

static void test_lost_reply(void) {
    char addr[256];
    /* A long lease: no consumer's lease ends during the test by itself. */
    redis_addr(&g_srv, addr, sizeof addr, "/%s?ack=at-least-once&lease_ms=5000&timeout_ms=200", qname("lost"));
    keep_name(addr);
    mpq *q = NULL;
    mp_buf b = {0};
    mp_status st = MP_OK;
    /* The scenario needs the get to wait for the busy server; should the
     * loop end before the get is sent (a very loaded machine), try again. */
    for (int attempt = 0; attempt < 3 && st != MP_E_TIMEOUT; attempt++) {
        if (q != NULL) {
            mpq_close(q);
            CHECK_OK(mpq_unlink(addr));
        }
        CHECK_OK(mpq_open(addr, NULL, &q));
        CHECK_ST(mpq_get_timeout(q, &b, 0), MP_E_EMPTY); /* registers the consumer */
        CHECK_OK(mpq_put(q, (const uint8_t *)"A", 1));
        CHECK_OK(mpq_put(q, (const uint8_t *)"B", 1));
        int fd = busy_server(3000);
        st = mpq_get_timeout(q, &b, 0);
        busy_end(fd);
        if (st == MP_OK)
            mp_buf_free(&b);
    }
    /* The server ran that get after the client gave up: A went into this
     * consumer's processing list, unknown to it. */
    CHECK(st == MP_E_TIMEOUT);
    int seen_a = 0, seen_b = 0;
    CHECK_OK(mpq_get_timeout(q, &b, 10000));
    CHECK(b.len == 1);
    seen_a += b.ptr[0] == 'A';
    seen_b += b.ptr[0] == 'B';
    mp_buf_free(&b);
    /* Done with what it got: that, and nothing it never got, is done. */
    st = mpq_task_done(q);
    CHECK(st == MP_OK || st == MP_E_BROKEN);
    mpq_close(q); /* gives back what it still holds */

    /* Another consumer must get whatever was not delivered yet. */
    CHECK_OK(mpq_open(addr, NULL, &q));
    while ((st = mpq_get_timeout(q, &b, seen_a && seen_b ? 0 : 15000)) == MP_OK) {
        CHECK(b.len == 1);
        seen_a += b.ptr[0] == 'A';
        seen_b += b.ptr[0] == 'B';
        mp_buf_free(&b);
        CHECK_OK(mpq_task_done(q));
    }
    CHECK(st == MP_E_EMPTY);
    CHECK(seen_b >= 1);
    CHECK_REGRESSION(seen_a >= 1,
                     "at-least-once: a get whose reply was lost (MP_E_TIMEOUT; the server moved A into the "
                     "consumer's processing list after the client gave up) made the consumer's next task_done "
                     "acknowledge A, which nobody ever received (q_ack pops the oldest in-flight message): A is lost");
    mpq_close(q);
    CHECK_OK(mpq_unlink(addr));
}

int main(void) {
    start_watchdog("test_redis_alo", 600);
    redis_guard();
    g_sh = mmap(NULL, sizeof *g_sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(g_sh != MAP_FAILED);
    double t0 = now_ms();
    g_section = "server start";
    redis_start(&g_srv, NULL);

    g_section = "1. consumers killed between get and task_done";
    test_killed_consumers();
    g_section = "2. a get whose reply is lost";
    test_lost_reply();

    g_section = "server stop";
    redis_stop(&g_srv);
    alarm(0);
    return check_summary("test_redis_alo", t0);
}
