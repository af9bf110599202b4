// request_reply.cpp: a server and a client over a Listener / Client pair
// with an authkey (HMAC handshake both ways), wire-compatible with
// Python's multiprocessing.connection. The main process binds the listener
// and serves; a client process sends 100 requests {"id": i, "op": "add",
// "a": i, "b": 10 * i} and checks every reply {"id": i, "result": 11 * i},
// then closes (the server sees EOF). Messages are nlohmann::json objects,
// sent as CBOR maps (send_json / recv_json of mpipc_json.hpp).
//
//   request_reply                  (exits 0 if every reply was right)
#include "example.hpp"

#include <mpipc_json.hpp>

using nlohmann::json;
using std::chrono::milliseconds;

constexpr std::int64_t REQUESTS = 100;
constexpr std::string_view KEY = "request-reply-example";

static int client(const std::string &addr) {
    mpipc::Connection c = mpipc::Connection::connect(addr, KEY, milliseconds(5000));
    for (std::int64_t i = 0; i < REQUESTS; i++) {
        mpipc::send_json(c, {{"id", i}, {"op", "add"}, {"a", i}, {"b", 10 * i}});
        const json reply = mpipc::recv_json(c, milliseconds(5000));
        if (reply != json{{"id", i}, {"result", 11 * i}}) {
            std::fprintf(stderr, "client: reply %s to request %lld\n", reply.dump().c_str(), static_cast<long long>(i));
            return 1;
        }
    }
    return 0; // closing the connection: the server's recv sees EOF
}

int main(int argc, char **argv) try {
    if (argc == 3 && std::string(argv[1]) == "client") {
        return client(argv[2]);
    }
    mpipc::Listener l("unix:/tmp/" + example::unique_name("cpp-example-rr") + ".sock", KEY);
    const pid_t pid = example::spawn_self({"client", l.address()});
    mpipc::Connection c = l.accept(milliseconds(10000));
    std::int64_t served = 0;
    for (;;) {
        json req;
        try {
            req = mpipc::recv_json(c, milliseconds(10000));
        } catch (const mpipc::error &e) {
            if (e.status() == MP_E_EOF) {
                break; // the client is done
            }
            throw;
        }
        if (req.at("op") != "add") {
            mpipc::send_json(c, {{"id", req.at("id")}, {"error", "unknown op"}});
            continue;
        }
        const std::int64_t sum = req.at("a").get<std::int64_t>() + req.at("b").get<std::int64_t>();
        mpipc::send_json(c, {{"id", req.at("id")}, {"result", sum}});
        served++;
    }
    const int failed = example::wait_all({pid});
    std::printf("served %lld requests (want %lld)\n", static_cast<long long>(served), static_cast<long long>(REQUESTS));
    if (failed || served != REQUESTS) {
        std::printf("FAILED\n");
        return 1;
    }
    std::printf("OK\n");
    return 0;
} catch (const std::exception &e) {
    std::fprintf(stderr, "[%ld] %s\n", static_cast<long>(getpid()), e.what());
    return 1;
}
