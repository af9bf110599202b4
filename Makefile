# mpipc — the two commands of the README:
#   make demo   builds the library and runs the main demo
#   make test   runs every test (what CI runs, via .ci/run)
# Longer runs have their own targets: bench, torture.

CARGO ?= cargo

.PHONY: demo test deps build build-release header check-format lint rust-tests c-tests c-examples rust-examples go-tests python-tests node-tests e2e-tests demo-test bench-smoke bench torture clean

demo: deps build-release
	bash examples/polyglot_demo/run.sh target/release

test: deps check-format lint rust-tests c-tests c-examples rust-examples go-tests python-tests node-tests e2e-tests demo-test install-test bench-smoke
	@echo "make test: all suites passed"

# Tools the build needs beyond Cargo.lock: a C compiler, Python 3 and
# valgrind. Installed with apt-get when missing (CI and fresh machines).
deps:
	@bash scripts/install-deps.sh

build:
	$(CARGO) build --locked

build-release:
	$(CARGO) build --locked --release

# Regenerates include/mpipc.h (commit the result). `make test` fails when the
# committed header is stale (tests/header.rs).
header:
	MPIPC_BLESS_HEADER=1 $(CARGO) test --locked --test header

check-format:
	$(CARGO) fmt --check

lint:
	$(CARGO) clippy --locked --all-targets -- -D warnings

# Unit tests, doc tests, the header check, cross-process crash tests and a
# short crash torture run.
rust-tests:
	$(CARGO) test --locked

# C tests against the header and the debug library, with ASan and valgrind.
c-tests: build
	bash tests/c/run.sh target/debug

# The Go binding (bindings/go, cgo over target/release/libmpipc.so) and its
# examples: gofmt, vet, tests plain and with the race detector, and every
# example run once (each checks its own result).
go-tests: build-release
	test -z "$$(gofmt -l bindings/go examples/go)"
	cd bindings/go && go vet ./... && go test -count=1 ./... && go test -race -count=1 ./...
	cd examples/go && go vet ./... && go build ./... && for e in producer_consumer request_reply shared_counter shared_array; do go run ./$$e || exit 1; done

# The Python binding (bindings/python, ctypes over target/release/libmpipc.so):
# a project-local venv with pinned cbor2 and pytest, then its suite (which
# also runs examples/python and a small C peer).
python-tests: build-release
	bash bindings/python/setup-venv.sh
	MPIPC_LIB=$(CURDIR)/target/release/libmpipc.so build/venv-python/bin/python -m pytest -q bindings/python/tests

# The Node binding (bindings/node, koffi over target/release/libmpipc.so):
# pinned packages from package-lock.json, then node --test (which also runs
# tsc --noEmit over index.d.ts and the examples in examples/node).
node-tests: build-release
	cd bindings/node && npm ci --ignore-scripts --no-audit --no-fund
	cd bindings/node && MPIPC_LIB=$(CURDIR)/target/release/libmpipc.so npm test

# Every C example (examples/c), built and run; each checks its own result.
c-examples: build-release
	bash examples/c/run_all.sh target/release

# Every Rust example (examples/rust), built and run; each checks its own result.
rust-examples:
	CARGO=$(CARGO) bash examples/rust/run_all.sh

# The main demo (make demo) with 300 jobs: exit 0, every job once, nothing
# left behind.
demo-test: build-release python-tests node-tests
	bash tests/demo/test_polyglot_demo.sh target/release

# The cross-language matrix (tests/polyglot/PEERS.md): every primitive, every
# ordered pair of C, Go, Node, Python and Rust, exchanging the shared CBOR
# vectors bit for bit. Needs what the binding suites install.
e2e-tests: build-release python-tests node-tests
	build/venv-python/bin/python -m pytest -q tests/polyglot/test_e2e.py

# The benchmarks in their quick form: they must keep working, the figures
# of a smoke run mean nothing.
bench-smoke: build-release
	bash benches/run.sh --quick --out /dev/null

# The real benchmark: mpipc and Python's multiprocessing side by side,
# written to BENCHMARKS.md.
bench:
	bash benches/run.sh

# The long crash torture run (the test suite runs 150 rounds).
ROUNDS ?= 20000
torture: build-release
	./target/release/mpipc-torture run --rounds $(ROUNDS) --timeout-s 300

# Installs for C and C++ users (README "Installing for C and C++"):
# libmpipc.so.X.Y.Z with its soname links, libmpipc.a, mpipc.h, mpipc.hpp,
# mpipc.pc, the CMake package (mpipc::mpipc) and bin/mpipc. PREFIX defaults to
# /usr/local; DESTDIR stages the files elsewhere (paths inside stay PREFIX).
PREFIX ?= /usr/local
DESTDIR ?=
BUILD_LIBDIR ?= target/release

.PHONY: install install-only install-test

install: build-release
	$(MAKE) --no-print-directory install-only

# The copy step of install alone, from an existing build in BUILD_LIBDIR.
install-only:
	bash scripts/install.sh "$(BUILD_LIBDIR)" "$(PREFIX)" "$(DESTDIR)"

# Installs into a temporary prefix and builds, links and runs a C and a C++
# program against it with pkg-config and with CMake (tests/install).
install-test: build-release
	bash tests/install/test_install.sh target/release

clean:
	$(CARGO) clean
	rm -rf build
