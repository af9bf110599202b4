//go:build mpipc_vendor

package mpipc

// Never built (nobody sets the tag): `go mod vendor` copies only the
// directories of imported packages, and considers every build tag, so
// these imports make it copy prebuilt/ (the header and the static library
// that ffi.go links) into vendor/ too (golang/go#26366; wasmtime-go does
// the same).
import (
	_ "github.com/mpipc/mpipc/bindings/go/prebuilt/include"
	_ "github.com/mpipc/mpipc/bindings/go/prebuilt/linux-amd64"
)
