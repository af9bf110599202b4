/*
 * producer.c: the mpipc queue demo's producer.
 *
 *   producer [QUEUE] [CONSUMERS] [JOBS]      defaults: demo-jobs 2 100000
 *
 * Opens (or creates) the shared-memory queue QUEUE with room for 1024
 * messages, puts JOBS messages "job <n>" in batches of 256 with
 * mpq_put_many, then one "STOP" per consumer. Then, like
 * multiprocessing.JoinableQueue.join(), it waits with mpq_join until the
 * consumers have called mpq_task_done for every message, and removes the
 * queue's name with mpq_unlink. See README.md.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mpipc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 256
#define STALL_MS 30000 /* give up if the queue stays full this long */
#define JOIN_MS 60000  /* ... or if the consumers take this long to finish */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints what failed, with the library's detail, and exits. */
static void die(const char *what, mp_status st) {
    fprintf(stderr, "producer: %s: %s (%s)\n", what, mp_status_str(st), mp_last_error());
    exit(1);
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "demo-jobs";
    long consumers = argc > 2 ? strtol(argv[2], NULL, 10) : 2;
    long jobs = argc > 3 ? strtol(argv[3], NULL, 10) : 100000;
    if (consumers < 1 || jobs < 0) {
        fprintf(stderr, "usage: %s [QUEUE] [CONSUMERS>=1] [JOBS>=0]\n", argv[0]);
        return 2;
    }
    if (mp_version_number() != MP_VERSION_NUMBER) {
        fprintf(stderr, "producer: header is for mpipc %d, library is %u\n", MP_VERSION_NUMBER, mp_version_number());
        return 1;
    }

    /* Producer and consumers pass the same options; whoever comes first
     * creates the queue, the others attach to it. */
    mpq_options opts = {0};
    opts.maxsize = 1024;
    mpq *q = NULL;
    mp_status st = mpq_open(name, &opts, &q);
    if (st != MP_OK)
        die("mpq_open", st);
    printf("producer: queue \"%s\" (maxsize %zu), %ld jobs for %ld consumers\n", name, opts.maxsize, jobs,
           consumers);
    fflush(stdout);

    /* Messages lie back to back in `data`; lens[i] is the length of the i-th. */
    static uint8_t data[BATCH * 32];
    size_t lens[BATCH];
    uint64_t checksum = 0;
    double t0 = now_s();
    for (long next = 0; next < jobs;) {
        size_t n = 0, off = 0;
        for (; n < BATCH && next < jobs; n++, next++) {
            int len = snprintf((char *)data + off, 32, "job %ld", next);
            lens[n] = (size_t)len; /* no NUL: messages are byte strings */
            off += (size_t)len;
            checksum += (uint64_t)next;
        }
        /* mpq_put_many puts as many as fit (at least one); put the rest. */
        size_t done = 0, done_bytes = 0;
        while (done < n) {
            size_t put = 0;
            st = mpq_put_many(q, data + done_bytes, lens + done, n - done, STALL_MS, &put);
            if (st != MP_OK)
                die("mpq_put_many", st);
            for (size_t i = 0; i < put; i++)
                done_bytes += lens[done + i];
            done += put;
        }
    }
    double t_put = now_s() - t0;
    for (long i = 0; i < consumers; i++) {
        st = mpq_put_timeout(q, (const uint8_t *)"STOP", 4, STALL_MS);
        if (st != MP_OK)
            die("mpq_put(STOP)", st);
    }
    printf("producer: put %ld jobs in %.3f s (%.0f jobs/s), then %ld STOP\n", jobs, t_put,
           t_put > 0 ? (double)jobs / t_put : 0.0, consumers);
    fflush(stdout);

    /* Wait until every message (jobs and STOPs) was marked done. */
    st = mpq_join(q, JOIN_MS);
    if (st != MP_OK)
        die("mpq_join", st);
    double t_all = now_s() - t0;
    printf("producer: all tasks done after %.3f s (%.0f jobs/s end to end)\n", t_all,
           t_all > 0 ? (double)jobs / t_all : 0.0);
    printf("producer: expected checksum %" PRIu64 "\n", checksum);

    mpq_close(q);
    st = mpq_unlink(name);
    if (st != MP_OK)
        die("mpq_unlink", st);
    return 0;
}
