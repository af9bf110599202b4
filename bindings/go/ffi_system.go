//go:build mpipc_system

package mpipc

// Build and link flags for a system-installed libmpipc (header mpipc.h and
// libmpipc.so on the compiler's default search paths, or given through
// CGO_CFLAGS / CGO_LDFLAGS). Selected with -tags mpipc_system.

/*
#cgo CFLAGS: -I${SRCDIR}
#cgo LDFLAGS: -lmpipc
*/
import "C"
