#!/usr/bin/env bash
# Installs what the build and tests need beyond Rust's Cargo.lock, if it is
# missing: a C compiler (gcc), Python 3 with venv (benchmark baseline, the
# Python binding), valgrind (C
# tests), Go >= 1.24 (the Go binding; golang-go from Debian if absent),
# Node >= 20 with npm (the Node binding).
# Rust itself (cargo, rustfmt, clippy) must be on PATH. Go modules come from
# the Go module proxy, pinned by bindings/go/go.sum.
set -euo pipefail
missing=()
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
command -v python3 >/dev/null || missing+=(python3)
# The Python binding's tests run in a venv (bindings/python/setup-venv.sh).
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v valgrind >/dev/null || missing+=(valgrind)
command -v make >/dev/null || missing+=(make)
# The install test (tests/install) builds C++ programs with pkg-config and CMake.
command -v g++ >/dev/null || missing+=(g++)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v cmake >/dev/null || missing+=(cmake)
command -v go >/dev/null || missing+=(golang-go)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ! command -v cargo >/dev/null; then
    echo "install-deps: cargo not found; install Rust (rustup) first" >&2
    exit 1
fi
if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}"
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO=sudo
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
for c in rustfmt clippy; do
    if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1; then
        rustup component add "$c"
    fi
done
if command -v go >/dev/null; then
    v=$(go env GOVERSION | sed 's/^go//')
    if [[ $(printf '%s\n1.24\n' "$v" | sort -V | head -1) != 1.24 ]]; then
        echo "install-deps: Go $v is older than 1.24 (bindings/go needs 1.24)" >&2
        exit 1
    fi
fi
if command -v node >/dev/null; then
    major=$(node -p 'process.versions.node.split(".")[0]')
    if ((major < 20)); then
        echo "install-deps: Node $(node --version) is older than 20 (bindings/node needs 20)" >&2
        exit 1
    fi
fi
