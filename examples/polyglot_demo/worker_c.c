/*
 * worker_c.c: the C worker of the polyglot demo, on the raw C ABI
 * (include/mpipc.h) with a hand-written CBOR reader and writer
 * (examples/c/common/minicbor.h).
 *
 *   worker_c JOBS_QUEUE RESULTS_QUEUE CONTROL_ADDR MANAGER_ADDR COUNTS_DICT
 *   (authkey, hex, in $DEMO_AUTHKEY_HEX)
 *
 * Connects to the control listener and says "ready"; then takes jobs
 * {"id": i, "x": x, "payload": "..."} (written by the Go producer), puts
 * {"id": i, "worker": "c-<pid>", "y": x*x} on the results queue and adds 1
 * to COUNTS_DICT["c-<pid>"] on the manager (atomic incr). When the jobs
 * queue is empty it looks at the control connection: on {"cmd": "stop"}
 * it answers {"cmd": "bye", "worker": ..., "processed": n} and exits.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "mpipc.h"
#include "minicbor.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_name[64];

static void die(const char *what, mp_status st) {
    fprintf(stderr, "%s: %s: %s (%s)\n", g_name, what, mp_status_str(st), mp_last_error());
    exit(1);
}

static size_t unhex(const char *s, uint8_t *out, size_t cap) {
    size_t n = 0;
    while (s[0] && s[1] && n < cap) {
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1) break;
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

static void send_msg(mp_pipe *c, const cbw *w, const char *what) {
    if (w->overflow) {
        fprintf(stderr, "%s: %s: message too large\n", g_name, what);
        exit(1);
    }
    mp_status st = mp_pipe_send(c, w->buf, w->len);
    if (st) die(what, st);
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: worker_c JOBS RESULTS CONTROL_ADDR MANAGER_ADDR COUNTS_DICT\n");
        return 2;
    }
    const char *jobs_name = argv[1], *results_name = argv[2], *ctl_addr = argv[3], *mgr_addr = argv[4],
               *counts = argv[5];
    snprintf(g_name, sizeof g_name, "c-%ld", (long)getpid());
    const char *hex = getenv("DEMO_AUTHKEY_HEX");
    uint8_t key[64];
    size_t keylen = hex ? unhex(hex, key, sizeof key) : 0;

    mpq *jobs, *results;
    mpq_options o = {0}; /* zero sizes: attach to whatever the orchestrator made */
    o.flags = MPQ_ATTACH_ONLY;
    mp_status st;
    if ((st = mpq_open(jobs_name, &o, &jobs))) die("mpq_open jobs", st);
    if ((st = mpq_open(results_name, &o, &results))) die("mpq_open results", st);
    mp_mgr *mgr;
    if ((st = mp_mgr_connect(mgr_addr, key, keylen, 10000, &mgr))) die("mp_mgr_connect", st);
    mp_pipe *ctl;
    if ((st = mp_pipe_connect(ctl_addr, key, keylen, 10000, &ctl))) die("mp_pipe_connect", st);

    cbw w = {0};
    cbw_map(&w, 4);
    cbw_text(&w, "cmd"), cbw_text(&w, "ready");
    cbw_text(&w, "worker"), cbw_text(&w, g_name);
    cbw_text(&w, "lang"), cbw_text(&w, "c");
    cbw_text(&w, "pid"), cbw_int(&w, getpid());
    send_msg(ctl, &w, "send ready");

    cbw dict_key = {0}; /* the manager dict key: the text g_name */
    cbw_text(&dict_key, g_name);

    int64_t processed = 0;
    for (;;) {
        mp_buf m;
        st = mpq_get_timeout(jobs, &m, 50);
        if (st == MP_E_EMPTY) {
            mp_buf c;
            st = mp_pipe_recv_timeout(ctl, &c, 0);
            if (st == MP_E_EMPTY) continue;
            if (st) die("control recv", st);
            int stop = cbr_find_text_is(c.ptr, c.len, "cmd", "stop");
            mp_buf_free(&c);
            if (stop) break;
            continue;
        }
        if (st) die("mpq_get_timeout", st);
        int64_t id, x;
        if (cbr_find_int(m.ptr, m.len, "id", &id) || cbr_find_int(m.ptr, m.len, "x", &x)) {
            fprintf(stderr, "%s: a job without integer id and x (%zu bytes)\n", g_name, m.len);
            return 1;
        }
        mp_buf_free(&m);

        cbw r = {0};
        cbw_map(&r, 3);
        cbw_text(&r, "id"), cbw_int(&r, id);
        cbw_text(&r, "worker"), cbw_text(&r, g_name);
        cbw_text(&r, "y"), cbw_int(&r, x * x);
        if ((st = mpq_put(results, r.buf, r.len))) die("mpq_put result", st);
        int64_t now;
        if ((st = mp_mgr_dict_incr(mgr, counts, dict_key.buf, dict_key.len, 1, &now))) die("mp_mgr_dict_incr", st);
        processed++;
    }

    w = (cbw){0};
    cbw_map(&w, 3);
    cbw_text(&w, "cmd"), cbw_text(&w, "bye");
    cbw_text(&w, "worker"), cbw_text(&w, g_name);
    cbw_text(&w, "processed"), cbw_int(&w, processed);
    send_msg(ctl, &w, "send bye");

    mp_pipe_close(ctl);
    mp_mgr_close(mgr);
    mpq_close(jobs);
    mpq_close(results);
    return 0;
}
