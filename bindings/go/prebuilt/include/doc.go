// Package include holds the C header (mpipc.h) that the mpipc package
// compiles against. It has no Go code: it is a package only so that
// `go mod vendor` copies this directory (see ../../vendor.go).
package include
