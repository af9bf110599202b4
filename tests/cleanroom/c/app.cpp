// Clean-room C++17 program over mpipc.hpp (tests/cleanroom/c.sh), either
// side of the exchange of producer.c / consumer.c (same messages):
//
//   app produce QUEUE N     puts "job-0" .. "job-<N-1>", then "stop"
//   app consume QUEUE N     takes them in order until "stop", checks, unlinks
#include <mpipc.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char **argv) {
    if (argc != 4) {
        std::cerr << "usage: app produce|consume QUEUE N\n";
        return 2;
    }
    const std::string role = argv[1], name = argv[2];
    const long n = std::strtol(argv[3], nullptr, 10);
    try {
        mpipc::Queue q(name);
        if (role == "produce") {
            for (long i = 0; i < n; i++) {
                q.put("job-" + std::to_string(i));
            }
            q.put(std::string_view("stop"));
            std::cout << "produced " << n << "\n";
            return 0;
        }
        if (role != "consume") {
            std::cerr << "app: unknown role " << role << "\n";
            return 2;
        }
        long got = 0;
        for (;;) {
            // A bound, not a synchronisation: the producer runs concurrently.
            mpipc::bytes m = q.get(std::chrono::milliseconds(60000));
            std::string s(m.begin(), m.end());
            if (s == "stop") {
                break;
            }
            if (s != "job-" + std::to_string(got)) {
                std::cerr << "app: message " << got << " is '" << s << "'\n";
                return 1;
            }
            got++;
        }
        mpipc::Queue::unlink(name);
        if (got != n) {
            std::cerr << "app: got " << got << " messages, expected " << n << "\n";
            return 1;
        }
        // An expected error surfaces as mpipc::error with its status.
        try {
            mpipc::Queue::unlink(name);
            std::cerr << "app: a second unlink succeeded\n";
            return 1;
        } catch (const mpipc::error &e) {
            if (e.status() != MP_E_NOTFOUND) {
                throw;
            }
        }
        std::cout << "consumed " << got << "\nversion " << mp_version() << "\n";
        return 0;
    } catch (const mpipc::error &e) {
        std::cerr << "app: " << e.what() << "\n";
        return 1;
    }
}
