/*
 * example.h: helpers shared by the C examples (header only): error exits
 * with the library's message, a unique name per run, and starting this
 * same program again as a worker process (as Python's spawn does).
 */
#ifndef EXAMPLE_H
#define EXAMPLE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "mpipc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Prints "what: MP_E_...: detail" and exits 1. */
static inline void die_st(const char *what, mp_status st) {
    fprintf(stderr, "[%ld] %s: %s (%s)\n", (long)getpid(), what, mp_status_str(st), mp_last_error());
    exit(1);
}
#define CHECK(call)                              \
    do {                                         \
        mp_status st_ = (call);                  \
        if (st_ != MP_OK) die_st(#call, st_);    \
    } while (0)

/* "<prefix>-<pid>-<random>": a name no other run uses. */
static inline void unique_name(char *buf, size_t cap, const char *prefix) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, cap, "%s-%ld-%lx", prefix, (long)getpid(), (unsigned long)(ts.tv_nsec ^ (ts.tv_sec << 20)));
}

/* Starts this program again with the given arguments (NULL-terminated);
 * returns the child's pid. */
static inline pid_t spawn_self(const char *arg0, ...) {
    const char *args[16];
    int n = 0;
    args[n++] = arg0;
    va_list ap;
    va_start(ap, arg0);
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL && n < 15) args[n++] = s;
    va_end(ap);
    args[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        execv("/proc/self/exe", (char *const *)args);
        perror("execv");
        _exit(127);
    }
    return pid;
}

/* Waits for the n children; returns how many failed. */
static inline int wait_all(const pid_t *pids, int n) {
    int failed = 0;
    for (int i = 0; i < n; i++) {
        int status;
        if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "worker %ld failed\n", (long)pids[i]);
            failed++;
        }
    }
    return failed;
}

#endif /* EXAMPLE_H */
