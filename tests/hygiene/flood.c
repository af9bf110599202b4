/*
 * flood.c: bounded memory under a flood of messages (issue #11), across
 * real processes, with the RSS of each process sampled every 50 ms.
 *
 *   flood [--seconds S] [--md FILE]      (S per phase, default 1)
 *
 *  1. Queue. A producer (a child) puts 256-byte messages as fast as it can
 *     on a queue with maxsize 1000 while the consumer (another child) is
 *     stopped (SIGSTOP), then while it takes one message per millisecond.
 *     Asserted: while the consumer is stopped the producer puts exactly
 *     1000 and blocks (asleep in the kernel), a non-blocking put from a
 *     third process is MP_E_FULL; every message put is got; neither RSS
 *     grows by more than 8 MiB.
 *  2. Pipe. A sender (a child) sends 64 KiB messages to a peer (another
 *     child) that never reads. Asserted: the sender blocks once the kernel
 *     buffers are full (it sends less than 16 MiB in all), its RSS grows
 *     by less than 8 MiB; when the peer dies the blocked send returns
 *     MP_E_EOF (no SIGPIPE).
 *  3. Manager, pipelined flood. A client writes ping requests on a raw
 *     non-blocking socket as fast as the server takes them and never reads
 *     a reply. Asserted: the server stops reading (the client's writes stay
 *     blocked for a second: backpressure) before 256 MiB were written, its
 *     RSS grows by less than 32 MiB; then the client reads every reply, in
 *     order, and the server serves others as before.
 *  4. Manager containers grow by what is stored. 2000 items of 4 KiB are
 *     appended to a manager list (8 MiB stored), popped, appended again;
 *     the same with a manager queue (put/get). Asserted: the server's RSS
 *     grows by at most 3 x 8 MiB + 8 MiB in the first round, and the
 *     second round ends within 8 MiB of the first (the memory of popped
 *     items is reused, nothing per item is kept).
 *
 * --md FILE writes the figures as markdown. Exit 0 when every bound holds.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define CHECK_NAME_PREFIX "flood"
#define CHECK_CHILD_ALARM_S 0
#include "check.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#define T_MS 10000
#define MiB (1024L * 1024L)

static double g_seconds = 1.0;
static FILE *g_md;

/* Counters shared with the children (MAP_SHARED, made before fork). */
struct shared {
    atomic_long puts, gets, sent;
    atomic_int stop;
    atomic_int send_status;
};
static struct shared *g_sh;

static long rss_kb(pid_t pid) {
    return proc_status_kb(pid, "VmRSS");
}

/* RSS figures of one process over a phase. */
struct rss {
    long start, peak, end;
    int samples;
};

static void rss_begin(struct rss *r, pid_t pid) {
    r->start = r->peak = r->end = rss_kb(pid);
    r->samples = 1;
}

static void rss_sample(struct rss *r, pid_t pid) {
    long kb = rss_kb(pid);
    if (kb < 0)
        return;
    r->end = kb;
    if (kb > r->peak)
        r->peak = kb;
    r->samples++;
}

/* Samples the given processes every 50 ms for `ms`. */
static void sample_for(double ms, struct rss *rs, const pid_t *pids, int n) {
    double until = now_ms() + ms;
    while (now_ms() < until) {
        sleep_ms(50);
        for (int i = 0; i < n; i++)
            rss_sample(&rs[i], pids[i]);
    }
}

static void md_row(const char *what, const struct rss *r, const char *note) {
    printf("  %-40s VmRSS kB start %ld, peak %ld, end %ld (%d samples)  %s\n", what, r->start, r->peak, r->end,
           r->samples, note);
    if (g_md != NULL)
        fprintf(g_md, "| %s | %ld | %ld | %ld | %+ld | %s |\n", what, r->start, r->peak, r->end, r->peak - r->start,
                note);
}

/* ------------------------------------------------------------------ */
/* 1. Queue                                                             */
/* ------------------------------------------------------------------ */

static const char *g_qn;

static void producer_main(void *p) {
    (void)p;
    mpq *q = NULL;
    mpq_options o = {.flags = MPQ_ATTACH_ONLY};
    CHILD_ST(mpq_open(g_qn, &o, &q), MP_OK, 2);
    uint8_t msg[256];
    memset(msg, 'p', sizeof msg);
    while (!atomic_load(&g_sh->stop)) {
        /* Blocks while the queue is full; 100 ms slices to see `stop`. */
        mp_status st = mpq_put_timeout(q, msg, sizeof msg, 100);
        if (st == MP_OK)
            atomic_fetch_add(&g_sh->puts, 1);
        else
            CHILD_REQUIRE(st == MP_E_FULL, 3);
    }
    mpq_close(q);
    _exit(0);
}

static void consumer_main(void *p) {
    (void)p;
    mpq *q = NULL;
    mpq_options o = {.flags = MPQ_ATTACH_ONLY};
    CHILD_ST(mpq_open(g_qn, &o, &q), MP_OK, 2);
    raise(SIGSTOP); /* the parent resumes it for phase B */
    for (;;) {
        mp_buf m = {0};
        mp_status st = mpq_get_timeout(q, &m, 200);
        if (st == MP_E_EMPTY && atomic_load(&g_sh->stop))
            break;
        if (st == MP_E_EMPTY)
            continue;
        CHILD_REQUIRE(st == MP_OK && m.len == 256, 3);
        mp_buf_free(&m);
        atomic_fetch_add(&g_sh->gets, 1);
        if (!atomic_load(&g_sh->stop))
            sleep_ms(1); /* slow */
    }
    mpq_close(q);
    _exit(0);
}

static int proc_state(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    return rp != NULL && rp[1] == ' ' ? rp[2] : '?';
}

/* utime + stime of `pid`, in clock ticks (/proc/PID/stat fields 14, 15). */
static long cpu_ticks(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    CHECK(p != NULL);
    long ut = 0, st = 0;
    /* After ")": state (field 3) ... utime is field 14, stime 15. */
    CHECK(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st) == 2);
    return ut + st;
}

static void flood_queue(void) {
    g_section = "1: queue flood";
    g_qn = qname("q");
    mpq *q = NULL;
    mpq_options o = {.maxsize = 1000, .capacity_bytes = 1 << 20};
    CHECK_OK(mpq_open(g_qn, &o, &q));
    pid_t cons = spawn(consumer_main, NULL);
    /* Wait until the consumer has stopped itself. */
    double until = now_ms() + T_MS;
    while (proc_state(cons) != 'T') {
        CHECK(now_ms() < until);
        sleep_ms(10);
    }
    pid_t prod = spawn(producer_main, NULL);
    pid_t pids[2] = {prod, cons};
    struct rss rs[2];
    sleep_ms(50);
    rss_begin(&rs[0], prod);
    rss_begin(&rs[1], cons);
    sample_for(g_seconds * 1000, rs, pids, 2);
    long puts_a = atomic_load(&g_sh->puts);
    size_t qs = 0;
    CHECK_OK(mpq_qsize(q, &qs));
    printf("flood 1 (queue, maxsize 1000): consumer stopped %.1f s: %ld puts, qsize %zu, producer state %c\n",
           g_seconds, puts_a, qs, proc_state(prod));
    CHECK(puts_a == 1000 && qs == 1000);
    /* Blocked in put (asleep in 100 ms slices), not spinning: under 100 ms
     * of CPU in half a second. */
    long ticks0 = cpu_ticks(prod);
    sleep_ms(500);
    long ticks = cpu_ticks(prod) - ticks0;
    printf("flood 1: producer CPU while the queue is full: %ld ms in 500 ms\n", ticks * 1000 / sysconf(_SC_CLK_TCK));
    CHECK(ticks * 1000 / sysconf(_SC_CLK_TCK) < 100);
    CHECK_ST(mpq_put_timeout(q, (const uint8_t *)"x", 1, 0), MP_E_FULL);
    struct rss stopped[2] = {rs[0], rs[1]};

    kill(cons, SIGCONT);
    sample_for(g_seconds * 1000, rs, pids, 2);
    long puts_b = atomic_load(&g_sh->puts), gets_b = atomic_load(&g_sh->gets);
    printf("flood 1: consumer slow (1 msg/ms) %.1f s: %ld puts, %ld gets in all\n", g_seconds, puts_b, gets_b);
    CHECK(puts_b > puts_a && gets_b > 0);
    atomic_store(&g_sh->stop, 1);
    CHECK_CHILD(prod, T_MS, 0);
    CHECK_CHILD(cons, T_MS, 0);
    CHECK(atomic_load(&g_sh->gets) == atomic_load(&g_sh->puts));
    CHECK_OK(mpq_qsize(q, &qs));
    CHECK(qs == 0);
    mpq_close(q);
    CHECK_OK(mpq_unlink(g_qn));

    char note[160];
    snprintf(note, sizeof note, "consumer stopped: %ld puts then blocked (maxsize 1000)", puts_a);
    md_row("queue: producer, consumer stopped", &stopped[0], note);
    md_row("queue: consumer (stopped)", &stopped[1], "SIGSTOPped");
    snprintf(note, sizeof note, "consumer slow: %ld puts, %ld gets in all, none lost", puts_b,
             atomic_load(&g_sh->gets));
    md_row("queue: producer, whole run", &rs[0], note);
    md_row("queue: consumer, whole run", &rs[1], "1 message per ms");
    CHECK(rs[0].peak - rs[0].start < 8 * 1024 && rs[1].peak - rs[1].start < 8 * 1024);
}

/* ------------------------------------------------------------------ */
/* 2. Pipe                                                              */
/* ------------------------------------------------------------------ */

static mp_pipe *g_send_end, *g_recv_end;

static void reader_main(void *p) {
    (void)p;
    mp_pipe_close(g_send_end);
    for (;;)
        pause(); /* never reads */
}

static void sender_main(void *p) {
    (void)p;
    mp_pipe_close(g_recv_end);
    static uint8_t msg[64 * 1024];
    memset(msg, 's', sizeof msg);
    for (;;) {
        mp_status st = mp_pipe_send(g_send_end, msg, sizeof msg);
        if (st != MP_OK) {
            atomic_store(&g_sh->send_status, st);
            _exit(st == MP_E_EOF ? 0 : 3);
        }
        atomic_fetch_add(&g_sh->sent, 1);
    }
}

static void flood_pipe(void) {
    g_section = "2: pipe flood";
    CHECK_OK(mp_pipe_new(true, &g_send_end, &g_recv_end));
    pid_t reader = spawn(reader_main, NULL);
    pid_t sender = spawn(sender_main, NULL);
    mp_pipe_close(g_send_end);
    mp_pipe_close(g_recv_end);
    struct rss rs;
    sleep_ms(50);
    rss_begin(&rs, sender);
    sample_for(g_seconds * 1000, &rs, &sender, 1);
    wait_asleep(sender);
    long sent1 = atomic_load(&g_sh->sent);
    sleep_ms(200);
    long sent2 = atomic_load(&g_sh->sent);
    printf("flood 2 (pipe, peer never reads): %ld messages of 64 KiB sent, then blocked (state %c)\n", sent2,
           proc_state(sender));
    CHECK(sent1 == sent2 && proc_state(sender) == 'S');
    CHECK(sent2 * 64 * 1024 < 16 * MiB);
    char note[160];
    snprintf(note, sizeof note, "%ld x 64 KiB accepted by the kernel, then send blocked; peer killed -> MP_E_EOF",
             sent2);
    kill(reader, SIGKILL);
    CHECK(wait_child(reader, T_MS) == -1000 - SIGKILL);
    CHECK_CHILD(sender, T_MS, 0); /* MP_E_EOF, not killed by SIGPIPE */
    CHECK(atomic_load(&g_sh->send_status) == MP_E_EOF);
    md_row("pipe: sender, peer never reads", &rs, note);
    CHECK(rs.peak - rs.start < 8 * 1024);
}

/* ------------------------------------------------------------------ */
/* 3 and 4. Manager                                                     */
/* ------------------------------------------------------------------ */

static char g_mgr_addr[96];
static const uint8_t NO_ARGS[] = {0x80};

static void server_main(void *p) {
    (void)p;
    mp_mgr_server *s = NULL;
    if (mp_mgr_serve(g_mgr_addr, NULL, 0, &s) != MP_OK) {
        fprintf(stderr, "[server] %s\n", mp_last_error());
        _exit(10);
    }
    for (;;)
        pause();
}

static void ping(mp_mgr *m) {
    mp_buf r = {0};
    CHECK_OK(mp_mgr_call(m, "manager", "", "ping", NO_ARGS, 1, &r));
    mp_buf_free(&r);
}

/* A raw connection to the abstract address (no key: no handshake). */
static int raw_connect_abstract(const char *addr) {
    const char *name = addr + strlen("unix:@");
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(name);
    CHECK(n + 1 < sizeof sa.sun_path);
    memcpy(sa.sun_path + 1, name, n);
    CHECK(connect(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) == 0);
    return fd;
}

/* The ping request [id, "manager", "", "ping", []] with a 4-byte id, framed:
 * 4 + 1 + 5 + 8 + 1 + 5 + 1 = 25 bytes. */
#define PING_FRAME 25
static void ping_frame(uint8_t *f, uint32_t id) {
    static const uint8_t tail[] = {0x67, 'm', 'a', 'n', 'a', 'g', 'e', 'r', 0x60, 0x64, 'p', 'i', 'n', 'g', 0x80};
    uint32_t body = PING_FRAME - 4;
    f[0] = (uint8_t)(body >> 24), f[1] = (uint8_t)(body >> 16), f[2] = (uint8_t)(body >> 8), f[3] = (uint8_t)body;
    f[4] = 0x85;
    f[5] = 0x1a; /* uint32 id */
    f[6] = (uint8_t)(id >> 24), f[7] = (uint8_t)(id >> 16), f[8] = (uint8_t)(id >> 8), f[9] = (uint8_t)id;
    memcpy(f + 10, tail, sizeof tail);
}

static void flood_manager_pipeline(pid_t server) {
    g_section = "3: manager pipelined flood";
    int fd = raw_connect_abstract(g_mgr_addr);
    CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
    struct rss rs;
    rss_begin(&rs, server);
    /* 2600 frames per chunk (65000 bytes); ids count up. */
    enum { PER_CHUNK = 2600 };
    static uint8_t chunk[PER_CHUNK * PING_FRAME];
    uint64_t written = 0;
    uint32_t next_id = 1;
    size_t off = sizeof chunk; /* bytes of `chunk` already written */
    double last_sample = now_ms(), stalled_since = -1;
    for (;;) {
        if (off == sizeof chunk) {
            for (int i = 0; i < PER_CHUNK; i++)
                ping_frame(chunk + i * PING_FRAME, next_id++);
            off = 0;
        }
        ssize_t w = write(fd, chunk + off, sizeof chunk - off);
        if (w > 0) {
            off += (size_t)w;
            written += (uint64_t)w;
            stalled_since = -1;
        } else {
            CHECK(w < 0 && (errno == EAGAIN || errno == EINTR));
            if (stalled_since < 0)
                stalled_since = now_ms();
            if (now_ms() - stalled_since > 1000)
                break; /* the server has stopped taking requests */
            struct pollfd pf = {fd, POLLOUT, 0};
            (void)poll(&pf, 1, 50);
        }
        if (now_ms() - last_sample >= 50) {
            rss_sample(&rs, server);
            last_sample = now_ms();
        }
        CHECK(written < 256 * (uint64_t)MiB); /* else there is no backpressure */
    }
    rss_sample(&rs, server);
    /* The last frame may be partly written: finish it (while reading, as
     * the server is blocked sending to us), and count it. */
    size_t rest = (size_t)((PING_FRAME - written % PING_FRAME) % PING_FRAME);
    uint64_t requests = (written + rest) / PING_FRAME;
    printf("flood 3 (manager, replies never read): %llu bytes (%llu requests) written before the server stopped "
           "reading\n",
           (unsigned long long)written, (unsigned long long)requests);
    /* Read every reply: [id, 0, null], ids in order. */
    uint64_t replies = 0;
    static uint8_t buf[65536];
    size_t have = 0;
    double deadline = now_ms() + 6 * T_MS;
    while (replies < requests) {
        CHECK(now_ms() < deadline);
        struct pollfd pf = {fd, (short)(POLLIN | (rest > 0 ? POLLOUT : 0)), 0};
        CHECK(poll(&pf, 1, T_MS) == 1);
        if (rest > 0 && (pf.revents & POLLOUT)) {
            ssize_t w = write(fd, chunk + off, rest);
            if (w > 0) {
                off += (size_t)w;
                rest -= (size_t)w;
            }
        }
        if (!(pf.revents & POLLIN))
            continue;
        ssize_t r = read(fd, buf + have, sizeof buf - have);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        CHECK(r > 0);
        have += (size_t)r;
        size_t pos = 0;
        while (have - pos >= 4) {
            uint32_t n = (uint32_t)buf[pos] << 24 | (uint32_t)buf[pos + 1] << 16 | (uint32_t)buf[pos + 2] << 8 |
                         buf[pos + 3];
            CHECK(n > 0 && n < 64);
            if (have - pos < 4 + n)
                break;
            const uint8_t *b = buf + pos + 4;
            uint32_t want = (uint32_t)(replies + 1), id;
            if (b[1] < 0x18)
                id = b[1];
            else if (b[1] == 0x18)
                id = b[2];
            else if (b[1] == 0x19)
                id = (uint32_t)b[2] << 8 | b[3];
            else
                id = (uint32_t)b[2] << 24 | (uint32_t)b[3] << 16 | (uint32_t)b[4] << 8 | b[5];
            CHECK(b[0] == 0x83 && id == want);
            replies++;
            pos += 4 + n;
        }
        memmove(buf, buf + pos, have - pos);
        have -= pos;
    }
    rss_sample(&rs, server);
    close(fd);
    char note[200];
    snprintf(note, sizeof note,
             "%llu ping requests (%.1f MiB) written before the server stopped reading; then all %llu replies read, "
             "in order",
             (unsigned long long)requests, (double)written / MiB, (unsigned long long)replies);
    md_row("manager server, pipelined flood", &rs, note);
    CHECK(rs.peak - rs.start < 32 * 1024);
}

/* The CBOR array [h'<n bytes>'] for a 4 KiB item. */
static size_t item_args(uint8_t *out, uint32_t fill) {
    out[0] = 0x81;
    out[1] = 0x59;
    out[2] = 0x10;
    out[3] = 0x00; /* bytes(4096) */
    memset(out + 4, (int)(fill & 0xff), 4096);
    return 4 + 4096;
}

static void grow_round(mp_mgr *m, const char *kind, const char *name, int items, pid_t server, struct rss *rs) {
    static uint8_t args[4 + 4096];
    const char *add = strcmp(kind, "list") == 0 ? "append" : "put";
    const char *take = strcmp(kind, "list") == 0 ? "pop" : "get";
    mp_buf r = {0};
    for (int i = 0; i < items; i++) {
        size_t n = item_args(args, (uint32_t)i);
        CHECK_OK(mp_mgr_call(m, kind, name, add, args, n, &r));
        mp_buf_free(&r);
        if (i % 200 == 0)
            rss_sample(rs, server);
    }
    rss_sample(rs, server);
    for (int i = 0; i < items; i++) {
        CHECK_OK(mp_mgr_call(m, kind, name, take, NO_ARGS, 1, &r));
        CHECK(r.len == 3 + 4096);
        mp_buf_free(&r);
    }
    rss_sample(rs, server);
}

static void manager_growth(mp_mgr *m, pid_t server, const char *kind) {
    g_section = "4: manager growth";
    const int items = 2000;
    const long stored_kb = items * 4L;
    struct rss r1, r2;
    rss_begin(&r1, server);
    grow_round(m, kind, "grow", items, server, &r1);
    r2 = r1;
    r2.samples = 0;
    grow_round(m, kind, "grow", items, server, &r2);
    char note[200];
    snprintf(note, sizeof note, "%d items of 4 KiB (%ld kB stored), taken back, then again: peak %ld kB, then %ld kB",
             items, stored_kb, r1.peak, r2.peak);
    char what[64];
    snprintf(what, sizeof what, "manager server, %s of 8 MiB x 2", kind);
    struct rss all = {r1.start, r2.peak > r1.peak ? r2.peak : r1.peak, r2.end, r1.samples + r2.samples};
    md_row(what, &all, note);
    CHECK(r1.peak - r1.start >= stored_kb / 2);             /* the measure sees the items */
    CHECK(r1.peak - r1.start <= 3 * stored_kb + 8 * 1024);  /* ... and little else */
    CHECK(r2.peak - r1.peak <= 8 * 1024);                   /* reused the second time */
    mp_buf r = {0};
    CHECK_OK(mp_mgr_call(m, "manager", "grow", "delete", NO_ARGS, 1, &r));
    mp_buf_free(&r);
}

int main(int argc, char **argv) {
    const char *md = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            g_seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--md") == 0 && i + 1 < argc)
            md = argv[++i];
        else {
            fprintf(stderr, "usage: flood [--seconds S] [--md FILE]\n");
            return 2;
        }
    }
    CHECK(g_seconds >= 0.2 && g_seconds <= 600);
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_check_on_fail = kill_kids;
    start_watchdog("flood", (unsigned)(60 + 10 * g_seconds));
    double t0 = now_ms();
    g_sh = mmap(NULL, sizeof *g_sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(g_sh != MAP_FAILED);
    memset(g_sh, 0, sizeof *g_sh);
    if (md != NULL) {
        g_md = fopen(md, "w");
        CHECK(g_md != NULL);
        fprintf(g_md,
                "### Memory under a flood (`make hygiene`)\n\n"
                "tests/hygiene/flood.c, %.1f s per phase, every process's VmRSS sampled every 50 ms (kB). "
                "Each row is one process; the bounds asserted are in the file's header.\n\n"
                "| process, scenario | VmRSS start | peak | end | peak - start | what happened |\n"
                "|---|---:|---:|---:|---:|---|\n",
                g_seconds);
    }
    printf("flood: %.1f s per phase\n", g_seconds);

    snprintf(g_mgr_addr, sizeof g_mgr_addr, "unix:@flood-%ld-mgr", (long)getpid());
    pid_t server = spawn(server_main, NULL);
    flood_queue();
    flood_pipe();

    mp_mgr *m = NULL;
    double until = now_ms() + T_MS;
    while (mp_mgr_connect(g_mgr_addr, NULL, 0, 1000, &m) != MP_OK) {
        CHECK(now_ms() < until);
        sleep_ms(20);
    }
    ping(m);
    flood_manager_pipeline(server);
    ping(m); /* others are served as before */
    manager_growth(m, server, "list");
    manager_growth(m, server, "queue");
    mp_mgr_close(m);
    kill(server, SIGKILL);
    CHECK(wait_child(server, T_MS) == -1000 - SIGKILL);
    if (g_md != NULL)
        fclose(g_md);
    alarm(0);
    return check_summary("flood", t0);
}
