package mpipc

/*
#include "shim.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// ShareableList is a named fixed-length list of scalars in shared memory
// (Python's shared_memory.ShareableList): each element is nil, a bool, an
// integer, a float, a string or []byte, stored as its CBOR encoding and
// read back exactly (no trailing-NUL stripping). Each slot's capacity is
// fixed at creation and counted in the value's own bytes, as Python's
// stock ShareableList counts it: a string (UTF-8) or []byte of n bytes
// makes a slot of 8*(n/8+1), anything else a slot of 8, so any int64 or
// float fits any slot; a longer string or []byte is ErrTooBig. Safe for use by many goroutines
// (every access takes the list's robust lock).
//
// Under the hood: an mp_slist handle mapping /dev/shm/mpipc.sl.<name>.
type ShareableList struct {
	h    handle[*C.mp_slist]
	name string
}

// OpenShareableList opens the list name. With items (non-nil), it creates
// the list holding them, or attaches to an existing list of as many
// elements; with items nil it attaches only. Errors: ErrType (an item
// that is not a scalar), ErrInvalid (another element count), ErrExists,
// ErrNotFound, ErrCorrupt.
func OpenShareableList(name string, items []any, mode OpenMode) (*ShareableList, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var data *C.uint8_t
	var n C.size_t
	var enc []byte
	if items != nil {
		var err error
		if enc, err = Marshal(items); err != nil {
			return nil, err
		}
		data, n = (*C.uint8_t)(unsafe.Pointer(&enc[0])), C.size_t(len(enc))
	}
	var p *C.mp_slist
	var e *C.char
	st := C.go_mp_slist_open(cname, data, n, C.uint32_t(mode), &p, &e)
	runtime.KeepAlive(enc)
	if st != 0 {
		return nil, newError("mp_slist_open", st, e)
	}
	l := &ShareableList{name: name}
	l.h.init(p, func(p *C.mp_slist) { C.mp_slist_close(p) })
	runtime.SetFinalizer(l, (*ShareableList).Close)
	return l, nil
}

// UnlinkShareableList removes the name; open handles keep working.
func UnlinkShareableList(name string) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var e *C.char
	return check("mp_slist_unlink", C.go_mp_slist_unlink(cname, &e), e)
}

// Name is the list's name.
func (l *ShareableList) Name() string { return l.name }

// Len is the element count.
func (l *ShareableList) Len() (int, error) {
	p, err := l.h.acquire()
	if err != nil {
		return 0, err
	}
	defer l.h.release()
	var n C.size_t
	var e *C.char
	st := C.go_mp_slist_len(p, &n, &e)
	runtime.KeepAlive(l)
	return int(n), check("mp_slist_len", st, e)
}

// Get returns element i decoded into any; ErrIndex out of range.
func (l *ShareableList) Get(i int) (any, error) {
	var v any
	err := l.GetInto(i, &v)
	return v, err
}

// GetInto decodes element i into out (a pointer).
func (l *ShareableList) GetInto(i int, out any) error {
	if i < 0 {
		return &Error{Code: ErrIndex, Op: "ShareableList", Msg: "negative index"}
	}
	p, err := l.h.acquire()
	if err != nil {
		return err
	}
	defer l.h.release()
	var res C.mp_buf
	var e *C.char
	st := C.go_mp_slist_get(p, C.size_t(i), &res, &e)
	runtime.KeepAlive(l)
	if st != 0 {
		return newError("mp_slist_get", st, e)
	}
	return decodeBuf(&res, out)
}

// Set stores v (a scalar) at i. ErrIndex, ErrType (not a scalar),
// ErrTooBig (larger than the slot; nothing changes).
func (l *ShareableList) Set(i int, v any) error {
	if i < 0 {
		return &Error{Code: ErrIndex, Op: "ShareableList", Msg: "negative index"}
	}
	b := getBuf()
	defer putBuf(b)
	if err := marshalTo(b, v); err != nil {
		return err
	}
	p, err := l.h.acquire()
	if err != nil {
		return err
	}
	defer l.h.release()
	enc := b.Bytes()
	var e *C.char
	st := C.go_mp_slist_set(p, C.size_t(i), (*C.uint8_t)(unsafe.Pointer(&enc[0])), C.size_t(len(enc)), &e)
	runtime.KeepAlive(l)
	runtime.KeepAlive(enc)
	return check("mp_slist_set", st, e)
}

// Capacity is slot i's capacity in the value's own bytes (the longest
// string, in UTF-8, or []byte it takes).
func (l *ShareableList) Capacity(i int) (int, error) {
	if i < 0 {
		return 0, &Error{Code: ErrIndex, Op: "ShareableList", Msg: "negative index"}
	}
	p, err := l.h.acquire()
	if err != nil {
		return 0, err
	}
	defer l.h.release()
	var n C.size_t
	var e *C.char
	st := C.go_mp_slist_capacity(p, C.size_t(i), &n, &e)
	runtime.KeepAlive(l)
	return int(n), check("mp_slist_capacity", st, e)
}

// Close unmaps the list (idempotent); it stays until unlinked.
func (l *ShareableList) Close() error {
	if l.h.close() {
		runtime.SetFinalizer(l, nil)
	}
	return nil
}
