/*
 * producer_consumer.c: Python's JoinableQueue pattern in C. The main
 * process creates a named queue, starts 3 consumer processes, puts 1000
 * jobs {"id": i, "name": "job-<i>", "score": i / 2.0, "vals": [i, i + 1]}
 * (objects encoded with libcbor, so a Go, Node or Python consumer gets a
 * map / dict), waits with mpq_join until each was marked done, then shuts
 * the queue down so the consumers stop. Each consumer decodes every job,
 * checks its fields, and reports {"count": n, "sum": s} on a second queue;
 * the totals must be 1000 jobs and 0 + 1 + ... + 999.
 *
 *   producer_consumer              (runs everything, exits 0 if the totals match)
 */
#include "example.h"
#include "mpcbor.h"

#include <inttypes.h>

#define JOBS 1000
#define CONSUMERS 3

/* Job i: {"id": i, "name": "job-<i>", "score": i / 2.0, "vals": [i, i + 1]}. */
static cbor_item_t *make_job(int64_t i) {
    char name[32];
    snprintf(name, sizeof name, "job-%" PRId64, i);
    cbor_item_t *vals = mpcbor_ok(cbor_new_definite_array(2));
    mpcbor_push(vals, mpcbor_int(i));
    mpcbor_push(vals, mpcbor_int(i + 1));
    cbor_item_t *job = mpcbor_ok(cbor_new_definite_map(4));
    mpcbor_map_set(job, "id", mpcbor_int(i));
    mpcbor_map_set(job, "name", mpcbor_text(name));
    mpcbor_map_set(job, "score", mpcbor_float((double)i / 2.0)); /* always a 64-bit float */
    mpcbor_map_set(job, "vals", vals);
    return job;
}

/* Whether `job` (decoded; NULL if the bytes were not CBOR) is what
 * make_job wrote; its id in *id. */
static bool check_job(const cbor_item_t *job, int64_t *id) {
    char name[32];
    double score;
    int64_t v0, v1;
    const cbor_item_t *vals = mpcbor_get(job, "vals");
    if (!mpcbor_get_int(job, "id", id) || !mpcbor_as_float(mpcbor_get(job, "score"), &score) || vals == NULL ||
        !cbor_isa_array(vals) || cbor_array_size(vals) != 2 || !mpcbor_as_int(cbor_array_handle(vals)[0], &v0) ||
        !mpcbor_as_int(cbor_array_handle(vals)[1], &v1))
        return false;
    snprintf(name, sizeof name, "job-%" PRId64, *id);
    return mpcbor_text_is(mpcbor_get(job, "name"), name) && score == (double)*id / 2.0 && v0 == *id && v1 == *id + 1;
}

/* Encodes `obj`, puts it (blocking while the queue is full) and releases it. */
static mp_status put_object(mpq *q, cbor_item_t *obj) {
    unsigned char *buf;
    size_t len = mpcbor_encode(obj, &buf);
    cbor_decref(&obj);
    mp_status st = mpq_put(q, buf, len);
    free(buf);
    return st;
}

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
        cbor_item_t *job = mpcbor_decode(m.ptr, m.len);
        mp_buf_free(&m);
        int64_t id;
        if (!check_job(job, &id)) {
            fprintf(stderr, "consumer: a job that is not {id, name, score, vals} as put\n");
            return 1;
        }
        cbor_decref(&job);
        count++, sum += id;
        CHECK(mpq_task_done(jobs));
    }
    cbor_item_t *report = mpcbor_ok(cbor_new_definite_map(2));
    mpcbor_map_set(report, "count", mpcbor_int(count));
    mpcbor_map_set(report, "sum", mpcbor_int(sum));
    CHECK(put_object(done, report));
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

    for (int i = 0; i < JOBS; i++)
        CHECK(put_object(jobs, make_job(i))); /* blocks while 64 are waiting */
    CHECK(mpq_join(jobs, 30000));      /* every job task_done'd */
    CHECK(mpq_shutdown(jobs, false));  /* consumers' gets now fail with MP_E_SHUTDOWN */
    int failed = wait_all(pids, CONSUMERS);

    int64_t count = 0, sum = 0;
    for (int i = 0; i < CONSUMERS - failed; i++) {
        mp_buf m;
        CHECK(mpq_get_timeout(done, &m, 5000));
        cbor_item_t *report = mpcbor_decode(m.ptr, m.len);
        mp_buf_free(&m);
        int64_t c, s;
        if (!mpcbor_get_int(report, "count", &c) || !mpcbor_get_int(report, "sum", &s)) return 1;
        cbor_decref(&report);
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
