/*
 * test_redis_faults.c: faults of the queue (and the manager) at a Redis
 * address (issue 22, "Faults"; docs/REDIS.md), through the C ABI, with
 * servers of our own (scripts/redis-server.sh, through redis_server.h).
 *
 *  1. Unreachable servers: a port where nothing listens -> MP_E_IO, and a
 *     missing unix socket -> MP_E_IO, at once; a listener that accepts
 *     connections and never answers, with ?timeout_ms=200 -> MP_E_TIMEOUT
 *     (it returns: only a generous sanity bound, 20x, is checked).
 *  2. Passwords (a second server with requirepass): wrong -> MP_E_AUTH,
 *     missing -> MP_E_AUTH, right -> works; over TCP and the unix socket,
 *     in the address or (manager) as the authkey; no message ever contains
 *     a password.
 *  3. Bad addresses -> MP_E_INVAL, mp_last_error_message naming the wrong
 *     part (port, db, name, path, option, scheme, host, fragment...) and
 *     never containing the password.
 *  4. What does not apply: capacity_bytes != 0, mode != 0, rediss:// and
 *     valkeys:// -> MP_E_UNSUPPORTED at open; mpq_reserve and mpq_get_view
 *     on an open handle -> MP_E_UNSUPPORTED.
 *  5. The server SIGKILLed and restarted on its port and AOF (appendfsync
 *     always): a get blocked in another process returns MP_E_EOF; a
 *     producer process putting in a loop gets MP_E_EOF; an idle handle's
 *     next call gets MP_E_EOF and the call after it a clear MP_E_IO while
 *     the server is down; after the restart a handle's first call gets
 *     MP_E_EOF (its connection died with the server) and the following
 *     calls work, in every process; every put acknowledged with MP_OK is
 *     there, in order (the producer's unacknowledged last put may be too);
 *     the manager likewise keeps its counter.
 *
 * Prints "N passed, 0 failed" and exits 0 on success.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mpipc.h"

#define CHECK_NAME_PREFIX "credisf"
#define CHECK_CHILD_ALARM_S 240
#include "check.h"
#include "redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>

/* The passwords of section 2 and 3: no message may contain them. */
#define PW_RIGHT "pw-Sekr3t-9q"
#define PW_WRONG "wrong-Zq9xW"

static struct redis_srv g_srv;  /* the plain server */
static struct redis_srv g_auth; /* the one with requirepass */

/* MAP_SHARED | MAP_ANONYMOUS, inherited by the children. */
struct shared {
    atomic_int in_call;
    atomic_int restarted;
    atomic_int getter_st[3];
    atomic_int getter_done;
    atomic_long acked;    /* the producer's puts that returned MP_OK */
    atomic_int prod_st;   /* the status of its failed put */
    atomic_int prod_done;
};
static struct shared *g_sh;

/* This thread's last error message (mp_last_error_message). */
static const char *last_message(void) {
    static char buf[1024];
    size_t len = 0;
    CHECK_OK(mp_last_error_message(buf, sizeof buf, &len));
    CHECK(len == strlen(buf));
    return buf;
}

/* The last message names `part` (case-sensitive substring) and holds no
 * password. */
static void check_message(const char *url, const char *part) {
    const char *m = last_message();
    int ok = strstr(m, part) != NULL && strstr(m, PW_RIGHT) == NULL && strstr(m, PW_WRONG) == NULL;
    if (!ok)
        fprintf(stderr, "for %s: message \"%s\" should name \"%s\" and hold no password\n", url, m, part);
    CHECK(ok);
}

/* mpq_open(url) returns `want`, with a message naming `part` (NULL: no
 * check of the message but the password one). */
static void open_fails(const char *url, const mpq_options *o, mp_status want, const char *part) {
    mpq *q = NULL;
    mp_status st = mpq_open(url, o, &q);
    if (st != want)
        fprintf(stderr, "mpq_open(%s): %s, want %s (\"%s\")\n", url, mp_status_str(st), mp_status_str(want),
                mp_last_error());
    CHECK(st == want);
    CHECK(q == NULL);
    check_message(url, part != NULL ? part : "");
}

/* A loopback TCP socket bound to a free port; listening if `listening`.
 * Bound but not listening, connections to it are refused. */
static int loopback_socket(int listening, int *port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t alen = sizeof a;
    CHECK(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
    *port = ntohs(a.sin_port);
    if (listening)
        CHECK(listen(fd, 64) == 0);
    return fd;
}

/* ------------------------------------------------------------------ */
/* 1. Unreachable                                                       */
/* ------------------------------------------------------------------ */

static void test_unreachable(void) {
    char url[256];
    int port;

    /* Refused: the port is bound (so nobody else gets it) but not listening. */
    int refused = loopback_socket(0, &port);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/%s", port, qname("refused"));
    double t = now_ms();
    open_fails(url, NULL, MP_E_IO, "127.0.0.1");
    CHECK(now_ms() - t < 10000.0); /* sanity: it does not wait for anything */
    CHECK_ST(mpq_unlink(url), MP_E_IO);
    mp_mgr *m = NULL;
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    CHECK_ST(mp_mgr_connect(url, NULL, 0, 5000, &m), MP_E_IO);
    CHECK(m == NULL);
    close(refused);

    /* A unix socket that does not exist. */
    snprintf(url, sizeof url, "redis+unix://%s/%s", tmp_path("nosuch.sock"), qname("nosock"));
    open_fails(url, NULL, MP_E_IO, "nosuch.sock");

    /* Silent: the kernel accepts (the listen backlog), nobody answers. */
    int silent = loopback_socket(1, &port);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/%s?timeout_ms=200", port, qname("silent"));
    t = now_ms();
    open_fails(url, NULL, MP_E_TIMEOUT, "127.0.0.1");
    CHECK(now_ms() - t < 20 * 200.0);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d?timeout_ms=200", port);
    t = now_ms();
    CHECK_ST(mp_mgr_connect(url, NULL, 0, 200, &m), MP_E_TIMEOUT);
    CHECK(now_ms() - t < 20 * 200.0);
    close(silent);
}

/* ------------------------------------------------------------------ */
/* 2. Passwords                                                         */
/* ------------------------------------------------------------------ */

static void test_auth(void) {
    char url[256];
    const char *name = qname("auth");
    redis_start(&g_auth, PW_RIGHT);

    redis_addr(&g_auth, url, sizeof url, "/%s", name);
    open_fails(url, NULL, MP_E_AUTH, "");
    snprintf(url, sizeof url, "redis://:" PW_WRONG "@127.0.0.1:%d/%s", g_auth.port, name);
    open_fails(url, NULL, MP_E_AUTH, "");
    snprintf(url, sizeof url, "redis://default:" PW_WRONG "@127.0.0.1:%d/%s", g_auth.port, name);
    open_fails(url, NULL, MP_E_AUTH, "");
    redis_uaddr(&g_auth, url, sizeof url, "/%s?password=" PW_WRONG, name);
    open_fails(url, NULL, MP_E_AUTH, "");
    redis_uaddr(&g_auth, url, sizeof url, "/%s", name);
    open_fails(url, NULL, MP_E_AUTH, "");

    /* The right one, in each form: the queue works. */
    char tcp[256], tcp_user[256], unix_[256];
    snprintf(tcp, sizeof tcp, "redis://:" PW_RIGHT "@127.0.0.1:%d/%s", g_auth.port, name);
    snprintf(tcp_user, sizeof tcp_user, "redis://default:" PW_RIGHT "@127.0.0.1:%d/%s", g_auth.port, name);
    redis_uaddr(&g_auth, unix_, sizeof unix_, "/%s?password=" PW_RIGHT, name);
    keep_name(tcp);
    mpq *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(mpq_open(tcp, NULL, &a));
    CHECK_OK(mpq_open(tcp_user, NULL, &b));
    CHECK_OK(mpq_open(unix_, NULL, &c));
    CHECK_OK(mpq_put(a, (const uint8_t *)"one", 3));
    CHECK_OK(mpq_put(b, (const uint8_t *)"two", 3));
    mp_buf m = {0};
    CHECK_OK(mpq_get(c, &m));
    CHECK(m.len == 3 && memcmp(m.ptr, "one", 3) == 0);
    mp_buf_free(&m);
    CHECK_OK(mpq_get(c, &m));
    CHECK(m.len == 3 && memcmp(m.ptr, "two", 3) == 0);
    mp_buf_free(&m);
    /* An error on an authenticated address does not show the password. */
    mpq_options o = {.flags = MPQ_CREATE_ONLY};
    open_fails(tcp, &o, MP_E_EXISTS, "");
    mpq_close(a);
    mpq_close(b);
    mpq_close(c);
    CHECK_OK(mpq_unlink(unix_));

    /* The manager: the same answers. */
    mp_mgr *mg = NULL;
    redis_addr(&g_auth, url, sizeof url, "");
    CHECK_ST(mp_mgr_connect(url, NULL, 0, 5000, &mg), MP_E_AUTH);
    check_message(url, "");
    snprintf(url, sizeof url, "redis://:" PW_WRONG "@127.0.0.1:%d", g_auth.port);
    CHECK_ST(mp_mgr_connect(url, NULL, 0, 5000, &mg), MP_E_AUTH);
    check_message(url, "");
    snprintf(url, sizeof url, "redis://:" PW_RIGHT "@127.0.0.1:%d", g_auth.port);
    CHECK_OK(mp_mgr_connect(url, NULL, 0, 5000, &mg));
    mp_mgr_close(mg);
    /* The authkey is the password of a manager at a Redis address. */
    redis_addr(&g_auth, url, sizeof url, "");
    CHECK_ST(mp_mgr_connect(url, (const uint8_t *)PW_WRONG, strlen(PW_WRONG), 5000, &mg), MP_E_AUTH);
    check_message(url, "");
    CHECK_OK(mp_mgr_connect(url, (const uint8_t *)PW_RIGHT, strlen(PW_RIGHT), 5000, &mg));
    mp_mgr_close(mg);

    redis_stop(&g_auth);
}

/* ------------------------------------------------------------------ */
/* 3. Bad addresses                                                     */
/* ------------------------------------------------------------------ */

struct bad {
    const char *fmt; /* %d: the server's port */
    const char *part;
};

static const struct bad BAD_QUEUE[] = {
    {"redis://127.0.0.1:99999/q", "port"},
    {"redis://127.0.0.1:0/q", "port"},
    {"redis://127.0.0.1:abc/q", "port"},
    {"redis://:" PW_RIGHT "@127.0.0.1:x1/q", "port"},
    {"redis://127.0.0.1:%d/x/q", "db"},
    {"redis://127.0.0.1:%d/-1/q", "db"},
    {"redis://u:" PW_RIGHT "@127.0.0.1:%d/zz/q", "db"},
    {"redis://127.0.0.1:%d/0/bad*name", "name"},
    {"redis://127.0.0.1:%d/0/.hidden", "name"},
    {"redis://127.0.0.1:%d/0/with{brace}", "name"},
    {"redis://127.0.0.1:%d", "name"},
    {"redis://127.0.0.1:%d/", "name"},
    {"redis://127.0.0.1:%d/0/q/extra", "path"},
    {"redis://127.0.0.1:%d/q?bogus=1", "option"},
    {"redis://:" PW_RIGHT "@127.0.0.1:%d/q?pass=" PW_WRONG, "option"},
    {"redis+unix:///tmp/credisf.sock/q?password=" PW_RIGHT "&bogus=1", "option"},
    {"redis://127.0.0.1:%d/q?ack=sometimes", "ack"},
    {"redis://127.0.0.1:%d/q?lease_ms=soon", "lease_ms"},
    {"redis://127.0.0.1:%d/q?timeout_ms=-5", "timeout_ms"},
    {"redis://127.0.0.1:%d/q?ns=a{b}", "namespace"},
    {"ftp://127.0.0.1:%d/q", "scheme"},
    {"http://127.0.0.1:%d/q", "scheme"},
    {"://127.0.0.1:%d/q", "scheme"},
    {"redis://:%d/q", "host"},
    {"redis://bad host:%d/q", "host"},
    {"redis://127.0.0.1:%d/q#frag", "fragment"},
    {"redis+unix://relative/redis.sock/q", "absolute path"},
    {"redis://:Sek%%zz@127.0.0.1:%d/q", "password"}, /* a bad escape: named, not shown */
};

static const struct bad BAD_MANAGER[] = {
    {"redis://127.0.0.1:99999", "port"},
    {"redis://:" PW_RIGHT "@127.0.0.1:abc", "port"},
    {"redis://127.0.0.1:%d/x", "db"},
    {"redis://127.0.0.1:%d/0/q", "[/db]"}, /* a manager address has no name */
    {"redis://127.0.0.1:%d?bogus=1", "option"},
    {"ftp://127.0.0.1:%d", "scheme"},
};

static void test_bad_addresses(void) {
    char url[256];
    for (size_t i = 0; i < sizeof BAD_QUEUE / sizeof BAD_QUEUE[0]; i++) {
        snprintf(url, sizeof url, BAD_QUEUE[i].fmt, g_srv.port);
        open_fails(url, NULL, MP_E_INVAL, BAD_QUEUE[i].part);
        CHECK(strstr(last_message(), "Sek%zz") == NULL);
        CHECK_ST(mpq_unlink(url), MP_E_INVAL);
        check_message(url, BAD_QUEUE[i].part);
    }
    for (size_t i = 0; i < sizeof BAD_MANAGER / sizeof BAD_MANAGER[0]; i++) {
        snprintf(url, sizeof url, BAD_MANAGER[i].fmt, g_srv.port);
        mp_mgr *m = NULL;
        mp_status st = mp_mgr_connect(url, NULL, 0, 5000, &m);
        if (st != MP_E_INVAL)
            fprintf(stderr, "mp_mgr_connect(%s): %s (\"%s\")\n", url, mp_status_str(st), mp_last_error());
        CHECK(st == MP_E_INVAL);
        check_message(url, BAD_MANAGER[i].part);
    }
}

/* ------------------------------------------------------------------ */
/* 4. What does not apply                                               */
/* ------------------------------------------------------------------ */

static void test_unsupported(void) {
    char url[256];
    const char *name = qname("unsup");
    redis_addr(&g_srv, url, sizeof url, "/%s", name);
    keep_name(url);
    mpq_options o = {.capacity_bytes = 4096};
    open_fails(url, &o, MP_E_UNSUPPORTED, "capacity_bytes");
    o = (mpq_options){.mode = 0644};
    open_fails(url, &o, MP_E_UNSUPPORTED, "mode");
    char tls[256];
    snprintf(tls, sizeof tls, "rediss://127.0.0.1:%d/%s", g_srv.port, name);
    open_fails(tls, NULL, MP_E_UNSUPPORTED, "TLS");
    snprintf(tls, sizeof tls, "valkeys://:" PW_RIGHT "@127.0.0.1:%d/%s", g_srv.port, name);
    open_fails(tls, NULL, MP_E_UNSUPPORTED, "TLS");
    mp_mgr *m = NULL;
    snprintf(tls, sizeof tls, "rediss://127.0.0.1:%d", g_srv.port);
    CHECK_ST(mp_mgr_connect(tls, NULL, 0, 5000, &m), MP_E_UNSUPPORTED);
    check_message(tls, "TLS");

    /* Nothing was created by the refused opens. */
    CHECK_ST(mpq_unlink(url), MP_E_NOTFOUND);

    mpq *q = NULL;
    CHECK_OK(mpq_open(url, NULL, &q));
    mpq_reservation r;
    CHECK_ST(mpq_reserve(q, 16, 0, &r), MP_E_UNSUPPORTED);
    CHECK_ST(mpq_reserve(q, 16, -1, &r), MP_E_UNSUPPORTED);
    mpq_view v;
    CHECK_ST(mpq_get_view(q, 0, &v), MP_E_UNSUPPORTED);
    CHECK_ST(mpq_get_view(q, -1, &v), MP_E_UNSUPPORTED);
    /* The handle still works, and nothing was taken or put. */
    size_t qs = 99;
    CHECK_OK(mpq_qsize(q, &qs));
    CHECK(qs == 0);
    CHECK_OK(mpq_put(q, (const uint8_t *)"ok", 2));
    mp_buf b = {0};
    CHECK_OK(mpq_get(q, &b));
    CHECK(b.len == 2);
    mp_buf_free(&b);
    mpq_close(q);
    CHECK_OK(mpq_unlink(url));
}

/* ------------------------------------------------------------------ */
/* 5. The server killed and restarted                                   */
/* ------------------------------------------------------------------ */

#define RESTART_K 300

static const char *g_getter_addr;
static const char *g_producer_addr;

/* Blocks in a get on an empty queue while the server dies. */
static void getter_main(void *arg) {
    (void)arg;
    mpq *q = NULL;
    CHILD_ST(mpq_open(g_getter_addr, NULL, &q), MP_OK, 40);
    mp_buf b = {0};
    atomic_store(&g_sh->in_call, 1);
    atomic_store(&g_sh->getter_st[0], mpq_get(q, &b));
    atomic_store(&g_sh->getter_done, 1);
    while (atomic_load(&g_sh->restarted) == 0) {
        /* Waits for the parent's "restarted" (it polls nothing else). */
        sleep_ms(1);
    }
    /* The next calls work (this process dials anew). */
    atomic_store(&g_sh->getter_st[1], mpq_get_timeout(q, &b, 0));
    atomic_store(&g_sh->getter_st[2], mpq_put(q, (const uint8_t *)"after", 5));
    atomic_store(&g_sh->getter_done, 2);
    mpq_close(q);
}

/* Puts 8-byte messages 0, 1, 2, ... until a put fails. */
static void producer_main(void *arg) {
    (void)arg;
    mpq *q = NULL;
    CHILD_ST(mpq_open(g_producer_addr, NULL, &q), MP_OK, 41);
    for (uint64_t s = 0;; s++) {
        mp_status st = mpq_put(q, (const uint8_t *)&s, sizeof s);
        if (st != MP_OK) {
            atomic_store(&g_sh->prod_st, st);
            break;
        }
        atomic_store(&g_sh->acked, (long)(s + 1));
    }
    atomic_store(&g_sh->prod_done, 1);
    mpq_close(q);
}

/* CBOR text "n": the manager's counter key. */
static const uint8_t KEY_N[] = {0x61, 'n'};

static void test_restart(void) {
    char ra[256], ga[256], pa[256], ma[256];
    memset(g_sh, 0, sizeof *g_sh);
    redis_addr(&g_srv, ra, sizeof ra, "/%s", qname("restart"));
    redis_uaddr(&g_srv, ga, sizeof ga, "/%s", qname("restart-get"));
    redis_addr(&g_srv, pa, sizeof pa, "/%s", qname("restart-put"));
    keep_name(ra);
    keep_name(ga);
    keep_name(pa);
    g_getter_addr = ga;
    g_producer_addr = pa;

    mpq *q = NULL, *idle = NULL;
    CHECK_OK(mpq_open(ra, NULL, &q));
    CHECK_OK(mpq_open(ra, NULL, &idle));
    char msg[32];
    for (int i = 0; i < RESTART_K; i++) {
        int n = snprintf(msg, sizeof msg, "r%d", i);
        CHECK_OK(mpq_put(q, (const uint8_t *)msg, (size_t)n));
    }
    size_t qs = 0;
    CHECK_OK(mpq_qsize(idle, &qs)); /* idle has a pooled connection now */
    CHECK(qs == RESTART_K);
    redis_addr(&g_srv, ma, sizeof ma, "?ns=%s", qname("restart-ns"));
    mp_mgr *m = NULL;
    CHECK_OK(mp_mgr_connect(ma, NULL, 0, 10000, &m));
    int64_t v = 0;
    CHECK_OK(mp_mgr_dict_incr(m, "c", KEY_N, sizeof KEY_N, 41, &v));
    CHECK(v == 41);

    pid_t getter = spawn(getter_main, NULL);
    pid_t producer = spawn(producer_main, NULL);
    while (atomic_load(&g_sh->acked) < 50) {
        CHECK(waitpid(producer, NULL, WNOHANG) == 0);
        sleep_ms(1);
    }
    while (atomic_load(&g_sh->in_call) == 0)
        sleep_ms(1);
    wait_asleep(getter);

    redis_kill9(&g_srv);

    /* The get in flight in the other process: MP_E_EOF. */
    while (atomic_load(&g_sh->getter_done) == 0) {
        CHECK(waitpid(getter, NULL, WNOHANG) == 0);
        sleep_ms(1);
    }
    CHECK(atomic_load(&g_sh->getter_st[0]) == MP_E_EOF);
    /* The producer's put: MP_E_EOF too (its connection died under it). */
    CHECK_CHILD(producer, 60000, 0);
    CHECK(atomic_load(&g_sh->prod_done) == 1);
    if (atomic_load(&g_sh->prod_st) != MP_E_EOF)
        fprintf(stderr, "the producer's failed put: %s\n", mp_status_str(atomic_load(&g_sh->prod_st)));
    CHECK(atomic_load(&g_sh->prod_st) == MP_E_EOF);
    long acked = atomic_load(&g_sh->acked);

    /* While it is down: the pooled connection is dead (MP_E_EOF), then
     * dialling is refused (MP_E_IO): clear errors, no hang. */
    CHECK_ST(mpq_qsize(q, &qs), MP_E_EOF);
    CHECK_ST(mpq_qsize(q, &qs), MP_E_IO);
    CHECK_ST(mpq_put(q, (const uint8_t *)"lost", 4), MP_E_IO);

    redis_restart(&g_srv);
    atomic_store(&g_sh->restarted, 1);

    /* The handle used during the outage dials anew: works at once. */
    CHECK_OK(mpq_qsize(q, &qs));
    CHECK(qs == RESTART_K);
    /* The idle handle: its connection died with the server. */
    CHECK_ST(mpq_qsize(idle, &qs), MP_E_EOF);
    CHECK_OK(mpq_qsize(idle, &qs));
    CHECK(qs == RESTART_K);
    /* The manager alike, and its counter survived. */
    CHECK_ST(mp_mgr_dict_incr(m, "c", KEY_N, sizeof KEY_N, 1, &v), MP_E_EOF);
    CHECK_OK(mp_mgr_dict_incr(m, "c", KEY_N, sizeof KEY_N, 1, &v));
    CHECK(v == 42); /* the failed call did not run: the server was gone */
    mp_mgr_close(m);

    /* The getter process: works after the restart. */
    CHECK_CHILD(getter, 60000, 0);
    CHECK(atomic_load(&g_sh->getter_done) == 2);
    CHECK(atomic_load(&g_sh->getter_st[1]) == MP_E_EMPTY);
    CHECK(atomic_load(&g_sh->getter_st[2]) == MP_OK);

    /* Every acknowledged put is there, in order. */
    mp_buf b = {0};
    for (int i = 0; i < RESTART_K; i++) {
        CHECK_OK(mpq_get_timeout(q, &b, 0));
        int n = snprintf(msg, sizeof msg, "r%d", i);
        CHECK(b.len == (size_t)n && memcmp(b.ptr, msg, (size_t)n) == 0);
        mp_buf_free(&b);
    }
    CHECK_ST(mpq_get_timeout(q, &b, 0), MP_E_EMPTY);
    mpq_close(q);
    mpq_close(idle);

    /* The producer's: 0 .. acked-1, and perhaps the one whose put failed
     * (the server may have applied it before dying). */
    CHECK_OK(mpq_open(pa, NULL, &q));
    CHECK_OK(mpq_qsize(q, &qs));
    CHECK(qs == (size_t)acked || qs == (size_t)acked + 1);
    for (size_t s = 0; s < qs; s++) {
        CHECK_OK(mpq_get_timeout(q, &b, 0));
        uint64_t got = 0;
        CHECK(b.len == sizeof got);
        memcpy(&got, b.ptr, sizeof got);
        CHECK(got == s);
        mp_buf_free(&b);
    }
    mpq_close(q);
    printf("restart: %ld puts acknowledged before the kill, %zu found after the restart\n", acked, qs);

    CHECK_OK(mpq_open(ga, NULL, &q));
    CHECK_OK(mpq_get_timeout(q, &b, 0));
    CHECK(b.len == 5 && memcmp(b.ptr, "after", 5) == 0);
    mp_buf_free(&b);
    mpq_close(q);
    CHECK_OK(mpq_unlink(ra));
    CHECK_OK(mpq_unlink(ga));
    CHECK_OK(mpq_unlink(pa));
}

int main(void) {
    start_watchdog("test_redis_faults", 600);
    redis_guard();
    g_sh = mmap(NULL, sizeof *g_sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(g_sh != MAP_FAILED);
    double t0 = now_ms();
    g_section = "server start";
    redis_start(&g_srv, NULL);

    g_section = "1. unreachable";
    test_unreachable();
    g_section = "2. passwords";
    test_auth();
    g_section = "3. bad addresses";
    test_bad_addresses();
    g_section = "4. what does not apply";
    test_unsupported();
    g_section = "5. killed and restarted";
    test_restart();

    g_section = "server stop";
    redis_stop(&g_srv);
    unlink_paths();
    alarm(0);
    return check_summary("test_redis_faults", t0);
}
