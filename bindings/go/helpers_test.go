package mpipc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Cross-process tests re-execute the test binary in a child role (the
// standard pattern): the child runs TestHelperProcess, which dispatches on
// MPIPC_GO_TEST_ROLE to a function of roles, with its arguments in
// MPIPC_GO_TEST_ARGS (separated by \x1f).

var roles = map[string]func(args []string) error{}

func TestHelperProcess(t *testing.T) {
	role := os.Getenv("MPIPC_GO_TEST_ROLE")
	if role == "" {
		t.Skip("child role of the cross-process tests; not a test by itself")
	}
	fn, ok := roles[role]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown role %q\n", role)
		os.Exit(2)
	}
	var args []string
	if a := os.Getenv("MPIPC_GO_TEST_ARGS"); a != "" {
		args = strings.Split(a, "\x1f")
	}
	if err := fn(args); err != nil {
		fmt.Fprintf(os.Stderr, "role %s: %v\n", role, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// child is a started child process in a role.
type child struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// spawn starts the test binary in role with args; extra files become
// descriptors 3, 4, ... in the child. The child is killed at the end of the
// test if it is still running.
func spawn(t *testing.T, role string, args []string, extra ...*os.File) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.timeout=60s")
	// Under -race a child would sleep 1 s at exit (the race runtime's
	// atexit_sleep_ms default): not needed, reports are still printed.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), "GORACE="+gorace,
		"MPIPC_GO_TEST_ROLE="+role, "MPIPC_GO_TEST_ARGS="+strings.Join(args, "\x1f"))
	c := &child{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = c.stderr
	cmd.Stdout = c.stderr
	cmd.ExtraFiles = extra
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", role, err)
	}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// wait waits for the child to exit successfully.
func (c *child) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err // keep it for Cleanup
		if err != nil {
			t.Fatalf("child %v: %v\n%s", c.cmd.Env[len(c.cmd.Env)-2], err, c.stderr.String())
		}
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		t.Fatalf("child %v timed out\n%s", c.cmd.Env[len(c.cmd.Env)-2], c.stderr.String())
	}
}

// kill SIGKILLs the child and waits for it.
func (c *child) kill(t *testing.T) {
	t.Helper()
	c.cmd.Process.Signal(syscall.SIGKILL)
	err := <-c.done
	c.done <- err
}

var nameSeq atomic.Int64

// uniqueName is a name unique to this run (pid and a counter), for any kind
// of object; the caller registers the unlink.
func uniqueName(t *testing.T, kind string) string {
	return fmt.Sprintf("gotest-%d-%d-%s", os.Getpid(), nameSeq.Add(1), kind)
}

// tempQueue opens a new queue unlinked at the end of the test.
func tempQueue(t *testing.T, opts QueueOptions) (*Queue, string) {
	t.Helper()
	name := uniqueName(t, "q")
	q, err := OpenQueue(name, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close(); UnlinkQueue(name) })
	return q, name
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantCode fails unless err is an *Error of code c (via errors.Is).
func wantCode(t *testing.T, err error, c Code) {
	t.Helper()
	if c == OK {
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		return
	}
	if !errors.Is(err, c) {
		t.Fatalf("got error %v, want %v", err, c)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%v is not an *Error", err)
	}
}

// hangGuard bounds a wait that a test only expects to end (a cancelled
// or timed-out call): it catches a wait that never ends, and says nothing
// about how soon one ends, which depends on the machine's load (the suite
// must pass beside busy loops and as a background job).
const hangGuard = 20 * time.Second

// ctxT is a context bounded for a test.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// roleCtx is the context of a child role (it lives as long as the child).
func roleCtx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	roleCancels = append(roleCancels, cancel)
	return ctx
}

var roleCancels []context.CancelFunc

// smallObj is the benchmark's small object as a struct.
type smallObj struct {
	ID   int64     `cbor:"id"`
	Name string    `cbor:"name"`
	Vals []float64 `cbor:"vals"`
}

func smallMap(i int) map[string]any {
	return map[string]any{"id": i, "name": fmt.Sprintf("item-%d", i), "vals": []any{1.5, 2.5, 3.5}}
}
