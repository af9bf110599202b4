package mpipc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// The fast path of decoding into any (cbor_fast.go) must give exactly what
// fxamacker/cbor gives (decodeAnySlow), or step aside: for every input,
// either decodeAnyFast declines, or both succeed with identical values
// (same Go types, floats by bits, nil and empty slices told apart).

// fastCases are inputs the fast path must take (and match the slow path on).
func fastCases(t testing.TB) map[string][]byte {
	small, err := Marshal(smallObj{ID: 123456, Name: "item-123456", Vals: []float64{1.5, 2.5, 3.5}})
	if err != nil {
		t.Fatal(err)
	}
	many := map[string]any{} // more keys than the key table has slots: collisions
	for i := 0; i < 3*internSlots; i++ {
		many[fmt.Sprintf("k%d", i)] = i
	}
	manyEnc, err := Marshal(many)
	if err != nil {
		t.Fatal(err)
	}
	long := map[string]any{strings.Repeat("x", internMaxLen): 1, strings.Repeat("y", internMaxLen+1): 2, "": 3}
	longEnc, err := Marshal(long)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"small object":             small,
		"many keys":                manyEnc,
		"long and empty keys":      longEnc,
		"ints":                     hexb("8a" + "00" + "17" + "1818" + "19ffff" + "1affffffff" + "1b7fffffffffffffff" + "20" + "3b7fffffffffffffff" + "1b8000000000000000" + "1bffffffffffffffff"),
		"non-shortest heads":       hexb("84" + "1801" + "190001" + "1a00000001" + "1b0000000000000001"),
		"floats":                   hexb("86" + "fb3ff8000000000000" + "fb8000000000000000" + "fb7ff8000000000001" + "fb7ff0000000000000" + "fa3fc00000" + "fa7fc00001"),
		"simple":                   hexb("84f4f5f6f7"),
		"empty containers":         hexb("85" + "80" + "a0" + "60" + "40" + "a1" + "6161" + "80"),
		"bytes":                    hexb("43010203"),
		"text utf-8":               hexb("63e282ac"),
		"scalar keys":              hexb("a6" + "01" + "61" + "61" + "20" + "61" + "62" + "fb3fd0000000000000" + "6163" + "f5" + "6164" + "f6" + "6165" + "4101" + "6166"),
		"nan keys of two bits":     hexb("a2" + "fb7ff8000000000000" + "01" + "fb7ff8000000000001" + "02"),
		"int and float keys":       hexb("a3" + "01" + "01" + "fb3ff8000000000000" + "02" + "fb4000000000000000" + "03"),
		"nested":                   hexb("a2" + "6161" + "a1" + "6162" + "82" + "01" + "a0" + "6163" + "81" + "81" + "81" + "f6"),
		"tag 1":                    hexb("c11a514b67b0"),
		"tag 0":                    hexb("c074323031332d30332d32315432303a30343a30305a"),
		"bignum":                   hexb("c249010000000000000000"),
		"small bignum":             hexb("c24101"),
		"other tag":                hexb("d82a6161"),
		"tag in a map":             hexb("a1" + "6174" + "c11a514b67b0"),
		"self-described":           hexb("d9d9f7" + "01"),
		"tag deep in a value":      hexb("a1" + "6161" + "82" + "01" + "c24101"),
		"tag with array key":       hexb("d82a" + "a1" + "820102" + "01"),
		"bignum in a tag in a map": hexb("a1" + "6161" + "d82a" + "82" + "c24101" + "c349010000000000000000"),
		"time in an array":         hexb("82" + "c1fb41d954d2b9000000" + "c11a514b67b0"),
		"tag, nested content":      append([]byte{0xd8, 0x2a}, append(bytes.Repeat([]byte{0x81}, fastMaxDepth-1), 0x80)...),
		"nesting 32":               append(bytes.Repeat([]byte{0x81}, fastMaxDepth-1), 0x80),
		"big array":                bigArray(bigContainer+1, 0),
		"big map":                  bigMap(bigContainer + 1),
	}
}

// slowCases are inputs the fast path must leave to fxamacker/cbor: valid
// ones outside its subset, and malformed or refused ones.
func slowCases() map[string][]byte {
	return map[string][]byte{
		"tag key":             hexb("a1" + "c11a514b67b0" + "01"),
		"duplicate keys":      hexb("a4" + "6161" + "01" + "6161" + "02" + "01" + "03" + "01" + "04"),
		"float zero keys":     hexb("a2" + "fb0000000000000000" + "01" + "fb8000000000000000" + "02"),
		"nan keys":            hexb("a2" + "fb7ff8000000000000" + "01" + "fb7ff8000000000000" + "02"),
		"1 and 1.0 keys":      hexb("a2" + "01" + "01" + "fb3ff0000000000000" + "02"),
		"2.0 and 2 keys":      hexb("a2" + "fb4000000000000000" + "01" + "02" + "02"),
		"tag, bad content":    hexb("c16161"),
		"tag, indefinite":     hexb("d82a" + "9f01ff"),
		"tag, truncated":      hexb("a1" + "6161" + "d82a"),
		"tag, refused inside": hexb("a1" + "6161" + "d82a" + "f0"),
		"tag, too deep":       append(append(bytes.Repeat([]byte{0x81}, 20), 0xd8, 0x2a), append(bytes.Repeat([]byte{0x81}, 110), 0x80)...),
		"tag, deep content":   append([]byte{0xd8, 0x2a}, append(bytes.Repeat([]byte{0x81}, fastMaxDepth), 0x80)...),
		"indefinite array":    hexb("9f0102ff"),
		"indefinite map":      hexb("bf616101ff"),
		"indefinite text":     hexb("7f616161ff"),
		"indefinite bytes":    hexb("5f4101ff"),
		"half float":          hexb("f93c00"),
		"simple 0":            hexb("e0"),
		"simple 16":           hexb("f0"),
		"simple 19":           hexb("f3"),
		"simple 32":           hexb("f820"),
		"simple 24 short":     hexb("f817"),
		"break":               hexb("ff"),
		"reserved ai":         hexb("1c"),
		"truncated head":      hexb("19ff"),
		"truncated text":      hexb("6461"),
		"truncated array":     hexb("8301"),
		"truncated map":       hexb("a16161"),
		"huge array count":    hexb("9bffffffffffffffff"),
		"huge map count":      hexb("bb7fffffffffffffff"),
		"huge text length":    hexb("7b7fffffffffffffff"),
		"trailing byte":       hexb("0101"),
		"empty":               {},
		"invalid utf-8":       hexb("62c328"),
		"invalid utf-8 key":   hexb("a162c32801"),
		"array key":           hexb("a1" + "820102" + "01"),
		"map key":             hexb("a1" + "a0" + "01"),
		"big uint key":        hexb("a1" + "1bffffffffffffffff" + "01"),
		"below -2^63":         hexb("3b8000000000000000"),
		"nesting 33":          append(bytes.Repeat([]byte{0x81}, fastMaxDepth), 0x80),
		"nesting 129":         append(bytes.Repeat([]byte{0x81}, 128), 0x80),
		"big array, short":    bigArray(bigContainer+1, -1),
		"big map, short":      bigMap(bigContainer + 1)[:len(bigMap(bigContainer+1))-1],
		"big array, bad item": append(bigArray(bigContainer+1, -1), 0xf0),
	}
}

// bigArray encodes an array of n nulls, with extra items more or fewer.
func bigArray(n, extra int) []byte {
	return append(appendHead(nil, 4, uint64(n)), bytes.Repeat([]byte{0xf6}, n+extra)...)
}

// bigMap encodes {0: null, 1: null, ...} with n entries.
func bigMap(n int) []byte {
	b := appendHead(nil, 5, uint64(n))
	for i := 0; i < n; i++ {
		b = appendHead(b, 0, uint64(i))
		b = append(b, 0xf6)
	}
	return b
}

func TestDecodeAnyFastMatchesFxamacker(t *testing.T) {
	for name, data := range fastCases(t) {
		fast, ok := decodeAnyFast(data)
		if !ok {
			t.Errorf("%s: the fast path declined %x", name, data)
			continue
		}
		slow, err := decodeAnySlow(data)
		if err != nil {
			t.Errorf("%s: fxamacker refused %x: %v", name, data, err)
			continue
		}
		if !identicalAny(fast, slow) {
			t.Errorf("%s: fast %#v, fxamacker %#v", name, fast, slow)
		}
	}
	for name, data := range slowCases() {
		if v, ok := decodeAnyFast(data); ok {
			t.Errorf("%s: the fast path took %x as %#v", name, data, v)
		}
	}
	// The shared vectors: wherever the fast path answers, it agrees.
	for _, data := range vectorInputs(t) {
		checkFastAgrees(t, data)
	}
}

func TestDecodeNaNKeys(t *testing.T) {
	// {NaN: 1, NaN: 2^64-1, "h": 1.0 as a half float}: the half float sends
	// it to fxamacker/cbor, the 2^64-1 through fixValue, which must keep
	// the two NaN entries two (writing back into the map added one per
	// write); the fast path, without the half float, agrees.
	for _, in := range []string{
		"a3" + "fb7ff8000000000001" + "01" + "fb7ff8000000000002" + "1bffffffffffffffff" + "6168" + "f93c00",
		"a3" + "fb7ff8000000000001" + "01" + "fb7ff8000000000002" + "1bffffffffffffffff" + "6168" + "fb3ff0000000000000",
	} {
		var v any
		must(t, Unmarshal(hexb(in), &v))
		m := v.(map[any]any)
		vals := map[any]bool{}
		for k, e := range m {
			if f, ok := k.(float64); ok && f != f {
				vals[e] = true
			}
		}
		if len(m) != 3 || !vals[int64(1)] || !vals[uint64(math.MaxUint64)] || m["h"] != 1.0 {
			t.Errorf("%s: got %#v", in, m)
		}
	}
}

func TestDecodeAnyFastCopies(t *testing.T) {
	// The decoded value owns its bytes: the receive buffer is reused.
	buf := hexb("a2" + "4161" + "4162" + "6163" + "6164") // {h'61': h'62', "c": "d"}
	v, ok := decodeAnyFast(buf)
	if !ok {
		t.Fatal("declined")
	}
	for i := range buf {
		buf[i] = 0
	}
	want := map[any]any{cbor.ByteString("a"): []byte("b"), "c": "d"}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("got %#v after the buffer was cleared", v)
	}
}

func TestDecodeAnyFastConcurrent(t *testing.T) {
	// Decoders from many goroutines at once (run under -race by make
	// go-tests): each takes its own pooled decoder and key table.
	cases := fastCases(t)
	want := map[string]any{}
	for name, data := range cases {
		if len(data) > 4096 { // the big ones once are enough (TestDecodeAnyFastMatchesFxamacker)
			delete(cases, name)
			continue
		}
		v, err := decodeAnySlow(data)
		must(t, err)
		want[name] = v
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				for name, data := range cases {
					v, err := decodeAny(data)
					if err != nil || !identicalAny(v, want[name]) {
						errs <- fmt.Sprintf("%s: %#v, %v", name, v, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// FuzzDecodeAnyFast: on any input the fast path neither panics nor
// disagrees with fxamacker/cbor. `go test` runs the seeds; `go test
// -fuzz FuzzDecodeAnyFast` explores.
func FuzzDecodeAnyFast(f *testing.F) {
	for _, data := range fastCases(f) {
		f.Add(data)
	}
	for _, data := range slowCases() {
		f.Add(data)
	}
	for _, data := range vectorInputs(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastAgrees(t, data)
	})
}

func checkFastAgrees(t testing.TB, data []byte) {
	t.Helper()
	fast, ok := decodeAnyFast(data)
	if !ok {
		return
	}
	slow, err := decodeAnySlow(data)
	if err != nil {
		t.Fatalf("%x: the fast path gave %#v, fxamacker refused: %v", data, fast, err)
	}
	if !identicalAny(fast, slow) {
		t.Fatalf("%x: fast %#v, fxamacker %#v", data, fast, slow)
	}
}

// vectorInputs are the bytes of every shared vector (tests/vectors/cbor.json).
func vectorInputs(t testing.TB) [][]byte {
	raw, err := os.ReadFile("../../tests/vectors/cbor.json")
	if err != nil {
		t.Skipf("no vectors: %v", err)
	}
	var file map[string]json.RawMessage
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, group := range []string{"valid", "invalid", "decode_only"} {
		var vs []vector
		if err := json.Unmarshal(file[group], &vs); err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			out = append(out, hexb(v.Hex))
		}
	}
	if len(out) == 0 {
		t.Fatal("no vectors")
	}
	return out
}

// identicalAny is reflect.DeepEqual with floats compared by bits (so a NaN
// equals itself, also in a cbor.Tag) and NaN map keys counted (they cannot
// be looked up); nil and empty slices stay different.
func identicalAny(a, b any) bool {
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return false
	}
	switch x := a.(type) {
	case float64:
		return math.Float64bits(x) == math.Float64bits(b.(float64))
	case []byte:
		y := b.([]byte)
		return (x == nil) == (y == nil) && bytes.Equal(x, y)
	case []any:
		y := b.([]any)
		if (x == nil) != (y == nil) || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !identicalAny(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[any]any:
		y := b.(map[any]any)
		if (x == nil) != (y == nil) || len(x) != len(y) {
			return false
		}
		nanX, nanY := 0, 0
		for k := range y {
			if f, ok := k.(float64); ok && f != f {
				nanY++
			}
		}
		for k, v := range x {
			if f, ok := k.(float64); ok && f != f {
				nanX++
				continue
			}
			w, ok := y[k]
			if !ok { // a key that cannot be looked up (a *big.Int): by their encodings (keys sorted)
				ex, err1 := Marshal(x)
				ey, err2 := Marshal(y)
				return err1 == nil && err2 == nil && bytes.Equal(ex, ey)
			}
			if !identicalAny(v, w) {
				return false
			}
		}
		return nanX == nanY
	case cbor.Tag:
		y := b.(cbor.Tag)
		return x.Number == y.Number && identicalAny(x.Content, y.Content)
	case time.Time: // the same instant (tag 0 keeps its offset, tag 1 is Local)
		return x.Equal(b.(time.Time))
	}
	return reflect.DeepEqual(a, b)
}

// FuzzRoundTrip: whatever the decoder accepts, the encoder writes (the
// encoder refuses only what the decoder refuses, D3/D4), and what it
// wrote reads back to a value that writes the same bytes.
func FuzzRoundTrip(f *testing.F) {
	for _, data := range fastCases(f) {
		f.Add(data)
	}
	for _, data := range vectorInputs(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if Unmarshal(data, &v) != nil {
			return
		}
		enc, err := Marshal(v)
		if err != nil {
			t.Fatalf("%x decoded to %#v, which does not encode: %v", data, v, err)
		}
		var back any
		if err := Unmarshal(enc, &back); err != nil {
			t.Fatalf("%x: re-encoded %x refused: %v", data, enc, err)
		}
		// Go's encoding is deterministic (keys sorted): the value read back
		// writes the same bytes.
		if again, err := Marshal(back); err != nil || !bytes.Equal(again, enc) {
			t.Fatalf("%x: %#v wrote %x, read back as %#v, which wrote %x (%v)", data, v, enc, back, again, err)
		}
	})
}

// TestCBORMutations: seeded byte mutations of the cases and the shared
// vectors (a fixed seed: the same inputs every run). For each input:
// quickCheck never passes what checkWire refuses; the fast path agrees
// with fxamacker's; whatever decodes encodes, and what it writes reads
// back to a value that writes the same bytes (FuzzRoundTrip explores
// further with `go test -fuzz`).
func TestCBORMutations(t *testing.T) {
	seeds := vectorInputs(t)
	for _, d := range fastCases(t) {
		seeds = append(seeds, d)
	}
	r := rand.New(rand.NewSource(21))
	n := 30000
	if testing.Short() {
		n = 3000
	}
	for i := 0; i < n; i++ {
		d := append([]byte(nil), seeds[r.Intn(len(seeds))]...)
		for j := 0; j < 1+r.Intn(4) && len(d) > 0; j++ {
			switch p := r.Intn(len(d)); r.Intn(3) {
			case 0:
				d[p] = byte(r.Intn(256))
			case 1:
				d = append(d[:p], d[p+1:]...)
			default:
				d = append(d[:p], append([]byte{byte(r.Intn(256))}, d[p:]...)...)
			}
		}
		if quickCheck(d) {
			if err := checkWireKeys(d, 0, true); err != nil {
				t.Fatalf("%x: quickCheck passes, checkWire refuses: %v", d, err)
			}
		}
		checkFastAgrees(t, d)
		var v any
		if Unmarshal(d, &v) != nil {
			continue
		}
		enc, err := Marshal(v)
		if err != nil {
			t.Fatalf("%x decoded to %#v, which does not encode: %v", d, v, err)
		}
		var back any
		if err := Unmarshal(enc, &back); err != nil {
			t.Fatalf("%x: wrote %x, refused: %v", d, enc, err)
		}
		if again, err := Marshal(back); err != nil || !bytes.Equal(again, enc) {
			t.Fatalf("%x: wrote %x, then %x (%v)", d, enc, again, err)
		}
	}
}
