package mpipc

/*
#include "shim.h"
#cgo noescape go_mp_array_get_i64
#cgo nocallback go_mp_array_get_i64
#cgo noescape go_mp_array_incr
#cgo nocallback go_mp_array_incr
#cgo noescape go_mp_array_read
#cgo nocallback go_mp_array_read
#cgo noescape go_mp_array_write
#cgo nocallback go_mp_array_write
*/
import "C"

import (
	"context"
	"fmt"
	"runtime"
	"time"
	"unsafe"
)

// ArrayOptions are the options of OpenArray and OpenValue.
type ArrayOptions struct {
	Mode   OpenMode // create, attach, or both
	NoLock bool     // create without a lock (Python's lock=False): Lock is then ErrUnsupported
}

// Array is a named array of one of Python's typecodes in shared memory
// (multiprocessing.Array): c b B h H i I l L q Q f d, with the sizes of the
// 64-bit Linux ABI (1 1 1 2 2 4 4 8 8 8 8 4 8 bytes), and a robust
// recursive lock beside the data (Python's default RLock).
//
// The typed accessors (GetInt, SetFloat, Incr, Read, Write, ...) each take
// the lock for their own duration, so they are atomic one by one; for a
// read-modify-write over several calls, hold the lock (Lock / Unlock) —
// the accessors work inside it (the lock is recursive). Python's rules
// apply: an integer out of the typecode's range is ErrInvalid, a float
// into an integer array ErrType.
//
// ErrOwnerDead: if a process died holding the lock, the next call that
// takes it gets the lock and ErrOwnerDead. For Lock that means "held, and
// the data may be half updated: check it, then Unlock as usual"; for an
// accessor it means the access WAS done (a Get's value is valid) after the
// lock was taken from the dead holder.
//
// Safe for use by many goroutines. The lock belongs to an OS thread (as
// threading.RLock): Lock wires the calling goroutine to its thread
// (runtime.LockOSThread) until the matching Unlock, which must come from
// the same goroutine.
//
// Under the hood: an mp_array handle mapping /dev/shm/mpipc.a.<name>.
type Array struct {
	h        handle[*C.mp_array]
	name     string
	data     unsafe.Pointer
	length   int
	typecode byte
	itemsize int
}

// OpenArray opens the array name: creates length zeroed elements of
// typecode, or attaches (typecode and length must match; length 0 attaches
// to any length). Errors: ErrInvalid (unknown typecode, another length),
// ErrType (another typecode), ErrExists, ErrNotFound, ErrCorrupt /
// ErrVersion, ErrPerm.
func OpenArray(name string, typecode byte, length int, opts ArrayOptions) (*Array, error) {
	if length < 0 {
		return nil, &Error{Code: ErrInvalid, Op: "OpenArray", Msg: "negative length"}
	}
	return openArray(name, typecode, length, opts)
}

func openArray(name string, typecode byte, length int, opts ArrayOptions) (*Array, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	flags := C.uint32_t(opts.Mode)
	if opts.NoLock {
		flags |= C.MP_ARRAY_NO_LOCK
	}
	var p *C.mp_array
	var e *C.char
	if st := C.go_mp_array_open(cname, C.char(typecode), C.size_t(length), flags, &p, &e); st != 0 {
		return nil, newError("mp_array_open", st, e)
	}
	a := &Array{
		name:     name,
		data:     C.mp_array_ptr(p),
		length:   int(C.mp_array_len(p)),
		typecode: byte(C.mp_array_typecode(p)),
		itemsize: int(C.mp_array_itemsize(p)),
	}
	a.h.init(p, func(p *C.mp_array) { C.mp_array_close(p) })
	runtime.SetFinalizer(a, (*Array).Close)
	return a, nil
}

// UnlinkArray removes the name of an array or Value; open handles keep
// working.
func UnlinkArray(name string) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var e *C.char
	return check("mp_array_unlink", C.go_mp_array_unlink(cname, &e), e)
}

// Name is the array's name.
func (a *Array) Name() string { return a.name }

// Len is the element count.
func (a *Array) Len() int { return a.length }

// Typecode is the typecode character.
func (a *Array) Typecode() byte { return a.typecode }

// Itemsize is the size of one element in bytes.
func (a *Array) Itemsize() int { return a.itemsize }

// Ptr is the first element, for zero-copy access (e.g.
// unsafe.Slice((*int64)(a.Ptr()), a.Len()) for a 'q' array), valid until
// Close; hold the lock while touching it if others write.
func (a *Array) Ptr() unsafe.Pointer {
	if a.h.closed() {
		return nil
	}
	return a.data
}

// Close unmaps the array (idempotent); it stays until unlinked. A lock
// held by this process stays held until the process exits, then goes to
// the next acquirer with ErrOwnerDead.
func (a *Array) Close() error {
	if a.h.close() {
		runtime.SetFinalizer(a, nil)
	}
	return nil
}

// Lock acquires the array's lock (recursive), waiting until ctx ends, and
// wires the goroutine to its OS thread until Unlock. ErrOwnerDead: held,
// the previous holder died (check the data). ErrUnsupported: made with
// NoLock.
func (a *Array) Lock(ctx context.Context) error { return a.lock(ctxWaiter(ctx)) }

// LockTimeout is Lock waiting at most d (0: try); ErrTimeout.
func (a *Array) LockTimeout(d time.Duration) error { return a.lock(timeoutWaiter(d)) }

func (a *Array) lock(w waiter) error {
	p, err := a.h.acquire()
	if err != nil {
		return err
	}
	defer a.h.release()
	runtime.LockOSThread()
	ms := w.first()
	for {
		var e *C.char
		st := C.go_mp_array_lock(p, C.int64_t(ms), &e)
		runtime.KeepAlive(a)
		switch st {
		case 0:
			return nil
		case C.MP_E_OWNER_DEAD:
			return newError("mp_array_lock", st, e) // held
		case C.MP_E_TIMEOUT:
		default:
			runtime.UnlockOSThread()
			return newError("mp_array_lock", st, e)
		}
		var stop error
		if ms, stop = w.next(a.h.closed()); stop != nil {
			runtime.UnlockOSThread()
			if stop == errExpired {
				return newError("mp_array_lock", st, e)
			}
			discard(e)
			return stop
		}
		discard(e)
	}
}

// Unlock releases one level of the lock (from the goroutine that locked
// it); ErrPerm if this thread does not hold it.
func (a *Array) Unlock() error {
	p, err := a.h.acquire()
	if err != nil {
		return err
	}
	defer a.h.release()
	var e *C.char
	st := C.go_mp_array_unlock(p, &e)
	runtime.KeepAlive(a)
	if st == 0 {
		runtime.UnlockOSThread()
	}
	return check("mp_array_unlock", st, e)
}

// accessErr reports an accessor's status; with ErrOwnerDead the access
// was done and its result is valid.
func accessErr(op string, st C.mp_status, e *C.char) error { return check(op, st, e) }

// GetInt reads element i as a signed integer. ErrIndex, ErrType (a float
// array), ErrInvalid (a Q/L value above MaxInt64: use GetUint).
func (a *Array) GetInt(i int) (int64, error) {
	p, err := a.h.acquire()
	if err != nil {
		return 0, err
	}
	defer a.h.release()
	var v C.int64_t
	var e *C.char
	st := C.go_mp_array_get_i64(p, C.size_t(i), &v, &e)
	runtime.KeepAlive(a)
	return int64(v), accessErr("mp_array_get_i64", st, e)
}

// GetUint reads element i as an unsigned integer (ErrInvalid if negative).
func (a *Array) GetUint(i int) (uint64, error) {
	p, err := a.h.acquire()
	if err != nil {
		return 0, err
	}
	defer a.h.release()
	var v C.uint64_t
	var e *C.char
	st := C.go_mp_array_get_u64(p, C.size_t(i), &v, &e)
	runtime.KeepAlive(a)
	return uint64(v), accessErr("mp_array_get_u64", st, e)
}

// GetFloat reads element i as a float64 (integers are converted).
func (a *Array) GetFloat(i int) (float64, error) {
	p, err := a.h.acquire()
	if err != nil {
		return 0, err
	}
	defer a.h.release()
	var v C.double
	var e *C.char
	st := C.go_mp_array_get_f64(p, C.size_t(i), &v, &e)
	runtime.KeepAlive(a)
	return float64(v), accessErr("mp_array_get_f64", st, e)
}

// SetInt writes a signed integer to element i; ErrInvalid out of the
// typecode's range (nothing written).
func (a *Array) SetInt(i int, v int64) error {
	p, err := a.h.acquire()
	if err != nil {
		return err
	}
	defer a.h.release()
	var e *C.char
	st := C.go_mp_array_set_i64(p, C.size_t(i), C.int64_t(v), &e)
	runtime.KeepAlive(a)
	return accessErr("mp_array_set_i64", st, e)
}

// SetUint writes an unsigned integer to element i.
func (a *Array) SetUint(i int, v uint64) error {
	p, err := a.h.acquire()
	if err != nil {
		return err
	}
	defer a.h.release()
	var e *C.char
	st := C.go_mp_array_set_u64(p, C.size_t(i), C.uint64_t(v), &e)
	runtime.KeepAlive(a)
	return accessErr("mp_array_set_u64", st, e)
}

// SetFloat writes a float to element i of an f or d array (ErrType for an
// integer array, as Python).
func (a *Array) SetFloat(i int, v float64) error {
	p, err := a.h.acquire()
	if err != nil {
		return err
	}
	defer a.h.release()
	var e *C.char
	st := C.go_mp_array_set_f64(p, C.size_t(i), C.double(v), &e)
	runtime.KeepAlive(a)
	return accessErr("mp_array_set_f64", st, e)
}

// Incr adds delta to integer element i under the lock (an atomic a[i] +=
// delta) and returns the new value. With ErrOwnerDead the addition was
// done and the new value is returned too. ErrType for a float array,
// ErrInvalid if the result leaves the typecode's range (nothing written).
func (a *Array) Incr(i int, delta int64) (int64, error) {
	p, err := a.h.acquire()
	if err != nil {
		return 0, err
	}
	defer a.h.release()
	var v C.int64_t
	var e *C.char
	st := C.go_mp_array_incr(p, C.size_t(i), C.int64_t(delta), &v, &e)
	runtime.KeepAlive(a)
	return int64(v), accessErr("mp_array_incr", st, e)
}

// sliceOf checks that s is a slice of the Go type of the typecode and
// returns its data pointer and length.
func (a *Array) sliceOf(s any) (unsafe.Pointer, int, error) {
	var p unsafe.Pointer
	var n int
	var ok bool
	switch tc := a.typecode; v := s.(type) {
	case []int8:
		p, n, ok = sliceData(v, tc == 'b')
	case []uint8:
		p, n, ok = sliceData(v, tc == 'B' || tc == 'c')
	case []int16:
		p, n, ok = sliceData(v, tc == 'h')
	case []uint16:
		p, n, ok = sliceData(v, tc == 'H')
	case []int32:
		p, n, ok = sliceData(v, tc == 'i')
	case []uint32:
		p, n, ok = sliceData(v, tc == 'I')
	case []int64:
		p, n, ok = sliceData(v, tc == 'q' || tc == 'l')
	case []uint64:
		p, n, ok = sliceData(v, tc == 'Q' || tc == 'L')
	case []float32:
		p, n, ok = sliceData(v, tc == 'f')
	case []float64:
		p, n, ok = sliceData(v, tc == 'd')
	}
	if !ok {
		return nil, 0, &Error{Code: ErrType, Op: "Array",
			Msg: fmt.Sprintf("%T does not hold elements of typecode %q", s, rune(a.typecode))}
	}
	return p, n, nil
}

// sliceData is one arm of sliceOf: v's data pointer (nil when v is empty,
// as there is no element to point at) and length, and whether v's element
// type matches the typecode (match, as the arm computed it).
func sliceData[T any](v []T, match bool) (unsafe.Pointer, int, bool) {
	if len(v) == 0 {
		return nil, 0, match
	}
	return unsafe.Pointer(&v[0]), len(v), match
}

// Read copies len(dst) elements from index start into dst, under the
// lock. dst is a slice of the typecode's Go type: []int8 (b), []uint8 (B,
// c), []int16 (h), []uint16 (H), []int32 (i), []uint32 (I), []int64 (l, q),
// []uint64 (L, Q), []float32 (f), []float64 (d); else ErrType. ErrIndex
// past the end.
func (a *Array) Read(start int, dst any) error {
	ptr, n, err := a.sliceOf(dst)
	if err != nil || n == 0 {
		return err
	}
	p, err := a.h.acquire()
	if err != nil {
		return err
	}
	defer a.h.release()
	var e *C.char
	st := C.go_mp_array_read(p, C.size_t(start), ptr, C.size_t(n), &e)
	runtime.KeepAlive(a)
	runtime.KeepAlive(dst)
	return accessErr("mp_array_read", st, e)
}

// Write copies the elements of src (a slice as for Read) to the elements
// from index start, under the lock.
func (a *Array) Write(start int, src any) error {
	ptr, n, err := a.sliceOf(src)
	if err != nil || n == 0 {
		return err
	}
	p, err := a.h.acquire()
	if err != nil {
		return err
	}
	defer a.h.release()
	var e *C.char
	st := C.go_mp_array_write(p, C.size_t(start), ptr, C.size_t(n), &e)
	runtime.KeepAlive(a)
	runtime.KeepAlive(src)
	return accessErr("mp_array_write", st, e)
}

// ---- Value ----

// Value is a named single value of a typecode in shared memory
// (multiprocessing.Value): an Array of length 1, with the same lock and
// rules (and every Array method).
type Value struct {
	*Array
}

// OpenValue opens the Value name (see OpenArray). Close it with Close and
// remove it with UnlinkArray.
func OpenValue(name string, typecode byte, opts ArrayOptions) (*Value, error) {
	a, err := openArray(name, typecode, 1, opts)
	if err != nil {
		return nil, err
	}
	return &Value{a}, nil
}

// Int reads the value as a signed integer.
func (v *Value) Int() (int64, error) { return v.GetInt(0) }

// SetInt sets an integer value.
func (v *Value) SetInt(x int64) error { return v.Array.SetInt(0, x) }

// Uint reads the value as an unsigned integer.
func (v *Value) Uint() (uint64, error) { return v.GetUint(0) }

// SetUint sets an unsigned integer value.
func (v *Value) SetUint(x uint64) error { return v.Array.SetUint(0, x) }

// Float reads the value as a float64.
func (v *Value) Float() (float64, error) { return v.GetFloat(0) }

// SetFloat sets a float value (f or d).
func (v *Value) SetFloat(x float64) error { return v.Array.SetFloat(0, x) }

// Add atomically adds delta to an integer value and returns the new value.
func (v *Value) Add(delta int64) (int64, error) { return v.Array.Incr(0, delta) }
