// mpipc.hpp — a header-only C++17 wrapper over the C ABI of mpipc.h.
//
// Written by hand (not generated); installed next to mpipc.h by
// `make install`, exercised by tests/install/test_install.sh.
//
// - Every handle is a move-only RAII class: the C handle is closed by the
//   destructor (closing never unlinks a name, as in C); a moved-from or
//   default-constructed object holds nothing, and using it throws
//   mpipc::error with status MP_E_NULL.
// - Every failing call throws mpipc::error, carrying the mp_status
//   (status()), mp_status_str()'s name and meaning of it (status_name(),
//   e.g. "MP_E_NOTFOUND: not found") and mp_last_error()'s message
//   (message()). Calls with a timeout that report "time ran out" as a
//   value instead (try_get, acquire, wait, ...) say so in their comment.
// - Timeouts are std::chrono::milliseconds: mpipc::forever (negative) waits
//   forever, 0ms never blocks.
// - Bytes are mpipc::bytes (std::vector<std::uint8_t>); messages and
//   manager values are CBOR when other languages read them
//   (docs/TYPES.md), but the wrapper passes the bytes through as they are.
//   mpipc::cbor holds the few CBOR helpers the manager proxies need (text,
//   integers, arrays of encoded items); objects (nlohmann::json) are put
//   and got by the optional header mpipc_json.hpp, which this one does not
//   include (this header needs nothing beyond the C++17 library).
// - Manager objects have typed proxies in mpipc::mgr (Dict, List, Value,
//   Lock with a Guard), templates over a codec: mgr::Dict and friends take
//   and return CBOR bytes; mpipc_json.hpp's mgr::JsonDict ... take
//   nlohmann::json values. A proxy refers to its Manager, which must
//   outlive it (and stay where it is: do not move the Manager meanwhile).
// - Thread safety is the C handle's (mpipc.h): handles may be shared
//   between threads; a handle object itself must not be moved or destroyed
//   while another thread uses it.
#ifndef MPIPC_HPP
#define MPIPC_HPP

#include "mpipc.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mpipc {

/// Bytes in and out of queues, pipes, the manager and ShareableList.
using bytes = std::vector<std::uint8_t>;

/// Timeouts: negative waits forever, zero does not block.
using milliseconds = std::chrono::milliseconds;

/// Wait without a time limit.
inline constexpr milliseconds forever{-1};

/// The exception every failing call throws.
class error : public std::runtime_error {
  public:
    /// An error with `status` and the message of the failure.
    error(mp_status status, std::string message)
        : std::runtime_error(std::string(mp_status_str(status)) + ": " + message), status_(status),
          message_(std::move(message)) {}
    /// The C status code (MP_E_*).
    mp_status status() const noexcept { return status_; }
    /// The code's C name and what it means, as mp_status_str() gives them:
    /// e.g. "MP_E_NOTFOUND: not found" (static, never freed). what() starts
    /// with the same text; compare status() with MP_E_* to tell codes apart.
    const char *status_name() const noexcept { return mp_status_str(status_); }
    /// mp_last_error()'s message at the time of the failure.
    const std::string &message() const noexcept { return message_; }

  private:
    mp_status status_;
    std::string message_;
};

namespace detail {

/// Throws mpipc::error for a non-OK status, with this thread's last error.
inline void check(mp_status s) {
    if (s != MP_OK) {
        throw error(s, mp_last_error());
    }
}

/// An mp_buf's bytes, copied out; the buffer is freed.
inline bytes take(mp_buf &b) {
    bytes out(b.ptr, b.ptr + b.len);
    mp_buf_free(&b);
    return out;
}

inline std::int64_t ms(milliseconds t) { return t.count() < 0 ? -1 : static_cast<std::int64_t>(t.count()); }

inline const std::uint8_t *u8(const void *p) { return static_cast<const std::uint8_t *>(p); }

/// Reads a string through a (buf, cap, out_len) call, growing on MP_E_BUFSIZE.
template <class F> std::string read_string(F f) {
    std::string s(64, '\0');
    for (;;) {
        size_t n = 0;
        mp_status st = f(s.data(), s.size(), &n);
        if (st == MP_E_BUFSIZE) {
            s.resize(n);
            continue;
        }
        check(st);
        s.resize(n);
        return s;
    }
}

/// Owns one C handle; closes it with Close. Move-only.
template <class T, void (*Close)(T *)> class handle {
  public:
    handle() noexcept = default;
    explicit handle(T *p) noexcept : p_(p) {}
    handle(handle &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    handle &operator=(handle &&o) noexcept {
        if (this != &o) {
            reset();
            p_ = std::exchange(o.p_, nullptr);
        }
        return *this;
    }
    handle(const handle &) = delete;
    handle &operator=(const handle &) = delete;
    ~handle() { reset(); }
    /// Closes the handle now (no-op when empty).
    void reset() noexcept {
        if (p_ != nullptr) {
            Close(std::exchange(p_, nullptr));
        }
    }
    /// The C handle; throws MP_E_NULL when closed or moved from.
    T *get() const {
        if (p_ == nullptr) {
            throw error(MP_E_NULL, "use of a closed or moved-from mpipc handle");
        }
        return p_;
    }
    /// Gives up ownership of the C handle.
    T *release() noexcept { return std::exchange(p_, nullptr); }
    explicit operator bool() const noexcept { return p_ != nullptr; }

  private:
    T *p_ = nullptr;
};

inline void close_server(mp_mgr_server *s) { mp_mgr_server_shutdown(s); }

/// The length of the CBOR item at data[pos..n): every major type,
/// indefinite lengths, tags; throws mpipc::error(MP_E_INVAL) for a
/// truncated or malformed item or one nested deeper than 128 (TYPES.md's
/// limit). Used to split a manager reply into its items without decoding.
inline size_t cbor_skip(const std::uint8_t *data, size_t n, size_t pos, int depth = 0) {
    auto bad = [](const char *why) { return error(MP_E_INVAL, std::string("invalid CBOR: ") + why); };
    if (depth > 128) {
        throw bad("nesting deeper than 128");
    }
    if (pos >= n) {
        throw bad("truncated item");
    }
    const size_t start = pos;
    const std::uint8_t ib = data[pos++];
    const int major = ib >> 5;
    const int info = ib & 0x1f;
    std::uint64_t arg = 0;
    if (info < 24) {
        arg = static_cast<std::uint64_t>(info);
    } else if (info <= 27) {
        const size_t len = size_t{1} << (info - 24);
        if (n - pos < len) {
            throw bad("truncated head");
        }
        for (size_t i = 0; i < len; i++) {
            arg = (arg << 8) | data[pos++];
        }
    } else if (info == 31 && major >= 2 && major <= 5) {
        // Indefinite length: items (chunks) until the break byte 0xff.
        for (;;) {
            if (pos >= n) {
                throw bad("missing break");
            }
            if (data[pos] == 0xff) {
                return pos + 1 - start;
            }
            pos += cbor_skip(data, n, pos, depth + 1);
            if (major == 5) {
                pos += cbor_skip(data, n, pos, depth + 1);
            }
        }
    } else {
        throw bad("reserved additional information");
    }
    switch (major) {
    case 2:
    case 3:
        if (arg > n - pos) {
            throw bad("length beyond the message");
        }
        return pos + static_cast<size_t>(arg) - start;
    case 4:
    case 5: {
        // Each item takes at least one byte: a count beyond what is left
        // is refused before looping.
        if (arg > n - pos) {
            throw bad("length beyond the message");
        }
        const std::uint64_t items = major == 5 ? arg * 2 : arg;
        for (std::uint64_t i = 0; i < items; i++) {
            pos += cbor_skip(data, n, pos, depth + 1);
        }
        return pos - start;
    }
    case 6:
        return pos + cbor_skip(data, n, pos, depth + 1) - start;
    default:
        return pos - start;
    }
}

} // namespace detail

/// The few CBOR helpers the byte-level API needs (RFC 8949, as
/// docs/TYPES.md writes it: shortest heads, definite lengths). For whole
/// objects use mpipc_json.hpp (nlohmann::json) or any CBOR library.
namespace cbor {

/// Appends a head (major type 0..7, argument n) in its shortest form.
inline void head(bytes &out, std::uint8_t major, std::uint64_t n) {
    const auto m = static_cast<std::uint8_t>(major << 5);
    if (n < 24) {
        out.push_back(static_cast<std::uint8_t>(m | n));
        return;
    }
    int len = n <= 0xff ? 1 : n <= 0xffff ? 2 : n <= 0xffffffffULL ? 4 : 8;
    out.push_back(static_cast<std::uint8_t>(m | (len == 1 ? 24 : len == 2 ? 25 : len == 4 ? 26 : 27)));
    for (int i = len - 1; i >= 0; i--) {
        out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
    }
}

/// A text string item.
inline bytes text(std::string_view s) {
    bytes out;
    head(out, 3, s.size());
    out.insert(out.end(), s.begin(), s.end());
    return out;
}

/// An integer item.
inline bytes integer(std::int64_t v) {
    bytes out;
    if (v >= 0) {
        head(out, 0, static_cast<std::uint64_t>(v));
    } else {
        // -1 - v without overflow for INT64_MIN.
        head(out, 1, ~static_cast<std::uint64_t>(v));
    }
    return out;
}

/// The null item.
inline bytes null() { return bytes{0xf6}; }

/// A boolean item.
inline bytes boolean(bool b) { return bytes{static_cast<std::uint8_t>(b ? 0xf5 : 0xf4)}; }

/// An array of already encoded items.
inline bytes array(std::initializer_list<const bytes *> items) {
    bytes out;
    head(out, 4, items.size());
    for (const bytes *b : items) {
        out.insert(out.end(), b->begin(), b->end());
    }
    return out;
}

/// An array of already encoded items.
inline bytes array(const std::vector<bytes> &items) {
    bytes out;
    head(out, 4, items.size());
    for (const bytes &b : items) {
        out.insert(out.end(), b.begin(), b.end());
    }
    return out;
}

/// The items of an encoded array, each as its own encoded bytes; throws
/// MP_E_TYPE if `b` is not one array, MP_E_INVAL if it is malformed.
inline std::vector<bytes> split_array(const bytes &b) {
    std::vector<bytes> out;
    if (b.empty() || (b[0] >> 5) != 4) {
        throw error(MP_E_TYPE, "expected a CBOR array");
    }
    if (detail::cbor_skip(b.data(), b.size(), 0) != b.size()) {
        throw error(MP_E_INVAL, "invalid CBOR: trailing bytes after the item");
    }
    size_t pos = 1;
    const int info = b[0] & 0x1f;
    if (info >= 24 && info <= 27) {
        pos += size_t{1} << (info - 24);
    }
    while (pos < b.size() && !(info == 31 && b[pos] == 0xff)) {
        size_t len = detail::cbor_skip(b.data(), b.size(), pos);
        out.emplace_back(b.begin() + static_cast<std::ptrdiff_t>(pos),
                         b.begin() + static_cast<std::ptrdiff_t>(pos + len));
        pos += len;
    }
    return out;
}

/// The integer an item holds (within int64); MP_E_TYPE otherwise.
inline std::int64_t to_int(const bytes &b) {
    if (b.empty() || (b[0] >> 5) > 1 || detail::cbor_skip(b.data(), b.size(), 0) != b.size()) {
        throw error(MP_E_TYPE, "expected a CBOR integer");
    }
    std::uint64_t arg = 0;
    const int info = b[0] & 0x1f;
    if (info < 24) {
        arg = static_cast<std::uint64_t>(info);
    } else {
        for (size_t i = 1; i < b.size(); i++) {
            arg = (arg << 8) | b[i];
        }
    }
    if (arg > static_cast<std::uint64_t>(INT64_MAX)) {
        throw error(MP_E_TYPE, "CBOR integer beyond int64");
    }
    const auto v = static_cast<std::int64_t>(arg);
    return (b[0] >> 5) == 0 ? v : -1 - v;
}

/// The boolean an item holds; MP_E_TYPE otherwise.
inline bool to_bool(const bytes &b) {
    if (b.size() != 1 || (b[0] != 0xf4 && b[0] != 0xf5)) {
        throw error(MP_E_TYPE, "expected a CBOR boolean");
    }
    return b[0] == 0xf5;
}

} // namespace cbor

namespace mgr {
/// The codec of the byte-level proxies: values are CBOR items as bytes,
/// passed through unchanged. A codec is a type with `value_type`,
/// `static bytes encode(const value_type &)` and
/// `static value_type decode(bytes)`; mpipc_json.hpp adds one for
/// nlohmann::json.
struct raw_codec {
    /// One CBOR item.
    using value_type = bytes;
    /// The item as it is.
    static bytes encode(const bytes &v) { return v; }
    /// The item as it is.
    static bytes decode(bytes b) { return b; }
};
template <class Codec> class BasicDict;
template <class Codec> class BasicList;
template <class Codec> class BasicValue;
class Lock;
/// A manager dict of CBOR items.
using Dict = BasicDict<raw_codec>;
/// A manager list of CBOR items.
using List = BasicList<raw_codec>;
/// A manager value holding a CBOR item.
using Value = BasicValue<raw_codec>;
} // namespace mgr

/// Common members of every wrapper: native(), close(), operator bool.
template <class T, void (*Close)(T *)> class object {
  public:
    /// The C handle, for calls the wrapper does not cover.
    T *native() const { return h_.get(); }
    /// Closes the handle now (the destructor does it otherwise). Idempotent.
    void close() noexcept { h_.reset(); }
    /// Whether the object holds a handle.
    explicit operator bool() const noexcept { return static_cast<bool>(h_); }

  protected:
    object() noexcept = default;
    explicit object(T *p) noexcept : h_(p) {}
    detail::handle<T, Close> h_;
};

/// Queue / JoinableQueue (mpq_*): a named queue in shared memory, or kept
/// by a Redis / Valkey server when the name is an address such as
/// "redis://host:6379/jobs" (docs/REDIS.md: the same calls and statuses).
class Queue : public object<mpq, mpq_close> {
  public:
    Queue() noexcept = default;
    /// Opens (creates or attaches, per opts.flags) the queue `name`.
    explicit Queue(const std::string &name, const mpq_options &opts = mpq_options{}) {
        mpq *q = nullptr;
        detail::check(mpq_open(name.c_str(), &opts, &q));
        h_ = decltype(h_)(q);
    }
    /// Removes the name (throws MP_E_NOTFOUND if there is none).
    static void unlink(const std::string &name) { detail::check(mpq_unlink(name.c_str())); }

    /// Puts a message, waiting at most `timeout` for room; throws MP_E_FULL
    /// when the time runs out.
    void put(const void *data, size_t len, milliseconds timeout = forever) {
        detail::check(mpq_put_timeout(native(), detail::u8(data), len, detail::ms(timeout)));
    }
    /// Puts a message (see above).
    void put(const bytes &msg, milliseconds timeout = forever) { put(msg.data(), msg.size(), timeout); }
    /// Puts a message (see above).
    void put(std::string_view msg, milliseconds timeout = forever) { put(msg.data(), msg.size(), timeout); }
    /// Takes a message, waiting at most `timeout`; throws MP_E_EMPTY when
    /// the time runs out.
    bytes get(milliseconds timeout = forever) {
        mp_buf b{};
        detail::check(mpq_get_timeout(native(), &b, detail::ms(timeout)));
        return detail::take(b);
    }
    /// As get, but std::nullopt when the time runs out.
    std::optional<bytes> try_get(milliseconds timeout = milliseconds{0}) {
        mp_buf b{};
        mp_status s = mpq_get_timeout(native(), &b, detail::ms(timeout));
        if (s == MP_E_EMPTY) {
            return std::nullopt;
        }
        detail::check(s);
        return detail::take(b);
    }
    /// The number of messages in the queue (exact).
    size_t qsize() const {
        size_t n = 0;
        detail::check(mpq_qsize(native(), &n));
        return n;
    }
    /// Whether the queue holds no message.
    bool empty() const {
        bool b = false;
        detail::check(mpq_empty(native(), &b));
        return b;
    }
    /// Whether a put would block.
    bool full() const {
        bool b = false;
        detail::check(mpq_full(native(), &b));
        return b;
    }
    /// JoinableQueue.task_done.
    void task_done() { detail::check(mpq_task_done(native())); }
    /// JoinableQueue.join: false when `timeout` runs out first.
    bool join(milliseconds timeout = forever) {
        mp_status s = mpq_join(native(), detail::ms(timeout));
        if (s == MP_E_TIMEOUT) {
            return false;
        }
        detail::check(s);
        return true;
    }
    /// Python 3.13's Queue.shutdown.
    void shutdown(bool immediate = false) { detail::check(mpq_shutdown(native(), immediate)); }
    /// The queue's sizes and mode.
    mpq_options options() const {
        mpq_options o{};
        detail::check(mpq_options_of(native(), &o));
        return o;
    }
};

/// A Connection (mp_pipe_*): one end of a Pipe, or a Client/accepted socket.
class Connection : public object<mp_pipe, mp_pipe_close> {
  public:
    Connection() noexcept = default;
    /// Takes ownership of a C pipe handle.
    explicit Connection(mp_pipe *p) noexcept : object(p) {}
    /// multiprocessing.connection.Client: connects and authenticates.
    static Connection connect(const std::string &address, std::string_view authkey = {},
                              milliseconds timeout = forever) {
        mp_pipe *p = nullptr;
        detail::check(mp_pipe_connect(address.c_str(), detail::u8(authkey.data()), authkey.size(), detail::ms(timeout),
                                      &p));
        return Connection(p);
    }
    /// Wraps a connected socket or pipe descriptor (ownership moves).
    static Connection from_fd(int fd) {
        mp_pipe *p = nullptr;
        detail::check(mp_pipe_from_fd(fd, &p));
        return Connection(p);
    }
    /// Sends one message.
    void send(const void *data, size_t len) { detail::check(mp_pipe_send(native(), detail::u8(data), len)); }
    /// Sends one message.
    void send(const bytes &msg) { send(msg.data(), msg.size()); }
    /// Sends one message.
    void send(std::string_view msg) { send(msg.data(), msg.size()); }
    /// Receives one message, waiting at most `timeout`; throws MP_E_EMPTY
    /// when nothing arrived in time, MP_E_EOF when the peer closed.
    bytes recv(milliseconds timeout = forever) {
        mp_buf b{};
        detail::check(mp_pipe_recv_timeout(native(), &b, detail::ms(timeout)));
        return detail::take(b);
    }
    /// Whether a message can be read within `timeout`.
    bool poll(milliseconds timeout = milliseconds{0}) {
        bool ready = false;
        detail::check(mp_pipe_poll(native(), detail::ms(timeout), &ready));
        return ready;
    }
    /// The descriptor, for poll/select loops (-1 when closed).
    int fileno() const noexcept { return *this ? mp_pipe_fileno(native()) : -1; }
};

/// multiprocessing.Pipe(duplex): two connected Connections.
inline std::pair<Connection, Connection> Pipe(bool duplex = true) {
    mp_pipe *a = nullptr;
    mp_pipe *b = nullptr;
    detail::check(mp_pipe_new(duplex, &a, &b));
    return {Connection(a), Connection(b)};
}

/// multiprocessing.connection.Listener (mp_listener_*).
class Listener : public object<mp_listener, mp_listener_close> {
  public:
    Listener() noexcept = default;
    /// Binds `address` (unix:/path, unix:@name, tcp:host:port); `flags`
    /// as mp_listener_bind_ex.
    explicit Listener(const std::string &address, std::string_view authkey = {}, std::uint32_t flags = 0) {
        mp_listener *l = nullptr;
        detail::check(mp_listener_bind_ex(address.c_str(), detail::u8(authkey.data()), authkey.size(), flags, &l));
        h_ = decltype(h_)(l);
    }
    /// Accepts one client (authenticated); throws MP_E_TIMEOUT when
    /// `timeout` runs out.
    Connection accept(milliseconds timeout = forever) {
        mp_pipe *p = nullptr;
        detail::check(mp_listener_accept(native(), detail::ms(timeout), &p));
        return Connection(p);
    }
    /// The bound address (the real port after tcp:...:0).
    std::string address() const {
        return detail::read_string([this](char *b, size_t c, size_t *n) { return mp_listener_address(native(), b, c, n); });
    }
};

/// A client of a manager server (mp_mgr_*): Manager().connect().
class Manager : public object<mp_mgr, mp_mgr_close> {
  public:
    Manager() noexcept = default;
    /// Connects to the manager at `address`; at a Redis / Valkey address
    /// ("redis://host:6379[/db][?ns=app]", docs/REDIS.md) to the server
    /// itself, `authkey` then being its password when the address has none.
    explicit Manager(const std::string &address, std::string_view authkey = {},
                     milliseconds timeout = milliseconds{5000}) {
        mp_mgr *m = nullptr;
        detail::check(mp_mgr_connect(address.c_str(), detail::u8(authkey.data()), authkey.size(), detail::ms(timeout),
                                     &m));
        h_ = decltype(h_)(m);
    }
    /// Calls any method of any kind (docs/PROTOCOL.md §4): `args_cbor` is a
    /// CBOR array of the arguments, the result is CBOR.
    bytes call(const std::string &kind, const std::string &name, const std::string &method, const bytes &args_cbor) {
        mp_buf b{};
        detail::check(mp_mgr_call(native(), kind.c_str(), name.c_str(), method.c_str(), args_cbor.data(),
                                  args_cbor.size(), &b));
        return detail::take(b);
    }
    /// dict[key] = value (CBOR key and value).
    void dict_set(const std::string &dict, const bytes &key, const bytes &value) {
        detail::check(mp_mgr_dict_set(native(), dict.c_str(), key.data(), key.size(), value.data(), value.size()));
    }
    /// dict[key] (CBOR); throws MP_E_NOTFOUND for a missing key.
    bytes dict_get(const std::string &dict, const bytes &key) {
        mp_buf b{};
        detail::check(mp_mgr_dict_get(native(), dict.c_str(), key.data(), key.size(), &b));
        return detail::take(b);
    }
    /// del dict[key].
    void dict_del(const std::string &dict, const bytes &key) {
        detail::check(mp_mgr_dict_del(native(), dict.c_str(), key.data(), key.size()));
    }
    /// len(dict).
    size_t dict_len(const std::string &dict) {
        size_t n = 0;
        detail::check(mp_mgr_dict_len(native(), dict.c_str(), &n));
        return n;
    }
    /// Atomic dict[key] += delta; the new value.
    std::int64_t dict_incr(const std::string &dict, const bytes &key, std::int64_t delta = 1) {
        std::int64_t v = 0;
        detail::check(mp_mgr_dict_incr(native(), dict.c_str(), key.data(), key.size(), delta, &v));
        return v;
    }
    /// A proxy of the dict `name` (created on first use), CBOR items as bytes.
    mgr::Dict dict(const std::string &name);
    /// A proxy of the list `name` (created on first use), CBOR items as bytes.
    mgr::List list(const std::string &name);
    /// A proxy of the value `name` (created on first use, null).
    mgr::Value value(const std::string &name);
    /// A proxy of the lock `name` (an RLock with `recursive`).
    mgr::Lock lock(const std::string &name, bool recursive = false);
};

/// Typed proxies of manager objects (docs/PROTOCOL.md §4): each method is
/// one request, atomic on the server. Templates over a codec (see
/// raw_codec); errors throw mpipc::error with the server's status and
/// message (MP_E_NOTFOUND for a missing key, MP_E_INDEX, MP_E_TYPE ...).
namespace mgr {

namespace detail {
/// One method call on (kind, name) with an encoded argument array.
inline bytes call(Manager &m, const char *kind, const std::string &name, const char *method, const bytes &args) {
    mp_buf b{};
    mpipc::detail::check(mp_mgr_call(m.native(), kind, name.c_str(), method, args.data(), args.size(), &b));
    return mpipc::detail::take(b);
}
/// The empty argument array.
inline const bytes &no_args() {
    static const bytes empty{0x80};
    return empty;
}
} // namespace detail

/// Common state of the proxies: the manager and the object's name.
class proxy {
  public:
    /// The object's name on the server.
    const std::string &name() const noexcept { return name_; }

  protected:
    proxy(Manager &m, std::string name) : m_(&m), name_(std::move(name)) {}
    Manager *m_;
    std::string name_;
};

/// A manager dict: dict (Python's DictProxy), keys and values through Codec.
template <class Codec> class BasicDict : public proxy {
  public:
    /// The key and value type of the codec.
    using value_type = typename Codec::value_type;
    /// A proxy of the dict `name` on `m` (created on first use).
    BasicDict(Manager &m, std::string name) : proxy(m, std::move(name)) {}
    /// dict[key] = value.
    void set(const value_type &key, const value_type &value) {
        const bytes k = Codec::encode(key), v = Codec::encode(value);
        mpipc::detail::check(mp_mgr_dict_set(m_->native(), name_.c_str(), k.data(), k.size(), v.data(), v.size()));
    }
    /// dict[key]; throws MP_E_NOTFOUND when absent.
    value_type get(const value_type &key) {
        const bytes k = Codec::encode(key);
        mp_buf b{};
        mpipc::detail::check(mp_mgr_dict_get(m_->native(), name_.c_str(), k.data(), k.size(), &b));
        return Codec::decode(mpipc::detail::take(b));
    }
    /// dict.get(key, fallback): `fallback` when absent.
    value_type get(const value_type &key, const value_type &fallback) {
        const bytes k = Codec::encode(key), d = Codec::encode(fallback);
        return Codec::decode(call("get", cbor::array({&k, &d})));
    }
    /// dict[key], or std::nullopt when absent.
    std::optional<value_type> find(const value_type &key) {
        const bytes k = Codec::encode(key);
        mp_buf b{};
        mp_status s = mp_mgr_dict_get(m_->native(), name_.c_str(), k.data(), k.size(), &b);
        if (s == MP_E_NOTFOUND) {
            return std::nullopt;
        }
        mpipc::detail::check(s);
        return Codec::decode(mpipc::detail::take(b));
    }
    /// key in dict.
    bool contains(const value_type &key) { return cbor::to_bool(call1("contains", key)); }
    /// del dict[key]; throws MP_E_NOTFOUND when absent.
    void del(const value_type &key) {
        const bytes k = Codec::encode(key);
        mpipc::detail::check(mp_mgr_dict_del(m_->native(), name_.c_str(), k.data(), k.size()));
    }
    /// len(dict).
    size_t size() {
        size_t n = 0;
        mpipc::detail::check(mp_mgr_dict_len(m_->native(), name_.c_str(), &n));
        return n;
    }
    /// Atomic dict[key] += delta (absent counts as 0); the new value.
    /// MP_E_TYPE if the value is not an integer.
    std::int64_t incr(const value_type &key, std::int64_t delta = 1) {
        const bytes k = Codec::encode(key);
        std::int64_t v = 0;
        mpipc::detail::check(mp_mgr_dict_incr(m_->native(), name_.c_str(), k.data(), k.size(), delta, &v));
        return v;
    }
    /// Atomically sets dict[key] = desired iff it is present and equal to
    /// `expected` (never inserts); whether it did.
    bool compare_and_set(const value_type &key, const value_type &expected, const value_type &desired) {
        const bytes k = Codec::encode(key), e = Codec::encode(expected), d = Codec::encode(desired);
        return cbor::to_bool(call("compare_and_set", cbor::array({&k, &e, &d})));
    }
    /// dict.setdefault(key, fallback): the value, inserting `fallback` if absent.
    value_type setdefault(const value_type &key, const value_type &fallback) {
        const bytes k = Codec::encode(key), d = Codec::encode(fallback);
        return Codec::decode(call("setdefault", cbor::array({&k, &d})));
    }
    /// dict.pop(key); throws MP_E_NOTFOUND when absent.
    value_type pop(const value_type &key) { return Codec::decode(call1("pop", key)); }
    /// The keys, in insertion order.
    std::vector<value_type> keys() { return decode_all(call("keys", detail::no_args())); }
    /// The values, in insertion order.
    std::vector<value_type> values() { return decode_all(call("values", detail::no_args())); }
    /// The (key, value) pairs, in insertion order.
    std::vector<std::pair<value_type, value_type>> items() {
        std::vector<std::pair<value_type, value_type>> out;
        for (bytes &pair : cbor::split_array(call("items", detail::no_args()))) {
            std::vector<bytes> kv = cbor::split_array(pair);
            if (kv.size() != 2) {
                throw error(MP_E_INVAL, "dict items: a pair is not a 2-element array");
            }
            out.emplace_back(Codec::decode(std::move(kv[0])), Codec::decode(std::move(kv[1])));
        }
        return out;
    }
    /// dict.update(pairs): all or nothing.
    void update(const std::vector<std::pair<value_type, value_type>> &pairs) {
        std::vector<bytes> enc;
        enc.reserve(pairs.size());
        for (const auto &kv : pairs) {
            const bytes k = Codec::encode(kv.first), v = Codec::encode(kv.second);
            enc.push_back(cbor::array({&k, &v}));
        }
        const bytes arr = cbor::array(enc);
        call("update", cbor::array({&arr}));
    }
    /// dict.clear().
    void clear() { call("clear", detail::no_args()); }

  private:
    bytes call(const char *method, const bytes &args) { return detail::call(*m_, "dict", name_, method, args); }
    bytes call1(const char *method, const value_type &x) {
        const bytes e = Codec::encode(x);
        return call(method, cbor::array({&e}));
    }
    static std::vector<value_type> decode_all(const bytes &arr) {
        std::vector<value_type> out;
        for (bytes &b : cbor::split_array(arr)) {
            out.push_back(Codec::decode(std::move(b)));
        }
        return out;
    }
};

/// A manager list (Python's ListProxy); indices count from the end when
/// negative, as in Python.
template <class Codec> class BasicList : public proxy {
  public:
    /// The element type of the codec.
    using value_type = typename Codec::value_type;
    /// A proxy of the list `name` on `m` (created on first use).
    BasicList(Manager &m, std::string name) : proxy(m, std::move(name)) {}
    /// list.append(x).
    void append(const value_type &x) { call1("append", x); }
    /// list.extend(xs).
    void extend(const std::vector<value_type> &xs) {
        const bytes arr = encode_all(xs);
        call("extend", cbor::array({&arr}));
    }
    /// list.insert(i, x).
    void insert(std::int64_t i, const value_type &x) {
        const bytes ib = cbor::integer(i), e = Codec::encode(x);
        call("insert", cbor::array({&ib, &e}));
    }
    /// list[i]; MP_E_INDEX out of range.
    value_type get(std::int64_t i) {
        const bytes ib = cbor::integer(i);
        return Codec::decode(call("getitem", cbor::array({&ib})));
    }
    /// list[i] = x; MP_E_INDEX out of range.
    void set(std::int64_t i, const value_type &x) {
        const bytes ib = cbor::integer(i), e = Codec::encode(x);
        call("setitem", cbor::array({&ib, &e}));
    }
    /// del list[i]; MP_E_INDEX out of range.
    void del(std::int64_t i) {
        const bytes ib = cbor::integer(i);
        call("delitem", cbor::array({&ib}));
    }
    /// list.pop(i); MP_E_INDEX when empty or out of range.
    value_type pop(std::int64_t i = -1) {
        const bytes ib = cbor::integer(i);
        return Codec::decode(call("pop", cbor::array({&ib})));
    }
    /// len(list).
    size_t size() { return static_cast<size_t>(cbor::to_int(call("len", detail::no_args()))); }
    /// x in list.
    bool contains(const value_type &x) { return cbor::to_bool(call1("contains", x)); }
    /// list.index(x); MP_E_NOTFOUND when absent.
    std::int64_t index(const value_type &x) { return cbor::to_int(call1("index", x)); }
    /// list.count(x).
    std::int64_t count(const value_type &x) { return cbor::to_int(call1("count", x)); }
    /// list.remove(x) (the first equal); MP_E_NOTFOUND when absent.
    void remove(const value_type &x) { call1("remove", x); }
    /// list.clear().
    void clear() { call("clear", detail::no_args()); }
    /// list.reverse().
    void reverse() { call("reverse", detail::no_args()); }
    /// list.sort(reverse=...); MP_E_TYPE for unorderable elements (the
    /// list is left unchanged).
    void sort(bool reverse_order = false) {
        const bytes r = cbor::boolean(reverse_order);
        call("sort", cbor::array({&r}));
    }
    /// list[start:stop] (Python's clamping; negative from the end).
    std::vector<value_type> slice(std::int64_t start, std::int64_t stop) {
        const bytes a = cbor::integer(start), b = cbor::integer(stop);
        return decode_all(call("getslice", cbor::array({&a, &b})));
    }
    /// Every element, in order.
    std::vector<value_type> copy() { return decode_all(call("copy", detail::no_args())); }

  private:
    bytes call(const char *method, const bytes &args) { return detail::call(*m_, "list", name_, method, args); }
    bytes call1(const char *method, const value_type &x) {
        const bytes e = Codec::encode(x);
        return call(method, cbor::array({&e}));
    }
    static bytes encode_all(const std::vector<value_type> &xs) {
        std::vector<bytes> enc;
        enc.reserve(xs.size());
        for (const value_type &x : xs) {
            enc.push_back(Codec::encode(x));
        }
        return cbor::array(enc);
    }
    static std::vector<value_type> decode_all(const bytes &arr) {
        std::vector<value_type> out;
        for (bytes &b : cbor::split_array(arr)) {
            out.push_back(Codec::decode(std::move(b)));
        }
        return out;
    }
};

/// A manager value (Python's Manager().Value, any CBOR item): created
/// holding null.
template <class Codec> class BasicValue : public proxy {
  public:
    /// The value type of the codec.
    using value_type = typename Codec::value_type;
    /// A proxy of the value `name` on `m` (created on first use).
    BasicValue(Manager &m, std::string name) : proxy(m, std::move(name)) {}
    /// The value.
    value_type get() { return Codec::decode(call("get", detail::no_args())); }
    /// Replaces the value.
    void set(const value_type &v) {
        const bytes e = Codec::encode(v);
        call("set", cbor::array({&e}));
    }
    /// Atomic value += delta (null counts as 0); the new value. MP_E_TYPE
    /// if it holds something else than an integer.
    std::int64_t incr(std::int64_t delta = 1) {
        const bytes d = cbor::integer(delta);
        return cbor::to_int(call("incr", cbor::array({&d})));
    }
    /// Atomically replaces the value with `desired` iff it equals
    /// `expected`; whether it did.
    bool compare_and_set(const value_type &expected, const value_type &desired) {
        const bytes e = Codec::encode(expected), d = Codec::encode(desired);
        return cbor::to_bool(call("compare_and_set", cbor::array({&e, &d})));
    }

  private:
    bytes call(const char *method, const bytes &args) { return detail::call(*m_, "value", name_, method, args); }
};

/// A manager lock (kind "lock", or "rlock" when recursive), owned by the
/// Manager connection that acquired it: the server releases it when that
/// connection ends. Lockable (std::lock_guard, std::unique_lock), and
/// hold() returns an RAII Guard.
class Lock : public proxy {
  public:
    /// Holds the lock from hold() until destroyed (or release()); move-only.
    class Guard {
      public:
        /// Takes over `o`'s hold (o then holds nothing).
        Guard(Guard &&o) noexcept : l_(std::exchange(o.l_, nullptr)) {}
        /// Releases what this guard holds, then takes over `o`'s hold.
        Guard &operator=(Guard &&o) noexcept {
            if (this != &o) {
                unlock_quietly();
                l_ = std::exchange(o.l_, nullptr);
            }
            return *this;
        }
        Guard(const Guard &) = delete;
        Guard &operator=(const Guard &) = delete;
        /// Releases the lock; an error is swallowed here (a destructor does
        /// not throw): call release() to see it.
        ~Guard() { unlock_quietly(); }
        /// Releases now (throws like Lock::release). Idempotent.
        void release() {
            if (l_ != nullptr) {
                std::exchange(l_, nullptr)->release();
            }
        }
        /// Whether this guard still holds the lock.
        bool owns_lock() const noexcept { return l_ != nullptr; }

      private:
        friend class Lock;
        explicit Guard(Lock *l) noexcept : l_(l) {}
        void unlock_quietly() noexcept {
            if (l_ != nullptr) {
                try {
                    std::exchange(l_, nullptr)->release();
                } catch (...) {
                    // The connection is gone or the lock was released
                    // behind the guard's back: nothing left to release.
                }
            }
        }
        Lock *l_;
    };

    /// A proxy of the lock `name` on `m` (an RLock with `recursive`).
    Lock(Manager &m, std::string name, bool recursive = false)
        : proxy(m, std::move(name)), kind_(recursive ? "rlock" : "lock") {}
    /// Acquires, waiting at most `timeout`; false when it runs out.
    /// MP_E_INVAL when this connection already holds a (non-recursive) lock.
    bool acquire(milliseconds timeout = forever) {
        const bytes t = timeout.count() < 0 ? cbor::null() : cbor::integer(static_cast<std::int64_t>(timeout.count()));
        return cbor::to_bool(call("acquire", cbor::array({&t})));
    }
    /// Releases; MP_E_PERM when this connection does not hold it.
    void release() { call("release", detail::no_args()); }
    /// Whether anyone holds it.
    bool locked() { return cbor::to_bool(call("locked", detail::no_args())); }
    /// Acquires (waiting at most `timeout`, MP_E_TIMEOUT when it runs out)
    /// and returns the guard that releases it.
    [[nodiscard]] Guard hold(milliseconds timeout = forever) {
        if (!acquire(timeout)) {
            throw error(MP_E_TIMEOUT, "manager lock '" + name_ + "' not acquired in time");
        }
        return Guard(this);
    }
    /// Lockable: acquire without a time limit.
    void lock() { acquire(forever); }
    /// Lockable: acquire if free now.
    bool try_lock() { return acquire(milliseconds{0}); }
    /// Lockable: release.
    void unlock() { release(); }

  private:
    bytes call(const char *method, const bytes &args) { return detail::call(*m_, kind_, name_, method, args); }
    const char *kind_;
};

} // namespace mgr

inline mgr::Dict Manager::dict(const std::string &name) { return mgr::Dict(*this, name); }
inline mgr::List Manager::list(const std::string &name) { return mgr::List(*this, name); }
inline mgr::Value Manager::value(const std::string &name) { return mgr::Value(*this, name); }
inline mgr::Lock Manager::lock(const std::string &name, bool recursive) { return mgr::Lock(*this, name, recursive); }

/// A manager server in this process (mp_mgr_serve); the destructor shuts
/// it down.
class ManagerServer : public object<mp_mgr_server, detail::close_server> {
  public:
    ManagerServer() noexcept = default;
    /// Serves at `address` until destroyed.
    explicit ManagerServer(const std::string &address, std::string_view authkey = {}) {
        mp_mgr_server *s = nullptr;
        detail::check(mp_mgr_serve(address.c_str(), detail::u8(authkey.data()), authkey.size(), &s));
        h_ = decltype(h_)(s);
    }
    /// The address served (the real port after tcp:...:0).
    std::string address() const {
        return detail::read_string(
            [this](char *b, size_t c, size_t *n) { return mp_mgr_server_address(native(), b, c, n); });
    }
};

/// multiprocessing.shared_memory.SharedMemory (mp_shm_*).
class SharedMemory : public object<mp_shm, mp_shm_close> {
  public:
    SharedMemory() noexcept = default;
    /// Opens the block `name` of `size` bytes (0 = attach at its size).
    explicit SharedMemory(const std::string &name, size_t size, std::uint32_t flags = 0) {
        mp_shm *s = nullptr;
        detail::check(mp_shm_open(name.c_str(), size, flags, &s));
        h_ = decltype(h_)(s);
    }
    /// Removes the name.
    static void unlink(const std::string &name) { detail::check(mp_shm_unlink(name.c_str())); }
    /// The first byte of the mapping.
    void *data() const { return mp_shm_ptr(native()); }
    /// The size of the block in bytes.
    size_t size() const { return mp_shm_size(native()); }
};

/// Lock (and RLock with MP_LOCK_RECURSIVE) (mp_lock_*). Meets the C++
/// Lockable requirements: std::lock_guard<mpipc::Lock> and
/// std::unique_lock work. A lock taken over from a killed holder is
/// acquired (MP_E_OWNER_DEAD in C): lock() succeeds and owner_died() is
/// then true until the next acquisition.
class Lock : public object<mp_lock, mp_lock_close> {
  public:
    Lock() noexcept = default;
    /// Opens the lock `name`.
    explicit Lock(const std::string &name, std::uint32_t flags = 0) {
        mp_lock *l = nullptr;
        detail::check(mp_lock_open(name.c_str(), flags, &l));
        h_ = decltype(h_)(l);
    }
    /// Removes the name.
    static void unlink(const std::string &name) { detail::check(mp_lock_unlink(name.c_str())); }
    /// Acquires, waiting at most `timeout`; false when it runs out.
    bool acquire(milliseconds timeout = forever) {
        mp_status s = mp_lock_acquire(native(), detail::ms(timeout));
        owner_died_ = s == MP_E_OWNER_DEAD;
        if (s == MP_E_TIMEOUT) {
            return false;
        }
        if (!owner_died_) {
            detail::check(s);
        }
        return true;
    }
    /// Releases; throws MP_E_PERM when this thread does not hold it.
    void release() { detail::check(mp_lock_release(native())); }
    /// Lockable: acquire without a time limit.
    void lock() { acquire(forever); }
    /// Lockable: acquire if free now.
    bool try_lock() { return acquire(milliseconds{0}); }
    /// Lockable: release (throws like release; in a lock_guard's
    /// destructor a throw terminates, as for any misuse of a mutex).
    void unlock() { release(); }
    /// Whether the last acquisition took the lock from a killed holder.
    bool owner_died() const noexcept { return owner_died_; }

  private:
    bool owner_died_ = false;
};

/// Semaphore (BoundedSemaphore with MP_SEM_BOUNDED) (mp_sem_*); also
/// Lockable (lock = acquire, unlock = release).
class Semaphore : public object<mp_sem, mp_sem_close> {
  public:
    Semaphore() noexcept = default;
    /// Opens the semaphore `name` with initial `value` (when created).
    explicit Semaphore(const std::string &name, std::uint32_t value = 1, std::uint32_t flags = 0) {
        mp_sem *s = nullptr;
        detail::check(mp_sem_open(name.c_str(), value, flags, &s));
        h_ = decltype(h_)(s);
    }
    /// Removes the name.
    static void unlink(const std::string &name) { detail::check(mp_sem_unlink(name.c_str())); }
    /// Decrements, waiting at most `timeout`; false when it runs out.
    bool acquire(milliseconds timeout = forever) {
        mp_status s = mp_sem_acquire(native(), detail::ms(timeout));
        if (s == MP_E_TIMEOUT) {
            return false;
        }
        detail::check(s);
        return true;
    }
    /// Increments (MP_E_INVAL past a bounded semaphore's initial value).
    void release() { detail::check(mp_sem_release(native())); }
    /// The current value.
    std::uint32_t value() const {
        std::uint32_t v = 0;
        detail::check(mp_sem_value(native(), &v));
        return v;
    }
    /// Lockable.
    void lock() { acquire(forever); }
    /// Lockable.
    bool try_lock() { return acquire(milliseconds{0}); }
    /// Lockable.
    void unlock() { release(); }
};

/// Event (mp_event_*).
class Event : public object<mp_event, mp_event_close> {
  public:
    Event() noexcept = default;
    /// Opens the event `name`.
    explicit Event(const std::string &name, std::uint32_t flags = 0) {
        mp_event *e = nullptr;
        detail::check(mp_event_open(name.c_str(), flags, &e));
        h_ = decltype(h_)(e);
    }
    /// Removes the name.
    static void unlink(const std::string &name) { detail::check(mp_event_unlink(name.c_str())); }
    /// Sets the flag and wakes every waiter.
    void set() { detail::check(mp_event_set(native())); }
    /// Clears the flag.
    void clear() { detail::check(mp_event_clear(native())); }
    /// Whether the flag is set.
    bool is_set() const {
        bool b = false;
        detail::check(mp_event_is_set(native(), &b));
        return b;
    }
    /// Waits at most `timeout` for the flag; false when it runs out.
    bool wait(milliseconds timeout = forever) {
        mp_status s = mp_event_wait(native(), detail::ms(timeout));
        if (s == MP_E_TIMEOUT) {
            return false;
        }
        detail::check(s);
        return true;
    }
};

/// Condition, used with a held mpipc::Lock (mp_cond_*).
class Condition : public object<mp_cond, mp_cond_close> {
  public:
    Condition() noexcept = default;
    /// Opens the condition `name`.
    explicit Condition(const std::string &name, std::uint32_t flags = 0) {
        mp_cond *c = nullptr;
        detail::check(mp_cond_open(name.c_str(), flags, &c));
        h_ = decltype(h_)(c);
    }
    /// Removes the name.
    static void unlink(const std::string &name) { detail::check(mp_cond_unlink(name.c_str())); }
    /// Releases `lock`, waits at most `timeout` for a notify, re-acquires;
    /// false when the time ran out. Throws MP_E_PERM if `lock` is not held.
    bool wait(Lock &lock, milliseconds timeout = forever) {
        mp_status s = mp_cond_wait(native(), lock.native(), detail::ms(timeout));
        if (s == MP_E_TIMEOUT) {
            return false;
        }
        detail::check(s);
        return true;
    }
    /// Wakes up to `n` waiters.
    void notify(size_t n = 1) { detail::check(mp_cond_notify(native(), n)); }
    /// Wakes every waiter.
    void notify_all() { detail::check(mp_cond_notify_all(native())); }
};

/// Barrier (mp_barrier_*).
class Barrier : public object<mp_barrier, mp_barrier_close> {
  public:
    Barrier() noexcept = default;
    /// Opens the barrier `name` for `parties` processes or threads.
    Barrier(const std::string &name, std::uint32_t parties, std::uint32_t flags = 0) {
        mp_barrier *b = nullptr;
        detail::check(mp_barrier_open(name.c_str(), parties, flags, &b));
        h_ = decltype(h_)(b);
    }
    /// Removes the name.
    static void unlink(const std::string &name) { detail::check(mp_barrier_unlink(name.c_str())); }
    /// Waits for every party; returns this party's index (0..parties-1).
    /// Throws MP_E_BROKEN when the barrier is or becomes broken (a timeout
    /// breaks it, as in Python).
    std::uint32_t wait(milliseconds timeout = forever) {
        std::uint32_t i = 0;
        detail::check(mp_barrier_wait(native(), detail::ms(timeout), &i));
        return i;
    }
    /// Breaks the barrier.
    void abort() { detail::check(mp_barrier_abort(native())); }
    /// Back to the initial, unbroken state.
    void reset() { detail::check(mp_barrier_reset(native())); }
    /// The number of parties.
    std::uint32_t parties() const {
        std::uint32_t n = 0;
        detail::check(mp_barrier_parties(native(), &n));
        return n;
    }
    /// How many are waiting now.
    std::uint32_t n_waiting() const {
        std::uint32_t n = 0;
        detail::check(mp_barrier_n_waiting(native(), &n));
        return n;
    }
    /// Whether the barrier is broken.
    bool broken() const {
        bool b = false;
        detail::check(mp_barrier_broken(native(), &b));
        return b;
    }
};

/// Array and Value of a ctypes type code (mp_array_*, mp_value_*); also
/// Lockable through its own lock (unless MP_ARRAY_NO_LOCK).
class Array : public object<mp_array, mp_array_close> {
  public:
    Array() noexcept = default;
    /// Opens the array `name` of `length` items of `typecode` ('q', 'd', ...).
    Array(const std::string &name, char typecode, size_t length, std::uint32_t flags = 0) {
        mp_array *a = nullptr;
        detail::check(mp_array_open(name.c_str(), typecode, length, flags, &a));
        h_ = decltype(h_)(a);
    }
    /// Python's Value: a one-item array.
    static Array value(const std::string &name, char typecode, std::uint32_t flags = 0) {
        mp_array *a = nullptr;
        detail::check(mp_value_open(name.c_str(), typecode, flags, &a));
        Array out;
        out.h_ = decltype(out.h_)(a);
        return out;
    }
    /// Removes the name.
    static void unlink(const std::string &name) { detail::check(mp_array_unlink(name.c_str())); }
    /// The items, in place (zero-copy; lock around multi-step updates).
    void *data() const { return mp_array_ptr(native()); }
    /// The number of items.
    size_t size() const { return mp_array_len(native()); }
    /// The type code.
    char typecode() const { return mp_array_typecode(native()); }
    /// The size of one item in bytes.
    size_t itemsize() const { return mp_array_itemsize(native()); }
    /// Item `i` as a signed integer (locked read).
    std::int64_t get_i64(size_t i) {
        std::int64_t v = 0;
        detail::check(mp_array_get_i64(native(), i, &v));
        return v;
    }
    /// Item `i` as an unsigned integer.
    std::uint64_t get_u64(size_t i) {
        std::uint64_t v = 0;
        detail::check(mp_array_get_u64(native(), i, &v));
        return v;
    }
    /// Item `i` as a double.
    double get_f64(size_t i) {
        double v = 0;
        detail::check(mp_array_get_f64(native(), i, &v));
        return v;
    }
    /// Sets item `i` (MP_E_INVAL when out of the type's range).
    void set_i64(size_t i, std::int64_t v) { detail::check(mp_array_set_i64(native(), i, v)); }
    /// Sets item `i`.
    void set_u64(size_t i, std::uint64_t v) { detail::check(mp_array_set_u64(native(), i, v)); }
    /// Sets item `i`.
    void set_f64(size_t i, double v) { detail::check(mp_array_set_f64(native(), i, v)); }
    /// Atomic (locked) item += delta; the new value.
    std::int64_t incr(size_t i, std::int64_t delta = 1) {
        std::int64_t v = 0;
        detail::check(mp_array_incr(native(), i, delta, &v));
        return v;
    }
    /// Copies `count` items from `start` into `out` (locked).
    void read(size_t start, void *out, size_t count) { detail::check(mp_array_read(native(), start, out, count)); }
    /// Copies `count` items from `data` to `start` (locked).
    void write(size_t start, const void *data, size_t count) {
        detail::check(mp_array_write(native(), start, data, count));
    }
    /// Lockable: takes the array's lock (a killed holder's lock is taken
    /// over: owner_died() is then true).
    void lock() {
        mp_status s = mp_array_lock(native(), -1);
        owner_died_ = s == MP_E_OWNER_DEAD;
        if (!owner_died_) {
            detail::check(s);
        }
    }
    /// Lockable: takes the lock if free now.
    bool try_lock() {
        mp_status s = mp_array_lock(native(), 0);
        owner_died_ = s == MP_E_OWNER_DEAD;
        if (s == MP_E_TIMEOUT) {
            return false;
        }
        if (!owner_died_) {
            detail::check(s);
        }
        return true;
    }
    /// Lockable: releases the lock.
    void unlock() { detail::check(mp_array_unlock(native())); }
    /// Whether the last lock() took the lock from a killed holder.
    bool owner_died() const noexcept { return owner_died_; }

  private:
    bool owner_died_ = false;
};

/// multiprocessing.shared_memory.ShareableList (mp_slist_*); items are
/// CBOR scalars.
class ShareableList : public object<mp_slist, mp_slist_close> {
  public:
    ShareableList() noexcept = default;
    /// Creates the list from `items_cbor` (a CBOR array of scalars) or
    /// attaches to an existing one of as many items.
    ShareableList(const std::string &name, const bytes &items_cbor, std::uint32_t flags = 0) {
        mp_slist *l = nullptr;
        detail::check(mp_slist_open(name.c_str(), items_cbor.data(), items_cbor.size(), flags, &l));
        h_ = decltype(h_)(l);
    }
    /// Attaches to the existing list `name`.
    static ShareableList attach(const std::string &name) {
        mp_slist *l = nullptr;
        detail::check(mp_slist_open(name.c_str(), nullptr, 0, 0, &l));
        ShareableList out;
        out.h_ = decltype(out.h_)(l);
        return out;
    }
    /// Removes the name.
    static void unlink(const std::string &name) { detail::check(mp_slist_unlink(name.c_str())); }
    /// The number of items.
    size_t size() {
        size_t n = 0;
        detail::check(mp_slist_len(native(), &n));
        return n;
    }
    /// Item `i` (CBOR); MP_E_INDEX out of range.
    bytes get(size_t i) {
        mp_buf b{};
        detail::check(mp_slist_get(native(), i, &b));
        return detail::take(b);
    }
    /// Sets item `i` to a CBOR scalar that fits its slot.
    void set(size_t i, const bytes &item_cbor) {
        detail::check(mp_slist_set(native(), i, item_cbor.data(), item_cbor.size()));
    }
    /// The byte capacity of item `i`'s slot.
    size_t capacity(size_t i) {
        size_t n = 0;
        detail::check(mp_slist_capacity(native(), i, &n));
        return n;
    }
};

/// The library's version string (mp_version()).
inline std::string version() { return mp_version(); }

} // namespace mpipc

#endif // MPIPC_HPP
