package mpipc

/*
#include "shim.h"
#cgo noescape go_mp_mgr_dict_get
#cgo nocallback go_mp_mgr_dict_get
#cgo noescape go_mp_mgr_dict_set
#cgo nocallback go_mp_mgr_dict_set
#cgo noescape go_mp_mgr_dict_incr
#cgo nocallback go_mp_mgr_dict_incr
*/
import "C"

import (
	"context"
	"math"
	"runtime"
	"time"
	"unsafe"
)

// The proxies: one small value per kind of manager object, named as
// Python's proxies. Each holds the Manager and the object's name; making
// one costs nothing and sends nothing (objects are created on first use).
// Methods, arguments and errors: docs/PROTOCOL.md §4.

// End as a slice bound means "to the end" (the server clamps bounds to the
// length): l.Slice(2, mpipc.End) is Python's l[2:].
const End = math.MaxInt64

// ---- dict ----

// DictProxy is a shared dict (Python's DictProxy), with atomic Incr,
// CompareAndSet, SetDefault, Pop and Update. Keys may be any hashable CBOR
// value: numbers (1 and 1.0 are one key, as in Python), strings, bytes,
// bools, arrays (use an []any or ArrayKey), not maps.
type DictProxy struct {
	m     *Manager
	name  string
	cname []byte
}

// Dict is the dict named name.
func (m *Manager) Dict(name string) *DictProxy {
	return &DictProxy{m: m, name: name, cname: cstr(name)}
}

// Name is the dict's name.
func (d *DictProxy) Name() string { return d.name }

// Get returns dict[key] decoded into any; ErrNotFound if absent (Python's
// KeyError).
func (d *DictProxy) Get(key any) (any, error) {
	var v any
	err := d.GetInto(key, &v)
	return v, err
}

// GetInto decodes dict[key] into out (a pointer); ErrNotFound if absent.
func (d *DictProxy) GetInto(key, out any) error {
	kb := getBuf()
	defer putBuf(kb)
	if err := marshalTo(kb, key); err != nil {
		return err
	}
	p, err := d.m.h.acquire()
	if err != nil {
		return err
	}
	defer d.m.h.release()
	k := kb.Bytes()
	var res C.mp_buf
	var e *C.char
	st := C.go_mp_mgr_dict_get(p, cptr(d.cname), (*C.uint8_t)(unsafe.Pointer(&k[0])), C.size_t(len(k)), &res, &e)
	runtime.KeepAlive(d.m)
	runtime.KeepAlive(d.cname)
	runtime.KeepAlive(k)
	if st != 0 {
		return newError("mp_mgr_dict_get", st, e)
	}
	return decodeBuf(&res, out)
}

// GetDefault returns dict[key], or def if absent (Python's d.get(key, def)).
func (d *DictProxy) GetDefault(key, def any) (any, error) {
	return d.m.Call("dict", d.name, "get", key, def)
}

// Set sets dict[key] = val.
func (d *DictProxy) Set(key, val any) error {
	kb, vb := getBuf(), getBuf()
	defer putBuf(kb)
	defer putBuf(vb)
	if err := marshalTo(kb, key); err != nil {
		return err
	}
	if err := marshalTo(vb, val); err != nil {
		return err
	}
	p, err := d.m.h.acquire()
	if err != nil {
		return err
	}
	defer d.m.h.release()
	k, v := kb.Bytes(), vb.Bytes()
	var e *C.char
	st := C.go_mp_mgr_dict_set(p, cptr(d.cname), (*C.uint8_t)(unsafe.Pointer(&k[0])), C.size_t(len(k)),
		(*C.uint8_t)(unsafe.Pointer(&v[0])), C.size_t(len(v)), &e)
	runtime.KeepAlive(d.m)
	runtime.KeepAlive(d.cname)
	runtime.KeepAlive(k)
	runtime.KeepAlive(v)
	return check("mp_mgr_dict_set", st, e)
}

// Delete removes key (Python's del d[key]); ErrNotFound if absent.
func (d *DictProxy) Delete(key any) error {
	kb := getBuf()
	defer putBuf(kb)
	if err := marshalTo(kb, key); err != nil {
		return err
	}
	p, err := d.m.h.acquire()
	if err != nil {
		return err
	}
	defer d.m.h.release()
	k := kb.Bytes()
	var e *C.char
	st := C.go_mp_mgr_dict_del(p, cptr(d.cname), (*C.uint8_t)(unsafe.Pointer(&k[0])), C.size_t(len(k)), &e)
	runtime.KeepAlive(d.m)
	runtime.KeepAlive(d.cname)
	runtime.KeepAlive(k)
	return check("mp_mgr_dict_del", st, e)
}

// Len is len(dict).
func (d *DictProxy) Len() (int, error) {
	p, err := d.m.h.acquire()
	if err != nil {
		return 0, err
	}
	defer d.m.h.release()
	var n C.size_t
	var e *C.char
	st := C.go_mp_mgr_dict_len(p, cptr(d.cname), &n, &e)
	runtime.KeepAlive(d.m)
	runtime.KeepAlive(d.cname)
	return int(n), check("mp_mgr_dict_len", st, e)
}

// Incr atomically adds delta to the integer at key (absent counts as 0)
// and returns the new value: d[k] += delta without the race it has in
// Python. ErrType if the value is not an integer, ErrInvalid on overflow.
func (d *DictProxy) Incr(key any, delta int64) (int64, error) {
	kb := getBuf()
	defer putBuf(kb)
	if err := marshalTo(kb, key); err != nil {
		return 0, err
	}
	p, err := d.m.h.acquire()
	if err != nil {
		return 0, err
	}
	defer d.m.h.release()
	k := kb.Bytes()
	var n C.int64_t
	var e *C.char
	st := C.go_mp_mgr_dict_incr(p, cptr(d.cname), (*C.uint8_t)(unsafe.Pointer(&k[0])), C.size_t(len(k)), C.int64_t(delta), &n, &e)
	runtime.KeepAlive(d.m)
	runtime.KeepAlive(d.cname)
	runtime.KeepAlive(k)
	return int64(n), check("mp_mgr_dict_incr", st, e)
}

// Contains reports whether key is in the dict.
func (d *DictProxy) Contains(key any) (bool, error) {
	var ok bool
	err := d.m.CallInto(&ok, "dict", d.name, "contains", key)
	return ok, err
}

// Keys are the keys in insertion order.
func (d *DictProxy) Keys() ([]any, error) { return d.list("keys") }

// Values are the values in insertion order.
func (d *DictProxy) Values() ([]any, error) { return d.list("values") }

func (d *DictProxy) list(method string) ([]any, error) {
	v, err := d.m.Call("dict", d.name, method)
	if err != nil {
		return nil, err
	}
	a, _ := v.([]any)
	return a, nil
}

// Items are the key/value pairs in insertion order.
func (d *DictProxy) Items() ([]Item, error) {
	// Decoded through any, so keys and values follow the contract.
	v, err := d.m.Call("dict", d.name, "items")
	if err != nil {
		return nil, err
	}
	pairs, _ := v.([]any)
	out := make([]Item, 0, len(pairs))
	for _, p := range pairs {
		kv, ok := p.([]any)
		if !ok || len(kv) != 2 {
			return nil, &Error{Code: ErrCorrupt, Op: "dict items", Msg: "an item is not a [key, value] pair"}
		}
		out = append(out, Item{Key: kv[0], Value: kv[1]})
	}
	return out, nil
}

// Copy is the whole dict (Python's dict(d)).
func (d *DictProxy) Copy() (map[any]any, error) {
	v, err := d.m.Call("dict", d.name, "copy")
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[any]any)
	if m == nil {
		m = map[any]any{}
	}
	return m, nil
}

// CopyInto decodes the whole dict into out (e.g. *map[string]int or a
// struct pointer).
func (d *DictProxy) CopyInto(out any) error { return d.m.CallInto(out, "dict", d.name, "copy") }

// Clear removes every item.
func (d *DictProxy) Clear() error { return d.m.CallInto(nil, "dict", d.name, "clear") }

// Pop removes key and returns its value; ErrNotFound if absent.
func (d *DictProxy) Pop(key any) (any, error) { return d.m.Call("dict", d.name, "pop", key) }

// PopDefault removes key and returns its value, or def if absent.
func (d *DictProxy) PopDefault(key, def any) (any, error) {
	return d.m.Call("dict", d.name, "pop", key, def)
}

// PopItem removes and returns the last item in insertion order;
// ErrNotFound if the dict is empty.
func (d *DictProxy) PopItem() (Item, error) {
	v, err := d.m.Call("dict", d.name, "popitem")
	if err != nil {
		return Item{}, err
	}
	kv, ok := v.([]any)
	if !ok || len(kv) != 2 {
		return Item{}, &Error{Code: ErrCorrupt, Op: "dict popitem", Msg: "not a [key, value] pair"}
	}
	return Item{Key: kv[0], Value: kv[1]}, nil
}

// SetDefault returns dict[key], inserting def first if absent (atomic).
func (d *DictProxy) SetDefault(key, def any) (any, error) {
	return d.m.Call("dict", d.name, "setdefault", key, def)
}

// Update sets every pair of m (a Go map, or a struct encoded as a map),
// all or nothing.
func (d *DictProxy) Update(m any) error { return d.m.CallInto(nil, "dict", d.name, "update", m) }

// CompareAndSet sets key to new iff it is present and equal to expected
// (atomic; it never inserts), and reports whether it did.
func (d *DictProxy) CompareAndSet(key, expected, new any) (bool, error) {
	var ok bool
	err := d.m.CallInto(&ok, "dict", d.name, "compare_and_set", key, expected, new)
	return ok, err
}

// ---- list ----

// ListProxy is a shared list (Python's ListProxy). Indexes may be negative
// (from the end); out of range is ErrIndex.
type ListProxy struct {
	m    *Manager
	name string
}

// List is the list named name.
func (m *Manager) List(name string) *ListProxy { return &ListProxy{m: m, name: name} }

func (l *ListProxy) call(method string, args ...any) (any, error) {
	return l.m.Call("list", l.name, method, args...)
}

func (l *ListProxy) do(method string, args ...any) error {
	return l.m.CallInto(nil, "list", l.name, method, args...)
}

func (l *ListProxy) int(method string, args ...any) (int, error) {
	var n int
	err := l.m.CallInto(&n, "list", l.name, method, args...)
	return n, err
}

// Append adds x at the end.
func (l *ListProxy) Append(x any) error { return l.do("append", x) }

// Extend adds every item at the end.
func (l *ListProxy) Extend(items []any) error {
	if items == nil {
		items = []any{}
	}
	return l.do("extend", items)
}

// Insert inserts x before index i (clamped, as Python).
func (l *ListProxy) Insert(i int, x any) error { return l.do("insert", i, x) }

// Index is the index of the first element equal to x; ErrNotFound if none.
func (l *ListProxy) Index(x any) (int, error) { return l.int("index", x) }

// Count is how many elements equal x.
func (l *ListProxy) Count(x any) (int, error) { return l.int("count", x) }

// Remove removes the first element equal to x; ErrNotFound if none.
func (l *ListProxy) Remove(x any) error { return l.do("remove", x) }

// Pop removes and returns element i (-1: the last); ErrIndex if out of
// range or empty.
func (l *ListProxy) Pop(i int) (any, error) { return l.call("pop", i) }

// Reverse reverses the list in place.
func (l *ListProxy) Reverse() error { return l.do("reverse") }

// Sort sorts the list in place (stable); ErrType for unorderable elements
// (the list is then unchanged).
func (l *ListProxy) Sort(reverse bool) error { return l.do("sort", reverse) }

// Get returns element i.
func (l *ListProxy) Get(i int) (any, error) { return l.call("getitem", i) }

// GetInto decodes element i into out.
func (l *ListProxy) GetInto(i int, out any) error {
	return l.m.CallInto(out, "list", l.name, "getitem", i)
}

// Set replaces element i.
func (l *ListProxy) Set(i int, x any) error { return l.do("setitem", i, x) }

// Delete removes element i.
func (l *ListProxy) Delete(i int) error { return l.do("delitem", i) }

// Slice returns l[start:stop] (negative bounds count from the end; End
// means the end).
func (l *ListProxy) Slice(start, stop int) ([]any, error) {
	v, err := l.call("getslice", start, stop)
	a, _ := v.([]any)
	return a, err
}

// SetSlice replaces l[start:stop] with items (the length may change).
func (l *ListProxy) SetSlice(start, stop int, items []any) error {
	if items == nil {
		items = []any{}
	}
	return l.do("setslice", start, stop, items)
}

// DeleteSlice removes l[start:stop].
func (l *ListProxy) DeleteSlice(start, stop int) error { return l.do("delslice", start, stop) }

// Len is len(list).
func (l *ListProxy) Len() (int, error) { return l.int("len") }

// Contains reports whether an element equals x.
func (l *ListProxy) Contains(x any) (bool, error) {
	var ok bool
	err := l.m.CallInto(&ok, "list", l.name, "contains", x)
	return ok, err
}

// Clear removes every element.
func (l *ListProxy) Clear() error { return l.do("clear") }

// Copy is the whole list.
func (l *ListProxy) Copy() ([]any, error) {
	v, err := l.call("copy")
	a, _ := v.([]any)
	if a == nil && err == nil {
		a = []any{}
	}
	return a, err
}

// CopyInto decodes the whole list into out (e.g. *[]string).
func (l *ListProxy) CopyInto(out any) error { return l.m.CallInto(out, "list", l.name, "copy") }

// ---- set ----

// SetProxy is a shared set (members in insertion order).
type SetProxy struct {
	m    *Manager
	name string
}

// Set is the set named name.
func (m *Manager) Set(name string) *SetProxy { return &SetProxy{m: m, name: name} }

// Add adds x.
func (s *SetProxy) Add(x any) error { return s.m.CallInto(nil, "set", s.name, "add", x) }

// Discard removes x if present.
func (s *SetProxy) Discard(x any) error { return s.m.CallInto(nil, "set", s.name, "discard", x) }

// Remove removes x; ErrNotFound if absent.
func (s *SetProxy) Remove(x any) error { return s.m.CallInto(nil, "set", s.name, "remove", x) }

// Contains reports whether x is a member.
func (s *SetProxy) Contains(x any) (bool, error) {
	var ok bool
	err := s.m.CallInto(&ok, "set", s.name, "contains", x)
	return ok, err
}

// Len is the number of members.
func (s *SetProxy) Len() (int, error) {
	var n int
	err := s.m.CallInto(&n, "set", s.name, "len")
	return n, err
}

// Pop removes and returns the last member added; ErrNotFound if empty.
func (s *SetProxy) Pop() (any, error) { return s.m.Call("set", s.name, "pop") }

// Clear removes every member.
func (s *SetProxy) Clear() error { return s.m.CallInto(nil, "set", s.name, "clear") }

// Update adds every item (all or nothing).
func (s *SetProxy) Update(items []any) error {
	if items == nil {
		items = []any{}
	}
	return s.m.CallInto(nil, "set", s.name, "update", items)
}

// Members are the members in insertion order.
func (s *SetProxy) Members() ([]any, error) {
	v, err := s.m.Call("set", s.name, "members")
	a, _ := v.([]any)
	if a == nil && err == nil {
		a = []any{}
	}
	return a, err
}

// ---- namespace ----

// NamespaceProxy is a shared namespace (Python's Namespace): named
// attributes.
type NamespaceProxy struct {
	m    *Manager
	name string
}

// Namespace is the namespace named name.
func (m *Manager) Namespace(name string) *NamespaceProxy { return &NamespaceProxy{m: m, name: name} }

// Get returns attribute attr; ErrNotFound if absent (AttributeError).
func (n *NamespaceProxy) Get(attr string) (any, error) {
	return n.m.Call("namespace", n.name, "getattr", attr)
}

// GetInto decodes attribute attr into out.
func (n *NamespaceProxy) GetInto(attr string, out any) error {
	return n.m.CallInto(out, "namespace", n.name, "getattr", attr)
}

// GetDefault returns attribute attr, or def if absent.
func (n *NamespaceProxy) GetDefault(attr string, def any) (any, error) {
	return n.m.Call("namespace", n.name, "getattr", attr, def)
}

// Set sets attribute attr.
func (n *NamespaceProxy) Set(attr string, v any) error {
	return n.m.CallInto(nil, "namespace", n.name, "setattr", attr, v)
}

// Delete removes attribute attr; ErrNotFound if absent.
func (n *NamespaceProxy) Delete(attr string) error {
	return n.m.CallInto(nil, "namespace", n.name, "delattr", attr)
}

// Dict is every attribute.
func (n *NamespaceProxy) Dict() (map[string]any, error) {
	out := map[string]any{}
	v, err := n.m.Call("namespace", n.name, "dict")
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[any]any)
	for k, x := range m {
		if s, ok := k.(string); ok {
			out[s] = x
		}
	}
	return out, nil
}

// ---- value ----

// ValueProxy is a shared value (Python's Manager().Value): one CBOR value
// (null until set), with atomic Incr and CompareAndSet.
type ValueProxy struct {
	m    *Manager
	name string
}

// Value is the value named name.
func (m *Manager) Value(name string) *ValueProxy { return &ValueProxy{m: m, name: name} }

// Create creates the value holding initial, and reports whether it did
// (false: it existed; initial is then ignored).
func (v *ValueProxy) Create(initial any) (bool, error) {
	var ok bool
	err := v.m.CallInto(&ok, "value", v.name, "create", initial)
	return ok, err
}

// Get returns the value.
func (v *ValueProxy) Get() (any, error) { return v.m.Call("value", v.name, "get") }

// GetInto decodes the value into out.
func (v *ValueProxy) GetInto(out any) error { return v.m.CallInto(out, "value", v.name, "get") }

// Set sets the value.
func (v *ValueProxy) Set(x any) error { return v.m.CallInto(nil, "value", v.name, "set", x) }

// Incr atomically adds delta (a value never set counts as 0) and returns
// the new value; ErrType if not an integer.
func (v *ValueProxy) Incr(delta int64) (int64, error) {
	var n int64
	err := v.m.CallInto(&n, "value", v.name, "incr", delta)
	return n, err
}

// CompareAndSet sets new iff the value equals expected, and reports
// whether it did.
func (v *ValueProxy) CompareAndSet(expected, new any) (bool, error) {
	var ok bool
	err := v.m.CallInto(&ok, "value", v.name, "compare_and_set", expected, new)
	return ok, err
}

// ---- lock, rlock ----

// LockProxy is a lock or rlock held by the server, owned by the Manager's
// connection (not by a goroutine or thread): the server releases it when
// the connection closes, even if this process dies.
type LockProxy struct {
	m    *Manager
	kind string
	name string
}

// Lock is the lock named name (acquiring it twice on one connection is
// ErrInvalid).
func (m *Manager) Lock(name string) *LockProxy { return &LockProxy{m: m, kind: "lock", name: name} }

// RLock is the recursive lock named name.
func (m *Manager) RLock(name string) *LockProxy { return &LockProxy{m: m, kind: "rlock", name: name} }

// Acquire waits until the lock is acquired or ctx ends (ctx.Err()).
func (l *LockProxy) Acquire(ctx context.Context) error {
	return acquireProxy(l.m, ctxWaiter(ctx), l.kind, l.name)
}

// AcquireTimeout waits at most d (0: try once); ErrTimeout when it could
// not acquire.
func (l *LockProxy) AcquireTimeout(d time.Duration) error {
	return acquireProxy(l.m, timeoutWaiter(d), l.kind, l.name)
}

// Release releases the lock (one level of an rlock); ErrPerm if this
// connection does not hold it.
func (l *LockProxy) Release() error { return l.m.CallInto(nil, l.kind, l.name, "release") }

// Locked reports whether anyone holds the lock.
func (l *LockProxy) Locked() (bool, error) {
	var ok bool
	err := l.m.CallInto(&ok, l.kind, l.name, "locked")
	return ok, err
}

// acquireProxy repeats `acquire [timeout]` in slices (each slice returns
// false on expiry, which is a plain retry).
func acquireProxy(m *Manager, w waiter, kind, name string) error {
	return m.sliced(w, ErrTimeout, kind+" acquire", func(ms int64) (bool, error) {
		var ok bool
		if err := m.CallInto(&ok, kind, name, "acquire", ms); err != nil {
			return false, err
		}
		return ok, nil
	})
}

// ---- semaphore ----

// SemaphoreProxy is a semaphore or bounded semaphore held by the server.
// Each connection's acquisitions are given back when it closes.
type SemaphoreProxy struct {
	m    *Manager
	kind string
	name string
}

// Semaphore is the semaphore named name (created with value 1 on first
// use; Create sets another).
func (m *Manager) Semaphore(name string) *SemaphoreProxy {
	return &SemaphoreProxy{m: m, kind: "semaphore", name: name}
}

// BoundedSemaphore is the bounded semaphore named name (releasing above
// its initial value is ErrInvalid).
func (m *Manager) BoundedSemaphore(name string) *SemaphoreProxy {
	return &SemaphoreProxy{m: m, kind: "bounded_semaphore", name: name}
}

// Create creates the semaphore with value units, and reports whether it
// did (false: it existed).
func (s *SemaphoreProxy) Create(value int) (bool, error) {
	var ok bool
	err := s.m.CallInto(&ok, s.kind, s.name, "create", value)
	return ok, err
}

// Acquire takes one unit, waiting until ctx ends.
func (s *SemaphoreProxy) Acquire(ctx context.Context) error {
	return acquireProxy(s.m, ctxWaiter(ctx), s.kind, s.name)
}

// AcquireTimeout takes one unit, waiting at most d (ErrTimeout).
func (s *SemaphoreProxy) AcquireTimeout(d time.Duration) error {
	return acquireProxy(s.m, timeoutWaiter(d), s.kind, s.name)
}

// Release gives n units back (any connection may).
func (s *SemaphoreProxy) Release(n int) error { return s.m.CallInto(nil, s.kind, s.name, "release", n) }

// Value is the current count.
func (s *SemaphoreProxy) Value() (int, error) {
	var n int
	err := s.m.CallInto(&n, s.kind, s.name, "get_value")
	return n, err
}

// ---- event ----

// EventProxy is an event held by the server.
type EventProxy struct {
	m    *Manager
	name string
}

// Event is the event named name.
func (m *Manager) Event(name string) *EventProxy { return &EventProxy{m: m, name: name} }

// Set sets the flag, waking every waiter.
func (e *EventProxy) Set() error { return e.m.CallInto(nil, "event", e.name, "set") }

// Clear clears the flag.
func (e *EventProxy) Clear() error { return e.m.CallInto(nil, "event", e.name, "clear") }

// IsSet reports the flag.
func (e *EventProxy) IsSet() (bool, error) {
	var ok bool
	err := e.m.CallInto(&ok, "event", e.name, "is_set")
	return ok, err
}

// Wait waits until the flag is set or ctx ends.
func (e *EventProxy) Wait(ctx context.Context) error { return e.wait(ctxWaiter(ctx)) }

// WaitTimeout waits at most d; ErrTimeout if the flag was not set.
func (e *EventProxy) WaitTimeout(d time.Duration) error { return e.wait(timeoutWaiter(d)) }

func (e *EventProxy) wait(w waiter) error {
	return e.m.sliced(w, ErrTimeout, "event wait", func(ms int64) (bool, error) {
		var ok bool
		if err := e.m.CallInto(&ok, "event", e.name, "wait", ms); err != nil {
			return false, err
		}
		return ok, nil
	})
}

// ---- condition ----

// ConditionProxy is a condition held by the server: a recursive lock and
// a queue of waiters, owned by the Manager's connection.
type ConditionProxy struct {
	m    *Manager
	name string
}

// Condition is the condition named name.
func (m *Manager) Condition(name string) *ConditionProxy { return &ConditionProxy{m: m, name: name} }

// Acquire takes the condition's lock, waiting until ctx ends.
func (c *ConditionProxy) Acquire(ctx context.Context) error {
	return acquireProxy(c.m, ctxWaiter(ctx), "condition", c.name)
}

// AcquireTimeout takes the lock, waiting at most d (ErrTimeout).
func (c *ConditionProxy) AcquireTimeout(d time.Duration) error {
	return acquireProxy(c.m, timeoutWaiter(d), "condition", c.name)
}

// Release releases the lock (one level); ErrPerm if not held.
func (c *ConditionProxy) Release() error { return c.m.CallInto(nil, "condition", c.name, "release") }

// Notify wakes up to n waiters (the longest waiting); ErrPerm if the lock
// is not held.
func (c *ConditionProxy) Notify(n int) error {
	return c.m.CallInto(nil, "condition", c.name, "notify", n)
}

// NotifyAll wakes every waiter; ErrPerm if the lock is not held.
func (c *ConditionProxy) NotifyAll() error {
	return c.m.CallInto(nil, "condition", c.name, "notify_all")
}

// Wait releases the lock, waits for a notification at most d (negative:
// forever), and takes the lock back; ErrTimeout if not notified. Not
// cancellable by a context: a wait cut in slices could miss a
// notification. It holds the Manager's connection while it waits.
func (c *ConditionProxy) Wait(d time.Duration) error {
	var ok bool
	if err := c.m.CallInto(&ok, "condition", c.name, "wait", durationMs(d)); err != nil {
		return err
	}
	if !ok {
		return &Error{Code: ErrTimeout, Op: "condition wait", Msg: "not notified in time"}
	}
	return nil
}

// ---- barrier ----

// BarrierProxy is a barrier held by the server.
type BarrierProxy struct {
	m    *Manager
	name string
}

// Barrier is the barrier named name (Create it with its party count first).
func (m *Manager) Barrier(name string) *BarrierProxy { return &BarrierProxy{m: m, name: name} }

// Create creates the barrier for parties parties, and reports whether it
// did.
func (b *BarrierProxy) Create(parties int) (bool, error) {
	var ok bool
	err := b.m.CallInto(&ok, "barrier", b.name, "create", parties)
	return ok, err
}

// Wait waits until every party has called Wait, at most d (negative:
// forever), and returns this party's arrival index. ErrBroken if the
// barrier is or gets broken; an expired wait breaks it for everyone (as
// in Python). It holds the Manager's connection while it waits.
func (b *BarrierProxy) Wait(d time.Duration) (int, error) {
	var i int
	err := b.m.CallInto(&i, "barrier", b.name, "wait", durationMs(d))
	return i, err
}

// Abort breaks the barrier.
func (b *BarrierProxy) Abort() error { return b.m.CallInto(nil, "barrier", b.name, "abort") }

// Reset returns the barrier to its initial state (waiters get ErrBroken).
func (b *BarrierProxy) Reset() error { return b.m.CallInto(nil, "barrier", b.name, "reset") }

// Parties is the number of parties.
func (b *BarrierProxy) Parties() (int, error) {
	var n int
	err := b.m.CallInto(&n, "barrier", b.name, "parties")
	return n, err
}

// NWaiting is the number of parties waiting.
func (b *BarrierProxy) NWaiting() (int, error) {
	var n int
	err := b.m.CallInto(&n, "barrier", b.name, "n_waiting")
	return n, err
}

// Broken reports whether the barrier is broken.
func (b *BarrierProxy) Broken() (bool, error) {
	var ok bool
	err := b.m.CallInto(&ok, "barrier", b.name, "broken")
	return ok, err
}

// ---- queue ----

// QueueProxy is a queue held by the server (a JoinableQueue of CBOR
// values). For throughput between local processes prefer Queue (shared
// memory); a QueueProxy also works across machines.
type QueueProxy struct {
	m    *Manager
	name string
}

// Queue is the queue named name (unbounded unless Create gives a maxsize).
func (m *Manager) Queue(name string) *QueueProxy { return &QueueProxy{m: m, name: name} }

// Create creates the queue with maxsize (<= 0: unbounded), and reports
// whether it did.
func (q *QueueProxy) Create(maxsize int) (bool, error) {
	var ok bool
	err := q.m.CallInto(&ok, "queue", q.name, "create", maxsize)
	return ok, err
}

// Put puts v, waiting for room until ctx ends.
func (q *QueueProxy) Put(ctx context.Context, v any) error { return q.put(ctxWaiter(ctx), v) }

// PutTimeout puts v, waiting at most d (0: put_nowait); ErrFull.
func (q *QueueProxy) PutTimeout(v any, d time.Duration) error { return q.put(timeoutWaiter(d), v) }

func (q *QueueProxy) put(w waiter, v any) error {
	return q.m.sliced(w, ErrFull, "queue put", func(ms int64) (bool, error) {
		return true, q.m.CallInto(nil, "queue", q.name, "put", v, ms)
	})
}

// Get takes the oldest item, waiting until ctx ends.
func (q *QueueProxy) Get(ctx context.Context) (any, error) {
	var v any
	err := q.get(ctxWaiter(ctx), &v)
	return v, err
}

// GetTimeout takes the oldest item, waiting at most d (0: get_nowait);
// ErrEmpty.
func (q *QueueProxy) GetTimeout(d time.Duration) (any, error) {
	var v any
	err := q.get(timeoutWaiter(d), &v)
	return v, err
}

// GetInto takes the oldest item into out, waiting until ctx ends.
func (q *QueueProxy) GetInto(ctx context.Context, out any) error { return q.get(ctxWaiter(ctx), out) }

func (q *QueueProxy) get(w waiter, out any) error {
	return q.m.sliced(w, ErrEmpty, "queue get", func(ms int64) (bool, error) {
		return true, q.m.CallInto(out, "queue", q.name, "get", ms)
	})
}

// TaskDone marks one item done; ErrInvalid if called too often.
func (q *QueueProxy) TaskDone() error { return q.m.CallInto(nil, "queue", q.name, "task_done") }

// Join waits until every item put is done, or ctx ends.
func (q *QueueProxy) Join(ctx context.Context) error { return q.join(ctxWaiter(ctx)) }

// JoinTimeout is Join waiting at most d (ErrTimeout).
func (q *QueueProxy) JoinTimeout(d time.Duration) error { return q.join(timeoutWaiter(d)) }

func (q *QueueProxy) join(w waiter) error {
	return q.m.sliced(w, ErrTimeout, "queue join", func(ms int64) (bool, error) {
		return true, q.m.CallInto(nil, "queue", q.name, "join", ms)
	})
}

// Qsize is the number of items.
func (q *QueueProxy) Qsize() (int, error) {
	var n int
	err := q.m.CallInto(&n, "queue", q.name, "qsize")
	return n, err
}

// Empty reports whether the queue is empty.
func (q *QueueProxy) Empty() (bool, error) {
	var ok bool
	err := q.m.CallInto(&ok, "queue", q.name, "empty")
	return ok, err
}

// Full reports whether the queue holds maxsize items.
func (q *QueueProxy) Full() (bool, error) {
	var ok bool
	err := q.m.CallInto(&ok, "queue", q.name, "full")
	return ok, err
}

// ---- array ----

// ArrayProxy is a fixed-length typed array held by the server (Python's
// Manager().Array(typecode, ...)).
type ArrayProxy struct {
	m    *Manager
	name string
}

// Array is the array named name (Create it first).
func (m *Manager) Array(name string) *ArrayProxy { return &ArrayProxy{m: m, name: name} }

// Create creates the array of typecode (one of Python's: c b B h H i I l L
// q Q f d) holding lengthOrItems (an int length, zero-filled, or a slice
// of elements), and reports whether it did.
func (a *ArrayProxy) Create(typecode byte, lengthOrItems any) (bool, error) {
	var ok bool
	err := a.m.CallInto(&ok, "array", a.name, "create", string(rune(typecode)), lengthOrItems)
	return ok, err
}

// Len is the length.
func (a *ArrayProxy) Len() (int, error) {
	var n int
	err := a.m.CallInto(&n, "array", a.name, "len")
	return n, err
}

// Get returns element i (int64 or float64).
func (a *ArrayProxy) Get(i int) (any, error) { return a.m.Call("array", a.name, "getitem", i) }

// Set sets element i (checked against the typecode: ErrInvalid out of
// range, ErrType of the wrong type).
func (a *ArrayProxy) Set(i int, v any) error {
	return a.m.CallInto(nil, "array", a.name, "setitem", i, v)
}

// Slice returns a[start:stop].
func (a *ArrayProxy) Slice(start, stop int) ([]any, error) {
	v, err := a.m.Call("array", a.name, "getslice", start, stop)
	s, _ := v.([]any)
	return s, err
}

// SetSlice replaces a[start:stop] with items of the same length.
func (a *ArrayProxy) SetSlice(start, stop int, items []any) error {
	if items == nil {
		items = []any{}
	}
	return a.m.CallInto(nil, "array", a.name, "setslice", start, stop, items)
}

// ToList is every element.
func (a *ArrayProxy) ToList() ([]any, error) {
	v, err := a.m.Call("array", a.name, "tolist")
	s, _ := v.([]any)
	return s, err
}

// ToListInto decodes every element into out (e.g. *[]int64).
func (a *ArrayProxy) ToListInto(out any) error { return a.m.CallInto(out, "array", a.name, "tolist") }

// Typecode is the array's typecode.
func (a *ArrayProxy) Typecode() (byte, error) {
	var s string
	if err := a.m.CallInto(&s, "array", a.name, "typecode"); err != nil {
		return 0, err
	}
	if len(s) != 1 {
		return 0, &Error{Code: ErrCorrupt, Op: "array typecode", Msg: "not one character: " + s}
	}
	return s[0], nil
}

// Incr atomically adds delta to integer element i and returns the new
// value.
func (a *ArrayProxy) Incr(i int, delta int64) (int64, error) {
	var n int64
	err := a.m.CallInto(&n, "array", a.name, "incr", i, delta)
	return n, err
}
