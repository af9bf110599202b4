// shared_array.cpp: Python's Array('q', 3) in named shared memory, with its
// robust lock, from C++. 4 worker processes each do 1000 read-modify-writes
// of elements 0 and 1 under the lock (std::lock_guard: mpipc::Array is
// Lockable; zero-copy through data()), and 1000 locked one-call increments
// of element 2 (incr). A lock whose holder died is taken over
// (owner_died()). Each worker then reports what it did as a json object on
// a queue ({"pid": p, "updates": n}), which the main process adds up: the
// elements are native integers, the reports objects.
//
//   shared_array                   (exits 0 if every element is 4000)
#include "example.hpp"

#include <mpipc_json.hpp>

#include <mutex>

using nlohmann::json;
using std::chrono::milliseconds;

constexpr int WORKERS = 4;
constexpr std::int64_t N = 1000;

static int worker(const std::string &name, const std::string &reports_name) {
    mpipc::Array a(name, 'q', 3, MP_OPEN_ATTACH_ONLY);
    mpq_options attach{};
    attach.flags = MPQ_ATTACH_ONLY;
    mpipc::Queue reports(reports_name, attach);
    auto *v = static_cast<std::int64_t *>(a.data());
    for (std::int64_t i = 0; i < N; i++) {
        std::lock_guard<mpipc::Array> g(a);
        if (a.owner_died()) { // we hold it; a real program would repair the data
            std::fprintf(stderr, "[%ld] previous holder died\n", static_cast<long>(getpid()));
        }
        v[0] += 1; // two steps the lock makes one
        v[1] = v[0];
    }
    for (std::int64_t i = 0; i < N; i++) {
        a.incr(2);
    }
    mpipc::put_json(reports, {{"pid", static_cast<std::int64_t>(getpid())}, {"updates", 2 * N}});
    return 0;
}

int main(int argc, char **argv) try {
    if (argc == 4 && std::string(argv[1]) == "worker") {
        return worker(argv[2], argv[3]);
    }
    const std::string name = example::unique_name("cpp-example-array"), reports_name = name + "-reports";
    mpipc::Array a(name, 'q', 3, MP_OPEN_CREATE_ONLY);
    mpq_options o{};
    o.flags = MPQ_CREATE_ONLY;
    mpipc::Queue reports(reports_name, o);
    std::vector<pid_t> pids;
    for (int i = 0; i < WORKERS; i++) {
        pids.push_back(example::spawn_self({"worker", name, reports_name}));
    }
    const int failed = example::wait_all(pids);
    std::int64_t updates = 0;
    for (int i = 0; i < WORKERS - failed; i++) {
        updates += mpipc::get_json(reports, milliseconds(5000)).at("updates").get<std::int64_t>();
    }
    const std::int64_t v0 = a.get_i64(0), v1 = a.get_i64(1), v2 = a.get_i64(2);
    a.close();
    reports.close();
    mpipc::Array::unlink(name);
    mpipc::Queue::unlink(reports_name);
    const std::int64_t want = WORKERS * N;
    std::printf("array = [%lld, %lld, %lld] (want %lld each), %lld updates reported\n", static_cast<long long>(v0),
                static_cast<long long>(v1), static_cast<long long>(v2), static_cast<long long>(want),
                static_cast<long long>(updates));
    if (failed || v0 != want || v1 != want || v2 != want || updates != 2 * want) {
        std::printf("FAILED\n");
        return 1;
    }
    std::printf("OK\n");
    return 0;
} catch (const std::exception &e) {
    std::fprintf(stderr, "[%ld] %s\n", static_cast<long>(getpid()), e.what());
    return 1;
}
