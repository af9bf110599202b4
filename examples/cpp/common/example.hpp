// example.hpp: helpers shared by the C++ examples (header only): a unique
// name per run, starting this same program again as a worker process (as
// Python's spawn does), and waiting for the workers.
#ifndef EXAMPLE_HPP
#define EXAMPLE_HPP

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace example {

/// "<prefix>-<pid>-<random>": a name no other run uses.
inline std::string unique_name(const std::string &prefix) {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    char buf[64];
    std::snprintf(buf, sizeof buf, "-%ld-%lx", static_cast<long>(getpid()),
                  static_cast<unsigned long>(ts.tv_nsec) ^ (static_cast<unsigned long>(ts.tv_sec) << 20));
    return prefix + buf;
}

/// Starts this program again with `args` (argv[1..]); the child's pid.
inline pid_t spawn_self(const std::vector<std::string> &args) {
    std::vector<char *> argv;
    static char self[] = "example";
    argv.push_back(self);
    for (const std::string &a : args) {
        argv.push_back(const_cast<char *>(a.c_str()));
    }
    argv.push_back(nullptr);
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) {
        std::perror("fork");
        std::exit(1);
    }
    if (pid == 0) {
        execv("/proc/self/exe", argv.data());
        std::perror("execv");
        _exit(127);
    }
    return pid;
}

/// Waits for every child; how many failed.
inline int wait_all(const std::vector<pid_t> &pids) {
    int failed = 0;
    for (pid_t p : pids) {
        int status = 0;
        if (waitpid(p, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            std::fprintf(stderr, "worker %ld failed\n", static_cast<long>(p));
            failed++;
        }
    }
    return failed;
}

} // namespace example

#endif // EXAMPLE_HPP
