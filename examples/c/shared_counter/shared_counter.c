/*
 * shared_counter.c: counting across processes with a manager dict. The main
 * process serves a manager (mp_mgr_serve; `mpipc manager serve` works as
 * well), 4 worker processes connect and add 1 to dict "stats"["hits"]
 * 1000 times each with mp_mgr_dict_incr (one atomic step on the server,
 * unlike Python's d[k] += 1), and record their count under their pid in
 * dict "per-worker". Keys and values are CBOR, encoded by hand here.
 *
 *   shared_counter                 (exits 0 if hits == 4000)
 */
#include "example.h"
#include "minicbor.h"

#include <inttypes.h>

#define WORKERS 4
#define N 1000
static const uint8_t KEY[] = "shared-counter-example";
#define KEYLEN (sizeof KEY - 1)

static int worker(const char *addr) {
    mp_mgr *m;
    CHECK(mp_mgr_connect(addr, KEY, KEYLEN, 5000, &m));
    cbw hits = {0};
    cbw_text(&hits, "hits"); /* the CBOR key "hits" */
    for (int i = 0; i < N; i++) {
        int64_t now;
        CHECK(mp_mgr_dict_incr(m, "stats", hits.buf, hits.len, 1, &now));
    }
    cbw me = {0}, n = {0};
    cbw_int(&me, getpid());
    cbw_int(&n, N);
    CHECK(mp_mgr_dict_set(m, "per-worker", me.buf, me.len, n.buf, n.len));
    mp_mgr_close(m);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "worker") == 0) return worker(argv[2]);

    char name[96], addr[128];
    unique_name(name, sizeof name, "c-example-counter");
    snprintf(addr, sizeof addr, "unix:@%s", name); /* abstract socket: no file to remove */
    mp_mgr_server *srv;
    CHECK(mp_mgr_serve(addr, KEY, KEYLEN, &srv));

    pid_t pids[WORKERS];
    for (int i = 0; i < WORKERS; i++) pids[i] = spawn_self(argv[0], "worker", addr, NULL);
    int failed = wait_all(pids, WORKERS);

    mp_mgr *m;
    CHECK(mp_mgr_connect(addr, KEY, KEYLEN, 5000, &m));
    /* dict "stats".get("hits"): the generic call, args as a CBOR array */
    cbw args = {0};
    cbw_array(&args, 1);
    cbw_text(&args, "hits");
    mp_buf r;
    CHECK(mp_mgr_call(m, "dict", "stats", "get", args.buf, args.len, &r));
    cbr rd = {r.ptr, r.ptr + r.len};
    int64_t hits = -1;
    if (cbr_int(&rd, &hits)) fprintf(stderr, "stats[hits] is not an integer\n");
    mp_buf_free(&r);
    size_t nworkers = 0;
    CHECK(mp_mgr_dict_len(m, "per-worker", &nworkers));
    mp_mgr_close(m);
    CHECK(mp_mgr_server_shutdown(srv));

    printf("hits = %" PRId64 " (want %d), %zu workers recorded (want %d)\n", hits, WORKERS * N, nworkers, WORKERS);
    if (failed || hits != WORKERS * N || nworkers != WORKERS) {
        printf("FAILED\n");
        return 1;
    }
    printf("OK\n");
    return 0;
}
