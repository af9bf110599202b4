/*
 * producer_consumer.c: Python's JoinableQueue pattern in C. The main
 * process creates a named queue, starts 3 consumer processes, puts 1000
 * jobs {"id": i} (CBOR, readable by every binding), waits with mpq_join
 * until each was marked done, then shuts the queue down so the consumers
 * stop. Each consumer reports {"count": n, "sum": s} on a second queue;
 * the totals must be 1000 jobs and 0 + 1 + ... + 999.
 *
 *   producer_consumer              (runs everything, exits 0 if the totals match)
 */
#include "example.h"
#include "minicbor.h"

#include <inttypes.h>

#define JOBS 1000
#define CONSUMERS 3

static int consumer(const char *jobs_name, const char *done_name) {
    mpq *jobs, *done;
    mpq_options o = {.flags = MPQ_ATTACH_ONLY}; /* zero sizes: whatever the queue has */
    CHECK(mpq_open(jobs_name, &o, &jobs));
    CHECK(mpq_open(done_name, &o, &done));
    int64_t count = 0, sum = 0;
    for (;;) {
        mp_buf m;
        mp_status st = mpq_get_timeout(jobs, &m, 30000);
        if (st == MP_E_SHUTDOWN) break; /* shut down and drained */
        if (st) die_st("mpq_get_timeout", st);
        int64_t id;
        if (cbr_find_int(m.ptr, m.len, "id", &id)) {
            fprintf(stderr, "consumer: a job without an integer id\n");
            return 1;
        }
        mp_buf_free(&m);
        count++, sum += id;
        CHECK(mpq_task_done(jobs));
    }
    cbw w = {0};
    cbw_map(&w, 2);
    cbw_text(&w, "count"), cbw_int(&w, count);
    cbw_text(&w, "sum"), cbw_int(&w, sum);
    CHECK(mpq_put(done, w.buf, w.len));
    printf("consumer %ld: %" PRId64 " jobs\n", (long)getpid(), count);
    mpq_close(jobs);
    mpq_close(done);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "consumer") == 0) return consumer(argv[2], argv[3]);

    char jobs_name[96], done_name[104];
    unique_name(jobs_name, sizeof jobs_name, "c-example-jobs");
    snprintf(done_name, sizeof done_name, "%s-done", jobs_name);
    mpq *jobs, *done;
    mpq_options o = {.maxsize = 64, .flags = MPQ_CREATE_ONLY};
    CHECK(mpq_open(jobs_name, &o, &jobs));
    mpq_options od = {.flags = MPQ_CREATE_ONLY};
    CHECK(mpq_open(done_name, &od, &done));

    pid_t pids[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++) pids[i] = spawn_self(argv[0], "consumer", jobs_name, done_name, NULL);

    for (int i = 0; i < JOBS; i++) {
        cbw w = {0};
        cbw_map(&w, 1);
        cbw_text(&w, "id"), cbw_int(&w, i);
        CHECK(mpq_put(jobs, w.buf, w.len)); /* blocks while 64 are waiting */
    }
    CHECK(mpq_join(jobs, 30000));      /* every job task_done'd */
    CHECK(mpq_shutdown(jobs, false));  /* consumers' gets now fail with MP_E_SHUTDOWN */
    int failed = wait_all(pids, CONSUMERS);

    int64_t count = 0, sum = 0;
    for (int i = 0; i < CONSUMERS - failed; i++) {
        mp_buf m;
        CHECK(mpq_get_timeout(done, &m, 5000));
        int64_t c, s;
        if (cbr_find_int(m.ptr, m.len, "count", &c) || cbr_find_int(m.ptr, m.len, "sum", &s)) return 1;
        mp_buf_free(&m);
        count += c, sum += s;
    }
    mpq_close(jobs);
    mpq_close(done);
    mpq_unlink(jobs_name);
    mpq_unlink(done_name);

    int64_t want_sum = (int64_t)JOBS * (JOBS - 1) / 2;
    printf("total: %" PRId64 " jobs (want %d), sum %" PRId64 " (want %" PRId64 ")\n", count, JOBS, sum, want_sum);
    if (failed || count != JOBS || sum != want_sum) {
        printf("FAILED\n");
        return 1;
    }
    printf("OK\n");
    return 0;
}
