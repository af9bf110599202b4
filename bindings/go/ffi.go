//go:build cgo && !mpipc_system

package mpipc

// Build and link flags of the default build: the static library shipped
// inside this module (wasmtime-go's pattern), so that `go get` + `go build`
// work with cgo and a C compiler and nothing else to install or set, and
// the program needs no libmpipc.so at run time.
//
//	prebuilt/include/mpipc.h               the C header
//	prebuilt/linux-amd64/libmpipc.a        the library, x86-64 Linux (glibc)
//
// The published module carries them (packaging/go/dist.sh); in the
// repository they are not committed: `make go-prebuilt` copies them from
// target/release (packaging/go/stage-prebuilt.sh). The libraries after
// libmpipc.a are what Rust's std needs on glibc Linux (rustc --print
// native-static-libs); the same list is in mpipc.pc's Libs.private.
//
// Other platforms get MPGO_UNSUPPORTED_PLATFORM, which makes shim.h stop
// with a clear #error instead of a missing header (platform_unsupported.go
// does the same when cgo is off). Build with -tags mpipc_system to link a
// libmpipc installed on the system instead (ffi_system.go).

/*
#cgo CFLAGS: -I${SRCDIR}
#cgo linux,amd64 CFLAGS: -I${SRCDIR}/prebuilt/include
#cgo linux,amd64 LDFLAGS: ${SRCDIR}/prebuilt/linux-amd64/libmpipc.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
#cgo !linux CFLAGS: -DMPGO_UNSUPPORTED_PLATFORM
#cgo !amd64 CFLAGS: -DMPGO_UNSUPPORTED_PLATFORM
*/
import "C"
