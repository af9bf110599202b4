// Command sysmode is built by packaging/go/test-modes.sh with
// -tags mpipc_system against a libmpipc installed in a temporary prefix:
// it prints the library's version, puts and gets a value on a queue, and
// prints the path of the libmpipc.so this process mapped (from
// /proc/self/maps), which the script checks is the installed one.
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	mpipc "github.com/mpipc/mpipc/bindings/go"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sysmode:", err)
		os.Exit(1)
	}
}

func run() error {
	name := fmt.Sprintf("go-sysmode-%d", os.Getpid())
	q, err := mpipc.OpenQueue(name, mpipc.QueueOptions{MaxSize: 4, CreateOnly: true})
	if err != nil {
		return err
	}
	defer mpipc.UnlinkQueue(name)
	defer q.Close()
	if err := q.Put(map[string]any{"id": 7, "text": "job-7"}); err != nil {
		return err
	}
	var got struct {
		ID   int64  `cbor:"id"`
		Text string `cbor:"text"`
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.GetInto(ctx, &got); err != nil {
		return err
	}
	if got.ID != 7 || got.Text != "job-7" {
		return fmt.Errorf("queue round trip gave %+v", got)
	}
	lib, err := mappedLibrary()
	if err != nil {
		return err
	}
	fmt.Printf("version %s\nqueue ok\nlibrary %s\n", mpipc.Version(), lib)
	return nil
}

// mappedLibrary is the path of the libmpipc.so mapped into this process.
func mappedLibrary() (string, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 6 && strings.Contains(fields[5], "libmpipc.so") {
			return fields[5], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no libmpipc.so mapped (linked statically?)")
}
