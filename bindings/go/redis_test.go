package mpipc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The same Queue and Manager at a Redis address (issue 22, docs/REDIS.md):
// the binding passes a `redis://...` name to mpq_open and a `redis://...`
// address to mp_mgr_connect as it passes local names, so these tests run
// the binding's ordinary API against a real server.
//
// One throwaway server (scripts/redis-server.sh: its own directory, a free
// loopback port, a unix socket) is started by the first test that needs
// it and stopped by TestMain after the run. Without redis-server on PATH
// the tests are skipped with a loud message, except under CI=true, where
// that is a failure: CI must run them (scripts/install-deps.sh installs
// the server). A test binary killed by go test's own timeout leaves the
// server running; `scripts/redis-server.sh stop DIR` (DIR is printed in
// the skip/fail messages and in the server's log path) ends it.

func TestMain(m *testing.M) {
	code := m.Run()
	stopRedis()
	os.Exit(code)
}

// redisSrv is the run's server, started at most once.
var redisSrv struct {
	once   sync.Once
	dir    string
	port   string
	socket string
	skip   string // not installed (outside CI): why the tests skip
	err    error  // any other failure to start: the tests fail
}

// redisServer returns the run's server (port and socket path), starting
// it on first use; it skips or fails the test when there is none.
func redisServer(t *testing.T) (port, socket string) {
	t.Helper()
	redisSrv.once.Do(startRedis)
	if redisSrv.err != nil {
		t.Fatalf("redis tests: %v", redisSrv.err)
	}
	if redisSrv.skip != "" {
		t.Skip(redisSrv.skip)
	}
	return redisSrv.port, redisSrv.socket
}

func startRedis() {
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "redis-server.sh"))
	if err != nil {
		redisSrv.err = err
		return
	}
	// A short directory: the socket's path must fit in sun_path (107 bytes).
	dir, err := os.MkdirTemp("", "mpgo-redis-")
	if err != nil {
		redisSrv.err = err
		return
	}
	redisSrv.dir = dir
	out, err := exec.Command("bash", script, "start", dir).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 { // the script's "not installed"
		msg := fmt.Sprintf("redis-server is not installed (%s): the Redis tests did NOT run; "+
			"scripts/install-deps.sh installs it", strings.TrimSpace(string(out)))
		if os.Getenv("CI") == "true" {
			redisSrv.err = errors.New(msg + " (CI=true: a missing server is a failure)")
		} else {
			fmt.Fprintf(os.Stderr, "\n*** %s ***\n\n", msg)
			redisSrv.skip = msg
		}
		os.RemoveAll(dir)
		return
	}
	if err != nil {
		redisSrv.err = fmt.Errorf("%s start %s: %v\n%s", script, dir, err, out)
		return
	}
	m := regexp.MustCompile(`port=(\d+) socket=(\S+) pid=\d+`).FindSubmatch(out)
	if m == nil {
		redisSrv.err = fmt.Errorf("%s start %s printed %q", script, dir, out)
		return
	}
	redisSrv.port, redisSrv.socket = string(m[1]), string(m[2])
}

// stopRedis stops the run's server if one was started (TestMain).
func stopRedis() {
	if redisSrv.port == "" {
		if redisSrv.dir != "" && redisSrv.err != nil {
			fmt.Fprintf(os.Stderr, "redis tests: server directory kept for its log: %s\n", redisSrv.dir)
		}
		return
	}
	script := filepath.Join("..", "..", "scripts", "redis-server.sh")
	if out, err := exec.Command("bash", script, "stop", redisSrv.dir).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "redis tests: stopping the server of %s: %v\n%s", redisSrv.dir, err, out)
		return
	}
	os.RemoveAll(redisSrv.dir)
}

// redisQueueAddr is the TCP address of a new queue name on the run's
// server, with query (e.g. "?ack=at-least-once") appended.
func redisQueueAddr(t *testing.T, query string) string {
	t.Helper()
	port, _ := redisServer(t)
	return "redis://127.0.0.1:" + port + "/" + uniqueName(t, "q") + query
}

// tempRedisQueue opens a new queue at addr, closed and deleted from the
// server at the end of the test.
func tempRedisQueue(t *testing.T, addr string, opts QueueOptions) *Queue {
	t.Helper()
	q, err := OpenQueue(addr, opts)
	must(t, err)
	t.Cleanup(func() {
		q.Close()
		UnlinkQueue(addr)
	})
	return q
}

// redisBlockedClients is the server's count of clients blocked in a
// blocking command (INFO clients), read over a plain connection: the tests
// wait for this state (a getter really blocked on the server) rather than
// for a duration.
func redisBlockedClients(t *testing.T) int {
	t.Helper()
	port, _ := redisServer(t)
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	must(t, err)
	defer c.Close()
	_, err = c.Write([]byte("INFO clients\r\n"))
	must(t, err)
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n') // "$<length>\r\n"
	must(t, err)
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "$")))
	if err != nil {
		t.Fatalf("INFO clients: unexpected reply %q", head)
	}
	body := make([]byte, n)
	_, err = io.ReadFull(r, body)
	must(t, err)
	m := regexp.MustCompile(`blocked_clients:(\d+)`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("INFO clients without blocked_clients: %q", body)
	}
	b, _ := strconv.Atoi(string(m[1]))
	return b
}

// waitNoneBlocked waits until no client is blocked on the server (a wait
// left over from an earlier test ends within its slice), so that a later
// "blocked" state is the one the test caused.
func waitNoneBlocked(t *testing.T) {
	t.Helper()
	waitUntil(t, "no client blocked on the server", func() bool { return redisBlockedClients(t) == 0 })
}

// waitUntil polls cond until it holds; hangGuard catches a state that
// never comes (it says nothing about how soon it comes).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("waited %v for %s", hangGuard, what)
		}
		time.Sleep(2 * time.Millisecond) // a polling interval, not a synchronisation
	}
}

// sameCBOR fails unless got and want encode to the same CBOR: one
// comparison for values holding *big.Int, []byte and maps.
func sameCBOR(t *testing.T, got, want any) {
	t.Helper()
	gb, err := Marshal(got)
	must(t, err)
	wb, err := Marshal(want)
	must(t, err)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("got %#v (%x), want %#v (%x)", got, gb, want, wb)
	}
}

func init() {
	// redis-alo-take-and-hang ADDR: takes one message with an
	// at-least-once handle, puts "took:<msg>" on ADDR-ready, then waits to
	// be killed (never calling TaskDone).
	roles["redis-alo-take-and-hang"] = func(args []string) error {
		base, _, _ := strings.Cut(args[0], "?")
		q, err := OpenQueue(args[0], QueueOptions{AttachOnly: true})
		if err != nil {
			return err
		}
		v, err := q.Get(roleCtx())
		if err != nil {
			return err
		}
		ready, err := OpenQueue(base+"-ready", QueueOptions{AttachOnly: true})
		if err != nil {
			return err
		}
		if err := ready.Put(fmt.Sprint("took:", v)); err != nil {
			return err
		}
		time.Sleep(time.Minute)
		return nil
	}
	// redis-mgr-incr ADDR N: N increments of dict "counters"["hits"].
	roles["redis-mgr-incr"] = func(args []string) error {
		m, err := ConnectManager(args[0], nil)
		if err != nil {
			return err
		}
		defer m.Close()
		n, _ := strconv.Atoi(args[1])
		d := m.Dict("counters")
		for i := 0; i < n; i++ {
			if _, err := d.Incr("hits", 1); err != nil {
				return err
			}
		}
		return nil
	}
	// redis-mgr-hold-lock ADDR: acquires lock "held", sets event
	// "holding", then waits to be killed.
	roles["redis-mgr-hold-lock"] = func(args []string) error {
		m, err := ConnectManager(args[0], nil)
		if err != nil {
			return err
		}
		if err := m.Lock("held").Acquire(roleCtx()); err != nil {
			return err
		}
		if err := m.Event("holding").Set(); err != nil {
			return err
		}
		time.Sleep(time.Minute)
		return nil
	}
	// redis-mgr-set-event ADDR: sets event "go" once event "waiting" is
	// set (the other process waits on "go").
	roles["redis-mgr-set-event"] = func(args []string) error {
		m, err := ConnectManager(args[0], nil)
		if err != nil {
			return err
		}
		defer m.Close()
		if err := m.Event("waiting").Wait(roleCtx()); err != nil {
			return err
		}
		return m.Event("go").Set()
	}
}

// ---- queue ----

func TestRedisQueueRoundTrip(t *testing.T) {
	port, socket := redisServer(t)
	for _, tc := range []struct{ name, addr string }{
		{"tcp", "redis://127.0.0.1:" + port + "/" + uniqueName(t, "q")},
		{"unix", "redis+unix://" + socket + "/" + uniqueName(t, "q")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tempRedisQueue(t, tc.addr, QueueOptions{})
			if q.Name() != tc.addr {
				t.Fatalf("name %q", q.Name())
			}
			big70 := new(big.Int).Lsh(big.NewInt(1), 70)
			negBig := new(big.Int).Neg(big70)
			values := []any{
				map[string]any{"id": int64(7), "name": "item-7", "vals": []any{1.5, 2.5}},
				map[any]any{int64(1): "one", "two": []byte{2}, true: nil},
				[]any{int64(1), "x", []any{}, map[string]any{}},
				[]byte{0, 1, 2, 255},
				[]byte{},
				big70, negBig,
				uint64(math.MaxUint64), int64(math.MinInt64), int64(math.MaxInt64),
				"text ü", 0.1, math.Inf(-1), true, nil,
			}
			for _, v := range values {
				must(t, q.Put(v))
			}
			n, err := q.Qsize()
			must(t, err)
			if n != len(values) {
				t.Fatalf("qsize %d, want %d", n, len(values))
			}
			for _, want := range values {
				got, err := q.GetTimeout(0)
				must(t, err)
				sameCBOR(t, got, want)
			}
			// The decoded types are the binding's usual ones.
			must(t, q.Put(big70))
			must(t, q.Put([]byte("raw")))
			must(t, q.Put(map[string]any{"k": int64(1)}))
			v, err := q.Get(ctxT(t))
			must(t, err)
			if b, ok := v.(*big.Int); !ok || b.Cmp(big70) != 0 {
				t.Fatalf("got %#v, want *big.Int 2^70", v)
			}
			v, err = q.Get(ctxT(t))
			must(t, err)
			if b, ok := v.([]byte); !ok || string(b) != "raw" {
				t.Fatalf("got %#v, want []byte", v)
			}
			v, err = q.Get(ctxT(t))
			must(t, err)
			if !reflect.DeepEqual(v, map[any]any{"k": int64(1)}) {
				t.Fatalf("got %#v", v)
			}
			// Typed decoding and raw bytes.
			must(t, q.Put(smallObj{ID: 3, Name: "three", Vals: []float64{0.5}}))
			var s smallObj
			must(t, q.GetIntoTimeout(&s, time.Second))
			if s.ID != 3 || s.Name != "three" || !reflect.DeepEqual(s.Vals, []float64{0.5}) {
				t.Fatalf("got %+v", s)
			}
			for _, m := range [][]byte{{}, []byte("hello"), bytes.Repeat([]byte{7}, 100000)} {
				must(t, q.PutBytes(m))
				got, err := q.GetBytesTimeout(time.Second)
				must(t, err)
				if !bytes.Equal(got, m) {
					t.Fatalf("got %d bytes, want %d", len(got), len(m))
				}
			}
			empty, err := q.Empty()
			must(t, err)
			full, err := q.Full()
			must(t, err)
			if !empty || full {
				t.Fatalf("empty %v full %v", empty, full)
			}
			o, err := q.Options()
			must(t, err)
			if o.CapacityBytes != 0 || o.MaxSize != 0 {
				t.Fatalf("options %+v", o)
			}
		})
	}
}

func TestRedisQueueAcrossProcesses(t *testing.T) {
	addr := redisQueueAddr(t, "")
	q := tempRedisQueue(t, addr, QueueOptions{MaxSize: 64})
	const n = 500
	c := spawn(t, "queue-producer", []string{addr, strconv.Itoa(n)})
	for i := 0; i < n; i++ {
		v, err := q.Get(ctxT(t))
		must(t, err)
		sameCBOR(t, v, smallMap(i))
	}
	v, err := q.Get(ctxT(t))
	must(t, err)
	if v != "end" {
		t.Fatalf("got %v", v)
	}
	c.wait(t)
}

func TestRedisQueueFullEmptyTimeouts(t *testing.T) {
	addr := redisQueueAddr(t, "")
	q := tempRedisQueue(t, addr, QueueOptions{MaxSize: 2})
	must(t, q.Put(1))
	must(t, q.Put(2))
	full, err := q.Full()
	must(t, err)
	if !full {
		t.Fatal("not full at maxsize")
	}
	wantCode(t, q.PutTimeout(3, 0), ErrFull)
	wantCode(t, q.PutTimeout(3, 30*time.Millisecond), ErrFull)
	wantCode(t, q.PutBytesTimeout([]byte{1}, 30*time.Millisecond), ErrFull)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
	defer cancel()
	if err := q.PutContext(ctx, 3); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	// A putter blocked on the full queue (another handle, so another
	// connection) is let in by a get.
	other, err := OpenQueue(addr, QueueOptions{AttachOnly: true})
	must(t, err)
	defer other.Close()
	put := make(chan error, 1)
	go func() { put <- other.PutTimeout(3, hangGuard) }()
	v, err := q.Get(ctxT(t))
	must(t, err)
	if v != int64(1) {
		t.Fatalf("got %v", v)
	}
	must(t, <-put)
	for _, want := range []int64{2, 3} {
		v, err := q.GetTimeout(time.Second)
		must(t, err)
		if v != want {
			t.Fatalf("got %v want %d", v, want)
		}
	}
	// Empty: at once and after a timeout; a cancelled context.
	_, err = q.GetTimeout(0)
	wantCode(t, err, ErrEmpty)
	_, err = q.GetTimeout(30 * time.Millisecond)
	wantCode(t, err, ErrEmpty)
	_, err = q.GetBytesTimeout(30 * time.Millisecond)
	wantCode(t, err, ErrEmpty)
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := q.Get(ctx2); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	// Close wakes a Get blocked in another goroutine.
	waitNoneBlocked(t)
	got := make(chan error, 1)
	go func() { _, err := other.Get(context.Background()); got <- err }()
	waitUntil(t, "the getter to block on the server", func() bool { return redisBlockedClients(t) >= 1 })
	other.Close()
	select {
	case err := <-got:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("got %v, want ErrClosed", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Close did not end a blocked Get")
	}
}

func TestRedisQueueShutdownWakesGetterInAnotherProcess(t *testing.T) {
	addr := redisQueueAddr(t, "")
	q := tempRedisQueue(t, addr, QueueOptions{})
	ready := tempRedisQueue(t, addr+"-ready", QueueOptions{})
	waitNoneBlocked(t)
	c := spawn(t, "queue-blocked-get", []string{addr})
	v, err := ready.Get(ctxT(t))
	must(t, err)
	if v != "waiting" {
		t.Fatalf("got %v", v)
	}
	waitUntil(t, "the child's Get to block on the server", func() bool { return redisBlockedClients(t) >= 1 })
	must(t, q.Shutdown(false))
	c.wait(t) // the child checks it got ErrShutdown
	wantCode(t, q.Put(1), ErrShutdown)
	_, err = q.GetTimeout(0)
	wantCode(t, err, ErrShutdown)
	must(t, q.Shutdown(true)) // idempotent
}

// A signal that reaches a thread while it waits for the server must
// neither fail the blocked call nor lose a message. Go's runtime sends
// signals to its threads (SIGURG for preemption; SIGCHLD of exiting
// children lands on any thread), so this happens all the time in a Go
// program. Found by this suite: the read of a socket with a receive
// timeout fails with EINTR even under SA_RESTART (signal(7)), which the
// library reported as a lost connection (MP_E_EOF), dropping the
// connection and with it whatever the server had popped for it. Here the
// getter's thread gets a SIGURG (a no-op for Go's handler) each time it is
// blocked on the server, before the next message is put.
func TestRedisQueueBlockingGetSurvivesSignals(t *testing.T) {
	addr := redisQueueAddr(t, "")
	q := tempRedisQueue(t, addr, QueueOptions{})
	producer, err := OpenQueue(addr, QueueOptions{AttachOnly: true})
	must(t, err)
	defer producer.Close()
	const n = 30
	waitNoneBlocked(t)
	tid := make(chan int, 1)
	got := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // one thread, whose id the test signals
		defer runtime.UnlockOSThread()
		tid <- syscall.Gettid()
		for i := 0; i < n; i++ {
			v, err := q.GetTimeout(hangGuard)
			if err == nil && v != int64(i) {
				err = fmt.Errorf("got %v, want %d", v, i)
			}
			if err != nil {
				got <- fmt.Errorf("get %d: %w", i, err)
				return
			}
		}
		got <- nil
	}()
	getter := <-tid
	var failed error
	for i := 0; i < n && failed == nil; i++ {
		waitUntil(t, "the getter to block on the server", func() bool {
			select {
			case failed = <-got:
				return true
			default:
			}
			return redisBlockedClients(t) >= 1
		})
		if failed != nil {
			break
		}
		must(t, syscall.Tgkill(os.Getpid(), getter, syscall.SIGURG))
		must(t, producer.Put(i))
	}
	if failed == nil {
		failed = <-got
	}
	must(t, failed)
}

func TestRedisQueueShutdownDrainsAndImmediate(t *testing.T) {
	q := tempRedisQueue(t, redisQueueAddr(t, ""), QueueOptions{})
	must(t, q.Put(1))
	must(t, q.Put(2))
	must(t, q.Shutdown(false))
	wantCode(t, q.PutTimeout(3, 0), ErrShutdown)
	v, err := q.GetTimeout(0)
	must(t, err)
	if v != int64(1) {
		t.Fatalf("got %v", v)
	}
	_, err = q.Get(ctxT(t))
	must(t, err)
	_, err = q.Get(ctxT(t))
	wantCode(t, err, ErrShutdown)

	q2 := tempRedisQueue(t, redisQueueAddr(t, ""), QueueOptions{})
	must(t, q2.Put(1))
	must(t, q2.Shutdown(true))
	_, err = q2.GetTimeout(0)
	wantCode(t, err, ErrShutdown)
	must(t, q2.Join(ctxT(t))) // discarded counts as done
}

func TestRedisQueueTaskDoneJoinAcrossProcesses(t *testing.T) {
	inAddr, outAddr := redisQueueAddr(t, ""), redisQueueAddr(t, "")
	in := tempRedisQueue(t, inAddr, QueueOptions{})
	out := tempRedisQueue(t, outAddr, QueueOptions{})
	wantCode(t, in.JoinTimeout(0), OK) // nothing put: joined
	for i := 0; i < 50; i++ {
		must(t, in.Put(i))
	}
	wantCode(t, in.JoinTimeout(0), ErrTimeout)
	wantCode(t, in.JoinTimeout(20*time.Millisecond), ErrTimeout)
	must(t, in.Put("end"))
	c := spawn(t, "queue-echo", []string{inAddr, outAddr})
	must(t, in.Join(ctxT(t))) // woken by the child's last TaskDone
	c.wait(t)
	for i := 0; i < 50; i++ {
		v, err := out.Get(ctxT(t))
		must(t, err)
		if v != int64(i) {
			t.Fatalf("got %v want %d", v, i)
		}
	}
	// task_done more often than messages were put.
	wantCode(t, in.TaskDone(), ErrInvalid)
}

func TestRedisQueueBatches(t *testing.T) {
	addr := redisQueueAddr(t, "")
	q := tempRedisQueue(t, addr, QueueOptions{MaxSize: 500})
	// Across processes: PutManyOf in a child, GetManyOf here.
	const n = 3000
	c := spawn(t, "queue-batch-producer", []string{addr, strconv.Itoa(n)})
	var got []smallObj
	for len(got) < n {
		var err error
		got, err = GetManyOf(ctxT(t), q, got, 100)
		must(t, err)
	}
	c.wait(t)
	for i, s := range got {
		if s.ID != int64(i) || s.Name != "item-"+strconv.Itoa(i) {
			t.Fatalf("message %d is %+v", i, s)
		}
	}
	// Values and raw bytes.
	put, err := q.PutMany(ctxT(t), []any{1, "two", []byte{3}, nil})
	must(t, err)
	if put != 4 {
		t.Fatalf("put %d", put)
	}
	vals, err := q.GetMany(ctxT(t), 10)
	must(t, err)
	sameCBOR(t, vals, []any{1, "two", []byte{3}, nil})
	put, err = q.PutManyBytes(ctxT(t), [][]byte{[]byte("a"), {}, []byte("ccc")})
	must(t, err)
	if put != 3 {
		t.Fatalf("put %d", put)
	}
	raw, err := q.GetManyBytes(ctxT(t), 2)
	must(t, err)
	if len(raw) != 2 || string(raw[0]) != "a" || len(raw[1]) != 0 {
		t.Fatalf("got %q", raw)
	}
	var seen []string
	k, err := q.GetManyFunc(ctxT(t), 5, func(msg []byte) error { seen = append(seen, string(msg)); return nil })
	must(t, err)
	if k != 1 || len(seen) != 1 || seen[0] != "ccc" {
		t.Fatalf("got %d %q", k, seen)
	}
	_, err = q.GetMany(ctxT(t), 0)
	wantCode(t, err, ErrInvalid)
	// maxsize cuts a batch: what fits goes in, then the put waits for
	// room until its context ends.
	items := make([]any, 502)
	for i := range items {
		items[i] = i
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	put, err = q.PutMany(ctx, items)
	if !errors.Is(err, context.DeadlineExceeded) || put != 500 {
		t.Fatalf("put %d, %v", put, err)
	}
	n2, err := q.Qsize()
	must(t, err)
	if n2 != 500 {
		t.Fatalf("qsize %d", n2)
	}
}

func TestRedisQueueAtLeastOnce(t *testing.T) {
	// The lease is short so that the killed consumer's message comes back
	// soon; the test waits for it to come back, not for the lease.
	const query = "?ack=at-least-once&lease_ms=300"
	addr := redisQueueAddr(t, query)
	base := strings.TrimSuffix(addr, query)
	q := tempRedisQueue(t, addr, QueueOptions{})
	t.Cleanup(func() { UnlinkQueue(base) })
	ready := tempRedisQueue(t, base+"-ready", QueueOptions{})
	must(t, q.Put("job1"))
	must(t, q.Put("job2"))

	// A consumer takes job1 and is SIGKILLed before TaskDone.
	c := spawn(t, "redis-alo-take-and-hang", []string{addr})
	v, err := ready.Get(ctxT(t))
	must(t, err)
	if v != "took:job1" {
		t.Fatalf("got %v", v)
	}
	c.kill(t)
	// Both jobs reach this consumer: job2 at once, job1 once the dead
	// consumer's lease has ended and a get has given its message back.
	var got []string
	for len(got) < 2 {
		v, err := q.Get(ctxT(t))
		must(t, err)
		got = append(got, v.(string))
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, []string{"job1", "job2"}) {
		t.Fatalf("got %v", got)
	}
	must(t, q.TaskDone())
	must(t, q.TaskDone())
	must(t, q.JoinTimeout(0))
	wantCode(t, q.TaskDone(), ErrInvalid)

	// A consumer that closes its handle gives back at once what it took
	// and did not mark done.
	must(t, q.Put("job3"))
	other, err := OpenQueue(addr, QueueOptions{AttachOnly: true})
	must(t, err)
	v, err = other.Get(ctxT(t))
	must(t, err)
	if v != "job3" {
		t.Fatalf("got %v", v)
	}
	n, err := q.Qsize()
	must(t, err)
	if n != 0 {
		t.Fatalf("qsize %d while job3 is taken", n)
	}
	other.Close()
	v, err = q.Get(ctxT(t))
	must(t, err)
	if v != "job3" {
		t.Fatalf("got %v", v)
	}
	must(t, q.TaskDone())
	must(t, q.JoinTimeout(0))
}

func TestRedisQueueOpenErrors(t *testing.T) {
	port, socket := redisServer(t)
	addr := redisQueueAddr(t, "")
	// Options that do not apply at a Redis address: MP_E_UNSUPPORTED.
	_, err := OpenQueue(addr, QueueOptions{CapacityBytes: 1 << 20})
	wantCode(t, err, ErrUnsupported)
	_, err = OpenQueue(addr, QueueOptions{Mode: 0o644})
	wantCode(t, err, ErrUnsupported)
	// TLS is not shipped (docs/REDIS.md, "TLS").
	_, err = OpenQueue("rediss://127.0.0.1:"+port+"/"+uniqueName(t, "q"), QueueOptions{})
	wantCode(t, err, ErrUnsupported)
	// Bad addresses: MP_E_INVAL naming the part.
	for _, bad := range []string{
		"redis://127.0.0.1:notaport/q",
		"redis://127.0.0.1:" + port + "/bad name",
		"redis://127.0.0.1:" + port + "/q?ack=sometimes",
		"redis://127.0.0.1:" + port,
	} {
		_, err = OpenQueue(bad, QueueOptions{})
		wantCode(t, err, ErrInvalid)
	}
	// Create-only, attach-only, unlink.
	_, err = OpenQueue(addr, QueueOptions{AttachOnly: true})
	wantCode(t, err, ErrNotFound)
	q := tempRedisQueue(t, addr, QueueOptions{CreateOnly: true, MaxSize: 3})
	_, err = OpenQueue(addr, QueueOptions{CreateOnly: true})
	wantCode(t, err, ErrExists)
	// The unix-socket form reaches the same queue.
	u, err := OpenQueue("redis+unix://"+socket+"/"+strings.TrimPrefix(addr, "redis://127.0.0.1:"+port+"/"),
		QueueOptions{AttachOnly: true})
	must(t, err)
	defer u.Close()
	must(t, q.Put("via tcp"))
	v, err := u.GetTimeout(time.Second)
	must(t, err)
	if v != "via tcp" {
		t.Fatalf("got %v", v)
	}
	o, err := u.Options()
	must(t, err)
	if o.MaxSize != 3 {
		t.Fatalf("options %+v", o)
	}
	must(t, UnlinkQueue(addr))
	wantCode(t, UnlinkQueue(addr), ErrNotFound)
	_, err = OpenQueue(addr, QueueOptions{AttachOnly: true})
	wantCode(t, err, ErrNotFound)
	// A password the server does not have.
	_, err = OpenQueue("redis://:wrong@127.0.0.1:"+port+"/q", QueueOptions{})
	wantCode(t, err, ErrAuth)
	// Nothing listening: a clear error, not a hang.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	free := l.Addr().String()
	l.Close()
	_, err = OpenQueue("redis://"+free+"/q", QueueOptions{})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("open at %s with no server: %v", free, err)
	}
}

// ---- manager ----

// redisManager connects to the run's server in a namespace of its own
// (so tests share nothing), returning the manager and its address.
func redisManager(t *testing.T) (*Manager, string) {
	t.Helper()
	port, _ := redisServer(t)
	addr := "redis://127.0.0.1:" + port + "?ns=" + uniqueName(t, "ns")
	m, err := ConnectManager(addr, nil)
	must(t, err)
	t.Cleanup(func() { m.Close() })
	return m, addr
}

func TestRedisManagerDict(t *testing.T) {
	m, _ := redisManager(t)
	must(t, m.Ping())
	d := m.Dict("d")
	must(t, d.Set("a", 1))
	must(t, d.Set(2, []any{"two", 2.5}))
	must(t, d.Set("bytes", []byte{0, 1}))
	must(t, d.Set("big", new(big.Int).Lsh(big.NewInt(1), 70)))
	v, err := d.Get("a")
	must(t, err)
	if v != int64(1) {
		t.Fatalf("got %v", v)
	}
	v, err = d.Get(2)
	must(t, err)
	sameCBOR(t, v, []any{"two", 2.5})
	v, err = d.Get("big")
	must(t, err)
	if b, ok := v.(*big.Int); !ok || b.Cmp(new(big.Int).Lsh(big.NewInt(1), 70)) != 0 {
		t.Fatalf("got %#v", v)
	}
	n, err := d.Len()
	must(t, err)
	if n != 4 {
		t.Fatalf("len %d", n)
	}
	// KeyError -> ErrNotFound with the library's message.
	_, err = d.Get("missing")
	wantCode(t, err, ErrNotFound)
	if e := err.(*Error); e.Msg == "" {
		t.Fatal("no message")
	}
	wantCode(t, d.Delete("missing"), ErrNotFound)
	must(t, d.Delete("bytes"))
	ok, err := d.Contains("bytes")
	must(t, err)
	if ok {
		t.Fatal("deleted key still there")
	}
	// incr: exact over int64, ErrType on a non-integer, ErrInvalid beyond.
	for i := 1; i <= 3; i++ {
		got, err := d.Incr("hits", 1)
		must(t, err)
		if got != int64(i) {
			t.Fatalf("incr gave %d want %d", got, i)
		}
	}
	_, err = d.Incr("a", -11)
	must(t, err)
	v, err = d.Get("a")
	must(t, err)
	if v != int64(-10) {
		t.Fatalf("got %v", v)
	}
	must(t, d.Set("s", "text"))
	_, err = d.Incr("s", 1)
	wantCode(t, err, ErrType)
	must(t, d.Set("max", int64(math.MaxInt64)))
	_, err = d.Incr("max", 1)
	wantCode(t, err, ErrInvalid)
	got, err := d.Incr("max", -1)
	must(t, err)
	if got != math.MaxInt64-1 {
		t.Fatalf("got %d", got)
	}
	// compare_and_set.
	swapped, err := d.CompareAndSet("a", int64(-10), "swapped")
	must(t, err)
	if !swapped {
		t.Fatal("equal value not swapped")
	}
	swapped, err = d.CompareAndSet("a", int64(-10), "again")
	must(t, err)
	if swapped {
		t.Fatal("different value swapped")
	}
	v, err = d.Get("a")
	must(t, err)
	if v != "swapped" {
		t.Fatalf("got %v", v)
	}
	// keys / items / update / setdefault / pop / clear.
	must(t, d.Update(map[string]any{"u1": 1, "u2": 2}))
	keys, err := d.Keys()
	must(t, err)
	var ks []string
	for _, k := range keys {
		ks = append(ks, fmt.Sprint(k))
	}
	sort.Strings(ks) // Redis's order, not insertion order (docs/REDIS.md)
	if want := []string{"2", "a", "big", "hits", "max", "s", "u1", "u2"}; !reflect.DeepEqual(ks, want) {
		t.Fatalf("keys %v want %v", ks, want)
	}
	items, err := d.Items()
	must(t, err)
	if len(items) != 8 {
		t.Fatalf("items %v", items)
	}
	sd, err := d.SetDefault("u1", 99)
	must(t, err)
	sd2, err := d.SetDefault("new", 99)
	must(t, err)
	if sd != int64(1) || sd2 != int64(99) {
		t.Fatalf("setdefault %v %v", sd, sd2)
	}
	p, err := d.Pop("new")
	must(t, err)
	if p != int64(99) {
		t.Fatalf("pop %v", p)
	}
	def, err := d.GetDefault("missing", "dflt")
	must(t, err)
	if def != "dflt" {
		t.Fatalf("got %v", def)
	}
	must(t, d.Clear())
	n, err = d.Len()
	must(t, err)
	if n != 0 {
		t.Fatalf("len %d after clear", n)
	}
}

func TestRedisManagerIncrAcrossProcesses(t *testing.T) {
	m, addr := redisManager(t)
	const procs, each = 3, 200
	var cs []*child
	for i := 0; i < procs; i++ {
		cs = append(cs, spawn(t, "redis-mgr-incr", []string{addr, strconv.Itoa(each)}))
	}
	for _, c := range cs {
		c.wait(t)
	}
	v, err := m.Dict("counters").Get("hits")
	must(t, err)
	if v != int64(procs*each) {
		t.Fatalf("hits %v want %d", v, procs*each)
	}
}

func TestRedisManagerListValueNamespace(t *testing.T) {
	m, _ := redisManager(t)
	l := m.List("l")
	must(t, l.Append(1))
	must(t, l.Extend([]any{"two", []byte{3}, 4.5}))
	n, err := l.Len()
	must(t, err)
	if n != 4 {
		t.Fatalf("len %d", n)
	}
	v, err := l.Get(1)
	must(t, err)
	if v != "two" {
		t.Fatalf("got %v", v)
	}
	v, err = l.Get(-1)
	must(t, err)
	if v != 4.5 {
		t.Fatalf("got %v", v)
	}
	_, err = l.Get(10)
	wantCode(t, err, ErrIndex)
	must(t, l.Set(0, "one"))
	all, err := l.Copy()
	must(t, err)
	sameCBOR(t, all, []any{"one", "two", []byte{3}, 4.5})
	p, err := l.Pop(-1)
	must(t, err)
	if p != 4.5 {
		t.Fatalf("pop %v", p)
	}
	idx, err := l.Index("two")
	must(t, err)
	if idx != 1 {
		t.Fatalf("index %d", idx)
	}
	part, err := l.Slice(0, 2)
	must(t, err)
	sameCBOR(t, part, []any{"one", "two"})

	val := m.Value("v")
	created, err := val.Create(10)
	must(t, err)
	if !created {
		t.Fatal("not created")
	}
	created, err = val.Create(20)
	must(t, err)
	if created {
		t.Fatal("created twice")
	}
	got, err := val.Incr(5)
	must(t, err)
	if got != 15 {
		t.Fatalf("incr %d", got)
	}
	swapped, err := val.CompareAndSet(int64(15), "fifteen")
	must(t, err)
	if !swapped {
		t.Fatal("not swapped")
	}
	v, err = val.Get()
	must(t, err)
	if v != "fifteen" {
		t.Fatalf("got %v", v)
	}
	_, err = val.Incr(1)
	wantCode(t, err, ErrType)

	ns := m.Namespace("n")
	must(t, ns.Set("x", map[string]any{"k": 1}))
	v, err = ns.Get("x")
	must(t, err)
	sameCBOR(t, v, map[string]any{"k": 1})
	_, err = ns.Get("missing")
	wantCode(t, err, ErrNotFound)
	must(t, ns.Delete("x"))
	_, err = ns.Get("x")
	wantCode(t, err, ErrNotFound)
}

func TestRedisManagerSyncObjects(t *testing.T) {
	m, addr := redisManager(t)
	other, err := ConnectManager(addr, nil)
	must(t, err)
	defer other.Close()

	// Lock: held by one client; another times out, may not release it.
	l := m.Lock("lk")
	must(t, l.Acquire(ctxT(t)))
	locked, err := l.Locked()
	must(t, err)
	if !locked {
		t.Fatal("not locked")
	}
	wantCode(t, other.Lock("lk").AcquireTimeout(0), ErrTimeout)
	wantCode(t, other.Lock("lk").AcquireTimeout(30*time.Millisecond), ErrTimeout)
	wantCode(t, other.Lock("lk").Release(), ErrPerm)
	// A waiter in another goroutine gets it when it is released.
	acq := make(chan error, 1)
	go func() { acq <- other.Lock("lk").AcquireTimeout(hangGuard) }()
	must(t, l.Release())
	must(t, <-acq)
	must(t, other.Lock("lk").Release())
	rl := m.RLock("rl")
	must(t, rl.Acquire(ctxT(t)))
	must(t, rl.Acquire(ctxT(t)))
	must(t, rl.Release())
	must(t, rl.Release())
	wantCode(t, rl.Release(), ErrPerm)

	// Semaphore.
	sem := m.BoundedSemaphore("sem")
	_, err = sem.Create(2)
	must(t, err)
	must(t, sem.AcquireTimeout(0))
	must(t, sem.Acquire(ctxT(t)))
	wantCode(t, sem.AcquireTimeout(20*time.Millisecond), ErrTimeout)
	sv, err := sem.Value()
	must(t, err)
	if sv != 0 {
		t.Fatalf("value %d", sv)
	}
	must(t, sem.Release(2))
	wantCode(t, sem.Release(1), ErrInvalid) // bounded

	// Event set by another process while this one waits.
	ev := m.Event("go")
	wantCode(t, ev.WaitTimeout(20*time.Millisecond), ErrTimeout)
	c := spawn(t, "redis-mgr-set-event", []string{addr})
	must(t, m.Event("waiting").Set())
	must(t, ev.Wait(ctxT(t)))
	c.wait(t)
	isSet, err := ev.IsSet()
	must(t, err)
	if !isSet {
		t.Fatal("not set")
	}
	must(t, ev.Clear())
	isSet, err = ev.IsSet()
	must(t, err)
	if isSet {
		t.Fatal("still set")
	}
}

func TestRedisManagerLockFreedWhenHolderDies(t *testing.T) {
	port, _ := redisServer(t)
	// A short lease: the dead holder's lock frees itself when it ends.
	addr := "redis://127.0.0.1:" + port + "?ns=" + uniqueName(t, "ns") + "&lease_ms=300"
	m, err := ConnectManager(addr, nil)
	must(t, err)
	defer m.Close()
	c := spawn(t, "redis-mgr-hold-lock", []string{addr})
	must(t, m.Event("holding").Wait(ctxT(t)))
	wantCode(t, m.Lock("held").AcquireTimeout(0), ErrTimeout)
	c.kill(t)
	must(t, m.Lock("held").AcquireTimeout(hangGuard))
	must(t, m.Lock("held").Release())
}

func TestRedisManagerQueue(t *testing.T) {
	m, _ := redisManager(t)
	q := m.Queue("mq")
	_, err := q.Create(2)
	if errors.Is(err, ErrUnsupported) {
		// docs/REDIS.md, "What applies": the manager's queue kind is not
		// wired yet (the queue itself works at its address, tested above).
		// These checks run by themselves once it is.
		t.Skipf("*** the queue kind of a Redis manager is MP_E_UNSUPPORTED in this build: "+
			"TestRedisManagerQueue did NOT run (%v) ***", err)
	}
	must(t, err)
	must(t, q.Put(ctxT(t), map[string]any{"job": 1}))
	must(t, q.PutTimeout(2, time.Second))
	wantCode(t, q.PutTimeout(3, 20*time.Millisecond), ErrFull)
	n, err := q.Qsize()
	must(t, err)
	if n != 2 {
		t.Fatalf("qsize %d", n)
	}
	v, err := q.Get(ctxT(t))
	must(t, err)
	sameCBOR(t, v, map[string]any{"job": 1})
	_, err = q.GetTimeout(time.Second)
	must(t, err)
	_, err = q.GetTimeout(20 * time.Millisecond)
	wantCode(t, err, ErrEmpty)
	must(t, q.TaskDone())
	must(t, q.TaskDone())
	must(t, q.JoinTimeout(0))
}

func TestRedisManagerErrors(t *testing.T) {
	m, _ := redisManager(t)
	port, _ := redisServer(t)
	// Kinds with no Redis form in this release: MP_E_UNSUPPORTED.
	wantCode(t, m.Set("s").Add(1), ErrUnsupported)
	_, err := m.Barrier("b").Create(2)
	wantCode(t, err, ErrUnsupported)
	wantCode(t, m.Condition("c").AcquireTimeout(0), ErrUnsupported)
	_, err = m.Array("a").Create('q', 3)
	wantCode(t, err, ErrUnsupported)
	// Addresses.
	_, err = ConnectManager("redis://127.0.0.1:"+port+"/notadb", nil)
	wantCode(t, err, ErrInvalid)
	_, err = ConnectManager("redis://127.0.0.1:"+port+"?color=blue", nil)
	wantCode(t, err, ErrInvalid)
	_, err = ConnectManager("rediss://127.0.0.1:"+port, nil)
	wantCode(t, err, ErrUnsupported)
	// The authkey is the server's password: this server has none.
	_, err = ConnectManager("redis://127.0.0.1:"+port, []byte("a password"))
	wantCode(t, err, ErrAuth)
	// mpipc does not serve a Redis address.
	_, err = ServeManager("redis://127.0.0.1:"+port, nil)
	wantCode(t, err, ErrInvalid)
}
