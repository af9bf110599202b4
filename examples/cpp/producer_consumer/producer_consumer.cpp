// producer_consumer.cpp: Python's JoinableQueue pattern in C++ with
// objects. The main process creates a named queue, starts 3 consumer
// processes, puts 1000 jobs {"name": "job-<i>", "id": i, "score": i / 2.0,
// "vals": [i, i + 1]} as nlohmann::json (mpipc_json.hpp writes the CBOR
// of docs/TYPES.md, so a Go, Node or Python consumer gets a map / dict),
// waits with join() until each was marked done, then shuts the queue down
// so the consumers stop. Each consumer checks every job and reports
// {"count": n, "sum": s} on a second queue; the totals must be 1000 jobs
// and 0 + 1 + ... + 999.
//
//   producer_consumer              (runs everything, exits 0 if the totals match)
#include "example.hpp"

#include <mpipc_json.hpp>

#include <cinttypes>

using nlohmann::json;
using std::chrono::milliseconds;

constexpr std::int64_t JOBS = 1000;
constexpr int CONSUMERS = 3;

// Job i. ordered_json keeps the keys in this order on the wire (plain
// nlohmann::json would sort them; a consumer's dict is equal either way).
static nlohmann::ordered_json make_job(std::int64_t i) {
    return {{"name", "job-" + std::to_string(i)},
            {"id", i},
            {"score", static_cast<double>(i) / 2.0}, // a double: always a 64-bit float on the wire
            {"vals", {i, i + 1}}};
}

static int consumer(const std::string &jobs_name, const std::string &done_name) {
    mpq_options attach{};
    attach.flags = MPQ_ATTACH_ONLY; // zero sizes: whatever the queue has
    mpipc::Queue jobs(jobs_name, attach), done(done_name, attach);
    std::int64_t count = 0, sum = 0;
    for (;;) {
        json job;
        try {
            job = mpipc::get_json(jobs, milliseconds(30000));
        } catch (const mpipc::error &e) {
            if (e.status() == MP_E_SHUTDOWN) {
                break; // shut down and drained
            }
            throw;
        }
        const auto id = job.at("id").get<std::int64_t>();
        if (job != json(make_job(id))) {
            std::fprintf(stderr, "consumer: job %s is not as put\n", job.dump().c_str());
            return 1;
        }
        count++, sum += id;
        jobs.task_done();
    }
    mpipc::put_json(done, {{"count", count}, {"sum", sum}});
    std::printf("consumer %ld: %" PRId64 " jobs\n", static_cast<long>(getpid()), count);
    return 0;
}

int main(int argc, char **argv) try {
    if (argc == 4 && std::string(argv[1]) == "consumer") {
        return consumer(argv[2], argv[3]);
    }
    const std::string jobs_name = example::unique_name("cpp-example-jobs"), done_name = jobs_name + "-done";
    mpq_options o{};
    o.maxsize = 64;
    o.flags = MPQ_CREATE_ONLY;
    mpipc::Queue jobs(jobs_name, o);
    mpq_options od{};
    od.flags = MPQ_CREATE_ONLY;
    mpipc::Queue done(done_name, od);

    std::vector<pid_t> pids;
    for (int i = 0; i < CONSUMERS; i++) {
        pids.push_back(example::spawn_self({"consumer", jobs_name, done_name}));
    }
    for (std::int64_t i = 0; i < JOBS; i++) {
        mpipc::put_json(jobs, make_job(i)); // blocks while 64 are waiting
    }
    if (!jobs.join(milliseconds(30000))) { // every job task_done'd
        std::fprintf(stderr, "join timed out\n");
        return 1;
    }
    jobs.shutdown(); // consumers' gets now fail with MP_E_SHUTDOWN
    const int failed = example::wait_all(pids);

    std::int64_t count = 0, sum = 0;
    for (int i = 0; i < CONSUMERS - failed; i++) {
        const json report = mpipc::get_json(done, milliseconds(5000));
        count += report.at("count").get<std::int64_t>();
        sum += report.at("sum").get<std::int64_t>();
    }
    jobs.close();
    done.close();
    mpipc::Queue::unlink(jobs_name);
    mpipc::Queue::unlink(done_name);

    const std::int64_t want_sum = JOBS * (JOBS - 1) / 2;
    std::printf("total: %" PRId64 " jobs (want %" PRId64 "), sum %" PRId64 " (want %" PRId64 ")\n", count, JOBS,
                sum, want_sum);
    if (failed || count != JOBS || sum != want_sum) {
        std::printf("FAILED\n");
        return 1;
    }
    std::printf("OK\n");
    return 0;
} catch (const std::exception &e) {
    std::fprintf(stderr, "[%ld] %s\n", static_cast<long>(getpid()), e.what());
    return 1;
}
