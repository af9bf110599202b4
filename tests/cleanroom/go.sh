#!/usr/bin/env bash
# Clean-room test of the Go module (run by tests/cleanroom/run.sh):
#
#   tests/cleanroom/go.sh DISTDIR SCRATCH
#
# As a user would: a fresh module in SCRATCH/go, `go get` of
# github.com/mpipc/mpipc/bindings/go@v0.1.0, `go build` of a producer and a
# consumer (tests/cleanroom/go/, copied over), nothing else installed or
# set. Checks that the programs carry the library inside (statically
# linked from the module's prebuilt/linux-amd64/libmpipc.a: no libmpipc.so
# needed, no RUNPATH/RPATH), that `go mod verify` accepts the module and
# that a vendored build links too; runs the producer and the consumer as
# two processes against a manager (the checker), which checks the counts.
# Leaves SCRATCH/go/mix: `mix produce QUEUE N CONSUMERS`,
# `mix consume QUEUE MGR_ADDR` (lang "go").
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: tests/cleanroom/go.sh DISTDIR SCRATCH" >&2
    exit 2
fi
DISTDIR=$(cd "$1" && pwd)
SCRATCH=$(cd "$2" && pwd)
SOURCES=$(cd "$(dirname "$0")/go" && pwd)
APP=$SCRATCH/go
MODULE=github.com/mpipc/mpipc/bindings/go
fail() { echo "cleanroom/go: FAIL: $*" >&2; exit 1; }
step() { echo "cleanroom/go: $*"; }

command -v go >/dev/null || fail "go is not on PATH"
[[ -d $DISTDIR/goproxy ]] || fail "$DISTDIR/goproxy is missing (make dist: packaging/go/dist.sh)"

# These three stand in for publication: once the module is on the public
# proxy, a user sets none of them. GOPROXY serves dist/'s copy of the module
# and its dependencies; GOSUMDB=off because the checksum database has never
# seen this module; -mod=mod lets go update go.mod/go.sum as go get does.
export GOPROXY=file://$DISTDIR/goproxy GOSUMDB=off
# A module cache of our own proves the proxy above is self-sufficient
# (nothing comes from the user's cache); -modcacherw leaves it removable.
# The build cache (GOCACHE) stays the user's: it only holds compiled code.
export GOFLAGS="-mod=mod -modcacherw" GOMODCACHE=$SCRATCH/go-modcache

rm -rf "$APP"
mkdir -p "$APP/bin"
cd "$APP"
start=$(date +%s)
go mod init example.com/app >/dev/null 2>&1
go get "$MODULE@v0.1.0"
step "go get $MODULE@v0.1.0: $(($(date +%s) - start)) s"
for p in producer consumer checker; do
    mkdir -p "$p"
    cp "$SOURCES/$p/main.go" "$p/"
done
go build -o bin/ ./producer ./consumer ./checker
step "go build: $(($(date +%s) - start)) s since go get"
go mod verify

# The module came from the proxy into our cache, with its prebuilt library.
dir=$(go list -m -f '{{.Dir}}' "$MODULE")
[[ $dir == "$GOMODCACHE"/* ]] || fail "$MODULE is in $dir, not in the module cache $GOMODCACHE"
[[ -f $dir/prebuilt/linux-amd64/libmpipc.a ]] || fail "$dir has no prebuilt/linux-amd64/libmpipc.a"

# check_static BINARY: libmpipc is inside BINARY, not loaded from anywhere.
check_static() {
    local dyn
    dyn=$(readelf -d "$1")
    if grep -Eq '\((RUNPATH|RPATH)\)' <<<"$dyn"; then
        fail "$1 has a RUNPATH/RPATH: $(grep -E 'RUNPATH|RPATH' <<<"$dyn")"
    fi
    if grep -q 'NEEDED.*libmpipc' <<<"$dyn"; then
        fail "$1 needs a shared libmpipc: $(grep NEEDED <<<"$dyn")"
    fi
    # (grep without -q: it reads all of nm's output, no SIGPIPE for pipefail)
    nm "$1" | grep ' T mp_version$' >/dev/null || fail "$1 does not contain libmpipc (no mp_version)"
}
for b in producer consumer checker; do
    check_static "bin/$b"
done
step "static: no libmpipc.so needed, no RUNPATH/RPATH, mp_version inside ($(grep NEEDED <<<"$(readelf -d bin/producer)" | sed 's/.*\[\(.*\)\]/\1/' | tr '\n' ' '))"

# Vendoring copies prebuilt/ too (vendor.go), so -mod=vendor links as well.
go mod vendor
[[ -f vendor/$MODULE/prebuilt/linux-amd64/libmpipc.a ]] || fail "go mod vendor left out prebuilt/"
go build -mod=vendor -o "$SCRATCH/go-vendored-producer" ./producer
check_static "$SCRATCH/go-vendored-producer"
rm -rf vendor "$SCRATCH/go-vendored-producer"
step "go mod vendor + go build -mod=vendor ok"

# The producer and the consumer, two processes, counted by the checker's
# manager; every wait below is for a line or an exit, never for a time.
N=500
QUEUE=/cr-go-$$
SOCK=$APP/mgr.sock
coproc CHECKER { exec "$APP/bin/checker" "unix:$SOCK" "$QUEUE" "$N"; }
checker_pid=$CHECKER_PID
checker_out=${CHECKER[0]}
checker_in=${CHECKER[1]}
read -r line <&"$checker_out" || fail "the checker did not start its manager"
[[ $line == ready ]] || fail "checker: $line"
bin/producer "$QUEUE" "$N" 1 || fail "producer"
out=$(bin/consumer "$QUEUE" "unix:$SOCK") || fail "consumer: $out"
[[ $out == "go consumed $N" ]] || fail "consumer printed '$out', expected 'go consumed $N'"
exec {checker_in}>&-
read -r line <&"$checker_out" || true
wait "$checker_pid" || fail "checker: ${line:-no output}"
step "producer -> consumer: $out; $line"

cat >"$APP/mix" <<MIX
#!/usr/bin/env bash
# The Go roles of the clean-room mixed-language exchange (lang "go"):
#   mix produce QUEUE N CONSUMERS
#   mix consume QUEUE MGR_ADDR
set -euo pipefail
case \${1:-} in
    produce) shift; exec "$APP/bin/producer" "\$@" ;;
    consume) shift; exec "$APP/bin/consumer" "\$@" ;;
    *) echo "usage: mix produce QUEUE N CONSUMERS | mix consume QUEUE MGR_ADDR" >&2; exit 2 ;;
esac
MIX
chmod +x "$APP/mix"
step "ok ($APP/mix)"
