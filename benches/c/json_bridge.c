/*
 * json_bridge.c: the cost of the C ABI's JSON bridge (docs/TYPES.md, "JSON
 * bridge") beside the bytes path, for issue 19's map
 * {"name": "a", "id": 1, "score": 0.5, "vals": [1, 2]} (35 bytes of CBOR).
 *
 * benches/run.sh (make bench) builds and runs it:
 *
 *   gcc -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude benches/c/json_bridge.c \
 *       -Ltarget/release -lmpipc -Wl,-rpath,$PWD/target/release -o build/bench/c_json_bridge
 *   build/bench/c_json_bridge [--quick] [--repeat N]
 *
 * Prints one JSON object (as the other benchmark programs do; progress on
 * stderr): the medians, the sizes ("n_local", "n_tput") and every round's
 * figure ("runs", same keys). Workloads, each the median over --repeat rounds (default 5;
 * --quick: 1 round, fewer messages), the rounds interleaving the two sides
 * of each comparison so that drifts of the machine's load hit both:
 *
 * - put_get_ns: one process, one queue, per message a put then a get into
 *   a reused buffer (mpq_get_into), nanoseconds per message:
 *     "bytes": mpq_put of the CBOR bytes (what a C program that has its
 *              CBOR already pays),
 *     "json":  mpq_put_json of the JSON text (the conversion included),
 *     "json_get": mpq_put of the bytes, mpq_get_json + mp_json_free.
 * - convert_ns: the conversions alone, nanoseconds per call:
 *     "to_cbor": mp_json_to_cbor + mp_buf_free,
 *     "to_json": mp_cbor_to_json + mp_json_free.
 * - tput_msgs_per_s: 1 producer process -> 1 consumer process (this one,
 *   mpq_get_into), messages per second, the producer putting with "bytes"
 *   (mpq_put) or "json" (mpq_put_json). The clock runs from the release of
 *   the already attached producer to the last message received.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mpipc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char EXAMPLE[] = "{\"name\": \"a\", \"id\": 1, \"score\": 0.5, \"vals\": [1, 2]}";

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void die(const char *what, mp_status st) {
    fprintf(stderr, "json_bridge: %s: %s: %s\n", what, mp_status_str(st), mp_last_error());
    exit(1);
}

#define OK(call)                          \
    do {                                  \
        mp_status st_ = (call);           \
        if (st_ != MP_OK)                 \
            die(#call, st_);              \
    } while (0)

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median (the upper one for an even count), as benches/common; of a
 * copy, so that the runs are printed in their order. */
static double median(const double *v, int n) {
    double s[64];
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return s[n / 2];
}

/* "[r0, r1, ...]" of one workload's rounds. */
static void print_runs(const double *v, int n) {
    printf("[");
    for (int i = 0; i < n; i++)
        printf("%s%.1f", i ? ", " : "", v[i]);
    printf("]");
}

static uint8_t g_cbor[64];
static size_t g_cbor_len;

enum side { BYTES, JSON, JSON_GET, TO_CBOR, TO_JSON };

/* One round of `n` messages (or calls) of `side`: nanoseconds per message. */
static double put_get_round(mpq *q, enum side side, long n) {
    uint8_t buf[256];
    size_t len = 0;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        if (side == JSON) {
            OK(mpq_put_json(q, EXAMPLE));
        } else {
            OK(mpq_put(q, g_cbor, g_cbor_len));
        }
        if (side == JSON_GET) {
            char *text = NULL;
            OK(mpq_get_json(q, &text, 0));
            mp_json_free(text);
        } else {
            OK(mpq_get_into(q, buf, sizeof buf, &len, 0));
        }
    }
    return (now_ns() - t0) / (double)n;
}

static double convert_round(enum side side, long n) {
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        if (side == TO_CBOR) {
            mp_buf b = {0};
            OK(mp_json_to_cbor(EXAMPLE, sizeof EXAMPLE - 1, &b));
            mp_buf_free(&b);
        } else {
            char *text = NULL;
            OK(mp_cbor_to_json(g_cbor, g_cbor_len, &text));
            mp_json_free(text);
        }
    }
    return (now_ns() - t0) / (double)n;
}

/* 1 producer process (putting `n` messages with `side`) -> this process:
 * messages per second. */
static double tput_round(const char *name, enum side side, long n) {
    int go[2];
    if (pipe(go) != 0) {
        perror("pipe");
        exit(1);
    }
    mpq *q = NULL;
    OK(mpq_open(name, NULL, &q));
    fflush(NULL);
    pid_t kid = fork();
    if (kid < 0) {
        perror("fork");
        exit(1);
    }
    if (kid == 0) {
        close(go[1]);
        char c;
        if (read(go[0], &c, 1) != 1)
            _exit(2);
        for (long i = 0; i < n; i++) {
            mp_status st = side == JSON ? mpq_put_json(q, EXAMPLE) : mpq_put(q, g_cbor, g_cbor_len);
            if (st != MP_OK)
                _exit(3);
        }
        _exit(0);
    }
    close(go[0]);
    uint8_t buf[256];
    size_t len = 0;
    double t0 = now_ns();
    if (write(go[1], "g", 1) != 1) {
        perror("write");
        exit(1);
    }
    for (long i = 0; i < n; i++)
        OK(mpq_get_into(q, buf, sizeof buf, &len, -1));
    double dt = now_ns() - t0;
    close(go[1]);
    int status = 0;
    waitpid(kid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "json_bridge: the producer failed (%d)\n", status);
        exit(1);
    }
    mpq_close(q);
    return (double)n / (dt / 1e9);
}

int main(int argc, char **argv) {
    int quick = 0, repeat = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: json_bridge [--quick] [--repeat N]\n");
            return 2;
        }
    }
    if (repeat < 1)
        repeat = quick ? 1 : 5;
    long n_local = quick ? 20000 : 300000, n_tput = quick ? 20000 : 500000;

    mp_buf b = {0};
    OK(mp_json_to_cbor(EXAMPLE, sizeof EXAMPLE - 1, &b));
    if (b.len > sizeof g_cbor) {
        fprintf(stderr, "json_bridge: unexpected CBOR length %zu\n", b.len);
        return 1;
    }
    memcpy(g_cbor, b.ptr, b.len);
    g_cbor_len = b.len;
    mp_buf_free(&b);

    char name[64];
    snprintf(name, sizeof name, "bench-json-%ld", (long)getpid());
    mpq *q = NULL;
    OK(mpq_open(name, NULL, &q));
    /* Warm-up: page in the ring and the code paths. */
    put_get_round(q, BYTES, n_local / 10);
    put_get_round(q, JSON, n_local / 10);

    double v[5][64], tp[2][64];
    if (repeat > 64)
        repeat = 64;
    for (int r = 0; r < repeat; r++) {
        /* Alternate the order by round. */
        int flip = r % 2;
        v[flip ? JSON : BYTES][r] = put_get_round(q, flip ? JSON : BYTES, n_local);
        v[flip ? BYTES : JSON][r] = put_get_round(q, flip ? BYTES : JSON, n_local);
        v[JSON_GET][r] = put_get_round(q, JSON_GET, n_local);
        v[TO_CBOR][r] = convert_round(TO_CBOR, n_local);
        v[TO_JSON][r] = convert_round(TO_JSON, n_local);
        fprintf(stderr, "round %d: put_get bytes %.0f ns, json %.0f ns, json_get %.0f ns; to_cbor %.0f ns, "
                "to_json %.0f ns\n", r, v[BYTES][r], v[JSON][r], v[JSON_GET][r], v[TO_CBOR][r], v[TO_JSON][r]);
    }
    mpq_close(q);
    OK(mpq_unlink(name));
    for (int r = 0; r < repeat; r++) {
        int flip = r % 2;
        tp[flip][r] = tput_round(name, flip ? JSON : BYTES, n_tput);
        OK(mpq_unlink(name));
        tp[!flip][r] = tput_round(name, flip ? BYTES : JSON, n_tput);
        OK(mpq_unlink(name));
        fprintf(stderr, "round %d: tput bytes %.0f msg/s, json %.0f msg/s\n", r, tp[0][r], tp[1][r]);
    }

    double pb = median(v[BYTES], repeat), pj = median(v[JSON], repeat), pg = median(v[JSON_GET], repeat);
    double tc = median(v[TO_CBOR], repeat), tj = median(v[TO_JSON], repeat);
    double sb = median(tp[0], repeat), sj = median(tp[1], repeat);
    printf("{\"repeat\": %d, \"n_local\": %ld, \"n_tput\": %ld, \"message\": %s, \"cbor_bytes\": %zu, "
           "\"put_get_ns\": {\"bytes\": %.1f, \"json\": %.1f, \"json_get\": %.1f}, "
           "\"convert_ns\": {\"to_cbor\": %.1f, \"to_json\": %.1f}, "
           "\"tput_msgs_per_s\": {\"bytes\": %.0f, \"json\": %.0f}, ",
           repeat, n_local, n_tput,
           "\"{\\\"name\\\": \\\"a\\\", \\\"id\\\": 1, \\\"score\\\": 0.5, \\\"vals\\\": [1, 2]}\"",
           g_cbor_len, pb, pj, pg, tc, tj, sb, sj);
    printf("\"runs\": {\"put_get_ns\": {\"bytes\": ");
    print_runs(v[BYTES], repeat);
    printf(", \"json\": ");
    print_runs(v[JSON], repeat);
    printf(", \"json_get\": ");
    print_runs(v[JSON_GET], repeat);
    printf("}, \"convert_ns\": {\"to_cbor\": ");
    print_runs(v[TO_CBOR], repeat);
    printf(", \"to_json\": ");
    print_runs(v[TO_JSON], repeat);
    printf("}, \"tput_msgs_per_s\": {\"bytes\": ");
    print_runs(tp[0], repeat);
    printf(", \"json\": ");
    print_runs(tp[1], repeat);
    printf("}}}\n");
    return 0;
}
