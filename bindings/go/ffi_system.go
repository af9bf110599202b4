//go:build cgo && mpipc_system

package mpipc

// Build and link flags with -tags mpipc_system: a libmpipc installed on the
// system (make install, or the C package), found through pkg-config, so
// mpipc.pc must be on pkg-config's path (PKG_CONFIG_PATH=PREFIX/lib/pkgconfig
// outside the system prefixes). This links libmpipc.so dynamically: the
// program loads it at run time from the loader's path (ldconfig, or
// LD_LIBRARY_PATH / an rpath outside it).

/*
#cgo CFLAGS: -I${SRCDIR}
#cgo pkg-config: mpipc
#cgo !linux CFLAGS: -DMPGO_UNSUPPORTED_PLATFORM
#cgo !amd64 CFLAGS: -DMPGO_UNSUPPORTED_PLATFORM
*/
import "C"
