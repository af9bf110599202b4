package mpipc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

func init() {
	// producer NAME N: puts N small objects (as maps), then "end".
	roles["queue-producer"] = func(args []string) error {
		q, err := OpenQueue(args[0], QueueOptions{AttachOnly: true})
		if err != nil {
			return err
		}
		defer q.Close()
		n, _ := strconv.Atoi(args[1])
		for i := 0; i < n; i++ {
			if err := q.Put(smallMap(i)); err != nil {
				return err
			}
		}
		return q.Put("end")
	}
	// echo IN OUT: gets values from IN and puts them on OUT until "end"
	// (which it forwards), calling TaskDone for each.
	roles["queue-echo"] = func(args []string) error {
		in, err := OpenQueue(args[0], QueueOptions{AttachOnly: true})
		if err != nil {
			return err
		}
		out, err := OpenQueue(args[1], QueueOptions{AttachOnly: true})
		if err != nil {
			return err
		}
		for {
			v, err := in.Get(roleCtx())
			if err != nil {
				return err
			}
			if err := in.TaskDone(); err != nil {
				return err
			}
			if err := out.Put(v); err != nil {
				return err
			}
			if v == "end" {
				return nil
			}
		}
	}
	// blocked-get NAME: blocks in Get and expects ErrShutdown.
	roles["queue-blocked-get"] = func(args []string) error {
		q, err := OpenQueue(args[0], QueueOptions{AttachOnly: true})
		if err != nil {
			return err
		}
		ready, err := OpenQueue(args[0]+"-ready", QueueOptions{AttachOnly: true})
		if err != nil {
			return err
		}
		if err := ready.Put("waiting"); err != nil {
			return err
		}
		_, err = q.Get(roleCtx())
		if !errors.Is(err, ErrShutdown) {
			return fmt.Errorf("got %v, want ErrShutdown", err)
		}
		return nil
	}
	// batch-producer NAME N: PutManyOf N small structs in batches of 100.
	roles["queue-batch-producer"] = func(args []string) error {
		q, err := OpenQueue(args[0], QueueOptions{AttachOnly: true})
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(args[1])
		items := make([]smallObj, 0, 100)
		for i := 0; i < n; i++ {
			items = append(items, smallObj{ID: int64(i), Name: "item-" + strconv.Itoa(i), Vals: []float64{1.5, 2.5, 3.5}})
			if len(items) == 100 || i == n-1 {
				put, err := PutManyOf(roleCtx(), q, items)
				if err != nil || put != len(items) {
					return fmt.Errorf("put %d of %d: %v", put, len(items), err)
				}
				items = items[:0]
			}
		}
		return nil
	}
}

func TestQueueSmallObjectAcrossProcesses(t *testing.T) {
	q, name := tempQueue(t, QueueOptions{MaxSize: 64})
	const n = 2000
	c := spawn(t, "queue-producer", []string{name, strconv.Itoa(n)})
	ctx := ctxT(t)
	for i := 0; i < n; i++ {
		if i%2 == 0 { // into any: the contract's types
			v, err := q.Get(ctx)
			must(t, err)
			m, ok := v.(map[any]any)
			if !ok {
				t.Fatalf("got %T", v)
			}
			if m["id"] != int64(i) || m["name"] != fmt.Sprintf("item-%d", i) {
				t.Fatalf("message %d: %#v", i, m)
			}
			vals := m["vals"].([]any)
			if len(vals) != 3 || vals[0] != 1.5 || vals[1] != 2.5 || vals[2] != 3.5 {
				t.Fatalf("vals %#v", vals)
			}
		} else { // typed decode into a struct
			var s smallObj
			must(t, q.GetInto(ctx, &s))
			if s.ID != int64(i) || s.Name != fmt.Sprintf("item-%d", i) || len(s.Vals) != 3 || s.Vals[2] != 3.5 {
				t.Fatalf("message %d: %+v", i, s)
			}
		}
	}
	v, err := q.Get(ctx)
	must(t, err)
	if v != "end" {
		t.Fatalf("got %v", v)
	}
	c.wait(t)
}

func TestQueueTypedDecodeErrors(t *testing.T) {
	q, _ := tempQueue(t, QueueOptions{})
	must(t, q.Put(map[string]any{"id": "not a number"}))
	var s smallObj
	err := q.GetIntoTimeout(&s, 0)
	if err == nil {
		t.Fatal("decoding a string into an int64 field succeeded")
	}
	// The message was consumed; the queue is empty.
	n, err := q.Qsize()
	must(t, err)
	if n != 0 {
		t.Fatalf("qsize %d", n)
	}
	// Raw bytes that are not CBOR.
	must(t, q.PutBytes([]byte{0xff, 0x00}))
	if _, err := q.GetTimeout(0); err == nil {
		t.Fatal("garbage decoded")
	}
	// Bytes round trip, empty message included.
	for _, m := range [][]byte{{}, []byte("hello"), bytes.Repeat([]byte{7}, 100000)} {
		must(t, q.PutBytes(m))
		got, err := q.GetBytesTimeout(time.Second)
		must(t, err)
		if !bytes.Equal(got, m) {
			t.Fatalf("got %d bytes, want %d", len(got), len(m))
		}
	}
}

func TestQueueFullEmptyTimeouts(t *testing.T) {
	q, _ := tempQueue(t, QueueOptions{MaxSize: 2})
	_, err := q.GetTimeout(0)
	wantCode(t, err, ErrEmpty)
	var e *Error
	if !errors.As(err, &e) || e.Msg == "" || e.Op != "mpq_get_into" {
		t.Fatalf("error without the library's message: %#v", err)
	}
	empty, err := q.Empty()
	must(t, err)
	if !empty {
		t.Fatal("not empty")
	}
	must(t, q.PutTimeout(1, 0))
	must(t, q.PutBytesTimeout([]byte{0x02}, time.Second))
	wantCode(t, q.PutTimeout(3, 0), ErrFull)
	full, err := q.Full()
	must(t, err)
	if !full {
		t.Fatal("not full")
	}
	start := time.Now()
	wantCode(t, q.PutTimeout(3, 120*time.Millisecond), ErrFull)
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Fatalf("PutTimeout(120ms) took %v", d)
	}
	wantCode(t, q.PutBytesTimeout([]byte{1}, 10*time.Millisecond), ErrFull)
	n, err := q.Qsize()
	must(t, err)
	if n != 2 {
		t.Fatalf("qsize %d", n)
	}
	for want := int64(1); want <= 2; want++ {
		v, err := q.GetTimeout(time.Second)
		must(t, err)
		if v != want {
			t.Fatalf("got %v want %d", v, want)
		}
	}
	start = time.Now()
	_, err = q.GetTimeout(120 * time.Millisecond)
	wantCode(t, err, ErrEmpty)
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Fatalf("GetTimeout(120ms) took %v", d)
	}
	_, err = q.GetBytesTimeout(time.Millisecond)
	wantCode(t, err, ErrEmpty)
	var x int
	wantCode(t, q.GetIntoTimeout(&x, 0), ErrEmpty)
}

func TestQueueContextCancel(t *testing.T) {
	q, _ := tempQueue(t, QueueOptions{MaxSize: 1})
	// Get on an empty queue, cancelled after 100 ms: returns within a slice.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := q.Get(ctx)
	d := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if d < 90*time.Millisecond || d > 100*time.Millisecond+pollSlice+150*time.Millisecond {
		t.Fatalf("cancelled Get returned after %v (slice %v)", d, pollSlice)
	}
	// A deadline: DeadlineExceeded, on time.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 80*time.Millisecond)
	defer cancel2()
	start = time.Now()
	_, err = q.GetBytes(ctx2)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 80*time.Millisecond+pollSlice+150*time.Millisecond {
		t.Fatalf("deadline Get returned after %v", d)
	}
	// Put on a full queue, cancelled.
	must(t, q.Put("x"))
	ctx3, cancel3 := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel3)
	if err := q.PutContext(ctx3, "y"); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	// An already cancelled context still takes what is there (one C call
	// that does not wait), and fails fast otherwise.
	v, err := q.Get(ctx3)
	must(t, err)
	if v != "x" {
		t.Fatalf("got %v", v)
	}
	start = time.Now()
	_, err = q.Get(ctx3)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("got %v after %v", err, time.Since(start))
	}
	// Join, cancelled.
	must(t, q.Put("z"))
	ctx4, cancel4 := context.WithTimeout(context.Background(), 60*time.Millisecond)
	defer cancel4()
	if err := q.Join(ctx4); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

func TestQueueShutdownAcrossProcesses(t *testing.T) {
	q, name := tempQueue(t, QueueOptions{})
	ready, err := OpenQueue(name+"-ready", QueueOptions{})
	must(t, err)
	t.Cleanup(func() { ready.Close(); UnlinkQueue(name + "-ready") })
	c := spawn(t, "queue-blocked-get", []string{name})
	if _, err := ready.Get(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let it block
	must(t, q.Shutdown(false))
	c.wait(t)
	wantCode(t, q.Put(1), ErrShutdown)
	_, err = q.GetTimeout(0)
	wantCode(t, err, ErrShutdown)
	must(t, q.Shutdown(true)) // idempotent
}

func TestQueueShutdownDrainsAndImmediate(t *testing.T) {
	q, _ := tempQueue(t, QueueOptions{})
	must(t, q.Put(1))
	must(t, q.Put(2))
	must(t, q.Shutdown(false))
	wantCode(t, q.PutTimeout(3, 0), ErrShutdown)
	v, err := q.GetTimeout(0)
	must(t, err)
	if v != int64(1) {
		t.Fatalf("got %v", v)
	}
	_, err = q.Get(ctxT(t))
	must(t, err)
	_, err = q.Get(ctxT(t))
	wantCode(t, err, ErrShutdown)

	q2, _ := tempQueue(t, QueueOptions{})
	must(t, q2.Put(1))
	must(t, q2.Shutdown(true))
	_, err = q2.GetTimeout(0)
	wantCode(t, err, ErrShutdown)
	must(t, q2.JoinTimeout(time.Second)) // discarded counts as done
}

func TestQueueTaskDoneJoinAcrossProcesses(t *testing.T) {
	in, inName := tempQueue(t, QueueOptions{})
	out, outName := tempQueue(t, QueueOptions{})
	wantCode(t, in.JoinTimeout(0), OK) // nothing put: joined
	for i := 0; i < 50; i++ {
		must(t, in.Put(i))
	}
	wantCode(t, in.JoinTimeout(20*time.Millisecond), ErrTimeout)
	must(t, in.Put("end"))
	c := spawn(t, "queue-echo", []string{inName, outName})
	must(t, in.Join(ctxT(t)))
	c.wait(t)
	for i := 0; i < 50; i++ {
		v, err := out.Get(ctxT(t))
		must(t, err)
		if v != int64(i) {
			t.Fatalf("got %v want %d", v, i)
		}
	}
	// task_done more often than messages were put.
	wantCode(t, in.TaskDone(), ErrInvalid)
}

func TestQueueBatchAcrossProcesses(t *testing.T) {
	q, name := tempQueue(t, QueueOptions{MaxSize: 500})
	const n = 3000
	c := spawn(t, "queue-batch-producer", []string{name, strconv.Itoa(n)})
	ctx := ctxT(t)
	var got []smallObj
	var err error
	for len(got) < n/2 {
		got, err = GetManyOf(ctx, q, got, 256)
		must(t, err)
	}
	for len(got) < n {
		vs, err := q.GetMany(ctx, 256)
		must(t, err)
		for _, v := range vs {
			m := v.(map[any]any)
			got = append(got, smallObj{ID: m["id"].(int64), Name: m["name"].(string)})
		}
	}
	for i, s := range got {
		if s.ID != int64(i) || s.Name != "item-"+strconv.Itoa(i) {
			t.Fatalf("message %d: %+v", i, s)
		}
	}
	c.wait(t)

	// PutMany / PutManyBytes / GetManyBytes / GetManyFunc in process.
	put, err := q.PutMany(ctx, []any{1, "two", 3.5, nil})
	must(t, err)
	if put != 4 {
		t.Fatalf("put %d", put)
	}
	vs, err := q.GetMany(ctx, 10)
	must(t, err)
	if len(vs) != 4 || vs[0] != int64(1) || vs[1] != "two" || vs[2] != 3.5 || vs[3] != nil {
		t.Fatalf("got %#v", vs)
	}
	msgs := [][]byte{[]byte("a"), {}, bytes.Repeat([]byte("b"), 70000)}
	put, err = q.PutManyBytes(ctx, msgs)
	must(t, err)
	if put != 3 {
		t.Fatalf("put %d", put)
	}
	var raw [][]byte
	for len(raw) < 3 {
		r, err := q.GetManyBytes(ctx, 2)
		must(t, err)
		raw = append(raw, r...)
	}
	for i := range msgs {
		if !bytes.Equal(raw[i], msgs[i]) {
			t.Fatalf("message %d differs", i)
		}
	}
	// GetManyFunc: an error from fn stops the batch and is returned.
	must(t, q.PutBytes([]byte("x")))
	boom := errors.New("boom")
	k, err := q.GetManyFunc(ctx, 4, func([]byte) error { return boom })
	if k != 1 || err != boom {
		t.Fatalf("got %d %v", k, err)
	}
	_, err = q.GetManyFunc(ctx, 0, nil)
	wantCode(t, err, ErrInvalid)
	// Empty batches.
	if n, err := q.PutMany(ctx, nil); n != 0 || err != nil {
		t.Fatalf("got %d %v", n, err)
	}
	ctx0, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := q.GetMany(ctx0, 4); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	// PutMany into a full queue waits, then gives up with the count put.
	small, _ := tempQueue(t, QueueOptions{MaxSize: 2})
	ctx1, cancel1 := context.WithTimeout(context.Background(), 60*time.Millisecond)
	defer cancel1()
	n3, err := small.PutMany(ctx1, []any{1, 2, 3})
	if n3 != 2 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %d %v", n3, err)
	}
}

func TestQueueTooBigAndLargeMessages(t *testing.T) {
	q, _ := tempQueue(t, QueueOptions{MaxMessage: 64, CapacityBytes: 4096})
	wantCode(t, q.PutBytes(make([]byte, 65)), ErrTooBig)
	_, err := q.PutManyBytes(context.Background(), [][]byte{{1}, make([]byte, 65)})
	wantCode(t, err, ErrTooBig)
	opts, err := q.Options()
	must(t, err)
	if opts.MaxMessage != 64 || opts.CapacityBytes != 4096 || opts.MaxSize != 0 {
		t.Fatalf("options %+v", opts)
	}
	// Messages larger than the receive buffer's first size (4 KiB) grow it.
	big, _ := tempQueue(t, QueueOptions{CapacityBytes: 1 << 20})
	payload := bytes.Repeat([]byte("z"), 300000)
	must(t, big.Put(payload))
	v, err := big.GetTimeout(time.Second)
	must(t, err)
	if !bytes.Equal(v.([]byte), payload) {
		t.Fatal("large message differs")
	}
}

func TestQueueOpenErrors(t *testing.T) {
	q, name := tempQueue(t, QueueOptions{MaxSize: 3})
	_, err := OpenQueue(name, QueueOptions{CreateOnly: true})
	wantCode(t, err, ErrExists)
	_, err = OpenQueue(uniqueName(t, "missing"), QueueOptions{AttachOnly: true})
	wantCode(t, err, ErrNotFound)
	_, err = OpenQueue("bad/name", QueueOptions{})
	wantCode(t, err, ErrInvalid)
	_, err = OpenQueue(name, QueueOptions{MaxSize: 4})
	wantCode(t, err, ErrInvalid)
	q2, err := OpenQueue(name, QueueOptions{AttachOnly: true})
	must(t, err)
	defer q2.Close()
	must(t, q2.Put("shared"))
	v, err := q.GetTimeout(time.Second)
	must(t, err)
	if v != "shared" || q.Name() != name {
		t.Fatalf("got %v", v)
	}
	must(t, q.SetSpin(0))
	must(t, q.SetSpin(20*time.Microsecond))
	wantCode(t, UnlinkQueue(uniqueName(t, "missing")), ErrNotFound)
	wantCode(t, UnlinkQueue("../etc"), ErrInvalid)
}

func TestQueueCloseAndUseAfterClose(t *testing.T) {
	q, _ := tempQueue(t, QueueOptions{})
	// A Get blocked in another goroutine returns ErrClosed after Close.
	done := make(chan error, 1)
	go func() {
		_, err := q.Get(context.Background())
		done <- err
	}()
	time.Sleep(30 * time.Millisecond)
	must(t, q.Close())
	must(t, q.Close()) // idempotent
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("blocked Get: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("blocked Get did not notice Close")
	}
	ctx := context.Background()
	checks := map[string]error{
		"Put":        q.Put(1),
		"PutBytes":   q.PutBytes(nil),
		"TaskDone":   q.TaskDone(),
		"Join":       q.JoinTimeout(0),
		"Shutdown":   q.Shutdown(false),
		"SetSpin":    q.SetSpin(0),
		"GetInto":    q.GetInto(ctx, new(any)),
		"PutContext": q.PutContext(ctx, 1),
	}
	_, checks["Get"] = q.Get(ctx)
	_, checks["GetBytes"] = q.GetBytes(ctx)
	_, checks["Qsize"] = q.Qsize()
	_, checks["Empty"] = q.Empty()
	_, checks["Full"] = q.Full()
	_, checks["Options"] = q.Options()
	_, checks["PutMany"] = q.PutMany(ctx, []any{1})
	_, checks["GetMany"] = q.GetMany(ctx, 1)
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
}

func TestQueueManyGoroutines(t *testing.T) {
	q, _ := tempQueue(t, QueueOptions{MaxSize: 16})
	const producers, per = 4, 500
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if err := q.Put(p*per + i); err != nil {
					t.Error(err)
					return
				}
			}
		}(p)
	}
	seen := make([]bool, producers*per)
	var mu sync.Mutex
	var cwg sync.WaitGroup
	for c := 0; c < 3; c++ {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for {
				v, err := q.GetTimeout(300 * time.Millisecond)
				if errors.Is(err, ErrEmpty) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[v.(int64)] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	cwg.Wait()
	for i, ok := range seen {
		if !ok {
			t.Fatalf("message %d lost", i)
		}
	}
}
