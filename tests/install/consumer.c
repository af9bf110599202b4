/* A C program built against an installed mpipc (tests/install/test_install.sh):
 * a real queue put/get across fork, and the header/library version check.
 * Usage: consumer_c QUEUE_NAME; prints "version X.Y.Z" on success. */
#include <mpipc.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "consumer_c: " __VA_ARGS__); fprintf(stderr, " (%s)\n", mp_last_error()); return 1; } while (0)

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: consumer_c QUEUE_NAME\n");
        return 2;
    }
    const char *name = argv[1];
    if (mp_version_number() != MP_VERSION_NUMBER)
        FAIL("library %u, header %u", mp_version_number(), (unsigned)MP_VERSION_NUMBER);
    mpq_options o = {.maxsize = 8, .flags = MPQ_CREATE_ONLY};
    mpq *q;
    if (mpq_open(name, &o, &q) != MP_OK)
        FAIL("mpq_open");
    pid_t pid = fork();
    if (pid < 0)
        FAIL("fork");
    if (pid == 0) {
        mpq *cq;
        mpq_options a = {.flags = MPQ_ATTACH_ONLY};
        if (mpq_open(name, &a, &cq) != MP_OK || mpq_put(cq, (const uint8_t *)"hello from C", 12) != MP_OK)
            _exit(1);
        mpq_close(cq);
        _exit(0);
    }
    mp_buf m;
    mp_status s = mpq_get_timeout(q, &m, 10000);
    if (s != MP_OK)
        FAIL("get: %s", mp_status_str(s));
    int ok = m.len == 12 && memcmp(m.ptr, "hello from C", 12) == 0;
    mp_buf_free(&m);
    int st;
    waitpid(pid, &st, 0);
    mpq_close(q);
    mpq_unlink(name);
    if (!ok)
        FAIL("wrong message");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        FAIL("child failed");
    printf("version %s\n", mp_version());
    return 0;
}
