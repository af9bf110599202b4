// shared_counter.cpp: counting across processes with manager objects and
// their typed proxies. The main process serves a manager (ManagerServer;
// `mpipc manager serve` works as well); 4 worker processes connect and
//  - add 1 to dict "stats"["hits"] 1000 times each with incr (one atomic
//    step on the server, unlike Python's d[k] += 1),
//  - record {"pid": p, "hits": n} in dict "per-worker" under their pid and
//    append it to list "log",
//  - under the manager lock "roster-lock" (a Guard: released however the
//    scope ends), read the value "roster" (a json array, null at first),
//    append their pid and write it back: a read-modify-write that the lock
//    makes atomic.
// Keys and values are nlohmann::json (mgr::JsonDict, JsonList, JsonValue
// of mpipc_json.hpp): a Python, Go or Node client sees dicts and lists.
//
//   shared_counter                 (exits 0 if hits == 4000 and the rest adds up)
#include "example.hpp"

#include <mpipc_json.hpp>

#include <algorithm>

using nlohmann::json;
using std::chrono::milliseconds;

constexpr int WORKERS = 4;
constexpr std::int64_t N = 1000;
constexpr std::string_view KEY = "shared-counter-example";

static int worker(const std::string &addr) {
    mpipc::Manager m(addr, KEY);
    mpipc::mgr::JsonDict stats(m, "stats"), per_worker(m, "per-worker");
    mpipc::mgr::JsonList log(m, "log");
    mpipc::mgr::JsonValue roster(m, "roster");
    mpipc::mgr::Lock roster_lock(m, "roster-lock");
    std::int64_t mine = 0;
    for (std::int64_t i = 0; i < N; i++) {
        stats.incr("hits");
        mine++;
    }
    const auto pid = static_cast<std::int64_t>(getpid());
    const json record = {{"pid", pid}, {"hits", mine}};
    per_worker.set(std::to_string(pid), record);
    log.append(record);
    {
        auto held = roster_lock.hold(milliseconds(10000));
        json r = roster.get();
        if (r.is_null()) {
            r = json::array();
        }
        r.push_back(pid);
        roster.set(r);
    } // released here
    return 0;
}

int main(int argc, char **argv) try {
    if (argc == 3 && std::string(argv[1]) == "worker") {
        return worker(argv[2]);
    }
    mpipc::ManagerServer srv("unix:/tmp/" + example::unique_name("cpp-example-mgr") + ".sock", KEY);
    std::vector<pid_t> pids;
    for (int i = 0; i < WORKERS; i++) {
        pids.push_back(example::spawn_self({"worker", srv.address()}));
    }
    const int failed = example::wait_all(pids);

    mpipc::Manager m(srv.address(), KEY);
    mpipc::mgr::JsonDict stats(m, "stats"), per_worker(m, "per-worker");
    const std::int64_t hits = stats.get("hits").get<std::int64_t>();
    std::int64_t logged = 0;
    for (const json &rec : mpipc::mgr::JsonList(m, "log").copy()) {
        logged += rec.at("hits").get<std::int64_t>();
    }
    json roster = mpipc::mgr::JsonValue(m, "roster").get();
    std::vector<std::int64_t> in_roster = roster.get<std::vector<std::int64_t>>();
    std::sort(in_roster.begin(), in_roster.end());
    std::vector<std::int64_t> want_roster(pids.begin(), pids.end());
    std::sort(want_roster.begin(), want_roster.end());
    std::printf("hits = %lld (want %lld), %zu workers recorded, log sums to %lld, roster %s\n",
                static_cast<long long>(hits), static_cast<long long>(WORKERS * N), per_worker.size(),
                static_cast<long long>(logged), roster.dump().c_str());
    if (failed || hits != WORKERS * N || per_worker.size() != WORKERS || logged != WORKERS * N ||
        in_roster != want_roster) {
        std::printf("FAILED\n");
        return 1;
    }
    std::printf("OK\n");
    return 0;
} catch (const std::exception &e) {
    std::fprintf(stderr, "[%ld] %s\n", static_cast<long>(getpid()), e.what());
    return 1;
}
