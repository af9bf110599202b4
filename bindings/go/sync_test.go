package mpipc

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func init() {
	// lock-hold-die LOCK READY: acquires the lock, says so, waits to be
	// killed.
	roles["lock-hold-die"] = func(args []string) error {
		l, err := OpenLock(args[0], AttachOnly)
		if err != nil {
			return err
		}
		if err := l.Acquire(roleCtx()); err != nil {
			return err
		}
		ready, err := OpenQueue(args[1], QueueOptions{AttachOnly: true})
		if err != nil {
			return err
		}
		ready.Put("locked")
		time.Sleep(time.Minute)
		return nil
	}
	// sem-worker SEM ARRAY N: N times: acquire, count itself in a[0],
	// record the maximum inside in a[1], leave.
	roles["sem-worker"] = func(args []string) error {
		s, err := OpenSemaphore(args[0], 0, SemaphoreOptions{Mode: AttachOnly})
		if err != nil {
			return err
		}
		a, err := OpenArray(args[1], 'q', 0, ArrayOptions{Mode: AttachOnly})
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(args[2])
		for i := 0; i < n; i++ {
			if err := s.Acquire(roleCtx()); err != nil {
				return err
			}
			inside, err := a.Incr(0, 1)
			if err != nil {
				return err
			}
			if err := a.Lock(roleCtx()); err != nil {
				return err
			}
			if m, _ := a.GetInt(1); inside > m {
				a.SetInt(1, inside)
			}
			a.Unlock()
			time.Sleep(100 * time.Microsecond)
			if _, err := a.Incr(0, -1); err != nil {
				return err
			}
			if err := s.Release(); err != nil {
				return err
			}
		}
		return nil
	}
	// event-waiter EVENT OUT: waits for the event, then puts "woke".
	roles["event-waiter"] = func(args []string) error {
		ev, err := OpenEvent(args[0], AttachOnly)
		if err != nil {
			return err
		}
		out, err := OpenQueue(args[1], QueueOptions{AttachOnly: true})
		if err != nil {
			return err
		}
		if err := out.Put("waiting"); err != nil {
			return err
		}
		if err := ev.Wait(roleCtx()); err != nil {
			return err
		}
		return out.Put("woke")
	}
	// cond-waiter LOCK COND ARRAY OUT: waits on the condition until a[0]
	// is 1, then puts "ok".
	roles["cond-waiter"] = func(args []string) error {
		l, err := OpenLock(args[0], AttachOnly)
		if err != nil {
			return err
		}
		c, err := OpenCondition(args[1], l, AttachOnly)
		if err != nil {
			return err
		}
		a, err := OpenArray(args[2], 'q', 0, ArrayOptions{Mode: AttachOnly})
		if err != nil {
			return err
		}
		out, err := OpenQueue(args[3], QueueOptions{AttachOnly: true})
		if err != nil {
			return err
		}
		if err := l.Acquire(roleCtx()); err != nil {
			return err
		}
		if err := out.Put("waiting"); err != nil {
			return err
		}
		err = c.WaitFor(roleCtx(), func() bool {
			v, _ := a.GetInt(0)
			return v == 1
		})
		if err != nil {
			return err
		}
		if err := l.Release(); err != nil {
			return err
		}
		return out.Put("ok")
	}
	// barrier-party BARRIER OUT: waits at the barrier, puts its index.
	roles["barrier-party"] = func(args []string) error {
		b, err := OpenBarrier(args[0], 0, AttachOnly)
		if err != nil {
			return err
		}
		out, err := OpenQueue(args[1], QueueOptions{AttachOnly: true})
		if err != nil {
			return err
		}
		i, err := b.Wait(10 * time.Second)
		if err != nil {
			return err
		}
		return out.Put(i)
	}
}

func tempLock(t *testing.T, recursive bool) (*Lock, string) {
	t.Helper()
	name := uniqueName(t, "lock")
	open := OpenLock
	if recursive {
		open = OpenRLock
	}
	l, err := open(name, CreateOnly)
	must(t, err)
	t.Cleanup(func() { l.Close(); UnlinkLock(name) })
	return l, name
}

func TestLockAndRLock(t *testing.T) {
	l, name := tempLock(t, false)
	if l.Name() != name || l.Recursive() {
		t.Fatal("name/kind")
	}
	must(t, l.Acquire(ctxT(t)))
	wantCode(t, l.AcquireTimeout(0), ErrInvalid) // a Lock held by this thread
	// Another goroutine (another thread) waits, times out, is cancelled.
	errs := make(chan error, 3)
	go func() {
		errs <- l.AcquireTimeout(30 * time.Millisecond)
		ok, err := l.TryAcquire()
		if ok {
			err = errors.New("TryAcquire took a held lock")
		}
		errs <- err
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
		defer cancel()
		errs <- l.Acquire(ctx)
	}()
	wantCode(t, <-errs, ErrTimeout)
	must(t, <-errs)
	if err := <-errs; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	// Releasing from a goroutine that does not hold it: ErrPerm.
	go func() { errs <- l.Release() }()
	wantCode(t, <-errs, ErrPerm)
	must(t, l.Release())
	wantCode(t, l.Release(), ErrPerm)
	ok, err := l.TryAcquire()
	must(t, err)
	if !ok {
		t.Fatal("TryAcquire failed on a free lock")
	}
	must(t, l.Release())
	// Mutual exclusion among goroutines.
	var inside, overlaps, total atomic.Int64 // atomics: the race detector cannot see the C lock
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if err := l.Acquire(context.Background()); err != nil {
					t.Error(err)
					return
				}
				if inside.Add(1) != 1 {
					overlaps.Add(1)
				}
				total.Add(1)
				inside.Add(-1)
				if err := l.Release(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if total.Load() != 800 || overlaps.Load() != 0 {
		t.Fatalf("total %d, overlaps %d", total.Load(), overlaps.Load())
	}
	// RLock: recursive.
	r, rname := tempLock(t, true)
	must(t, r.Acquire(ctxT(t)))
	must(t, r.AcquireTimeout(0))
	must(t, r.Release())
	must(t, r.Release())
	wantCode(t, r.Release(), ErrPerm)
	_, err = OpenLock(rname, CreateOrAttach)
	wantCode(t, err, ErrType)
	_, err = OpenLock(name, CreateOnly)
	wantCode(t, err, ErrExists)
	_, err = OpenLock(uniqueName(t, "none"), AttachOnly)
	wantCode(t, err, ErrNotFound)
	_, err = OpenLock("bad name!", CreateOrAttach)
	wantCode(t, err, ErrInvalid)
	wantCode(t, UnlinkLock(uniqueName(t, "none")), ErrNotFound)
	deaths, err := l.OwnerDeaths()
	must(t, err)
	if deaths != 0 {
		t.Fatalf("deaths %d", deaths)
	}
	// Use after Close.
	must(t, l.Close())
	must(t, l.Close())
	_, err = l.OwnerDeaths()
	if !errors.Is(l.Acquire(ctxT(t)), ErrClosed) || !errors.Is(l.Release(), ErrClosed) || !errors.Is(err, ErrClosed) {
		t.Fatal("use after Close")
	}
}

func TestLockOwnerDeadRecovery(t *testing.T) {
	l, name := tempLock(t, false)
	ready, rname := tempQueue(t, QueueOptions{})
	c := spawn(t, "lock-hold-die", []string{name, rname})
	_, err := ready.Get(ctxT(t))
	must(t, err)
	wantCode(t, l.AcquireTimeout(20*time.Millisecond), ErrTimeout)
	c.kill(t)
	// The next acquirer gets the lock, with ErrOwnerDead: it IS held.
	err = l.AcquireTimeout(5 * time.Second)
	wantCode(t, err, ErrOwnerDead)
	held := make(chan error, 1)
	go func() { held <- l.AcquireTimeout(0) }()
	wantCode(t, <-held, ErrTimeout) // held by us
	deaths, err := l.OwnerDeaths()
	must(t, err)
	if deaths != 1 {
		t.Fatalf("deaths %d", deaths)
	}
	must(t, l.Release())
	must(t, l.AcquireTimeout(time.Second)) // consistent again: plain success
	must(t, l.Release())
}

func TestSemaphoreAcrossProcesses(t *testing.T) {
	name, an := uniqueName(t, "sem"), uniqueName(t, "semarr")
	s, err := OpenSemaphore(name, 2, SemaphoreOptions{Mode: CreateOnly})
	must(t, err)
	t.Cleanup(func() { s.Close(); UnlinkSemaphore(name) })
	a, err := OpenArray(an, 'q', 2, ArrayOptions{})
	must(t, err)
	t.Cleanup(func() { a.Close(); UnlinkArray(an) })
	var cs []*child
	for i := 0; i < 3; i++ {
		cs = append(cs, spawn(t, "sem-worker", []string{name, an, "60"}))
	}
	for _, c := range cs {
		c.wait(t)
	}
	inside, _ := a.GetInt(0)
	maxInside, _ := a.GetInt(1)
	if inside != 0 || maxInside < 1 || maxInside > 2 {
		t.Fatalf("inside %d, max %d (the semaphore lets 2 in)", inside, maxInside)
	}
	v, err := s.Value()
	must(t, err)
	if v != 2 || s.Name() != name {
		t.Fatalf("value %d", v)
	}
	must(t, s.AcquireTimeout(0))
	ok, err := s.TryAcquire()
	must(t, err)
	ok2, err := s.TryAcquire()
	must(t, err)
	if !ok || ok2 {
		t.Fatalf("%v %v", ok, ok2)
	}
	wantCode(t, s.AcquireTimeout(20*time.Millisecond), ErrTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Millisecond)
	defer cancel()
	if err := s.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	must(t, s.Release())
	must(t, s.Release())
	must(t, s.Release()) // not bounded: above the initial value is fine
	// Bounded.
	bn := uniqueName(t, "bsem")
	b, err := OpenSemaphore(bn, 1, SemaphoreOptions{Bounded: true})
	must(t, err)
	t.Cleanup(func() { b.Close(); UnlinkSemaphore(bn) })
	wantCode(t, b.Release(), ErrInvalid)
	_, err = OpenSemaphore(bn, 1, SemaphoreOptions{})
	wantCode(t, err, ErrType)
	_, err = OpenSemaphore(bn, -1, SemaphoreOptions{})
	wantCode(t, err, ErrInvalid)
	must(t, b.Close())
	must(t, b.Close())
	_, err = b.Value()
	if !errors.Is(b.Release(), ErrClosed) || !errors.Is(b.AcquireTimeout(0), ErrClosed) || !errors.Is(err, ErrClosed) {
		t.Fatal("use after Close")
	}
}

func TestEventAcrossProcesses(t *testing.T) {
	name := uniqueName(t, "ev")
	ev, err := OpenEvent(name, CreateOnly)
	must(t, err)
	t.Cleanup(func() { ev.Close(); UnlinkEvent(name) })
	out, oname := tempQueue(t, QueueOptions{})
	c := spawn(t, "event-waiter", []string{name, oname})
	v, err := out.Get(ctxT(t))
	must(t, err)
	if v != "waiting" {
		t.Fatal(v)
	}
	wantCode(t, ev.WaitTimeout(20*time.Millisecond), ErrTimeout)
	must(t, ev.Set())
	v, err = out.Get(ctxT(t))
	must(t, err)
	if v != "woke" {
		t.Fatal(v)
	}
	c.wait(t)
	set, err := ev.IsSet()
	must(t, err)
	must(t, ev.WaitTimeout(0))
	must(t, ev.Clear())
	cleared, err := ev.IsSet()
	must(t, err)
	if !set || cleared || ev.Name() != name {
		t.Fatalf("%v %v", set, cleared)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(40*time.Millisecond, cancel)
	if err := ev.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	_, err = OpenEvent(name, CreateOnly)
	wantCode(t, err, ErrExists)
	must(t, ev.Close())
	must(t, ev.Close())
	_, err = ev.IsSet()
	if !errors.Is(ev.Set(), ErrClosed) || !errors.Is(ev.Wait(ctxT(t)), ErrClosed) || !errors.Is(err, ErrClosed) {
		t.Fatal("use after Close")
	}
}

func TestConditionAcrossProcesses(t *testing.T) {
	l, lname := tempLock(t, false)
	cname, an := uniqueName(t, "cond"), uniqueName(t, "condarr")
	c, err := OpenCondition(cname, l, CreateOnly)
	must(t, err)
	t.Cleanup(func() { c.Close(); UnlinkCondition(cname) })
	a, err := OpenArray(an, 'q', 1, ArrayOptions{})
	must(t, err)
	t.Cleanup(func() { a.Close(); UnlinkArray(an) })
	out, oname := tempQueue(t, QueueOptions{})
	const waiters = 2
	var cs []*child
	for i := 0; i < waiters; i++ {
		cs = append(cs, spawn(t, "cond-waiter", []string{lname, cname, an, oname}))
	}
	for i := 0; i < waiters; i++ {
		v, err := out.Get(ctxT(t))
		must(t, err)
		if v != "waiting" {
			t.Fatal(v)
		}
	}
	// Notify without holding the lock: ErrPerm (Python's RuntimeError).
	wantCode(t, c.Notify(1), ErrPerm)
	wantCode(t, c.NotifyAll(), ErrPerm)
	// A spurious notification first (the predicate is still false).
	must(t, l.Acquire(ctxT(t)))
	must(t, c.NotifyAll())
	must(t, l.Release())
	time.Sleep(20 * time.Millisecond)
	must(t, l.Acquire(ctxT(t)))
	must(t, a.SetInt(0, 1))
	must(t, c.NotifyAll())
	must(t, l.Release())
	for i := 0; i < waiters; i++ {
		v, err := out.Get(ctxT(t))
		must(t, err)
		if v != "ok" {
			t.Fatal(v)
		}
	}
	for _, ch := range cs {
		ch.wait(t)
	}
	// Timed and cancelled waits hold the lock again afterwards.
	must(t, l.Acquire(ctxT(t)))
	wantCode(t, c.WaitTimeout(30*time.Millisecond), ErrTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), 70*time.Millisecond)
	defer cancel()
	if err := c.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	must(t, c.Notify(1)) // still held: the check passes
	held := make(chan error, 1)
	go func() { held <- l.AcquireTimeout(0) }()
	wantCode(t, <-held, ErrTimeout)
	must(t, l.Release())
	// Waiting without the lock: ErrPerm.
	wantCode(t, c.WaitTimeout(0), ErrPerm)
	// In-process notify between goroutines, with an RLock held twice.
	r, _ := tempLock(t, true)
	rc, err := OpenCondition(uniqueName(t, "rcond"), r, CreateOrAttach)
	must(t, err)
	t.Cleanup(func() { rc.Close(); UnlinkCondition(rc.Name()) })
	if rc.Lock() != r {
		t.Fatal("Lock()")
	}
	var flag atomic.Bool // written with r held (atomic for the race detector, which cannot see the C lock)
	done := make(chan error, 1)
	go func() {
		ctx := context.Background()
		err := r.Acquire(ctx)
		if err == nil {
			if err = r.Acquire(ctx); err == nil { // depth 2: Wait releases both levels
				err = rc.WaitFor(ctx, flag.Load)
				r.Release()
			}
			r.Release()
		}
		done <- err
	}()
	// Notify until the waiter has seen the flag (it may not wait yet).
	for finished := false; !finished; {
		must(t, r.Acquire(ctxT(t)))
		flag.Store(true)
		must(t, rc.Notify(1))
		must(t, r.Release())
		select {
		case err := <-done:
			must(t, err)
			finished = true
		case <-time.After(20 * time.Millisecond):
		}
	}
	_, err = OpenCondition("x", nil, CreateOrAttach)
	wantCode(t, err, ErrInvalid)
	must(t, c.Close())
	must(t, c.Close())
	if !errors.Is(c.Notify(1), ErrClosed) || !errors.Is(c.WaitTimeout(0), ErrClosed) {
		t.Fatal("use after Close")
	}
}

func TestBarrierAcrossProcesses(t *testing.T) {
	name := uniqueName(t, "bar")
	b, err := OpenBarrier(name, 3, CreateOnly)
	must(t, err)
	t.Cleanup(func() { b.Close(); UnlinkBarrier(name) })
	out, oname := tempQueue(t, QueueOptions{})
	cs := []*child{spawn(t, "barrier-party", []string{name, oname}), spawn(t, "barrier-party", []string{name, oname})}
	i, err := b.Wait(10 * time.Second)
	must(t, err)
	seen := map[int64]bool{int64(i): true}
	for range cs {
		v, err := out.Get(ctxT(t))
		must(t, err)
		seen[v.(int64)] = true
	}
	if len(seen) != 3 || !seen[0] || !seen[1] || !seen[2] {
		t.Fatalf("indexes %v", seen)
	}
	for _, c := range cs {
		c.wait(t)
	}
	parties, err := b.Parties()
	must(t, err)
	nw, err := b.NWaiting()
	must(t, err)
	if parties != 3 || nw != 0 || b.Name() != name {
		t.Fatalf("%d %d", parties, nw)
	}
	// A timed-out wait breaks the barrier for everyone.
	_, err = b.Wait(20 * time.Millisecond)
	wantCode(t, err, ErrBroken)
	broken, err := b.Broken()
	must(t, err)
	if !broken {
		t.Fatal("not broken")
	}
	_, err = b.Wait(0)
	wantCode(t, err, ErrBroken)
	must(t, b.Reset())
	broken, err = b.Broken()
	must(t, err)
	if broken {
		t.Fatal("still broken")
	}
	// Abort wakes a waiter with ErrBroken.
	res := make(chan error, 1)
	go func() { _, err := b.Wait(10 * time.Second); res <- err }()
	time.Sleep(30 * time.Millisecond)
	must(t, b.Abort())
	wantCode(t, <-res, ErrBroken)
	_, err = OpenBarrier(name, 4, CreateOrAttach)
	wantCode(t, err, ErrInvalid)
	_, err = OpenBarrier(uniqueName(t, "none"), 0, CreateOrAttach)
	wantCode(t, err, ErrNotFound)
	must(t, b.Close())
	must(t, b.Close())
	_, err = b.Wait(0)
	_, err2 := b.Parties()
	if !errors.Is(err, ErrClosed) || !errors.Is(err2, ErrClosed) || !errors.Is(b.Abort(), ErrClosed) {
		t.Fatal("use after Close")
	}
}
