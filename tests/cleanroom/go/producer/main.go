// Command producer is the Go side of the clean-room test's producer role
// (tests/cleanroom/go.sh, and `mix produce`):
//
//	producer QUEUE N CONSUMERS
//
// creates (or attaches) the queue QUEUE with room for every message, puts
// N maps {"id": i, "text": "job-<i>"} for i = 0..N-1, then CONSUMERS nils
// (one end marker per consumer), and exits 0.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	mpipc "github.com/mpipc/mpipc/bindings/go"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: producer QUEUE N CONSUMERS")
		os.Exit(2)
	}
	n, err1 := strconv.Atoi(os.Args[2])
	consumers, err2 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil || n < 0 || consumers < 1 {
		fmt.Fprintln(os.Stderr, "producer: N must be >= 0 and CONSUMERS >= 1")
		os.Exit(2)
	}
	if err := produce(os.Args[1], n, consumers); err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		os.Exit(1)
	}
}

func produce(name string, n, consumers int) error {
	// Room for everything (count and bytes: a message here takes under 64
	// bytes of the ring), so no put ever waits for a consumer.
	total := n + consumers
	q, err := mpipc.OpenQueue(name, mpipc.QueueOptions{MaxSize: total, CapacityBytes: max(1<<20, 64*total)})
	if err != nil {
		return err
	}
	defer q.Close()
	// A put never blocks here; the timeout only turns a broken promise
	// into an error instead of a hang.
	for i := 0; i < n; i++ {
		if err := q.PutTimeout(map[string]any{"id": i, "text": fmt.Sprintf("job-%d", i)}, 10*time.Second); err != nil {
			return fmt.Errorf("put %d: %w", i, err)
		}
	}
	for c := 0; c < consumers; c++ {
		if err := q.PutTimeout(nil, 10*time.Second); err != nil {
			return fmt.Errorf("put end marker: %w", err)
		}
	}
	fmt.Printf("go produced %d\n", n)
	return nil
}
