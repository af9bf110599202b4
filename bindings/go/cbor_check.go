package mpipc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"sync"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// The rules of docs/TYPES.md that fxamacker/cbor's options cannot express,
// checked on the wire bytes in one pass (checkWire) before fxamacker
// decodes a message, and on what an encoder produced before it is sent:
//
//   - depth (decision D3): the top item has depth 0, an item inside an
//     array, a map (key or value) or a tag is one deeper; an item deeper
//     than maxDepth is refused (so 129 nested empty arrays pass, 129
//     arrays around 1 do not). Tag 55799 (self-described CBOR) is no
//     level: its content stands in its place (D1);
//   - tags 0-3 must hold the content RFC 8949 gives them (D2): 0 text,
//     1 an integer or a float, 2 and 3 a byte string;
//   - a map must not hold two keys equal under mpipc's key equality (D4,
//     docs/PROTOCOL.md §4): numbers by value (an integral float below
//     9e15 in magnitude is that integer; -0.0 is 0), a NaN equal to a NaN
//     of the same bits, booleans not numbers, text by code points, bytes
//     bytewise, arrays element-wise, the TUPLE tag ignored;
//   - well-formedness (lengths, heads, breaks, UTF-8, the simple values
//     false/true/null/undefined only), so the checks above can trust
//     what they read.

// maxDepth is the deepest an item may be (docs/TYPES.md, decision D3).
const maxDepth = 128

// selfDescribedTag is RFC 8949 §3.4.6's tag 55799: dropped wherever it
// appears, never written (decision D1).
const selfDescribedTag = 55799

var errTooDeep = fmt.Errorf("nesting deeper than %d levels (docs/TYPES.md; a cyclic value is refused this way too)", maxDepth)

// wireError is a refusal found by checkWire.
type wireError struct{ msg string }

func (e *wireError) Error() string { return e.msg }

func wireErr(format string, a ...any) error { return &wireError{fmt.Sprintf(format, a...)} }

// wireKey is one map key: a definite text key is its content,
// c.data[s:e] (no copy: the common case); any other key its canonical
// form, c.buf[s:e] (canonKey).
type wireKey struct {
	text   bool // text content; else a canonical form (canonKey)
	inData bool // c.data[s:e]; else c.buf[s:e]
	s, e   int
}

// checker walks one message.
type checker struct {
	data  []byte
	off   int
	keys  []wireKey // the keys of the maps being walked, innermost last
	buf   []byte    // canonical key bytes
	small [32]wireKey
	// noKeys skips the keys check: the encoder's struct output, whose
	// maps cannot hold equal keys (see typeFacts).
	noKeys bool
}

// checkerPool keeps checkers (and their scratch) between messages.
var checkerPool = sync.Pool{New: func() any { return new(checker) }}

// checkWire checks that data is exactly one item, well-formed and within
// the rules above, as if it were nested depth levels deep.
func checkWire(data []byte, depth int) error {
	if depth == 0 && quickCheck(data) {
		return nil
	}
	return checkWireKeys(data, depth, true)
}

// checkWireKeys is checkWire, without the keys check unless keys.
func checkWireKeys(data []byte, depth int, keys bool) error {
	c := checkerPool.Get().(*checker)
	c.data, c.off, c.keys, c.buf, c.noKeys = data, 0, c.small[:0], c.buf[:0], !keys
	err := c.item(depth)
	if err == nil && c.off != len(data) {
		err = wireErr("%d bytes after the item", len(data)-c.off)
	}
	c.data, c.keys = nil, nil
	if cap(c.buf) <= 1<<16 { // do not keep huge scratch alive
		checkerPool.Put(c)
	}
	return err
}

// key returns the bytes of a wireKey.
func (c *checker) key(k wireKey) []byte {
	if k.inData {
		return c.data[k.s:k.e]
	}
	return c.buf[k.s:k.e]
}

var errTruncated = &wireError{"truncated or malformed CBOR"}

// head reads the head at c.off: major type, additional information and
// argument (0 for an indefinite length, ai 31).
func (c *checker) head() (major, ai byte, arg uint64, err error) {
	if c.off >= len(c.data) {
		return 0, 0, 0, errTruncated
	}
	b := c.data[c.off]
	major, ai = b>>5, b&0x1f
	c.off++
	rest := c.data[c.off:]
	switch {
	case ai < 24:
		return major, ai, uint64(ai), nil
	case ai == 24 && len(rest) >= 1:
		c.off++
		return major, ai, uint64(rest[0]), nil
	case ai == 25 && len(rest) >= 2:
		c.off += 2
		return major, ai, uint64(binary.BigEndian.Uint16(rest)), nil
	case ai == 26 && len(rest) >= 4:
		c.off += 4
		return major, ai, uint64(binary.BigEndian.Uint32(rest)), nil
	case ai == 27 && len(rest) >= 8:
		c.off += 8
		return major, ai, binary.BigEndian.Uint64(rest), nil
	case ai == 31:
		if major == 0 || major == 1 || major == 6 {
			return 0, 0, 0, wireErr("indefinite length on major type %d", major)
		}
		return major, ai, 0, nil
	case ai >= 28:
		return 0, 0, 0, wireErr("reserved additional information %d", ai)
	}
	return 0, 0, 0, errTruncated
}

// atBreak consumes a break byte if one is next.
func (c *checker) atBreak() (bool, error) {
	if c.off >= len(c.data) {
		return false, errTruncated
	}
	if c.data[c.off] == 0xff {
		c.off++
		return true, nil
	}
	return false, nil
}

// str checks a byte (major 2) or text (3) string whose head was read.
func (c *checker) str(major, ai byte, arg uint64) error {
	if ai != 31 {
		if arg > uint64(len(c.data)-c.off) {
			return errTruncated
		}
		b := c.data[c.off : c.off+int(arg)]
		c.off += int(arg)
		if major == 3 && !utf8.Valid(b) {
			return wireErr("text is not valid UTF-8")
		}
		return nil
	}
	for {
		brk, err := c.atBreak()
		if err != nil || brk {
			return err
		}
		m, cai, n, err := c.head()
		if err != nil {
			return err
		}
		if m != major || cai == 31 {
			return wireErr("a chunk of an indefinite-length string is not a definite string of its type")
		}
		if err := c.str(m, cai, n); err != nil {
			return err
		}
	}
}

// item checks the item at c.off, depth levels deep.
func (c *checker) item(depth int) error {
	for {
		if depth > maxDepth {
			return wireErr("%v", errTooDeep)
		}
		start := c.off
		major, ai, arg, err := c.head()
		if err != nil {
			return err
		}
		switch major {
		case 0, 1:
			return nil
		case 2, 3:
			return c.str(major, ai, arg)
		case 4:
			if ai != 31 && arg > uint64(len(c.data)-c.off) {
				return errTruncated
			}
			for i := uint64(0); ai == 31 || i < arg; i++ {
				if ai == 31 {
					if brk, err := c.atBreak(); err != nil || brk {
						return err
					}
				}
				if err := c.item(depth + 1); err != nil {
					return err
				}
			}
			return nil
		case 5:
			return c.mapItems(ai, arg, depth)
		case 6:
			if arg == selfDescribedTag {
				continue // its content in its place, at the same depth
			}
			if depth+1 > maxDepth {
				return wireErr("%v", errTooDeep)
			}
			if arg <= 3 || arg == tupleTag || arg == refTag || arg == pickleTag {
				if err := c.tagContent(arg, depth+1); err != nil {
					return err
				}
			}
			return c.item(depth + 1)
		default: // 7
			switch {
			case ai >= 20 && ai <= 23, ai >= 25 && ai <= 27:
				return nil
			case ai == 31:
				return wireErr("unexpected break")
			}
			c.off = start
			return wireErr("simple value %d is not part of the contract (only false, true, null, undefined)", arg)
		}
	}
}

// tagContent checks the type of a tag's content without consuming it:
// tags 0-3 hold what RFC 8949 says (D2), mpipc's tags what TYPES.md says.
func (c *checker) tagContent(tag uint64, depth int) error {
	save := c.off
	defer func() { c.off = save }()
	// Skip self-described tags around the content.
	var major, ai byte
	for {
		m, a, arg, err := c.head()
		if err != nil {
			return err
		}
		if m == 6 && arg == selfDescribedTag {
			continue
		}
		major, ai = m, a
		break
	}
	switch tag {
	case 0:
		if major != 3 {
			return wireErr("tag 0 (a date/time) must hold text")
		}
	case 1:
		if major != 0 && major != 1 && !(major == 7 && ai >= 25 && ai <= 27) {
			return wireErr("tag 1 (epoch time) must hold an integer or a float")
		}
	case 2, 3:
		if major != 2 {
			return wireErr("tag %d (a bignum) must hold a byte string", tag)
		}
	case tupleTag:
		if major != 4 {
			return errTuple
		}
	case pickleTag:
		return errPickle
	case refTag:
		return checkRef(c.data, skipSelfDescribed(c.data, save), depth)
	}
	return nil
}

// mapItems checks a map's pairs and that no two keys are equal.
func (c *checker) mapItems(ai byte, arg uint64, depth int) error {
	if ai != 31 && arg > uint64(len(c.data)-c.off)/2 {
		return errTruncated
	}
	base := len(c.keys)
	err := c.pairs(ai, arg, depth, base)
	c.keys = c.keys[:base]
	return err
}

// pairs is mapItems' loop; the map's keys go to c.keys[base:].
func (c *checker) pairs(ai byte, arg uint64, depth, base int) error {
	var set map[string]struct{} // big maps: a set instead of comparing pairs
	for i := uint64(0); ai == 31 || i < arg; i++ {
		if ai == 31 {
			if brk, err := c.atBreak(); err != nil || brk {
				return err
			}
		}
		kstart := c.off
		if err := c.item(depth + 1); err != nil {
			return err
		}
		if (ai == 31 || arg > 1) && !c.noKeys {
			var wk wireKey
			ks := skipSelfDescribed(c.data, kstart)
			if b := c.data[ks]; b>>5 == 3 && b&0x1f != 31 {
				_, _, n, p, _ := head(c.data, ks)
				wk = wireKey{text: true, inData: true, s: p, e: p + int(n)}
			} else if b>>5 == 3 { // indefinite text: its chunks joined
				_, ai, n, p, _ := head(c.data, ks)
				content, _ := strContent(c.data, ai, n, p)
				s := len(c.buf)
				c.buf = append(c.buf, content...)
				wk = wireKey{text: true, s: s, e: len(c.buf)}
			} else {
				s := len(c.buf)
				c.buf, _ = canonKey(c.buf, c.data, kstart)
				wk = wireKey{s: s, e: len(c.buf)}
			}
			k := c.key(wk)
			if set != nil {
				sk := keyString(wk, k)
				if _, dup := set[sk]; dup {
					return errDupKey(c.data[kstart:c.off])
				}
				set[sk] = struct{}{}
			} else {
				for _, o := range c.keys[base:] {
					if o.text == wk.text && bytes.Equal(c.key(o), k) {
						return errDupKey(c.data[kstart:c.off])
					}
				}
				c.keys = append(c.keys, wk)
				if len(c.keys)-base > 16 {
					set = make(map[string]struct{}, len(c.keys)-base)
					for _, o := range c.keys[base:] {
						set[keyString(o, c.key(o))] = struct{}{}
					}
				}
			}
		}
		if err := c.item(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

func errDupKey(key []byte) error {
	return wireErr("a map holds two equal keys (docs/TYPES.md: 1 and 1.0, 0 and -0.0, ... are one key), the second %s", diag(key))
}

// diag shows an item in CBOR diagnostic notation (hex if it cannot).
func diag(b []byte) string {
	if s, err := cbor.Diagnose(b); err == nil {
		return s
	}
	return fmt.Sprintf("h'%x'", b)
}

// canonKey appends the canonical form of the (well-formed) item at pos to
// dst, and returns the position after the item. Forms start with a class
// byte and are self-delimiting, so equal forms are equal keys.
func canonKey(dst, src []byte, pos int) ([]byte, int) {
	pos = skipSelfDescribed(src, pos) // no meaning (D1); a long run costs no recursion
	major, ai, arg, next, _ := head(src, pos)
	switch major {
	case 0:
		return canonUint(dst, 0, arg), next
	case 1:
		if arg == math.MaxUint64 { // -2^64: magnitude 2^64
			return append(dst, 'I', 1, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0), next
		}
		return canonUint(dst, 1, arg+1), next
	case 2, 3:
		cls := byte('B')
		if major == 3 {
			cls = 'S'
		}
		content, end := strContent(src, ai, arg, next)
		dst = append(dst, cls)
		dst = binary.AppendUvarint(dst, uint64(len(content)))
		return append(dst, content...), end
	case 4, 5:
		cls := byte('A')
		if major == 5 {
			cls = 'M'
		}
		dst = append(dst, cls)
		lenAt := len(dst)
		dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
		p, n := next, uint64(0)
		per := uint64(1)
		if major == 5 {
			per = 2
		}
		for ; ai == 31 || n < arg*per; n++ {
			if ai == 31 && src[p] == 0xff {
				p++
				break
			}
			dst, p = canonKey(dst, src, p)
		}
		binary.BigEndian.PutUint64(dst[lenAt:], n)
		return dst, p
	case 6:
		switch arg {
		case tupleTag: // ignored by a key (55799 was skipped above)
			return canonKey(dst, src, next)
		case 2, 3:
			_, cai, carg, cnext, _ := head(src, skipSelfDescribed(src, next))
			content, end := strContent(src, cai, carg, cnext)
			n := new(big.Int).SetBytes(content)
			if arg == 3 {
				n.Add(n, big.NewInt(1))
			}
			mag := n.Bytes()
			dst = append(dst, 'I', byte(arg-2))
			dst = binary.AppendUvarint(dst, uint64(len(mag)))
			return append(dst, mag...), end
		}
		dst = append(dst, 'G')
		dst = binary.BigEndian.AppendUint64(dst, arg)
		return canonKey(dst, src, next)
	}
	// 7
	switch ai {
	case 20:
		return append(dst, 'f'), next
	case 21:
		return append(dst, 't'), next
	case 22, 23:
		return append(dst, 'z'), next
	case 25:
		return canonFloat(dst, float64(half(uint16(arg)))), next
	case 26:
		return canonFloat(dst, float64(math.Float32frombits(uint32(arg)))), next
	}
	return canonFloat(dst, math.Float64frombits(arg)), next
}

// canonUint appends an integer: sign (1 = negative) and magnitude.
func canonUint(dst []byte, neg byte, mag uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], mag)
	i := 0
	for i < 8 && b[i] == 0 {
		i++
	}
	dst = append(dst, 'I', neg, byte(8-i))
	return append(dst, b[i:]...)
}

// canonFloat appends a float: the integer it equals when integral
// (numbers compare by value, exactly: 2^53 and 2^53.0, 2^64 as a bignum
// and 2^64.0 are one key), else its bits (so a NaN equals a NaN of the
// same bits).
func canonFloat(dst []byte, f float64) []byte {
	if f == math.Trunc(f) && !math.IsInf(f, 0) {
		if math.Abs(f) < 1<<63 {
			if f < 0 {
				return canonUint(dst, 1, uint64(-f))
			}
			return canonUint(dst, 0, uint64(f)) // -0.0 too
		}
		n, _ := new(big.Float).SetFloat64(math.Abs(f)).Int(nil)
		mag := n.Bytes()
		neg := byte(0)
		if f < 0 {
			neg = 1
		}
		dst = binary.AppendUvarint(append(dst, 'I', neg), uint64(len(mag)))
		return append(dst, mag...)
	}
	return binary.BigEndian.AppendUint64(append(dst, 'F'), math.Float64bits(f))
}

// strContent returns a string's content (chunks joined) and its end.
func strContent(src []byte, ai byte, arg uint64, p int) ([]byte, int) {
	if ai != 31 {
		return src[p : p+int(arg)], p + int(arg)
	}
	var out []byte
	for src[p] != 0xff {
		_, _, n, np, _ := head(src, p)
		out = append(out, src[np:np+int(n)]...)
		p = np + int(n)
	}
	return out, p + 1
}

// skipSelfDescribed returns the position after the self-described tags
// (55799) at p, if any: however their heads are written (d9 d9 f7, or
// longer forms such as da 00 00 d9 f7), as checkWire reads them, so that
// the checks looking through them agree with checkWire on what they skip.
func skipSelfDescribed(src []byte, p int) int {
	for p < len(src) && src[p]>>5 == 6 {
		n, next, ok := tagHead(src, p)
		if !ok || n != selfDescribedTag {
			break
		}
		p = next
	}
	return p
}

// keyString is a wireKey as a set entry (text and canonical forms apart).
func keyString(k wireKey, b []byte) string {
	if k.text {
		return "S" + string(b)
	}
	return string(b)
}

// quickCheck is a one-loop check of the common message (definite lengths,
// no tags, nesting within 32, maps of two entries or more keyed by text):
// true when data certainly passes checkWire; false when it may not, and
// checkWire decides (and says why). It costs a few ns per item where
// checkWire's recursion costs about three times that; typed decoding runs
// it on every message.
func quickCheck(data []byte) bool {
	// Small, so that zeroing them costs little (Go zeroes locals).
	type frame struct {
		left    uint32 // items still to come (a map's: keys and values)
		kbase   uint8  // its keys start at keys[kbase]
		keyed   bool   // a map of two entries or more: its keys are checked
		keyNext bool   // the next item is a key
	}
	type span struct{ s, e uint32 } // a key's text: data[s:e]
	const maxFrames = 16
	var st [maxFrames + 1]frame
	var keys [16]span
	if len(data) > 1<<30 {
		return false
	}
	nk, sp, p := uint8(0), 0, 0
	st[0] = frame{left: 1}
	for {
		for st[sp].left == 0 {
			if sp == 0 {
				return p == len(data)
			}
			nk = st[sp].kbase
			sp--
		}
		f := &st[sp]
		f.left--
		isKey := false
		if f.keyed {
			isKey = f.keyNext
			f.keyNext = !f.keyNext
		}
		if p >= len(data) {
			return false
		}
		b := data[p]
		major, ai := b>>5, b&0x1f
		p++
		var arg uint64
		switch {
		case ai < 24:
			arg = uint64(ai)
		case ai == 24 && p+1 <= len(data):
			arg = uint64(data[p])
			p++
		case ai == 25 && p+2 <= len(data):
			arg = uint64(binary.BigEndian.Uint16(data[p:]))
			p += 2
		case ai == 26 && p+4 <= len(data):
			arg = uint64(binary.BigEndian.Uint32(data[p:]))
			p += 4
		case ai == 27 && p+8 <= len(data):
			arg = binary.BigEndian.Uint64(data[p:])
			p += 8
		default:
			return false // indefinite, reserved, truncated
		}
		switch major {
		case 0, 1:
			if isKey {
				return false
			}
		case 2, 3:
			if arg > uint64(len(data)-p) || isKey && major == 2 {
				return false
			}
			s := data[p : p+int(arg)]
			p += int(arg)
			if major == 3 && !utf8.Valid(s) {
				return false
			}
			if isKey {
				for _, k := range keys[f.kbase:nk] {
					if string(data[k.s:k.e]) == string(s) {
						return false
					}
				}
				if int(nk) == len(keys) {
					return false
				}
				keys[nk] = span{uint32(p - len(s)), uint32(p)}
				nk++
			}
		case 4, 5:
			if isKey || sp == maxFrames || arg > uint64(len(data)-p) {
				return false
			}
			n := arg
			if major == 5 {
				n *= 2
			}
			sp++
			st[sp] = frame{left: uint32(n), keyed: major == 5 && arg >= 2, keyNext: true, kbase: nk}
		case 7:
			if isKey || ai < 20 || ai == 24 {
				return false
			}
		default: // 6: tags are checkWire's
			return false
		}
	}
}
