package mpipc

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/big"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// The shared test vectors of docs/TYPES.md (tests/vectors/cbor.json):
// every valid vector decodes to the Go value its description names and
// that value encodes back to exactly its bytes (to hex_plain where the
// value holds a Python tuple: Go drops the TUPLE tag, and decodes
// hex_plain to the same value); every invalid vector is refused (a
// pickle with an error that says so); every decode_only vector decodes
// to its value.

type vector struct {
	Name      string            `json:"name"`
	Hex       string            `json:"hex"`
	HexPlain  string            `json:"hex_plain"` // a tuple's bytes as Go writes them (no TUPLE tag)
	Value     json.RawMessage   `json:"value"`
	Pickle    json.RawMessage   `json:"pickle"`     // an invalid vector that is a Python pickle
	Reencoded map[string]string `json:"reencoded"`  // what a binding writes for the decoded value (Go: keys sorted, D5)
	RefusedBy []string          `json:"refused_by"` // bindings that refuse this valid vector
	Encoded   map[string]string `json:"encoded"`    // times: what each binding writes for the decoded time
}

func TestSharedCBORVectors(t *testing.T) {
	raw, err := os.ReadFile("../../tests/vectors/cbor.json")
	if err != nil {
		t.Skipf("no vectors: %v", err)
	}
	var file struct {
		Valid         []vector `json:"valid"`
		Invalid       []vector `json:"invalid"`
		DecodeOnly    []vector `json:"decode_only"`
		Times         []vector `json:"times"`
		EncodeInvalid []vector `json:"encode_invalid"`
	}
	must(t, json.Unmarshal(raw, &file))
	if len(file.Valid) == 0 || len(file.Invalid) == 0 || len(file.DecodeOnly) == 0 {
		t.Fatal("empty vector file")
	}
	tuples, refs := 0, 0
	for _, v := range file.Valid {
		data := hexb(v.Hex)
		desc := parseDesc(t, v.Value)
		if slices.Contains(v.RefusedBy, "go") {
			var got any
			if err := Unmarshal(data, &got); err == nil {
				t.Errorf("%s: accepted as %#v", v.Name, got)
			}
			continue
		}
		var got any
		if err := Unmarshal(data, &got); err != nil {
			t.Errorf("%s: decode: %v", v.Name, err)
			continue
		}
		if want := decodedForm(desc); !sameValue(got, want) {
			t.Errorf("%s: decoded %#v, want %#v", v.Name, got, want)
		}
		refs += bytes.Count(data, []byte{0xda, 0x6d, 0x70, 0x72, 0x66})
		if v.HexPlain != "" {
			// Go writes a tuple as the plain array: every check below is
			// on those bytes, which decode to the same value.
			tuples++
			data = hexb(v.HexPlain)
			var plain any
			if err := Unmarshal(data, &plain); err != nil || !sameValue(plain, decodedForm(desc)) {
				t.Errorf("%s: hex_plain decoded %#v (%v)", v.Name, plain, err)
			}
		}
		enc, err := Marshal(encodeForm(desc))
		if err != nil {
			t.Errorf("%s: encode: %v", v.Name, err)
			continue
		}
		if !bytes.Equal(enc, data) {
			t.Errorf("%s: encoded %x, want %x", v.Name, enc, data)
		}
		// A value decoded into any re-encodes to the same bytes, or to
		// reencoded["go"] (a map[any]any writes its keys sorted, D5).
		want := data
		if r, ok := v.Reencoded["go"]; ok {
			want = hexb(r)
		}
		if re, err := Marshal(got); err != nil || !bytes.Equal(re, want) {
			t.Errorf("%s: decoded then re-encoded %x (%v), want %x", v.Name, re, err, want)
		}
		// Into an OrderedMap, the top level's order survives too (nested
		// maps are map[any]any).
		if desc.kind == "map" && !hasNestedBigMap(desc) {
			var om OrderedMap
			must(t, Unmarshal(data, &om))
			re, err := Marshal(om)
			if err != nil || !bytes.Equal(re, data) {
				t.Errorf("%s: through OrderedMap %x (%v)", v.Name, re, err)
			}
		}
	}
	if tuples == 0 || refs == 0 {
		t.Errorf("the vectors hold %d tuples and %d references: mpipc's tags are not covered", tuples, refs)
	}
	pickles := 0
	for _, v := range file.Invalid {
		var got any
		err := Unmarshal(hexb(v.Hex), &got)
		if err == nil {
			t.Errorf("%s: accepted %s as %#v", v.Name, v.Hex, got)
			continue
		}
		if v.Pickle != nil {
			pickles++
			if !strings.Contains(err.Error(), "Python pickle") {
				t.Errorf("%s: the error does not say it is a Python pickle: %v", v.Name, err)
			}
			// Into a typed value too (a pickle's bytes must not pass as []byte).
			var typed []any
			if err := Unmarshal(hexb(v.Hex), &typed); err == nil || !strings.Contains(err.Error(), "Python pickle") {
				t.Errorf("%s: into []any: %v", v.Name, err)
			}
		}
	}
	if pickles == 0 {
		t.Error("no pickle among the invalid vectors")
	}
	for _, v := range file.DecodeOnly {
		var got any
		if err := Unmarshal(hexb(v.Hex), &got); err != nil {
			t.Errorf("%s: %v", v.Name, err)
			continue
		}
		if want := decodedForm(parseDesc(t, v.Value)); !sameValue(got, want) {
			t.Errorf("%s: decoded %#v, want %#v", v.Name, got, want)
		}
	}
	// Times (D2): decoded to a time.Time, to the nearest nanosecond, and
	// written as encoded["go"].
	for _, v := range file.Times {
		var got any
		if err := Unmarshal(hexb(v.Hex), &got); err != nil {
			t.Errorf("%s: %v", v.Name, err)
			continue
		}
		if _, ok := got.(time.Time); !ok {
			t.Errorf("%s: decoded %#v, want a time.Time", v.Name, got)
			continue
		}
		if re, err := Marshal(got); err != nil || hex.EncodeToString(re) != v.Encoded["go"] {
			t.Errorf("%s: %v written %x (%v), want %s", v.Name, got, re, err, v.Encoded["go"])
		}
	}
	// Values every encoder refuses (D2, D3, D4, D7): an error, nothing written.
	if len(file.EncodeInvalid) == 0 {
		t.Error("no encode_invalid vectors")
	}
	for _, v := range file.EncodeInvalid {
		val := encodeForm(parseDesc(t, v.Value))
		if b, err := Marshal(val); err == nil {
			t.Errorf("%s: encoded as %x", v.Name, b)
		}
		q := new(bytes.Buffer)
		q.WriteString("prefix")
		if err := marshalTo(q, val); err == nil || q.String() != "prefix" {
			t.Errorf("%s: marshalTo left %q (%v)", v.Name, q.String(), err)
		}
	}
	// Nesting (D3): 128 arrays around 1 accepted, 129 refused; 129 nested
	// empty arrays accepted (the innermost is at depth 128).
	deep := func(n int, inner byte) []byte { return append(bytes.Repeat([]byte{0x81}, n), inner) }
	var got any
	must(t, Unmarshal(deep(128, 0x01), &got))
	must(t, Unmarshal(deep(128, 0x80), &got))
	if err := Unmarshal(deep(129, 0x01), &got); err == nil {
		t.Error("1 at depth 129 accepted")
	}
}

// desc is a parsed value description of the vector grammar.
type desc struct {
	kind  string // null bool int float text bytes array map tag ref (a tuple is an array: Go drops the tag)
	gen   bool   // a tag 0 or 1 that is the generic cbor.Tag (a time Go cannot hold)
	b     bool
	i     *big.Int
	f     float64
	s     string
	by    []byte
	items []desc    // array
	pairs [][2]desc // map
	tag   uint64
	inner *desc
	ref   ManagerRef
}

func parseDesc(t *testing.T, raw json.RawMessage) desc {
	var m map[string]json.RawMessage
	must(t, json.Unmarshal(raw, &m))
	var d desc
	for k, v := range m {
		switch k {
		case "null":
			d.kind = "null"
		case "bool":
			d.kind = "bool"
			must(t, json.Unmarshal(v, &d.b))
		case "int":
			var s string
			must(t, json.Unmarshal(v, &s))
			d.kind, d.i = "int", new(big.Int)
			d.i.SetString(s, 10)
		case "float":
			d.kind = "float"
			var s string
			if json.Unmarshal(v, &s) == nil {
				switch s {
				case "inf":
					d.f = math.Inf(1)
				case "-inf":
					d.f = math.Inf(-1)
				case "-0.0":
					d.f = math.Copysign(0, -1)
				case "nan":
					d.f = math.Float64frombits(0x7ff8000000000000)
				default:
					t.Fatalf("float %q", s)
				}
			} else {
				must(t, json.Unmarshal(v, &d.f))
			}
		case "text":
			d.kind = "text"
			must(t, json.Unmarshal(v, &d.s))
		case "text_utf8": // not UTF-8: a Go string holds the bytes
			var s string
			must(t, json.Unmarshal(v, &s))
			d.kind, d.s = "text", string(hexb(s))
		case "bytes":
			var s string
			must(t, json.Unmarshal(v, &s))
			d.kind, d.by = "bytes", hexb(s)
		case "ref":
			var f [3]string
			must(t, json.Unmarshal(v, &f))
			d.kind, d.ref = "ref", ManagerRef{Kind: f[0], Name: f[1], Address: f[2]}
		case "array", "tuple":
			var items []json.RawMessage
			must(t, json.Unmarshal(v, &items))
			d.kind, d.items = "array", []desc{}
			for _, it := range items {
				d.items = append(d.items, parseDesc(t, it))
			}
		case "map":
			var pairs [][2]json.RawMessage
			must(t, json.Unmarshal(v, &pairs))
			d.kind, d.pairs = "map", [][2]desc{}
			for _, p := range pairs {
				d.pairs = append(d.pairs, [2]desc{parseDesc(t, p[0]), parseDesc(t, p[1])})
			}
		case "tag":
			if _, nest := m["nest"]; !nest {
				d.kind = "tag"
			}
			must(t, json.Unmarshal(v, &d.tag))
		case "generic":
			must(t, json.Unmarshal(v, &d.gen))
		case "nest":
		case "value":
		default:
			t.Fatalf("unknown description %q", k)
		}
	}
	if d.kind == "tag" {
		in := parseDesc(t, m["value"])
		d.inner = &in
	}
	if n, ok := m["nest"]; ok { // k one-element arrays (or tags d.tag) around the value
		var k int
		must(t, json.Unmarshal(n, &k))
		out := parseDesc(t, m["value"])
		for i := 0; i < k; i++ {
			in := out
			if _, tagged := m["tag"]; tagged {
				out = desc{kind: "tag", tag: d.tag, inner: &in}
			} else {
				out = desc{kind: "array", items: []desc{in}}
			}
		}
		return out
	}
	return d
}

func intValue(i *big.Int) any {
	if i.IsInt64() {
		return i.Int64()
	}
	if i.IsUint64() {
		return i.Uint64()
	}
	return i
}

// decodedForm is what Unmarshal into any must give.
func decodedForm(d desc) any {
	switch d.kind {
	case "bool":
		return d.b
	case "int":
		return intValue(d.i)
	case "float":
		return d.f
	case "text":
		return d.s
	case "bytes":
		return d.by
	case "array":
		out := []any{}
		for _, it := range d.items {
			out = append(out, decodedForm(it))
		}
		return out
	case "map":
		out := map[any]any{}
		for _, p := range d.pairs {
			out[keyForm(p[0])] = decodedForm(p[1])
		}
		return out
	case "tag":
		if d.tag == 1 && !d.gen {
			return epochTime(d.inner)
		}
		if d.tag == 0 && !d.gen {
			tm, err := time.Parse(time.RFC3339Nano, d.inner.s)
			if err != nil {
				panic(err)
			}
			return tm
		}
		return cbor.Tag{Number: d.tag, Content: decodedForm(*d.inner)}
	case "ref":
		return d.ref
	}
	return nil
}

func keyForm(d desc) any {
	switch d.kind {
	case "bytes":
		return cbor.ByteString(d.by)
	case "array":
		b, err := Marshal(encodeForm(d))
		if err != nil {
			panic(err)
		}
		return ArrayKey(b)
	case "map": // a map key: its encoding, entries in the vector's order
		b, err := Marshal(encodeForm(d))
		if err != nil {
			panic(err)
		}
		return MapKey(b)
	}
	return decodedForm(d)
}

func epochTime(d *desc) time.Time {
	if d.kind == "int" {
		return time.Unix(d.i.Int64(), 0)
	}
	sec, frac := math.Modf(d.f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9)))
}

// encodeForm is the native Go value that must encode to the vector's bytes.
func encodeForm(d desc) any {
	switch d.kind {
	case "int":
		if d.i.IsInt64() {
			return d.i.Int64()
		}
		if d.i.IsUint64() {
			return d.i.Uint64()
		}
		return d.i
	case "array":
		out := []any{}
		for _, it := range d.items {
			out = append(out, encodeForm(it))
		}
		return out
	case "map":
		om := OrderedMap{}
		for _, p := range d.pairs {
			om = append(om, Item{Key: encodeForm(p[0]), Value: encodeForm(p[1])})
		}
		return om
	case "tag":
		if !d.gen && (d.tag == 1 && (d.inner.kind == "int" || d.inner.kind == "float") || d.tag == 0 && d.inner.kind == "text") {
			return decodedForm(d) // a time.Time
		}
		return cbor.Tag{Number: d.tag, Content: encodeForm(*d.inner)}
	}
	return decodedForm(d)
}

func hasBigMap(d desc) bool {
	if d.kind == "map" && len(d.pairs) > 1 {
		return true
	}
	for _, it := range d.items {
		if hasBigMap(it) {
			return true
		}
	}
	for _, p := range d.pairs {
		if hasBigMap(p[0]) || hasBigMap(p[1]) {
			return true
		}
	}
	return d.inner != nil && hasBigMap(*d.inner)
}

// sameValue is reflect.DeepEqual, with floats compared by bits (-0.0 is
// not 0.0), big integers by value and times by instant.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[any]any:
		y, ok := b.(map[any]any)
		if !ok || len(x) != len(y) {
			return false
		}
		nans := map[uint64]any{} // NaN keys cannot be looked up: by bits
		for k, w := range y {
			if f, ok := k.(float64); ok && f != f {
				nans[math.Float64bits(f)] = w
			}
		}
		for k, v := range x {
			if f, ok := k.(float64); ok && f != f {
				w, ok := nans[math.Float64bits(f)]
				if !ok || !sameValue(v, w) {
					return false
				}
				continue
			}
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	case cbor.Tag:
		y, ok := b.(cbor.Tag)
		return ok && x.Number == y.Number && sameValue(x.Content, y.Content)
	}
	return reflect.DeepEqual(a, b)
}

func hasNestedBigMap(d desc) bool {
	for _, p := range d.pairs {
		if hasBigMap(p[0]) || hasBigMap(p[1]) {
			return true
		}
	}
	return false
}
