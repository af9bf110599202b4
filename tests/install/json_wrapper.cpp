// mpipc_json.hpp against an installed mpipc and nlohmann/json
// (tests/install/test_install.sh builds it with pkg-config and with
// CMake): objects through a queue, a pipe and the JSON manager proxies,
// TYPES.md's bytes, and the errors expected. Usage: json_cpp NAME; prints "ok".
#include <mpipc_json.hpp>

#include <cstdio>
#include <string>

static int failures = 0;

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            std::fprintf(stderr, "json_cpp:%d: CHECK(%s) failed\n", __LINE__, #cond);                                 \
            failures++;                                                                                                \
        }                                                                                                              \
    } while (0)

template <class F> static void expect_error(int line, mp_status status, F f) {
    try {
        f();
        std::fprintf(stderr, "json_cpp:%d: no exception, expected %s\n", line, mp_status_str(status));
        failures++;
    } catch (const mpipc::error &e) {
        if (e.status() != status) {
            std::fprintf(stderr, "json_cpp:%d: got %s, expected %s\n", line, e.what(), mp_status_str(status));
            failures++;
        }
    }
}
#define EXPECT_ERROR(status, ...) expect_error(__LINE__, status, [&] { __VA_ARGS__; })

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: json_cpp NAME\n");
        return 2;
    }
    const std::string n = argv[1];
    using nlohmann::json;
    using std::chrono::milliseconds;

    // The object, with the bytes every binding writes for it.
    const nlohmann::ordered_json obj = {{"name", "a"}, {"id", 1}, {"score", 0.5}, {"vals", {1, 2}}};
    const mpipc::bytes want{0xa4, 0x64, 'n', 'a', 'm', 'e', 0x61, 'a', 0x62, 'i', 'd', 0x01, 0x65, 's', 'c', 'o', 'r',
                            'e', 0xfb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0, 0x64, 'v', 'a', 'l', 's', 0x82, 0x01, 0x02};
    CHECK(mpipc::to_cbor(obj) == want);
    CHECK(mpipc::from_cbor<nlohmann::ordered_json>(want) == obj);
    CHECK(mpipc::to_cbor(json(1.0)) == (mpipc::bytes{0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0})); // a float stays 64-bit
    EXPECT_ERROR(MP_E_INVAL, mpipc::from_cbor(mpipc::bytes{0x00, 0x00}));                   // trailing bytes
    EXPECT_ERROR(MP_E_TYPE, mpipc::from_cbor(mpipc::bytes{0xda, 0x6d, 0x70, 0x70, 0x6b, 0x41, 0x00})); // PICKLE

    // Queue.
    {
        mpipc::Queue q(n);
        mpipc::put_json(q, obj);
        mpipc::put_json(q, {{"b", json::binary({1, 2})}});
        CHECK(q.get() == want);
        CHECK(mpipc::get_json(q)["b"] == json::binary({1, 2}));
        CHECK(!mpipc::try_get_json(q));
        EXPECT_ERROR(MP_E_EMPTY, mpipc::get_json(q, milliseconds(0)));
        q.close();
        mpipc::Queue::unlink(n);
    }
    // Pipe.
    {
        auto [a, b] = mpipc::Pipe();
        mpipc::send_json(a, obj);
        CHECK(mpipc::recv_json<nlohmann::ordered_json>(b) == obj);
        a.close();
        EXPECT_ERROR(MP_E_EOF, mpipc::recv_json(b));
    }
    // Manager proxies with json keys and values.
    {
        mpipc::ManagerServer srv("unix:/tmp/" + n + ".mgr", "k");
        mpipc::Manager m(srv.address(), "k");
        mpipc::mgr::JsonDict d(m, "d");
        d.set("obj", obj);
        d.set(json::array({1, "t"}), "tuple-like key");
        CHECK(d.get("obj") == json(obj) && d.get(json::array({1, "t"})) == "tuple-like key");
        CHECK(d.incr("hits", 3) == 3 && d.get("hits") == 3);
        CHECK(d.compare_and_set("hits", 3, 4.5) && d.get("hits") == 4.5);
        EXPECT_ERROR(MP_E_NOTFOUND, d.get("missing"));
        EXPECT_ERROR(MP_E_TYPE, d.set(json::object(), 1)); // a map is unhashable
        mpipc::mgr::JsonList l(m, "l");
        l.append(obj);
        l.extend({1, "two", nullptr});
        CHECK(l.size() == 4 && l.get(0) == json(obj) && l.copy().back().is_null());
        mpipc::mgr::JsonValue v(m, "v");
        v.set({{"state", "ready"}});
        CHECK(v.get()["state"] == "ready");
    }
    if (failures != 0) {
        return 1;
    }
    std::puts("ok");
    return 0;
}
