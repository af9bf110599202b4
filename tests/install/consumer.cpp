// A C++17 program built against an installed mpipc (tests/install/test_install.sh),
// through the RAII wrapper mpipc.hpp: a queue put/get across fork, a Lock
// under std::lock_guard guarding an Array, and the exceptions of expected
// errors. Usage: consumer_cpp NAME; prints "version X.Y.Z" on success.
#include <mpipc.hpp>

#include <cstdio>
#include <mutex>
#include <string>
#include <sys/wait.h>
#include <type_traits>
#include <unistd.h>

static_assert(!std::is_copy_constructible_v<mpipc::Queue>, "handles are move-only");
static_assert(std::is_nothrow_move_constructible_v<mpipc::Queue>, "handles move without throwing");

static int fail(const std::string &what) {
    std::fprintf(stderr, "consumer_cpp: %s\n", what.c_str());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: consumer_cpp NAME\n");
        return 2;
    }
    const std::string name = argv[1];
    try {
        mpq_options o{};
        o.maxsize = 8;
        o.flags = MPQ_CREATE_ONLY;
        mpipc::Queue q(name, o);
        mpipc::Lock lock(name);
        mpipc::Array counter(name, 'q', 1);
        pid_t pid = fork();
        if (pid < 0)
            return fail("fork");
        if (pid == 0) {
            int rc = 0;
            try {
                mpq_options a{};
                a.flags = MPQ_ATTACH_ONLY;
                mpipc::Queue cq(name, a);
                {
                    std::lock_guard<mpipc::Lock> g(lock);
                    counter.set_i64(0, counter.get_i64(0) + 41);
                }
                cq.put(std::string_view("hello from C++"));
            } catch (const mpipc::error &e) {
                std::fprintf(stderr, "child: %s\n", e.what());
                rc = 1;
            }
            _exit(rc);
        }
        mpipc::bytes m = q.get(std::chrono::milliseconds(10000));
        if (std::string(m.begin(), m.end()) != "hello from C++")
            return fail("wrong message");
        int st = 0;
        waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            return fail("child failed");
        {
            std::lock_guard<mpipc::Lock> g(lock);
            counter.set_i64(0, counter.get_i64(0) + 1);
        }
        if (counter.get_i64(0) != 42)
            return fail("counter is " + std::to_string(counter.get_i64(0)));

        // Expected errors come back as mpipc::error with status and message.
        try {
            q.get(std::chrono::milliseconds(0));
            return fail("get on an empty queue did not throw");
        } catch (const mpipc::error &e) {
            if (e.status() != MP_E_EMPTY)
                return fail(std::string("empty get threw ") + e.status_name());
        }
        if (q.try_get())
            return fail("try_get on an empty queue returned a message");
        try {
            mpipc::Queue again(name, o);  // MPQ_CREATE_ONLY on an existing name
            return fail("a second create did not throw");
        } catch (const mpipc::error &e) {
            if (e.status() != MP_E_EXISTS || e.message().empty())
                return fail(std::string("second create threw ") + e.what());
            std::printf("caught: %s\n", e.what());
        }

        mpipc::Queue moved = std::move(q);  // move-only: q is now empty
        try {
            (void)q.qsize();
            return fail("a moved-from handle did not throw");
        } catch (const mpipc::error &e) {
            if (e.status() != MP_E_NULL)
                return fail(std::string("moved-from handle threw ") + e.status_name());
        }
        if (moved.qsize() != 0)
            return fail("queue not empty");

        mpipc::Queue::unlink(name);
        mpipc::Lock::unlink(name);
        mpipc::Array::unlink(name);
        try {
            mpipc::Queue::unlink(name);
            return fail("a second unlink did not throw");
        } catch (const mpipc::error &e) {
            if (e.status() != MP_E_NOTFOUND)
                return fail(std::string("second unlink threw ") + e.status_name());
        }
    } catch (const mpipc::error &e) {
        return fail(std::string("unexpected: ") + e.what());
    }
    std::printf("version %s\n", mpipc::version().c_str());
    return 0;
}
