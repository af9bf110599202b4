package mpipc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"
)

var mgrKey = []byte("manager test key")

func init() {
	// mgr-incr ADDR N: N atomic increments of dict "counters"["hits"].
	roles["mgr-incr"] = func(args []string) error {
		m, err := ConnectManager(args[0], mgrKey)
		if err != nil {
			return err
		}
		defer m.Close()
		n, _ := strconv.Atoi(args[1])
		d := m.Dict("counters")
		for i := 0; i < n; i++ {
			if _, err := d.Incr("hits", 1); err != nil {
				return err
			}
		}
		return d.Set(os.Getpid(), n)
	}
	// mgr-hold-lock ADDR: acquires lock "held", says so on queue "held-q",
	// then waits to be killed.
	roles["mgr-hold-lock"] = func(args []string) error {
		m, err := ConnectManager(args[0], mgrKey)
		if err != nil {
			return err
		}
		if err := m.Lock("held").Acquire(roleCtx()); err != nil {
			return err
		}
		if err := m.Queue("held-q").Put(roleCtx(), "holding"); err != nil {
			return err
		}
		time.Sleep(time.Minute)
		return nil
	}
}

// tempManager serves a manager for the test and connects to it.
func tempManager(t *testing.T) (*ManagerServer, *Manager) {
	t.Helper()
	srv, err := ServeManager(tempSock(t), mgrKey)
	must(t, err)
	t.Cleanup(func() { srv.Shutdown() })
	m, err := ConnectManager(srv.Addr(), mgrKey)
	must(t, err)
	t.Cleanup(func() { m.Close() })
	return srv, m
}

func TestManagerDict(t *testing.T) {
	_, m := tempManager(t)
	d := m.Dict("d")
	if d.Name() != "d" {
		t.Fatal(d.Name())
	}
	must(t, d.Set("a", 1))
	must(t, d.Set(2, []any{"two", 2.5}))
	must(t, d.Set(0.25, true))
	must(t, d.Set([]any{1, "x"}, "tuple"))
	v, err := d.Get("a")
	must(t, err)
	if v != int64(1) {
		t.Fatalf("got %v", v)
	}
	// 2 and 2.0 are one key, as in Python.
	v, err = d.Get(2.0)
	must(t, err)
	if !reflect.DeepEqual(v, []any{"two", 2.5}) {
		t.Fatalf("got %#v", v)
	}
	v, err = d.Get(mustKey(1, "x"))
	must(t, err)
	if v != "tuple" {
		t.Fatalf("got %v", v)
	}
	var f float64
	must(t, d.GetInto(2, &[]any{nil, &f}))
	n, err := d.Len()
	must(t, err)
	if n != 4 {
		t.Fatalf("len %d", n)
	}
	// KeyError -> ErrNotFound, with the server's message.
	_, err = d.Get("missing")
	wantCode(t, err, ErrNotFound)
	if e := err.(*Error); e.Msg == "" {
		t.Fatal("no server message")
	}
	wantCode(t, d.Delete("missing"), ErrNotFound)
	_, err = d.Pop("missing")
	wantCode(t, err, ErrNotFound)
	// Unhashable key -> ErrType; incr of a non-integer -> ErrType.
	wantCode(t, d.Set(map[string]int{"k": 1}, 1), ErrType)
	_, err = d.Incr("a-list", 1)
	must(t, err)
	must(t, d.Set("s", "text"))
	_, err = d.Incr("s", 1)
	wantCode(t, err, ErrType)
	must(t, d.Set("big", int64(9223372036854775807)))
	_, err = d.Incr("big", 1)
	wantCode(t, err, ErrInvalid)
	// The rest of the dict API.
	def, err := d.GetDefault("missing", "dflt")
	must(t, err)
	if def != "dflt" {
		t.Fatalf("got %v", def)
	}
	ok, err := d.Contains("a")
	must(t, err)
	if !ok {
		t.Fatal("contains")
	}
	keys, err := d.Keys()
	must(t, err)
	if len(keys) != 7 || keys[0] != "a" || keys[1] != int64(2) || keys[2] != 0.25 ||
		!reflect.DeepEqual(keys[3], []any{int64(1), "x"}) { // a tuple key, listed, is an array
		t.Fatalf("keys %#v", keys)
	}
	vals, err := d.Values()
	must(t, err)
	if len(vals) != 7 || vals[0] != int64(1) {
		t.Fatalf("values %#v", vals)
	}
	items, err := d.Items()
	must(t, err)
	if len(items) != 7 || items[2].Key != 0.25 || items[2].Value != true {
		t.Fatalf("items %#v", items)
	}
	cp, err := d.Copy()
	must(t, err)
	if len(cp) != 7 || cp[mustKey(1, "x")] != "tuple" {
		t.Fatalf("copy %#v", cp)
	}
	x, err := d.Pop("a")
	must(t, err)
	if x != int64(1) {
		t.Fatalf("pop %v", x)
	}
	x, err = d.PopDefault("a", 0)
	must(t, err)
	if x != int64(0) {
		t.Fatalf("pop default %v", x)
	}
	it, err := d.PopItem()
	must(t, err)
	if it.Key != "big" {
		t.Fatalf("popitem %#v", it)
	}
	x, err = d.SetDefault("new", 5)
	must(t, err)
	x2, err := d.SetDefault("new", 6)
	must(t, err)
	if x != int64(5) || x2 != int64(5) {
		t.Fatalf("setdefault %v %v", x, x2)
	}
	must(t, d.Update(map[string]int{"u1": 1, "u2": 2}))
	set, err := d.CompareAndSet("u1", 1, 10)
	must(t, err)
	notSet, err := d.CompareAndSet("u1", 1, 20)
	must(t, err)
	if !set || notSet {
		t.Fatalf("cas %v %v", set, notSet)
	}
	var typed map[string]any
	must(t, m.Dict("typed").Update(map[string]any{"x": 1}))
	must(t, m.Dict("typed").CopyInto(&typed))
	if typed["x"] != int64(1) {
		t.Fatalf("typed %#v", typed)
	}
	must(t, d.Clear())
	n, err = d.Len()
	must(t, err)
	if n != 0 {
		t.Fatalf("len %d", n)
	}
	_, err = d.PopItem()
	wantCode(t, err, ErrNotFound)
	// A name used with another kind -> ErrType.
	_, err = m.List("d").Len()
	wantCode(t, err, ErrType)
	// Unknown method -> ErrUnsupported.
	_, err = m.Call("dict", "d", "frobnicate")
	wantCode(t, err, ErrUnsupported)
	_, err = m.Call("no-such-kind", "d", "len")
	wantCode(t, err, ErrUnsupported)
	// Wrong arity -> ErrInvalid.
	_, err = m.Call("dict", "d", "set", 1)
	wantCode(t, err, ErrInvalid)
}

func TestManagerIncrAtomicAcrossProcesses(t *testing.T) {
	srv, m := tempManager(t)
	const procs, per = 3, 300
	var cs []*child
	for i := 0; i < procs; i++ {
		cs = append(cs, spawn(t, "mgr-incr", []string{srv.Addr(), strconv.Itoa(per)}))
	}
	for _, c := range cs {
		c.wait(t)
	}
	d := m.Dict("counters")
	v, err := d.Get("hits")
	must(t, err)
	if v != int64(procs*per) {
		t.Fatalf("hits %v, want %d (lost updates)", v, procs*per)
	}
	for _, c := range cs {
		v, err := d.Get(c.cmd.Process.Pid)
		must(t, err)
		if v != int64(per) {
			t.Fatalf("child %d: %v", c.cmd.Process.Pid, v)
		}
	}
}

func TestManagerListSetNamespaceValueArray(t *testing.T) {
	_, m := tempManager(t)
	l := m.List("l")
	must(t, l.Append(3))
	must(t, l.Extend([]any{1, 2}))
	must(t, l.Insert(0, 9))
	must(t, l.Extend(nil))
	n, err := l.Len()
	must(t, err)
	if n != 4 {
		t.Fatalf("len %d", n)
	}
	i, err := l.Index(1)
	must(t, err)
	if i != 2 {
		t.Fatalf("index %d", i)
	}
	_, err = l.Index(42)
	wantCode(t, err, ErrNotFound)
	wantCode(t, l.Remove(42), ErrNotFound)
	_, err = l.Get(99)
	wantCode(t, err, ErrIndex)
	wantCode(t, l.Set(-99, 1), ErrIndex)
	c, err := l.Count(9)
	must(t, err)
	if c != 1 {
		t.Fatalf("count %d", c)
	}
	must(t, l.Sort(false))
	all, err := l.Copy()
	must(t, err)
	if !reflect.DeepEqual(all, []any{int64(1), int64(2), int64(3), int64(9)}) {
		t.Fatalf("sorted %#v", all)
	}
	must(t, l.Reverse())
	last, err := l.Get(-1)
	must(t, err)
	if last != int64(1) {
		t.Fatalf("last %v", last)
	}
	sl, err := l.Slice(1, End)
	must(t, err)
	if !reflect.DeepEqual(sl, []any{int64(3), int64(2), int64(1)}) {
		t.Fatalf("slice %#v", sl)
	}
	must(t, l.SetSlice(0, 2, []any{"a"}))
	must(t, l.DeleteSlice(-1, End))
	must(t, l.Set(0, "b"))
	must(t, l.Delete(0))
	var rest []int
	must(t, l.CopyInto(&rest))
	if !reflect.DeepEqual(rest, []int{2}) {
		t.Fatalf("rest %v", rest)
	}
	var two int
	must(t, l.GetInto(0, &two))
	has, err := l.Contains(2)
	must(t, err)
	p, err := l.Pop(-1)
	must(t, err)
	if two != 2 || !has || p != int64(2) {
		t.Fatalf("%v %v %v", two, has, p)
	}
	_, err = l.Pop(-1)
	wantCode(t, err, ErrIndex)
	must(t, l.Extend([]any{1, "x"}))
	wantCode(t, l.Sort(true), ErrType)
	must(t, l.Clear())

	s := m.Set("s")
	must(t, s.Add(1))
	must(t, s.Update([]any{2, 3, 1}))
	must(t, s.Discard(3))
	wantCode(t, s.Remove(3), ErrNotFound)
	members, err := s.Members()
	must(t, err)
	if !reflect.DeepEqual(members, []any{int64(1), int64(2)}) {
		t.Fatalf("members %#v", members)
	}
	sn, err := s.Len()
	must(t, err)
	in, err := s.Contains(2)
	must(t, err)
	popped, err := s.Pop()
	must(t, err)
	if sn != 2 || !in || popped != int64(2) {
		t.Fatalf("%v %v %v", sn, in, popped)
	}
	must(t, s.Clear())
	_, err = s.Pop()
	wantCode(t, err, ErrNotFound)

	ns := m.Namespace("ns")
	must(t, ns.Set("x", 1))
	x, err := ns.Get("x")
	must(t, err)
	_, err = ns.Get("y")
	wantCode(t, err, ErrNotFound)
	y, err := ns.GetDefault("y", "d")
	must(t, err)
	var xi int
	must(t, ns.GetInto("x", &xi))
	dict, err := ns.Dict()
	must(t, err)
	if x != int64(1) || y != "d" || xi != 1 || dict["x"] != int64(1) {
		t.Fatalf("%v %v %v %v", x, y, xi, dict)
	}
	must(t, ns.Delete("x"))
	wantCode(t, ns.Delete("x"), ErrNotFound)

	val := m.Value("v")
	created, err := val.Create(10)
	must(t, err)
	again, err := val.Create(99)
	must(t, err)
	if !created || again {
		t.Fatalf("create %v %v", created, again)
	}
	nv, err := val.Incr(5)
	must(t, err)
	if nv != 15 {
		t.Fatalf("incr %d", nv)
	}
	ok, err := val.CompareAndSet(15, "s")
	must(t, err)
	got, err := val.Get()
	must(t, err)
	if !ok || got != "s" {
		t.Fatalf("%v %v", ok, got)
	}
	_, err = val.Incr(1)
	wantCode(t, err, ErrType)
	must(t, val.Set(3.5))
	var vf float64
	must(t, val.GetInto(&vf))
	if vf != 3.5 {
		t.Fatalf("value %v", vf)
	}

	arr := m.Array("a")
	_, err = arr.Len()
	wantCode(t, err, ErrInvalid) // arrays have no defaults
	_, err = arr.Create('z', 3)
	wantCode(t, err, ErrInvalid)
	created, err = arr.Create('q', 3)
	must(t, err)
	if !created {
		t.Fatal("not created")
	}
	must(t, arr.Set(0, 7))
	wantCode(t, arr.Set(0, 1.5), ErrType)
	e1, err := arr.Incr(1, -2)
	must(t, err)
	_, err = arr.Get(5)
	wantCode(t, err, ErrIndex)
	tc, err := arr.Typecode()
	must(t, err)
	an, err := arr.Len()
	must(t, err)
	must(t, arr.SetSlice(1, 3, []any{4, 5}))
	wantCode(t, arr.SetSlice(0, 3, []any{1}), ErrInvalid)
	list, err := arr.ToList()
	must(t, err)
	part, err := arr.Slice(0, 2)
	must(t, err)
	var typed []int64
	must(t, arr.ToListInto(&typed))
	e0, err := arr.Get(0)
	must(t, err)
	if e1 != -2 || tc != 'q' || an != 3 || !reflect.DeepEqual(list, []any{int64(7), int64(4), int64(5)}) ||
		len(part) != 2 || !reflect.DeepEqual(typed, []int64{7, 4, 5}) || e0 != int64(7) {
		t.Fatalf("%v %c %v %v %v %v %v", e1, tc, an, list, part, typed, e0)
	}
	fa := m.Array("fa")
	_, err = fa.Create('d', []any{1.5, 2})
	must(t, err)
	_, err = fa.Incr(0, 1)
	wantCode(t, err, ErrType)
}

func TestManagerSyncObjects(t *testing.T) {
	srv, m := tempManager(t)
	other, err := ConnectManager(srv.Addr(), mgrKey)
	must(t, err)
	defer other.Close()

	// Lock: owned by the connection.
	l := m.Lock("lk")
	must(t, l.Acquire(ctxT(t)))
	wantCode(t, l.AcquireTimeout(0), ErrInvalid) // held by this connection
	locked, err := l.Locked()
	must(t, err)
	if !locked {
		t.Fatal("not locked")
	}
	wantCode(t, other.Lock("lk").AcquireTimeout(30*time.Millisecond), ErrTimeout)
	wantCode(t, other.Lock("lk").Release(), ErrPerm)
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
	defer cancel()
	if err := other.Lock("lk").Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	must(t, l.Release())
	must(t, other.Lock("lk").AcquireTimeout(time.Second))
	must(t, other.Lock("lk").Release())
	rl := m.RLock("rl")
	must(t, rl.Acquire(ctxT(t)))
	must(t, rl.Acquire(ctxT(t)))
	must(t, rl.Release())
	must(t, rl.Release())
	wantCode(t, rl.Release(), ErrPerm)

	// Semaphore.
	sem := m.BoundedSemaphore("sem")
	_, err = sem.Create(2)
	must(t, err)
	must(t, sem.AcquireTimeout(0))
	must(t, sem.Acquire(ctxT(t)))
	wantCode(t, sem.AcquireTimeout(20*time.Millisecond), ErrTimeout)
	sv, err := sem.Value()
	must(t, err)
	if sv != 0 {
		t.Fatalf("value %d", sv)
	}
	must(t, sem.Release(2))
	wantCode(t, sem.Release(1), ErrInvalid) // bounded
	plain := m.Semaphore("plain")
	must(t, plain.Release(3))

	// Event, set from another connection while waiting.
	ev := m.Event("ev")
	wantCode(t, ev.WaitTimeout(20*time.Millisecond), ErrTimeout)
	time.AfterFunc(50*time.Millisecond, func() { other.Event("ev").Set() })
	must(t, ev.Wait(ctxT(t)))
	isSet, err := ev.IsSet()
	must(t, err)
	if !isSet {
		t.Fatal("not set")
	}
	must(t, ev.Clear())

	// Condition: notify from another connection.
	cond := m.Condition("cv")
	wantCode(t, cond.Notify(1), ErrPerm)
	must(t, cond.Acquire(ctxT(t)))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Acquiring succeeds once the waiter's Wait has released the lock,
		// so the waiter is registered: the notification reaches it.
		oc := other.Condition("cv")
		if err := oc.AcquireTimeout(5 * time.Second); err != nil {
			t.Error(err)
			return
		}
		if err := oc.Notify(1); err != nil {
			t.Error(err)
		}
		if err := oc.Release(); err != nil {
			t.Error(err)
		}
	}()
	must(t, cond.Wait(5*time.Second))
	must(t, cond.Release())
	wg.Wait()
	must(t, cond.Acquire(ctxT(t)))
	wantCode(t, cond.Wait(20*time.Millisecond), ErrTimeout)
	must(t, cond.NotifyAll())
	must(t, cond.Release())
	must(t, cond.AcquireTimeout(time.Second))
	must(t, cond.Release())
	wantCode(t, cond.Release(), ErrPerm)

	// Barrier of two connections.
	bar := m.Barrier("bar")
	_, err = bar.Wait(0)
	wantCode(t, err, ErrInvalid) // no default party count
	_, err = bar.Create(2)
	must(t, err)
	idx := make(chan int, 1)
	go func() {
		i, err := other.Barrier("bar").Wait(5 * time.Second)
		if err != nil {
			t.Error(err)
		}
		idx <- i
	}()
	i, err := bar.Wait(5 * time.Second)
	must(t, err)
	if j := <-idx; i+j != 1 {
		t.Fatalf("indexes %d %d", i, j)
	}
	parties, err := bar.Parties()
	must(t, err)
	nw, err := bar.NWaiting()
	must(t, err)
	if parties != 2 || nw != 0 {
		t.Fatalf("%d %d", parties, nw)
	}
	_, err = bar.Wait(20 * time.Millisecond) // expires: breaks it
	wantCode(t, err, ErrBroken)
	broken, err := bar.Broken()
	must(t, err)
	if !broken {
		t.Fatal("not broken")
	}
	must(t, bar.Reset())
	must(t, bar.Abort())
	_, err = bar.Wait(0)
	wantCode(t, err, ErrBroken)
}

func TestManagerLockReleasedWhenHolderDies(t *testing.T) {
	srv, m := tempManager(t)
	c := spawn(t, "mgr-hold-lock", []string{srv.Addr()})
	v, err := m.Queue("held-q").Get(ctxT(t))
	must(t, err)
	if v != "holding" {
		t.Fatalf("got %v", v)
	}
	wantCode(t, m.Lock("held").AcquireTimeout(0), ErrTimeout)
	c.kill(t)
	must(t, m.Lock("held").AcquireTimeout(5*time.Second)) // the server released it
}

func TestManagerQueue(t *testing.T) {
	_, m := tempManager(t)
	q := m.Queue("mq")
	created, err := q.Create(2)
	must(t, err)
	if !created {
		t.Fatal("not created")
	}
	must(t, q.Put(ctxT(t), smallMap(1)))
	must(t, q.PutTimeout("two", 0))
	wantCode(t, q.PutTimeout(3, 0), ErrFull)
	wantCode(t, q.PutTimeout(3, 30*time.Millisecond), ErrFull)
	full, err := q.Full()
	must(t, err)
	size, err := q.Qsize()
	must(t, err)
	if !full || size != 2 {
		t.Fatalf("%v %d", full, size)
	}
	var s smallObj
	must(t, q.GetInto(ctxT(t), &s))
	v, err := q.GetTimeout(time.Second)
	must(t, err)
	if s.ID != 1 || s.Name != "item-1" || v != "two" {
		t.Fatalf("%+v %v", s, v)
	}
	_, err = q.GetTimeout(0)
	wantCode(t, err, ErrEmpty)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(60*time.Millisecond, cancel)
	start := time.Now()
	if _, err := q.Get(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > hangGuard {
		t.Fatalf("cancelled manager Get returned after %v", d)
	}
	empty, err := q.Empty()
	must(t, err)
	if !empty {
		t.Fatal("not empty")
	}
	wantCode(t, q.JoinTimeout(20*time.Millisecond), ErrTimeout) // two puts, no task_done
	must(t, q.TaskDone())
	must(t, q.TaskDone())
	must(t, q.Join(ctxT(t)))
	wantCode(t, q.TaskDone(), ErrInvalid)
}

func TestManagerServerLevel(t *testing.T) {
	srv, m := tempManager(t)
	must(t, m.Ping())
	must(t, m.SetSpin(0))
	must(t, m.Dict("one").Set(1, 1))
	must(t, m.List("two").Append(1))
	objs, err := m.Objects()
	must(t, err)
	if len(objs) != 2 || objs[0] != (ObjectInfo{Name: "one", Kind: "dict"}) || objs[1].Kind != "list" {
		t.Fatalf("objects %#v", objs)
	}
	st, err := m.Stats()
	must(t, err)
	if st.Objects != 2 || st.Connections != 1 || st.Requests < 4 {
		t.Fatalf("stats %+v", st)
	}
	existed, err := m.DeleteObject("one")
	must(t, err)
	gone, err := m.DeleteObject("one")
	must(t, err)
	if !existed || gone {
		t.Fatalf("%v %v", existed, gone)
	}
	// Pipelined batch, with one failing request.
	res, err := m.CallMany([]Request{
		{Kind: "dict", Name: "batch", Method: "set", Args: []any{"k", 1}},
		{Kind: "dict", Name: "batch", Method: "incr", Args: []any{"k", 41}},
		{Kind: "dict", Name: "batch", Method: "get", Args: []any{"missing"}},
		{Kind: "dict", Name: "batch", Method: "len"},
	})
	must(t, err)
	if len(res) != 4 || res[0].Err != nil || res[1].Value != int64(42) || res[3].Value != int64(1) {
		t.Fatalf("results %#v", res)
	}
	wantCode(t, res[2].Err, ErrNotFound)
	if empty, err := m.CallMany(nil); empty != nil || err != nil {
		t.Fatal("empty batch")
	}
	_, err = m.CallMany([]Request{{Kind: "dict", Name: "x", Method: "set", Args: []any{make(chan int)}}})
	if err == nil {
		t.Fatal("unencodable args accepted")
	}
	// Authentication and addressing.
	_, err = ConnectManagerTimeout(srv.Addr(), []byte("wrong"), 5*time.Second)
	wantCode(t, err, ErrAuth)
	_, err = ConnectManagerTimeout("unix:/nonexistent/mgr.sock", nil, time.Second)
	wantCode(t, err, ErrNotFound)
	_, err = ServeManager(srv.Addr(), nil)
	wantCode(t, err, ErrExists)
	_, err = ServeManager("tcp:127.0.0.1:0", nil)
	wantCode(t, err, ErrInvalid)
	// Server shutdown: clients get EOF; Close is idempotent; use after
	// Close is ErrClosed.
	must(t, srv.Shutdown())
	must(t, srv.Shutdown())
	if srv.Addr() != "" {
		t.Fatal("addr after shutdown")
	}
	err = m.Ping()
	if !errors.Is(err, ErrEOF) && !errors.Is(err, ErrIO) {
		t.Fatalf("after shutdown: %v", err)
	}
	must(t, m.Close())
	must(t, m.Close())
	for name, err := range map[string]error{
		"Ping":    m.Ping(),
		"SetSpin": m.SetSpin(0),
		"Set":     m.Dict("d").Set(1, 1),
		"Delete":  m.Dict("d").Delete(1),
		"Lock":    m.Lock("l").AcquireTimeout(0),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
	_, err = m.Dict("d").Get(1)
	_, err2 := m.Dict("d").Len()
	_, err3 := m.Dict("d").Incr(1, 1)
	_, err4 := m.CallMany([]Request{{Kind: "manager", Method: "ping"}})
	for _, e := range []error{err, err2, err3, err4} {
		if !errors.Is(e, ErrClosed) {
			t.Errorf("after Close: %v", e)
		}
	}
}

func TestManagerTCP(t *testing.T) {
	srv, err := ServeManager("tcp:127.0.0.1:0", mgrKey)
	must(t, err)
	defer srv.Close()
	m, err := ConnectManager(srv.Addr(), mgrKey)
	must(t, err)
	defer m.Close()
	n, err := m.Dict("t").Incr(fmt.Sprint("k"), 3)
	must(t, err)
	if n != 3 {
		t.Fatalf("incr %d", n)
	}
}
