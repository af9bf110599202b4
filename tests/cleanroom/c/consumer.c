/* Clean-room C consumer (tests/cleanroom/c.sh): takes messages from the
 * queue QUEUE until "stop", checks that they are "job-0" .. "job-<N-1>" in
 * order, removes the queue's name, and prints what it consumed, the
 * library version and the file the library was loaded from (dladdr of
 * mp_version: the script checks it is the Debian package's).
 *
 *   consumer QUEUE N
 */
#define _GNU_SOURCE
#include <mpipc.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(mp_status s, const char *what) {
    if (s != MP_OK) {
        fprintf(stderr, "consumer: %s: %s: %s\n", what, mp_status_str(s), mp_last_error());
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: consumer QUEUE N\n");
        return 2;
    }
    long n = strtol(argv[2], NULL, 10);
    mpq *q = NULL;
    check(mpq_open(argv[1], NULL, &q), "mpq_open");
    long got = 0;
    for (;;) {
        mp_buf m = {0};
        /* A bound, not a synchronisation: the producer runs concurrently. */
        check(mpq_get_timeout(q, &m, 60000), "mpq_get_timeout");
        char want[32];
        int len = snprintf(want, sizeof want, "job-%ld", got);
        int stop = m.len == 4 && memcmp(m.ptr, "stop", 4) == 0;
        int ok = stop || (m.len == (size_t)len && memcmp(m.ptr, want, (size_t)len) == 0);
        if (!ok) {
            fprintf(stderr, "consumer: message %ld is '%.*s', expected '%s'\n", got, (int)m.len, (const char *)m.ptr,
                    want);
            mp_buf_free(&m);
            return 1;
        }
        mp_buf_free(&m);
        if (stop) {
            break;
        }
        got++;
    }
    mpq_close(q);
    check(mpq_unlink(argv[1]), "mpq_unlink");
    if (got != n) {
        fprintf(stderr, "consumer: got %ld messages, expected %ld\n", got, n);
        return 1;
    }
    Dl_info info;
    if (dladdr((void *)&mp_version, &info) == 0 || info.dli_fname == NULL) {
        fprintf(stderr, "consumer: dladdr cannot tell where mp_version comes from\n");
        return 1;
    }
    printf("consumed %ld\nversion %s\nlib %s\n", got, mp_version(), info.dli_fname);
    return 0;
}
