// Command qtput measures queue throughput Go -> Go across processes with
// the small object of the project's benchmarks,
//
//	{"id": i, "name": "item-<i>", "vals": [1.5, 2.5, 3.5]}
//
// encoded as CBOR by the producer for every message and decoded by the
// consumer (into a struct, or with -decode any into map[any]any). One
// producer process and one consumer process (this binary re-executes
// itself), one queue (maxsize 0, 1 MiB ring, as benches/queue.rs).
//
// Workloads: "single" (one Put and one GetInto per message) and "batch"
// (PutManyOf / GetManyOf, 256 per call). Timing, as benches/queue.rs: the
// parent starts the clock when it releases both children (attached and
// waiting) and stops it when the consumer reports that it has received and
// decoded all N, so process start-up is excluded.
//
//	go run ./bench/qtput [-n 1000000] [-repeat 5] [-batch 256] [-decode struct|any] [-quick] [-cpuprofile prefix]
//
// -cpuprofile writes each child's CPU profile (pprof format) of the last
// run of each workload to <prefix>.<role>.b<batch>.prof: the consumer's
// shows where a message's time goes (`go tool pprof -top` with the binary).
//
// prints one JSON object: {"go_q_tput_single": {...}, "go_q_tput_batch": {...}}
// with the median msg/s over the repetitions and every run, and the
// consumer process's CPU time (user + system, start-up included) per
// message: on a shared, busy machine the throughput mostly measures what
// the scheduler granted, the CPU time per message what the work costs.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime/pprof"
	"sort"
	"strconv"
	"time"

	mpipc "github.com/mpipc/mpipc/bindings/go"
)

// small is the benchmark object; the consumer decodes into it.
type small struct {
	ID   int64     `cbor:"id"`
	Name string    `cbor:"name"`
	Vals []float64 `cbor:"vals"`
}

func main() {
	role := flag.String("role", "", "internal: producer or consumer")
	qname := flag.String("queue", "", "internal: queue name")
	n := flag.Int("n", 1_000_000, "messages per run")
	repeat := flag.Int("repeat", 5, "runs per workload (the median is reported)")
	batchN := flag.Int("batch", 256, "messages per PutMany/GetMany in the batch workload")
	batch := flag.Int("b", 1, "internal: batch size of this run")
	decode := flag.String("decode", "struct", "what the consumer decodes into: struct or any")
	quick := flag.Bool("quick", false, "smoke run: n 20000, repeat 1")
	cpuprofile := flag.String("cpuprofile", "", "write the children's CPU profiles to <prefix>.<role>.b<batch>.prof")
	flag.Parse()

	if *role != "" && *cpuprofile != "" {
		f, err := os.Create(fmt.Sprintf("%s.%s.b%d.prof", *cpuprofile, *role, *batch))
		check(err)
		check(pprof.StartCPUProfile(f))
		defer func() { pprof.StopCPUProfile(); check(f.Close()) }()
	}
	switch *role {
	case "producer":
		producer(*qname, *n, *batch)
		return
	case "consumer":
		consumer(*qname, *n, *batch, *decode)
		return
	}
	if *quick {
		*n, *repeat = 20000, 1
	}
	out := map[string]any{}
	for _, w := range []struct {
		key   string
		batch int
	}{{"go_q_tput_single", 1}, {"go_q_tput_batch", *batchN}} {
		var runs, cpus []float64
		for r := 0; r < *repeat; r++ {
			rate, cpu := run(*n, w.batch, *decode, *cpuprofile)
			runs, cpus = append(runs, rate), append(cpus, cpu)
		}
		out[w.key] = map[string]any{
			"msgs_per_s":              int64(median(runs)),
			"runs":                    runs,
			"consumer_cpu_ns_per_msg": median(cpus),
			"consumer_cpu_runs":       cpus,
			"n":                       *n,
			"batch":                   w.batch,
			"decode":                  *decode,
			"object":                  `{"id": i, "name": "item-<i>", "vals": [1.5, 2.5, 3.5]}`,
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fail(err)
	}
}

// median of xs (the upper one of an even count).
func median(xs []float64) float64 {
	sorted := append([]float64(nil), xs...)
	sort.Float64s(sorted)
	return sorted[len(sorted)/2]
}

// run does one measured transfer of n messages and returns msg/s and the
// consumer's CPU nanoseconds per message.
func run(n, batch int, decode, cpuprofile string) (float64, float64) {
	base := fmt.Sprintf("go-qtput-%d-%d", os.Getpid(), time.Now().UnixNano())
	q, err := mpipc.OpenQueue(base, mpipc.QueueOptions{})
	check(err)
	defer func() { q.Close(); mpipc.UnlinkQueue(base) }()
	ctl, err := mpipc.OpenQueue(base+"-ctl", mpipc.QueueOptions{})
	check(err)
	defer func() { ctl.Close(); mpipc.UnlinkQueue(base + "-ctl") }()
	gate, err := mpipc.OpenQueue(base+"-go", mpipc.QueueOptions{})
	check(err)
	defer func() { gate.Close(); mpipc.UnlinkQueue(base + "-go") }()

	self, err := os.Executable()
	check(err)
	var procs []*exec.Cmd
	for _, role := range []string{"consumer", "producer"} {
		cmd := exec.Command(self, "-role", role, "-queue", base, "-n", strconv.Itoa(n),
			"-b", strconv.Itoa(batch), "-decode", decode, "-cpuprofile", cpuprofile)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		check(cmd.Start())
		procs = append(procs, cmd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for range procs { // both attached and waiting
		msg, err := ctl.GetBytes(ctx)
		check(err)
		if string(msg) != "ready" {
			fail(fmt.Errorf("unexpected %q", msg))
		}
	}
	start := time.Now()
	for range procs {
		check(gate.PutBytes([]byte("go")))
	}
	msg, err := ctl.GetBytes(ctx) // the consumer's "done"
	check(err)
	elapsed := time.Since(start)
	if string(msg) != "done" {
		fail(fmt.Errorf("consumer: %s", msg))
	}
	for _, p := range procs {
		check(p.Wait())
	}
	cs := procs[0].ProcessState // the consumer, started first
	cpu := cs.UserTime() + cs.SystemTime()
	return float64(n) / elapsed.Seconds(), float64(cpu.Nanoseconds()) / float64(n)
}

func handshake(base string) (ctl *mpipc.Queue) {
	ctl, err := mpipc.OpenQueue(base+"-ctl", mpipc.QueueOptions{})
	check(err)
	gate, err := mpipc.OpenQueue(base+"-go", mpipc.QueueOptions{})
	check(err)
	check(ctl.PutBytes([]byte("ready")))
	_, err = gate.GetBytes(context.Background())
	check(err)
	gate.Close()
	return ctl
}

func producer(base string, n, batch int) {
	q, err := mpipc.OpenQueue(base, mpipc.QueueOptions{})
	check(err)
	ctl := handshake(base)
	defer ctl.Close()
	vals := []float64{1.5, 2.5, 3.5}
	if batch <= 1 {
		for i := 0; i < n; i++ {
			check(q.Put(&small{ID: int64(i), Name: "item-" + strconv.Itoa(i), Vals: vals}))
		}
		return
	}
	ctx := context.Background()
	items := make([]small, batch)
	for i := 0; i < n; {
		k := min(batch, n-i)
		for j := 0; j < k; j++ {
			items[j] = small{ID: int64(i + j), Name: "item-" + strconv.Itoa(i+j), Vals: vals}
		}
		put, err := mpipc.PutManyOf(ctx, q, items[:k])
		check(err)
		if put != k {
			fail(fmt.Errorf("put %d of %d", put, k))
		}
		i += k
	}
}

func consumer(base string, n, batch int, decode string) {
	q, err := mpipc.OpenQueue(base, mpipc.QueueOptions{})
	check(err)
	ctl := handshake(base)
	defer ctl.Close()
	ctx := context.Background()
	var sum int64 // checks every message arrived, in order
	got := 0
	switch {
	case batch <= 1 && decode == "any":
		for ; got < n; got++ {
			v, err := q.Get(ctx)
			check(err)
			sum += v.(map[any]any)["id"].(int64)
		}
	case batch <= 1:
		var s small
		for ; got < n; got++ {
			check(q.GetInto(ctx, &s))
			sum += s.ID
		}
	case decode == "any":
		for got < n {
			vs, err := q.GetMany(ctx, batch)
			check(err)
			for _, v := range vs {
				sum += v.(map[any]any)["id"].(int64)
			}
			got += len(vs)
		}
	default:
		var buf []small
		for got < n {
			buf, err = mpipc.GetManyOf(ctx, q, buf[:0], batch)
			check(err)
			for i := range buf {
				sum += buf[i].ID
			}
			got += len(buf)
		}
	}
	if want := int64(n) * int64(n-1) / 2; sum != want {
		check(ctl.PutBytes([]byte(fmt.Sprintf("bad sum %d, want %d", sum, want))))
		return
	}
	check(ctl.PutBytes([]byte("done")))
}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "qtput:", err)
	os.Exit(1)
}
