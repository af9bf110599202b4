package mpipc

import (
	"encoding/binary"
	"math"
	"sync"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// The fast path of decoding into `any` (issue #17: a Go consumer decoding
// the benchmarks' small object into `any` ran at 0.75 M msg/s, against
// 1.36 M into a struct).
//
// fxamacker/cbor stays the decoder of record: decodeAny tries this path
// first and, whenever the message holds anything outside the common subset
// below, throws the partial result away and decodes the whole message with
// fxamacker/cbor as before. So the values `any` decodes to (the table at
// the top of cbor.go), and every error, are fxamacker/cbor's.
//
// The subset, the values of the contract every binding writes by default:
//
//	CBOR                                   Go (as fxamacker/cbor with decMode)
//	unsigned int <= 2^63-1 / negative int  int64
//	  >= -2^63
//	unsigned int > 2^63-1 (not as a key)   uint64 (what fixValue makes of *big.Int)
//	float64, float32                       float64 (float32 widened exactly)
//	false, true, null, undefined           bool, nil
//	text (definite, valid UTF-8)           string
//	bytes (definite)                       []byte, cbor.ByteString as a map key
//	array (definite, not a map key)        []any
//	map (definite, not a map key)          map[any]any (two equal keys: fxamacker's path refuses it)
//	mpipc's TUPLE tag (not a map key)      the array it holds, as above
//	tag (not a map key)                    that item alone decoded by fxamacker/cbor
//	                                       (time.Time, *big.Int, cbor.Tag, ManagerRef;
//	                                       a PICKLE refused: see tagged)
//
// Everything else sends the whole message to fxamacker/cbor: indefinite
// lengths, half floats, other simple values, integers below -2^63, array,
// map and tag keys (ArrayKey, errors), nesting deeper than fastMaxDepth,
// and anything malformed (truncated, reserved heads, invalid UTF-8,
// trailing bytes). Such a message costs the fast path's attempt on top
// (the part of it read before the item that sends it back).
//
// Why it is faster, for the same values: one pass (fxamacker checks
// well-formedness in a pass of its own before decoding), no reflection per
// map key, and text map keys interned: the boxed string of a key seen
// before is reused (a Go string is immutable, so sharing one between
// decoded maps cannot be observed), which saves two of the three
// allocations of each key of a struct-like map.

// fastMaxDepth bounds the nesting the fast path follows (its recursion
// depth); deeper messages, rare, take fxamacker/cbor's path, which also
// applies the contract's limit (128) exactly.
const fastMaxDepth = 32

// A tag's content decoded alone (see tagged) nests at most fastMaxDepth
// levels inside fewer than fastMaxDepth: this fails to compile if that
// could exceed the contract's 128.
const _ = uint(128 - 2*fastMaxDepth - 1)

// internMaxLen is the longest text map key interned: field names, not
// identifiers that differ in every message.
const internMaxLen = 32

// internSlots is the size of each decoder's key table (a power of two): a
// direct-mapped cache, where a new key replaces the one in its slot.
const internSlots = 256

// bigContainer is the item count above which the fast path checks the
// whole message well-formed before allocating a container: a malformed
// message (a count larger than its items) then never makes it allocate
// more than fxamacker/cbor would (it checks first, then decodes).
const bigContainer = 1024

// internSlot is one interned key: the string and the `any` that boxes it.
type internSlot struct {
	s string
	v any
}

// fastDecoder is the state of one decoding. It is pooled so that its key
// table lives across messages: per P (sync.Pool), so decoders running at
// once share nothing, and dropped with the pool's contents when the GC
// clears it (the table refills on the next misses).
type fastDecoder struct {
	data    []byte
	off     int
	checked bool // data passed fxamacker's well-formedness check (see bigContainer)
	keys    [internSlots]internSlot
}

var fastPool = sync.Pool{New: func() any { return new(fastDecoder) }}

// decodeAnyFast decodes data if it holds only the subset above; ok is
// false otherwise (the caller then decodes it with fxamacker/cbor).
func decodeAnyFast(data []byte) (v any, ok bool) {
	d := fastPool.Get().(*fastDecoder)
	d.data, d.off, d.checked = data, 0, false
	v, ok = d.item(0, false)
	ok = ok && d.off == len(data) // trailing bytes are an error: fxamacker's to report
	d.data = nil                  // do not keep the caller's buffer alive in the pool
	fastPool.Put(d)
	if !ok {
		return nil, false
	}
	return v, true
}

// head reads the head of the item at d.off: major type, additional
// information and argument. ok is false for a truncated head and for
// additional information 28..31 (reserved, or indefinite / break).
func (d *fastDecoder) head() (major, ai byte, arg uint64, ok bool) {
	data, off := d.data, d.off
	if off >= len(data) {
		return 0, 0, 0, false
	}
	b := data[off]
	major, ai = b>>5, b&0x1f
	off++
	switch {
	case ai < 24:
		arg = uint64(ai)
	case ai == 24:
		if len(data)-off < 1 {
			return 0, 0, 0, false
		}
		arg = uint64(data[off])
		off++
	case ai == 25:
		if len(data)-off < 2 {
			return 0, 0, 0, false
		}
		arg = uint64(binary.BigEndian.Uint16(data[off:]))
		off += 2
	case ai == 26:
		if len(data)-off < 4 {
			return 0, 0, 0, false
		}
		arg = uint64(binary.BigEndian.Uint32(data[off:]))
		off += 4
	case ai == 27:
		if len(data)-off < 8 {
			return 0, 0, 0, false
		}
		arg = binary.BigEndian.Uint64(data[off:])
		off += 8
	default:
		return 0, 0, 0, false
	}
	d.off = off
	return major, ai, arg, true
}

// item decodes the item at d.off (a map key if key) and moves past it; ok
// is false if it, or anything in it, is outside the subset.
func (d *fastDecoder) item(depth int, key bool) (any, bool) {
	start := d.off
	major, ai, arg, ok := d.head()
	if !ok {
		return nil, false
	}
	switch major {
	case 0: // unsigned integer
		if arg <= math.MaxInt64 {
			return int64(arg), true
		}
		if key { // fxamacker makes it a *big.Int key, which fixValue re-keys: leave that to them
			return nil, false
		}
		return arg, true
	case 1: // negative integer -1-arg
		if arg > math.MaxInt64 {
			return nil, false // below -2^63: a *big.Int
		}
		return int64(-1) ^ int64(arg), true
	case 2, 3: // byte or text string, definite length (indefinite has ai 31, refused by head)
		if arg > uint64(len(d.data)-d.off) {
			return nil, false
		}
		b := d.data[d.off : d.off+int(arg)]
		d.off += int(arg)
		if major == 2 {
			if key {
				return cbor.ByteString(b), true
			}
			return append(make([]byte, 0, len(b)), b...), true // a copy: data is the caller's (pooled) buffer
		}
		if !utf8.Valid(b) {
			return nil, false
		}
		if key && len(b) <= internMaxLen {
			return d.intern(b), true
		}
		return string(b), true
	case 4: // array
		// Each element takes at least one byte: a count beyond what is left
		// is malformed, and is never allocated.
		if key || depth >= fastMaxDepth || arg > uint64(len(d.data)-d.off) || !d.sized(arg) {
			return nil, false
		}
		a := make([]any, int(arg))
		for i := range a {
			e, ok := d.item(depth+1, false)
			if !ok {
				return nil, false
			}
			a[i] = e
		}
		return a, true
	case 5: // map
		if key || depth >= fastMaxDepth || arg > uint64(len(d.data)-d.off)/2 || !d.sized(arg) {
			return nil, false
		}
		m := make(map[any]any, int(arg))
		floatKeys := false
		for i := uint64(0); i < arg; i++ {
			k, ok := d.item(depth+1, true)
			if !ok {
				return nil, false
			}
			e, ok := d.item(depth+1, false)
			if !ok {
				return nil, false
			}
			if _, f := k.(float64); f {
				floatKeys = true
			}
			m[k] = e
		}
		// Two equal keys (D4) are refused, by fxamacker's path (checkWire):
		// Go's equality merged them (fewer entries than written), or they
		// are a float and the integer it equals, or two NaNs of one bits.
		if len(m) != int(arg) || floatKeys && !distinctNumbers(m) {
			return nil, false
		}
		return m, true
	case 7:
		switch ai {
		case 20:
			return false, true
		case 21:
			return true, true
		case 22, 23: // null, undefined
			return nil, true
		case 26:
			return float64(math.Float32frombits(uint32(arg))), true
		case 27:
			return math.Float64frombits(arg), true
		}
		return nil, false // half floats, other simple values
	case 6: // tag
		if key { // a tag key (time.Time, cbor.Tag, ByteString content): fxamacker's rules
			return nil, false
		}
		if ai == 26 && arg == tupleTag {
			// A Python tuple: the array it holds (a tag that is not on
			// an array is fxamacker's path's to refuse).
			if d.off >= len(d.data) || d.data[d.off]>>5 != 4 {
				return nil, false
			}
			return d.item(depth+1, false)
		}
		return d.tagged(start, depth)
	}
	return nil, false
}

// tagged decodes the tag item at start (item() has read its head) with
// fxamacker/cbor, as a message of its own: decodeAnySlow gives a tag the
// same value alone as inside a message (checkWire's rules apply to it,
// the self-described tag is dropped in both places, a bignum becomes int64/uint64 when it fits, an
// array key in its content an ArrayKey). So a timestamp in a map does not
// send the whole message to the slow path. ok is false when the item is
// malformed or refused (the whole message then goes to fxamacker, which
// reports it), or nests more than fastMaxDepth levels: with fewer than
// fastMaxDepth levels around it, the item is then within the contract's
// 128 levels in context too (fxamacker only checks it alone).
func (d *fastDecoder) tagged(start, depth int) (any, bool) {
	if depth >= fastMaxDepth || !d.skip(fastMaxDepth) {
		return nil, false
	}
	v, err := decodeAnySlow(d.data[start:d.off])
	if err != nil {
		return nil, false
	}
	return v, true
}

// skip moves past the item at d.off without decoding it, following at
// most budget levels of nesting (budget >= 1); false if it is malformed
// as far as this can tell, indefinite, or nested deeper (fxamacker checks
// the rest).
func (d *fastDecoder) skip(budget int) bool {
	major, _, arg, ok := d.head()
	if !ok || budget == 0 {
		return false
	}
	switch major {
	case 2, 3:
		if arg > uint64(len(d.data)-d.off) {
			return false
		}
		d.off += int(arg)
	case 4, 5:
		if major == 5 {
			if arg > uint64(len(d.data)-d.off)/2 {
				return false
			}
			arg *= 2
		}
		if arg > uint64(len(d.data)-d.off) {
			return false
		}
		for i := uint64(0); i < arg; i++ {
			if !d.skip(budget - 1) {
				return false
			}
		}
	case 6:
		return d.skip(budget - 1)
	}
	return true
}

// sized reports whether a container of n items may be allocated: always
// for small ones; for big ones once the message is known well-formed.
func (d *fastDecoder) sized(n uint64) bool {
	if n <= bigContainer || d.checked {
		return true
	}
	d.checked = decMode.Wellformed(d.data) == nil
	return d.checked
}

// intern returns the boxed string of the text key b, from the key table
// when b was seen before (no allocation), else boxing a new string and
// keeping it in b's slot.
func (d *fastDecoder) intern(b []byte) any {
	// FNV-1a: keys are short, and the slot only has to spread them.
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &d.keys[h&(internSlots-1)]
	if slot.v != nil && slot.s == string(b) { // the comparison does not allocate
		return slot.v
	}
	s := string(b)
	slot.s, slot.v = s, s
	return slot.v
}

// distinctNumbers reports whether no float key of m equals another key
// under mpipc's key equality that Go's equality misses: an integral float
// and the int64 of its value, two NaNs of the same bits. (The fast path's
// keys hold no uint64 and no *big.Int.)
func distinctNumbers(m map[any]any) bool {
	var nans []uint64
	for k := range m {
		f, ok := k.(float64)
		switch {
		case !ok:
		case f != f:
			b := math.Float64bits(f)
			for _, o := range nans {
				if o == b {
					return false
				}
			}
			nans = append(nans, b)
		case f == math.Trunc(f) && math.Abs(f) < 1<<63:
			if _, dup := m[int64(f)]; dup {
				return false
			}
		}
	}
	return true
}
