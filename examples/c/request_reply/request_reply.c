/*
 * request_reply.c: a server and a client over a Listener / Client pair
 * with an authkey (HMAC handshake both ways), wire-compatible with
 * Python's multiprocessing.connection. The main process binds the listener
 * and serves; a client process sends 100 requests {"op": "add", "a": i,
 * "b": 10*i} and checks every reply {"id": i, "result": 11*i}, then closes
 * (the server sees EOF). Messages are CBOR maps, as the bindings send.
 *
 *   request_reply                  (exits 0 if every reply was right)
 */
#include "example.h"
#include "minicbor.h"

#include <inttypes.h>

#define REQUESTS 100
static const uint8_t KEY[] = "request-reply-example";
#define KEYLEN (sizeof KEY - 1)

static int client(const char *addr) {
    mp_pipe *c;
    CHECK(mp_pipe_connect(addr, KEY, KEYLEN, 5000, &c));
    for (int64_t i = 0; i < REQUESTS; i++) {
        cbw w = {0};
        cbw_map(&w, 4);
        cbw_text(&w, "id"), cbw_int(&w, i);
        cbw_text(&w, "op"), cbw_text(&w, "add");
        cbw_text(&w, "a"), cbw_int(&w, i);
        cbw_text(&w, "b"), cbw_int(&w, 10 * i);
        CHECK(mp_pipe_send(c, w.buf, w.len));
        mp_buf r;
        CHECK(mp_pipe_recv_timeout(c, &r, 5000));
        int64_t id, result;
        if (cbr_find_int(r.ptr, r.len, "id", &id) || cbr_find_int(r.ptr, r.len, "result", &result) || id != i ||
            result != 11 * i) {
            fprintf(stderr, "client: bad reply to request %" PRId64 "\n", i);
            return 1;
        }
        mp_buf_free(&r);
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
        int64_t id, a, b;
        int is_add = cbr_find_text_is(m.ptr, m.len, "op", "add");
        if (!is_add || cbr_find_int(m.ptr, m.len, "id", &id) || cbr_find_int(m.ptr, m.len, "a", &a) ||
            cbr_find_int(m.ptr, m.len, "b", &b)) {
            fprintf(stderr, "server: a request it cannot read\n");
            return 1;
        }
        mp_buf_free(&m);
        cbw w = {0};
        cbw_map(&w, 2);
        cbw_text(&w, "id"), cbw_int(&w, id);
        cbw_text(&w, "result"), cbw_int(&w, a + b);
        CHECK(mp_pipe_send(c, w.buf, w.len));
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
