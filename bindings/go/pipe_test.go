package mpipc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func init() {
	// pipe-echo-fd: echoes values on the connection inherited as fd 3
	// until "end".
	roles["pipe-echo-fd"] = func(args []string) error {
		c, err := FromFile(os.NewFile(3, "conn"))
		if err != nil {
			return err
		}
		defer c.Close()
		for {
			v, err := c.RecvContext(roleCtx())
			if err != nil {
				return err
			}
			if err := c.Send(v); err != nil {
				return err
			}
			if v == "end" {
				return nil
			}
		}
	}
	// pipe-dial ADDR KEY: dials, sends ["hello", pid], expects "welcome".
	roles["pipe-dial"] = func(args []string) error {
		c, err := Dial(roleCtx(), args[0], []byte(args[1]))
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Send([]any{"hello", os.Getpid()}); err != nil {
			return err
		}
		v, err := c.RecvContext(roleCtx())
		if err != nil {
			return err
		}
		if v != "welcome" {
			return fmt.Errorf("got %v", v)
		}
		return nil
	}
	// pipe-dial-badkey ADDR: dials with a wrong key and expects ErrAuth.
	roles["pipe-dial-badkey"] = func(args []string) error {
		_, err := DialTimeout(args[0], []byte("wrong key"), 5*time.Second)
		if !errors.Is(err, ErrAuth) {
			return fmt.Errorf("got %v, want ErrAuth", err)
		}
		return nil
	}
}

func tempSock(t *testing.T) string {
	return "unix:" + filepath.Join(t.TempDir(), "s.sock")
}

func TestPipeDuplex(t *testing.T) {
	a, b, err := Pipe(true)
	must(t, err)
	defer a.Close()
	defer b.Close()
	if a.Fileno() < 0 || b.Fileno() < 0 {
		t.Fatal("no descriptor")
	}
	must(t, a.Send(map[string]any{"x": []any{1, 2.5}}))
	v, err := b.Recv()
	must(t, err)
	if m := v.(map[any]any); m["x"].([]any)[1] != 2.5 {
		t.Fatalf("got %#v", v)
	}
	// Both directions, raw bytes, typed decoding.
	must(t, b.SendBytes([]byte("raw")))
	got, err := a.RecvBytes(ctxT(t))
	must(t, err)
	if string(got) != "raw" {
		t.Fatalf("got %q", got)
	}
	must(t, b.Send(smallObj{ID: 7, Name: "seven"}))
	var s smallObj
	must(t, a.RecvInto(ctxT(t), &s))
	if s.ID != 7 || s.Name != "seven" {
		t.Fatalf("got %+v", s)
	}
	// Nothing there: Poll false, RecvTimeout ErrEmpty.
	ready, err := b.Poll(0)
	must(t, err)
	if ready {
		t.Fatal("ready with nothing sent")
	}
	ready, err = b.Poll(20 * time.Millisecond)
	must(t, err)
	if ready {
		t.Fatal("ready with nothing sent")
	}
	_, err = b.RecvTimeout(30 * time.Millisecond)
	wantCode(t, err, ErrEmpty)
	_, err = b.RecvBytesTimeout(0)
	wantCode(t, err, ErrEmpty)
	// SendMany / SendManyBytes arrive as separate messages, in order.
	must(t, a.SendMany([]any{1, "two", nil}))
	must(t, a.SendManyBytes([][]byte{[]byte("x"), {}, bytes.Repeat([]byte("y"), 200000)}))
	must(t, a.SendMany(nil))
	ready, err = b.Poll(time.Second)
	must(t, err)
	if !ready {
		t.Fatal("not ready")
	}
	for _, want := range []any{int64(1), "two", nil} {
		v, err := b.RecvTimeout(time.Second)
		must(t, err)
		if v != want {
			t.Fatalf("got %v want %v", v, want)
		}
	}
	for _, want := range [][]byte{[]byte("x"), {}, bytes.Repeat([]byte("y"), 200000)} {
		got, err := b.RecvBytesTimeout(time.Second)
		must(t, err)
		if !bytes.Equal(got, want) {
			t.Fatalf("got %d bytes", len(got))
		}
	}
	must(t, b.SetSpin(10*time.Microsecond))
	must(t, b.SetMaxFrame(16))
	must(t, a.SendBytes(make([]byte, 64)))
	_, err = b.RecvBytesTimeout(time.Second)
	wantCode(t, err, ErrTooBig)
	// The peer closes: EOF on receive, and on send.
	must(t, a.Close())
	c, d, err := Pipe(true)
	must(t, err)
	must(t, c.Send("last"))
	must(t, c.Close())
	v, err = d.Recv()
	must(t, err)
	if v != "last" {
		t.Fatalf("got %v", v)
	}
	_, err = d.Recv()
	wantCode(t, err, ErrEOF)
	ready, err = d.Poll(0)
	must(t, err)
	if !ready {
		t.Fatal("EOF not ready")
	}
	err = nil
	for i := 0; i < 100 && err == nil; i++ {
		err = d.SendBytes([]byte("into the void"))
	}
	wantCode(t, err, ErrEOF)
	d.Close()
}

func TestPipeSimplex(t *testing.T) {
	r, w, err := Pipe(false)
	must(t, err)
	defer r.Close()
	defer w.Close()
	must(t, w.Send("one way"))
	v, err := r.RecvTimeout(time.Second)
	must(t, err)
	if v != "one way" {
		t.Fatalf("got %v", v)
	}
	wantCode(t, r.Send("back"), ErrInvalid)
	// A blocked receive is cancelled (within a wait slice on an idle
	// machine; only "it ends" is asserted, as a loaded machine or a
	// background job may delay any thread).
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(60*time.Millisecond, cancel)
	start := time.Now()
	if _, err := r.RecvContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > hangGuard {
		t.Fatalf("cancelled RecvContext returned after %v", d)
	}
}

func TestPipeAcrossProcesses(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	must(t, err)
	mine, theirs := os.NewFile(uintptr(fds[0]), "mine"), os.NewFile(uintptr(fds[1]), "theirs")
	child := spawn(t, "pipe-echo-fd", nil, theirs)
	theirs.Close()
	c, err := FromFile(mine)
	must(t, err)
	defer c.Close()
	for i := 0; i < 200; i++ {
		must(t, c.Send(smallMap(i)))
		var s smallObj
		must(t, c.RecvInto(ctxT(t), &s))
		if s.ID != int64(i) {
			t.Fatalf("got %+v", s)
		}
	}
	must(t, c.Send("end"))
	v, err := c.RecvContext(ctxT(t))
	must(t, err)
	if v != "end" {
		t.Fatalf("got %v", v)
	}
	child.wait(t)
	_, err = c.RecvContext(ctxT(t))
	wantCode(t, err, ErrEOF) // the child exited: its end is closed
	// FromFile on something that is not a socket or pipe.
	f, err := os.CreateTemp(t.TempDir(), "x")
	must(t, err)
	_, err = FromFile(f)
	wantCode(t, err, ErrInvalid)
}

func TestListenerDialAuth(t *testing.T) {
	addr := tempSock(t)
	key := []byte("secret key")
	l, err := Listen(addr, key)
	must(t, err)
	defer l.Close()
	if l.Addr() != addr {
		t.Fatalf("addr %q", l.Addr())
	}
	good := spawn(t, "pipe-dial", []string{addr, string(key)})
	c, err := l.Accept(ctxT(t))
	must(t, err)
	v, err := c.RecvContext(ctxT(t))
	must(t, err)
	if hello := v.([]any); hello[0] != "hello" || hello[1] != int64(good.cmd.Process.Pid) {
		t.Fatalf("got %#v", v)
	}
	must(t, c.Send("welcome"))
	good.wait(t)
	c.Close()

	// With a key, Accept is one call bounded by the context's deadline.
	ctxD, cancelD := context.WithTimeout(context.Background(), 60*time.Millisecond)
	defer cancelD()
	if _, err := l.Accept(ctxD); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	_, err = l.AcceptTimeout(10 * time.Millisecond)
	wantCode(t, err, ErrTimeout)
	cancelD()
	if _, err := l.Accept(ctxD); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}

	// A wrong key: both sides see ErrAuth, and the listener stays usable.
	bad := spawn(t, "pipe-dial-badkey", []string{addr})
	_, err = l.AcceptTimeout(10 * time.Second)
	wantCode(t, err, ErrAuth)
	bad.wait(t)
	again := spawn(t, "pipe-dial", []string{addr, string(key)})
	c2, err := l.AcceptTimeout(10 * time.Second)
	must(t, err)
	_, err = c2.RecvContext(ctxT(t))
	must(t, err)
	must(t, c2.Send("welcome"))
	again.wait(t)
	c2.Close()
}

func TestListenerErrors(t *testing.T) {
	addr := tempSock(t)
	l, err := Listen(addr, nil)
	must(t, err)
	_, err = Listen(addr, nil)
	wantCode(t, err, ErrExists)
	start := time.Now()
	_, err = l.AcceptTimeout(80 * time.Millisecond)
	wantCode(t, err, ErrTimeout)
	if d := time.Since(start); d < 70*time.Millisecond {
		t.Fatalf("AcceptTimeout returned after %v", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
	defer cancel()
	if _, err := l.Accept(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	// Without a key, a plain dial works (no handshake).
	go func() {
		c, err := DialTimeout(addr, nil, time.Second)
		if err == nil {
			c.Send("hi")
			c.Close()
		}
	}()
	c, err := l.AcceptTimeout(5 * time.Second)
	must(t, err)
	v, err := c.RecvTimeout(5 * time.Second)
	must(t, err)
	if v != "hi" {
		t.Fatalf("got %v", v)
	}
	c.Close()
	must(t, l.Close())
	must(t, l.Close())
	_, err = l.AcceptTimeout(0)
	if !errors.Is(err, ErrClosed) || l.Addr() != "" {
		t.Fatalf("after Close: %v %q", err, l.Addr())
	}
	_, err = DialTimeout(addr, nil, time.Second)
	wantCode(t, err, ErrNotFound)
	// TCP: an authkey is required on both sides unless opted out.
	_, err = Listen("tcp:127.0.0.1:0", nil)
	wantCode(t, err, ErrInvalid)
	_, err = DialTimeout("tcp:127.0.0.1:1", nil, time.Second)
	wantCode(t, err, ErrInvalid)
	tl, err := ListenWith("tcp:127.0.0.1:0", nil, ListenOptions{AllowTCPWithoutAuthkey: true})
	must(t, err)
	defer tl.Close()
	kl, err := Listen("tcp:127.0.0.1:0", []byte("k"))
	must(t, err)
	defer kl.Close()
	if a := kl.Addr(); len(a) < len("tcp:127.0.0.1:1") || a[:14] != "tcp:127.0.0.1:" || a == "tcp:127.0.0.1:0" {
		t.Fatalf("addr %q", a)
	}
	go func() {
		c, err := DialTimeout(kl.Addr(), []byte("k"), 5*time.Second)
		if err == nil {
			c.Send(1)
			c.Close()
		}
	}()
	tc, err := kl.AcceptTimeout(5 * time.Second)
	must(t, err)
	v, err = tc.RecvTimeout(5 * time.Second)
	must(t, err)
	if v != int64(1) {
		t.Fatalf("got %v", v)
	}
	tc.Close()
	_, err = Listen("nonsense", nil)
	wantCode(t, err, ErrInvalid)
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := Dial(ctx2, addr, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestWait(t *testing.T) {
	a1, b1, err := Pipe(true)
	must(t, err)
	a2, b2, err := Pipe(true)
	must(t, err)
	defer func() { a1.Close(); b1.Close(); a2.Close(); b2.Close() }()
	ready, err := WaitTimeout(30*time.Millisecond, b1, b2)
	must(t, err)
	if len(ready) != 0 {
		t.Fatalf("ready %v", ready)
	}
	must(t, a2.Send("x"))
	ready, err = Wait(ctxT(t), b1, b2)
	must(t, err)
	if len(ready) != 1 || ready[0] != b2 {
		t.Fatalf("ready %v", ready)
	}
	must(t, a1.Send("y"))
	ready, err = WaitTimeout(time.Second, b1, b2)
	must(t, err)
	if len(ready) != 2 {
		t.Fatalf("ready %v", ready)
	}
	// Cancelled while nothing is ready.
	b1.Recv()
	b2.Recv()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	if _, err := Wait(ctx, b1, b2); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > hangGuard {
		t.Fatalf("cancelled Wait returned after %v", d)
	}
	_, err = Wait(ctxT(t))
	wantCode(t, err, ErrInvalid)
	b2.Close()
	_, err = WaitTimeout(0, b1, b2)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v", err)
	}
}

func TestConnClose(t *testing.T) {
	a, b, err := Pipe(true)
	must(t, err)
	defer b.Close()
	// A Recv blocked in another goroutine returns ErrClosed.
	done := make(chan error, 1)
	go func() {
		_, err := a.Recv()
		done <- err
	}()
	time.Sleep(30 * time.Millisecond)
	must(t, a.Close())
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("blocked Recv: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("blocked Recv did not notice Close")
	}
	must(t, a.Close())
	if a.Fileno() != -1 {
		t.Fatal("fileno after Close")
	}
	for name, err := range map[string]error{
		"Send":        a.Send(1),
		"SendBytes":   a.SendBytes(nil),
		"SendMany":    a.SendMany([]any{1}),
		"SetSpin":     a.SetSpin(0),
		"SetMaxFrame": a.SetMaxFrame(1),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
	if _, err := a.Recv(); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after Close: %v", err)
	}
	if _, err := a.Poll(0); !errors.Is(err, ErrClosed) {
		t.Errorf("Poll after Close: %v", err)
	}
	// A Send blocked on a full socket is woken by Close.
	c, d, err := Pipe(true)
	must(t, err)
	defer d.Close()
	sent := make(chan error, 1)
	go func() {
		big := make([]byte, 1<<20)
		for {
			if err := c.SendBytes(big); err != nil {
				sent <- err
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	must(t, c.Close())
	select {
	case err := <-sent:
		if err == nil {
			t.Fatal("no error")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("blocked Send not woken by Close")
	}
}

// A stock Python Client (multiprocessing.connection) talks to a Go
// Listener: same frames, same HMAC handshake.
func TestListenerPythonClient(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	path := filepath.Join(t.TempDir(), "py.sock")
	l, err := Listen("unix:"+path, []byte("py key"))
	must(t, err)
	defer l.Close()
	script := `import sys
from multiprocessing.connection import Client
c = Client(sys.argv[1], authkey=b"py key")
c.send_bytes(b"hi from python")
sys.stdout.write(c.recv_bytes().decode())
c.close()`
	cmd := exec.Command(py, "-c", script, path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	c, err := l.AcceptTimeout(10 * time.Second)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("%v\n%s", err, out.String())
	}
	defer c.Close()
	msg, err := c.RecvBytes(ctxT(t))
	must(t, err)
	must(t, c.SendBytes([]byte("hi from go")))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("python: %v\n%s", err, out.String())
	}
	if string(msg) != "hi from python" || out.String() != "hi from go" {
		t.Fatalf("got %q / %q", msg, out.String())
	}
}
