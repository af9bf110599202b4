/*
 * object_put.c: what it costs a C program to put an object rather than
 * bytes (issue 19). The object is the map
 *
 *     {"name": "a", "id": 1, "score": 0.5, "vals": [1, 2]}
 *
 * (35 bytes of CBOR), put on a queue two ways, one process putting and one
 * process getting (this program forks its consumer):
 *
 *   bytes    mpq_put of the same bytes, encoded once beforehand (the floor:
 *            what the queue costs);
 *   libcbor  for every message, the map built with libcbor (through
 *            examples/c/common/mpcbor.h, as the C examples do),
 *            cbor_serialize_alloc'ed, put, and both freed;
 *   stream   for every message, the map written with libcbor's streaming
 *            encoders (cbor_encode_map_start, cbor_encode_uint,
 *            cbor_encode_double, ...) into a stack buffer, then put: no
 *            item and no allocation;
 *
 * and, without a queue, the encoding alone of both libcbor ways (ns per
 * message). The consumer takes the raw bytes (mpq_get_into) and
 * checks each message's length; it does not decode, so the three ways
 * differ only by the producer's encoding. The queue: default options (no
 * count limit, a 1 MiB ring). Timing: the clock starts when the consumer
 * has attached (it says so through a pipe) and stops when it has received
 * all N and exited (waitpid). Each round runs the three ways, their order
 * rotating from round to round, so a drift of the machine's load hits all
 * of them; the medians over the rounds are reported (the upper one for an
 * even count, as benches/common/mod.rs).
 *
 * benches/run.sh (make bench) builds and runs it:
 *
 *   gcc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude -Iexamples/c/common \
 *       benches/c/object_put.c -Ltarget/release -lmpipc \
 *       $(pkg-config --cflags --libs libcbor) \
 *       -Wl,-rpath,"$PWD/target/release" -o build/bench/c_object_put
 *   build/bench/c_object_put [--quick] [-n MESSAGES] [--repeat ROUNDS]
 *
 * Prints one JSON object: {"c_obj_put_bytes": {...}, "c_obj_put_libcbor":
 * {...}, "c_obj_put_stream": {...}, "c_obj_encode_libcbor": {...},
 * "c_obj_encode_stream": {...}}, each with the median and every run (msg/s
 * for the puts, ns per message for the encoding).
 */
#define _GNU_SOURCE
#include "mpcbor.h"
#include "mpipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, mp_status st) {
    fprintf(stderr, "object_put: %s: %s (%s)\n", what, mp_status_str(st), mp_last_error());
    exit(1);
}

/* The map, built with libcbor. */
static cbor_item_t *build_map(void) {
    cbor_item_t *vals = mpcbor_ok(cbor_new_definite_array(2));
    mpcbor_push(vals, mpcbor_int(1));
    mpcbor_push(vals, mpcbor_int(2));
    cbor_item_t *m = mpcbor_ok(cbor_new_definite_map(4));
    mpcbor_map_set(m, "name", mpcbor_text("a"));
    mpcbor_map_set(m, "id", mpcbor_int(1));
    mpcbor_map_set(m, "score", mpcbor_float(0.5));
    mpcbor_map_set(m, "vals", vals);
    return m;
}

/* Text with libcbor's streaming encoders: the head, then the bytes. */
static size_t enc_text(const char *t, unsigned char *p, size_t cap) {
    size_t n = strlen(t), h = cbor_encode_string_start(n, p, cap);
    if (h == 0 || cap - h < n) return 0;
    memcpy(p + h, t, n);
    return h + n;
}

/* The map with the streaming encoders into buf; its length, 0 if
 * it did not fit. cbor_encode_uint picks the shortest head itself. */
static size_t encode_stream(unsigned char *buf, size_t cap) {
    size_t o = 0, k;
#define PUT(call)                       \
    do {                                \
        if ((k = (call)) == 0) return 0; \
        o += k;                         \
    } while (0)
    PUT(cbor_encode_map_start(4, buf + o, cap - o));
    PUT(enc_text("name", buf + o, cap - o));
    PUT(enc_text("a", buf + o, cap - o));
    PUT(enc_text("id", buf + o, cap - o));
    PUT(cbor_encode_uint(1, buf + o, cap - o));
    PUT(enc_text("score", buf + o, cap - o));
    PUT(cbor_encode_double(0.5, buf + o, cap - o));
    PUT(enc_text("vals", buf + o, cap - o));
    PUT(cbor_encode_array_start(2, buf + o, cap - o));
    PUT(cbor_encode_uint(1, buf + o, cap - o));
    PUT(cbor_encode_uint(2, buf + o, cap - o));
#undef PUT
    return o;
}

static const uint8_t WANT[] = {0xa4, 0x64, 'n',  'a',  'm',  'e',  0x61, 'a',  0x62, 'i',  'd',  0x01, 0x65,
                               's',  'c',  'o',  'r',  'e',  0xfb, 0x3f, 0xe0, 0,    0,    0,    0,    0,
                               0,    0x64, 'v',  'a',  'l',  's',  0x82, 0x01, 0x02};

enum way { BYTES, LIBCBOR, STREAM };

/* One run: a fresh queue, a consumer child, n puts the given way; msg/s. */
static double run_put(enum way way, long n, int round) {
    char name[96];
    snprintf(name, sizeof name, "c-objput-%ld-%d-%d", (long)getpid(), round, (int)way);
    mpq *q;
    mpq_options o = {.flags = MPQ_CREATE_ONLY};
    mp_status st = mpq_open(name, &o, &q);
    if (st) die("mpq_open", st);
    int ready[2];
    if (pipe(ready)) {
        perror("pipe");
        exit(1);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) { /* the consumer: its own handle, as another process would */
        close(ready[0]);
        mpq *c;
        mpq_options oc = {.flags = MPQ_ATTACH_ONLY};
        if ((st = mpq_open(name, &oc, &c))) die("consumer mpq_open", st);
        if (write(ready[1], "r", 1) != 1) _exit(1);
        uint8_t buf[256];
        for (long i = 0; i < n; i++) {
            size_t len;
            if ((st = mpq_get_into(c, buf, sizeof buf, &len, -1))) die("mpq_get_into", st);
            if (len != sizeof WANT) _exit(3);
        }
        mpq_close(c);
        _exit(0);
    }
    close(ready[1]);
    char b;
    if (read(ready[0], &b, 1) != 1) {
        fprintf(stderr, "object_put: the consumer did not attach\n");
        exit(1);
    }
    close(ready[0]);
    double t0 = now_s();
    if (way == LIBCBOR) {
        for (long i = 0; i < n; i++) {
            cbor_item_t *m = build_map();
            unsigned char *enc;
            size_t len = mpcbor_encode(m, &enc);
            cbor_decref(&m);
            if ((st = mpq_put(q, enc, len))) die("mpq_put", st);
            free(enc);
        }
    } else if (way == STREAM) {
        for (long i = 0; i < n; i++) {
            unsigned char buf[64];
            size_t len = encode_stream(buf, sizeof buf);
            if ((st = mpq_put(q, buf, len))) die("mpq_put", st);
        }
    } else {
        for (long i = 0; i < n; i++)
            if ((st = mpq_put(q, WANT, sizeof WANT))) die("mpq_put", st);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "object_put: the consumer failed\n");
        exit(1);
    }
    double dt = now_s() - t0;
    mpq_close(q);
    mpq_unlink(name);
    return (double)n / dt;
}

/* Encoding alone, one of the libcbor ways: ns per message. */
static double run_encode(enum way way, long n) {
    double t0 = now_s();
    size_t total = 0;
    for (long i = 0; i < n; i++) {
        if (way == STREAM) {
            unsigned char buf[64];
            total += encode_stream(buf, sizeof buf);
            __asm__ volatile("" : : "r"(buf) : "memory"); /* the bytes count as used */
            continue;
        }
        cbor_item_t *m = build_map();
        unsigned char *enc;
        total += mpcbor_encode(m, &enc);
        cbor_decref(&m);
        free(enc);
    }
    double dt = now_s() - t0;
    if (total != (size_t)n * sizeof WANT) {
        fprintf(stderr, "object_put: libcbor wrote %zu bytes, want %zu\n", total, (size_t)n * sizeof WANT);
        exit(1);
    }
    return dt * 1e9 / (double)n;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median (the upper one for an even count, as benches/common/mod.rs),
 * of a copy: the runs are printed in their order. */
static double median(const double *v, int k) {
    double s[64];
    memcpy(s, v, (size_t)k * sizeof *v);
    qsort(s, (size_t)k, sizeof *s, cmp_d);
    return s[k / 2];
}

static void print_row(const char *key, const char *unit, const double *v, int k, long n, int last) {
    printf("  \"%s\": {\"unit\": \"%s\", \"median\": %.1f, \"n\": %ld, \"runs\": [", key, unit, median(v, k), n);
    for (int i = 0; i < k; i++) printf("%s%.1f", i ? ", " : "", v[i]);
    printf("]}%s\n", last ? "" : ",");
}

int main(int argc, char **argv) {
    long n = 1000000;
    int repeat = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            n = 20000;
            repeat = 1;
        } else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            n = atol(argv[++i]);
        } else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
            repeat = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: object_put [--quick] [-n MESSAGES] [--repeat ROUNDS]\n");
            return 2;
        }
    }
    if (n <= 0 || repeat <= 0 || repeat > 64) {
        fprintf(stderr, "object_put: -n > 0 and 1 <= --repeat <= 64\n");
        return 2;
    }
    /* libcbor must write exactly the canonical bytes the floor puts. */
    cbor_item_t *m = build_map();
    unsigned char *enc;
    size_t len = mpcbor_encode(m, &enc);
    cbor_decref(&m);
    if (len != sizeof WANT || memcmp(enc, WANT, len) != 0) {
        fprintf(stderr, "object_put: libcbor's encoding differs from the canonical bytes\n");
        return 1;
    }
    free(enc);
    unsigned char sb[64];
    len = encode_stream(sb, sizeof sb);
    if (len != sizeof WANT || memcmp(sb, WANT, len) != 0) {
        fprintf(stderr, "object_put: the streaming encoding differs from the canonical bytes\n");
        return 1;
    }

    /* put[way][round]; the ways rotate their order from round to round. */
    double put[3][64], encode[3][64];
    for (int r = 0; r < repeat; r++) {
        for (int k = 0; k < 3; k++) {
            enum way w = (enum way)((r + k) % 3);
            put[w][r] = run_put(w, n, r);
        }
        encode[LIBCBOR][r] = run_encode(LIBCBOR, n);
        encode[STREAM][r] = run_encode(STREAM, n);
    }
    printf("{\n");
    print_row("c_obj_put_bytes", "msg/s", put[BYTES], repeat, n, 0);
    print_row("c_obj_put_libcbor", "msg/s", put[LIBCBOR], repeat, n, 0);
    print_row("c_obj_put_stream", "msg/s", put[STREAM], repeat, n, 0);
    print_row("c_obj_encode_libcbor", "ns/msg", encode[LIBCBOR], repeat, n, 0);
    print_row("c_obj_encode_stream", "ns/msg", encode[STREAM], repeat, n, 1);
    printf("}\n");
    return 0;
}
