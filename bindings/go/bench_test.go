package mpipc

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// In-process benchmarks of the queue with the benchmarks' small object,
// {"id": i, "name": "item-<i>", "vals": [1.5, 2.5, 3.5]}: one Put and one
// Get per iteration. The cross-process throughput is measured by
// bench/qtput (go run ./bench/qtput).

func benchQueue(b *testing.B) *Queue {
	name := "gobench-" + strconv.Itoa(int(time.Now().UnixNano()))
	q, err := OpenQueue(name, QueueOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { q.Close(); UnlinkQueue(name) })
	return q
}

var benchVals = []float64{1.5, 2.5, 3.5}

// Put of the object as a struct, GetInto a struct.
func BenchmarkQueuePutGetSmall(b *testing.B) {
	q := benchQueue(b)
	ctx := context.Background()
	var r smallObj
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s := smallObj{ID: int64(i), Name: "item-" + strconv.Itoa(i), Vals: benchVals}
		if err := q.Put(&s); err != nil {
			b.Fatal(err)
		}
		if err := q.GetInto(ctx, &r); err != nil {
			b.Fatal(err)
		}
	}
}

// Put of the object as a map[string]any, Get into any (map[any]any).
func BenchmarkQueuePutGetSmallAny(b *testing.B) {
	q := benchQueue(b)
	ctx := context.Background()
	vals := []any{1.5, 2.5, 3.5}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := q.Put(map[string]any{"id": i, "name": "item-" + strconv.Itoa(i), "vals": vals}); err != nil {
			b.Fatal(err)
		}
		if _, err := q.Get(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// PutManyOf / GetManyOf, 256 objects per call (ns/op is per object).
func BenchmarkQueuePutManyGetManySmall(b *testing.B) {
	q := benchQueue(b)
	ctx := context.Background()
	const batch = 256
	items := make([]smallObj, batch)
	var out []smallObj
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		k := n % batch
		items[k] = smallObj{ID: int64(n), Name: "item-" + strconv.Itoa(n), Vals: benchVals}
		n++
		if k == batch-1 {
			if _, err := PutManyOf(ctx, q, items); err != nil {
				b.Fatal(err)
			}
			for got := 0; got < batch; got += len(out) {
				var err error
				if out, err = GetManyOf(ctx, q, out[:0], batch); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

// Raw bytes, no CBOR: the cost of the binding and the C calls alone.
func BenchmarkQueuePutGetBytes(b *testing.B) {
	q := benchQueue(b)
	msg := make([]byte, 48)
	b.ReportAllocs()
	for b.Loop() {
		if err := q.PutBytes(msg); err != nil {
			b.Fatal(err)
		}
		rb := getRbuf()
		if _, err := q.getInto(waiter{}, rb); err != nil {
			b.Fatal(err)
		}
		putRbuf(rb)
	}
}

func BenchmarkEncodeSmall(b *testing.B) {
	buf := getBuf()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf.Reset()
		s := smallObj{ID: int64(i), Name: "item-x", Vals: benchVals}
		if err := marshalTo(buf, &s); err != nil {
			b.Fatal(err)
		}
	}
}

// The object as a map[string]any (what Put of such a map encodes).
func BenchmarkEncodeSmallAny(b *testing.B) {
	buf := getBuf()
	vals := []any{1.5, 2.5, 3.5}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf.Reset()
		if err := marshalTo(buf, map[string]any{"id": i, "name": "item-x", "vals": vals}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSmallStruct(b *testing.B) {
	data, _ := Marshal(smallObj{ID: 1, Name: "item-1", Vals: benchVals})
	var s smallObj
	b.ReportAllocs()
	for b.Loop() {
		if err := Unmarshal(data, &s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSmallAny(b *testing.B) {
	data, _ := Marshal(smallObj{ID: 1, Name: "item-1", Vals: benchVals})
	var v any
	b.ReportAllocs()
	for b.Loop() {
		if err := Unmarshal(data, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func TestFinalizersClose(t *testing.T) {
	// Handles dropped without Close are closed by their finalizers (run
	// under the race detector and cgocheck too); nothing may crash.
	name := uniqueName(t, "fin")
	defer UnlinkQueue(name)
	for i := 0; i < 50; i++ {
		q, err := OpenQueue(name, QueueOptions{})
		must(t, err)
		must(t, q.Put(i))
		a, b, err := Pipe(true)
		must(t, err)
		must(t, a.Send(i))
		_ = b
	}
	for i := 0; i < 5; i++ {
		runtime.GC()
	}
	q, err := OpenQueue(name, QueueOptions{})
	must(t, err)
	defer q.Close()
	n, err := q.Qsize()
	must(t, err)
	if n != 50 {
		t.Fatalf("qsize %d", n)
	}
}
