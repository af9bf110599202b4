package mpipc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// The CBOR contract (docs/TYPES.md; vectors in tests/vectors/cbor.json,
// checked by cbor_test.go), as this package applies it:
//
//	CBOR                          Go, encoding             Go, decoding into any
//	null (undefined 0xf7 too)     nil                      nil
//	bool                          bool                     bool
//	int (major 0/1, <= 64 bits)   all int and uint types   int64 if it fits, else uint64 (*big.Int below -2^63)
//	bignum (tags 2/3)             *big.Int / big.Int       *big.Int beyond 64 bits, else int64/uint64 as above
//	float                         float32 and float64,     float64 (half, single and double accepted)
//	                              ALWAYS as float64 (0xfb)
//	text                          string (valid UTF-8)     string
//	bytes                         []byte                   []byte (cbor.ByteString as a map key)
//	array                         slices, arrays           []any
//	map                           maps (keys sorted by     map[any]any (an array key becomes an ArrayKey,
//	                              their bytes), structs    a map key a MapKey, a tag around either a
//	                              (field order),           TagKey); decode into *OrderedMap to keep
//	                              OrderedMap (in order)    the order
//	tag 1 (epoch seconds)         time.Time (int if whole, time.Time to the nearest ns (tag 0, RFC 3339
//	                              else the nearest         text, too); cbor.Tag if Go's time cannot hold it
//	                              float64)
//	mpipc TUPLE tag 0x6d707475    (never written)          []any (the tag dropped; a Python tuple)
//	mpipc REF tag 0x6d707266      ManagerRef               ManagerRef (a manager object; open it with Manager)
//	mpipc PICKLE tag 0x6d70706b   (never written)          refused: a decode error (a Python pickle)
//	tag 55799 (self-described)    (never written)          dropped: its content in its place
//	other tags                    cbor.Tag                 cbor.Tag (writes back to the same bytes)
//
// Refused on decode (cbor_check.go's checkWire, before fxamacker): simple
// values other than false, true, null and undefined; reserved heads;
// invalid UTF-8; trailing bytes; an item deeper than 128 (the top item at
// depth 0; D3); tags 0-3 around the wrong content (D2); a map with two
// equal keys (D4); lengths beyond the data. Only definite lengths are
// encoded; the encoder (cbor_enc.go) refuses what the decoder refuses.
//
// Decoding into a typed value (a struct, map[string]T, []T, ...) follows
// fxamacker/cbor's rules: struct fields match map keys by their `cbor`
// tag or name (case-insensitively if no exact match), integers must fit the
// field, and so on. The int64/uint64 and ArrayKey rules above apply to
// values decoded into `any` at the top level (Unmarshal into *any, every
// Get/Recv that returns `any`, OrderedMap's keys and values); an `any`
// nested inside a caller's struct gets fxamacker/cbor's defaults for those
// two cases (*big.Int above 2^63-1, and an error for an array map key),
// and for mpipc's tags (a cbor.Tag for a tuple and for a reference: use a
// slice and a ManagerRef field instead; a pickle is refused everywhere).
// Go maps have no order: encoding a Go map writes its entries sorted by
// their encoded keys (D5); use a struct or an OrderedMap where the order
// matters. A map inside a struct is written by fxamacker/cbor in Go's
// iteration order (its sort option would sort struct fields too).

var (
	encMode       cbor.UserBufferEncMode
	structEncMode cbor.UserBufferEncMode // for structs and cbor.Marshalers (cbor_enc.go)
	decMode       cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.EncOptions{
		Sort:          cbor.SortNone,          // structs in field order (fxamacker's sort would sort fields too); encodeValue sorts Go maps itself
		ShortestFloat: cbor.ShortestFloatNone, // never shorten a float64 to float16/32 (every language reads the same value)
		NaNConvert:    cbor.NaNConvertNone,    // a float64 NaN stays a float64 NaN (0xfb)
		InfConvert:    cbor.InfConvertNone,    // infinities stay float64 too
		BigIntConvert: cbor.BigIntConvertShortest,
		Time:          cbor.TimeUnixDynamic, // epoch seconds, an int if whole, else a float64
		TimeTag:       cbor.EncTagRequired,  // ... in tag 1
		IndefLength:   cbor.IndefLengthForbidden,
		NilContainers: cbor.NilContainerAsNull,
		String:        cbor.StringToTextString,
	}.UserBufferEncMode()
	if err != nil {
		panic("mpipc: CBOR encoding options: " + err.Error())
	}
	// Structs: times as RFC 3339 text with every nanosecond (tag 0), which
	// viaFxamacker turns into tag 1, exactly rounded (D2).
	opts := encMode.EncOptions()
	opts.Time = cbor.TimeRFC3339Nano
	if structEncMode, err = opts.UserBufferEncMode(); err != nil {
		panic("mpipc: CBOR encoding options: " + err.Error())
	}
	// Only false, true, null and undefined (read as null) are accepted
	// among the simple values (24..31 are malformed anyway).
	var reject []func(*cbor.SimpleValueRegistry) error
	for sv := 0; sv < 256; sv++ {
		if sv < 20 || sv > 31 {
			reject = append(reject, cbor.WithRejectedSimpleValue(cbor.SimpleValue(sv)))
		}
	}
	simpleValues, err := cbor.NewSimpleValueRegistryFromDefaults(reject...)
	if err != nil {
		panic("mpipc: CBOR simple values: " + err.Error())
	}
	decMode, err = cbor.DecOptions{
		IntDec:               cbor.IntDecConvertSignedOrBigInt, // int64 if it fits; above: *big.Int, turned into uint64 by fixInts
		BigIntDec:            cbor.BigIntDecodePointer,         // bignums as *big.Int
		MapKeyByteString:     cbor.MapKeyByteStringAllowed,     // a bytes key becomes cbor.ByteString (Go cannot key a map by []byte)
		UnrecognizedTagToAny: cbor.UnrecognizedTagNumAndContentToAny,
		TimeTagToAny:         cbor.TimeTagToTime, // typed targets; into any, tags 0 and 1 are decided by timeFromTag
		SimpleValues:         simpleValues,
		UTF8:                 cbor.UTF8RejectInvalid,
		DupMapKey:            cbor.DupMapKeyQuiet,     // checkWire refused equal keys already (D4)
		IndefLength:          cbor.IndefLengthAllowed, // other encoders may stream
		// DefaultMapType stays nil: maps decode into map[any]any by the
		// decoder's direct path; naming map[any]any here would route
		// every map through reflection (slower, same result).
		MaxNestedLevels:  65535,      // checkWire applies docs/TYPES.md's 128 first, exactly (D3)
		MaxArrayElements: 2147483647, // the message size is the limit, as in the core
		MaxMapPairs:      2147483647,
	}.DecMode()
	if err != nil {
		panic("mpipc: CBOR decoding options: " + err.Error())
	}
}

// EncMode is the CBOR encoding mode the package gives fxamacker/cbor (for
// callers that want its options, e.g. into their own buffers). Marshal
// does more (cbor_enc.go): float32 widened to float64, map keys sorted,
// times exactly rounded, invalid UTF-8, colliding keys and values deeper
// than 128 (cycles) refused.
func EncMode() cbor.EncMode { return encMode }

// DecMode is the package's CBOR decoding mode. Unmarshal adds the two
// rules the options cannot express (see the table at the top of cbor.go).
func DecMode() cbor.DecMode { return decMode }

// Marshal encodes v as the contract asks (floats always 64-bit).
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := marshalTo(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// marshalTo appends the encoding of v to buf.
func marshalTo(buf *bytes.Buffer, v any) error {
	start := buf.Len()
	if isStruct(reflect.TypeOf(v)) { // straight into buf (cbor_enc.go)
		if err := structTo(buf, v, 0); err != nil {
			buf.Truncate(start)
			return fmt.Errorf("mpipc: encode: %w", err)
		}
		return nil
	}
	out, err := encodeValue(buf.AvailableBuffer(), v) // cbor_enc.go
	if err != nil {
		buf.Truncate(start)
		return fmt.Errorf("mpipc: encode: %w", err)
	}
	buf.Write(out) // no copy when out is still buf's own spare capacity
	return nil
}

// Unmarshal decodes data into v (a pointer). Into *any it applies the
// whole contract (int64/uint64, ArrayKey); into a typed value,
// fxamacker/cbor's typed rules. Both read a Python tuple (mpipc's TUPLE
// tag) as an array and refuse a Python pickle (docs/TYPES.md); an `any`
// inside a typed value gets fxamacker's cbor.Tag for a tuple, as for the
// other cases the paragraph at the top of this file lists.
func Unmarshal(data []byte, v any) error {
	if p, ok := v.(*any); ok {
		x, err := decodeAny(data)
		if err != nil {
			return err
		}
		*p = x
		return nil
	}
	return unmarshalTyped(data, v)
}

// unmarshalTyped is Unmarshal into a typed value: fxamacker/cbor, after
// mpipc's tags are checked. The bytes go to fxamacker as they are:
// decoding into a typed value, it skips a tag it does not know (a tuple
// fills a slice or an array), and a cbor.RawMessage keeps the sender's
// bytes; but it would also take a pickle's bytes for a []byte, hence the
// check.
func unmarshalTyped(data []byte, v any) error {
	// D2-D4 and mpipc's tags (cbor_check.go). quickCheck passes only data
	// without tags, so the common message pays nothing for 55799 either.
	if !quickCheck(data) {
		if err := checkWireKeys(data, 0, true); err != nil {
			return decodeError(err)
		}
		if mayHoldSelfDescribed(data) { // see there; the rest of the bytes as they are
			out, _, err := rewrite(make([]byte, 0, len(data)), data, 0, 0, 0)
			if err != nil {
				return decodeError(err)
			}
			data = out
		}
	}
	if err := decMode.Unmarshal(data, v); err != nil {
		return decodeError(err)
	}
	return nil
}

// mayHoldSelfDescribed reports whether data may hold tag 55799, whose
// head ends in d9 f7 however it is written: such data is rewritten without
// it (rewrite drops it) before fxamacker/cbor decodes it, which counts each
// 55799 as a level and refuses a run longer than its nesting limit, where
// Rust, Node and Python read the content (D1: 55799 is no level).
func mayHoldSelfDescribed(data []byte) bool {
	return bytes.Index(data, selfDescribedTail) >= 0
}

// selfDescribedTail is how the head of tag 55799 (0xd9f7) ends.
var selfDescribedTail = []byte{0xd9, 0xf7}

// mpipc's own tags (docs/TYPES.md "mpipc's own tags"): 4-byte numbers
// from IANA's first-come-first-served range, spelled as ASCII like
// arrayKeyTag below. Not registered with IANA.
const (
	tupleTag  = 0x6d707475 // "mptu": a Python tuple, around its array
	pickleTag = 0x6d70706b // "mppk": a Python pickle, around its bytes
	refTag    = 0x6d707266 // "mprf": a manager object, [kind, name, address]
)

// mpipcTagHead is how the head of every 4-byte "mp.." tag starts (0xda
// and the first two letters): data without it holds none of mpipc's tags
// (arrayKeyTag never leaves this package).
var mpipcTagHead = []byte{0xda, 0x6d, 0x70}

var (
	errPickle = errors.New(`a Python pickle (CBOR tag 0x6d70706b "mppk"): only Python with serializer="pickle" reads it`)
	errTuple  = errors.New(`mpipc's TUPLE tag (0x6d707475) must hold an array`)
	errRef    = errors.New(`mpipc's REF tag (0x6d707266) must hold [kind, name, address], three text strings`)
)

// tag0Priv and tag1Priv stand for tags 0 and 1 while fxamacker/cbor
// decodes into any (private; never leave this package): fxamacker would
// truncate a float time, and make a zero time of a NaN; fixValue decides
// instead (timeFromTag).
const (
	tag0Priv = 0x6d707430 // "mpt0"
	tag1Priv = tag0Priv + 1
	// escTag holds a tag of the message whose number is one of these
	// private ones (or arrayKeyTag, or escTag): bytes, the tag number (8
	// bytes) then its content's encoding, which fixValue decodes back into
	// that tag. So a message's own tag is never taken for a private one.
	escTag = 0x6d707865 // "mpxe"
)

// arrayKeyAt is where the array of a map key at p starts, if the key is
// one: after any self-described and TUPLE tags.
func arrayKeyAt(src []byte, p int) int {
	for p < len(src) {
		if q := skipSelfDescribed(src, p); q != p {
			p = q
			continue
		}
		if p+5 <= len(src) && src[p] == 0xda && binary.BigEndian.Uint32(src[p+1:]) == tupleTag {
			p += 5
			continue
		}
		break
	}
	return min(p, len(src)-1)
}

// tagAroundContainer reports whether src[p] starts a tag, other than the
// ones decoding turns into comparable Go values (times, bignums, REF), whose
// content (through any further tags) is an array or a map: a key that
// becomes a TagKey.
func tagAroundContainer(src []byte, p int) bool {
	first := true
	for p < len(src) && src[p]>>5 == 6 {
		n, next, ok := tagHead(src, p)
		if !ok {
			return false
		}
		if first && (n <= 3 || n == refTag || isPrivateTag(n)) {
			return false
		}
		first = false
		p = next
	}
	return !first && p < len(src) && (src[p]>>5 == 4 || src[p]>>5 == 5)
}

// isRefHead reports whether src[p] starts mpipc's REF tag. As a map key a
// REF is rewritten like an array key (fxamacker/cbor cannot key a map by
// the cbor.Tag holding its array), then decoded into a ManagerRef, which
// can key a Go map.
func isRefHead(src []byte, p int) bool {
	return p+5 <= len(src) && src[p] == 0xda && binary.BigEndian.Uint32(src[p+1:]) == refTag
}

// tagHead reads the tag head at src[p]: its number and where its content
// starts; false when the head is cut short or not a tag.
func tagHead(src []byte, p int) (uint64, int, bool) {
	ai := src[p] & 0x1f
	switch {
	case ai < 24:
		return uint64(ai), p + 1, true
	case ai <= 27:
		n := 1 << (ai - 24)
		if p+1+n > len(src) {
			return 0, 0, false
		}
		var v uint64
		for _, b := range src[p+1 : p+1+n] {
			v = v<<8 | uint64(b)
		}
		return v, p + 1 + n, true
	}
	return 0, 0, false
}

// isPrivateTag reports whether n is one of the tag numbers decoding uses
// for itself (escaped by rewriteEscape when a message holds one).
func isPrivateTag(n uint64) bool {
	return n == tag0Priv || n == tag1Priv || n == arrayKeyTag || n == escTag
}

// ManagerRef is a reference to a manager object (mpipc's REF tag,
// docs/TYPES.md): what a Python program's manager proxy becomes when it
// is put in a queue, sent through a pipe or stored in a manager object.
// A value decoded into `any` holds a ManagerRef where the message held a
// reference; a ManagerRef encodes back to the same reference, so a Python
// reader gets its proxy back. Open the object with a Manager connected to
// Address (see Manager.Dict, Manager.List, Manager.Call, or Open*
// methods of ManagerRef in manager_proxies.go):
//
//	ref := v.(mpipc.ManagerRef) // Kind "dict"
//	mgr, err := mpipc.ConnectManager(ref.Address, authkey)
//	d, err := ref.Dict(mgr) // mgr.Dict(ref.Name), once Kind is checked
type ManagerRef struct {
	// Kind is the object's kind as docs/PROTOCOL.md §4 names it: "dict",
	// "list", "namespace", "value", "array", "queue", "lock", ...
	Kind string
	// Name is the object's name on the server.
	Name string
	// Address is the server's address in the C form: "unix:/path" or
	// "tcp:host:port".
	Address string
}

// MarshalCBOR encodes the reference as mpipc's REF tag around
// [Kind, Name, Address].
func (r ManagerRef) MarshalCBOR() ([]byte, error) {
	out := appendHead(make([]byte, 0, 8+len(r.Kind)+len(r.Name)+len(r.Address)+12), 6, refTag)
	out = appendHead(out, 4, 3)
	for _, s := range [3]string{r.Kind, r.Name, r.Address} {
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("mpipc: ManagerRef: %q is not UTF-8 text", s)
		}
		out = appendHead(out, 3, uint64(len(s)))
		out = append(out, s...)
	}
	return out, nil
}

// UnmarshalCBOR decodes a REF tag; anything else is a decode error.
func (r *ManagerRef) UnmarshalCBOR(data []byte) error {
	x, err := decodeAny(data)
	if err != nil {
		return err
	}
	ref, ok := x.(ManagerRef)
	if !ok {
		return decodeError(fmt.Errorf("not a manager reference (mpipc's REF tag): %T", x))
	}
	*r = ref
	return nil
}

// String shows the reference as Python shows a proxy's address and name.
func (r ManagerRef) String() string {
	return fmt.Sprintf("ManagerRef(%s %q at %s)", r.Kind, r.Name, r.Address)
}

func decodeError(err error) error {
	return fmt.Errorf("mpipc: decode: %w", err)
}

// decodeAny decodes one CBOR item into the contract's Go values.
func decodeAny(data []byte) (any, error) {
	if x, ok := decodeAnyFast(data); ok { // the common subset, same values (cbor_fast.go)
		return x, nil
	}
	return decodeAnySlow(data)
}

// decodeAnySlow decodes data with fxamacker/cbor: every value and every
// error of the contract.
func decodeAnySlow(data []byte) (any, error) {
	if err := checkWire(data, 0); err != nil { // D2-D4 and mpipc's tags (cbor_check.go)
		return nil, decodeError(err)
	}
	// TUPLE tags dropped (a Go program sees a Python tuple as the array it
	// holds), tags 0 and 1 made private (see tag0Priv), tag 55799 dropped
	// (mayHoldSelfDescribed); cheap byte filters say when there may be any.
	orig := data
	strip := mayHoldSelfDescribed(data) // 55799 dropped before fxamacker sees it
	var mode rewriteMode
	if bytes.Index(data, mpipcTagHead) >= 0 {
		mode |= rewriteMpipcTags | rewriteEscape
	}
	if bytes.IndexByte(data, 0xc0) >= 0 || bytes.IndexByte(data, 0xc1) >= 0 || bytes.IndexByte(data, 0xd8) >= 0 {
		mode |= rewriteTimeTags
	}
	if mode != 0 || strip {
		out, _, err := rewrite(make([]byte, 0, len(data)+16), data, 0, mode, 0)
		if err != nil {
			return nil, decodeError(err)
		}
		data = out
	}
	var x any
	err := decMode.Unmarshal(data, &x)
	arrayKeys := false
	if err != nil {
		var ke *cbor.InvalidMapKeyTypeError
		if !errors.As(err, &ke) {
			return nil, decodeError(err)
		}
		// A map with an array key (a Python tuple): Go cannot key a map by
		// a slice. Rewrite every array key as tag(arrayKeyTag, bytes(its
		// encoding)), decode again, and turn those keys into ArrayKey (a
		// map key into MapKey, a tag around either into TagKey).
		// From the message as it came (orig), the first rewrite again
		// with the array keys: the bytes of an ArrayKey are the sender's.
		re, _, rerr := rewrite(make([]byte, 0, len(orig)+32), orig, 0, mode|rewriteArrayKeys, 0)
		if rerr != nil {
			return nil, decodeError(err)
		}
		x = nil
		if err := decMode.Unmarshal(re, &x); err != nil {
			return nil, decodeError(err)
		}
		arrayKeys = true
	}
	// Integers above 2^63-1 came back as *big.Int (so did bignums): make
	// the ones that fit 64 bits int64/uint64. Only data holding a 64-bit
	// head (0x1b) or a bignum tag (0xc2/0xc3) can have any.
	// A REF becomes a ManagerRef there too, tags 0 and 1 times.
	if arrayKeys || mode != 0 || bytes.IndexByte(data, 0x1b) >= 0 || bytes.IndexByte(data, 0xc2) >= 0 ||
		bytes.IndexByte(data, 0xc3) >= 0 {
		if x, err = fixValueChecked(x); err != nil {
			return nil, decodeError(err)
		}
	}
	return x, nil
}

// ArrayKey is a map key that was a CBOR array (a tuple in Python): Go
// cannot key a map by a slice, so the key holds the array's CBOR
// encoding, as cbor.ByteString holds a byte-string key. It encodes back to
// the same array, so a map read from another language and put back is
// unchanged. Build one to look a key up with NewArrayKey; read it with
// Elems.
type ArrayKey string

// NewArrayKey makes the key for the array elems (e.g. a Python tuple
// (1, "a") is NewArrayKey(1, "a")).
func NewArrayKey(elems ...any) (ArrayKey, error) {
	if elems == nil {
		elems = []any{}
	}
	b, err := Marshal(elems)
	if err != nil {
		return "", err
	}
	return ArrayKey(b), nil
}

// Elems decodes the key's elements.
func (k ArrayKey) Elems() ([]any, error) {
	var x any
	if err := Unmarshal([]byte(k), &x); err != nil {
		return nil, err
	}
	a, ok := x.([]any)
	if !ok {
		return nil, fmt.Errorf("mpipc: ArrayKey does not hold an array")
	}
	return a, nil
}

// MarshalCBOR encodes the key as the array it stands for.
func (k ArrayKey) MarshalCBOR() ([]byte, error) {
	if len(k) == 0 || k[0]>>5 != 4 {
		return nil, fmt.Errorf("mpipc: ArrayKey does not hold a CBOR array")
	}
	return []byte(k), nil
}

// String shows the key in CBOR diagnostic notation, e.g. [1, "a"].
func (k ArrayKey) String() string {
	s, err := cbor.Diagnose([]byte(k))
	if err != nil {
		return fmt.Sprintf("ArrayKey(%x)", string(k))
	}
	return s
}

// TagKey is a map key that was a tag around an array or a map (other than
// mpipc's TUPLE and REF): Go cannot key a map by a cbor.Tag holding a
// slice or a map, so the key holds the tag's CBOR encoding, as ArrayKey
// holds an array's. It encodes back to the same tag, so such a map passes
// through Go unchanged (docs/TYPES.md, rule 8). A tag around a scalar stays
// a cbor.Tag key.
type TagKey string

// MarshalCBOR encodes the key as the tag it stands for.
func (k TagKey) MarshalCBOR() ([]byte, error) {
	if len(k) == 0 || k[0]>>5 != 6 {
		return nil, fmt.Errorf("mpipc: TagKey does not hold a CBOR tag")
	}
	return []byte(k), nil
}

// String shows the key in CBOR diagnostic notation, e.g. 100([1]).
func (k TagKey) String() string {
	s, err := cbor.Diagnose([]byte(k))
	if err != nil {
		return fmt.Sprintf("TagKey(%x)", string(k))
	}
	return s
}

// MapKey is a map key that was a CBOR map: Go cannot key a map by a map,
// so the key holds the map's CBOR encoding, as ArrayKey holds an array's,
// with its entries in the order they came. It encodes back to the same
// map, so such a map passes through Go unchanged. Two maps with the same
// entries in another order are two keys, as in Rust and Node (mpipc's key
// equality compares a map's entries in order; Python refuses such a pair,
// see docs/TYPES.md D4). Build one to look a key up with NewMapKey; read
// it with Entries.
type MapKey string

// NewMapKey makes the key for the map m: a Go map (its entries sorted by
// their encoded keys, as Marshal writes them), an OrderedMap (in its
// order), or a struct.
func NewMapKey(m any) (MapKey, error) {
	b, err := Marshal(m)
	if err != nil {
		return "", err
	}
	if len(b) == 0 || b[0]>>5 != 5 {
		return "", fmt.Errorf("mpipc: NewMapKey: %T does not encode as a CBOR map", m)
	}
	return MapKey(b), nil
}

// Entries decodes the key's entries, in order.
func (k MapKey) Entries() (OrderedMap, error) {
	var m OrderedMap
	if err := Unmarshal([]byte(k), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// MarshalCBOR encodes the key as the map it stands for.
func (k MapKey) MarshalCBOR() ([]byte, error) {
	if len(k) == 0 || k[0]>>5 != 5 {
		return nil, fmt.Errorf("mpipc: MapKey does not hold a CBOR map")
	}
	return []byte(k), nil
}

// String shows the key in CBOR diagnostic notation, e.g. {1: 2}.
func (k MapKey) String() string {
	s, err := cbor.Diagnose([]byte(k))
	if err != nil {
		return fmt.Sprintf("MapKey(%x)", string(k))
	}
	return s
}

// OrderedMap is a CBOR map as its list of pairs, in order. Go maps have
// no order; decode into an *OrderedMap to see a map's entries in the order
// they were written (keys may then be anything, arrays included, and follow
// the contract's `any` rules), and encode one to write entries in a given
// order. Item.Key and Item.Value are any Go values that Marshal accepts.
type OrderedMap []Item

// Item is one key/value pair of a map (OrderedMap, a manager dict's Items).
type Item struct {
	_     struct{} `cbor:",toarray"`
	Key   any
	Value any
}

// MarshalCBOR writes the pairs as one CBOR map, in order.
func (m OrderedMap) MarshalCBOR() ([]byte, error) {
	var b bytes.Buffer
	b.Write(appendHead(nil, 5, uint64(len(m))))
	for _, it := range m {
		if err := marshalTo(&b, it.Key); err != nil {
			return nil, err
		}
		if err := marshalTo(&b, it.Value); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// UnmarshalCBOR reads a CBOR map into pairs, in order.
func (m *OrderedMap) UnmarshalCBOR(data []byte) error {
	major, ai, n, p, err := head(data, 0)
	if err != nil || major != 5 {
		return fmt.Errorf("mpipc: decode: OrderedMap needs a CBOR map")
	}
	out := OrderedMap{}
	rest := data[p:]
	next := func() (any, error) {
		var raw cbor.RawMessage
		r, err := decMode.UnmarshalFirst(rest, &raw)
		if err != nil {
			return nil, err
		}
		rest = r
		return decodeAny(raw)
	}
	for i := uint64(0); ai == 31 || i < n; i++ {
		if ai == 31 && len(rest) > 0 && rest[0] == 0xff {
			break
		}
		k, err := next()
		if err != nil {
			return err
		}
		v, err := next()
		if err != nil {
			return err
		}
		out = append(out, Item{Key: k, Value: v})
	}
	*m = out
	return nil
}

// fixValue applies the contract's integer rule and turns rewritten array
// keys into ArrayKey, recursively.
func fixValue(x any) any {
	switch v := x.(type) {
	case *big.Int:
		if v.IsInt64() {
			return v.Int64()
		}
		if v.IsUint64() {
			return v.Uint64()
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = fixValue(e)
		}
		return v
	case map[any]any:
		// A new map rather than writes into v: a NaN key is not equal to
		// itself, so v[k] = ... for it would add an entry each time.
		out := make(map[any]any, len(v))
		for k, e := range v {
			nk, _ := fixKey(k)
			if !hashable(nk) {
				panic(fixError{fmt.Errorf("a map key Go cannot hold (a tag around an array or a map): %v", nk)})
			}
			out[nk] = fixValue(e)
		}
		return out
	case cbor.Tag:
		if v.Number == tag0Priv || v.Number == tag1Priv {
			return timeFromTag(v.Number-tag0Priv, fixValue(v.Content))
		}
		if t, ok := unescape(v); ok {
			return t
		}
		if v.Number == refTag {
			// checkWire checked the content: three text strings.
			if a, ok := v.Content.([]any); ok && len(a) == 3 {
				k, _ := a[0].(string)
				n, _ := a[1].(string)
				addr, _ := a[2].(string)
				return ManagerRef{Kind: k, Name: n, Address: addr}
			}
		}
		v.Content = fixValue(v.Content)
		return v
	}
	return x
}

// unescape is the message's own tag that escTag t holds.
func unescape(t cbor.Tag) (cbor.Tag, bool) {
	var b []byte
	switch c := t.Content.(type) {
	case []byte:
		b = c
	case cbor.ByteString:
		b = []byte(c)
	}
	if t.Number != escTag || len(b) < 9 {
		return cbor.Tag{}, false
	}
	content, err := decodeAnySlow(b[8:]) // checked with the message
	if err != nil {
		return cbor.Tag{}, false
	}
	return cbor.Tag{Number: binary.BigEndian.Uint64(b), Content: content}, true
}

// fixError carries a refusal out of fixValue's recursion (a panic that
// fixValueChecked recovers, as encoding/json does for its errors).
type fixError struct{ err error }

// fixValueChecked is fixValue, with its refusal as an error.
func fixValueChecked(x any) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(fixError)
			if !ok {
				panic(r)
			}
			err = fe.err
		}
	}()
	return fixValue(x), nil
}

// hashable reports whether k can key a Go map without a run-time panic.
func hashable(k any) bool {
	switch x := k.(type) {
	case nil:
		return true
	case cbor.Tag:
		return hashable(x.Content)
	case []any, map[any]any, []byte:
		return false
	}
	return reflect.TypeOf(k).Comparable()
}

// minUnix and maxUnix bound the times decoded as time.Time: RFC 3339's
// years, 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z, in every
// binding (docs/TYPES.md, D2), although Go's time holds more: a time
// outside them passes through as the tag in every language, so all give
// back the same bytes (Python's datetime holds no more).
const (
	minUnix = -62135596800
	maxUnix = 253402300799
)

func timeFromTag(n uint64, c any) any {
	switch x := c.(type) {
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil && n == 0 && inRFC3339Years(t) {
			return t
		}
	case int64:
		if n == 1 && x >= minUnix && x <= maxUnix {
			return time.Unix(x, 0)
		}
	case float64:
		if t, ok := floatTime(x); ok && n == 1 {
			return t
		}
	}
	return cbor.Tag{Number: n, Content: c}
}

// inRFC3339Years reports whether t (in UTC) falls in years 1 .. 9999.
func inRFC3339Years(t time.Time) bool {
	s := t.Unix()
	return s >= minUnix && s <= maxUnix
}

// floatTime is the time f seconds after the epoch, to the nearest
// nanosecond (ties to even); false outside RFC 3339's years.
func floatTime(f float64) (time.Time, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > -minUnix+1 {
		return time.Time{}, false
	}
	x := new(big.Float).SetPrec(256).SetFloat64(f)
	x.Mul(x, big.NewFloat(1e9)) // exact: 53 + 30 bits
	ns, _ := x.Int(nil)         // toward zero
	rem := new(big.Float).SetPrec(256).Sub(x, new(big.Float).SetPrec(256).SetInt(ns))
	if c := rem.Abs(rem).Cmp(big.NewFloat(0.5)); c > 0 || c == 0 && ns.Bit(0) == 1 {
		if f > 0 {
			ns.Add(ns, big.NewInt(1))
		} else {
			ns.Sub(ns, big.NewInt(1))
		}
	}
	sec, nsec := new(big.Int).DivMod(ns, big.NewInt(1e9), new(big.Int)) // nsec in [0, 1e9)
	if !sec.IsInt64() || sec.Int64() < minUnix || sec.Int64() > maxUnix {
		return time.Time{}, false
	}
	return time.Unix(sec.Int64(), nsec.Int64()), true
}

func fixKey(k any) (any, bool) {
	switch v := k.(type) {
	case cbor.Tag:
		if v.Number == arrayKeyTag {
			if bs, ok := v.Content.(cbor.ByteString); ok {
				switch {
				case isRefHead([]byte(bs), 0): // a ManagerRef (comparable); checked with the message
					if r, err := decodeAnySlow([]byte(bs)); err == nil {
						return r, true
					}
					return TagKey(bs), true
				case len(bs) > 0 && bs[0]>>5 == 6:
					return TagKey(bs), true
				case len(bs) > 0 && bs[0]>>5 == 5:
					return MapKey(bs), true
				}
				return ArrayKey(bs), true
			}
		}
		if v.Number == tag0Priv || v.Number == tag1Priv {
			return timeFromTag(v.Number-tag0Priv, fixValue(v.Content)), true
		}
		if t, ok := unescape(v); ok {
			return t, true
		}
		if c, changed := fixKey(v.Content); changed { // a private tag or a big integer inside
			v.Content = c
			return v, true
		}
	case *big.Int:
		nk := fixValue(v)
		if _, still := nk.(*big.Int); !still {
			return nk, true
		}
	}
	return k, false
}

// ---- a minimal CBOR rewriter (well-formed input only) ----

// arrayKeyTag marks an array map key rewritten as a byte string during
// decoding (private; never leaves this package).
const arrayKeyTag = 0x6d706b79 // "mpky"

type rewriteMode int

const (
	rewriteFloats    rewriteMode = 1 << iota // float16/32 -> float64
	rewriteArrayKeys                         // array, map, REF and tag-around-container map keys -> tag(arrayKeyTag, bytes)
	rewriteMpipcTags                         // TUPLE tags dropped; PICKLE, bad TUPLE / REF refused
	rewriteTimeTags                          // decoding: tags 0 and 1 -> tag0Priv / tag1Priv (fixValue decides)
	rewriteTimes                             // encoding: tag 0 around RFC 3339 text -> tag 1, exactly (viaFxamacker)
	rewriteEscape                            // decoding: a tag numbered as a private one -> escTag (see there)
)

var errMalformed = errors.New("malformed CBOR")

// head reads an item head at pos: major type, additional info, argument,
// and the position after the head.
func head(src []byte, pos int) (major byte, ai byte, arg uint64, next int, err error) {
	if pos >= len(src) {
		return 0, 0, 0, 0, errMalformed
	}
	b := src[pos]
	major, ai = b>>5, b&0x1f
	pos++
	rest := src[pos:]
	switch {
	case ai < 24:
		return major, ai, uint64(ai), pos, nil
	case ai == 24 && len(rest) >= 1:
		return major, ai, uint64(rest[0]), pos + 1, nil
	case ai == 25 && len(rest) >= 2:
		return major, ai, uint64(binary.BigEndian.Uint16(rest)), pos + 2, nil
	case ai == 26 && len(rest) >= 4:
		return major, ai, uint64(binary.BigEndian.Uint32(rest)), pos + 4, nil
	case ai == 27 && len(rest) >= 8:
		return major, ai, binary.BigEndian.Uint64(rest), pos + 8, nil
	case ai == 31:
		return major, ai, 0, pos, nil
	}
	return 0, 0, 0, 0, errMalformed
}

func appendHead(dst []byte, major byte, arg uint64) []byte {
	m := major << 5
	switch {
	case arg < 24:
		return append(dst, m|byte(arg))
	case arg <= 0xff:
		return append(dst, m|24, byte(arg))
	case arg <= 0xffff:
		return append(dst, m|25, byte(arg>>8), byte(arg))
	case arg <= 0xffffffff:
		return append(dst, m|26, byte(arg>>24), byte(arg>>16), byte(arg>>8), byte(arg))
	}
	return append(dst, m|27, byte(arg>>56), byte(arg>>48), byte(arg>>40), byte(arg>>32),
		byte(arg>>24), byte(arg>>16), byte(arg>>8), byte(arg))
}

// rewrite copies the item at pos to dst, transformed by mode, and returns
// the position after it.
func rewrite(dst, src []byte, pos int, mode rewriteMode, depth int) ([]byte, int, error) {
	if depth > 512 {
		return nil, 0, errMalformed
	}
	// Tag 55799 has no meaning (D1): its content in its place, at no
	// depth. Skipped in a loop, so a long run of it (Rust, Node and Python
	// read 'd9d9f7'*70000 + '01') costs no recursion and never reaches
	// fxamacker/cbor, whose nesting limit counts every tag.
	pos = skipSelfDescribed(src, pos)
	start := pos
	major, ai, arg, next, err := head(src, pos)
	if err != nil {
		return nil, 0, err
	}
	switch major {
	case 0, 1:
		return append(dst, src[start:next]...), next, nil
	case 2, 3:
		if ai == 31 { // indefinite: chunks until break
			p := next
			for {
				if p >= len(src) {
					return nil, 0, errMalformed
				}
				if src[p] == 0xff {
					p++
					break
				}
				_, _, n, np, err := head(src, p)
				if err != nil || uint64(len(src)-np) < n {
					return nil, 0, errMalformed
				}
				p = np + int(n)
			}
			return append(dst, src[start:p]...), p, nil
		}
		if uint64(len(src)-next) < arg {
			return nil, 0, errMalformed
		}
		end := next + int(arg)
		return append(dst, src[start:end]...), end, nil
	case 4:
		dst = append(dst, src[start:next]...)
		p := next
		for i := uint64(0); ai == 31 || i < arg; i++ {
			if ai == 31 {
				if p >= len(src) {
					return nil, 0, errMalformed
				}
				if src[p] == 0xff {
					return append(dst, 0xff), p + 1, nil
				}
			}
			if dst, p, err = rewrite(dst, src, p, mode, depth+1); err != nil {
				return nil, 0, err
			}
		}
		return dst, p, nil
	case 5:
		dst = append(dst, src[start:next]...)
		p := next
		for i := uint64(0); ai == 31 || i < arg; i++ {
			if ai == 31 {
				if p >= len(src) {
					return nil, 0, errMalformed
				}
				if src[p] == 0xff {
					return append(dst, 0xff), p + 1, nil
				}
			}
			if q := arrayKeyAt(src, p); mode&rewriteArrayKeys != 0 && p < len(src) && (src[q]>>5 == 4 ||
				src[q]>>5 == 5 || isRefHead(src, q) || tagAroundContainer(src, q)) {
				// Re-encode the key (floats widened, TUPLE tags dropped, tags
				// 0 and 1 as they are) and wrap it.
				key, np, err := rewrite(nil, src, arrayKeyAt(src, p), rewriteFloats|rewriteMpipcTags, depth+1)
				if err != nil {
					return nil, 0, err
				}
				dst = appendHead(dst, 6, arrayKeyTag)
				dst = appendHead(dst, 2, uint64(len(key)))
				dst = append(dst, key...)
				p = np
			} else if dst, p, err = rewrite(dst, src, p, mode, depth+1); err != nil {
				return nil, 0, err
			}
			if dst, p, err = rewrite(dst, src, p, mode, depth+1); err != nil {
				return nil, 0, err
			}
		}
		return dst, p, nil
	case 6:
		if mode&rewriteEscape != 0 && isPrivateTag(arg) {
			_, end, err := rewrite(nil, src, next, 0, depth+1)
			if err != nil {
				return nil, 0, err
			}
			dst = appendHead(dst, 6, escTag)
			dst = appendHead(dst, 2, uint64(8+end-next))
			dst = binary.BigEndian.AppendUint64(dst, arg)
			return append(dst, src[next:end]...), end, nil
		}
		if mode&rewriteTimeTags != 0 && arg <= 1 {
			dst = appendHead(dst, 6, tag0Priv+arg)
			return rewrite(dst, src, next, mode, depth+1)
		}
		if mode&rewriteTimes != 0 && arg == 0 {
			if out, np, ok := rfc3339ToEpoch(dst, src, next); ok {
				return out, np, nil
			}
		}
		if mode&rewriteMpipcTags != 0 && ai == 26 {
			switch arg {
			case tupleTag:
				// The content's head on the wire, through any 55799 (as
				// checkWire, and Rust, Node and Python): a TUPLE inside is
				// no array, though it decodes to one.
				if c := skipSelfDescribed(src, next); c >= len(src) || src[c]>>5 != 4 {
					return nil, 0, errTuple
				}
				return rewrite(dst, src, next, mode, depth+1) // the array alone
			case pickleTag:
				return nil, 0, errPickle
			case refTag:
				if err := checkRef(src, skipSelfDescribed(src, next), depth+1); err != nil {
					return nil, 0, err
				}
			}
		}
		dst = append(dst, src[start:next]...)
		return rewrite(dst, src, next, mode, depth+1)
	default: // 7: simple values and floats
		switch ai {
		case 25: // float16
			if mode&rewriteFloats != 0 {
				return appendFloat64(dst, float64(half(uint16(arg)))), next, nil
			}
		case 26: // float32
			if mode&rewriteFloats != 0 {
				return appendFloat64(dst, float64(math.Float32frombits(uint32(arg)))), next, nil
			}
		case 31:
			return nil, 0, errMalformed // a stray break
		}
		return append(dst, src[start:next]...), next, nil
	}
}

// checkRef checks that the item at pos (a REF tag's content, past any
// 55799) is an array of exactly three text strings, each seen on the wire
// through any 55799 around it.
func checkRef(src []byte, pos, depth int) error {
	major, ai, n, p, err := head(src, pos)
	if err != nil || major != 4 || (ai != 31 && n != 3) {
		return errRef
	}
	for i := 0; ; i++ {
		if ai == 31 && p < len(src) && src[p] == 0xff {
			if i != 3 {
				return errRef
			}
			return nil
		}
		if ai != 31 && i == 3 {
			return nil
		}
		if q := skipSelfDescribed(src, p); i == 3 || q >= len(src) || src[q]>>5 != 3 {
			return errRef
		}
		if _, p, err = rewrite(nil, src, p, rewriteFloats, depth+1); err != nil {
			return err
		}
	}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuf() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

func putBuf(b *bytes.Buffer) {
	if b.Cap() > 1<<20 { // do not keep huge buffers alive
		return
	}
	b.Reset()
	bufPool.Put(b)
}

func appendFloat64(dst []byte, f float64) []byte {
	u := math.Float64bits(f)
	return append(dst, 0xfb, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32),
		byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}

// half converts an IEEE 754 binary16 value to float32 (exactly).
func half(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf, NaN (payload kept)
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: frac * 2^-24
		f := float32(frac) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}
