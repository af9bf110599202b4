// Command producer: the Go producer of the polyglot demo (see ../README.md).
//
//	producer -jobs QUEUE -n N -ctl CONTROL_ADDR     (authkey, hex, in $DEMO_AUTHKEY_HEX)
//
// Connects to the orchestrator's control listener and says "ready", waits
// for {"cmd": "go"}, puts N jobs {"id": i, "x": ..., "payload": "..."} on
// the named queue in batches (one lock round trip per batch), then reports
// {"cmd": "produced", "n": N, "seconds": ...} and exits.
package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	mpipc "github.com/mpipc/mpipc/bindings/go"
)

// Job is one unit of work; the struct's field order is the CBOR map's.
type Job struct {
	ID      int    `cbor:"id"`
	X       int    `cbor:"x"`
	Payload string `cbor:"payload"`
}

func main() {
	jobsName := flag.String("jobs", "", "jobs queue name")
	n := flag.Int("n", 3000, "number of jobs")
	ctlAddr := flag.String("ctl", "", "control listener address")
	flag.Parse()
	name := fmt.Sprintf("go-%d", os.Getpid())
	log.SetFlags(0)
	log.SetPrefix(name + ": ")
	key, err := hex.DecodeString(os.Getenv("DEMO_AUTHKEY_HEX"))
	check(err)

	q, err := mpipc.OpenQueue(*jobsName, mpipc.QueueOptions{AttachOnly: true})
	check(err)
	defer q.Close()
	ctl, err := mpipc.DialTimeout(*ctlAddr, key, 10*time.Second)
	check(err)
	defer ctl.Close()
	check(ctl.Send(map[string]any{"cmd": "ready", "worker": name, "lang": "go", "pid": os.Getpid(), "role": "producer"}))
	var msg struct {
		Cmd string `cbor:"cmd"`
	}
	check(ctl.RecvInto(context.Background(), &msg))
	if msg.Cmd != "go" {
		log.Fatalf("expected go, got %q", msg.Cmd)
	}

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const batch = 128
	jobs := make([]Job, 0, batch)
	for i := 0; i < *n; i++ {
		jobs = append(jobs, Job{ID: i, X: (i * 7919) % 1000, Payload: fmt.Sprintf("job-%06d from %s", i, name)})
		if len(jobs) == batch || i == *n-1 {
			// One lock round trip per run that fits; waits for room (the
			// queue is bounded) as long as ctx allows.
			k, err := mpipc.PutManyOf(ctx, q, jobs)
			check(err)
			if k != len(jobs) {
				log.Fatalf("put %d of %d jobs", k, len(jobs))
			}
			jobs = jobs[:0]
		}
	}
	secs := time.Since(start).Seconds()
	check(ctl.Send(map[string]any{"cmd": "produced", "worker": name, "n": *n, "seconds": secs}))
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
