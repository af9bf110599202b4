package mpipc

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

func init() {
	// shm-writer NAME: writes a greeting at offset 8 of the block.
	roles["shm-writer"] = func(args []string) error {
		s, err := OpenSharedMemory(args[0], 0, AttachOnly)
		if err != nil {
			return err
		}
		defer s.Close()
		copy(s.Bytes()[8:], "hello from the child")
		return nil
	}
	// array-incr ARRAY VALUE N: N read-modify-writes of a[0] under the
	// lock, N Incr of a[1], N additions of 0.5 to the float Value.
	roles["array-incr"] = func(args []string) error {
		a, err := OpenArray(args[0], 'q', 0, ArrayOptions{Mode: AttachOnly})
		if err != nil {
			return err
		}
		v, err := OpenValue(args[1], 'd', ArrayOptions{Mode: AttachOnly})
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(args[2])
		ctx := roleCtx()
		for i := 0; i < n; i++ {
			if err := a.Lock(ctx); err != nil {
				return err
			}
			x, err := a.GetInt(0)
			if err != nil {
				return err
			}
			if err := a.SetInt(0, x+1); err != nil {
				return err
			}
			if err := a.Unlock(); err != nil {
				return err
			}
			if _, err := a.Incr(1, 1); err != nil {
				return err
			}
			if err := v.Lock(ctx); err != nil {
				return err
			}
			f, err := v.Float()
			if err != nil {
				return err
			}
			if err := v.SetFloat(f + 0.5); err != nil {
				return err
			}
			if err := v.Unlock(); err != nil {
				return err
			}
		}
		return nil
	}
	// array-lock-die ARRAY READY: takes the array's lock, says so, and
	// waits to be killed.
	roles["array-lock-die"] = func(args []string) error {
		a, err := OpenArray(args[0], 'q', 0, ArrayOptions{Mode: AttachOnly})
		if err != nil {
			return err
		}
		if err := a.Lock(roleCtx()); err != nil {
			return err
		}
		a.SetInt(0, 42) // a half-done update
		ready, err := OpenQueue(args[1], QueueOptions{AttachOnly: true})
		if err != nil {
			return err
		}
		ready.Put("locked")
		time.Sleep(time.Minute)
		return nil
	}
	// slist-rw NAME: checks the parent's items and writes its own.
	roles["slist-rw"] = func(args []string) error {
		l, err := OpenShareableList(args[0], nil, AttachOnly)
		if err != nil {
			return err
		}
		defer l.Close()
		v, err := l.Get(1)
		if err != nil {
			return err
		}
		if v != "parent" {
			return errors.New("item 1 is not \"parent\"")
		}
		if err := l.Set(0, int64(-7)); err != nil {
			return err
		}
		return l.Set(1, "child!")
	}
}

func TestSharedMemoryAcrossProcesses(t *testing.T) {
	name := uniqueName(t, "shm")
	s, err := OpenSharedMemory(name, 4096, CreateOnly)
	must(t, err)
	t.Cleanup(func() { s.Close(); UnlinkSharedMemory(name) })
	if s.Size() != 4096 || s.Name() != name || len(s.Bytes()) != 4096 {
		t.Fatalf("size %d", s.Size())
	}
	if uintptr(unsafe.Pointer(&s.Bytes()[0]))%64 != 0 {
		t.Fatal("not 64-byte aligned")
	}
	spawn(t, "shm-writer", []string{name}).wait(t)
	buf := make([]byte, 20)
	n, err := s.ReadAt(buf, 8)
	must(t, err)
	if n != 20 || string(buf) != "hello from the child" {
		t.Fatalf("read %q", buf[:n])
	}
	_, err = s.WriteAt([]byte("x"), 4096)
	wantCode(t, err, ErrIndex)
	n, err = s.WriteAt([]byte("end"), 4093)
	must(t, err)
	big := make([]byte, 10)
	n, err = s.ReadAt(big, 4093)
	if n != 3 || err != io.EOF || string(big[:3]) != "end" {
		t.Fatalf("%d %v %q", n, err, big[:n])
	}
	_, err = OpenSharedMemory(name, 4096, CreateOnly)
	wantCode(t, err, ErrExists)
	_, err = OpenSharedMemory(name, 100, CreateOrAttach)
	wantCode(t, err, ErrInvalid)
	_, err = OpenSharedMemory(uniqueName(t, "none"), 0, CreateOrAttach)
	wantCode(t, err, ErrNotFound)
	_, err = OpenSharedMemory(name, -1, CreateOrAttach)
	wantCode(t, err, ErrInvalid)
	must(t, s.Close())
	must(t, s.Close())
	if s.Bytes() != nil {
		t.Fatal("Bytes after Close")
	}
	_, err = s.ReadAt(buf, 0)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v", err)
	}
	_, err = s.WriteAt(buf, 0)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v", err)
	}
	wantCode(t, UnlinkSharedMemory(uniqueName(t, "none")), ErrNotFound)
}

func TestArrayAndValueAcrossProcesses(t *testing.T) {
	an, vn := uniqueName(t, "arr"), uniqueName(t, "val")
	a, err := OpenArray(an, 'q', 4, ArrayOptions{})
	must(t, err)
	t.Cleanup(func() { a.Close(); UnlinkArray(an) })
	v, err := OpenValue(vn, 'd', ArrayOptions{})
	must(t, err)
	t.Cleanup(func() { v.Close(); UnlinkArray(vn) })
	if a.Len() != 4 || a.Typecode() != 'q' || a.Itemsize() != 8 || a.Name() != an {
		t.Fatalf("%d %c %d", a.Len(), a.Typecode(), a.Itemsize())
	}
	const procs, per = 3, 400
	var cs []*child
	for i := 0; i < procs; i++ {
		cs = append(cs, spawn(t, "array-incr", []string{an, vn, strconv.Itoa(per)}))
	}
	for _, c := range cs {
		c.wait(t)
	}
	x0, err := a.GetInt(0)
	must(t, err)
	x1, err := a.GetInt(1)
	must(t, err)
	f, err := v.Float()
	must(t, err)
	if x0 != procs*per || x1 != procs*per || f != procs*per*0.5 {
		t.Fatalf("a[0]=%d a[1]=%d v=%v, want %d (lost updates)", x0, x1, f, procs*per)
	}
	// Bulk and zero-copy access.
	must(t, a.Write(1, []int64{10, 20, 30}))
	got := make([]int64, 4)
	must(t, a.Read(0, got))
	if got[0] != procs*per || got[3] != 30 {
		t.Fatalf("read %v", got)
	}
	if view := unsafe.Slice((*int64)(a.Ptr()), a.Len()); view[2] != 20 {
		t.Fatalf("view %v", view)
	}
	wantCode(t, a.Read(2, make([]int64, 3)), ErrIndex)
	wantCode(t, a.Read(0, make([]int32, 1)), ErrType)
	wantCode(t, a.Write(0, []float64{1}), ErrType)
	must(t, a.Read(0, []int64{}))
	// Python's rules.
	_, err = a.GetInt(4)
	wantCode(t, err, ErrIndex)
	wantCode(t, a.SetFloat(0, 1.5), ErrType)
	_, err = v.Array.Incr(0, 1)
	wantCode(t, err, ErrType)
	u, err := a.GetUint(1)
	must(t, err)
	must(t, a.SetUint(2, 5))
	if u != 10 {
		t.Fatalf("uint %d", u)
	}
	must(t, a.SetInt(3, -1))
	_, err = a.GetUint(3)
	wantCode(t, err, ErrInvalid)
	b, err := OpenArray(uniqueName(t, "b8"), 'b', 2, ArrayOptions{})
	must(t, err)
	t.Cleanup(func() { b.Close(); UnlinkArray(b.Name()) })
	wantCode(t, b.SetInt(0, 200), ErrInvalid)
	_, err = b.Incr(0, 127)
	must(t, err)
	_, err = b.Incr(0, 1)
	wantCode(t, err, ErrInvalid)
	must(t, b.Write(0, []int8{-1, 2}))
	bf, err := b.GetFloat(0)
	must(t, err)
	if bf != -1 {
		t.Fatalf("float %v", bf)
	}
	// Values of every flavour.
	iv, err := OpenValue(uniqueName(t, "iv"), 'Q', ArrayOptions{NoLock: true})
	must(t, err)
	t.Cleanup(func() { iv.Close(); UnlinkArray(iv.Name()) })
	must(t, iv.SetUint(1<<63))
	uv, err := iv.Uint()
	must(t, err)
	_, err = iv.Int()
	wantCode(t, err, ErrInvalid) // above MaxInt64
	must(t, iv.SetInt(3))
	nv, err := iv.Add(4)
	must(t, err)
	if uv != 1<<63 || nv != 7 {
		t.Fatalf("%d %d", uv, nv)
	}
	wantCode(t, iv.LockTimeout(0), ErrUnsupported)
	wantCode(t, iv.Unlock(), ErrUnsupported)
	// Opening errors.
	_, err = OpenArray(an, 'i', 4, ArrayOptions{})
	wantCode(t, err, ErrType)
	_, err = OpenArray(an, 'q', 5, ArrayOptions{})
	wantCode(t, err, ErrInvalid)
	_, err = OpenArray(uniqueName(t, "z"), 'z', 1, ArrayOptions{})
	wantCode(t, err, ErrInvalid)
	_, err = OpenArray(an, 'q', 4, ArrayOptions{Mode: CreateOnly})
	wantCode(t, err, ErrExists)
	_, err = OpenArray(uniqueName(t, "none"), 'q', 0, ArrayOptions{})
	wantCode(t, err, ErrNotFound)
	_, err = OpenArray(an, 'q', -1, ArrayOptions{})
	wantCode(t, err, ErrInvalid)
	// Unlock without Lock.
	wantCode(t, a.Unlock(), ErrPerm)
	// Recursive lock, with accessors inside.
	must(t, a.Lock(ctxT(t)))
	must(t, a.LockTimeout(0))
	_, err = a.Incr(0, 1)
	must(t, err)
	must(t, a.Unlock())
	must(t, a.Unlock())
	// Use after Close.
	must(t, a.Close())
	must(t, a.Close())
	if a.Ptr() != nil {
		t.Fatal("Ptr after Close")
	}
	_, err = a.GetInt(0)
	if !errors.Is(err, ErrClosed) || !errors.Is(a.SetInt(0, 1), ErrClosed) || !errors.Is(a.Lock(ctxT(t)), ErrClosed) ||
		!errors.Is(a.Read(0, got), ErrClosed) || !errors.Is(a.Unlock(), ErrClosed) {
		t.Fatal("use after Close")
	}
}

func TestArrayOwnerDead(t *testing.T) {
	an := uniqueName(t, "arrdead")
	a, err := OpenArray(an, 'q', 1, ArrayOptions{})
	must(t, err)
	t.Cleanup(func() { a.Close(); UnlinkArray(an) })
	ready, rname := tempQueue(t, QueueOptions{})
	c := spawn(t, "array-lock-die", []string{an, rname})
	_, err = ready.Get(ctxT(t))
	must(t, err)
	wantCode(t, a.LockTimeout(20*time.Millisecond), ErrTimeout)
	c.kill(t)
	// The accessor takes the lock from the dead holder, does its work, and
	// reports ErrOwnerDead: the value it read is valid.
	x, err := a.GetInt(0)
	wantCode(t, err, ErrOwnerDead)
	if x != 42 {
		t.Fatalf("read %d", x)
	}
	x, err = a.GetInt(0)
	must(t, err) // recovered: the lock is consistent again
	if x != 42 {
		t.Fatalf("read %d", x)
	}
}

func TestShareableListAcrossProcesses(t *testing.T) {
	name := uniqueName(t, "sl")
	l, err := OpenShareableList(name, []any{int64(1), "parent", 2.5, nil, true, []byte("bytes"), "a longer string here"}, CreateOnly)
	must(t, err)
	t.Cleanup(func() { l.Close(); UnlinkShareableList(name) })
	n, err := l.Len()
	must(t, err)
	if n != 7 || l.Name() != name {
		t.Fatalf("len %d", n)
	}
	spawn(t, "slist-rw", []string{name}).wait(t)
	want := []any{int64(-7), "child!", 2.5, nil, true, []byte("bytes"), "a longer string here"}
	for i, w := range want {
		v, err := l.Get(i)
		must(t, err)
		if b, ok := w.([]byte); ok {
			if !bytes.Equal(v.([]byte), b) {
				t.Fatalf("item %d: %v", i, v)
			}
			continue
		}
		if v != w {
			t.Fatalf("item %d: %#v want %#v", i, v, w)
		}
	}
	var s string
	must(t, l.GetInto(1, &s))
	if s != "child!" {
		t.Fatal(s)
	}
	c, err := l.Capacity(1)
	must(t, err)
	if c != 8 {
		t.Fatalf("capacity %d", c)
	}
	wantCode(t, l.Set(1, "this does not fit in eight bytes"), ErrTooBig)
	wantCode(t, l.Set(0, []any{1}), ErrType)
	wantCode(t, l.Set(99, 1), ErrIndex)
	wantCode(t, l.Set(-1, 1), ErrIndex)
	_, err = l.Get(99)
	wantCode(t, err, ErrIndex)
	_, err = l.Capacity(-1)
	wantCode(t, err, ErrIndex)
	_, err = OpenShareableList(uniqueName(t, "bad"), []any{map[string]int{}}, CreateOrAttach)
	wantCode(t, err, ErrType)
	_, err = OpenShareableList(name, []any{1}, CreateOrAttach)
	wantCode(t, err, ErrInvalid)
	_, err = OpenShareableList(uniqueName(t, "none"), nil, CreateOrAttach)
	wantCode(t, err, ErrNotFound)
	must(t, l.Close())
	must(t, l.Close())
	_, err = l.Get(0)
	_, err2 := l.Len()
	if !errors.Is(err, ErrClosed) || !errors.Is(err2, ErrClosed) || !errors.Is(l.Set(0, 1), ErrClosed) {
		t.Fatal("use after Close")
	}
}
