// Command producer_consumer: Python's JoinableQueue pattern across
// processes with mpipc's named shared-memory queue. A producer process
// puts jobs (CBOR objects), consumer processes take them, decode them into
// a struct and mark each done; the producer waits with Join, then shuts
// the queue down, which ends the consumers.
//
//	go run ./producer_consumer                       # the whole demo: 1 producer + 2 consumers
//	go run ./producer_consumer -role consumer -queue jobs &
//	go run ./producer_consumer -role producer -queue jobs -n 100000
//
// Any process that knows the name can take part, in any language (a
// Python consumer reads the same objects with cbor2).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strconv"
	"time"

	mpipc "github.com/mpipc/mpipc/bindings/go"
)

// Job is what the producer sends: {"id": i, "name": "item-<i>", "vals": [...]}.
type Job struct {
	ID   int64     `cbor:"id"`
	Name string    `cbor:"name"`
	Vals []float64 `cbor:"vals"`
}

func main() {
	role := flag.String("role", "demo", "demo, producer or consumer")
	name := flag.String("queue", "", "queue name (the demo makes one up)")
	n := flag.Int("n", 100000, "jobs to produce")
	consumers := flag.Int("consumers", 2, "consumer processes of the demo")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix(fmt.Sprintf("%s %d: ", *role, os.Getpid()))

	switch *role {
	case "producer":
		producer(*name, *n)
	case "consumer":
		consumer(*name)
	case "demo":
		demo(*n, *consumers)
	default:
		log.Fatalf("unknown role %q", *role)
	}
}

// The same options everywhere: whoever comes first creates the queue.
var opts = mpipc.QueueOptions{MaxSize: 1024}

func producer(name string, n int) {
	q, err := mpipc.OpenQueue(name, opts)
	check(err)
	defer q.Close()
	start := time.Now()
	vals := []float64{1.5, 2.5, 3.5}
	for i := 0; i < n; i++ { // blocks while 1024 jobs wait
		check(q.Put(Job{ID: int64(i), Name: "item-" + strconv.Itoa(i), Vals: vals}))
	}
	log.Printf("put %d jobs in %.3f s", n, time.Since(start).Seconds())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	check(q.Join(ctx)) // every job taken and marked done
	log.Printf("all done after %.3f s (%.0f jobs/s end to end); expected checksum %d",
		time.Since(start).Seconds(), float64(n)/time.Since(start).Seconds(), int64(n)*int64(n-1)/2)
	check(q.Shutdown(false)) // consumers' Get now return ErrShutdown
}

func consumer(name string) {
	q, err := mpipc.OpenQueue(name, opts)
	check(err)
	defer q.Close()
	var got, sum int64
	var job Job
	for {
		err := q.GetInto(context.Background(), &job)
		if errors.Is(err, mpipc.ErrShutdown) {
			break
		}
		check(err)
		got++
		sum += job.ID
		check(q.TaskDone())
	}
	log.Printf("got %d jobs, checksum %d", got, sum)
}

// demo runs the producer and the consumers as child processes of this
// program, on a queue of its own, and removes the queue at the end.
func demo(n, consumers int) {
	name := fmt.Sprintf("go-demo-jobs-%d", os.Getpid())
	defer mpipc.UnlinkQueue(name)
	self, err := os.Executable()
	check(err)
	var cmds []*exec.Cmd
	for i := 0; i < consumers; i++ {
		cmds = append(cmds, exec.Command(self, "-role", "consumer", "-queue", name))
	}
	cmds = append(cmds, exec.Command(self, "-role", "producer", "-queue", name, "-n", strconv.Itoa(n)))
	for _, c := range cmds {
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		check(c.Start())
	}
	for _, c := range cmds {
		check(c.Wait())
	}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
