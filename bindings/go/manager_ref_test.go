package mpipc

import "testing"

// A reference stored in a manager object comes back a ManagerRef, opens
// the object it names, and a tuple key (as Python writes it) is the array
// key a Go program uses (the server ignores the TUPLE tag in keys).
func TestManagerRefOpensItsObject(t *testing.T) {
	srv, m := tempManager(t)
	target := m.Dict("target")
	must(t, target.Set("k", int64(7)))
	holder := m.List("holder")
	must(t, holder.Append(ManagerRef{Kind: "dict", Name: "target", Address: srv.Addr()}))
	got, err := holder.Get(0)
	must(t, err)
	ref, ok := got.(ManagerRef)
	if !ok {
		t.Fatalf("got %#v, want a ManagerRef", got)
	}
	m2, err := ref.Connect(mgrKey)
	must(t, err)
	defer m2.Close()
	d, err := ref.Dict(m2)
	must(t, err)
	if v, err := d.Get("k"); err != nil || v != int64(7) {
		t.Fatalf("through the reference: %v, %v", v, err)
	}
	if _, err := ref.List(m2); err == nil {
		t.Fatal("a dict reference opened as a list")
	}
	// A Python tuple key (1, "a"), written as Python writes it: Go's
	// ArrayKey of [1, "a"] is the same entry.
	_, err = m.Call("dict", "target", "set", rawCBOR(hexb("da6d70747582016161")), "py")
	must(t, err)
	if v, err := d.Get(mustKey(int64(1), "a")); err != nil || v != "py" {
		t.Fatalf("tuple key through an ArrayKey: %v, %v", v, err)
	}
	if n, err := d.Len(); err != nil || n != 2 {
		t.Fatalf("len %d, %v", n, err)
	}
}

// rawCBOR is an item's CBOR bytes, encoded as they are (here what Python
// writes for a tuple, which a Go value never encodes to).
type rawCBOR []byte

// MarshalCBOR gives the bytes unchanged.
func (r rawCBOR) MarshalCBOR() ([]byte, error) { return r, nil }
