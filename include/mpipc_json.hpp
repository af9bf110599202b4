// mpipc_json.hpp — objects as nlohmann::json over mpipc (optional; C++17).
//
// Written by hand; installed next to mpipc.hpp. Needs nlohmann/json
// (Debian's nlohmann-json3-dev, header-only) besides mpipc.hpp; programs
// that do not include this header do not need it.
//
// What it adds:
// - mpipc::to_cbor(j) / mpipc::from_cbor<J>(bytes): a nlohmann::json (or
//   nlohmann::ordered_json, which keeps map order) to and from the CBOR of
//   docs/TYPES.md, the bytes every other language reads.
// - put_json / get_json / try_get_json on a Queue, send_json / recv_json
//   on a Connection, and the manager proxies mgr::JsonDict, JsonList,
//   JsonValue (mpipc.hpp's templates with a JSON codec).
//
// Why not nlohmann's own to_cbor / from_cbor: they are a different CBOR
// dialect from docs/TYPES.md's. to_cbor writes a float as 32 bits when
// that is exact (1.5 is `fa 3fc00000`, TYPES.md rule 2 wants `fb` always)
// and a binary subtype as a tag with a 1-byte head at least (`d8 02`, not
// the shortest `c2`); from_cbor (checked with 3.11.2, Debian 12's)
// refuses `undefined` (rule 6 reads it as null), refuses tags 0-23 (heads
// `c0`-`d7`: bignums, timestamps) even with cbor_tag_handler_t::store or
// ignore, keeps other tags only around byte strings, refuses maps with
// non-text keys, and wraps a negative integer below -2^63 (-2^64 reads as
// 0; later versions make it a float). So this header walks the json value
// itself: a few hundred lines, the same value model (nlohmann's types,
// binary with subtype for tagged byte strings, as from_cbor's
// cbor_tag_handler_t::store does) and exactly TYPES.md's bytes.
//
// The mapping (docs/TYPES.md's C++ column):
// - null, bool, integers (number_integer / number_unsigned), floats
//   (number_float, always written as 64-bit `fb`; NaN and infinities are
//   native doubles), text (valid UTF-8 only), arrays: themselves.
// - byte strings: binary without subtype; a tagged byte string: binary
//   with the tag as subtype (nlohmann's own convention).
// - integers beyond int64/uint64 (bignums, tags 2/3): binary with subtype
//   2 (positive, the magnitude big-endian) or 3 (negative: the magnitude
//   of -1 - n). -2^64 .. -2^63-1 are CBOR negative integers that no
//   nlohmann integer type holds: they decode the same way (subtype 3) and
//   are written back as the plain negative integer. Any binary of subtype
//   2/3 whose value fits 64 bits is written as the plain integer (rule 3).
// - maps whose keys are all text: objects (nlohmann::json sorts keys;
//   nlohmann::ordered_json keeps the written order, as rule 5 wants).
// - maps with a key that is not text: {"$map": [[key, value], ...]}.
// - any other tag: {"$tag": <number>, "$value": <item>} (timestamps tag
//   0/1 included: no date parsing; REF, a manager object, too).
// - TUPLE (a Python tuple) decodes as a plain array; to send a tuple
//   write {"$tag": 1836086389, "$value": [...]} (mpipc::tag::tuple).
// - PICKLE is refused both ways (MP_E_TYPE, a Python pickle).
// These extended objects are the ones of the C ABI's JSON bridge
// (docs/TYPES.md, "JSON bridge"): an object whose keys are exactly
// {"$tag", "$value"} with an unsigned "$tag", or exactly {"$map"} holding
// an array of pairs, is written as the tag / the map; any other object is
// a plain map. So a decoded map whose text keys spell one of those forms
// (a real map {"$map": [...]}) is given in the $map form, and reads back
// as the map it is.
//
// Tag 55799 (self-described CBOR) is dropped wherever it appears and never
// written (TYPES.md rule 8).
//
// Errors throw mpipc::error: MP_E_INVAL for invalid CBOR (truncated,
// trailing bytes, reserved heads, simple values other than
// false/true/null/undefined, invalid UTF-8, nesting deeper than 128, a
// TUPLE not around an array, a REF not around three texts, tag 0 not
// around a text, tag 1 not around an integer or a float, tags 2/3 not
// around bytes, a map with two equal keys: 1 and 1.0 are one key, TYPES.md
// rule 5) and for a json value that cannot be written (invalid UTF-8, a
// discarded value, nesting deeper than 128, a $map form with two equal
// keys, a $tag 0 / 1 / 2 / 3 form around the wrong content); MP_E_TYPE
// for a PICKLE. A message that fails to
// decode has been taken from its queue or pipe (it could never be
// decoded).
#ifndef MPIPC_JSON_HPP
#define MPIPC_JSON_HPP

#include "mpipc.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

namespace mpipc {

/// mpipc's own CBOR tags (docs/TYPES.md).
namespace tag {
/// TUPLE ("mptu"): a Python tuple around an array.
inline constexpr std::uint64_t tuple = 0x6d707475;
/// PICKLE ("mppk"): a Python pickle around bytes (refused here).
inline constexpr std::uint64_t pickle = 0x6d70706b;
/// REF ("mprf"): a manager object, [kind, name, address].
inline constexpr std::uint64_t ref = 0x6d707266;
} // namespace tag

namespace json_detail {

/// TYPES.md's nesting limit, for the encoder and the decoder.
inline constexpr int max_depth = 128;

inline error invalid(const std::string &why) { return error(MP_E_INVAL, "invalid CBOR: " + why); }

inline error pickle_refused() {
    return error(MP_E_TYPE, "a Python pickle (PICKLE tag): only Python with serializer=\"pickle\" reads it");
}

/// Whether s is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
inline bool valid_utf8(const std::uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        const std::uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len = 0;
        std::uint32_t cp = 0;
        std::uint32_t min = 0;
        if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1fu, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0fu, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07u, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len) {
            return false;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += len;
    }
    return true;
}

/// A big-endian magnitude without its leading zero bytes.
inline std::vector<std::uint8_t> strip(const std::uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n && p[i] == 0) {
        i++;
    }
    return std::vector<std::uint8_t>(p + i, p + n);
}


// ------------------------------------------------------------- map keys

/// Tag 55799 (self-described CBOR) means nothing: dropped wherever it
/// appears (docs/TYPES.md rule 8). The position past any run of its heads
/// at p[pos] (a well-formed head is not required: the caller reads on).
inline size_t skip_self_described(const std::uint8_t *p, size_t n, size_t pos) {
    for (;;) {
        if (pos >= n || (p[pos] >> 5) != 6) {
            return pos;
        }
        const int info = p[pos] & 0x1f;
        if (info < 24 || info > 27) {
            return pos;
        }
        const size_t len = size_t{1} << (info - 24);
        if (n - pos - 1 < len) {
            return pos;
        }
        std::uint64_t v = 0;
        for (size_t i = 0; i < len; i++) {
            v = (v << 8) | p[pos + 1 + i];
        }
        if (v != 55799) {
            return pos;
        }
        pos += 1 + len;
    }
}

/// The head at p[pos] of an item already checked well-formed: major type,
/// additional information, argument (a float's bits for 25..27).
struct raw_head {
    int major;
    int info;
    std::uint64_t arg;
};

inline raw_head read_raw(const std::uint8_t *p, size_t &pos) {
    const std::uint8_t ib = p[pos++];
    raw_head h{ib >> 5, ib & 0x1f, 0};
    if (h.info < 24) {
        h.arg = static_cast<std::uint64_t>(h.info);
    } else if (h.info <= 27) {
        for (size_t i = 0; i < (size_t{1} << (h.info - 24)); i++) {
            h.arg = (h.arg << 8) | p[pos++];
        }
    }
    return h;
}

/// A checked string's content (definite or chunked), appended to s.
inline size_t raw_string(const std::uint8_t *p, size_t pos, const raw_head &h, std::vector<std::uint8_t> &s) {
    if (h.info != 31) {
        s.insert(s.end(), p + pos, p + pos + static_cast<size_t>(h.arg));
        return pos + static_cast<size_t>(h.arg);
    }
    while (p[pos] != 0xff) {
        const raw_head c = read_raw(p, pos);
        pos = raw_string(p, pos, c, s);
    }
    return pos + 1;
}

/// The key bytes of an integer from its sign and big-endian magnitude
/// (negative: the value is -1 - magnitude, as tag 3): a plain head when
/// it fits 64 bits, else the bignum without leading zeros.
inline void key_bignum(bytes &out, bool negative, const std::uint8_t *m, size_t n) {
    std::vector<std::uint8_t> mag = strip(m, n);
    if (mag.size() <= 8) {
        std::uint64_t v = 0;
        for (std::uint8_t x : mag) {
            v = (v << 8) | x;
        }
        cbor::head(out, negative ? 1 : 0, v);
        return;
    }
    cbor::head(out, 6, negative ? 3 : 2);
    cbor::head(out, 2, mag.size());
    out.insert(out.end(), mag.begin(), mag.end());
}

/// The key bytes of a double: the integer it equals when finite and
/// integral (-0.0 is 0; beyond 64 bits a bignum), else its 64 bits (a NaN
/// equals only a NaN of the same bits).
inline void key_double(bytes &out, double d) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &d, sizeof bits);
    const int field = static_cast<int>((bits >> 52) & 0x7ff);
    const int e = field - 1075; // d = mantissa * 2^e
    std::uint64_t mant = bits & ((std::uint64_t{1} << 52) - 1);
    const bool negative = (bits >> 63) != 0;
    const bool integral = field == 0x7ff ? false
                          : field == 0   ? mant == 0
                                         : e >= 0 || (-e < 53 && (mant & ((std::uint64_t{1} << -e) - 1)) == 0);
    if (!integral) {
        out.push_back(0xfb);
        for (int i = 7; i >= 0; i--) {
            out.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
        }
        return;
    }
    if (field == 0) {
        cbor::head(out, 0, 0);
        return;
    }
    mant |= std::uint64_t{1} << 52;
    std::vector<std::uint8_t> m;
    const std::uint64_t v = e <= 0 ? mant >> -e : mant << (e % 8);
    for (int i = 7; i >= 0; i--) {
        m.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    if (e > 0) {
        m.insert(m.end(), static_cast<size_t>(e / 8), 0);
    }
    if (negative) { // CBOR's negative integers hold |d| - 1
        for (size_t i = m.size(); i-- > 0;) {
            if (m[i]--) {
                break;
            }
        }
    }
    key_bignum(out, negative, m.data(), m.size());
}

/// Appends the key bytes of the checked item at p[pos] and returns its
/// end: two items are equal under mpipc's key equality (docs/TYPES.md
/// "Map keys": numbers by value, 1 == 1.0 == 2(h'01'), 0 == -0.0;
/// booleans are not numbers; text by code points; bytes bytewise; arrays
/// element-wise; the TUPLE tag ignored) exactly when these bytes are (the
/// Rust crate's mpipc::manager::cbor::key_bytes, mpcbor.h's
/// mpcbor_key_bytes).
inline size_t key_bytes(const std::uint8_t *p, size_t n, size_t pos, bytes &out) {
    pos = skip_self_described(p, n, pos);
    const raw_head h = read_raw(p, pos);
    switch (h.major) {
    case 0:
    case 1:
        cbor::head(out, static_cast<std::uint8_t>(h.major), h.arg);
        return pos;
    case 2:
    case 3: {
        std::vector<std::uint8_t> str;
        pos = raw_string(p, pos, h, str);
        cbor::head(out, static_cast<std::uint8_t>(h.major), str.size());
        out.insert(out.end(), str.begin(), str.end());
        return pos;
    }
    case 4:
    case 5: {
        bytes items;
        std::uint64_t count = 0;
        const int per = h.major == 5 ? 2 : 1;
        for (; h.info == 31 ? p[pos] != 0xff : count < h.arg; count++) {
            for (int i = 0; i < per; i++) {
                pos = key_bytes(p, n, pos, items);
            }
        }
        cbor::head(out, static_cast<std::uint8_t>(h.major), count);
        out.insert(out.end(), items.begin(), items.end());
        return h.info == 31 ? pos + 1 : pos;
    }
    case 6:
        if (h.arg == tag::tuple) {
            return key_bytes(p, n, pos, out);
        }
        if (h.arg == 2 || h.arg == 3) {
            pos = skip_self_described(p, n, pos);
            const raw_head c = read_raw(p, pos);
            std::vector<std::uint8_t> mag;
            pos = raw_string(p, pos, c, mag);
            key_bignum(out, h.arg == 3, mag.data(), mag.size());
            return pos;
        }
        cbor::head(out, 6, h.arg);
        return key_bytes(p, n, pos, out);
    default: // 7: checked, so false, true, null, undefined or a float
        if (h.info == 20 || h.info == 21) {
            out.push_back(h.info == 20 ? 0xf4 : 0xf5);
        } else if (h.info == 22 || h.info == 23) {
            out.push_back(0xf6); // undefined reads as null
        } else if (h.info == 25) {
            const unsigned e = (h.arg >> 10) & 0x1f, m = h.arg & 0x3ff;
            const double d = e == 0 ? std::ldexp(m, -24) : e != 31 ? std::ldexp(m + 1024, static_cast<int>(e) - 25)
                                                         : m == 0 ? INFINITY
                                                                  : NAN;
            key_double(out, (h.arg & 0x8000) ? -d : d);
        } else if (h.info == 26) {
            const auto b32 = static_cast<std::uint32_t>(h.arg);
            float f = 0;
            std::memcpy(&f, &b32, sizeof f);
            key_double(out, static_cast<double>(f));
        } else {
            double d = 0;
            std::memcpy(&d, &h.arg, sizeof d);
            key_double(out, d);
        }
        return pos;
    }
}

/// Throws unless the checked keys starting at p[starts[i]] are all
/// different under mpipc's key equality (sorted key bytes).
inline void check_keys(const std::uint8_t *p, size_t n, const std::vector<size_t> &starts, bool encoding) {
    if (starts.size() < 2) {
        return;
    }
    std::vector<bytes> keys(starts.size());
    for (size_t i = 0; i < starts.size(); i++) {
        key_bytes(p, n, starts[i], keys[i]);
    }
    std::sort(keys.begin(), keys.end());
    if (std::adjacent_find(keys.begin(), keys.end()) != keys.end()) {
        const std::string why = "a map holds two equal keys (TYPES.md rule 5: 1 and 1.0 are one key)";
        throw encoding ? error(MP_E_INVAL, why) : invalid(why);
    }
}

/// Whether the head of the content of tag t at p[pos] (looking through
/// tag 55799) is what TYPES.md fixes: tag 0 a text, tag 1 an integer or a
/// float, tags 2 and 3 a byte string, mpipc's TUPLE and REF an array (on
/// the wire, as Rust, C, Go and Python check it: an inner TUPLE decodes to
/// an array here too, but TUPLE(TUPLE([])) is refused everywhere). Other
/// tags: true.
inline bool tag_content_ok(std::uint64_t t, const std::uint8_t *p, size_t n, size_t pos) {
    pos = skip_self_described(p, n, pos);
    if ((t > 3 && t != tag::tuple && t != tag::ref) || pos >= n) {
        return true; // the content's own read says "truncated"
    }
    const int major = p[pos] >> 5, info = p[pos] & 0x1f;
    switch (t) {
    case 0:
        return major == 3;
    case 1:
        return major <= 1 || (major == 7 && info >= 25 && info <= 27);
    case 2:
    case 3:
        return major == 2;
    default: // TUPLE, REF
        return major == 4;
    }
}

// ---------------------------------------------------------------- encoder

template <class J> void encode(bytes &out, const J &j, int depth);

/// A byte string, tagged with `subtype` when it has one; bignums (2/3)
/// canonical: the plain integer when the magnitude fits 64 bits.
template <class J> void encode_binary(bytes &out, const typename J::binary_t &b) {
    if (b.has_subtype()) {
        const std::uint64_t t = b.subtype();
        if (t == tag::pickle) {
            throw pickle_refused();
        }
        if (t == tag::tuple || t == tag::ref) {
            throw error(MP_E_INVAL, "a TUPLE or REF tag must hold an array, not bytes");
        }
        if (t == 2 || t == 3) {
            std::vector<std::uint8_t> mag = strip(b.data(), b.size());
            if (mag.size() <= 8) {
                std::uint64_t n = 0;
                for (std::uint8_t x : mag) {
                    n = (n << 8) | x;
                }
                cbor::head(out, t == 2 ? 0 : 1, n);
                return;
            }
            cbor::head(out, 6, t);
            cbor::head(out, 2, mag.size());
            out.insert(out.end(), mag.begin(), mag.end());
            return;
        }
        cbor::head(out, 6, t);
    }
    cbor::head(out, 2, b.size());
    out.insert(out.end(), b.begin(), b.end());
}

/// The extended forms: {"$tag": n, "$value": v} and {"$map": [[k, v], ...]}.
/// True when `j` was one (and has been written).
template <class J> bool encode_extended(bytes &out, const J &j, int depth) {
    if (j.size() == 2 && j.contains("$tag") && j.contains("$value")) {
        const J &t = j["$tag"];
        // A tag number is a non-negative integer; anything else makes the
        // object a plain map.
        if (!t.is_number_unsigned() && !(t.is_number_integer() && t.template get<std::int64_t>() >= 0)) {
            return false;
        }
        const auto n = t.template get<std::uint64_t>();
        const J &v = j["$value"];
        if (n == tag::pickle) {
            throw pickle_refused();
        }
        if (n == tag::tuple && !v.is_array()) {
            throw error(MP_E_INVAL, "a TUPLE ($tag 1836086389) must hold an array");
        }
        if (n == tag::ref) {
            if (!v.is_array() || v.size() != 3 || !v[0].is_string() || !v[1].is_string() || !v[2].is_string()) {
                throw error(MP_E_INVAL, "a REF ($tag 1836085862) must hold [kind, name, address], three texts");
            }
        }
        if ((n == 2 || n == 3) && v.is_binary() && !v.get_binary().has_subtype()) {
            typename J::binary_t b = v.get_binary();
            b.set_subtype(n);
            encode_binary<J>(out, b);
            return true;
        }
        // Tags 0-3 around what every decoder refuses (TYPES.md "Times").
        if (n == 0 && !v.is_string()) {
            throw error(MP_E_INVAL, "tag 0 (a date-time) must hold a string");
        }
        // A binary of subtype 2/3 that fits 64 bits is written as the plain
        // integer (-2^64 .. -2^63-1 are held so): a number too.
        if (n == 1 && !v.is_number() &&
            !(v.is_binary() && v.get_binary().has_subtype() &&
              (v.get_binary().subtype() == 2 || v.get_binary().subtype() == 3) &&
              strip(v.get_binary().data(), v.get_binary().size()).size() <= 8)) {
            throw error(MP_E_INVAL, "tag 1 (epoch seconds) must hold a number of at most 64 bits");
        }
        if (n == 2 || n == 3) {
            throw error(MP_E_INVAL, "a bignum (tag 2 or 3) must hold bytes");
        }
        if (n == 55799) { // self-described CBOR: never written (TYPES.md rule 8)
            encode(out, v, depth);
            return true;
        }
        cbor::head(out, 6, n);
        encode(out, v, depth + 1);
        return true;
    }
    if (j.size() == 1 && j.contains("$map")) {
        const J &pairs = j["$map"];
        if (!pairs.is_array()) {
            return false;
        }
        for (const J &p : pairs) {
            if (!p.is_array() || p.size() != 2) {
                return false;
            }
        }
        cbor::head(out, 5, pairs.size());
        std::vector<size_t> keys;
        for (const J &p : pairs) {
            keys.push_back(out.size());
            encode(out, p[0], depth + 1);
            encode(out, p[1], depth + 1);
        }
        // Two equal keys (1 and 1.0): what every decoder refuses.
        check_keys(out.data(), out.size(), keys, true);
        return true;
    }
    return false;
}

template <class J> void encode(bytes &out, const J &j, int depth) {
    if (depth > max_depth) {
        throw error(MP_E_INVAL, "nesting deeper than 128");
    }
    switch (j.type()) {
    case nlohmann::json::value_t::null:
        out.push_back(0xf6);
        return;
    case nlohmann::json::value_t::boolean:
        out.push_back(j.template get<bool>() ? 0xf5 : 0xf4);
        return;
    case nlohmann::json::value_t::number_integer: {
        const auto v = j.template get<std::int64_t>();
        if (v >= 0) {
            cbor::head(out, 0, static_cast<std::uint64_t>(v));
        } else {
            cbor::head(out, 1, ~static_cast<std::uint64_t>(v)); // -1 - v
        }
        return;
    }
    case nlohmann::json::value_t::number_unsigned:
        cbor::head(out, 0, j.template get<std::uint64_t>());
        return;
    case nlohmann::json::value_t::number_float: {
        // Always 64-bit (TYPES.md rule 2), NaN's bits as they are.
        const double d = j.template get<double>();
        std::uint64_t bits = 0;
        static_assert(sizeof bits == sizeof d, "64-bit double");
        std::memcpy(&bits, &d, sizeof bits);
        out.push_back(0xfb);
        for (int i = 7; i >= 0; i--) {
            out.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
        }
        return;
    }
    case nlohmann::json::value_t::string: {
        const auto &s = j.template get_ref<const typename J::string_t &>();
        if (!valid_utf8(reinterpret_cast<const std::uint8_t *>(s.data()), s.size())) {
            throw error(MP_E_INVAL, "a json string is not valid UTF-8");
        }
        cbor::head(out, 3, s.size());
        out.insert(out.end(), s.begin(), s.end());
        return;
    }
    case nlohmann::json::value_t::binary:
        encode_binary<J>(out, j.get_binary());
        return;
    case nlohmann::json::value_t::array:
        cbor::head(out, 4, j.size());
        for (const J &x : j) {
            encode(out, x, depth + 1);
        }
        return;
    case nlohmann::json::value_t::object: {
        if (encode_extended(out, j, depth)) {
            return;
        }
        cbor::head(out, 5, j.size());
        for (auto it = j.begin(); it != j.end(); ++it) {
            const auto &k = it.key();
            if (!valid_utf8(reinterpret_cast<const std::uint8_t *>(k.data()), k.size())) {
                throw error(MP_E_INVAL, "a json key is not valid UTF-8");
            }
            cbor::head(out, 3, k.size());
            out.insert(out.end(), k.begin(), k.end());
            encode(out, it.value(), depth + 1);
        }
        return;
    }
    case nlohmann::json::value_t::discarded:
    default:
        throw error(MP_E_INVAL, "a discarded json value cannot be sent");
    }
}

// ---------------------------------------------------------------- decoder

/// A recursive-descent reader over one message.
template <class J> class reader {
  public:
    reader(const std::uint8_t *p, size_t n) : p_(p), n_(n) {}

    J whole() {
        J v = item(0);
        if (pos_ != n_) {
            throw invalid("trailing bytes after the item");
        }
        return v;
    }

  private:
    const std::uint8_t *p_;
    size_t n_;
    size_t pos_ = 0;

    std::uint8_t byte() {
        if (pos_ >= n_) {
            throw invalid("truncated item");
        }
        return p_[pos_++];
    }

    /// The argument of a head with additional information `info`; sets
    /// `indefinite` for 31 (the caller checks it is allowed).
    std::uint64_t argument(int info, bool &indefinite) {
        indefinite = false;
        if (info < 24) {
            return static_cast<std::uint64_t>(info);
        }
        if (info <= 27) {
            const size_t len = size_t{1} << (info - 24);
            if (n_ - pos_ < len) {
                throw invalid("truncated head");
            }
            std::uint64_t v = 0;
            for (size_t i = 0; i < len; i++) {
                v = (v << 8) | p_[pos_++];
            }
            return v;
        }
        if (info == 31) {
            indefinite = true;
            return 0;
        }
        throw invalid("reserved additional information");
    }

    /// A definite or indefinite byte/text string's content.
    std::vector<std::uint8_t> string_content(int major, int info) {
        bool indef = false;
        const std::uint64_t len = argument(info, indef);
        if (!indef) {
            if (len > n_ - pos_) {
                throw invalid("length beyond the message");
            }
            std::vector<std::uint8_t> out(p_ + pos_, p_ + pos_ + static_cast<size_t>(len));
            pos_ += static_cast<size_t>(len);
            return out;
        }
        std::vector<std::uint8_t> out;
        for (;;) {
            const std::uint8_t ib = byte();
            if (ib == 0xff) {
                return out;
            }
            if ((ib >> 5) != major || (ib & 0x1f) == 31) {
                throw invalid("an indefinite string's chunk is not a definite string of its type");
            }
            std::vector<std::uint8_t> chunk = string_content(major, ib & 0x1f);
            out.insert(out.end(), chunk.begin(), chunk.end());
        }
    }

    /// Whether the next item is an indefinite container's break.
    bool at_break() {
        if (pos_ >= n_) {
            throw invalid("missing break");
        }
        if (p_[pos_] == 0xff) {
            pos_++;
            return true;
        }
        return false;
    }

    J item(int depth) {
        if (depth > max_depth) {
            throw invalid("nesting deeper than 128");
        }
        pos_ = skip_self_described(p_, n_, pos_); // dropped: its content in its place, at its depth
        const std::uint8_t ib = byte();
        const int major = ib >> 5;
        const int info = ib & 0x1f;
        bool indef = false;
        switch (major) {
        case 0: {
            const std::uint64_t v = argument(info, indef);
            if (indef) {
                throw invalid("indefinite integer");
            }
            return J(v);
        }
        case 1: {
            const std::uint64_t v = argument(info, indef);
            if (indef) {
                throw invalid("indefinite integer");
            }
            if (v <= static_cast<std::uint64_t>(INT64_MAX)) {
                return J(-1 - static_cast<std::int64_t>(v));
            }
            // Below -2^63: no nlohmann integer holds it; a negative bignum.
            std::vector<std::uint8_t> mag;
            for (int i = 7; i >= 0; i--) {
                mag.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
            }
            return J::binary(strip(mag.data(), mag.size()), 3);
        }
        case 2:
            return J::binary(string_content(2, info));
        case 3: {
            std::vector<std::uint8_t> s = string_content(3, info);
            if (!valid_utf8(s.data(), s.size())) {
                throw invalid("text is not valid UTF-8");
            }
            return J(typename J::string_t(s.begin(), s.end()));
        }
        case 4: {
            const std::uint64_t len = argument(info, indef);
            J arr = J::array();
            if (indef) {
                while (!at_break()) {
                    arr.push_back(item(depth + 1));
                }
                return arr;
            }
            if (len > n_ - pos_) {
                throw invalid("length beyond the message");
            }
            for (std::uint64_t i = 0; i < len; i++) {
                arr.push_back(item(depth + 1));
            }
            return arr;
        }
        case 5: {
            const std::uint64_t len = argument(info, indef);
            if (!indef && len > n_ - pos_) {
                throw invalid("length beyond the message");
            }
            std::vector<std::pair<J, J>> pairs;
            std::vector<size_t> keys;
            bool text_keys = true;
            for (std::uint64_t i = 0; indef ? !at_break() : i < len; i++) {
                keys.push_back(pos_);
                J k = item(depth + 1);
                J v = item(depth + 1);
                text_keys = text_keys && k.is_string();
                pairs.emplace_back(std::move(k), std::move(v));
            }
            // A text-keyed map whose keys spell an extended form
            // ({"$map"}, {"$tag", "$value"}) is written in the $map form,
            // as the JSON bridge does: as an object it would read back as
            // that form, not as the map it is.
            const auto is_key = [&pairs](size_t i, const char *name) { return pairs[i].first == name; };
            const bool spells_extended =
                text_keys && ((pairs.size() == 1 && is_key(0, "$map")) ||
                              (pairs.size() == 2 && ((is_key(0, "$tag") && is_key(1, "$value")) ||
                                                     (is_key(0, "$value") && is_key(1, "$tag")))));
            if (text_keys && !spells_extended) {
                J obj = J::object();
                for (auto &kv : pairs) {
                    obj[kv.first.template get<typename J::string_t>()] = std::move(kv.second);
                }
                if (obj.size() != pairs.size()) { // a repeated text key merged
                    throw invalid("a map holds two equal keys (TYPES.md rule 5)");
                }
                return obj;
            }
            check_keys(p_, n_, keys, false);
            J arr = J::array();
            for (auto &kv : pairs) {
                arr.push_back(J::array({std::move(kv.first), std::move(kv.second)}));
            }
            J obj = J::object();
            obj["$map"] = std::move(arr);
            return obj;
        }
        case 6: {
            const std::uint64_t t = argument(info, indef);
            if (indef) {
                throw invalid("indefinite tag");
            }
            if (!tag_content_ok(t, p_, n_, pos_)) {
                throw invalid(t == 0            ? "tag 0 (a date-time) must hold a text string"
                              : t == 1          ? "tag 1 (epoch seconds) must hold an integer or a float"
                              : t == tag::tuple ? "TUPLE content must be an array"
                              : t == tag::ref   ? "REF content must be [kind, name, address], three text strings"
                                                : "tags 2 and 3 (bignums) must hold a byte string");
            }
            const size_t at = skip_self_described(p_, n_, pos_);
            const bool content_is_bytes = at < n_ && (p_[at] >> 5) == 2;
            J v = item(depth + 1);
            if (t == tag::pickle) {
                if (!content_is_bytes) {
                    throw invalid("PICKLE content must be a byte string");
                }
                throw pickle_refused();
            }
            if (t == tag::tuple) {
                if (!v.is_array()) {
                    throw invalid("TUPLE content must be an array");
                }
                return v;
            }
            if (t == tag::ref &&
                (!v.is_array() || v.size() != 3 || !v[0].is_string() || !v[1].is_string() || !v[2].is_string())) {
                throw invalid("REF content must be [kind, name, address], three text strings");
            }
            if (t == 2 || t == 3) {
                if (!content_is_bytes) {
                    throw invalid("a bignum's content must be a byte string");
                }
                const auto &b = v.get_binary();
                std::vector<std::uint8_t> mag = strip(b.data(), b.size());
                if (mag.size() <= 8) {
                    std::uint64_t n = 0;
                    for (std::uint8_t x : mag) {
                        n = (n << 8) | x;
                    }
                    if (t == 2) {
                        return J(n);
                    }
                    if (n <= static_cast<std::uint64_t>(INT64_MAX)) {
                        return J(-1 - static_cast<std::int64_t>(n));
                    }
                }
                return J::binary(std::move(mag), t);
            }
            if (content_is_bytes) {
                // nlohmann's convention for a tagged byte string.
                auto &b = v.get_binary();
                b.set_subtype(t);
                return v;
            }
            J obj = J::object();
            obj["$tag"] = t;
            obj["$value"] = std::move(v);
            return obj;
        }
        default: // 7
            switch (info) {
            case 20:
                return J(false);
            case 21:
                return J(true);
            case 22:
            case 23: // undefined reads as null (TYPES.md rule 6)
                return J(nullptr);
            case 25: {
                if (n_ - pos_ < 2) {
                    throw invalid("truncated float");
                }
                const unsigned h = (unsigned{p_[pos_]} << 8) | p_[pos_ + 1];
                pos_ += 2;
                const unsigned e = (h >> 10) & 0x1f, m = h & 0x3ff;
                double d = e == 0 ? std::ldexp(m, -24) : e != 31 ? std::ldexp(m + 1024, static_cast<int>(e) - 25)
                                                       : m == 0 ? INFINITY
                                                                : NAN;
                return J(h & 0x8000 ? -d : d);
            }
            case 26: {
                if (n_ - pos_ < 4) {
                    throw invalid("truncated float");
                }
                std::uint32_t bits = 0;
                for (int i = 0; i < 4; i++) {
                    bits = (bits << 8) | p_[pos_++];
                }
                float f = 0;
                std::memcpy(&f, &bits, sizeof f);
                return J(static_cast<double>(f));
            }
            case 27: {
                if (n_ - pos_ < 8) {
                    throw invalid("truncated float");
                }
                std::uint64_t bits = 0;
                for (int i = 0; i < 8; i++) {
                    bits = (bits << 8) | p_[pos_++];
                }
                double d = 0;
                std::memcpy(&d, &bits, sizeof d);
                return J(d);
            }
            default:
                throw invalid(info == 31 ? "stray break" : "simple value other than false, true, null, undefined");
            }
        }
    }
};

/// Whether J is a nlohmann::basic_json specialisation (nlohmann's own
/// trait, in its detail namespace since 3.0).
template <class J> using if_json = std::enable_if_t<nlohmann::detail::is_basic_json<J>::value, int>;

} // namespace json_detail

/// The CBOR of `j` (docs/TYPES.md; see this header's comment for the
/// mapping). Throws MP_E_INVAL / MP_E_TYPE for what cannot be written.
template <class J, json_detail::if_json<J> = 0> bytes to_cbor(const J &j) {
    bytes out;
    json_detail::encode(out, j, 0);
    return out;
}

/// The value of one CBOR item (the whole of data[0..len)). J is
/// nlohmann::json (keys sorted) or nlohmann::ordered_json (keys in the
/// written order). Throws MP_E_INVAL / MP_E_TYPE.
template <class J = nlohmann::json> J from_cbor(const std::uint8_t *data, size_t len) {
    return json_detail::reader<J>(data, len).whole();
}

/// The value of one CBOR item (see above).
template <class J = nlohmann::json> J from_cbor(const bytes &b) { return from_cbor<J>(b.data(), b.size()); }

/// The codec of the manager proxies for nlohmann values (mgr::BasicDict ...).
template <class J> struct json_codec {
    /// The value type.
    using value_type = J;
    /// TYPES.md's CBOR of `v`.
    static bytes encode(const J &v) { return to_cbor(v); }
    /// The value of `b`.
    static J decode(const bytes &b) { return from_cbor<J>(b); }
};

namespace mgr {
/// A manager dict of nlohmann::json keys and values.
using JsonDict = BasicDict<json_codec<nlohmann::json>>;
/// A manager list of nlohmann::json elements.
using JsonList = BasicList<json_codec<nlohmann::json>>;
/// A manager value holding a nlohmann::json.
using JsonValue = BasicValue<json_codec<nlohmann::json>>;
/// The same with nlohmann::ordered_json (maps keep their order).
using OrderedJsonDict = BasicDict<json_codec<nlohmann::ordered_json>>;
/// The same with nlohmann::ordered_json.
using OrderedJsonList = BasicList<json_codec<nlohmann::ordered_json>>;
/// The same with nlohmann::ordered_json.
using OrderedJsonValue = BasicValue<json_codec<nlohmann::ordered_json>>;
} // namespace mgr

/// Puts `j` on `q` as one CBOR message, waiting at most `timeout` for
/// room (MP_E_FULL when it runs out).
inline void put_json(Queue &q, const nlohmann::json &j, milliseconds timeout = forever) {
    q.put(to_cbor(j), timeout);
}
/// Puts `j` (any nlohmann::basic_json, e.g. ordered_json) on `q`.
template <class J, json_detail::if_json<J> = 0> void put_json(Queue &q, const J &j, milliseconds timeout = forever) {
    q.put(to_cbor(j), timeout);
}
/// Takes one message from `q` and decodes it, waiting at most `timeout`
/// (MP_E_EMPTY when it runs out).
template <class J = nlohmann::json> J get_json(Queue &q, milliseconds timeout = forever) {
    return from_cbor<J>(q.get(timeout));
}
/// As get_json, but std::nullopt when the time runs out.
template <class J = nlohmann::json> std::optional<J> try_get_json(Queue &q, milliseconds timeout = milliseconds{0}) {
    std::optional<bytes> b = q.try_get(timeout);
    if (!b) {
        return std::nullopt;
    }
    return from_cbor<J>(*b);
}
/// Sends `j` as one CBOR message.
inline void send_json(Connection &c, const nlohmann::json &j) { c.send(to_cbor(j)); }
/// Sends `j` (any nlohmann::basic_json) as one CBOR message.
template <class J, json_detail::if_json<J> = 0> void send_json(Connection &c, const J &j) { c.send(to_cbor(j)); }
/// Receives one message and decodes it, waiting at most `timeout`
/// (MP_E_EMPTY when nothing arrived, MP_E_EOF when the peer closed).
template <class J = nlohmann::json> J recv_json(Connection &c, milliseconds timeout = forever) {
    return from_cbor<J>(c.recv(timeout));
}

} // namespace mpipc

#endif // MPIPC_JSON_HPP
