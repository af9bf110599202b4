//go:build !mpipc_system

package mpipc

// Build and link flags for the library built in this repository
// (cargo build --release: target/release/libmpipc.so). The rpath lets the
// binaries built here find the library without LD_LIBRARY_PATH. Build with
// -tags mpipc_system to link a system-installed libmpipc instead
// (ffi_system.go).

/*
#cgo CFLAGS: -I${SRCDIR}/../../include -I${SRCDIR}
#cgo LDFLAGS: -L${SRCDIR}/../../target/release -Wl,-rpath,${SRCDIR}/../../target/release -lmpipc
*/
import "C"
