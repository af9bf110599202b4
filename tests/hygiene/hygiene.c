/*
 * hygiene.c: resource hygiene of every primitive, measured (issue #11).
 *
 *   hygiene [--cycles N] [--md FILE]
 *
 * For each primitive, N open/close(/unlink) cycles, after a warm-up of
 * min(200, N/10) cycles (so that what is allocated once — thread-local
 * error slots, malloc arenas, the dynamic linker's lazy bindings — is not
 * counted), with before/after figures of this process:
 *   fds       entries of /proc/self/fd
 *   maps      lines of /proc/self/maps
 *   segments  entries of /dev/shm whose name holds "hyg-<pid>-"
 *   VmRSS     of /proc/self/status, kB
 * and, for the manager rows, of the server process (a forked child): its
 * fds, threads (/proc/PID/task) and VmRSS. Any growth of fds, maps,
 * segments or server threads is a leak: the run fails (exit 1). RSS may
 * move a little (malloc keeps freed memory); its growth must stay under
 * 8 MiB (this process) and 16 MiB (the server), generous bounds that a
 * leak of a few hundred bytes per cycle would still break at 100,000.
 *
 * Cycles: queue create+close+unlink; queue attach+close (of a queue that
 * stays); shm, array, value, slist, lock, rlock, sem, event, cond, barrier
 * open(create)+close+unlink; pipe pair new+send+recv+close; unix listener
 * bind + client connect + accept + one message + close all; manager client
 * connect (authkey handshake) + ping + close to a running server; manager
 * proxy create + delete (a dict named per cycle). Every call is checked.
 *
 * --md FILE writes the table as markdown (for BENCHMARKS.md, wired in by
 * benches/report.py); figures also go to stdout.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define CHECK_NAME_PREFIX "hyg"
#define CHECK_CHILD_ALARM_S 0
#include "check.h"

#include <dirent.h>
#include <sys/utsname.h>

#define T_MS 10000

static char g_tag[64];     /* "hyg-<pid>-" */
static char g_mgr_addr[128];
static const uint8_t KEY[] = "hygiene-key";
static pid_t g_server;
static mp_mgr *g_m;        /* the proxy rows' client */
static mpq *g_keep_q;      /* the queue the attach row attaches to */

/* ------------------------------------------------------------------ */
/* Measures                                                             */
/* ------------------------------------------------------------------ */

static int count_dir(const char *path, const char *needle) {
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && (needle == NULL || strstr(e->d_name, needle) != NULL))
            n++;
    closedir(d);
    return n;
}

/* Descriptors in a /proc/PID/fd directory, leaving out the one the library
 * opens once per process and keeps: /proc/loadavg, which the idle-CPU gate
 * (src/os/cpu_gate.rs) opens the first time a spinner finds the machine
 * busy. On a busy machine that first time falls inside whichever row spins
 * first, and counting it made that row look like a one-descriptor leak. */
static int count_fds(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char link[512], target[256];
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len > 0) {
            target[len] = '\0';
            if (strcmp(target, "/proc/loadavg") == 0)
                continue;
        }
        n++;
    }
    closedir(d);
    return n;
}

static int count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        if (c == '\n')
            n++;
    fclose(f);
    return n;
}

struct snap {
    int fds, maps, segs;
    long rss;
    int sfds, stasks; /* the server's */
    long srss;
};

static struct snap snap_now(void) {
    struct snap s;
    char p[64];
    /* opendir holds one descriptor while counting: the same every time. */
    s.fds = count_fds("/proc/self/fd");
    s.maps = count_lines("/proc/self/maps");
    s.segs = count_dir("/dev/shm", g_tag);
    s.rss = proc_status_kb(0, "VmRSS");
    snprintf(p, sizeof p, "/proc/%ld/fd", (long)g_server);
    s.sfds = count_fds(p);
    snprintf(p, sizeof p, "/proc/%ld/task", (long)g_server);
    s.stasks = count_dir(p, NULL);
    s.srss = proc_status_kb(g_server, "VmRSS");
    return s;
}

/* ------------------------------------------------------------------ */
/* The cycles                                                           */
/* ------------------------------------------------------------------ */

static char n_q[96], n_keep[96], n_x[96];
static const uint8_t SL_ITEMS[] = {0x83, 0x63, 'a', 'b', 'c', 0x07, 0xf6};
static const uint8_t NO_ARGS[] = {0x80};

static void c_queue(long i) {
    (void)i;
    mpq *q = NULL;
    mpq_options o = {.capacity_bytes = 4096};
    CHECK_OK(mpq_open(n_q, &o, &q));
    CHECK_OK(mpq_put(q, (const uint8_t *)"m", 1));
    mpq_close(q);
    CHECK_OK(mpq_unlink(n_q));
}

static void c_queue_attach(long i) {
    (void)i;
    mpq *q = NULL;
    mpq_options o = {.flags = MPQ_ATTACH_ONLY};
    CHECK_OK(mpq_open(n_keep, &o, &q));
    mpq_close(q);
}

static void c_shm(long i) {
    (void)i;
    mp_shm *s = NULL;
    CHECK_OK(mp_shm_open(n_x, 4096, MP_OPEN_CREATE_ONLY, &s));
    ((char *)mp_shm_ptr(s))[0] = 1;
    mp_shm_close(s);
    CHECK_OK(mp_shm_unlink(n_x));
}

static void c_array(long i) {
    mp_array *a = NULL;
    CHECK_OK(mp_array_open(n_x, 'q', 16, MP_OPEN_CREATE_ONLY, &a));
    CHECK_OK(mp_array_set_i64(a, 3, i));
    mp_array_close(a);
    CHECK_OK(mp_array_unlink(n_x));
}

static void c_value(long i) {
    mp_array *v = NULL;
    CHECK_OK(mp_value_open(n_x, 'd', MP_OPEN_CREATE_ONLY, &v));
    CHECK_OK(mp_value_set_f64(v, (double)i));
    mp_array_close(v);
    CHECK_OK(mp_array_unlink(n_x));
}

static void c_slist(long i) {
    (void)i;
    mp_slist *l = NULL;
    CHECK_OK(mp_slist_open(n_x, SL_ITEMS, sizeof SL_ITEMS, MP_OPEN_CREATE_ONLY, &l));
    mp_buf b = {0};
    CHECK_OK(mp_slist_get(l, 0, &b));
    mp_buf_free(&b);
    mp_slist_close(l);
    CHECK_OK(mp_slist_unlink(n_x));
}

static void lock_cycle(uint32_t flags) {
    mp_lock *l = NULL;
    CHECK_OK(mp_lock_open(n_x, flags | MP_OPEN_CREATE_ONLY, &l));
    CHECK_OK(mp_lock_acquire(l, 0));
    CHECK_OK(mp_lock_release(l));
    mp_lock_close(l);
    CHECK_OK(mp_lock_unlink(n_x));
}

static void c_lock(long i) {
    (void)i;
    lock_cycle(0);
}

static void c_rlock(long i) {
    (void)i;
    lock_cycle(MP_LOCK_RECURSIVE);
}

static void c_sem(long i) {
    (void)i;
    mp_sem *s = NULL;
    CHECK_OK(mp_sem_open(n_x, 1, MP_OPEN_CREATE_ONLY, &s));
    CHECK_OK(mp_sem_acquire(s, 0));
    CHECK_OK(mp_sem_release(s));
    mp_sem_close(s);
    CHECK_OK(mp_sem_unlink(n_x));
}

static void c_event(long i) {
    (void)i;
    mp_event *e = NULL;
    CHECK_OK(mp_event_open(n_x, MP_OPEN_CREATE_ONLY, &e));
    CHECK_OK(mp_event_set(e));
    mp_event_close(e);
    CHECK_OK(mp_event_unlink(n_x));
}

static void c_cond(long i) {
    (void)i;
    mp_cond *c = NULL;
    CHECK_OK(mp_cond_open(n_x, MP_OPEN_CREATE_ONLY, &c));
    CHECK_OK(mp_cond_notify_all(c));
    mp_cond_close(c);
    CHECK_OK(mp_cond_unlink(n_x));
}

static void c_barrier(long i) {
    (void)i;
    mp_barrier *b = NULL;
    CHECK_OK(mp_barrier_open(n_x, 1, MP_OPEN_CREATE_ONLY, &b));
    CHECK_OK(mp_barrier_wait(b, 0, NULL));
    mp_barrier_close(b);
    CHECK_OK(mp_barrier_unlink(n_x));
}

static void c_pipe(long i) {
    (void)i;
    mp_pipe *a = NULL, *b = NULL;
    CHECK_OK(mp_pipe_new(true, &a, &b));
    CHECK_OK(mp_pipe_send(a, (const uint8_t *)"ping", 4));
    mp_buf m = {0};
    CHECK_OK(mp_pipe_recv_timeout(b, &m, T_MS));
    CHECK(m.len == 4);
    mp_buf_free(&m);
    mp_pipe_close(a);
    mp_pipe_close(b);
}

static char g_sock_addr[160];

static void c_listener(long i) {
    (void)i;
    mp_listener *l = NULL;
    CHECK_OK(mp_listener_bind(g_sock_addr, NULL, 0, &l));
    mp_pipe *c = NULL, *s = NULL;
    /* Without a key there is no handshake: the connect completes in the
     * backlog, then accept takes it, all in this thread. */
    CHECK_OK(mp_pipe_connect(g_sock_addr, NULL, 0, T_MS, &c));
    CHECK_OK(mp_listener_accept(l, T_MS, &s));
    CHECK_OK(mp_pipe_send(c, (const uint8_t *)"hi", 2));
    mp_buf m = {0};
    CHECK_OK(mp_pipe_recv_timeout(s, &m, T_MS));
    mp_buf_free(&m);
    mp_pipe_close(c);
    mp_pipe_close(s);
    mp_listener_close(l);
}

static void c_mgr_connect(long i) {
    (void)i;
    mp_mgr *m = NULL;
    CHECK_OK(mp_mgr_connect(g_mgr_addr, KEY, sizeof KEY - 1, T_MS, &m));
    mp_buf r = {0};
    CHECK_OK(mp_mgr_call(m, "manager", "", "ping", NO_ARGS, 1, &r));
    mp_buf_free(&r);
    mp_mgr_close(m);
}

static void c_mgr_proxy(long i) {
    char name[64];
    snprintf(name, sizeof name, "d%ld", i);
    mp_buf r = {0};
    CHECK_OK(mp_mgr_call(g_m, "dict", name, "create", NO_ARGS, 1, &r));
    CHECK(r.len == 1 && r.ptr[0] == 0xf5); /* true: created */
    mp_buf_free(&r);
    CHECK_OK(mp_mgr_call(g_m, "manager", name, "delete", NO_ARGS, 1, &r));
    CHECK(r.len == 1 && r.ptr[0] == 0xf5); /* true: deleted */
    mp_buf_free(&r);
}

struct prim {
    const char *name;
    void (*fn)(long);
    int server; /* a manager row: the server's figures matter */
};

static const struct prim PRIMS[] = {
    {"queue create+close+unlink", c_queue, 0},
    {"queue attach+close", c_queue_attach, 0},
    {"shm", c_shm, 0},
    {"array", c_array, 0},
    {"value", c_value, 0},
    {"slist", c_slist, 0},
    {"lock", c_lock, 0},
    {"rlock", c_rlock, 0},
    {"sem", c_sem, 0},
    {"event", c_event, 0},
    {"cond", c_cond, 0},
    {"barrier", c_barrier, 0},
    {"pipe pair", c_pipe, 0},
    {"listener+client+accept", c_listener, 0},
    {"manager connect+close", c_mgr_connect, 1},
    {"manager proxy create+delete", c_mgr_proxy, 1},
};
#define NPRIMS (sizeof PRIMS / sizeof PRIMS[0])

/* The manager server (with KEY) in a child forked before anything else. */
static void server_main(void *p) {
    (void)p;
    mp_mgr_server *s = NULL;
    if (mp_mgr_serve(g_mgr_addr, KEY, sizeof KEY - 1, &s) != MP_OK) {
        fprintf(stderr, "[server] %s\n", mp_last_error());
        _exit(10);
    }
    for (;;)
        pause();
}

static void on_fail(void) {
    kill_kids();
    (void)mpq_unlink(n_q);
    (void)mpq_unlink(n_keep);
    (void)mp_shm_unlink(n_x);
    (void)mp_array_unlink(n_x);
    (void)mp_slist_unlink(n_x);
    (void)mp_lock_unlink(n_x);
    (void)mp_sem_unlink(n_x);
    (void)mp_event_unlink(n_x);
    (void)mp_cond_unlink(n_x);
    (void)mp_barrier_unlink(n_x);
}

int main(int argc, char **argv) {
    long cycles = 2000;
    const char *md = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cycles") == 0 && i + 1 < argc)
            cycles = atol(argv[++i]);
        else if (strcmp(argv[i], "--md") == 0 && i + 1 < argc)
            md = argv[++i];
        else {
            fprintf(stderr, "usage: hygiene [--cycles N] [--md FILE]\n");
            return 2;
        }
    }
    if (cycles < 10) {
        fprintf(stderr, "hygiene: --cycles must be at least 10\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_check_on_fail = on_fail;
    double t_start = now_ms();
    snprintf(g_tag, sizeof g_tag, "hyg-%ld-", (long)getpid());
    snprintf(n_q, sizeof n_q, "%sq", g_tag);
    snprintf(n_keep, sizeof n_keep, "%skeep", g_tag);
    snprintf(n_x, sizeof n_x, "%sx", g_tag);
    snprintf(g_mgr_addr, sizeof g_mgr_addr, "unix:@%smgr", g_tag);
    snprintf(g_sock_addr, sizeof g_sock_addr, "unix:%s", tmp_path("listener.sock"));

    g_server = spawn(server_main, NULL);
    double deadline = now_ms() + T_MS;
    while (mp_mgr_connect(g_mgr_addr, KEY, sizeof KEY - 1, 1000, &g_m) != MP_OK) {
        CHECK(now_ms() < deadline);
        sleep_ms(20);
    }
    mpq_options ko = {.capacity_bytes = 4096};
    CHECK_OK(mpq_open(n_keep, &ko, &g_keep_q));

    long warm = cycles / 10 < 200 ? cycles / 10 : 200;
    struct {
        struct snap a, b;
        double ms;
    } res[NPRIMS];
    int leaks = 0;
    printf("hygiene: %ld cycles per primitive (after %ld warm-up cycles), pid %ld\n", cycles, warm, (long)getpid());
    for (size_t p = 0; p < NPRIMS; p++) {
        g_section = PRIMS[p].name;
        for (long i = 0; i < warm; i++)
            PRIMS[p].fn(-1 - i);
        res[p].a = snap_now();
        double t0 = now_ms();
        for (long i = 0; i < cycles; i++)
            PRIMS[p].fn(i);
        res[p].ms = now_ms() - t0;
        res[p].b = snap_now();
        if (PRIMS[p].server) {
            /* Connection threads end just after their client hangs up. */
            double until = now_ms() + 5000;
            while (res[p].b.stasks > res[p].a.stasks && now_ms() < until) {
                sleep_ms(20);
                res[p].b = snap_now();
            }
        }
        const struct snap *a = &res[p].a, *b = &res[p].b;
        printf("%-28s %8ld cycles %8.0f ms %7.2f us/cycle  fds %d->%d  maps %d->%d  segments %d->%d  "
               "VmRSS %ld->%ld kB",
               PRIMS[p].name, cycles, res[p].ms, res[p].ms * 1000.0 / (double)cycles, a->fds, b->fds, a->maps,
               b->maps, a->segs, b->segs, a->rss, b->rss);
        if (PRIMS[p].server)
            printf("  | server fds %d->%d threads %d->%d VmRSS %ld->%ld kB", a->sfds, b->sfds, a->stasks, b->stasks,
                   a->srss, b->srss);
        printf("\n");
        int leak = b->fds > a->fds || b->maps > a->maps || b->segs > a->segs || b->rss - a->rss > 8 * 1024 ||
                   (PRIMS[p].server && (b->sfds > a->sfds || b->stasks > a->stasks || b->srss - a->srss > 16 * 1024));
        if (leak) {
            fprintf(stderr, "hygiene: LEAK in %s\n", PRIMS[p].name);
            leaks++;
        }
        g_passed++;
    }
    mpq_close(g_keep_q);
    CHECK_OK(mpq_unlink(n_keep));
    mp_mgr_close(g_m);
    kill(g_server, SIGKILL);
    CHECK(wait_child(g_server, T_MS) == -1000 - SIGKILL);
    CHECK(count_dir("/dev/shm", g_tag) == 0);
    double total_s = (now_ms() - t_start) / 1000.0;

    if (md != NULL) {
        FILE *f = fopen(md, "w");
        CHECK(f != NULL);
        struct utsname u;
        uname(&u);
        fprintf(f, "### Resource hygiene (`make hygiene`)\n\n");
        fprintf(f,
                "%ld open/close(/unlink) cycles per primitive after %ld warm-up cycles "
                "(tests/hygiene/hygiene.c, mpipc %s, release build, %s %s, %ld CPUs; whole run %.1f s). "
                "fds: entries of /proc/self/fd; maps: lines of /proc/self/maps; segments: this run's "
                "files in /dev/shm (the 1 is the queue the attach row attaches to, kept all run); "
                "VmRSS in kB. Manager rows: the server is another process (unix:@ "
                "socket, authkey), its figures in the last column. Any growth of fds, maps, segments or "
                "server threads fails the run.\n\n",
                cycles, warm, mp_version(), u.sysname, u.release, sysconf(_SC_NPROCESSORS_ONLN), total_s);
        fprintf(f, "| primitive | cycles | time (s) | µs/cycle | fds before → after | maps before → after | "
                   "segments before → after | VmRSS kB before → after | server fds / threads / VmRSS kB, "
                   "before → after |\n");
        fprintf(f, "|---|---:|---:|---:|---|---|---|---|---|\n");
        for (size_t p = 0; p < NPRIMS; p++) {
            const struct snap *a = &res[p].a, *b = &res[p].b;
            fprintf(f, "| %s | %ld | %.2f | %.2f | %d → %d | %d → %d | %d → %d | %ld → %ld | ", PRIMS[p].name,
                    cycles, res[p].ms / 1000.0, res[p].ms * 1000.0 / (double)cycles, a->fds, b->fds, a->maps,
                    b->maps, a->segs, b->segs, a->rss, b->rss);
            if (PRIMS[p].server)
                fprintf(f, "%d / %d / %ld → %d / %d / %ld |\n", a->sfds, a->stasks, a->srss, b->sfds, b->stasks,
                        b->srss);
            else
                fprintf(f, "— |\n");
        }
        fclose(f);
    }
    unlink_paths();
    if (leaks > 0) {
        fprintf(stderr, "hygiene: %d primitive(s) leaked\n", leaks);
        return 1;
    }
    return check_summary("hygiene", t_start);
}
