/*
 * shared_counter.c: counting across processes with a manager dict. The main
 * process serves a manager (mp_mgr_serve; `mpipc manager serve` works as
 * well), 4 worker processes connect and add 1 to dict "stats"["hits"]
 * 1000 times each with mp_mgr_dict_incr (one atomic step on the server,
 * unlike Python's d[k] += 1), and record their count under their pid in
 * dict "per-worker". Keys and values are CBOR items, encoded and decoded
 * with libcbor.
 *
 *   shared_counter                 (exits 0 if hits == 4000)
 */
#include "example.h"
#include "mpcbor.h"

#include <inttypes.h>

#define WORKERS 4
#define N 1000
static const uint8_t KEY[] = "shared-counter-example";
#define KEYLEN (sizeof KEY - 1)

/* A CBOR item's bytes, for the manager calls that take keys and values as
 * CBOR: encodes `obj` and releases it; free(*buf) afterwards. */
static size_t to_cbor(cbor_item_t *obj, unsigned char **buf) {
    size_t len = mpcbor_encode(obj, buf);
    cbor_decref(&obj);
    return len;
}

static int worker(const char *addr) {
    mp_mgr *m;
    CHECK(mp_mgr_connect(addr, KEY, KEYLEN, 5000, &m));
    unsigned char *hits;
    size_t hits_len = to_cbor(mpcbor_text("hits"), &hits); /* the key "hits": 64 68 69 74 73 */
    for (int i = 0; i < N; i++) {
        int64_t now;
        CHECK(mp_mgr_dict_incr(m, "stats", hits, hits_len, 1, &now));
    }
    free(hits);
    unsigned char *me, *n;
    size_t me_len = to_cbor(mpcbor_int(getpid()), &me), n_len = to_cbor(mpcbor_int(N), &n);
    CHECK(mp_mgr_dict_set(m, "per-worker", me, me_len, n, n_len));
    free(me);
    free(n);
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
    cbor_item_t *call_args = mpcbor_ok(cbor_new_definite_array(1));
    mpcbor_push(call_args, mpcbor_text("hits"));
    unsigned char *args;
    size_t args_len = to_cbor(call_args, &args);
    mp_buf r;
    CHECK(mp_mgr_call(m, "dict", "stats", "get", args, args_len, &r));
    free(args);
    cbor_item_t *got = mpcbor_decode(r.ptr, r.len); /* the result: one CBOR item */
    mp_buf_free(&r);
    int64_t hits = -1;
    if (!mpcbor_as_int(got, &hits)) fprintf(stderr, "stats[hits] is not an integer\n");
    if (got) cbor_decref(&got);
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
