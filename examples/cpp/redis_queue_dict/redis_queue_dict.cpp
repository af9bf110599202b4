// redis_queue_dict.cpp: a JoinableQueue and a manager dict kept on a Redis
// or Valkey server instead of this machine (docs/REDIS.md). The classes and
// calls are those of producer_consumer and shared_counter: only the
// address changes. Given the server as redis://HOST:PORT, the main process
//  - creates the queue REDIS/<unique> (maxsize 16, so puts wait on the
//    server while the consumers lag), starts 2 consumer processes, puts
//    500 jobs {"id": i, "name": "job-<i>", "vals": [i, -i]} as json, joins
//    (returns once every job was task_done'd), then shuts the queue down so
//    the consumers stop; each consumer checks every job and reports
//    {"count": n, "sum": s} on a second queue: the totals must be 500 jobs
//    and 0 + 1 + ... + 499, so each job arrived exactly once;
//  - connects a Manager to REDIS?ns=<unique> (no mpipc process serves it:
//    the server keeps the dict), starts 2 worker processes that each add 1
//    to dict "stats"["hits"] 300 times with incr (one atomic step on the
//    server) and to "stats"["cas"] 300 times with a get then
//    compare_and_set (retried when another process won): both end at
//    exactly 600.
// Everything it made is removed at the end (unlink, clear).
//
//   redis_queue_dict redis://127.0.0.1:6379     (or $MPIPC_REDIS_URL; exits 0 if the totals match)
//   bash examples/cpp/run_all.sh                (starts a throwaway server with scripts/redis-server.sh)
#include "example.hpp"

#include <mpipc_json.hpp>

#include <cinttypes>

using nlohmann::json;
using std::chrono::milliseconds;

constexpr std::int64_t JOBS = 500;
constexpr int CONSUMERS = 2;
constexpr int WORKERS = 2;
constexpr std::int64_t ROUNDS = 300;
// A bound on waits that should end at once, so a fault fails the run
// instead of hanging it.
constexpr milliseconds WAIT{30000};

static json make_job(std::int64_t i) { return {{"id", i}, {"name", "job-" + std::to_string(i)}, {"vals", {i, -i}}}; }

static int consumer(const std::string &jobs_addr, const std::string &done_addr) {
    mpq_options attach{};
    attach.flags = MPQ_ATTACH_ONLY; // zero sizes: whatever the queue has
    mpipc::Queue jobs(jobs_addr, attach), done(done_addr, attach);
    std::int64_t count = 0, sum = 0;
    for (;;) {
        json job;
        try {
            job = mpipc::get_json(jobs, WAIT); // a wait on the server (BLMPOP), not a poll
        } catch (const mpipc::error &e) {
            if (e.status() == MP_E_SHUTDOWN) {
                break; // shut down and drained
            }
            throw;
        }
        const auto id = job.at("id").get<std::int64_t>();
        if (job != make_job(id)) {
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

static int worker(const std::string &mgr_addr) {
    mpipc::Manager m(mgr_addr);
    mpipc::mgr::JsonDict stats(m, "stats");
    std::int64_t lost = 0;
    for (std::int64_t i = 0; i < ROUNDS; i++) {
        stats.incr("hits");
        for (;;) {
            const json v = stats.get("cas");
            if (stats.compare_and_set("cas", v, v.get<std::int64_t>() + 1)) {
                break;
            }
            lost++; // another process changed it in between: read again
        }
    }
    std::printf("worker %ld: %" PRId64 " compare_and_set races lost\n", static_cast<long>(getpid()), lost);
    return 0;
}

// The queue part: returns whether every job arrived exactly once.
static bool queue_round_trip(const std::string &redis) {
    const std::string jobs_addr = redis + "/" + example::unique_name("cpp-example-redis-jobs");
    const std::string done_addr = jobs_addr + "-done";
    mpq_options o{};
    o.maxsize = 16;
    o.flags = MPQ_CREATE_ONLY; // capacity_bytes and mode stay 0: they do not apply on Redis
    mpipc::Queue jobs(jobs_addr, o);
    mpq_options od{};
    od.flags = MPQ_CREATE_ONLY;
    mpipc::Queue done(done_addr, od);

    std::vector<pid_t> pids;
    for (int i = 0; i < CONSUMERS; i++) {
        pids.push_back(example::spawn_self({"consumer", jobs_addr, done_addr}));
    }
    for (std::int64_t i = 0; i < JOBS; i++) {
        mpipc::put_json(jobs, make_job(i), WAIT); // waits while 16 are queued
    }
    if (!jobs.join(WAIT)) {
        std::fprintf(stderr, "join timed out\n");
        return false;
    }
    jobs.shutdown(); // the consumers' gets now fail with MP_E_SHUTDOWN, on every client
    const int failed = example::wait_all(pids);

    std::int64_t count = 0, sum = 0;
    for (int i = 0; i < CONSUMERS - failed; i++) {
        const json report = mpipc::get_json(done, WAIT);
        count += report.at("count").get<std::int64_t>();
        sum += report.at("sum").get<std::int64_t>();
    }
    const size_t left = jobs.qsize() + done.qsize();
    jobs.close();
    done.close();
    mpipc::Queue::unlink(jobs_addr); // deletes the queue's keys on the server
    mpipc::Queue::unlink(done_addr);

    const std::int64_t want_sum = JOBS * (JOBS - 1) / 2;
    std::printf("queue: %" PRId64 " jobs (want %" PRId64 "), sum %" PRId64 " (want %" PRId64 "), %zu left\n", count,
                JOBS, sum, want_sum, left);
    return failed == 0 && count == JOBS && sum == want_sum && left == 0;
}

// The manager part: returns whether both counts are exact.
static bool dict_incr(const std::string &redis) {
    const std::string mgr_addr = redis + "?ns=" + example::unique_name("cpp-example-redis");
    mpipc::Manager m(mgr_addr);
    mpipc::mgr::JsonDict stats(m, "stats");
    stats.set("cas", 0); // compare_and_set never inserts
    std::vector<pid_t> pids;
    for (int i = 0; i < WORKERS; i++) {
        pids.push_back(example::spawn_self({"worker", mgr_addr}));
    }
    const int failed = example::wait_all(pids);
    const std::int64_t hits = stats.get("hits").get<std::int64_t>(), cas = stats.get("cas").get<std::int64_t>();
    stats.clear();
    std::printf("dict: hits = %" PRId64 ", cas = %" PRId64 " (want %" PRId64 " each)\n", hits, cas, WORKERS * ROUNDS);
    return failed == 0 && hits == WORKERS * ROUNDS && cas == WORKERS * ROUNDS && stats.size() == 0;
}

int main(int argc, char **argv) try {
    if (argc == 4 && std::string(argv[1]) == "consumer") {
        return consumer(argv[2], argv[3]);
    }
    if (argc == 3 && std::string(argv[1]) == "worker") {
        return worker(argv[2]);
    }
    const char *env = std::getenv("MPIPC_REDIS_URL");
    const std::string redis = argc == 2 ? argv[1] : env != nullptr ? env : "";
    if (redis.empty() || argc > 2) {
        std::fprintf(stderr, "usage: %s redis://HOST:PORT   (or MPIPC_REDIS_URL)\n", argv[0]);
        return 2;
    }
    const bool queue_ok = queue_round_trip(redis);
    const bool dict_ok = dict_incr(redis);
    if (!queue_ok || !dict_ok) {
        std::printf("FAILED\n");
        return 1;
    }
    std::printf("OK\n");
    return 0;
} catch (const std::exception &e) {
    std::fprintf(stderr, "[%ld] %s\n", static_cast<long>(getpid()), e.what());
    return 1;
}
