#!/usr/bin/env bash
# Checks that a stock Debian 12 without Go or Node gets working toolchains
# from `make deps` (scripts/install-deps.sh + scripts/toolchains.sh): builds
# a minimal Debian 12 chroot with debootstrap (from the apt mirror this
# machine is configured with), copies the checkout's files into it, mounts
# the host's Rust read-only, and in it runs `make deps`, then Go and Node
# code with the Makefile's PATH (the Go and Node bindings' test suites), a
# second `make deps` (must install nothing) and, with --demo, `make demo`.
# Not part of `make test`: needs root, network to the registries and
# ~10 minutes. See tests/toolchains/README.md.
#
#   sudo bash tests/toolchains/run.sh [--demo] [--go122] [WORKDIR]
#
#   --demo    also run `make demo` (with CARGO=true: the library is the
#             checkout's prebuilt target/release, copied in; the chroot
#             does not rebuild the crate)
#   --go122   preinstall Go 1.22 (Debian bookworm-backports' golang-1.22 as
#             /usr/bin/go, as Ubuntu 24.04's golang-go is) to check the
#             upgrade from a distribution Go that has GOTOOLCHAIN
#   WORKDIR   where the chroots live (default /var/tmp/mpipc-toolchains);
#             WORKDIR/base is the pristine debootstrap, kept for reruns
set -euo pipefail
demo=0 go122=0 workdir=/var/tmp/mpipc-toolchains
for a in "$@"; do
    case $a in
    --demo) demo=1 ;;
    --go122) go122=1 ;;
    -*) echo "run.sh: unknown option $a" >&2; exit 2 ;;
    *) workdir=$a ;;
    esac
done
[[ $(id -u) -eq 0 ]] || { echo "run.sh: needs root (debootstrap, chroot, mounts)" >&2; exit 1; }
repo=$(cd "$(dirname "$0")/../.." && pwd)
base=$workdir/base
root=$workdir/root
src=/src/mpipc # the checkout's place inside the chroot

log() { echo "== toolchains test: $*"; }
mounted_under() { findmnt -rn -o TARGET | awk -v p="$1/" 'index($0 "/", p) == 1'; }
unmount_all() {
    local m
    # Deepest first.
    for m in $(mounted_under "$root" | sort -r); do umount -l "$m"; done
}
trap unmount_all EXIT

# The mirror of this machine's own apt configuration (the first Debian
# archive URI), so the chroot needs no network access the host lacks.
mirror() {
    local f u
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -e $f ]] || continue
        u=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' "$f")
        [[ -n $u ]] && { echo "$u"; return; }
    done
    u=$(awk '$1 == "deb" && $3 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
    [[ -n $u ]] || { echo "run.sh: no Debian mirror in /etc/apt/sources.list*" >&2; exit 1; }
    echo "$u"
}

if [[ ! -x $base/usr/bin/apt-get ]]; then
    command -v debootstrap >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }
    rm -rf "$base.tmp"
    log "debootstrap --variant=minbase bookworm from $(mirror)"
    t=$SECONDS
    debootstrap --variant=minbase bookworm "$base.tmp" "$(mirror)" >"$workdir/debootstrap.log" 2>&1 ||
        { tail -20 "$workdir/debootstrap.log" >&2; exit 1; }
    mv "$base.tmp" "$base"
    log "debootstrap took $((SECONDS - t)) s"
fi

# A fresh copy of the pristine system for every run.
[[ -z $(mounted_under "$root") ]] || { echo "run.sh: something is still mounted under $root" >&2; exit 1; }
rm -rf "$root"
cp -a "$base" "$root"
# The stock suites (bookworm, -updates, -security) as this machine has them.
if [[ -e /etc/apt/sources.list.d/debian.sources ]]; then
    rm -f "$root/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
# Local CA certificates of this machine (a TLS-intercepting egress proxy in
# a sandbox; none on a stock machine): picked up when install-deps installs
# ca-certificates, whose update-ca-certificates reads this directory.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi

# The checkout's files (tracked and new, not ignored ones such as build/,
# target/, node_modules/), copied: the chroot writes build/ of its own.
mkdir -p "$root$src"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
    tar --null -T - -cf -) | tar -C "$root$src" -xf -
if ((demo)); then
    # The prebuilt library (make demo runs `make build-release`: CARGO=true
    # turns its cargo step into a no-op, link-outputs.sh still runs).
    mkdir -p "$root$src/target/release"
    cp -a "$repo"/target/release/libmpipc* "$repo/target/release/mpipc" "$root$src/target/release/"
fi

# Rust, read-only, at the same paths as on this machine.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
for d in "$cargo_home" "$rustup_home"; do
    mkdir -p "$root$d"
    mount --bind "$d" "$root$d"
    mount -o remount,bind,ro "$root$d"
done
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
# A private /dev/shm: the demo's shared memory stays in the chroot.
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"

# A clean environment: what a fresh login has, plus Rust. The CA variables
# of this machine are passed on when set (same reason as the certificates).
envs=(HOME=/root LANG=C.UTF-8 "PATH=$cargo_home/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    "CARGO_HOME=$cargo_home" "RUSTUP_HOME=$rustup_home")
for v in SSL_CERT_FILE NODE_EXTRA_CA_CERTS PIP_CERT REQUESTS_CA_BUNDLE; do
    [[ -n ${!v:-} ]] && envs+=("$v=${!v}")
done
in_chroot() { chroot "$root" env -i "${envs[@]}" bash -euo pipefail -c "$1"; }

log "inside: $(in_chroot '. /etc/os-release; echo "$PRETTY_NAME"'); go: $(in_chroot 'command -v go || echo none'); node: $(in_chroot 'command -v node || echo none')"
# `make` itself is the one thing a user needs to type `make deps`.
log "apt-get install make (the prerequisite of typing make)"
in_chroot 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make >/dev/null'
if ((go122)); then
    log "preinstalling Go 1.22 from bookworm-backports as /usr/bin/go (Ubuntu 24.04's golang-go)"
    in_chroot 'echo "deb '"$(mirror)"' bookworm-backports main" >/etc/apt/sources.list.d/backports.list
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports golang-1.22-go >/dev/null
        ln -sf ../lib/go-1.22/bin/go /usr/bin/go; ln -sf ../lib/go-1.22/bin/gofmt /usr/bin/gofmt
        go version'
fi

log "make deps"
t=$SECONDS
in_chroot "cd $src && make deps" 2>&1 | tee "$workdir/make-deps.log"
log "make deps took $((SECONDS - t)) s"
grep -q 'toolchains.sh: installed Go go1' "$workdir/make-deps.log" || { echo "FAIL: make deps installed no Go toolchain" >&2; exit 1; }
grep -q 'toolchains.sh: installed Node v' "$workdir/make-deps.log" || { echo "FAIL: make deps installed no Node" >&2; exit 1; }

# What the Makefile's PATH gives every recipe.
check='tc-check: ; @for c in go node npm; do command -v $$c; done; go version && node --version && npm --version'
out=$(in_chroot "cd $src && make -s --eval='$check' tc-check")
echo "$out"
grep -qx "$src/build/tools/go/bin/go" <<<"$out" || { echo "FAIL: go on the Makefile's PATH is not build/tools/go/bin/go" >&2; exit 1; }
grep -qx "$src/build/tools/node/bin/node" <<<"$out" || { echo "FAIL: node on the Makefile's PATH is not build/tools/node/bin/node" >&2; exit 1; }
# The pins of scripts/toolchains.sh.
go_pin=$(sed -n 's/^GO_TOOLCHAIN=//p' "$repo/scripts/toolchains.sh")
node_pin=$(sed -n 's/^NODE_VERSION=//p' "$repo/scripts/toolchains.sh")
if ! grep -q "^go version $go_pin " <<<"$out" || ! grep -qx "v$node_pin" <<<"$out"; then
    echo "FAIL: not the pinned versions ($go_pin, v$node_pin)" >&2
    exit 1
fi
# The distribution's own are still the old ones: it is PATH that matters.
in_chroot 'echo "outside make: $(command -v go) $(go version | cut -d" " -f3), $(command -v node) $(node --version)"'

log "a second make deps installs nothing"
out=$(in_chroot "cd $src && make deps" 2>&1)
[[ -z $out ]] || { echo "$out"; echo "FAIL: the second make deps did something" >&2; exit 1; }

log "Go and Node code with the Makefile's PATH: a cgo program, a Node program"
in_chroot "mkdir -p /tmp/hello && cd /tmp/hello && cat >main.go <<'EOF'
package main

// #include <stdio.h>
// static int answer(void) { return 42; }
import \"C\"

import (
	\"fmt\"
	\"runtime\"
)

func main() { fmt.Println(\"go\", runtime.Version(), \"cgo says\", C.answer()) }
EOF
printf 'module hello\n\ngo 1.24\n' >go.mod
cat >hello.mjs <<'EOF'
import { setTimeout as later } from 'node:timers/promises';
await later(1);
console.log('node', process.version, [1, 2, 3].findLast((x) => x < 3));
EOF
cd $src && make -s --eval='hello: ; cd /tmp/hello && go run . && node hello.mjs' hello"

if ((demo)); then
    log "the Go and Node bindings' suites (make go-tests node-tests, CARGO=true)"
    t=$SECONDS
    in_chroot "cd $src && make CARGO=true go-tests node-tests" >"$workdir/suites.log" 2>&1 ||
        { tail -40 "$workdir/suites.log"; echo "FAIL: make go-tests node-tests (log: $workdir/suites.log)" >&2; exit 1; }
    grep -E '^(ok|FAIL)[[:space:]]|^# (pass|fail) ' "$workdir/suites.log"
    log "go-tests + node-tests took $((SECONDS - t)) s"
    log "make demo (CARGO=true)"
    t=$SECONDS
    in_chroot "cd $src && make CARGO=true demo" 2>&1 | tee "$workdir/demo.log" | tail -25
    log "make demo took $((SECONDS - t)) s"
fi
log "PASS (logs in $workdir)"
