/* Clean-room C producer (tests/cleanroom/c.sh): puts N messages "job-<i>"
 * and then "stop" on the queue QUEUE (created if it does not exist yet, so
 * that it may start before or after the consumer).
 *
 *   producer QUEUE N
 */
#include <mpipc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(mp_status s, const char *what) {
    if (s != MP_OK) {
        fprintf(stderr, "producer: %s: %s: %s\n", what, mp_status_str(s), mp_last_error());
        exit(1);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: producer QUEUE N\n");
        return 2;
    }
    long n = strtol(argv[2], NULL, 10);
    mpq *q = NULL;
    check(mpq_open(argv[1], NULL, &q), "mpq_open");
    char buf[32];
    for (long i = 0; i < n; i++) {
        int len = snprintf(buf, sizeof buf, "job-%ld", i);
        check(mpq_put(q, (const uint8_t *)buf, (size_t)len), "mpq_put");
    }
    check(mpq_put(q, (const uint8_t *)"stop", 4), "mpq_put");
    mpq_close(q);
    printf("produced %ld\n", n);
    return 0;
}
