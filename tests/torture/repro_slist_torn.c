/*
 * Reproduction (found by the fault torture, docs/TORTURE.md): a
 * ShareableList writer killed in the middle of copying an item can leave a
 * torn item that readers get as a value: the next locker replaces torn
 * items with null only when they no longer decode, and a new value as
 * long as the old one (same CBOR head) still decodes, half old bytes and
 * half new. Readers then get a value nobody wrote.
 *
 * A child process sets item 0 to 60000 x 'A' and 60000 x 'B' in turn
 * (mp_slist_set, nothing else); the parent SIGKILLs it at a random instant
 * and reads item 0, which must be null (repaired), all 'A' or all 'B'.
 * Repeats up to 2000 times.
 *
 *   gcc -std=c11 -D_GNU_SOURCE -Iinclude tests/torture/repro_slist_torn.c \
 *       -Ltarget/release -lmpipc -Wl,-rpath,$PWD/target/release -o /tmp/repro && /tmp/repro
 *
 * Exit 0: no torn value in 2000 kills; 1 ("BUG"): a reader got a torn value.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpipc.h"

#define N 60000 /* payload bytes; CBOR head 0x59 0xEA 0x60 */

static void item(uint8_t *out, char c) {
    out[0] = 0x59;
    out[1] = (uint8_t)(N >> 8);
    out[2] = (uint8_t)(N & 255);
    memset(out + 3, c, N);
}

int main(void) {
    char name[64];
    snprintf(name, sizeof name, "repro-torn-%d", (int)getpid());
    static uint8_t init[1 + 3 + N], a[3 + N], b[3 + N];
    init[0] = 0x81; /* a one-item list: [h'41...'] */
    item(init + 1, 'A');
    item(a, 'A');
    item(b, 'B');
    mp_slist *l;
    if (mp_slist_open(name, init, sizeof init, MP_OPEN_CREATE_ONLY, &l) != MP_OK) {
        fprintf(stderr, "open: %s\n", mp_last_error());
        return 2;
    }
    srand((unsigned)time(NULL));
    int rc = 0, nulls = 0, tries;
    for (tries = 1; tries <= 2000 && rc == 0; tries++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (unsigned i = 0;; i++) mp_slist_set(l, 0, (i & 1) ? b : a, sizeof a);
        }
        struct timespec t = {0, 200000 + (rand() % 2000) * 1000L};
        nanosleep(&t, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        mp_buf m = {0};
        mp_status s = mp_slist_get(l, 0, &m);
        if (s != MP_OK) {
            printf("get: %s (%s)\n", mp_status_str(s), mp_last_error());
            rc = 2;
        } else if (m.len == 1 && m.ptr[0] == 0xf6) {
            nulls++;
            mp_slist_set(l, 0, a, sizeof a);
        } else {
            size_t as = 0, bs = 0;
            for (size_t i = 3; i < m.len; i++) {
                as += m.ptr[i] == 'A';
                bs += m.ptr[i] == 'B';
            }
            if (m.len != sizeof a || (as != N && bs != N)) {
                printf("BUG after %d kills: read a value nobody wrote: %zu bytes, %zu x 'A' + %zu x 'B'\n", tries,
                       m.len, as, bs);
                rc = 1;
            }
        }
        mp_buf_free(&m);
    }
    if (rc == 0) printf("OK: %d kills, every read whole (%d torn items replaced with null)\n", tries - 1, nulls);
    mp_slist_close(l);
    mp_slist_unlink(name);
    return rc;
}
