/*
 * worker_c.c: the C worker of the polyglot demo, on the raw C ABI
 * (include/mpipc.h), encoding and decoding its objects with libcbor
 * (through the helpers of examples/c/common/mpcbor.h).
 *
 *   worker_c JOBS_QUEUE RESULTS_QUEUE CONTROL_ADDR MANAGER_ADDR COUNTS_DICT
 *   (authkeys, hex: the control channel's in $DEMO_AUTHKEY_HEX, the
 *   manager's in $DEMO_MANAGER_AUTHKEY_HEX)
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
#include "mpcbor.h"

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

/* Encodes `obj`, sends it on the control connection and releases it. */
static void send_msg(mp_pipe *c, cbor_item_t *obj, const char *what) {
    unsigned char *buf;
    size_t len = mpcbor_encode(obj, &buf);
    cbor_decref(&obj);
    mp_status st = mp_pipe_send(c, buf, len);
    free(buf);
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
    const char *hex = getenv("DEMO_AUTHKEY_HEX"), *mgr_hex = getenv("DEMO_MANAGER_AUTHKEY_HEX");
    uint8_t key[64], mgr_key[64];
    size_t keylen = hex ? unhex(hex, key, sizeof key) : 0;
    size_t mgr_keylen = mgr_hex ? unhex(mgr_hex, mgr_key, sizeof mgr_key) : 0;

    mpq *jobs, *results;
    mpq_options o = {0}; /* zero sizes: attach to whatever the orchestrator made */
    o.flags = MPQ_ATTACH_ONLY;
    mp_status st;
    if ((st = mpq_open(jobs_name, &o, &jobs))) die("mpq_open jobs", st);
    if ((st = mpq_open(results_name, &o, &results))) die("mpq_open results", st);
    mp_mgr *mgr;
    if ((st = mp_mgr_connect(mgr_addr, mgr_keylen ? mgr_key : NULL, mgr_keylen, 10000, &mgr))) die("mp_mgr_connect", st);
    mp_pipe *ctl;
    if ((st = mp_pipe_connect(ctl_addr, key, keylen, 10000, &ctl))) die("mp_pipe_connect", st);

    cbor_item_t *ready = mpcbor_ok(cbor_new_definite_map(4));
    mpcbor_map_set(ready, "cmd", mpcbor_text("ready"));
    mpcbor_map_set(ready, "worker", mpcbor_text(g_name));
    mpcbor_map_set(ready, "lang", mpcbor_text("c"));
    mpcbor_map_set(ready, "pid", mpcbor_int(getpid()));
    send_msg(ctl, ready, "send ready");

    /* The manager dict key: the text g_name, encoded once. */
    cbor_item_t *key_item = mpcbor_text(g_name);
    unsigned char *dict_key;
    size_t dict_key_len = mpcbor_encode(key_item, &dict_key);
    cbor_decref(&key_item);

    int64_t processed = 0;
    for (;;) {
        mp_buf m;
        st = mpq_get_timeout(jobs, &m, 50);
        if (st == MP_E_EMPTY) {
            mp_buf c;
            st = mp_pipe_recv_timeout(ctl, &c, 0);
            if (st == MP_E_EMPTY) continue;
            if (st) die("control recv", st);
            cbor_item_t *cmd = mpcbor_decode(c.ptr, c.len);
            mp_buf_free(&c);
            bool stop = mpcbor_text_is(mpcbor_get(cmd, "cmd"), "stop");
            if (cmd) cbor_decref(&cmd);
            if (stop) break;
            continue;
        }
        if (st) die("mpq_get_timeout", st);
        /* The job map (its payload text included) becomes a libcbor item. */
        cbor_item_t *job = mpcbor_decode(m.ptr, m.len);
        int64_t id, x;
        if (!mpcbor_get_int(job, "id", &id) || !mpcbor_get_int(job, "x", &x)) {
            fprintf(stderr, "%s: a job without integer id and x (%zu bytes)\n", g_name, m.len);
            return 1;
        }
        mp_buf_free(&m);
        cbor_decref(&job);

        cbor_item_t *result = mpcbor_ok(cbor_new_definite_map(3));
        mpcbor_map_set(result, "id", mpcbor_int(id));
        mpcbor_map_set(result, "worker", mpcbor_text(g_name));
        mpcbor_map_set(result, "y", mpcbor_int(x * x));
        unsigned char *buf;
        size_t len = mpcbor_encode(result, &buf);
        cbor_decref(&result);
        st = mpq_put(results, buf, len);
        free(buf);
        if (st) die("mpq_put result", st);
        int64_t now;
        if ((st = mp_mgr_dict_incr(mgr, counts, dict_key, dict_key_len, 1, &now))) die("mp_mgr_dict_incr", st);
        processed++;
    }

    free(dict_key);
    cbor_item_t *bye = mpcbor_ok(cbor_new_definite_map(3));
    mpcbor_map_set(bye, "cmd", mpcbor_text("bye"));
    mpcbor_map_set(bye, "worker", mpcbor_text(g_name));
    mpcbor_map_set(bye, "processed", mpcbor_int(processed));
    send_msg(ctl, bye, "send bye");

    mp_pipe_close(ctl);
    mp_mgr_close(mgr);
    mpq_close(jobs);
    mpq_close(results);
    return 0;
}
