/*
 * consumer.c: the mpipc queue demo's consumer.
 *
 *   consumer [QUEUE]                          default: demo-jobs
 *
 * Takes messages from QUEUE until it receives "STOP", adds up the job
 * numbers as a checksum, calls mpq_task_done for every message it took
 * (the STOP included, so that the producer's mpq_join can return), and
 * prints how many jobs it got. See README.md.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mpipc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IDLE_MS 30000 /* give up if no message comes for this long */

static void die(const char *what, mp_status st) {
    fprintf(stderr, "consumer %ld: %s: %s (%s)\n", (long)getpid(), what, mp_status_str(st), mp_last_error());
    exit(1);
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "demo-jobs";

    mpq_options opts = {0};
    opts.maxsize = 1024; /* the same options as the producer */
    mpq *q = NULL;
    mp_status st = mpq_open(name, &opts, &q);
    if (st != MP_OK)
        die("mpq_open", st);

    uint8_t buf[64];
    uint64_t jobs = 0, checksum = 0;
    for (;;) {
        size_t len = 0;
        /* One message at a time, into our own buffer: no allocation. */
        st = mpq_get_into(q, buf, sizeof buf - 1, &len, IDLE_MS);
        if (st != MP_OK)
            die("mpq_get_into", st);
        buf[len] = '\0';
        int stop = strcmp((char *)buf, "STOP") == 0;
        if (!stop) {
            char *end = NULL;
            if (strncmp((char *)buf, "job ", 4) != 0)
                die("unexpected message", MP_E_INVAL);
            uint64_t n = strtoull((char *)buf + 4, &end, 10);
            if (end == NULL || *end != '\0')
                die("malformed job", MP_E_INVAL);
            checksum += n;
            jobs++;
        }
        /* Done with this message (job or STOP): mpq_join counts these. */
        st = mpq_task_done(q);
        if (st != MP_OK)
            die("mpq_task_done", st);
        if (stop)
            break;
    }
    printf("consumer %ld: got %" PRIu64 " jobs, checksum %" PRIu64 "\n", (long)getpid(), jobs, checksum);
    mpq_close(q);
    return 0;
}
