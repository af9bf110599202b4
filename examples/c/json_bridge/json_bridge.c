/*
 * json_bridge.c: objects from C without a CBOR library, through the C
 * ABI's JSON bridge (docs/TYPES.md, "JSON bridge (C ABI)"). The main
 * process serves a manager (mp_mgr_serve), creates a named queue and
 * starts itself again as a consumer process; it puts JSON texts with
 * mpq_put_json (issue 19's map, then the extended forms for what JSON
 * lacks: bytes, an integer beyond 64 bits, a non-finite float, a tag, a
 * map with integer keys), and shows that a text the bridge refuses is
 * never put. The consumer gets each message back as JSON with
 * mpq_get_json, compares it with the compact text the bridge writes, and
 * stores its report in the manager dict "json-bridge" with
 * mp_mgr_dict_set_json; the main process reads it with
 * mp_mgr_dict_get_json. A Python consumer of the same queue would get
 * dicts (`{"name": "a", "id": 1, "score": 0.5, "vals": [1, 2]}`), bytes
 * and an int.
 *
 *   json_bridge                    (runs everything, exits 0 if every text matches)
 */
#include "example.h"

#define KEYLEN (sizeof KEY - 1)
static const uint8_t KEY[] = "json-bridge-example";

/* What the producer puts, and the JSON the consumer must get back: the
 * same value written compactly by the bridge (docs/TYPES.md's table). */
static const struct {
    const char *put, *want;
} MESSAGES[] = {
    /* issue 19's map: a dict for Python, a map for Go, an object for Node */
    {"{\"name\": \"a\", \"id\": 1, \"score\": 0.5, \"vals\": [1, 2]}",
     "{\"name\":\"a\",\"id\":1,\"score\":0.5,\"vals\":[1,2]}"},
    /* a byte string (base64, padded) and an integer beyond 64 bits (a
     * bignum: Python's int, Go's *big.Int, Node's BigInt) */
    {"{\"id\": 2, \"blob\": {\"$bytes\": \"AAEC/w==\"}, \"big\": 123456789012345678901234567890}",
     "{\"id\":2,\"blob\":{\"$bytes\":\"AAEC/w==\"},\"big\":123456789012345678901234567890}"},
    /* a float written with a fraction stays a float (100.0, not 100); a
     * non-finite float; a tag with its content (tag 1: epoch seconds,
     * Python's datetime); a map whose keys are not text */
    {"{\"id\": 3, \"limit\": 100.0, \"ratio\": {\"$float\": \"Infinity\"}, \"at\": {\"$tag\": 1, \"$value\": 1.5}, "
     "\"names\": {\"$map\": [[1, \"one\"], [2, \"two\"]]}}",
     "{\"id\":3,\"limit\":100.0,\"ratio\":{\"$float\":\"Infinity\"},\"at\":{\"$tag\":1,\"$value\":1.5},"
     "\"names\":{\"$map\":[[1,\"one\"],[2,\"two\"]]}}"},
};
#define NMSG ((int)(sizeof MESSAGES / sizeof MESSAGES[0]))

/* The consumer's report, as the main process reads it back from the dict. */
#define REPORT "{\"count\":3,\"ids\":[1,2,3],\"ok\":true}"

static int consumer(const char *qname, const char *addr) {
    mpq *q;
    mpq_options o = {.flags = MPQ_ATTACH_ONLY};
    CHECK(mpq_open(qname, &o, &q));
    int bad = 0;
    for (int i = 0; i < NMSG; i++) {
        char *json;
        CHECK(mpq_get_json(q, &json, 30000)); /* free with mp_json_free */
        if (strcmp(json, MESSAGES[i].want) != 0) {
            fprintf(stderr, "consumer: message %d is\n  %s\nwant\n  %s\n", i + 1, json, MESSAGES[i].want);
            bad++;
        } else {
            printf("consumer got %s\n", json);
        }
        mp_json_free(json);
    }
    mpq_close(q);

    /* The report, key and value as JSON texts: a text key is a JSON
     * string, quotes included (Python: results["consumer"] = {...}). */
    mp_mgr *m;
    CHECK(mp_mgr_connect(addr, KEY, KEYLEN, 5000, &m));
    CHECK(mp_mgr_dict_set_json(m, "json-bridge", "\"consumer\"",
                               bad ? "{\"count\": 0, \"ids\": [], \"ok\": false}"
                                   : "{\"count\": 3, \"ids\": [1, 2, 3], \"ok\": true}"));
    mp_mgr_close(m);
    return bad != 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "consumer") == 0) return consumer(argv[2], argv[3]);

    char qname[96], addr[128];
    unique_name(qname, sizeof qname, "c-example-json");
    snprintf(addr, sizeof addr, "unix:@%s", qname); /* abstract socket: no file to remove */
    mp_mgr_server *srv;
    CHECK(mp_mgr_serve(addr, KEY, KEYLEN, &srv));
    mpq *q;
    mpq_options o = {.flags = MPQ_CREATE_ONLY};
    CHECK(mpq_open(qname, &o, &q));
    pid_t pid = spawn_self(argv[0], "consumer", qname, addr, NULL);

    int bad = 0;
    /* A text the bridge refuses is never put: not JSON, then base64
     * without its padding. The status says which rule; mp_last_error
     * where. */
    const char *refused[] = {"{\"id\": }", "{\"$bytes\": \"AAEC/w\"}"};
    for (int i = 0; i < 2; i++) {
        mp_status st = mpq_put_json(q, refused[i]);
        printf("mpq_put_json(%s): %s (%s)\n", refused[i], mp_status_str(st), mp_last_error());
        if (st != MP_E_INVAL) bad++;
    }
    for (int i = 0; i < NMSG; i++)
        CHECK(mpq_put_json(q, MESSAGES[i].put)); /* converted to one CBOR message, then put */

    /* The bridge's conversions on their own: issue 19's map is the same
     * CBOR bytes a CBOR library writes (a4 64 6e 61 6d 65 ...). */
    mp_buf cbor;
    CHECK(mp_json_to_cbor(MESSAGES[0].put, strlen(MESSAGES[0].put), &cbor));
    printf("as CBOR: %zu bytes, a4 64 6e 61 6d 65 ...: %s\n", cbor.len,
           cbor.len == 35 && memcmp(cbor.ptr, "\xa4\x64name", 6) == 0 ? "yes" : "NO");
    if (cbor.len != 35 || memcmp(cbor.ptr, "\xa4\x64name", 6) != 0) bad++;
    char *back;
    CHECK(mp_cbor_to_json(cbor.ptr, cbor.len, &back));
    if (strcmp(back, MESSAGES[0].want) != 0) bad++;
    mp_json_free(back);
    mp_buf_free(&cbor);

    int failed = wait_all(&pid, 1);
    size_t left = 99;
    CHECK(mpq_qsize(q, &left));
    mpq_close(q);
    mpq_unlink(qname);

    mp_mgr *m;
    CHECK(mp_mgr_connect(addr, KEY, KEYLEN, 5000, &m));
    char *report = NULL;
    CHECK(mp_mgr_dict_get_json(m, "json-bridge", "\"consumer\"", &report));
    printf("json-bridge[\"consumer\"] = %s\n", report);
    if (strcmp(report, REPORT) != 0) bad++;
    mp_json_free(report);
    mp_mgr_close(m);
    CHECK(mp_mgr_server_shutdown(srv));

    if (failed || bad || left != 0) {
        printf("FAILED (%d worker failed, %d mismatches, %zu messages left)\n", failed, bad, left);
        return 1;
    }
    printf("OK\n");
    return 0;
}
