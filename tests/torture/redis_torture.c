/*
 * redis_torture.c: the fault torture's Redis variant (issue 22): producer
 * and consumer processes on one queue at a Redis address, SIGKILLed at
 * random instants, and the server itself SIGKILLed and restarted once (on
 * its port and AOF, appendfsync always) in the middle; then checks. Through
 * the C ABI; the server is our own (scripts/redis-server.sh, through
 * tests/c/redis_server.h).
 *
 *   redis_torture [--rounds N] [--seed S] [--producers P] [--consumers C]
 *                 [--max-gap-ms MS] [--timeout-s T] [--modes amo,alo]
 *
 * Each mode runs N rounds (wait 0..MS ms, SIGKILL a random worker, start
 * its replacement; at round N/2 the server is SIGKILLed and restarted):
 *
 *  - alo: the queue is at-least-once (`?ack=at-least-once&lease_ms=500`).
 *    The check is exact: every put acknowledged with MP_OK was delivered
 *    at least once; nothing was delivered that no producer put (each
 *    message carries its producer and sequence number and a filler derived
 *    from them: a delivery that does not decode, or whose number its
 *    producer never tried, is a failure); the unfinished count reaches 0
 *    (mpq_join returns) once the workers stop; the queue ends empty.
 *  - amo: the default, at-most-once. No message is delivered twice
 *    (exact); nothing appears that was not put; every acknowledged put is
 *    delivered except at most what consumers were taking when they were
 *    killed (each consumer writes before a get how many messages it may
 *    take: 1, or 8 for mpq_get_many) or when a get failed with a transport
 *    error at the restart (the server may have popped before dying).
 *
 * Bookkeeping: a file in /dev/shm that every process maps (MAP_SHARED); a
 * store to it outlives the process that made it. A producer burns its
 * sequence numbers there before a put and marks them acknowledged after
 * MP_OK; a consumer counts each delivery (one byte per message) before
 * its task_done. Workers are this program re-executed in a role, with
 * PR_SET_PDEATHSIG. On a transport error (MP_E_EOF, MP_E_IO,
 * MP_E_TIMEOUT: the server restarting) a worker closes its handle and
 * opens a new one, as a program that reconnects would (an at-least-once
 * consumer's close gives its unacknowledged messages back).
 *
 * Prints one line per mode and exits 0 when every check holds.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mpipc.h"

#define CHECK_NAME_PREFIX "rtorture"
#include "check.h"
#include "redis_server.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#define MAX_PRODUCERS 4
#define MAX_CONSUMERS 8
#define MAX_SEQ (1u << 21) /* sequence numbers per producer */
#define MAX_BATCH 8
#define FILLER_MAX 200
#define MSG_MAX (16 + FILLER_MAX)

/* The log file's layout. */
struct log {
    atomic_ulong stop;
    atomic_ulong corrupt;    /* deliveries that do not decode, or never tried */
    atomic_ulong delivered;  /* deliveries in all */
    atomic_ulong transport;  /* transport errors the workers saw */
    atomic_ulong eof_allow;  /* amo: messages a failed get may have popped */
    atomic_ulong errors;     /* unexpected statuses */
    atomic_ulong ops;
    atomic_ulong attempted[MAX_PRODUCERS]; /* next number, burnt before the put */
    atomic_ulong pending[MAX_CONSUMERS];   /* amo: what a get in progress may take */
    atomic_uchar acked[MAX_PRODUCERS][MAX_SEQ / 8];
    atomic_uchar count[MAX_PRODUCERS][MAX_SEQ]; /* deliveries of each message (saturating) */
};

static struct log *g_log;

/* xorshift64*: enough for picking victims and sizes. */
static uint64_t rng_next(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static uint64_t rng_below(uint64_t *s, uint64_t n) {
    return n == 0 ? 0 : rng_next(s) % n;
}

/* Message (p, seq): p (u32), the filler's length (u32), seq (u64), then a
 * filler derived from both. Returns its length. */
static size_t encode(uint8_t *out, uint32_t p, uint64_t seq) {
    uint32_t filler = (uint32_t)((seq * 7 + p) % FILLER_MAX);
    memcpy(out, &p, 4);
    memcpy(out + 4, &filler, 4);
    memcpy(out + 8, &seq, 8);
    for (uint32_t i = 0; i < filler; i++)
        out[16 + i] = (uint8_t)(seq + i * 31 + p);
    return 16 + filler;
}

/* Records a delivery; a message that does not decode, or that its producer
 * never tried to put, counts as corrupt. */
static void deliver(const uint8_t *m, size_t len) {
    atomic_fetch_add(&g_log->delivered, 1);
    uint32_t p;
    uint64_t seq;
    uint8_t want[MSG_MAX];
    if (len < 16)
        goto bad;
    memcpy(&p, m, 4);
    memcpy(&seq, m + 8, 8);
    if (p >= MAX_PRODUCERS || seq >= MAX_SEQ || seq >= atomic_load(&g_log->attempted[p]))
        goto bad;
    if (encode(want, p, seq) != len || memcmp(want, m, len) != 0)
        goto bad;
    /* Saturating count: a repeat beyond 255 stays 255. */
    unsigned char c = atomic_load(&g_log->count[p][seq]);
    while (c < 255 && !atomic_compare_exchange_weak(&g_log->count[p][seq], &c, (unsigned char)(c + 1))) {
    }
    return;
bad:
    atomic_fetch_add(&g_log->corrupt, 1);
}

static int is_transport(mp_status st) {
    return st == MP_E_EOF || st == MP_E_IO || st == MP_E_TIMEOUT;
}

/* ------------------------------------------------------------------ */
/* Workers                                                              */
/* ------------------------------------------------------------------ */

struct wargs {
    const char *role, *addr, *log;
    int id;
    uint64_t seed;
    long bound_ms;
};

static void map_log(const char *path, int create) {
    int fd = open(path, O_RDWR | (create ? O_CREAT | O_EXCL : 0), 0600);
    if (fd < 0) {
        perror(path);
        exit(2);
    }
    if (create && ftruncate(fd, sizeof(struct log)) != 0) {
        perror("ftruncate");
        exit(2);
    }
    g_log = mmap(NULL, sizeof(struct log), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (g_log == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
}

/* Opens the queue, retrying while the server is away (the restart), at
 * most the bound; NULL once told to stop. */
static mpq *worker_open(const struct wargs *a) {
    double deadline = now_ms() + (double)a->bound_ms;
    for (;;) {
        if (atomic_load(&g_log->stop) != 0)
            return NULL;
        mpq *q = NULL;
        mpq_options o = {.flags = MPQ_ATTACH_ONLY};
        mp_status st = mpq_open(a->addr, &o, &q);
        if (st == MP_OK)
            return q;
        if (!is_transport(st)) {
            fprintf(stderr, "[%s %d] mpq_open: %s (%s)\n", a->role, a->id, mp_status_str(st), mp_last_error());
            exit(3);
        }
        atomic_fetch_add(&g_log->transport, 1);
        if (now_ms() > deadline) {
            fprintf(stderr, "[%s %d] the server did not come back within the bound: %s\n", a->role, a->id,
                    mp_last_error());
            exit(3);
        }
        /* The server is restarting: nothing to wait on but time. */
        sleep_ms(5);
    }
}

static void unexpected(const struct wargs *a, const char *what, mp_status st) {
    fprintf(stderr, "[%s %d] %s: %s (%s)\n", a->role, a->id, what, mp_status_str(st), mp_last_error());
    atomic_fetch_add(&g_log->errors, 1);
    exit(4);
}

static void producer(const struct wargs *a) {
    uint64_t rng = a->seed | 1;
    mpq *q = worker_open(a);
    uint8_t data[MAX_BATCH * MSG_MAX];
    size_t lens[MAX_BATCH];
    while (q != NULL && atomic_load(&g_log->stop) == 0) {
        uint64_t first = atomic_load(&g_log->attempted[a->id]);
        uint64_t n = rng_below(&rng, 4) == 0 ? 1 + rng_below(&rng, MAX_BATCH) : 1;
        if (first + n > MAX_SEQ)
            break;
        /* Burn the numbers first: a replacement never reuses one. */
        atomic_store(&g_log->attempted[a->id], first + n);
        size_t off = 0;
        for (uint64_t i = 0; i < n; i++) {
            lens[i] = encode(data + off, (uint32_t)a->id, first + i);
            off += lens[i];
        }
        size_t put = 0;
        mp_status st;
        if (n == 1) {
            st = mpq_put_timeout(q, data, lens[0], 200);
            put = 1;
        } else {
            st = mpq_put_many(q, data, lens, n, 200, &put);
        }
        if (st == MP_OK) {
            for (uint64_t s = first; s < first + put; s++)
                atomic_fetch_or(&g_log->acked[a->id][s / 8], (unsigned char)(1u << (s % 8)));
            atomic_fetch_add(&g_log->ops, 1);
        } else if (st == MP_E_SHUTDOWN) {
            break;
        } else if (is_transport(st)) {
            atomic_fetch_add(&g_log->transport, 1);
            mpq_close(q);
            q = worker_open(a);
        } else if (st != MP_E_FULL) {
            unexpected(a, "put", st);
        }
    }
    mpq_close(q);
}

static void consumer(const struct wargs *a, int alo) {
    uint64_t rng = a->seed | 1;
    mpq *q = worker_open(a);
    uint8_t buf[MAX_BATCH * MSG_MAX];
    size_t lens[MAX_BATCH];
    while (q != NULL) {
        uint64_t mode = rng_below(&rng, 3);
        uint64_t may_take = mode == 2 ? MAX_BATCH : 1;
        atomic_store(&g_log->pending[a->id], may_take);
        size_t n = 0;
        mp_status st;
        if (mode == 0) {
            mp_buf b = {0};
            st = mpq_get_timeout(q, &b, 200);
            if (st == MP_OK) {
                if (b.len > MSG_MAX)
                    unexpected(a, "get: a message longer than any put", st);
                memcpy(buf, b.ptr, b.len);
                lens[0] = b.len;
                n = 1;
                mp_buf_free(&b);
            }
        } else if (mode == 1) {
            st = mpq_get_into(q, buf, sizeof buf, &lens[0], 200);
            n = st == MP_OK ? 1 : 0;
        } else {
            size_t bytes = 0;
            st = mpq_get_many(q, buf, sizeof buf, lens, MAX_BATCH, 200, &n, &bytes);
        }
        int reopen = 0;
        if (st == MP_OK) {
            size_t off = 0;
            for (size_t i = 0; i < n; i++) {
                deliver(buf + off, lens[i]);
                off += lens[i];
            }
            atomic_store(&g_log->pending[a->id], 0);
            atomic_fetch_add(&g_log->ops, 1);
            /* Recorded first, then done. */
            for (size_t i = 0; i < n && !reopen; i++) {
                mp_status td = mpq_task_done(q);
                if (is_transport(td))
                    reopen = 1; /* not acknowledged: alo gives it back at the close */
                else if (td != MP_OK && !(alo && td == MP_E_BROKEN))
                    unexpected(a, "task_done", td);
            }
        } else if (st == MP_E_EMPTY) {
            atomic_store(&g_log->pending[a->id], 0);
        } else if (st == MP_E_SHUTDOWN) {
            atomic_store(&g_log->pending[a->id], 0);
            break;
        } else if (is_transport(st)) {
            /* amo: the server may have popped before the reply was lost. */
            if (!alo)
                atomic_fetch_add(&g_log->eof_allow, may_take);
            atomic_store(&g_log->pending[a->id], 0);
            reopen = 1;
        } else {
            unexpected(a, "get", st);
        }
        if (reopen) {
            atomic_fetch_add(&g_log->transport, 1);
            mpq_close(q);
            q = worker_open(a);
        }
    }
    mpq_close(q);
}

/* ------------------------------------------------------------------ */
/* The orchestrator                                                     */
/* ------------------------------------------------------------------ */

struct worker {
    int producer, id;
    pid_t pid;
    int spawns;
    int finished; /* exited 0 by itself (a producer out of numbers) */
};

static char g_exe[4096];
static char g_logpath[128];

static pid_t start_worker(struct worker *w, const char *addr, uint64_t seed, long bound_ms, int alo) {
    char id[16], sd[32], bound[32];
    snprintf(id, sizeof id, "%d", w->id);
    snprintf(sd, sizeof sd, "%llu",
             (unsigned long long)(seed ^ ((uint64_t)w->id * 7919) ^ ((uint64_t)w->spawns << 20) ^
                                  ((uint64_t)w->producer << 40)));
    snprintf(bound, sizeof bound, "%ld", bound_ms);
    const char *role = w->producer ? "producer" : alo ? "consumer-alo" : "consumer";
    const char *argv[] = {g_exe, role, addr, g_logpath, id, sd, bound, NULL};
    pid_t ppid = getpid();
    pid_t pid = fork_child();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != ppid)
            _exit(1);
        execv(g_exe, (char *const *)argv);
        _exit(127);
    }
    w->pid = pid;
    w->spawns++;
    return pid;
}

/* A call of the orchestrator's own handle, retried over the restart's
 * transport errors (its connection may have died with the server). */
#define RETRY(call)                                                     \
    ({                                                                  \
        mp_status r_;                                                   \
        for (int try_ = 0;; try_++) {                                   \
            r_ = (call);                                                \
            if (!is_transport(r_) || try_ >= 200)                       \
                break;                                                  \
            sleep_ms(5);                                                \
        }                                                               \
        r_;                                                             \
    })

struct opts {
    long rounds;
    uint64_t seed;
    int producers, consumers;
    long gap_ms, bound_s;
};

/* One mode's run; returns 1 when every check held. */
static int run_mode(const struct opts *o, struct redis_srv *srv, int alo) {
    const char *mode = alo ? "alo" : "amo";
    char addr[256], tag[32];
    snprintf(tag, sizeof tag, "q-%s", mode);
    if (alo)
        redis_addr(srv, addr, sizeof addr, "/%s?ack=at-least-once&lease_ms=500", qname(tag));
    else
        redis_addr(srv, addr, sizeof addr, "/%s", qname(tag));
    keep_name(addr);
    (void)mpq_unlink(addr);
    mpq_options qo = {.maxsize = 32, .flags = MPQ_CREATE_ONLY};
    mpq *q = NULL;
    CHECK_OK(mpq_open(addr, &qo, &q));
    snprintf(g_logpath, sizeof g_logpath, "/dev/shm/mpipc-rtorture-%ld-%s.log", (long)getpid(), mode);
    unlink(g_logpath);
    map_log(g_logpath, 1);
    long bound_ms = o->bound_s * 1000;

    struct worker ws[MAX_PRODUCERS + MAX_CONSUMERS];
    int nw = 0;
    for (int i = 0; i < o->producers; i++)
        ws[nw++] = (struct worker){1, i, 0, 0, 0};
    for (int i = 0; i < o->consumers; i++)
        ws[nw++] = (struct worker){0, i, 0, 0, 0};
    for (int i = 0; i < nw; i++)
        start_worker(&ws[i], addr, o->seed, bound_ms, alo);

    uint64_t rng = (o->seed ^ (alo ? 0xA10 : 0xA30)) | 1;
    long kills_p = 0, kills_c = 0;
    unsigned long allowed = 0;
    int failed = 0;
    double t0 = now_ms();
    for (long r = 0; r < o->rounds && !failed; r++) {
        /* The torture's randomness: a random instant, not a wait for a state. */
        sleep_ms((long)rng_below(&rng, (uint64_t)o->gap_ms + 1));
        if (r == o->rounds / 2) {
            redis_kill9(srv);
            redis_restart(srv);
            continue;
        }
        struct worker *w = &ws[rng_below(&rng, (uint64_t)nw)];
        if (w->finished)
            continue;
        int status = 0;
        pid_t got = waitpid(w->pid, &status, WNOHANG);
        if (got == w->pid) {
            for (int i = 0; i < CHECK_MAX_KIDS; i++)
                if (g_kids[i] == w->pid)
                    g_kids[i] = 0;
            if (w->producer && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                w->finished = 1; /* out of numbers */
                continue;
            }
            fprintf(stderr, "redis torture %s: %s %d exited by itself with status %#x\n", mode,
                    w->producer ? "producer" : "consumer", w->id, status);
            failed = 1;
            break;
        }
        kill(w->pid, SIGKILL);
        int rc = wait_child(w->pid, 10000);
        if (rc != -1000 - SIGKILL && rc != 0) {
            fprintf(stderr, "redis torture %s: %s %d ended with %d\n", mode, w->producer ? "producer" : "consumer",
                    w->id, rc);
            failed = 1;
            break;
        }
        if (w->producer) {
            kills_p++;
        } else {
            kills_c++;
            allowed += atomic_exchange(&g_log->pending[w->id], 0);
        }
        start_worker(w, addr, o->seed, bound_ms, alo);
    }
    double kill_phase = now_ms() - t0;

    /* Stop the producers, let the consumers finish the queue, shut it down. */
    atomic_store(&g_log->stop, 1);
    for (int i = 0; i < nw && !failed; i++) {
        if (ws[i].producer && !ws[i].finished) {
            int rc = wait_child(ws[i].pid, bound_ms);
            if (rc != 0) {
                fprintf(stderr, "redis torture %s: producer %d ended with %d after the stop\n", mode, ws[i].id, rc);
                failed = 1;
            }
        }
    }
    size_t qs = 0;
    if (!failed && alo) {
        /* Every message put is finished at some point: the ones killed
         * consumers held come back when their leases end. */
        mp_status st = RETRY(mpq_join(q, bound_ms));
        if (st != MP_OK) {
            fprintf(stderr, "redis torture alo: join: %s (%s): deadlock\n", mp_status_str(st), mp_last_error());
            failed = 1;
        }
    } else if (!failed) {
        double deadline = now_ms() + (double)bound_ms;
        while (RETRY(mpq_qsize(q, &qs)) == MP_OK && qs > 0) {
            if (now_ms() > deadline) {
                fprintf(stderr, "redis torture amo: %zu messages never taken: deadlock\n", qs);
                failed = 1;
                break;
            }
            sleep_ms(2);
        }
    }
    CHECK_OK(RETRY(mpq_shutdown(q, false)));
    for (int i = 0; i < nw; i++) {
        if (ws[i].producer || failed)
            continue;
        int rc = wait_child(ws[i].pid, bound_ms);
        if (rc != 0) {
            fprintf(stderr, "redis torture %s: consumer %d ended with %d after the shutdown\n", mode, ws[i].id, rc);
            failed = 1;
        }
    }
    kill_kids();
    /* What closing consumers gave back (alo), delivered here. */
    unsigned long drained = 0;
    mp_buf b = {0};
    while (RETRY(mpq_get_timeout(q, &b, 0)) == MP_OK) {
        deliver(b.ptr, b.len);
        mp_buf_free(&b);
        drained++;
    }
    CHECK_OK(RETRY(mpq_qsize(q, &qs)));

    /* The checks. */
    unsigned long acked = 0, lost = 0, dups = 0, unacked_seen = 0;
    for (int p = 0; p < o->producers; p++) {
        uint64_t n = atomic_load(&g_log->attempted[p]);
        for (uint64_t s = 0; s < n && s < MAX_SEQ; s++) {
            int a = (atomic_load(&g_log->acked[p][s / 8]) >> (s % 8)) & 1;
            unsigned c = atomic_load(&g_log->count[p][s]);
            acked += (unsigned long)a;
            if (a && c == 0)
                lost++;
            if (!a && c != 0)
                unacked_seen++;
            if (c > 1)
                dups += c - 1;
        }
    }
    unsigned long corrupt = atomic_load(&g_log->corrupt), errors = atomic_load(&g_log->errors);
    unsigned long eof_allow = atomic_load(&g_log->eof_allow);
    printf("redis torture %s: rounds=%ld kills=%ld (producers %ld, consumers %ld) server restarts=1 acked=%lu "
           "delivered=%lu duplicates=%lu corrupt=%lu lost_acked=%lu",
           mode, o->rounds, kills_p + kills_c, kills_p, kills_c, acked, atomic_load(&g_log->delivered), dups, corrupt,
           lost);
    if (!alo)
        printf(" (allowed %lu: %lu in gets of killed consumers, %lu in gets cut by the restart)", allowed + eof_allow,
               allowed, eof_allow);
    printf(" unacked_delivered=%lu transport_errors=%lu drained_at_end=%lu left=%zu kill_phase=%.1fs\n", unacked_seen,
           atomic_load(&g_log->transport), drained, qs, kill_phase / 1000.0);
    int ok = !failed && corrupt == 0 && errors == 0 && qs == 0;
    if (alo) {
        ok = ok && lost == 0; /* every acknowledged put, at least once */
    } else {
        ok = ok && dups == 0 && lost <= allowed + eof_allow;
    }
    if (!ok)
        printf("redis torture %s: FAIL\n", mode);
    fflush(stdout);
    mpq_close(q);
    (void)mpq_unlink(addr);
    munmap(g_log, sizeof(struct log));
    unlink(g_logpath);
    return ok;
}

static long opt(int argc, char **argv, const char *name, long def) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return atol(argv[i + 1]);
    return def;
}

static const char *sopt(int argc, char **argv, const char *name, const char *def) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

int main(int argc, char **argv) {
    if (argc == 7 && (strcmp(argv[1], "producer") == 0 || strncmp(argv[1], "consumer", 8) == 0)) {
        struct wargs a = {argv[1], argv[2], argv[3], atoi(argv[4]), strtoull(argv[5], NULL, 10), atol(argv[6])};
        map_log(a.log, 0);
        if (strcmp(a.role, "producer") == 0)
            producer(&a);
        else
            consumer(&a, strcmp(a.role, "consumer-alo") == 0);
        return 0;
    }
    struct opts o;
    o.rounds = opt(argc, argv, "--rounds", 300);
    o.seed = (uint64_t)opt(argc, argv, "--seed", (long)(time(NULL) ^ getpid()));
    o.producers = (int)opt(argc, argv, "--producers", 2);
    o.consumers = (int)opt(argc, argv, "--consumers", 3);
    o.gap_ms = opt(argc, argv, "--max-gap-ms", 10);
    o.bound_s = opt(argc, argv, "--timeout-s", 60);
    const char *modes = sopt(argc, argv, "--modes", "amo,alo");
    if (o.producers < 1 || o.producers > MAX_PRODUCERS || o.consumers < 1 || o.consumers > MAX_CONSUMERS ||
        o.rounds < 2) {
        fprintf(stderr, "redis_torture: --producers 1..%d, --consumers 1..%d, --rounds >= 2\n", MAX_PRODUCERS,
                MAX_CONSUMERS);
        return 2;
    }
    ssize_t n = readlink("/proc/self/exe", g_exe, sizeof g_exe - 1);
    CHECK(n > 0);
    g_exe[n] = '\0';
    /* The last resort: a hang becomes a failure naming the phase. */
    start_watchdog("redis_torture", (unsigned)(600 + o.rounds / 10 + 4 * o.bound_s));
    redis_guard();
    printf("redis torture: seed=%llu rounds=%ld per mode, producers=%d consumers=%d max_gap_ms=%ld modes=%s\n",
           (unsigned long long)o.seed, o.rounds, o.producers, o.consumers, o.gap_ms, modes);
    fflush(stdout);
    g_section = "server start";
    struct redis_srv srv;
    redis_start(&srv, NULL);
    int ok = 1;
    if (strstr(modes, "amo") != NULL) {
        g_section = "amo";
        ok &= run_mode(&o, &srv, 0);
    }
    if (strstr(modes, "alo") != NULL) {
        g_section = "alo";
        ok &= run_mode(&o, &srv, 1);
    }
    g_section = "server stop";
    redis_stop(&srv);
    alarm(0);
    printf("redis torture: %s\n", ok ? "OK" : "FAIL");
    return ok ? 0 : 1;
}
