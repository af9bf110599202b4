package mpipc

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// Every MP_E_* code of the header has its Go constant, with the same value
// and name: parsed from include/mpipc.h so a new code fails this test
// until it is mapped.
func TestEveryStatusCodeMapped(t *testing.T) {
	src, err := os.ReadFile("../../include/mpipc.h")
	if err != nil {
		t.Skipf("header not found: %v", err)
	}
	re := regexp.MustCompile(`(?m)^#define (MP_E_[A-Z_]+) (-\d+)$`)
	defs := re.FindAllStringSubmatch(string(src), -1)
	if len(defs) < 23 {
		t.Fatalf("only %d MP_E_ codes found in the header", len(defs))
	}
	known := map[Code]bool{}
	for c := ErrNull; c >= lastCode; c-- {
		known[c] = true
	}
	for _, d := range defs {
		v, _ := strconv.Atoi(d[2])
		c := Code(v)
		if !known[c] {
			t.Errorf("%s (%d) has no Go constant (extend the const block and lastCode in errors.go)", d[1], v)
			continue
		}
		if c.Name() != d[1] {
			t.Errorf("code %d is named %q by the library, %q by the header", v, c.Name(), d[1])
		}
		e := &Error{Code: c, Op: "op", Msg: "detail"}
		if !errors.Is(e, c) || errors.Is(e, c-1) {
			t.Errorf("errors.Is does not match %s", d[1])
		}
		if wrapped := fmt.Errorf("context: %w", e); !errors.Is(wrapped, c) {
			t.Errorf("wrapped %s not matched", d[1])
		}
	}
	if len(defs) != len(known) {
		t.Errorf("header has %d codes, Go %d", len(defs), len(known))
	}
	if OK.Name() != "MP_OK" {
		t.Errorf("OK is %q", OK.Name())
	}
	if s := Code(-999).Error(); s == "" {
		t.Error("unknown code has no text")
	}
	// The message format.
	e := &Error{Code: ErrEmpty, Op: "mpq_get_into", Msg: "queue empty"}
	if e.Error() != "mpipc: mpq_get_into: queue empty (MP_E_EMPTY)" {
		t.Errorf("got %q", e.Error())
	}
	if (&Error{Code: ErrEmpty, Op: "x"}).Error() != "mpipc: x: "+ErrEmpty.Error() {
		t.Error("message without detail")
	}
	if errors.Is(ErrClosed, ErrEmpty) || errors.Is(e, ErrClosed) {
		t.Error("ErrClosed confused with a code")
	}
}

func TestVersion(t *testing.T) {
	if VersionNumber() != HeaderVersionNumber {
		t.Fatalf("library %d, header %d", VersionNumber(), HeaderVersionNumber)
	}
	want := fmt.Sprintf("%d.%d.%d", HeaderVersionNumber/1000000, HeaderVersionNumber/1000%1000, HeaderVersionNumber%1000)
	if Version() != want {
		t.Fatalf("version %q, want %q", Version(), want)
	}
	if BindingVersion != Version() {
		t.Fatalf("BindingVersion %q, library %q", BindingVersion, Version())
	}
}
