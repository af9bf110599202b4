package mpipc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// The manager server as a separate process that is SIGKILLed and
// restarted at the same address: lost connections, Reconnect, Connected.

func init() {
	// mgr-serve ADDR: serves a manager at ADDR (with mgrKey) until killed.
	roles["mgr-serve"] = func(args []string) error {
		srv, err := ServeManager(args[0], mgrKey)
		if err != nil {
			return err
		}
		defer srv.Close()
		time.Sleep(time.Minute)
		return nil
	}
}

// connectWhenUp connects to addr once a server listens there (the child
// serving it may still be starting).
func connectWhenUp(t *testing.T, addr string) *Manager {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m, err := ConnectManagerTimeout(addr, mgrKey, 5*time.Second)
		if err == nil {
			t.Cleanup(func() { m.Close() })
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no manager at %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantLost fails unless err is the library's lost-connection error for addr.
func wantLost(t *testing.T, err error, addr string) {
	t.Helper()
	wantCode(t, err, ErrEOF)
	var e *Error
	errors.As(err, &e)
	if !strings.Contains(e.Msg, "connection to the manager at "+addr+" lost") ||
		!strings.Contains(e.Msg, "restarted server starts empty") || !strings.Contains(e.Msg, "reconnect") {
		t.Fatalf("not the lost-connection message: %v", err)
	}
}

func TestManagerReconnectAfterServerRestart(t *testing.T) {
	addr := tempSock(t)
	srv := spawn(t, "mgr-serve", []string{addr})
	m := connectWhenUp(t, addr)
	d := m.Dict("d")
	must(t, d.Set("k", 1))
	if !m.Connected() {
		t.Fatal("Connected false on a working connection")
	}
	// A second client is blocked in a queue get when the server dies.
	blocked := connectWhenUp(t, addr)
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := blocked.Queue("q").Get(ctx)
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)

	srv.kill(t)

	select {
	case err := <-got:
		wantLost(t, err, addr)
	case <-time.After(10 * time.Second):
		t.Fatal("a get blocked in a killed server did not fail")
	}
	_, err := d.Get("k")
	wantLost(t, err, addr)
	if m.Connected() {
		t.Fatal("Connected true after a call found the connection lost")
	}
	// Later calls fail the same way at once.
	t0 := time.Now()
	for i := 0; i < 10; i++ {
		_, err = d.Len()
		wantLost(t, err, addr)
	}
	wantLost(t, m.Ping(), addr)
	_, err = m.CallMany([]Request{{Kind: "dict", Name: "d", Method: "len"}})
	wantLost(t, err, addr)
	if el := time.Since(t0); el > 2*time.Second {
		t.Fatalf("calls on a lost connection took %v", el)
	}

	// No server: the reconnect runs out of time and the Manager stays
	// disconnected.
	t0 = time.Now()
	err = m.ReconnectTimeout(200 * time.Millisecond)
	wantCode(t, err, ErrTimeout)
	if el := time.Since(t0); el < 190*time.Millisecond || el > 5*time.Second {
		t.Fatalf("ReconnectTimeout(200ms) took %v", el)
	}
	if e := err.(*Error); e.Op != "mp_mgr_reconnect" || !strings.Contains(e.Msg, addr) {
		t.Fatalf("timeout error without the library's message: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	t0 = time.Now()
	err = m.Reconnect(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Reconnect with an expiring context: %v", err)
	}
	if el := time.Since(t0); el < 140*time.Millisecond || el > 5*time.Second {
		t.Fatalf("Reconnect(150ms context) took %v", el)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Reconnect(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Reconnect with a cancelled context: %v", err)
	}
	wantCode(t, m.ReconnectTimeout(0), ErrTimeout)
	if m.Connected() {
		t.Fatal("Connected after a failed reconnect")
	}
	_, err = d.Len()
	wantLost(t, err, addr)

	// The server restarts at the same address (over the stale socket file
	// the killed one left): Reconnect gets through, and the server is empty.
	srv = spawn(t, "mgr-serve", []string{addr})
	must(t, m.Reconnect(ctxT(t)))
	if !m.Connected() {
		t.Fatal("Connected false after Reconnect")
	}
	_, err = d.Get("k")
	wantCode(t, err, ErrNotFound) // the restarted server starts empty
	must(t, d.Set("k", 2))
	if v, err := d.Get("k"); err != nil || v != int64(2) {
		t.Fatalf("after reconnect: %v %v", v, err)
	}
	objs, err := m.Objects()
	must(t, err)
	if len(objs) != 1 || objs[0].Name != "d" {
		t.Fatalf("objects of the restarted server: %v", objs)
	}
	// The other client reconnects too, with a timeout.
	must(t, blocked.ReconnectTimeout(10*time.Second))
	if v, err := blocked.Dict("d").Get("k"); err != nil || v != int64(2) {
		t.Fatalf("second client after reconnect: %v %v", v, err)
	}

	// Reconnect replaces a working connection as well.
	must(t, m.ReconnectTimeout(10*time.Second))
	if v, err := d.Get("k"); err != nil || v != int64(2) {
		t.Fatalf("after a reconnect to a live server: %v %v", v, err)
	}

	// After Close: ErrClosed, Connected false.
	must(t, m.Close())
	if err := m.Reconnect(ctxT(t)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Reconnect after Close: %v", err)
	}
	if err := m.ReconnectTimeout(time.Second); !errors.Is(err, ErrClosed) {
		t.Fatalf("ReconnectTimeout after Close: %v", err)
	}
	if m.Connected() {
		t.Fatal("Connected after Close")
	}
}

func TestManagerReconnectRacesRestart(t *testing.T) {
	addr := tempSock(t)
	srv := spawn(t, "mgr-serve", []string{addr})
	m := connectWhenUp(t, addr)
	must(t, m.Dict("d").Set("k", 1))
	srv.kill(t)
	wantLost(t, m.Ping(), addr)

	// The reconnect starts first; the server comes up 300 ms later.
	done := make(chan error, 1)
	t0 := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- m.Reconnect(ctx)
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Reconnect returned before the server restarted: %v", err)
	default:
	}
	spawn(t, "mgr-serve", []string{addr})
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(25 * time.Second):
		t.Fatal("Reconnect did not return")
	}
	if el := time.Since(t0); el < 300*time.Millisecond {
		t.Fatalf("Reconnect returned after %v, before the server was started", el)
	}
	if !m.Connected() {
		t.Fatal("Connected false after Reconnect")
	}
	_, err := m.Dict("d").Get("k")
	wantCode(t, err, ErrNotFound)
	n, err := m.Dict("d").Incr("k", 5)
	must(t, err)
	if n != 5 {
		t.Fatalf("incr on the restarted server: %d", n)
	}
}
