// Command shared_counter: several processes increment counters in a
// shared dict held by a manager, atomically (Python's `d[k] += 1` through
// a Manager is a race; DictProxy.Incr is one atomic step on the server).
//
//	go run ./shared_counter                  # serves a manager, starts 4 workers, checks the total
//	go run ./shared_counter -workers 8 -n 5000
//
// The manager could as well be `mpipc manager serve --address ...` or a
// process in another language; the workers only need its address and key.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strconv"

	mpipc "github.com/mpipc/mpipc/bindings/go"
)

var authkey = []byte("shared-counter-example")

func main() {
	role := flag.String("role", "main", "main or worker")
	addr := flag.String("addr", "", "manager address (worker)")
	workers := flag.Int("workers", 4, "worker processes")
	n := flag.Int("n", 1000, "increments per worker")
	flag.Parse()
	log.SetFlags(0)

	if *role == "worker" {
		worker(*addr, *n)
		return
	}
	// An embedded manager server on an abstract Unix socket.
	srv, err := mpipc.ServeManager(fmt.Sprintf("unix:@mpipc-counter-%d", os.Getpid()), authkey)
	check(err)
	defer srv.Shutdown()
	self, err := os.Executable()
	check(err)
	var cmds []*exec.Cmd
	for i := 0; i < *workers; i++ {
		c := exec.Command(self, "-role", "worker", "-addr", srv.Addr(), "-n", strconv.Itoa(*n))
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		check(c.Start())
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		check(c.Wait())
	}
	m, err := mpipc.ConnectManager(srv.Addr(), authkey)
	check(err)
	defer m.Close()
	hits, err := m.Dict("stats").Get("hits")
	check(err)
	items, err := m.Dict("per-worker").Items()
	check(err)
	for _, it := range items {
		log.Printf("worker %v: %v increments", it.Key, it.Value)
	}
	want := int64(*workers * *n)
	log.Printf("hits = %v (want %d)", hits, want)
	if hits != want {
		log.Fatal("lost updates")
	}
}

func worker(addr string, n int) {
	m, err := mpipc.ConnectManager(addr, authkey)
	check(err)
	defer m.Close()
	stats := m.Dict("stats")
	for i := 0; i < n; i++ {
		_, err := stats.Incr("hits", 1)
		check(err)
	}
	_, err = m.Dict("per-worker").Incr(os.Getpid(), int64(n))
	check(err)
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
