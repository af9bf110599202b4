// Command shared_array: Python's multiprocessing.Array with its lock,
// across processes, by name. Each worker adds to every element of a shared
// 'q' (int64) array under the array's lock (a read-modify-write over
// several elements), and bumps a float Value; the main process checks the
// totals. A worker killed while holding the lock would hand it to the next
// one with ErrOwnerDead (the lock is then held: repair, then Unlock).
//
//	go run ./shared_array [-workers 4] [-n 10000]
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

	mpipc "github.com/mpipc/mpipc/bindings/go"
)

const length = 4

func main() {
	role := flag.String("role", "main", "main or worker")
	name := flag.String("name", "", "array name (worker)")
	workers := flag.Int("workers", 4, "worker processes")
	n := flag.Int("n", 10000, "updates per worker")
	flag.Parse()
	log.SetFlags(0)

	if *role == "worker" {
		worker(*name, *n)
		return
	}
	arrName := fmt.Sprintf("go-example-array-%d", os.Getpid())
	a, err := mpipc.OpenArray(arrName, 'q', length, mpipc.ArrayOptions{Mode: mpipc.CreateOnly})
	check(err)
	defer func() { a.Close(); mpipc.UnlinkArray(arrName) }()
	v, err := mpipc.OpenValue(arrName+"-total", 'd', mpipc.ArrayOptions{Mode: mpipc.CreateOnly})
	check(err)
	defer func() { v.Close(); mpipc.UnlinkArray(arrName + "-total") }()

	self, err := os.Executable()
	check(err)
	var cmds []*exec.Cmd
	for i := 0; i < *workers; i++ {
		c := exec.Command(self, "-role", "worker", "-name", arrName, "-n", strconv.Itoa(*n))
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		check(c.Start())
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		check(c.Wait())
	}
	got := make([]int64, length)
	check(a.Read(0, got)) // one locked copy of the whole array
	total, err := v.Float()
	check(err)
	want := int64(*workers * *n)
	log.Printf("array = %v, value = %v (want every element %d, value %d)", got, total, want, want/2)
	for i, x := range got {
		if x != want*int64(i+1) {
			log.Fatalf("element %d lost updates", i)
		}
	}
}

func worker(name string, n int) {
	a, err := mpipc.OpenArray(name, 'q', 0, mpipc.ArrayOptions{Mode: mpipc.AttachOnly})
	check(err)
	defer a.Close()
	v, err := mpipc.OpenValue(name+"-total", 'd', mpipc.ArrayOptions{Mode: mpipc.AttachOnly})
	check(err)
	defer v.Close()
	ctx := context.Background()
	for j := 0; j < n; j++ {
		// `with a.get_lock(): for i in range(4): a[i] += i + 1`
		if err := a.Lock(ctx); err != nil && !errors.Is(err, mpipc.ErrOwnerDead) {
			log.Fatal(err) // ErrOwnerDead: held; the data would need a check here
		}
		for i := 0; i < length; i++ {
			x, err := a.GetInt(i) // the accessors re-enter the (recursive) lock
			check(err)
			check(a.SetInt(i, x+int64(i+1)))
		}
		check(a.Unlock())
		// `with v.get_lock(): v.value += 0.5` (an integer Value has Add, one atomic call).
		check(v.Lock(ctx))
		f, err := v.Float()
		check(err)
		check(v.SetFloat(f + 0.5))
		check(v.Unlock())
	}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
