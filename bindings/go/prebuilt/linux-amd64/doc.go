// Package linux_amd64 holds the static library (libmpipc.a) that the mpipc
// package links on x86-64 Linux. It has no Go code: it is a package only so
// that `go mod vendor` copies this directory (see ../../vendor.go).
package linux_amd64
