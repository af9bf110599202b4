package mpipc

import (
	"bufio"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// stockPython runs a stock (CPython, no mpipc) program that shares a block
// with this test: its stdin is closed to tell it to finish, its output
// lines are read as they come.
type stockPython struct {
	cmd   *exec.Cmd
	stdin interface{ Close() error }
	out   *bufio.Scanner
}

func startStockPython(t *testing.T, code string, args ...string) *stockPython {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: no stock Python to share a block with")
	}
	cmd := exec.Command(py, append([]string{"-c", code}, args...)...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	must(t, err)
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	p := &stockPython{cmd: cmd, stdin: in, out: bufio.NewScanner(out)}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	return p
}

func (p *stockPython) line(t *testing.T) string {
	t.Helper()
	if !p.out.Scan() {
		t.Fatalf("stock Python ended early: %v", p.out.Err())
	}
	return p.out.Text()
}

// A NumPy-style float64 buffer made by stock Python's
// multiprocessing.shared_memory, read and written by Go with RawShm.
func TestRawSharedMemoryFromStockPython(t *testing.T) {
	name := uniqueName(t, "stock")
	p := startStockPython(t, `
import struct, sys
from multiprocessing.shared_memory import SharedMemory
s = SharedMemory(sys.argv[1], create=True, size=32)
struct.pack_into("<4d", s.buf, 0, 1.5, 2.5, -3.0, 1e300)
print("ready", flush=True)
sys.stdin.read()
print(struct.unpack_from("<d", s.buf, 24)[0], flush=True)
s.close()
s.unlink()
`, name)
	if l := p.line(t); l != "ready" {
		t.Fatal(l)
	}
	// Not an mpipc block: the message points at RawShm.
	_, err := OpenSharedMemory(name, 0, AttachOnly)
	wantCode(t, err, ErrNotFound)
	if !strings.Contains(err.Error(), "raw") {
		t.Fatalf("message does not point at the raw flag: %v", err)
	}
	s, err := OpenSharedMemory(name, 0, AttachOnly|RawShm)
	must(t, err)
	if s.Size() != 32 {
		t.Fatalf("size %d", s.Size())
	}
	b := s.Bytes()
	want := []float64{1.5, 2.5, -3.0, 1e300}
	for i, w := range want {
		if got := math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])); got != w {
			t.Fatalf("element %d: %v, want %v", i, got, w)
		}
	}
	binary.LittleEndian.PutUint64(b[24:], math.Float64bits(42.25))
	must(t, s.Close())
	p.stdin.Close()
	if l := p.line(t); l != "42.25" {
		t.Fatalf("stock Python read %q", l)
	}
	must(t, p.cmd.Wait())
	_, err = OpenSharedMemory(name, 0, AttachOnly|RawShm)
	wantCode(t, err, ErrNotFound) // the stock program unlinked it
}

// A raw block made by Go, read by a stock Python program by its name.
func TestRawSharedMemoryForStockPython(t *testing.T) {
	name := uniqueName(t, "forstock")
	s, err := OpenSharedMemory("/"+name, 16, CreateOnly|RawShm) // a leading "/" as shm_open takes it
	must(t, err)
	t.Cleanup(func() { s.Close(); UnlinkRawSharedMemory(name) })
	st, err := os.Stat("/dev/shm/" + name)
	must(t, err)
	if st.Mode().Perm() != 0o600 || st.Size() != 16 {
		t.Fatalf("mode %v size %d", st.Mode(), st.Size())
	}
	copy(s.Bytes(), "from Go")
	p := startStockPython(t, `
import sys
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory
s = SharedMemory(sys.argv[1])
# Python < 3.13 registers blocks it merely attaches to and unlinks them
# at exit (gh-82300): not this one, it is Go's.
resource_tracker.unregister(s._name, "shared_memory")
print(s.size, bytes(s.buf[:7]).decode(), flush=True)
s.buf[0:4] = b"FROM"
s.close()
`, name)
	if l := p.line(t); l != "16 from Go" {
		t.Fatalf("stock Python read %q", l)
	}
	must(t, p.cmd.Wait())
	if string(s.Bytes()[:7]) != "FROM Go" {
		t.Fatalf("%q", s.Bytes()[:7])
	}
	// Bad input gets a clear status.
	_, err = OpenSharedMemory(name, 0, AttachOnly) // raw, opened as mpipc
	wantCode(t, err, ErrNotFound)
	_, err = OpenSharedMemory(uniqueName(t, "missing"), 0, AttachOnly|RawShm)
	wantCode(t, err, ErrNotFound)
	_, err = OpenSharedMemory(name, 8, AttachOnly|RawShm) // another size
	wantCode(t, err, ErrInvalid)
	_, err = OpenSharedMemory("mpipc.shm.x", 0, AttachOnly|RawShm)
	wantCode(t, err, ErrInvalid)
	_, err = OpenSharedMemory(name, 16, CreateOnly|RawShm)
	wantCode(t, err, ErrExists)
	empty := uniqueName(t, "empty")
	f, err := os.OpenFile("/dev/shm/"+empty, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	must(t, err)
	f.Close()
	t.Cleanup(func() { os.Remove("/dev/shm/" + empty) })
	_, err = OpenSharedMemory(empty, 0, AttachOnly|RawShm)
	wantCode(t, err, ErrInvalid)
	mp := uniqueName(t, "mpipcblock")
	m, err := OpenSharedMemory(mp, 8, CreateOnly)
	must(t, err)
	t.Cleanup(func() { m.Close(); UnlinkSharedMemory(mp) })
	_, err = OpenSharedMemory(mp, 0, AttachOnly|RawShm) // mpipc, opened raw
	wantCode(t, err, ErrNotFound)
	must(t, UnlinkRawSharedMemory(name))
	wantCode(t, UnlinkRawSharedMemory(name), ErrNotFound)
}
