package main

// Bench roles (benches/polyglot_bench.py; PEERS.md "Bench roles"): the
// small object {"id": i, "name": "item-<i>", "vals": [1.5, 2.5, 3.5]},
// encoded by Queue.Put from a struct (the binding's encoder) and decoded by
// Queue.GetInto into the same struct (its decoder).

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	mpipc "github.com/mpipc/mpipc/bindings/go"
)

type benchSmall struct {
	ID   int64     `cbor:"id"`
	Name string    `cbor:"name"`
	Vals []float64 `cbor:"vals"`
}

var benchVals = []float64{1.5, 2.5, 3.5}

func benchOpen(name string) *mpipc.Queue {
	q, err := mpipc.OpenQueue(name, mpipc.QueueOptions{})
	if err != nil {
		die("OpenQueue: %v", err)
	}
	return q
}

func benchGo() {
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "GO") {
		die("bench: expected GO on stdin (%v)", err)
	}
}

func benchAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		die("bench: %v", err)
	}
	return n
}

func benchPut(q *mpipc.Queue, i int64) {
	if err := q.Put(&benchSmall{ID: i, Name: "item-" + strconv.FormatInt(i, 10), Vals: benchVals}); err != nil {
		die("Put: %v", err)
	}
}

func benchGet(q *mpipc.Queue, s *benchSmall) {
	if err := q.GetInto(context.Background(), s); err != nil {
		die("Get: %v", err)
	}
}

func benchMain(args []string) {
	switch {
	case (args[0] == "bench-put" || args[0] == "bench-get") && len(args) == 3:
		q := benchOpen(args[1])
		defer q.Close()
		n := benchAtoi(args[2])
		ready()
		if args[0] == "bench-put" {
			benchGo()
			for i := 0; i < n; i++ {
				benchPut(q, int64(i))
			}
			return
		}
		var s benchSmall
		for i := 0; i < n; i++ {
			benchGet(q, &s)
			if s.ID != int64(i) {
				die("bench-get: message %d out of order", i)
			}
		}
		fmt.Println("DONE")
	case args[0] == "bench-pong" && len(args) == 4:
		q1, q2 := benchOpen(args[1]), benchOpen(args[2])
		defer q1.Close()
		defer q2.Close()
		n := benchAtoi(args[3])
		ready()
		var s benchSmall
		for i := 0; i < n; i++ {
			benchGet(q1, &s)
			if err := q2.Put(&s); err != nil {
				die("Put: %v", err)
			}
		}
	case args[0] == "bench-ping" && len(args) == 5:
		q1, q2 := benchOpen(args[1]), benchOpen(args[2])
		defer q1.Close()
		defer q2.Close()
		rounds, warm := benchAtoi(args[3]), benchAtoi(args[4])
		ready()
		benchGo()
		lat := make([]int64, 0, rounds)
		var s benchSmall
		for i := 0; i < warm+rounds; i++ {
			t0 := time.Now()
			benchPut(q1, int64(i))
			benchGet(q2, &s)
			d := time.Since(t0)
			if s.ID != int64(i) {
				die("bench-ping: round %d: wrong id back", i)
			}
			if i >= warm {
				lat = append(lat, d.Nanoseconds())
			}
		}
		slices.Sort(lat)
		fmt.Printf("RESULT %d %d\n", lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)])
	default:
		die("usage: peer bench-put|bench-get <queue> <n> | bench-ping <q1> <q2> <rounds> <warmup> | bench-pong <q1> <q2> <total>")
	}
}
