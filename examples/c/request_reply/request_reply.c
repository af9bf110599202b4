/*
 * request_reply.c: a server and a client over a Listener / Client pair
 * with an authkey (HMAC handshake both ways), wire-compatible with
 * Python's multiprocessing.connection. The main process binds the listener
 * and serves; a client process sends 100 requests {"op": "add", "a": i,
 * "b": 10*i} and checks every reply {"id": i, "result": 11*i}, then closes
 * (the server sees EOF). Messages are CBOR maps, as the bindings send,
 * built and read with libcbor.
 *
 *   request_reply                  (exits 0 if every reply was right)
 */
#include "example.h"
#include "mpcbor.h"

#include <inttypes.h>

#define REQUESTS 100
static const uint8_t KEY[] = "request-reply-example";
#define KEYLEN (sizeof KEY - 1)

/* Encodes `obj`, sends it and releases it. */
static mp_status send_object(mp_pipe *c, cbor_item_t *obj) {
    unsigned char *buf;
    size_t len = mpcbor_encode(obj, &buf);
    cbor_decref(&obj);
    mp_status st = mp_pipe_send(c, buf, len);
    free(buf);
    return st;
}

static int client(const char *addr) {
    mp_pipe *c;
    CHECK(mp_pipe_connect(addr, KEY, KEYLEN, 5000, &c));
    for (int64_t i = 0; i < REQUESTS; i++) {
        cbor_item_t *req = mpcbor_ok(cbor_new_definite_map(4));
        mpcbor_map_set(req, "id", mpcbor_int(i));
        mpcbor_map_set(req, "op", mpcbor_text("add"));
        mpcbor_map_set(req, "a", mpcbor_int(i));
        mpcbor_map_set(req, "b", mpcbor_int(10 * i));
        CHECK(send_object(c, req));
        mp_buf r;
        CHECK(mp_pipe_recv_timeout(c, &r, 5000));
        cbor_item_t *reply = mpcbor_decode(r.ptr, r.len);
        mp_buf_free(&r);
        int64_t id, result;
        if (!mpcbor_get_int(reply, "id", &id) || !mpcbor_get_int(reply, "result", &result) || id != i ||
            result != 11 * i) {
            fprintf(stderr, "client: bad reply to request %" PRId64 "\n", i);
            return 1;
        }
        cbor_decref(&reply);
    }
    printf("client %ld: %d replies, all right\n", (long)getpid(), REQUESTS);
    mp_pipe_close(c); /* the server's recv gets MP_E_EOF */
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "client") == 0) return client(argv[2]);

    char name[96], addr[128];
    unique_name(name, sizeof name, "c-example-rr");
    snprintf(addr, sizeof addr, "unix:@%s", name); /* abstract socket: no file left behind */
    mp_listener *l;
    CHECK(mp_listener_bind(addr, KEY, KEYLEN, &l));
    pid_t pid = spawn_self(argv[0], "client", addr, NULL);

    mp_pipe *c;
    CHECK(mp_listener_accept(l, 10000, &c));
    int served = 0;
    for (;;) {
        mp_buf m;
        mp_status st = mp_pipe_recv_timeout(c, &m, 10000);
        if (st == MP_E_EOF) break; /* the client closed its end */
        if (st) die_st("mp_pipe_recv_timeout", st);
        cbor_item_t *req = mpcbor_decode(m.ptr, m.len); /* NULL: not CBOR */
        mp_buf_free(&m);
        int64_t id, a, b;
        if (!mpcbor_text_is(mpcbor_get(req, "op"), "add") || !mpcbor_get_int(req, "id", &id) ||
            !mpcbor_get_int(req, "a", &a) || !mpcbor_get_int(req, "b", &b)) {
            fprintf(stderr, "server: a request it cannot read\n");
            return 1;
        }
        cbor_decref(&req);
        cbor_item_t *reply = mpcbor_ok(cbor_new_definite_map(2));
        mpcbor_map_set(reply, "id", mpcbor_int(id));
        mpcbor_map_set(reply, "result", mpcbor_int(a + b));
        CHECK(send_object(c, reply));
        served++;
    }
    mp_pipe_close(c);
    mp_listener_close(l);
    int failed = wait_all(&pid, 1);
    printf("server: answered %d requests (want %d)\n", served, REQUESTS);
    if (failed || served != REQUESTS) {
        printf("FAILED\n");
        return 1;
    }
    printf("OK\n");
    return 0;
}
