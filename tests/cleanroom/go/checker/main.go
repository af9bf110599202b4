// Command checker serves the manager of tests/cleanroom/go.sh's own
// producer/consumer run and checks what the consumer counted there:
//
//	checker ADDR QUEUE N
//
// serves a manager at ADDR (unix:/path), prints "ready", and waits for its
// standard input to end (the script closes it once the consumer is done).
// Then it reads the dict "counts": key "go" must be N and key "idsum"
// N*(N-1)/2. It removes the queue's name QUEUE, prints "checked ...", and
// exits 0, or 1 when a count is wrong.
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"

	mpipc "github.com/mpipc/mpipc/bindings/go"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: checker ADDR QUEUE N")
		os.Exit(2)
	}
	n, err := strconv.ParseInt(os.Args[3], 10, 64)
	if err != nil || n < 0 {
		fmt.Fprintln(os.Stderr, "checker: N must be >= 0")
		os.Exit(2)
	}
	if err := check(os.Args[1], os.Args[2], n); err != nil {
		fmt.Fprintln(os.Stderr, "checker:", err)
		os.Exit(1)
	}
}

func check(addr, queue string, n int64) error {
	srv, err := mpipc.ServeManager(addr, nil)
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	fmt.Println("ready")
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		return err
	}
	defer mpipc.UnlinkQueue(queue)

	m, err := mpipc.ConnectManager(srv.Addr(), nil)
	if err != nil {
		return err
	}
	defer m.Close()
	var counts map[string]int64
	if err := m.Dict("counts").CopyInto(&counts); err != nil {
		return err
	}
	if counts["go"] != n || counts["idsum"] != n*(n-1)/2 {
		return fmt.Errorf("counts %v, want go=%d idsum=%d", counts, n, n*(n-1)/2)
	}
	fmt.Printf("checked go=%d idsum=%d\n", counts["go"], counts["idsum"])
	return nil
}
