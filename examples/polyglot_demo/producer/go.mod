module github.com/mpipc/mpipc/examples/polyglot_demo/producer

go 1.24

require github.com/mpipc/mpipc/bindings/go v0.0.0

require (
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
)

// Builds against the binding in this repository (and so against the
// library in target/release).
replace github.com/mpipc/mpipc/bindings/go => ../../../bindings/go
