//go:build !(linux && amd64)

package mpipc

// The library is built and shipped for x86-64 Linux with glibc only. On any
// other GOOS/GOARCH this invalid constant is the first thing the Go
// compiler reports (with cgo on, shim.h's #error comes first, from the C
// compiler).
const _ = "mpipc supports x86-64 Linux with glibc only (GOOS=linux GOARCH=amd64); this build targets another platform" + 0
