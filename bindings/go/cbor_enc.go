package mpipc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// mpipc's encoder (decisions D1-D7 of docs/TYPES.md). It writes the
// values of the contract's table itself: nil, bool, every integer and
// float type (floats always as float64), strings (refused unless valid
// UTF-8, D7), []byte, time.Time (tag 1, exactly rounded, D2), *big.Int,
// slices and arrays, maps (keys sorted by their encoded bytes, RFC 8949
// §4.2.1, D5; colliding keys refused, D4), pointers and interfaces,
// cbor.Tag, cbor.ByteString, ManagerRef, ArrayKey, TagKey, MapKey and
// OrderedMap; it counts the depth of every item and refuses one deeper
// than 128 (D3), which is also how a cyclic value is refused (bug 4:
// fxamacker/cbor would recurse until the stack overflows). A struct, and
// any type implementing cbor.Marshaler, goes to fxamacker/cbor (fields in
// field order, its struct tags), after a walk that refuses a cycle through
// it, and its bytes are then checked (UTF-8, depth, keys) and their floats
// widened as the rest.

// encoder appends one value's encoding to buf.
type encoder struct {
	buf  []byte
	hops int  // pointers and interfaces followed since the last container (a pointer cycle)
	kvs  []kv // the entries of the maps being written, innermost last
	// scratch is where finishMap puts a map's entries in order.
	scratch []byte
}

// maxHops bounds the pointers/interfaces followed in a row: a chain
// longer than this is a pointer cycle (p = &p), refused as too deep.
const maxHops = 64

var encPool = sync.Pool{New: func() any { return new(encoder) }}

// encodeValue appends v's encoding to dst.
func encodeValue(dst []byte, v any) ([]byte, error) {
	e := encPool.Get().(*encoder)
	e.buf, e.hops, e.kvs = dst, 0, e.kvs[:0]
	err := e.value(v, 0)
	out := e.buf
	e.buf = nil
	if cap(e.kvs) <= 4096 && cap(e.scratch) <= 1<<16 { // do not keep huge scratch alive
		encPool.Put(e)
	}
	if err != nil {
		return dst, err
	}
	return out, nil
}

func (e *encoder) head(major byte, arg uint64) { e.buf = appendHead(e.buf, major, arg) }

func (e *encoder) int64(i int64) {
	if i < 0 {
		e.head(1, uint64(-1-i))
	} else {
		e.head(0, uint64(i))
	}
}

func (e *encoder) float(f float64) { e.buf = appendFloat64(e.buf, f) }

func (e *encoder) text(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("a string is not valid UTF-8 (%q): CBOR text must be; send bytes as []byte", truncate(s))
	}
	e.head(3, uint64(len(s)))
	e.buf = append(e.buf, s...)
	return nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// value appends v, an item depth levels deep.
func (e *encoder) value(v any, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, 0xf6)
	case bool:
		if x {
			e.buf = append(e.buf, 0xf5)
		} else {
			e.buf = append(e.buf, 0xf4)
		}
	case int:
		e.int64(int64(x))
	case int64:
		e.int64(x)
	case int32:
		e.int64(int64(x))
	case int16:
		e.int64(int64(x))
	case int8:
		e.int64(int64(x))
	case uint:
		e.head(0, uint64(x))
	case uint64:
		e.head(0, x)
	case uint32:
		e.head(0, uint64(x))
	case uint16:
		e.head(0, uint64(x))
	case uint8:
		e.head(0, uint64(x))
	case float64:
		e.float(x)
	case float32:
		e.float(float64(x))
	case string:
		return e.text(x)
	case []byte:
		if x == nil {
			e.buf = append(e.buf, 0xf6)
			return nil
		}
		e.head(2, uint64(len(x)))
		e.buf = append(e.buf, x...)
	case cbor.ByteString:
		e.head(2, uint64(len(x)))
		e.buf = append(e.buf, x...)
	case []any:
		if x == nil {
			e.buf = append(e.buf, 0xf6)
			return nil
		}
		e.hops = 0
		e.head(4, uint64(len(x)))
		for _, it := range x {
			if err := e.value(it, depth+1); err != nil {
				return err
			}
		}
	case map[string]any:
		if x == nil {
			e.buf = append(e.buf, 0xf6)
			return nil
		}
		e.hops = 0
		return e.stringMap(x, depth)
	case map[any]any:
		if x == nil {
			e.buf = append(e.buf, 0xf6)
			return nil
		}
		e.hops = 0
		return e.anyMap(x, depth)
	case time.Time:
		return e.time(x, depth)
	case *big.Int:
		if x == nil {
			e.buf = append(e.buf, 0xf6)
			return nil
		}
		return e.bigInt(x, depth)
	case big.Int:
		return e.bigInt(&x, depth)
	case cbor.Tag:
		return e.tag(x, depth)
	case ManagerRef:
		if depth+2 > maxDepth {
			return errTooDeep
		}
		b, err := x.MarshalCBOR()
		if err != nil {
			return err
		}
		e.buf = append(e.buf, b...)
	case ArrayKey, TagKey, MapKey: // a key held as its encoding
		b, err := x.(cbor.Marshaler).MarshalCBOR()
		if err != nil {
			return err
		}
		if err := checkWire(b, depth); err != nil {
			return err
		}
		e.buf = append(e.buf, b...)
	case OrderedMap:
		return e.orderedMap(x, depth)
	case *OrderedMap:
		if x == nil {
			e.buf = append(e.buf, 0xf6)
			return nil
		}
		return e.orderedMap(*x, depth)
	default:
		if isStruct(reflect.TypeOf(v)) {
			return e.viaFxamacker(v, depth) // without reflect.Value's boxing
		}
		return e.reflectValue(reflect.ValueOf(v), depth)
	}
	return nil
}

// A whole second is an integer; else the double nearest to the exact
// time (D2): the nanoseconds since the epoch over 1e9, rounded once. One
// float division is that when the nanoseconds are exact in a double
// (below 2^53, about 104 days from the epoch); beyond, big.Float's
// quotient is rounded once to 53 bits.
func (e *encoder) time(t time.Time, depth int) error {
	if depth+1 > maxDepth {
		return errTooDeep
	}
	e.buf = append(e.buf, 0xc1)
	sec, ns := t.Unix(), int64(t.Nanosecond())
	if ns == 0 {
		e.int64(sec)
		return nil
	}
	e.float(exactSeconds(sec, ns))
	return nil
}

// exactSeconds is sec + ns/1e9 rounded once to the nearest double.
func exactSeconds(sec, ns int64) float64 {
	const exact = 9007198 // seconds whose nanoseconds are below 2^53
	if sec > -exact && sec < exact {
		return float64(sec*1e9+ns) / 1e9 // both operands exact: one rounding
	}
	total := new(big.Int).Mul(big.NewInt(sec), big.NewInt(1e9))
	total.Add(total, big.NewInt(ns))
	num := new(big.Float).SetPrec(128).SetInt(total) // exact (|total| < 2^94)
	f, _ := new(big.Float).SetPrec(53).Quo(num, big.NewFloat(1e9)).Float64()
	return f
}

func (e *encoder) bigInt(x *big.Int, depth int) error {
	if x.IsInt64() {
		e.int64(x.Int64())
		return nil
	}
	if x.IsUint64() {
		e.head(0, x.Uint64())
		return nil
	}
	if depth+1 > maxDepth {
		return errTooDeep
	}
	if x.Sign() >= 0 {
		e.buf = append(e.buf, 0xc2)
		b := x.Bytes()
		e.head(2, uint64(len(b)))
		e.buf = append(e.buf, b...)
		return nil
	}
	n := new(big.Int).Neg(x)
	n.Sub(n, big.NewInt(1))
	if n.IsUint64() {
		e.head(1, n.Uint64())
		return nil
	}
	e.buf = append(e.buf, 0xc3)
	b := n.Bytes()
	e.head(2, uint64(len(b)))
	e.buf = append(e.buf, b...)
	return nil
}

// tag writes a cbor.Tag: 55799 as its content alone (never written, D1);
// tags 0-3 only around the content RFC 8949 gives them (D2).
func (e *encoder) tag(t cbor.Tag, depth int) error {
	if t.Number == 0 && t.Content == nil { // fxamacker's uninitialized Tag
		e.buf = append(e.buf, 0xf6)
		return nil
	}
	if t.Number == selfDescribedTag {
		return e.value(t.Content, depth)
	}
	e.hops = 0
	e.head(6, t.Number)
	at := len(e.buf)
	if err := e.value(t.Content, depth+1); err != nil {
		return err
	}
	if t.Number <= 3 || t.Number == tupleTag || t.Number == refTag || t.Number == pickleTag {
		c := &checker{data: e.buf[at:]}
		if err := c.tagContent(t.Number, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// keySet holds the canonical forms of the keys of one map being written.
type keySet struct {
	seen    map[string]struct{}
	scratch []byte
}

// add adds the key encoded at enc[at:]; an error if an equal key was added.
func (s *keySet) add(enc []byte, at int) error {
	var end int
	s.scratch, end = canonKey(s.scratch[:0], enc, at)
	if s.seen == nil {
		s.seen = map[string]struct{}{}
	}
	if _, dup := s.seen[string(s.scratch)]; dup {
		return errDupKey(enc[at:end])
	}
	s.seen[string(s.scratch)] = struct{}{}
	return nil
}

// kv is one encoded map entry: key e.buf[k:v], value e.buf[v:end].
type kv struct{ k, v, end int }

// finishMap sorts the n entries written after the head at start (at
// entries) by their encoded keys, and refuses two equal keys (D4) unless
// the keys are known distinct (strings of a Go map).
func (e *encoder) finishMap(entries, base int, checkKeys bool) error {
	kvs := e.kvs[base:]
	defer func() { e.kvs = e.kvs[:base] }()
	if len(kvs) < 2 {
		return nil
	}
	if len(kvs) <= 12 { // insertion sort: no closure, few entries
		for i := 1; i < len(kvs); i++ {
			for j := i; j > 0 && bytes.Compare(e.buf[kvs[j].k:kvs[j].v], e.buf[kvs[j-1].k:kvs[j-1].v]) < 0; j-- {
				kvs[j], kvs[j-1] = kvs[j-1], kvs[j]
			}
		}
	} else {
		slices.SortFunc(kvs, func(a, b kv) int { return bytes.Compare(e.buf[a.k:a.v], e.buf[b.k:b.v]) })
	}
	if checkKeys {
		var ks keySet
		for _, p := range kvs {
			if err := ks.add(e.buf, p.k); err != nil {
				return err
			}
		}
	}
	// The entries in order into scratch, then back in their place.
	e.scratch = e.scratch[:0]
	for _, p := range kvs {
		e.scratch = append(e.scratch, e.buf[p.k:p.end]...)
	}
	copy(e.buf[entries:], e.scratch)
	return nil
}

func (e *encoder) stringMap(m map[string]any, depth int) error {
	e.head(5, uint64(len(m)))
	if depth+1 > maxDepth && len(m) > 0 {
		return errTooDeep
	}
	entries := len(e.buf)
	base := len(e.kvs)
	for k, v := range m {
		p := kv{k: len(e.buf)}
		if err := e.text(k); err != nil {
			return err
		}
		p.v = len(e.buf)
		if err := e.value(v, depth+1); err != nil {
			return err
		}
		p.end = len(e.buf)
		e.kvs = append(e.kvs, p)
	}
	return e.finishMap(entries, base, false)
}

func (e *encoder) anyMap(m map[any]any, depth int) error {
	e.head(5, uint64(len(m)))
	entries := len(e.buf)
	base := len(e.kvs)
	allText := true
	for k, v := range m {
		p := kv{k: len(e.buf)}
		if _, ok := k.(string); !ok {
			allText = false
		}
		if err := e.value(k, depth+1); err != nil {
			return err
		}
		p.v = len(e.buf)
		if err := e.value(v, depth+1); err != nil {
			return err
		}
		p.end = len(e.buf)
		e.kvs = append(e.kvs, p)
	}
	return e.finishMap(entries, base, !allText)
}

// orderedMap writes the pairs in their order; equal keys are refused.
func (e *encoder) orderedMap(m OrderedMap, depth int) error {
	e.hops = 0
	e.head(5, uint64(len(m)))
	var ks keySet
	for _, it := range m {
		k := len(e.buf)
		if err := e.value(it.Key, depth+1); err != nil {
			return err
		}
		if len(m) > 1 {
			if err := ks.add(e.buf, k); err != nil {
				return err
			}
		}
		if err := e.value(it.Value, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// ownStructs are the struct types encodeValue writes itself.
var ownStructs = map[reflect.Type]bool{
	typeTime: true, typeBigInt: true, reflect.TypeOf(cbor.Tag{}): true, reflect.TypeOf(ManagerRef{}): true,
}

var (
	typeTime      = reflect.TypeOf(time.Time{})
	typeBigInt    = reflect.TypeOf(big.Int{})
	typeMarshaler = reflect.TypeOf((*cbor.Marshaler)(nil)).Elem()
)

// reflectValue writes the kinds the type switch does not name.
func (e *encoder) reflectValue(rv reflect.Value, depth int) error {
	if !rv.IsValid() {
		e.buf = append(e.buf, 0xf6)
		return nil
	}
	t := rv.Type()
	if t.Implements(typeMarshaler) || reflect.PointerTo(t).Implements(typeMarshaler) {
		return e.viaFxamacker(rv.Interface(), depth)
	}
	switch t.Kind() {
	case reflect.Bool:
		return e.value(rv.Bool(), depth)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.int64(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.head(0, rv.Uint())
	case reflect.Float32, reflect.Float64:
		e.float(rv.Float())
	case reflect.String:
		return e.text(rv.String())
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			e.buf = append(e.buf, 0xf6)
			return nil
		}
		if e.hops++; e.hops > maxHops {
			return errTooDeep
		}
		return e.value(rv.Elem().Interface(), depth)
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && rv.IsNil() {
			e.buf = append(e.buf, 0xf6)
			return nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			e.head(2, uint64(rv.Len()))
			if t.Kind() == reflect.Slice {
				e.buf = append(e.buf, rv.Bytes()...)
			} else {
				for i := 0; i < rv.Len(); i++ {
					e.buf = append(e.buf, byte(rv.Index(i).Uint()))
				}
			}
			return nil
		}
		e.hops = 0
		e.head(4, uint64(rv.Len()))
		for i := 0; i < rv.Len(); i++ {
			if err := e.value(rv.Index(i).Interface(), depth+1); err != nil {
				return err
			}
		}
	case reflect.Map:
		if rv.IsNil() {
			e.buf = append(e.buf, 0xf6)
			return nil
		}
		e.hops = 0
		e.head(5, uint64(rv.Len()))
		entries := len(e.buf)
		base := len(e.kvs)
		it := rv.MapRange()
		for it.Next() {
			p := kv{k: len(e.buf)}
			if err := e.value(it.Key().Interface(), depth+1); err != nil {
				return err
			}
			p.v = len(e.buf)
			if err := e.value(it.Value().Interface(), depth+1); err != nil {
				return err
			}
			p.end = len(e.buf)
			e.kvs = append(e.kvs, p)
		}
		return e.finishMap(entries, base, t.Key().Kind() != reflect.String)
	case reflect.Struct:
		return e.viaFxamacker(rv.Interface(), depth)
	default:
		return &cbor.UnsupportedTypeError{Type: t}
	}
	return nil
}

// viaFxamacker writes a struct or a cbor.Marshaler with fxamacker/cbor:
// a cycle through it is refused first (walk), and its bytes are then held
// to the same rules as the rest (checkWire at this depth; floats widened;
// times exact, see fixTimes).
func (e *encoder) viaFxamacker(v any, depth int) error {
	b := getBuf()
	defer putBuf(b)
	if err := structTo(b, v, depth); err != nil {
		return err
	}
	e.buf = append(e.buf, b.Bytes()...)
	return nil
}

// isStruct reports whether v is a struct or a pointer to one (not a
// time.Time or a big.Int): what viaFxamacker writes.
func isStruct(t reflect.Type) bool {
	if t == nil {
		return false
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct && !ownStructs[t]
}

// structTo appends v's encoding to b (empty, or the caller's buffer:
// what is before b.Len() is left alone), as viaFxamacker says.
func structTo(b *bytes.Buffer, v any, depth int) error {
	facts := factsOf(reflect.TypeOf(v))
	if facts.mayCycle {
		if err := walkCycles(reflect.ValueOf(v), depth, 0); err != nil {
			return err
		}
	}
	start := b.Len()
	if err := structEncMode.MarshalToBuffer(v, b); err != nil {
		// A time beyond RFC 3339's years (0-9999): fxamacker's epoch form,
		// rounded to the microsecond.
		b.Truncate(start)
		if err2 := encMode.MarshalToBuffer(v, b); err2 != nil {
			return err
		}
	}
	out := b.Bytes()[start:]
	if facts.rewrite && (bytes.IndexByte(out, 0xfa) >= 0 || bytes.IndexByte(out, 0xf9) >= 0 || bytes.IndexByte(out, 0xc0) >= 0) {
		re, _, err := rewrite(make([]byte, 0, len(out)+16), out, 0, rewriteFloats|rewriteTimes, 0)
		if err != nil {
			return err
		}
		b.Truncate(start)
		b.Write(re)
		out = b.Bytes()[start:]
	}
	// The whole check where the type does not bound the depth or may hold
	// equal keys; else only its text needs a look.
	if facts.mayCollide || facts.depth < 0 || depth+facts.depth > maxDepth {
		if err := checkWireKeys(out, depth, facts.mayCollide); err != nil {
			return err
		}
	} else if facts.text && facts.flatText {
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				return nil
			}
			rv = rv.Elem()
		}
		for _, path := range facts.strPaths {
			if s := rv.FieldByIndex(path).String(); !utf8.ValidString(s) {
				b.Truncate(start)
				return fmt.Errorf("a string is not valid UTF-8 (%q): CBOR text must be; send bytes as []byte", truncate(s))
			}
		}
	} else if facts.text {
		if err := validTexts(out); err != nil {
			return err
		}
	}
	return nil
}

// walkCycles follows what fxamacker/cbor will encode of rv (exported
// fields, elements, map entries, pointers) and refuses it when it nests
// deeper than the contract allows: a cyclic value never ends. Types that
// cannot hold a pointer, an interface, a map or a slice are not walked.
func walkCycles(rv reflect.Value, depth, hops int) error {
	if depth > maxDepth || hops > maxHops {
		return errTooDeep
	}
	if !rv.IsValid() || !factsOf(rv.Type()).mayCycle {
		return nil
	}
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
		return walkCycles(rv.Elem(), depth, hops+1)
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			if err := walkCycles(rv.Index(i), depth+1, 0); err != nil {
				return err
			}
		}
	case reflect.Map:
		it := rv.MapRange()
		for it.Next() {
			if err := walkCycles(it.Key(), depth+1, 0); err != nil {
				return err
			}
			if err := walkCycles(it.Value(), depth+1, 0); err != nil {
				return err
			}
		}
	case reflect.Struct:
		t := rv.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous || skippedField(f) {
				continue
			}
			d := depth + 1
			if f.Anonymous {
				d = depth // embedded: its fields are the struct's own
			}
			if err := walkCycles(rv.Field(i), d, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

func skippedField(f reflect.StructField) bool {
	name, _, _ := strings.Cut(f.Tag.Get("cbor"), ",")
	if name == "" {
		name, _, _ = strings.Cut(f.Tag.Get("json"), ",")
	}
	return name == "-"
}

// typeFacts are what viaFxamacker must check of a type's encoding.
type typeFacts struct {
	// mayCycle: a value of the type can reach itself (it holds an
	// interface, or a pointer, slice or map of a type that may; a
	// recursive type, e.g. struct{ Next *T }, is seen as one).
	mayCycle bool
	// mayCollide: its encoding may hold a map with two equal keys (a map
	// whose keys are not strings, an interface, a cbor.Marshaler); struct
	// field names are distinct, string keys of a Go map too.
	mayCollide bool
	// text: its encoding may hold text (to check as UTF-8).
	text bool
	// rewrite: its encoding may hold a float32 or a time (rewrite's work).
	rewrite bool
	// depth: the deepest item of its encoding, below its own; -1 if
	// unbounded or unknown.
	depth int
	// strPaths, when flatText: the text of a struct's encoding is its
	// field names (checked once, here) and these string fields (indexes
	// for FieldByIndex), so they are checked instead of its bytes.
	flatText bool
	strPaths [][]int
}

// anything is the facts of a type that may hold anything.
var anything = typeFacts{mayCycle: true, mayCollide: true, text: true, rewrite: true, depth: -1}

// typeFactsCache maps reflect.Type to typeFacts: a map replaced whole on
// a miss (copy on write), so a hit is one plain map read.
var (
	typeFactsCache atomic.Pointer[map[reflect.Type]typeFacts]
	typeFactsMu    sync.Mutex
)

func factsOf(t reflect.Type) typeFacts {
	if m := typeFactsCache.Load(); m != nil {
		if f, ok := (*m)[t]; ok {
			return f
		}
	}
	typeFactsMu.Lock()
	defer typeFactsMu.Unlock()
	work := map[reflect.Type]typeFacts{}
	if m := typeFactsCache.Load(); m != nil {
		for k, v := range *m {
			work[k] = v
		}
	}
	f := computeFacts(t, work)
	st := t
	if st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if st.Kind() == reflect.Struct && !ownStructs[st] && !st.Implements(typeMarshaler) && !reflect.PointerTo(st).Implements(typeMarshaler) {
		f.strPaths, f.flatText = flatStrings(st, nil)
		work[t] = f
	}
	typeFactsCache.Store(&work)
	return f
}

// flatStrings lists the string fields of struct type t (nested struct
// values included) when they and the field names are all the text its
// encoding can hold: no map, pointer, interface, []string, Marshaler.
func flatStrings(t reflect.Type, prefix []int) ([][]int, bool) {
	var paths [][]int
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous || skippedField(f) {
			continue
		}
		if !utf8.ValidString(f.Name) || !utf8.ValidString(string(f.Tag)) {
			return nil, false
		}
		ft := f.Type
		path := append(append([]int(nil), prefix...), i)
		switch {
		case ft.Implements(typeMarshaler) || reflect.PointerTo(ft).Implements(typeMarshaler):
			return nil, false
		case ft == typeTime || ft == typeBigInt:
		case ft.Kind() == reflect.String:
			paths = append(paths, path)
		case ft.Kind() == reflect.Struct:
			sub, ok := flatStrings(ft, path)
			if !ok {
				return nil, false
			}
			paths = append(paths, sub...)
		case scalarKind(ft.Kind()):
		case (ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array) && scalarKind(ft.Elem().Kind()):
		default:
			return nil, false
		}
	}
	return paths, true
}

func scalarKind(k reflect.Kind) bool {
	return k == reflect.Bool || k >= reflect.Int && k <= reflect.Uintptr || k == reflect.Float32 || k == reflect.Float64
}

// merge is the facts of two items side by side.
func merge(a, b typeFacts) typeFacts {
	d := max(a.depth, b.depth)
	if a.depth < 0 || b.depth < 0 {
		d = -1
	}
	return typeFacts{mayCycle: a.mayCycle || b.mayCycle, mayCollide: a.mayCollide || b.mayCollide,
		text: a.text || b.text, rewrite: a.rewrite || b.rewrite, depth: d}
}

// computeFacts fills work with the facts of t and of the types inside it.
func computeFacts(t reflect.Type, work map[reflect.Type]typeFacts) typeFacts {
	if f, ok := work[t]; ok {
		return f
	}
	work[t] = anything // while computing: a recursive type may do anything
	var f typeFacts
	// in is the facts of a container of items of facts g.
	in := func(g typeFacts) typeFacts {
		if g.depth >= 0 {
			g.depth++
		}
		return g
	}
	switch {
	case t == typeTime:
		f = typeFacts{text: true, rewrite: true, depth: 1}
	case t == typeBigInt:
		f = typeFacts{depth: 1}
	case t.Implements(typeMarshaler) || reflect.PointerTo(t).Implements(typeMarshaler):
		f = anything // its bytes are its own (OrderedMap's hold any values)
	default:
		switch t.Kind() {
		case reflect.Interface:
			f = anything
		case reflect.String:
			f = typeFacts{text: true}
		case reflect.Float32:
			f = typeFacts{rewrite: true}
		case reflect.Map:
			k, v := computeFacts(t.Key(), work), computeFacts(t.Elem(), work)
			f = in(merge(k, v))
			f.mayCollide = f.mayCollide || t.Key().Kind() != reflect.String
		case reflect.Pointer:
			f = computeFacts(t.Elem(), work)
		case reflect.Slice, reflect.Array:
			if t.Elem().Kind() == reflect.Uint8 {
				break // bytes
			}
			f = in(computeFacts(t.Elem(), work))
		case reflect.Struct:
			for i := 0; i < t.NumField(); i++ {
				f = merge(f, computeFacts(t.Field(i).Type, work))
			}
			f = in(f)
		}
	}
	work[t] = f
	return f
}

// rfc3339ToEpoch rewrites tag 0's content at p (its head read) when it
// is RFC 3339 text, as the tag 1 encodeValue writes for that time.
func rfc3339ToEpoch(dst, src []byte, p int) ([]byte, int, bool) {
	major, ai, n, np, err := head(src, p)
	if err != nil || major != 3 || ai == 31 || uint64(len(src)-np) < n {
		return dst, 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(src[np:np+int(n)]))
	if err != nil {
		return dst, 0, false
	}
	e := encoder{buf: dst}
	if e.time(t, 0) != nil {
		return dst, 0, false
	}
	return e.buf, np + int(n), true
}

// validTexts checks that every text string of enc (well-formed: what
// fxamacker/cbor wrote) is valid UTF-8: one linear pass over the heads
// (an item's nested items follow its head).
func validTexts(enc []byte) error {
	for p := 0; p < len(enc); {
		b := enc[p]
		major, ai := b>>5, b&0x1f
		p++
		var arg uint64
		switch {
		case ai < 24:
			arg = uint64(ai)
		case ai == 24 && p+1 <= len(enc):
			arg = uint64(enc[p])
			p++
		case ai == 25 && p+2 <= len(enc):
			arg = uint64(binary.BigEndian.Uint16(enc[p:]))
			p += 2
		case ai == 26 && p+4 <= len(enc):
			arg = uint64(binary.BigEndian.Uint32(enc[p:]))
			p += 4
		case ai == 27 && p+8 <= len(enc):
			arg = binary.BigEndian.Uint64(enc[p:])
			p += 8
		case ai == 31: // indefinite length, or a break
			continue
		default:
			return errMalformed
		}
		if major == 2 || major == 3 {
			if arg > uint64(len(enc)-p) {
				return errMalformed
			}
			if major == 3 && !utf8.Valid(enc[p:p+int(arg)]) {
				return fmt.Errorf("a string is not valid UTF-8 (%q): CBOR text must be; send bytes as []byte", truncate(string(enc[p:p+int(arg)])))
			}
			p += int(arg)
		}
	}
	return nil
}
