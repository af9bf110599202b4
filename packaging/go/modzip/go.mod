// The tool packaging/go/dist.sh runs to write the Go module's zip
// (golang.org/x/mod/zip); pinned here and in go.sum.
module github.com/mpipc/mpipc/packaging/go/modzip

go 1.24.0

require golang.org/x/mod v0.30.0
