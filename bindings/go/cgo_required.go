//go:build linux && amd64 && !cgo

package mpipc

// The package is a cgo binding: without cgo, every file that calls the C
// library drops out of the build and the compiler would report a pile of
// undefined names. This invalid constant is reported first instead, and
// its text carries the fix. (CGO_ENABLED=0 is the default when go finds no C
// compiler, and when cross-compiling.)
const _ = "mpipc needs cgo: build with CGO_ENABLED=1 and a C compiler (x86-64 Linux, glibc)" + 0
