package mpipc

import (
	"bytes"
	"encoding/hex"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

func hexb(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestCBOREncodeContract(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"null", nil, "f6"},
		{"true", true, "f5"},
		{"int", 1, "01"},
		{"negative", -500, "3901f3"},
		{"uint64 max", uint64(math.MaxUint64), "1bffffffffffffffff"},
		{"int64 min", int64(math.MinInt64), "3b7fffffffffffffff"},
		{"float64 1.5 stays 64-bit", 1.5, "fb3ff8000000000000"},
		{"float32 widened", float32(1.5), "fb3ff8000000000000"},
		{"float64 0", 0.0, "fb0000000000000000"},
		{"float64 inf", math.Inf(1), "fb7ff0000000000000"},
		{"text", "a", "6161"},
		{"bytes", []byte{1, 2}, "420102"},
		{"array", []any{1, "a"}, "82016161"},
		{"[]float32 widened", []float32{0.5, 2}, "82fb3fe0000000000000fb4000000000000000"},
		{"bignum small -> int", big.NewInt(5), "05"},
		{"bignum 2^64", new(big.Int).Lsh(big.NewInt(1), 64), "c249010000000000000000"},
		{"time whole seconds", time.Unix(1700000000, 0), "c11a6553f100"},
		{"time fraction", time.Unix(1, 500000000), "c1fb3ff8000000000000"},
		{"array key", map[ArrayKey]int{mustKey(1, 2): 3}, "a182010203"},
		{"struct", struct {
			A int     `cbor:"a"`
			F float32 `cbor:"f"`
		}{1, 0.25}, "a26161016166fb3fd0000000000000"},
	} {
		got, err := Marshal(tc.v)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if hex.EncodeToString(got) != tc.want {
			t.Errorf("%s: got %x want %s", tc.name, got, tc.want)
		}
	}
	nan, err := Marshal(math.NaN())
	must(t, err)
	if len(nan) != 9 || nan[0] != 0xfb {
		t.Errorf("NaN encoded as %x, want a float64", nan)
	}
}

func mustKey(elems ...any) ArrayKey {
	k, err := NewArrayKey(elems...)
	if err != nil {
		panic(err)
	}
	return k
}

func TestCBORDecodeContract(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want any
	}{
		{"null", "f6", nil},
		{"small int is int64", "01", int64(1)},
		{"int64 max", "1b7fffffffffffffff", int64(math.MaxInt64)},
		{"above int64 is uint64", "1b8000000000000000", uint64(1 << 63)},
		{"uint64 max", "1bffffffffffffffff", uint64(math.MaxUint64)},
		{"negative", "3901f3", int64(-500)},
		{"int64 min", "3b7fffffffffffffff", int64(math.MinInt64)},
		{"below int64 is big", "3b8000000000000000", new(big.Int).Sub(big.NewInt(math.MinInt64), big.NewInt(1))},
		{"bignum fitting is int64", "c24105", int64(5)},
		{"bignum 2^64 stays big", "c249010000000000000000", new(big.Int).Lsh(big.NewInt(1), 64)},
		{"half", "f93e00", 1.5},
		{"single", "fa3fc00000", 1.5},
		{"double", "fb3ff8000000000000", 1.5},
		{"text", "6161", "a"},
		{"bytes", "420102", []byte{1, 2}},
		{"array", "82016161", []any{int64(1), "a"}},
		{"indefinite array", "9f0102ff", []any{int64(1), int64(2)}},
		{"tag 1 int", "c11a6553f100", time.Unix(1700000000, 0)},
		{"other tag", "d8207468747470733a2f2f6578616d706c652e636f6d2f", cbor.Tag{Number: 32, Content: "https://example.com/"}},
	} {
		var v any
		if err := Unmarshal(hexb(tc.in), &v); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tm, ok := tc.want.(time.Time); ok {
			if got, ok := v.(time.Time); !ok || !got.Equal(tm) {
				t.Errorf("%s: got %#v", tc.name, v)
			}
			continue
		}
		if wb, ok := tc.want.(*big.Int); ok {
			if got, ok := v.(*big.Int); !ok || got.Cmp(wb) != 0 {
				t.Errorf("%s: got %#v", tc.name, v)
			}
			continue
		}
		if !reflect.DeepEqual(v, tc.want) {
			t.Errorf("%s: got %#v (%T) want %#v", tc.name, v, v, tc.want)
		}
	}
}

func TestCBORMapKeys(t *testing.T) {
	// {1: "int", 0.25: "float", true: "bool", "s": "text", h'01': "bytes", [1, "a"]: "tuple"}
	in := hexb("a6" + "01" + "63696e74" + "fb3fd0000000000000" + "65666c6f6174" + "f5" + "64626f6f6c" +
		"6173" + "6474657874" + "4101" + "656279746573" + "82016161" + "657475706c65")
	var v any
	must(t, Unmarshal(in, &v))
	m, ok := v.(map[any]any)
	if !ok {
		t.Fatalf("got %T", v)
	}
	want := map[any]any{
		int64(1):                "int",
		0.25:                    "float",
		true:                    "bool",
		"s":                     "text",
		cbor.ByteString("\x01"): "bytes",
		mustKey(1, "a"):         "tuple",
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %#v\nwant %#v", m, want)
	}
	for k := range m {
		if ak, ok := k.(ArrayKey); ok {
			elems, err := ak.Elems()
			must(t, err)
			if !reflect.DeepEqual(elems, []any{int64(1), "a"}) || ak.String() != `[1, "a"]` {
				t.Fatalf("key %v elems %#v", ak, elems)
			}
		}
	}
	// Encoding the decoded map gives back the same items (order aside).
	re, err := Marshal(m)
	must(t, err)
	var back any
	must(t, Unmarshal(re, &back))
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("round trip: %#v", back)
	}
	// Nested: an array key inside a map inside an array, with a big int.
	nested := hexb("82" + "a1" + "8201fa3fc00000" + "1bffffffffffffffff" + "01")
	must(t, Unmarshal(nested, &v))
	arr := v.([]any)
	inner := arr[0].(map[any]any)
	if inner[mustKey(1, 1.5)] != uint64(math.MaxUint64) {
		t.Fatalf("nested: %#v", arr)
	}
	// Typed decoding into map[string]T and structs.
	var typed map[string]int
	must(t, Unmarshal(hexb("a2616101616202"), &typed))
	if typed["a"] != 1 || typed["b"] != 2 {
		t.Fatalf("typed %v", typed)
	}
}

func TestCBORUndefinedAndSimpleValues(t *testing.T) {
	// undefined is read as null (docs/TYPES.md), in any and typed targets.
	var v any = "not nil"
	must(t, Unmarshal(hexb("82f6f7"), &v))
	if !reflect.DeepEqual(v, []any{nil, nil}) {
		t.Fatalf("got %#v", v)
	}
	var s struct{ A any }
	must(t, Unmarshal(hexb("a16141f7"), &s))
	// Other simple values are refused.
	for _, in := range []string{"e0", "f3", "f820", "f8ff", "82f6f0"} {
		if err := Unmarshal(hexb(in), &v); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
	// Through a queue, a refused message is consumed with a decode error.
	q, _ := tempQueue(t, QueueOptions{})
	must(t, q.PutBytes([]byte{0xf8, 0x20}))
	if _, err := q.GetTimeout(time.Second); err == nil {
		t.Fatal("simple value 32 accepted")
	}
	if n, _ := q.Qsize(); n != 0 {
		t.Fatal("refused message not consumed")
	}
}

func TestCBOROrderedMap(t *testing.T) {
	in := hexb("a3" + "6162" + "01" + "8201" + "02" + "03" + "6161" + "04") // {"b": 1, [1, 2]: 3, "a": 4}
	var om OrderedMap
	must(t, Unmarshal(in, &om))
	want := OrderedMap{{Key: "b", Value: int64(1)}, {Key: []any{int64(1), int64(2)}, Value: int64(3)}, {Key: "a", Value: int64(4)}}
	if !reflect.DeepEqual(om, want) {
		t.Fatalf("got %#v", om)
	}
	out, err := Marshal(om)
	must(t, err)
	if !bytes.Equal(out, in) {
		t.Fatalf("re-encoded %x", out)
	}
	must(t, Unmarshal(hexb("bf6161f5ff"), &om)) // indefinite
	if len(om) != 1 || om[0].Value != true {
		t.Fatalf("got %#v", om)
	}
	if err := Unmarshal(hexb("80"), &om); err == nil {
		t.Fatal("array into OrderedMap")
	}
	// Nested in a struct, and as a queue message.
	type withMap struct {
		M OrderedMap `cbor:"m"`
	}
	b, err := Marshal(withMap{M: OrderedMap{{Key: 2, Value: float32(0.5)}, {Key: 1, Value: nil}}})
	must(t, err)
	if hex.EncodeToString(b) != "a1616da202fb3fe000000000000001f6" {
		t.Fatalf("got %x", b)
	}
}

func TestCBORRoundTripValues(t *testing.T) {
	vals := []any{
		nil, true, false, int64(0), int64(-1), int64(math.MaxInt64), uint64(math.MaxUint64),
		0.1, -2.5e300, math.Inf(-1), "", "héllo", []byte{}, []byte{0, 255},
		[]any{}, []any{int64(1), []any{"x", nil}}, map[any]any{}, map[any]any{"k": map[any]any{int64(2): 3.25}},
	}
	for _, v := range vals {
		b, err := Marshal(v)
		must(t, err)
		if bytes.IndexByte(b, 0xfa) >= 0 && b[0] == 0xfa {
			t.Errorf("%v encoded as float32", v)
		}
		var back any
		must(t, Unmarshal(b, &back))
		if !reflect.DeepEqual(back, v) {
			t.Errorf("round trip %#v -> %x -> %#v", v, b, back)
		}
	}
	// Unsupported Go values fail to encode with an error, not a panic.
	if _, err := Marshal(make(chan int)); err == nil {
		t.Error("channel encoded")
	}
	q, _ := tempQueue(t, QueueOptions{})
	if err := q.Put(func() {}); err == nil {
		t.Error("func put")
	}
	// An ArrayKey must hold an array.
	if _, err := Marshal(map[ArrayKey]int{"x": 1}); err == nil {
		t.Error("bad ArrayKey encoded")
	}
}

// mpipc's own tags (docs/TYPES.md): a Python tuple is an array in Go, in a
// value, a map key and a typed field alike; a manager reference is a
// ManagerRef both ways; a pickle is refused with an error that says so.
func TestCBORMpipcTags(t *testing.T) {
	tuple := func(content string) string { return "da6d707475" + content }
	// (1, (2,)) as a value, through the fast path and through fxamacker's
	// (a half float sends the whole message there).
	for _, h := range []string{tuple("8201" + tuple("8102")), "82f93c00" + tuple("8201"+tuple("8102"))} {
		var got any
		must(t, Unmarshal(hexb(h), &got))
		re, err := Marshal(got)
		must(t, err)
		if bytes.Contains(re, []byte{0xda, 0x6d, 0x70, 0x74, 0x75}) {
			t.Errorf("%s: re-encoded with a TUPLE tag: %x", h, re)
		}
		if h[0] == 'd' && !reflect.DeepEqual(got, []any{int64(1), []any{int64(2)}}) {
			t.Errorf("%s: %#v", h, got)
		}
	}
	// A tuple key is the ArrayKey of its array, nested tuples included.
	var m any
	must(t, Unmarshal(hexb("a1"+tuple("8201"+tuple("8161"+"61"))+"f5"), &m))
	inner := mustKey(int64(1), []any{"a"})
	if mm, ok := m.(map[any]any); !ok || mm[inner] != true {
		t.Errorf("tuple key: %#v, want key %v", m, inner)
	}
	// Typed: into []int and into a struct field.
	var ints []int
	must(t, Unmarshal(hexb(tuple("820102")), &ints))
	if !reflect.DeepEqual(ints, []int{1, 2}) {
		t.Errorf("into []int: %v", ints)
	}
	// A ManagerRef: encoded as REF, decoded into any, into a ManagerRef
	// and into a struct field; and inside a map.
	ref := ManagerRef{Kind: "dict", Name: "d-1", Address: "unix:/tmp/x.sock"}
	enc, err := Marshal(map[string]any{"d": ref})
	must(t, err)
	var back any
	must(t, Unmarshal(enc, &back))
	if got := back.(map[any]any)["d"]; got != ref {
		t.Errorf("ref in a map: %#v", got)
	}
	var typed struct {
		D ManagerRef `cbor:"d"`
	}
	must(t, Unmarshal(enc, &typed))
	if typed.D != ref {
		t.Errorf("ref into a field: %#v", typed.D)
	}
	one, err := Marshal(ref)
	must(t, err)
	if want := "da6d70726683646469637463642d3170756e69783a2f746d702f782e736f636b"; hex.EncodeToString(one) != want {
		t.Errorf("ref encoded %x, want %s", one, want)
	}
	var r2 ManagerRef
	must(t, Unmarshal(one, &r2))
	if r2 != ref || r2.String() != `ManagerRef(dict "d-1" at unix:/tmp/x.sock)` {
		t.Errorf("ref %#v %s", r2, r2)
	}
	if err := Unmarshal(hexb("820102"), &r2); err == nil {
		t.Error("an array decoded into a ManagerRef")
	}
	if _, err := Marshal(ManagerRef{Kind: "\xff"}); err == nil {
		t.Error("a ManagerRef of invalid UTF-8 encoded")
	}
	// Refused: a pickle anywhere (also as typed bytes), a TUPLE on a
	// non-array, a REF of another shape; every error is a decode error.
	for _, h := range []string{
		"da6d70706b4100", "8201da6d70706b4100", "a16161da6d70706b4100",
		tuple("01"), "81" + tuple("a0"), "da6d707266820000", "da6d7072669f6060ff", "da6d7072669f60606060ff",
	} {
		var x any
		err := Unmarshal(hexb(h), &x)
		if err == nil || !strings.HasPrefix(err.Error(), "mpipc: decode:") {
			t.Errorf("%s: %v (%#v)", h, err, x)
		}
		if strings.Contains(h, "6d70706b") && !strings.Contains(err.Error(), `serializer="pickle"`) {
			t.Errorf("%s: %v", h, err)
		}
	}
	var raw []byte
	if err := Unmarshal(hexb("da6d70706b4100"), &raw); err == nil {
		t.Errorf("a pickle decoded into []byte: %x", raw)
	}
}

// Bug 3 of issue 21, the exact bytes: a NaN key beside a 64-bit
// integer stays one entry (the value fix-up never re-inserts), and the
// map writes back with its keys sorted (D5).
func TestCBORNaNKeyBesideBigInt(t *testing.T) {
	in := hexb("a2fb7ff800000000000001616b1bffffffffffffffff")
	var v any
	must(t, Unmarshal(in, &v))
	m := v.(map[any]any)
	if len(m) != 2 || m["k"] != uint64(math.MaxUint64) {
		t.Fatalf("got %#v", m)
	}
	for k, e := range m {
		if f, ok := k.(float64); ok && (math.Float64bits(f) != 0x7ff8000000000000 || e != int64(1)) {
			t.Fatalf("NaN entry %v: %#v", k, e)
		}
	}
	out, err := Marshal(m)
	must(t, err)
	if want := "a2616b1bfffffffffffffffffb7ff800000000000001"; hex.EncodeToString(out) != want {
		t.Fatalf("re-encoded %x, want %s", out, want)
	}
}

type cbNode struct {
	Name string
	Next *cbNode
}

type cbHolder struct{ V any }

// Bug 4: a cyclic value is refused with an error at the nesting limit
// (D3), never a stack overflow; so is any value deeper than 128.
func TestCBORCyclesRefused(t *testing.T) {
	s := []any{nil}
	s[0] = s
	m := map[string]any{}
	m["self"] = m
	n := &cbNode{Name: "a"}
	n.Next = n
	var x any
	x = &x
	h := &cbHolder{}
	h.V = h
	om := OrderedMap{{Key: "k"}}
	om[0].Value = om
	mk := map[any]any{}
	mk["x"] = []any{mk}
	for name, v := range map[string]any{"slice": s, "map": m, "pointer": n, "interface": x, "struct": h, "OrderedMap": om, "map[any]any": mk} {
		b, err := Marshal(v)
		if err == nil || !strings.Contains(err.Error(), "deeper than 128") {
			t.Errorf("%s: %x, %v", name, b, err)
		}
	}
	// Through a queue: refused at put, nothing written.
	q, _ := tempQueue(t, QueueOptions{})
	if err := q.Put(s); err == nil {
		t.Fatal("cyclic put accepted")
	}
	if n, _ := q.Qsize(); n != 0 {
		t.Fatal("something was written")
	}
	// Depth (D3): 128 arrays around 1 are written, 129 refused; 128 empty
	// arrays around an empty one too; a tag counts as an array.
	nest := func(k int, inner any, tag bool) any {
		for i := 0; i < k; i++ {
			if tag {
				inner = cbor.Tag{Number: 99, Content: inner}
			} else {
				inner = []any{inner}
			}
		}
		return inner
	}
	for _, tc := range []struct {
		v  any
		ok bool
	}{
		{nest(128, 1, false), true}, {nest(129, 1, false), false}, {nest(128, []any{}, false), true},
		{nest(128, []any{1}, false), false}, {nest(128, 1, true), true}, {nest(129, 1, true), false},
		{nest(127, map[string]any{"a": 1}, false), true}, {nest(128, map[string]any{"a": 1}, false), false},
		{nest(127, time.Unix(0, 0), false), true}, {nest(128, time.Unix(0, 0), false), false},
		{nest(127, struct{ A int }{1}, false), true}, {nest(128, struct{ A int }{1}, false), false},
	} {
		b, err := Marshal(tc.v)
		if (err == nil) != tc.ok {
			t.Errorf("%.40x...: %v, want ok=%v", b, err, tc.ok)
			continue
		}
		if tc.ok {
			var back any
			if err := Unmarshal(b, &back); err != nil {
				t.Errorf("written %.40x... but refused: %v", b, err)
			}
		}
	}
}

type cbEmbedded struct{ E string }

// Bug 5 / D7: a string that is not UTF-8 is refused, wherever it is; a
// []byte is bytes.
func TestCBORInvalidUTF8Refused(t *testing.T) {
	bad := "a\xffb"
	for name, v := range map[string]any{
		"string": bad, "in []any": []any{1, bad}, "map key": map[string]int{bad: 1}, "map value": map[any]any{"k": bad},
		"struct field": struct{ S string }{bad}, "[]string": []string{bad}, "tag content": cbor.Tag{Number: 32, Content: bad},
		"nested struct field": &struct{ In struct{ A, S string } }{struct{ A, S string }{"ok", bad}},
		"embedded struct field": struct {
			cbEmbedded
			N int
		}{cbEmbedded{bad}, 1},
		"struct []string": struct{ L []string }{[]string{"a", bad}},
		"struct map key":  struct{ M map[string]int }{map[string]int{bad: 1}},
	} {
		if b, err := Marshal(v); err == nil || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("%s: %x, %v", name, b, err)
		}
	}
	b, err := Marshal([]byte(bad))
	must(t, err)
	if hex.EncodeToString(b) != "4361ff62" {
		t.Errorf("bytes: %x", b)
	}
	q, _ := tempQueue(t, QueueOptions{})
	if err := q.Put(bad); err == nil {
		t.Fatal("invalid text put")
	}
	if n, _ := q.Qsize(); n != 0 {
		t.Fatal("something was written")
	}
}

// D5: a Go map is written with its keys sorted by their encoded bytes
// (the same bytes every time); a struct in field order; an OrderedMap in
// its order.
func TestCBORMapOrder(t *testing.T) {
	m := map[string]any{}
	for i := 0; i < 50; i++ {
		m[strconv.Itoa(i*7)] = i
	}
	first, err := Marshal(m)
	must(t, err)
	for i := 0; i < 20; i++ {
		again, err := Marshal(m)
		must(t, err)
		if !bytes.Equal(first, again) {
			t.Fatal("a map's bytes differ between two encodings")
		}
	}
	var om OrderedMap
	must(t, Unmarshal(first, &om))
	for i := 1; i < len(om); i++ {
		a, _ := Marshal(om[i-1].Key)
		b, _ := Marshal(om[i].Key)
		if bytes.Compare(a, b) >= 0 {
			t.Fatalf("keys %v, %v out of order", om[i-1].Key, om[i].Key)
		}
	}
	for _, tc := range []struct {
		v    any
		want string
	}{
		{map[any]any{"b": 1, int64(10): 2, "a": 3, true: 4, -1: 5}, "a50a0220056161036162" + "01f504"},
		{map[int]string{300: "x", 2: "y", -3: "z"}, "a30261791901" + "2c6178" + "22617a"},
		{struct {
			B int `cbor:"b"`
			A int `cbor:"a"`
		}{1, 2}, "a26162016161" + "02"},
		{OrderedMap{{Key: "b", Value: 1}, {Key: "a", Value: 2}}, "a2616201616102"},
	} {
		b, err := Marshal(tc.v)
		if err != nil || hex.EncodeToString(b) != tc.want {
			t.Errorf("%#v: %x (%v), want %s", tc.v, b, err, tc.want)
		}
	}
}

// D4: two equal keys (mpipc's key equality) are refused when written and
// when read, into any and into typed values.
func TestCBORCollidingKeys(t *testing.T) {
	nan := math.Float64frombits(0x7ff8000000000000)
	nanMap := map[float64]int{}
	nanMap[nan] = 1
	nanMap[nan] = 2 // a Go map keeps both
	for name, v := range map[string]any{
		"1 and 1.0":            map[any]any{int64(1): "a", 1.0: "b"},
		"0 and -0.0":           map[any]any{0: "a", math.Copysign(0, -1): "b"},
		"uint 2^63 and 2^63.0": map[any]any{uint64(1 << 63): "a", float64(1 << 63): "b"},
		"two NaNs":             nanMap,
		"[1] and [1.0]":        map[any]any{mustKey(1): "a", mustKey(1.0): "b"},
		"OrderedMap":           OrderedMap{{Key: "a", Value: 1}, {Key: "a", Value: 2}},
		"in a struct":          struct{ M map[any]any }{map[any]any{1: 1, 1.0: 2}},
		"bignum and float":     map[any]any{new(big.Int).Lsh(big.NewInt(1), 64): 1, math.Ldexp(1, 64): 2},
	} {
		if b, err := Marshal(v); err == nil || !strings.Contains(err.Error(), "equal keys") {
			t.Errorf("%s: %x, %v", name, b, err)
		}
	}
	// Distinct keys stay distinct: true and 1, 1 and 1.5, text and bytes.
	if _, err := Marshal(map[any]any{true: 1, int64(1): 2, 1.5: 3, "a": 4, cbor.ByteString("a"): 5}); err != nil {
		t.Error(err)
	}
	for _, in := range []string{"a2616101616102", "a2016161fb3ff00000000000006162", "a2fb7ff800000000000001fb7ff800000000000002"} {
		var a any
		var typed map[string]int
		var anyMap map[any]int
		var st struct{ A int }
		for _, target := range []any{&a, &typed, &anyMap, &st} {
			if err := Unmarshal(hexb(in), target); err == nil || !strings.Contains(err.Error(), "equal keys") {
				t.Errorf("%s into %T: %v", in, target, err)
			}
		}
	}
}

// D2: times are written as tag 1, an integer when whole, else the double
// nearest the exact time; read to the nearest nanosecond; a tag 1 or 0
// Go's time cannot hold stays the tag.
func TestCBORTimes(t *testing.T) {
	type stamped struct {
		T time.Time `cbor:"t"`
	}
	for _, tc := range []struct {
		v    any
		want string
	}{
		{time.Unix(0, -1000000), "c1fbbf50624dd2f1a9fc"},                // -0.001, not -0.0010000000000000009
		{time.Unix(1, 1000000), "c1fb3ff004189374bc6a"},                 // 1.001
		{time.Unix(-2, 999000000), "c1fbbff004189374bc6a"},              // -1.001
		{time.Unix(1700000000, 500000000), "c1fb41d954fc40200000"},      // beyond 2^53 ns: exactly rounded
		{time.Unix(1700000000, 0), "c11a6553f100"},                      // whole: an integer
		{time.Time{}, "c13b0000000e7791f6ff"},                           // year 1: -62135596800
		{stamped{time.Unix(0, -1000000)}, "a16174c1fbbf50624dd2f1a9fc"}, // in a struct too
		{stamped{time.Unix(1700000000, 0)}, "a16174c11a6553f100"},
	} {
		b, err := Marshal(tc.v)
		if err != nil || hex.EncodeToString(b) != tc.want {
			t.Errorf("%v: %x (%v), want %s", tc.v, b, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"c1fb3ff004189374bc6a", time.Unix(1, 1000000)},    // 1.001: to the nearest ns, not truncated
		{"c1fbbff004189374bc6a", time.Unix(-2, 999000000)}, // -1.001
		{"c1fb3f50624dd2f1a9fc", time.Unix(0, 1000000)},    // 0.001
		{"c13b0000000e7791f6ff", time.Unix(-62135596800, 0)},
	} {
		var v any
		must(t, Unmarshal(hexb(tc.in), &v))
		if got, ok := v.(time.Time); !ok || !got.Equal(tc.want) {
			t.Errorf("%s: %#v, want %v", tc.in, v, tc.want)
		}
		if re, err := Marshal(v); err != nil || hex.EncodeToString(re) != tc.in {
			t.Errorf("%s: re-encoded %x (%v)", tc.in, re, err)
		}
	}
	for _, in := range []string{"c1fb7ff8000000000000", "c1fb7ff0000000000000", "c11bffffffffffffffff", "c06568656c6c6f", "a16174c1fb7ff8000000000000"} {
		var v any
		must(t, Unmarshal(hexb(in), &v))
		if re, err := Marshal(v); err != nil || hex.EncodeToString(re) != in {
			t.Errorf("%s: %#v re-encoded %x (%v)", in, v, re, err)
		}
	}
}

// D1, D2: tag 55799 is never written; tags 0-3 only around their content.
func TestCBORTagsWritten(t *testing.T) {
	b, err := Marshal(cbor.Tag{Number: 55799, Content: 1})
	must(t, err)
	if hex.EncodeToString(b) != "01" {
		t.Errorf("55799(1) written %x", b)
	}
	for _, v := range []cbor.Tag{{Number: 0, Content: 5}, {Number: 1, Content: "x"}, {Number: 2, Content: 1}, {Number: 3, Content: []any{}}} {
		if b, err := Marshal(v); err == nil {
			t.Errorf("%v written %x", v, b)
		}
	}
	for _, v := range []cbor.Tag{{Number: 0, Content: "x"}, {Number: 1, Content: math.NaN()}, {Number: 2, Content: []byte{1}}} {
		if _, err := Marshal(v); err != nil {
			t.Errorf("%v: %v", v, err)
		}
	}
}

// A tag around an array or a map as a map key (found by the differential
// test, tests/polyglot/test_differential.py): Go keys its map by a TagKey
// and writes the same bytes back; a tag around a scalar stays a cbor.Tag.
func TestTagKeyRoundTrip(t *testing.T) {
	for _, h := range []string{"a2810100da6d7074c1810101", "a1d86481010a", "a1d864d865a1010203", "a1d8640102"} {
		b, _ := hex.DecodeString(h)
		var v any
		if err := Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		out, err := Marshal(v)
		if err != nil || hex.EncodeToString(out) != h {
			t.Fatalf("%s: re-encoded %x (%v)", h, out, err)
		}
	}
	b, _ := hex.DecodeString("a1d86481010a")
	var v any
	if err := Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	for k := range v.(map[any]any) {
		tk, ok := k.(TagKey)
		if !ok || tk.String() != "100([1])" {
			t.Fatalf("key %#v, want TagKey 100([1])", k)
		}
	}
}

// Times outside RFC 3339's years 1 .. 9999 pass through as the tag, as in
// every binding (docs/TYPES.md, D2), although time.Time holds them.
func TestTimesOutsideYears1To9999PassThrough(t *testing.T) {
	for _, h := range []string{"c13b0000000e7791f700", "c1fbc22cef23ee020000", "c11b0000003afff44180",
		"c074303030302d30312d30315430303a30303a30305a"} {
		b, _ := hex.DecodeString(h)
		var v any
		if err := Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		if _, ok := v.(cbor.Tag); !ok {
			t.Fatalf("%s decoded as %#v, want the tag", h, v)
		}
		if out, err := Marshal(v); err != nil || hex.EncodeToString(out) != h {
			t.Fatalf("%s: re-encoded %x (%v)", h, out, err)
		}
	}
	for _, h := range []string{"c13b0000000e7791f6ff", "c11b0000003afff4417f"} { // years 1 and 9999: times
		b, _ := hex.DecodeString(h)
		var v any
		if err := Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		if _, ok := v.(time.Time); !ok {
			t.Fatalf("%s decoded as %#v, want a time.Time", h, v)
		}
	}
}

// mpipc's TUPLE and REF tags are checked on the wire, through any tag 55799
// around their content or a REF's texts (as Rust, Node and Python check
// them; found by the review of session 8): 55799 is no meaning (D1), so it
// neither hides an inner TUPLE (an array once decoded, but no array on the
// wire) nor makes an array or a text something else.
func TestMpipcTagsThroughSelfDescribed(t *testing.T) {
	ref := ManagerRef{Kind: "a", Name: "b", Address: "c"}
	for _, tc := range []struct {
		in   string
		want any
		out  string // the bytes the decoded value encodes to
	}{
		{"da6d707475d9d9f780", []any{}, "80"},                                        // TUPLE(55799([]))
		{"da6d707475da0000d9f7820102", []any{int64(1), int64(2)}, "820102"},          // 55799 in a 5-byte head
		{"da6d707266d9d9f783616161626163", ref, "da6d70726683616161626163"},          // REF(55799([...]))
		{"da6d70726683d9d9f7616161626163", ref, "da6d70726683616161626163"},          // REF([55799("a"), ...])
		{"da6d7072669f6161d9d9f761626163ff", ref, "da6d70726683616161626163"},        // indefinite
		{"a1da6d707475d9d9f781010a", map[any]any{mustKey(1): int64(10)}, "a181010a"}, // a tuple key
	} {
		var v any
		if err := Unmarshal(hexb(tc.in), &v); err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(v, tc.want) {
			t.Errorf("%s: %#v, want %#v", tc.in, v, tc.want)
		}
		if out, err := Marshal(v); err != nil || hex.EncodeToString(out) != tc.out {
			t.Errorf("%s: re-encoded %x (%v), want %s", tc.in, out, err, tc.out)
		}
	}
	var r ManagerRef
	if err := Unmarshal(hexb("da6d70726683d9d9f7616161626163"), &r); err != nil || r != ref {
		t.Errorf("typed REF through 55799: %v, %v", r, err)
	}
	var a []int
	if err := Unmarshal(hexb("da6d707475d9d9f7820102"), &a); err != nil || !reflect.DeepEqual(a, []int{1, 2}) {
		t.Errorf("typed TUPLE through 55799: %v, %v", a, err)
	}
	// A TUPLE inside a TUPLE or a REF is no array on the wire (though it
	// decodes to one): refused, into any and into a typed value alike.
	for _, in := range []string{
		"da6d707475da6d70747580",             // TUPLE(TUPLE([]))
		"a1da6d707475da6d707475810100",       // the same as a key
		"da6d707266da6d70747583616161626163", // REF(TUPLE(["a", "b", "c"]))
		"da6d707475d9d9f7da6d70747580",       // TUPLE(55799(TUPLE([])))
		"da6d70726683d9d9f7016162616363",     // REF([55799(1), ...])
	} {
		var v any
		if err := Unmarshal(hexb(in), &v); err == nil {
			t.Errorf("%s: decoded as %#v, want a refusal", in, v)
		}
		var typed []any
		if err := Unmarshal(hexb(in), &typed); err == nil {
			t.Errorf("%s: decoded into []any as %#v, want a refusal", in, typed)
		}
	}
}

// A long run of tag 55799 is its content (D1: no level), as in Rust, Node
// and Python; fxamacker/cbor alone would count each tag as a level and
// refuse more than 65535 of them.
func TestSelfDescribedLongRun(t *testing.T) {
	run := strings.Repeat("d9d9f7", 70000)
	longRun := strings.Repeat("da0000d9f7", 70000)
	for _, tc := range []struct {
		in   string
		want any
	}{
		{run + "01", int64(1)},
		{longRun + "01", int64(1)},
		{"81" + run + "01", []any{int64(1)}},
		{"a1" + run + "6161" + run + "02", map[any]any{"a": int64(2)}},
		{"da6d707475" + run + "80", []any{}},
		{run + "c1" + run + "00", time.Unix(0, 0)},
	} {
		var v any
		if err := Unmarshal(hexb(tc.in), &v); err != nil {
			t.Errorf("%.40s...: %v", tc.in, err)
			continue
		}
		if tm, ok := tc.want.(time.Time); ok {
			if got, ok := v.(time.Time); !ok || !got.Equal(tm) {
				t.Errorf("%.40s...: %#v, want %v", tc.in, v, tm)
			}
		} else if !reflect.DeepEqual(v, tc.want) {
			t.Errorf("%.40s...: %#v, want %#v", tc.in, v, tc.want)
		}
	}
	var n int
	if err := Unmarshal(hexb(run+"01"), &n); err != nil || n != 1 {
		t.Errorf("typed: %d, %v", n, err)
	}
	var s struct {
		A int `cbor:"a"`
	}
	if err := Unmarshal(hexb(run+"a1"+run+"6161"+run+"02"), &s); err != nil || s.A != 2 {
		t.Errorf("typed struct: %+v, %v", s, err)
	}
	var om OrderedMap
	if err := Unmarshal(hexb(run+"a16161"+run+"02"), &om); err != nil || len(om) != 1 || om[0].Key != "a" || om[0].Value != int64(2) {
		t.Errorf("OrderedMap: %v, %v", om, err)
	}
	// Still no level, but what it holds counts: 129 arrays are too deep.
	var v any
	if err := Unmarshal(hexb(run+strings.Repeat("81", 129)+"01"), &v); err == nil {
		t.Error("129 nested arrays behind 55799s decoded")
	}
}

// A map as a map key (mpipc's key equality compares maps entry by entry,
// in order, as Rust and Node do): Go keys its map by a MapKey, which
// writes the same bytes back.
func TestMapKey(t *testing.T) {
	var v any
	must(t, Unmarshal(hexb("a1a1010200"), &v)) // {{1: 2}: 0}
	m, ok := v.(map[any]any)
	if !ok || len(m) != 1 {
		t.Fatalf("decoded %#v", v)
	}
	want, err := NewMapKey(map[any]any{1: 2})
	must(t, err)
	if x, ok := m[want]; !ok || x != int64(0) {
		t.Fatalf("%#v has no key %v", m, want)
	}
	if want.String() != "{1: 2}" {
		t.Errorf("String: %s", want.String())
	}
	entries, err := want.Entries()
	if err != nil || !reflect.DeepEqual(entries, OrderedMap{{Key: int64(1), Value: int64(2)}}) {
		t.Errorf("Entries: %#v, %v", entries, err)
	}
	for _, h := range []string{
		"a1a1010200",                 // {{1: 2}: 0}
		"a2a2010203040aa2030401020b", // two keys, the same entries in another order: two keys
		"a1a1810102f6",               // {{[1]: 2}: null}
		"a181a1010200",               // {[{1: 2}]: 0}: an ArrayKey holding a map
		"a1d864a10102f5",             // a tag around a map: a TagKey
		"a1a0a0",                     // {{}: {}}
	} {
		var v any
		if err := Unmarshal(hexb(h), &v); err != nil {
			t.Errorf("%s: %v", h, err)
			continue
		}
		if out, err := Marshal(v); err != nil || hex.EncodeToString(out) != h {
			t.Errorf("%s: %#v re-encoded %x (%v)", h, v, out, err)
		}
	}
	// 55799 around the key is dropped; floats widened, as for ArrayKey.
	must(t, Unmarshal(hexb("a1d9d9f7a101f93c0000"), &v))
	k, err := NewMapKey(OrderedMap{{Key: 1, Value: 1.0}})
	must(t, err)
	if _, ok := v.(map[any]any)[k]; !ok {
		t.Errorf("%#v has no key %v", v, k)
	}
	// Two equal map keys are refused (D4): the same entries, 2 and 2.0.
	if err := Unmarshal(hexb("a2a1010200a101fb400000000000000001"), &v); err == nil {
		t.Errorf("equal map keys decoded: %#v", v)
	}
	if _, err := Marshal(map[MapKey]int{"x": 1}); err == nil {
		t.Error("a MapKey that holds no map encoded")
	}
	if _, err := NewMapKey([]int{1}); err == nil {
		t.Error("NewMapKey of a slice")
	}
	if _, err := Marshal(map[any]any{want: 1, MapKey(hexb("a101fb4000000000000000")): 2}); err == nil {
		t.Error("two equal MapKeys ({1: 2} and {1: 2.0}) encoded")
	}
}

// A REF as a map key (a Python proxy keying a dict) decodes to a
// ManagerRef key and writes the same bytes back; Go refused the map before
// (fxamacker/cbor cannot key a map by the cbor.Tag holding its array).
func TestRefKey(t *testing.T) {
	ref := ManagerRef{Kind: "a", Name: "b", Address: "c"}
	for _, tc := range []struct{ in, out string }{
		{"a1da6d707266836161616261630a", "a1da6d707266836161616261630a"},
		{"a1da6d707266d9d9f7836161616261630a", "a1da6d707266836161616261630a"},
		{"a1d9d9f7da6d70726683616161626163a10102", "a1da6d70726683616161626163a10102"},
	} {
		var v any
		if err := Unmarshal(hexb(tc.in), &v); err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		m, _ := v.(map[any]any)
		if _, ok := m[ref]; !ok || len(m) != 1 {
			t.Errorf("%s: %#v, want the key %v", tc.in, v, ref)
		}
		if out, err := Marshal(v); err != nil || hex.EncodeToString(out) != tc.out {
			t.Errorf("%s: re-encoded %x (%v), want %s", tc.in, out, err, tc.out)
		}
	}
	var v any
	if err := Unmarshal(hexb("a2da6d707266836161616261630ada6d707266836161616261630b"), &v); err == nil {
		t.Errorf("two equal REF keys decoded: %#v", v)
	}
	if err := Unmarshal(hexb("a1da6d70726682616161620a"), &v); err == nil {
		t.Errorf("a REF key of two texts decoded: %#v", v)
	}
}
