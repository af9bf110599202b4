// Command consumer is the Go side of the clean-room test's consumer role
// (tests/cleanroom/go.sh, and `mix consume`):
//
//	consumer QUEUE MGR_ADDR
//
// attaches the existing queue QUEUE and gets until it gets nil (the end
// marker); for each map {"id": i, "text": "job-<i>"} it checks the text,
// then atomically adds 1 to key "go" and i to key "idsum" of the manager
// dict "counts" at MGR_ADDR (unix:/path; a bare /path means the same).
// Prints "go consumed K" and exits 0; exits 1 on any error or bad message.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	mpipc "github.com/mpipc/mpipc/bindings/go"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: consumer QUEUE MGR_ADDR")
		os.Exit(2)
	}
	k, err := consume(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
	fmt.Printf("go consumed %d\n", k)
}

func consume(name, addr string) (int, error) {
	if strings.HasPrefix(addr, "/") {
		addr = "unix:" + addr
	}
	q, err := mpipc.OpenQueue(name, mpipc.QueueOptions{AttachOnly: true})
	if err != nil {
		return 0, err
	}
	defer q.Close()
	m, err := mpipc.ConnectManager(addr, nil)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	counts := m.Dict("counts")

	// The end marker comes after the producer's last put; the deadline
	// only turns a lost marker into an error instead of a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k := 0
	for {
		v, err := q.Get(ctx)
		if err != nil {
			return k, fmt.Errorf("get after %d messages: %w", k, err)
		}
		if v == nil {
			return k, nil
		}
		job, ok := v.(map[any]any)
		if !ok {
			return k, fmt.Errorf("message %d is %T, not a map", k, v)
		}
		id, ok := job["id"].(int64)
		if !ok {
			return k, fmt.Errorf("message %d: id is %T", k, job["id"])
		}
		if text, _ := job["text"].(string); text != fmt.Sprintf("job-%d", id) {
			return k, fmt.Errorf("message %d: text %q for id %d", k, job["text"], id)
		}
		if _, err := counts.Incr("go", 1); err != nil {
			return k, err
		}
		if _, err := counts.Incr("idsum", id); err != nil {
			return k, err
		}
		k++
	}
}
