// Command request_reply: a server and a client over a Listener / Dial pair
// with an authkey (HMAC handshake both ways), wire-compatible with Python's
// multiprocessing.connection (a stock Python Client could be the client).
// The server answers each request until the client closes (ErrEOF).
//
//	go run ./request_reply                  # serves, starts a client process, checks every reply
//	go run ./request_reply -n 1000
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

var authkey = []byte("request-reply-example")

// Request and Reply are CBOR maps: {"id", "op", "args"} and {"id", "result"}.
type Request struct {
	ID   int64   `cbor:"id"`
	Op   string  `cbor:"op"`
	Args []int64 `cbor:"args"`
}

type Reply struct {
	ID     int64  `cbor:"id"`
	Result int64  `cbor:"result"`
	Error  string `cbor:"error,omitempty"`
}

func main() {
	role := flag.String("role", "main", "main (server) or client")
	addr := flag.String("addr", "", "listener address (client)")
	n := flag.Int("n", 100, "requests")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix(fmt.Sprintf("%s %d: ", *role, os.Getpid()))
	if *role == "client" {
		client(*addr, *n)
		return
	}

	// An abstract Unix socket: nothing to remove afterwards.
	l, err := mpipc.Listen(fmt.Sprintf("unix:@mpipc-go-rr-%d", os.Getpid()), authkey)
	check(err)
	defer l.Close()
	self, err := os.Executable()
	check(err)
	cmd := exec.Command(self, "-role", "client", "-addr", l.Addr(), "-n", strconv.Itoa(*n))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	check(cmd.Start())

	conn, err := l.AcceptTimeout(10 * time.Second)
	check(err)
	served := 0
	for {
		var req Request
		err := conn.RecvInto(context.Background(), &req)
		if errors.Is(err, mpipc.ErrEOF) {
			break // the client closed its end
		}
		check(err)
		rep := Reply{ID: req.ID}
		switch req.Op {
		case "add":
			for _, a := range req.Args {
				rep.Result += a
			}
		case "mul":
			rep.Result = 1
			for _, a := range req.Args {
				rep.Result *= a
			}
		default:
			rep.Error = "unknown op " + req.Op
		}
		check(conn.Send(rep))
		served++
	}
	conn.Close()
	check(cmd.Wait())
	log.Printf("answered %d requests (want %d + 1 with an unknown op)", served, *n)
	if served != *n+1 {
		log.Fatal("FAILED")
	}
	log.Print("OK")
}

func client(addr string, n int) {
	conn, err := mpipc.DialTimeout(addr, authkey, 5*time.Second)
	check(err)
	defer conn.Close()
	for i := int64(0); i < int64(n); i++ {
		op, want := "add", 11*i
		if i%2 == 1 {
			op, want = "mul", 10*i*i
		}
		check(conn.Send(Request{ID: i, Op: op, Args: []int64{i, 10 * i}}))
		var rep Reply
		check(conn.RecvInto(context.Background(), &rep))
		if rep.ID != i || rep.Result != want || rep.Error != "" {
			log.Fatalf("request %d: got %+v, want result %d", i, rep, want)
		}
	}
	// An unknown operation comes back as an error reply.
	check(conn.Send(Request{ID: -1, Op: "nope"}))
	var rep Reply
	check(conn.RecvInto(context.Background(), &rep))
	if rep.Error == "" {
		log.Fatal("no error for an unknown op")
	}
	log.Printf("%d replies right; error reply: %s", n, rep.Error)
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
