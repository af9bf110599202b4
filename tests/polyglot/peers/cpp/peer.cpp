// The C++ peer of the cross-language matrix (tests/polyglot/PEERS.md):
// include/mpipc.hpp and include/mpipc_json.hpp, the shared vectors as
// nlohmann::ordered_json values (ordered: maps keep the written order,
// which the bytes depend on).
//
//   cpp_peer send|recv queue|pipe|listener|manager|array|lock NAME VECTORS
//   cpp_peer vectors VECTORS     (self-check of mpipc_json.hpp, no peer)
//
// The sender builds each valid vector's value from its description and
// sends it with put_json / send_json / the JSON manager proxies (the
// encoder under test). The receiver takes raw bytes (Queue::get,
// Connection::recv, the byte-level manager proxies), checks them against
// the vector's hex (hex_plain from a Go or Node sender), decodes them with
// from_cbor, compares with the described value and re-encodes.
//
// How the descriptions map (mpipc_json.hpp's header comment): a tuple is
// sent as {"$tag": TUPLE, "$value": [...]} (so the C++ sender writes hex,
// as Python and Rust do) and decodes as a plain array, so the receiver
// compares with the value with every tuple an array and re-encodes to
// hex_plain (where a vector has one), as Go and Node do; a map with a
// non-text key is {"$map": [[k, v], ...]}; other tags {"$tag", "$value"},
// a tagged byte string a binary with subtype; integers beyond 64 bits
// binary subtype 2/3. Every valid vector is exchanged: none is skipped.
//
// Diagnostics on stderr; READY is the only line on stdout; exit 0 when
// every check passed.
#include <mpipc_json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <unistd.h>

using json = nlohmann::ordered_json;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds TIMEOUT{10000};
const std::string AUTHKEY = "polyglot";
int failures = 0;

void fail(const std::string &what) {
    std::fprintf(stderr, "cpp peer: %s\n", what.c_str());
    failures++;
}

[[noreturn]] void die(const std::string &what) {
    std::fprintf(stderr, "cpp peer: %s\n", what.c_str());
    std::exit(1);
}

void ready() {
    std::fputs("READY\n", stdout);
    std::fflush(stdout);
}

std::string hex(const mpipc::bytes &b) {
    static const char *digits = "0123456789abcdef";
    std::string s;
    for (std::uint8_t c : b) {
        s += digits[c >> 4];
        s += digits[c & 15];
    }
    return s;
}

mpipc::bytes unhex(const std::string &s) {
    mpipc::bytes b;
    for (size_t i = 0; i + 1 < s.size(); i += 2) {
        b.push_back(static_cast<std::uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
    }
    return b;
}

/// The big-endian bytes of a non-negative decimal, minus `minus` (0 or 1).
std::vector<std::uint8_t> decimal_bytes(const std::string &digits, int minus) {
    std::vector<std::uint8_t> b; // big-endian
    for (char ch : digits) {
        unsigned carry = static_cast<unsigned>(ch - '0');
        for (size_t i = b.size(); i-- > 0;) {
            const unsigned v = b[i] * 10u + carry;
            b[i] = static_cast<std::uint8_t>(v & 0xff);
            carry = v >> 8;
        }
        while (carry) {
            b.insert(b.begin(), static_cast<std::uint8_t>(carry & 0xff));
            carry >>= 8;
        }
    }
    for (size_t i = b.size(); minus && i-- > 0;) { // subtract 1 (the value is >= 1)
        if (b[i]-- != 0) {
            minus = 0;
        }
    }
    size_t z = 0;
    while (z < b.size() && b[z] == 0) {
        z++;
    }
    return std::vector<std::uint8_t>(b.begin() + static_cast<std::ptrdiff_t>(z), b.end());
}

json integer(const std::string &s) {
    errno = 0;
    char *end = nullptr;
    if (s[0] == '-') {
        const long long v = std::strtoll(s.c_str(), &end, 10);
        if (errno == 0 && *end == '\0') {
            return json(static_cast<std::int64_t>(v));
        }
        // Below -2^63: the negative bignum's magnitude is -1 - v = |v| - 1.
        return json::binary(decimal_bytes(s.substr(1), 1), 3);
    }
    const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (errno == 0 && *end == '\0') {
        return json(static_cast<std::uint64_t>(v));
    }
    return json::binary(decimal_bytes(s, 0), 2);
}

/// The native value of a description; `tuple_tags`: tuples as the TUPLE
/// tag object (what is sent) or as plain arrays (what decoding gives).
json build(const json &d, bool tuple_tags) {
    if (d.contains("nest")) { // n one-element arrays (or n tags) around the value
        json v = build(d["value"], tuple_tags);
        for (auto i = d["nest"].get<int>(); i > 0; i--) {
            v = d.contains("tag") ? json{{"$tag", d["tag"].get<std::uint64_t>()}, {"$value", v}} : json::array({v});
        }
        return v;
    }
    if (d.contains("null")) {
        return json(nullptr);
    }
    if (d.contains("bool")) {
        return json(d["bool"].get<bool>());
    }
    if (d.contains("int")) {
        return integer(d["int"].get<std::string>());
    }
    if (d.contains("float")) {
        const json &f = d["float"];
        if (f.is_string()) {
            const std::string s = f.get<std::string>();
            return json(s == "inf" ? INFINITY : s == "-inf" ? -INFINITY : s == "nan" ? NAN : -0.0);
        }
        return json(f.get<double>());
    }
    if (d.contains("text")) {
        return json(d["text"].get<std::string>());
    }
    if (d.contains("bytes")) {
        return json::binary(unhex(d["bytes"].get<std::string>()));
    }
    if (d.contains("array") || d.contains("tuple")) {
        json a = json::array();
        for (const json &x : d.contains("array") ? d["array"] : d["tuple"]) {
            a.push_back(build(x, tuple_tags));
        }
        if (d.contains("tuple") && tuple_tags) {
            return json{{"$tag", mpipc::tag::tuple}, {"$value", a}};
        }
        return a;
    }
    if (d.contains("map")) {
        std::vector<std::pair<json, json>> pairs;
        bool text = true;
        for (const json &kv : d["map"]) {
            pairs.emplace_back(build(kv[0], tuple_tags), build(kv[1], tuple_tags));
            text = text && pairs.back().first.is_string();
        }
        json m = json::object();
        for (auto &kv : pairs) {
            if (text) {
                m[kv.first.get<std::string>()] = kv.second;
            }
        }
        // Text keys that spell an extended form ({"$map"}, {"$tag",
        // "$value"}) stay in the $map form, as mpipc_json.hpp decodes them.
        const bool spells_extended =
            text && ((m.size() == 1 && m.contains("$map")) ||
                     (m.size() == 2 && m.contains("$tag") && m.contains("$value")));
        if (text && !spells_extended) {
            return m;
        }
        m = json::object();
        json arr = json::array();
        for (auto &kv : pairs) {
            arr.push_back(json::array({kv.first, kv.second}));
        }
        m["$map"] = arr;
        return m;
    }
    if (d.contains("ref")) {
        return json{{"$tag", mpipc::tag::ref}, {"$value", d["ref"]}};
    }
    if (d.contains("tag")) {
        json v = build(d["value"], tuple_tags);
        const auto t = d["tag"].get<std::uint64_t>();
        if (v.is_binary() && !v.get_binary().has_subtype()) {
            v.get_binary().set_subtype(t);
            return v;
        }
        return json{{"$tag", t}, {"$value", v}};
    }
    die("unknown value description " + d.dump());
}

struct Vector {
    std::string name;
    mpipc::bytes hex, plain; // plain: hex_plain, or hex when there is none
    json sent, decoded;
};

/// The depth of the deepest item of description `d` (docs/TYPES.md D3: the
/// top item is at depth 0, an item inside an array, a map or a tag one
/// deeper).
long desc_depth(const json &d) {
    if (d.contains("nest")) {
        return d["nest"].get<long>() + desc_depth(d["value"]);
    }
    if (d.contains("tag")) {
        return 1 + desc_depth(d["value"]);
    }
    long most = -1;
    if (d.contains("array") || d.contains("tuple")) {
        for (const json &x : d.contains("array") ? d["array"] : d["tuple"]) {
            most = std::max(most, desc_depth(x));
        }
        return most + (d.contains("array") ? 1 : 2);
    }
    if (d.contains("map")) {
        for (const json &kv : d["map"]) {
            most = std::max({most, desc_depth(kv[0]), desc_depth(kv[1])});
        }
        return most + 1;
    }
    if (d.contains("int")) { // a bignum (tag 2/3 around bytes) beyond the 64-bit heads
        const std::string n = d["int"].get<std::string>();
        const bool neg = n[0] == '-';
        const std::string mag = neg ? n.substr(1) : n;
        const std::string lim = neg ? "18446744073709551616" : "18446744073709551615"; // 2^64, 2^64-1
        return mag.size() > lim.size() || (mag.size() == lim.size() && mag > lim) ? 1 : 0;
    }
    return d.contains("ref") ? 2 : 0;
}

/// Whether description `d` has an {array} (not a {tuple}) inside a map key,
/// which Python cannot send (a key's list is a tuple there, written with the
/// TUPLE tag).
bool array_in_key(const json &d, bool in_key) {
    if (d.contains("value")) {
        return (in_key && d.contains("nest") && !d.contains("tag")) || array_in_key(d["value"], in_key);
    }
    if (d.contains("array") || d.contains("tuple")) {
        if (in_key && d.contains("array")) {
            return true;
        }
        for (const json &x : d.contains("array") ? d["array"] : d["tuple"]) {
            if (array_in_key(x, in_key)) {
                return true;
            }
        }
    }
    if (d.contains("map")) {
        for (const json &kv : d["map"]) {
            if (array_in_key(kv[0], true) || array_in_key(kv[1], in_key)) {
                return true;
            }
        }
    }
    return false;
}

/// Whether valid vector `v` is left out of the exchange over `prim`, by both
/// peers alike (PEERS.md, "Vectors a peer leaves out"): the sender's binding
/// refuses it (it cannot build the value), Python sends an {array} map key,
/// or the manager carries a value too deep to sit in a call's argument
/// array (D3's limit is 128).
bool skipped(const json &v, const std::string &prim) {
    const char *env = std::getenv("MPIPC_E2E_SENDER");
    const std::string sender = env != nullptr ? env : "";
    // This peer checks no refusal and no other re-encoding of C++'s own: no
    // vector asks one (mpipc_json.hpp writes back what it read).
    if ((v.contains("refused_by") && std::find(v["refused_by"].begin(), v["refused_by"].end(), "cpp") !=
                                         v["refused_by"].end()) ||
        (v.contains("reencoded") && v["reencoded"].contains("cpp"))) {
        die("vector " + v["name"].get<std::string>() + " asks a refusal or another re-encoding of C++: not checked here");
    }
    const bool by_sender = v.contains("refused_by") && std::find(v["refused_by"].begin(), v["refused_by"].end(),
                                                                 sender) != v["refused_by"].end();
    return by_sender || (sender == "python" && array_in_key(v["value"], false)) ||
           (prim == "manager" && desc_depth(v["value"]) >= 128);
}

/// The vectors of `list`; with `prim` (an exchange), the valid ones it does not leave out.
std::vector<Vector> load(const char *path, const char *list = "valid", const std::string *prim = nullptr) {
    std::ifstream f(path);
    if (!f) {
        die(std::string("cannot read ") + path);
    }
    const json doc = json::parse(f);
    std::vector<Vector> out;
    for (const json &v : doc[list]) {
        if (prim != nullptr && skipped(v, *prim)) {
            continue;
        }
        Vector x;
        x.name = v["name"].get<std::string>();
        x.hex = unhex(v["hex"].get<std::string>());
        x.plain = v.contains("hex_plain") ? unhex(v["hex_plain"].get<std::string>()) : x.hex;
        if (v.contains("value")) {
            x.sent = build(v["value"], true);
            x.decoded = build(v["value"], false);
        }
        out.push_back(std::move(x));
    }
    return out;
}

/// Go and Node never write the TUPLE tag: from them the receiver expects hex_plain.
bool plain_sender() {
    const char *s = std::getenv("MPIPC_E2E_SENDER");
    return s != nullptr && (std::string(s) == "go" || std::string(s) == "node");
}

/// The receiver's checks on one message (raw bytes).
void check(const Vector &v, const mpipc::bytes &got, const std::string &where) {
    const mpipc::bytes &want = plain_sender() ? v.plain : v.hex;
    if (got != want) {
        fail(where + " " + v.name + ": bytes " + hex(got) + ", want " + hex(want));
        return;
    }
    json dec;
    try {
        dec = mpipc::from_cbor<json>(got);
    } catch (const mpipc::error &e) {
        fail(where + " " + v.name + ": decode: " + e.what());
        return;
    }
    // The encodings compare the types and the float bits (NaN included,
    // where == says a NaN differs from itself).
    if (mpipc::to_cbor(dec) != mpipc::to_cbor(v.decoded) || mpipc::to_cbor(v.decoded) != v.plain) {
        fail(where + " " + v.name + ": decoded " + dec.dump(-1, ' ', false, json::error_handler_t::replace) +
             ", want " + v.decoded.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    const mpipc::bytes re = mpipc::to_cbor(dec);
    if (re != v.plain) {
        fail(where + " " + v.name + ": re-encoded " + hex(re) + ", want " + hex(v.plain));
    }
}

void queue_role(bool send, const std::string &name, const std::vector<Vector> &vs) {
    mpipc::Queue q(name);
    ready();
    if (send) {
        for (const Vector &v : vs) {
            mpipc::put_json(q, v.sent);
        }
        return;
    }
    for (const Vector &v : vs) {
        check(v, q.get(TIMEOUT), "queue");
    }
    if (q.qsize() != 0) {
        fail("queue: not empty after the last vector");
    }
}

void send_all(mpipc::Connection &c, const std::vector<Vector> &vs) {
    for (const Vector &v : vs) {
        mpipc::send_json(c, v.sent);
    }
}

void recv_all(mpipc::Connection &c, const std::vector<Vector> &vs, const std::string &what) {
    for (const Vector &v : vs) {
        check(v, c.recv(TIMEOUT), what);
    }
    try {
        c.recv(TIMEOUT);
        fail(what + ": a message after the last vector, want EOF");
    } catch (const mpipc::error &e) {
        if (e.status() != MP_E_EOF) {
            fail(what + ": after the last vector: " + e.what() + ", want MP_E_EOF");
        }
    }
}

void pipe_role(bool send, const std::vector<Vector> &vs) {
    const char *fd = std::getenv("MPIPC_E2E_FD");
    if (fd == nullptr) {
        die("MPIPC_E2E_FD is not set");
    }
    mpipc::Connection c = mpipc::Connection::from_fd(std::atoi(fd));
    ready();
    if (send) {
        send_all(c, vs);
    } else {
        recv_all(c, vs, "pipe");
    }
}

void listener_role(bool send, const std::string &name, const std::vector<Vector> &vs) {
    const std::string addr = "unix:/tmp/" + name + ".sock";
    if (!send) {
        mpipc::Listener l(addr, AUTHKEY);
        ready();
        mpipc::Connection c = l.accept(TIMEOUT);
        recv_all(c, vs, "listener");
        return;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    mpipc::Connection c;
    for (;;) {
        try {
            c = mpipc::Connection::connect(addr, AUTHKEY, TIMEOUT);
            break;
        } catch (const mpipc::error &e) {
            if (std::chrono::steady_clock::now() >= deadline) {
                die(std::string("connect (for 5 s): ") + e.what());
            }
            // Polling for the listener's socket to appear, as the other
            // peers do: there is no event to wait on across processes.
            std::this_thread::sleep_for(milliseconds(20));
        }
    }
    ready();
    send_all(c, vs);
}

void manager_role(bool send, const std::string &name, const std::vector<Vector> &vs) {
    const char *addr = std::getenv("MPIPC_E2E_MANAGER");
    if (addr == nullptr) {
        die("MPIPC_E2E_MANAGER is not set");
    }
    mpipc::Manager m(addr, AUTHKEY);
    ready();
    if (send) {
        mpipc::mgr::OrderedJsonDict d(m, name + "-dict");
        mpipc::mgr::OrderedJsonList l(m, name + "-list");
        for (size_t i = 0; i < vs.size(); i++) {
            d.set(json(i), vs[i].sent);
            l.append(vs[i].sent);
        }
        return;
    }
    // Raw bytes from the byte-level proxies, checked and decoded here.
    mpipc::mgr::Dict d = m.dict(name + "-dict");
    mpipc::mgr::List l = m.list(name + "-list");
    if (d.size() != vs.size()) {
        fail("manager: dict len " + std::to_string(d.size()) + ", want " + std::to_string(vs.size()));
    }
    for (size_t i = 0; i < vs.size(); i++) {
        check(vs[i], d.get(mpipc::cbor::integer(static_cast<std::int64_t>(i))), "manager dict");
    }
    std::vector<mpipc::bytes> items = l.copy();
    if (items.size() != vs.size()) {
        fail("manager: list of " + std::to_string(items.size()) + " items, want " + std::to_string(vs.size()));
        return;
    }
    for (size_t i = 0; i < vs.size(); i++) {
        check(vs[i], items[i], "manager list");
    }
}

void array_role(bool send, const std::string &name) {
    const char tc[3] = {'q', 'd', 'B'};
    const size_t lens[3] = {4, 4, 2};
    const std::int64_t q[4] = {0, -1, INT64_MAX, INT64_MIN};
    const double dv[4] = {1.5, -0.0, INFINITY, 1e300};
    const std::int64_t bv[2] = {0, 255};
    std::vector<mpipc::Array> a;
    for (int k = 0; k < 3; k++) {
        a.emplace_back(name + "-" + tc[k], tc[k], send ? lens[k] : 0, send ? 0u : MP_OPEN_ATTACH_ONLY);
    }
    ready();
    if (send) {
        for (size_t i = 0; i < 4; i++) {
            a[0].set_i64(i, q[i]);
            a[1].set_f64(i, dv[i]);
        }
        for (size_t i = 0; i < 2; i++) {
            a[2].set_i64(i, bv[i]);
        }
        if (a[0].incr(0, 5) != 5) {
            fail("array incr did not return 5");
        }
        return;
    }
    for (int k = 0; k < 3; k++) {
        if (a[static_cast<size_t>(k)].typecode() != tc[k] || a[static_cast<size_t>(k)].size() != lens[k]) {
            fail(std::string("array ") + tc[k] + ": typecode or length differs");
        }
    }
    const std::int64_t wantq[4] = {5, -1, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < 4; i++) {
        if (a[0].get_i64(i) != wantq[i]) {
            fail("q[" + std::to_string(i) + "] differs");
        }
        const double g = a[1].get_f64(i);
        if (std::memcmp(&g, &dv[i], sizeof g) != 0) {
            fail("d[" + std::to_string(i) + "] bits differ");
        }
    }
    for (size_t i = 0; i < 2; i++) {
        if (a[2].get_i64(i) != bv[i]) {
            fail("B[" + std::to_string(i) + "] differs");
        }
    }
}

void lock_role(bool send, const std::string &name) {
    mpipc::Lock l(name);
    if (send) {
        if (!l.acquire(TIMEOUT)) {
            die("lock: not acquired in 10 s");
        }
        ready();
        for (;;) {
            pause(); // until the driver's SIGKILL
        }
    }
    if (l.acquire(milliseconds(0))) {
        fail("lock: acquire with timeout 0 succeeded, want a timeout");
    }
    ready();
    if (!l.acquire(TIMEOUT) || !l.owner_died()) {
        fail("lock: want the owner-dead outcome");
    }
    l.release();
    try {
        l.release();
        fail("lock: a second release succeeded, want MP_E_PERM");
    } catch (const mpipc::error &e) {
        if (e.status() != MP_E_PERM) {
            fail(std::string("lock: second release: ") + e.what() + ", want MP_E_PERM");
        }
    }
}

/// mpipc_json.hpp against the whole vectors file: valid (both ways),
/// decode_only (decodes to the value), invalid (refused; PICKLE with
/// MP_E_TYPE, the rest MP_E_INVAL).
void self_check(const char *path) {
    for (const Vector &v : load(path)) {
        if (mpipc::to_cbor(v.sent) != v.hex) {
            fail("valid " + v.name + ": encoded " + hex(mpipc::to_cbor(v.sent)) + ", want " + hex(v.hex));
        }
        for (const mpipc::bytes *b : {&v.hex, &v.plain}) {
            const json dec = mpipc::from_cbor<json>(*b);
            if (mpipc::to_cbor(dec) != mpipc::to_cbor(v.decoded) || mpipc::to_cbor(dec) != v.plain) {
                fail("valid " + v.name + ": " + hex(*b) + " decodes to " +
                     dec.dump(-1, ' ', false, json::error_handler_t::replace));
            }
        }
    }
    for (const Vector &v : load(path, "decode_only")) {
        const json dec = mpipc::from_cbor<json>(v.hex);
        if (mpipc::to_cbor(dec) != mpipc::to_cbor(v.decoded)) {
            fail("decode_only " + v.name + ": decoded " + dec.dump());
        }
    }
    std::ifstream f(path);
    const json doc = json::parse(f);
    for (const json &v : doc["invalid"]) {
        const std::string n = v["name"].get<std::string>();
        const mp_status want = v.contains("pickle") ? MP_E_TYPE : MP_E_INVAL;
        try {
            (void)mpipc::from_cbor<json>(unhex(v["hex"].get<std::string>()));
            fail("invalid " + n + ": decoded, want an error");
        } catch (const mpipc::error &e) {
            if (e.status() != want) {
                fail("invalid " + n + ": " + e.what() + ", want " + mp_status_str(want));
            }
        }
    }
    // Issue 21: times keep their tag here (no time type) and decode; every
    // encode_invalid value C++ can hold is refused (a text-key map whose
    // keys collapse in an object cannot be built; a std::string holding
    // invalid UTF-8 is covered below).
    for (const json &v : doc["times"]) {
        try {
            (void)mpipc::from_cbor<json>(unhex(v["hex"].get<std::string>()));
        } catch (const mpipc::error &e) {
            fail("times " + v["name"].get<std::string>() + ": " + e.what());
        }
    }
    for (const json &v : doc["encode_invalid"]) {
        const json &d = v["value"];
        if (d.contains("text_utf8")) {
            continue;
        }
        const json b = build(d, true);
        if (d.contains("map") && !b.contains("$map") && b.size() != d["map"].size()) {
            continue; // collapsed in the object
        }
        try {
            (void)mpipc::to_cbor(b);
            fail("encode_invalid " + v["name"].get<std::string>() + ": encoded");
        } catch (const mpipc::error &) {
        }
    }
    // The encoder refuses what TYPES.md refuses.
    const json bad[] = {json{{"$tag", mpipc::tag::pickle}, {"$value", json::binary({1})}},
                        json{{"$tag", mpipc::tag::tuple}, {"$value", 1}},
                        json{{"$tag", mpipc::tag::ref}, {"$value", json::array({"dict", "d"})}},
                        json(std::string("\xc3\x28"))};
    for (const json &b : bad) {
        try {
            (void)mpipc::to_cbor(b);
            fail("encode of a refused value succeeded");
        } catch (const mpipc::error &) {
        }
    }
}

// The differential test's echo (tests/polyglot/test_differential.py): each
// message of queue in_name decoded with mpipc::from_cbor<ordered_json> and
// encoded again with mpipc::to_cbor onto out_name; a message that does not
// decode (or encode) is answered with 0xff 'D' (0xff 'E') and the reason;
// 0xff "STOP" ends it.
void echo_role(const std::string &in_name, const std::string &out_name) {
    mpipc::Queue src(in_name), dst(out_name);
    ready();
    const std::chrono::milliseconds long_wait(60000);
    auto refused = [](char kind, const char *why) {
        mpipc::bytes m{0xff, static_cast<uint8_t>(kind)};
        m.insert(m.end(), why, why + std::strlen(why));
        return m;
    };
    for (;;) {
        const mpipc::bytes raw = src.get(long_wait);
        if (raw == mpipc::bytes{0xff, 'S', 'T', 'O', 'P'}) {
            return;
        }
        json value;
        mpipc::bytes answer;
        try {
            value = mpipc::from_cbor<json>(raw);
        } catch (const std::exception &e) {
            answer = refused('D', e.what());
        }
        if (answer.empty()) {
            try {
                answer = mpipc::to_cbor(value);
            } catch (const std::exception &e) {
                answer = refused('E', e.what());
            }
        }
        dst.put(answer, long_wait);
    }
}

} // namespace

int main(int argc, char **argv) {
    try {
        if (argc == 3 && std::string(argv[1]) == "vectors") {
            self_check(argv[2]);
            if (failures == 0) {
                std::fprintf(stderr, "cpp peer: every vector of %s passed\n", argv[2]);
            }
            return failures == 0 ? 0 : 1;
        }
        if (argc == 4 && std::string(argv[1]) == "echo") {
            echo_role(argv[2], argv[3]);
            return 0;
        }
        if (argc != 5) {
            die("usage: cpp_peer send|recv PRIMITIVE NAME VECTORS | cpp_peer vectors VECTORS");
        }
        const std::string role = argv[1], prim = argv[2], name = argv[3];
        if (role != "send" && role != "recv") {
            die("unknown role " + role);
        }
        const bool send = role == "send";
        const std::vector<Vector> vs = load(argv[4], "valid", &prim);
        if (prim == "queue") {
            queue_role(send, name, vs);
        } else if (prim == "pipe") {
            pipe_role(send, vs);
        } else if (prim == "listener") {
            listener_role(send, name, vs);
        } else if (prim == "manager") {
            manager_role(send, name, vs);
        } else if (prim == "array") {
            array_role(send, name);
        } else if (prim == "lock") {
            lock_role(send, name);
        } else {
            die("unknown primitive " + prim);
        }
    } catch (const std::exception &e) {
        die(std::string("uncaught: ") + e.what());
    }
    return failures == 0 ? 0 : 1;
}
