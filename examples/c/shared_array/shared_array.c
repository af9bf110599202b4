/*
 * shared_array.c: Python's Array('q', 3) in named shared memory, with its
 * robust lock. 4 worker processes each do 1000 read-modify-writes of
 * elements 0 and 1 under the lock (zero-copy, through mp_array_ptr), and
 * 1000 locked one-call increments of element 2 (mp_array_incr). A lock
 * whose holder died comes back as MP_E_OWNER_DEAD: held, data to check.
 *
 *   shared_array                   (exits 0 if every element is 4000)
 */
#include "example.h"

#include <inttypes.h>

#define WORKERS 4
#define N 1000

static void lock(mp_array *a) {
    mp_status st = mp_array_lock(a, 10000);
    if (st == MP_E_OWNER_DEAD) /* we hold it; a real program would repair the data */
        fprintf(stderr, "[%ld] previous holder died\n", (long)getpid());
    else if (st)
        die_st("mp_array_lock", st);
}

static int worker(const char *name) {
    mp_array *a;
    CHECK(mp_array_open(name, 'q', 3, MP_OPEN_ATTACH_ONLY, &a));
    int64_t *v = mp_array_ptr(a);
    for (int i = 0; i < N; i++) {
        lock(a);
        v[0] += 1; /* two elements updated together: the lock makes it atomic */
        v[1] = v[0];
        CHECK(mp_array_unlock(a));
        CHECK(mp_array_incr(a, 2, 1, NULL)); /* one locked call */
    }
    mp_array_close(a);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "worker") == 0) return worker(argv[2]);

    char name[96];
    unique_name(name, sizeof name, "c-example-array");
    mp_array *a;
    CHECK(mp_array_open(name, 'q', 3, MP_OPEN_CREATE_ONLY, &a)); /* zeroed */

    pid_t pids[WORKERS];
    for (int i = 0; i < WORKERS; i++) pids[i] = spawn_self(argv[0], "worker", name, NULL);
    int failed = wait_all(pids, WORKERS);

    int64_t got[3];
    for (size_t i = 0; i < 3; i++) CHECK(mp_array_get_i64(a, i, &got[i]));
    mp_array_close(a);
    CHECK(mp_array_unlink(name));

    printf("array = [%" PRId64 ", %" PRId64 ", %" PRId64 "] (want %d each)\n", got[0], got[1], got[2], WORKERS * N);
    if (failed || got[0] != WORKERS * N || got[1] != WORKERS * N || got[2] != WORKERS * N) {
        printf("FAILED\n");
        return 1;
    }
    printf("OK\n");
    return 0;
}
