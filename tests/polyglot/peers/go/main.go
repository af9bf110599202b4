// Command peer is the Go peer of the cross-language end-to-end tests
// (tests/polyglot/PEERS.md):
//
//	peer <send|recv> <queue|pipe|listener|manager|array|lock> <name> <vectors.json>
//
// It uses the Go binding's public API (OpenQueue, FromFile, Listen/Dial,
// ConnectManager, OpenArray, OpenLock). Native values are built from the
// vectors' descriptions (int64 / uint64 / *big.Int, float64, string,
// []byte, []any, OrderedMap with ArrayKey array keys, time.Time for tag 1,
// cbor.Tag for other tags) and sent with the object API. Received messages
// are taken as raw bytes (GetBytes, RecvBytes, the manager's results into a
// cbor.RawMessage), compared with the vector's hex, decoded with
// mpipc.Unmarshal, compared with the described value and re-encoded with
// mpipc.Marshal.
package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	mpipc "github.com/mpipc/mpipc/bindings/go"
)

var authkey = []byte("polyglot")

const timeout = 10 * time.Second

var failed int

func fail(format string, args ...any) {
	failed++
	fmt.Fprintf(os.Stderr, "go peer: "+format+"\n", args...)
}

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "go peer: fatal: "+format+"\n", args...)
	os.Exit(2)
}

func ready() {
	os.Stdout.WriteString("READY\n")
}

// ---- value descriptions ----

// desc is a parsed value description of the vectors' grammar.
type desc struct {
	kind  string // null bool int float text bytes array map tag
	b     bool
	i     *big.Int
	f     float64
	s     string
	by    []byte
	items []desc    // array
	pairs [][2]desc // map
	tag   uint64
	inner *desc
	ref   mpipc.ManagerRef // kind "ref"
	// generic: a tag 0 or 1 that no time.Time holds (TYPES.md D2): the
	// generic cbor.Tag, not a time.
	generic bool
	tuple   bool // an "array" that the description calls a {tuple}
}

func parseDesc(raw json.RawMessage) desc {
	var m map[string]json.RawMessage
	must(json.Unmarshal(raw, &m))
	var d desc
	for k, v := range m {
		switch k {
		case "null":
			d.kind = "null"
		case "bool":
			d.kind = "bool"
			must(json.Unmarshal(v, &d.b))
		case "int":
			var s string
			must(json.Unmarshal(v, &s))
			d.kind, d.i = "int", new(big.Int)
			if _, ok := d.i.SetString(s, 10); !ok {
				die("integer %q", s)
			}
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
				case "nan": // the quiet NaN 0x7ff8000000000000 (math.NaN() has another payload)
					d.f = math.Float64frombits(0x7ff8000000000000)
				default:
					f, err := strconv.ParseFloat(s, 64)
					if err != nil {
						die("float %q", s)
					}
					d.f = f
				}
			} else {
				must(json.Unmarshal(v, &d.f))
			}
		case "text":
			d.kind = "text"
			must(json.Unmarshal(v, &d.s))
		case "bytes":
			var s string
			must(json.Unmarshal(v, &s))
			d.kind, d.by = "bytes", unhex(s)
		case "ref":
			var f [3]string
			must(json.Unmarshal(v, &f))
			d.kind, d.ref = "ref", mpipc.ManagerRef{Kind: f[0], Name: f[1], Address: f[2]}
		case "array", "tuple": // Go has no tuple: a Python tuple is an array here
			var items []json.RawMessage
			must(json.Unmarshal(v, &items))
			d.kind, d.items, d.tuple = "array", []desc{}, k == "tuple"
			for _, it := range items {
				d.items = append(d.items, parseDesc(it))
			}
		case "map":
			var pairs [][2]json.RawMessage
			must(json.Unmarshal(v, &pairs))
			d.kind, d.pairs = "map", [][2]desc{}
			for _, p := range pairs {
				d.pairs = append(d.pairs, [2]desc{parseDesc(p[0]), parseDesc(p[1])})
			}
		case "tag":
			d.kind = "tag"
			must(json.Unmarshal(v, &d.tag))
		case "generic":
			must(json.Unmarshal(v, &d.generic))
		case "value", "nest":
		default:
			die("unknown description %q", k)
		}
	}
	if raw, ok := m["nest"]; ok {
		// {nest: k, [tag: n,] value: v}: k one-element arrays (or tags n) around v.
		var k int
		must(json.Unmarshal(raw, &k))
		out := parseDesc(m["value"])
		for ; k > 0; k-- {
			in := out
			if d.kind == "tag" {
				out = desc{kind: "tag", tag: d.tag, inner: &in}
			} else {
				out = desc{kind: "array", items: []desc{in}}
			}
		}
		return out
	}
	if d.kind == "tag" {
		in := parseDesc(m["value"])
		d.inner = &in
	}
	return d
}

// isTime: d is a tag 0 or 1 that Go decodes as a time.Time.
func isTime(d desc) bool {
	return d.kind == "tag" && (d.tag == 0 || d.tag == 1) && !d.generic
}

// depth is the depth of d's deepest item (TYPES.md D3: the top item is at
// depth 0, an item inside an array, a map or a tag one deeper).
func depth(d desc) int {
	switch d.kind {
	case "int":
		m := new(big.Int).Set(d.i) // the head's argument: n, or -1-n for a negative n
		if m.Sign() < 0 {
			m.Neg(m).Sub(m, big.NewInt(1))
		}
		if m.BitLen() > 64 {
			return 1 // a bignum: tag 2/3 around bytes
		}
	case "array":
		n := -1
		for _, it := range d.items {
			n = max(n, depth(it))
		}
		if d.tuple {
			return n + 2 // TUPLE, the array
		}
		return n + 1
	case "map":
		n := -1
		for _, p := range d.pairs {
			n = max(n, depth(p[0]), depth(p[1]))
		}
		return n + 1
	case "tag":
		return 1 + depth(*d.inner)
	case "ref":
		return 2
	}
	return 0
}

// arrayInKey: d has an {array} (not a {tuple}) inside a map key, which
// Python cannot send (a key's list is a tuple there, written with the
// TUPLE tag).
func arrayInKey(d desc, inKey bool) bool {
	switch d.kind {
	case "array":
		if inKey && !d.tuple {
			return true
		}
		for _, it := range d.items {
			if arrayInKey(it, inKey) {
				return true
			}
		}
	case "map":
		for _, p := range d.pairs {
			if arrayInKey(p[0], true) || arrayInKey(p[1], inKey) {
				return true
			}
		}
	case "tag":
		return arrayInKey(*d.inner, inKey)
	}
	return false
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

func epochTime(d *desc) time.Time {
	if d.kind == "int" {
		return time.Unix(d.i.Int64(), 0)
	}
	sec, frac := math.Modf(d.f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9)))
}

// timeOf is the time.Time of a tag 0 (RFC 3339 text) or 1 (epoch seconds).
func timeOf(d desc) time.Time {
	if d.tag == 1 {
		return epochTime(d.inner)
	}
	t, err := time.Parse(time.RFC3339Nano, d.inner.s)
	if err != nil {
		die("tag 0 %q: %v", d.inner.s, err)
	}
	return t
}

// native is the Go value the sender sends for d.
func native(d desc) any {
	switch d.kind {
	case "null":
		return nil
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
			out = append(out, native(it))
		}
		return out
	case "map":
		// Order matters for the bytes: the binding's ordered map.
		om := mpipc.OrderedMap{}
		for _, p := range d.pairs {
			om = append(om, mpipc.Item{Key: nativeKey(p[0]), Value: native(p[1])})
		}
		return om
	case "tag":
		if isTime(d) {
			return timeOf(d)
		}
		return cbor.Tag{Number: d.tag, Content: native(*d.inner)}
	case "ref":
		return d.ref
	}
	die("description kind %q", d.kind)
	return nil
}

func nativeKey(d desc) any {
	if d.kind == "array" {
		elems := []any{}
		for _, it := range d.items {
			elems = append(elems, native(it))
		}
		k, err := mpipc.NewArrayKey(elems...)
		if err != nil {
			die("NewArrayKey: %v", err)
		}
		return k
	}
	return native(d)
}

// decodedForm is what mpipc.Unmarshal into any must give for d.
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
		if isTime(d) {
			return timeOf(d)
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
		return nativeKey(d)
	}
	return decodedForm(d)
}

// sameValue is reflect.DeepEqual with floats compared by bits, big
// integers by value and times by instant.
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
		for k, v := range x {
			w, ok := y[k]
			if !ok {
				// A NaN key is found by no lookup (NaN != NaN): by bits.
				for k2, v2 := range y {
					if sameValue(k, k2) {
						w, ok = v2, true
						break
					}
				}
			}
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

// hasBigMap: d holds a map of two entries or more, at any depth.
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

func hasNestedBigMap(d desc) bool {
	for _, p := range d.pairs {
		if hasBigMap(p[0]) || hasBigMap(p[1]) {
			return true
		}
	}
	return false
}

// ---- vectors and checks ----

type vector struct {
	Name      string            `json:"name"`
	Hex       string            `json:"hex"`
	HexPlain  string            `json:"hex_plain"`
	Value     json.RawMessage   `json:"value"`
	RefusedBy []string          `json:"refused_by"` // the bindings whose decoder refuses hex
	Reencoded map[string]string `json:"reencoded"`  // binding: what it writes for the decoded value
	bytes     []byte            // what the sender wrote (hex_plain from Go and Node, else hex)
	plain     []byte            // what Go writes for the decoded value: reencoded["go"], else hex_plain if the value holds a tuple, else hex
	ordered   []byte            // what Go writes for an OrderedMap decoding of the value: hex_plain or hex
	refused   bool              // Go's decoder refuses it ("go" in RefusedBy)
	desc      desc
}

// sender is the sender's language (MPIPC_E2E_SENDER, set by the driver for
// both peers); plainSender: it writes a Python tuple as the plain array, as
// Go does (PEERS.md).
var sender = os.Getenv("MPIPC_E2E_SENDER")
var plainSender = sender == "go" || sender == "node"

// maxDepth is D3's limit (docs/TYPES.md): no item deeper than 128.
const maxDepth = 128

// skipped: vector v is left out of this exchange by both peers alike
// (PEERS.md, "Vectors a peer leaves out"): the sender's binding refuses it
// (it cannot build the value), Python sends an {array} map key (a tuple
// there, written with the TUPLE tag), or the manager carries a value too
// deep to sit in a call's argument array.
func skipped(v *vector, primitive string) bool {
	for _, b := range v.RefusedBy {
		if b == sender {
			return true
		}
	}
	return (sender == "python" && arrayInKey(v.desc, false)) || (primitive == "manager" && depth(v.desc) >= maxDepth)
}

func must(err error) {
	if err != nil {
		die("%v", err)
	}
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		die("hex %q: %v", s, err)
	}
	return b
}

func load(path, primitive string) []vector {
	raw, err := os.ReadFile(path)
	must(err)
	var file struct {
		Valid []vector `json:"valid"`
	}
	must(json.Unmarshal(raw, &file))
	var vs []vector
	for i := range file.Valid {
		v := file.Valid[i]
		v.bytes, v.ordered = unhex(v.Hex), unhex(v.Hex)
		if v.HexPlain != "" {
			v.ordered = unhex(v.HexPlain)
			if plainSender {
				v.bytes = v.ordered
			}
		}
		v.plain = v.ordered
		if h, ok := v.Reencoded["go"]; ok {
			v.plain = unhex(h)
		}
		for _, b := range v.RefusedBy {
			v.refused = v.refused || b == "go"
		}
		v.desc = parseDesc(v.Value)
		if !skipped(&v, primitive) {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		die("no valid vector in %s", path)
	}
	return vs
}

// check: raw bytes received for v are the sender's canonical encoding,
// decode to the described value and encode back to what Go writes (the
// same bytes, but for a tuple: hex_plain).
func check(what string, v *vector, got []byte) {
	if !bytes.Equal(got, v.bytes) {
		fail("%s: vector %s: got bytes %x, want %x", what, v.Name, got, v.bytes)
	}
	var x any
	err := mpipc.Unmarshal(got, &x)
	if v.refused {
		if err == nil {
			fail("%s: vector %s: decoded %#v, want a decode error (refused_by)", what, v.Name, x)
		}
		return
	}
	if err != nil {
		fail("%s: vector %s: decode: %v", what, v.Name, err)
		return
	}
	if want := decodedForm(v.desc); !sameValue(x, want) {
		fail("%s: vector %s: decoded %#v, want %#v", what, v.Name, x, want)
	}
	// A map[any]any has no order: Go writes its keys sorted by their
	// encoded bytes (TYPES.md D5), the vector's reencoded["go"] where that
	// differs from the order written.
	re, err := mpipc.Marshal(x)
	if err != nil || !bytes.Equal(re, v.plain) {
		fail("%s: vector %s: decoded and re-encoded %x (%v), want %x", what, v.Name, re, err, v.plain)
	}
	if v.desc.kind == "map" && len(v.desc.pairs) > 1 && !hasNestedBigMap(v.desc) {
		// A map of several entries: decoded into the binding's OrderedMap
		// (the order-keeping form), it must re-encode exactly.
		var om mpipc.OrderedMap
		if err := mpipc.Unmarshal(got, &om); err != nil {
			fail("%s: vector %s: decode into OrderedMap: %v", what, v.Name, err)
			return
		}
		if len(om) != len(v.desc.pairs) {
			fail("%s: vector %s: OrderedMap of %d entries, want %d", what, v.Name, len(om), len(v.desc.pairs))
		} else {
			// OrderedMap's keys are decoded as values are (a bytes key is a
			// []byte, an array key an []any).
			for j, p := range v.desc.pairs {
				if !sameValue(om[j].Key, decodedForm(p[0])) || !sameValue(om[j].Value, decodedForm(p[1])) {
					fail("%s: vector %s: OrderedMap entry %d is %#v: %#v, want %#v: %#v", what, v.Name, j,
						om[j].Key, om[j].Value, decodedForm(p[0]), decodedForm(p[1]))
				}
			}
		}
		re, err := mpipc.Marshal(om)
		if err != nil || !bytes.Equal(re, v.ordered) {
			fail("%s: vector %s: decoded (OrderedMap) and re-encoded %x (%v), want %x", what, v.Name, re, err, v.ordered)
		}
	}
}

// ---- primitives ----

func queueRole(vs []vector, send bool, name string) {
	q, err := mpipc.OpenQueue(name, mpipc.QueueOptions{})
	if err != nil {
		die("OpenQueue: %v", err)
	}
	defer q.Close()
	ready()
	if send {
		for i := range vs {
			if err := q.PutTimeout(native(vs[i].desc), timeout); err != nil {
				die("put of vector %s: %v", vs[i].Name, err)
			}
		}
		return
	}
	for i := range vs {
		b, err := q.GetBytesTimeout(timeout)
		if err != nil {
			die("get of vector %s: %v", vs[i].Name, err)
		}
		check("queue", &vs[i], b)
	}
	if n, err := q.Qsize(); err != nil || n != 0 {
		fail("queue: %d messages left after the last vector (%v)", n, err)
	}
}

func sendAll(vs []vector, c *mpipc.Conn, what string) {
	for i := range vs {
		if err := c.Send(native(vs[i].desc)); err != nil {
			die("%s: send of vector %s: %v", what, vs[i].Name, err)
		}
	}
}

func recvAll(vs []vector, c *mpipc.Conn, what string) {
	for i := range vs {
		b, err := c.RecvBytesTimeout(timeout)
		if err != nil {
			die("%s: recv of vector %s: %v", what, vs[i].Name, err)
		}
		check(what, &vs[i], b)
	}
	b, err := c.RecvBytesTimeout(timeout)
	switch {
	case errors.Is(err, mpipc.ErrEOF):
	case err != nil:
		fail("%s: after the last vector: %v, want ErrEOF", what, err)
	default:
		fail("%s: a message after the last vector: %x", what, b)
	}
}

func pipeRole(vs []vector, send bool) {
	fd, err := strconv.Atoi(os.Getenv("MPIPC_E2E_FD"))
	if err != nil {
		die("MPIPC_E2E_FD: %v", err)
	}
	c, err := mpipc.FromFile(os.NewFile(uintptr(fd), "e2e"))
	if err != nil {
		die("FromFile: %v", err)
	}
	defer c.Close()
	ready()
	if send {
		sendAll(vs, c, "pipe")
	} else {
		recvAll(vs, c, "pipe")
	}
}

func listenerRole(vs []vector, send bool, name string) {
	addr := "unix:/tmp/" + name + ".sock"
	if !send {
		l, err := mpipc.Listen(addr, authkey)
		if err != nil {
			die("Listen: %v", err)
		}
		defer l.Close()
		ready()
		c, err := l.AcceptTimeout(timeout)
		if err != nil {
			die("Accept: %v", err)
		}
		defer c.Close()
		recvAll(vs, c, "listener")
		return
	}
	start := time.Now()
	var c *mpipc.Conn
	for {
		var err error
		if c, err = mpipc.DialTimeout(addr, authkey, timeout); err == nil {
			break
		}
		if time.Since(start) >= 5*time.Second {
			die("Dial (for 5 s): %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer c.Close()
	ready()
	sendAll(vs, c, "listener")
}

func managerRole(vs []vector, send bool, name string) {
	addr := os.Getenv("MPIPC_E2E_MANAGER")
	if addr == "" {
		die("MPIPC_E2E_MANAGER is not set")
	}
	m, err := mpipc.ConnectManagerTimeout(addr, authkey, timeout)
	if err != nil {
		die("ConnectManager: %v", err)
	}
	defer m.Close()
	ready()
	d, l := m.Dict(name+"-dict"), m.List(name+"-list")
	if send {
		for i := range vs {
			if err := d.Set(i, native(vs[i].desc)); err != nil {
				die("dict set of vector %s: %v", vs[i].Name, err)
			}
		}
		for i := range vs {
			if err := l.Append(native(vs[i].desc)); err != nil {
				die("list append of vector %s: %v", vs[i].Name, err)
			}
		}
		return
	}
	if n, err := d.Len(); err != nil || n != len(vs) {
		fail("dict len %d (%v), want %d", n, err, len(vs))
	}
	for i := range vs {
		var raw cbor.RawMessage
		if err := d.GetInto(i, &raw); err != nil {
			fail("manager dict: get of vector %s: %v", vs[i].Name, err)
			continue
		}
		check("manager dict", &vs[i], raw)
	}
	var items []cbor.RawMessage
	if err := l.CopyInto(&items); err != nil {
		die("list copy: %v", err)
	}
	if len(items) != len(vs) {
		fail("manager list holds %d items, want %d", len(items), len(vs))
	}
	for i := 0; i < len(items) && i < len(vs); i++ {
		check("manager list", &vs[i], items[i])
	}
}

func arrayRole(send bool, name string) {
	type spec struct {
		tc  byte
		len int
	}
	specs := []spec{{'q', 4}, {'d', 4}, {'B', 2}}
	arrs := make([]*mpipc.Array, len(specs))
	for k, s := range specs {
		an := name + "-" + string(rune(s.tc))
		var err error
		if send {
			arrs[k], err = mpipc.OpenArray(an, s.tc, s.len, mpipc.ArrayOptions{})
		} else {
			arrs[k], err = mpipc.OpenArray(an, s.tc, 0, mpipc.ArrayOptions{Mode: mpipc.AttachOnly})
		}
		if err != nil {
			die("OpenArray %s: %v", an, err)
		}
		defer arrs[k].Close()
	}
	ready()
	qv := []int64{0, -1, math.MaxInt64, math.MinInt64}
	dv := []float64{1.5, math.Copysign(0, -1), math.Inf(1), 1e300}
	bv := []int64{0, 255}
	if send {
		for i, x := range qv {
			must(arrs[0].SetInt(i, x))
		}
		for i, x := range dv {
			must(arrs[1].SetFloat(i, x))
		}
		for i, x := range bv {
			must(arrs[2].SetInt(i, x))
		}
		n, err := arrs[0].Incr(0, 5)
		if err != nil || n != 5 {
			fail("Incr returned %d (%v), want 5", n, err)
		}
		return
	}
	for k, s := range specs {
		if arrs[k].Typecode() != s.tc {
			fail("array %s: typecode %c, want %c", arrs[k].Name(), arrs[k].Typecode(), s.tc)
		}
		if arrs[k].Len() != s.len {
			fail("array %s: length %d, want %d", arrs[k].Name(), arrs[k].Len(), s.len)
		}
	}
	wantq := append([]int64{5}, qv[1:]...)
	for i, w := range wantq {
		if v, err := arrs[0].GetInt(i); err != nil || v != w {
			fail("q[%d] = %d (%v), want %d", i, v, err, w)
		}
	}
	for i, w := range dv {
		if v, err := arrs[1].GetFloat(i); err != nil || math.Float64bits(v) != math.Float64bits(w) {
			fail("d[%d] bits %016x (%v), want %016x", i, math.Float64bits(v), err, math.Float64bits(w))
		}
	}
	for i, w := range bv {
		if v, err := arrs[2].GetInt(i); err != nil || v != w {
			fail("B[%d] = %d (%v), want %d", i, v, err, w)
		}
	}
}

func lockRole(send bool, name string) {
	l, err := mpipc.OpenLock(name, mpipc.CreateOrAttach)
	if err != nil {
		die("OpenLock: %v", err)
	}
	if send {
		if err := l.AcquireTimeout(timeout); err != nil {
			die("Acquire: %v", err)
		}
		ready()
		for {
			time.Sleep(time.Hour) // until SIGKILL
		}
	}
	if ok, err := l.TryAcquire(); ok || err != nil {
		die("TryAcquire of a held lock: %v, %v; want false, nil", ok, err)
	}
	ready()
	if err := l.AcquireTimeout(timeout); !errors.Is(err, mpipc.ErrOwnerDead) {
		die("Acquire after the holder was killed: %v, want ErrOwnerDead", err)
	}
	if err := l.Release(); err != nil {
		fail("Release after ErrOwnerDead: %v", err)
	}
	if err := l.Release(); !errors.Is(err, mpipc.ErrPerm) {
		fail("second Release: %v, want ErrPerm", err)
	}
	l.Close()
}

// echoRole is the differential test's echo (tests/polyglot/test_differential.py):
// each message of queue inName decoded with mpipc.Unmarshal into an `any`
// and encoded again with mpipc.Marshal onto outName; a message that does not
// decode (or encode) is answered with "\xffD" ("\xffE") and the reason;
// "\xffSTOP" ends it.
func echoRole(inName, outName string) {
	src, err := mpipc.OpenQueue(inName, mpipc.QueueOptions{})
	if err != nil {
		die("OpenQueue %s: %v", inName, err)
	}
	defer src.Close()
	dst, err := mpipc.OpenQueue(outName, mpipc.QueueOptions{})
	if err != nil {
		die("OpenQueue %s: %v", outName, err)
	}
	defer dst.Close()
	ready()
	for {
		raw, err := src.GetBytesTimeout(60 * time.Second)
		if err != nil {
			die("echo: get: %v", err)
		}
		if string(raw) == "\xffSTOP" {
			return
		}
		var v any
		var answer []byte
		if err := mpipc.Unmarshal(raw, &v); err != nil {
			answer = append([]byte("\xffD"), err.Error()...)
		} else if out, err := mpipc.Marshal(v); err != nil {
			answer = append([]byte("\xffE"), err.Error()...)
		} else {
			answer = out
		}
		if err := dst.PutBytesTimeout(answer, 60*time.Second); err != nil {
			die("echo: put: %v", err)
		}
	}
}

func main() {
	if len(os.Args) >= 2 && strings.HasPrefix(os.Args[1], "bench-") {
		benchMain(os.Args[1:])
		return
	}
	if len(os.Args) == 4 && os.Args[1] == "echo" {
		echoRole(os.Args[2], os.Args[3])
		return
	}
	if len(os.Args) != 5 {
		die("usage: peer <send|recv> <primitive> <name> <vectors.json>")
	}
	role, prim, name := os.Args[1], os.Args[2], os.Args[3]
	if role != "send" && role != "recv" {
		die("role %s: want send or recv", role)
	}
	send := role == "send"
	vs := load(os.Args[4], prim)
	switch prim {
	case "queue":
		queueRole(vs, send, name)
	case "pipe":
		pipeRole(vs, send)
	case "listener":
		listenerRole(vs, send, name)
	case "manager":
		managerRole(vs, send, name)
	case "array":
		arrayRole(send, name)
	case "lock":
		lockRole(send, name)
	default:
		die("unknown primitive %s", prim)
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "go peer: %s %s: %d check(s) failed\n", role, prim, failed)
		os.Exit(1)
	}
}
