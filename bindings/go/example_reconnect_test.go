package mpipc_test

import (
	"context"
	"errors"
	"log"
	"time"

	mpipc "github.com/mpipc/mpipc/bindings/go"
)

// A worker that survives restarts of its manager server. When the server
// goes away every call fails with ErrEOF; the worker then waits for a
// server to come back (Reconnect), recreates what it relies on (a
// restarted server starts empty) and carries on. A job whose reply never
// came may or may not have been recorded: the worker decides (here a
// result is a plain Set, so doing it again is harmless).
func ExampleManager_Reconnect() {
	m, err := mpipc.ConnectManager("unix:/run/myapp/manager.sock", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	jobs, results := m.Queue("jobs"), m.Dict("results")
	for {
		job, err := jobs.GetTimeout(time.Second)
		if err == nil {
			err = results.Set(job, "done")
		}
		switch {
		case err == nil, errors.Is(err, mpipc.ErrEmpty):
			continue
		case errors.Is(err, mpipc.ErrEOF): // the server stopped, crashed or restarted
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err = m.Reconnect(ctx) // retries while no server listens
			cancel()
			if err != nil {
				log.Fatalf("manager did not come back: %v", err)
			}
			// Recreate the state the restarted (empty) server lacks, e.g.
			// a queue's maxsize: m.Call("queue", "jobs", "create", 100).
		default:
			log.Fatal(err)
		}
	}
}
