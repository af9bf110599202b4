#!/usr/bin/env bash
# Clean-room test of the Python wheel (run by tests/cleanroom/run.sh, with
# nothing of the checkout in the environment, cwd = SCRATCH):
#
#   tests/cleanroom/python.sh DISTDIR SCRATCH
#
# As a user would: a fresh venv in SCRATCH/python/venv made by the python3
# on PATH, `pip install DISTDIR/mpipc-<version>-py3-none-manylinux_*.whl`
# (cbor2 comes from the package index), nothing else installed or set.
# Checks that the library loaded is the one inside the installed package
# (mpipc._ffi.LIB_PATH in the venv's site-packages, and the only libmpipc
# mapped into the process); runs a producer and a consumer (this
# directory's python/ sources, copied over) as two concurrent processes
# over a named queue; checks that pip refuses the wheel for other platforms
# (aarch64, musl). The same install, check and producer/consumer run again
# with pyenv's oldest and newest claimed Pythons (3.10, 3.13) when they are
# installed, and pyenv's 3.9, when installed, must be refused.
# Leaves SCRATCH/python/mix: `mix produce QUEUE N CONSUMERS`,
# `mix consume QUEUE MGR_ADDR` (lang "python"), and runs it once against a
# manager server of its own (python/manager.py).
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: tests/cleanroom/python.sh DISTDIR SCRATCH" >&2
    exit 2
fi
DIST=$(cd "$1" && pwd)
SCRATCH=$(cd "$2" && pwd)
# The test programs' sources: the only files this script reads from the
# checkout (copied into SCRATCH/python first).
SRC=$(cd "$(dirname "$0")/python" && pwd)
W=$SCRATCH/python
N=2000
PYENV_VERSIONS=$HOME/.pyenv/versions

fail() { echo "cleanroom python: FAIL: $*" >&2; exit 1; }
step() { echo "cleanroom python: $*"; }

# 0. The platform the wheel is for, and the tools a Python user has.
[[ $(uname -s) == Linux && $(uname -m) == x86_64 ]] ||
    fail "the mpipc wheel is for x86-64 Linux with glibc; this host is $(uname -s) $(uname -m)"
command -v python3 >/dev/null || fail "python3 is not on PATH"
shopt -s nullglob
wheels=("$DIST"/mpipc-*.whl)
shopt -u nullglob
[[ ${#wheels[@]} -eq 1 ]] || fail "expected one mpipc-*.whl in $DIST, found ${#wheels[@]} (make dist builds it)"
WHEEL=${wheels[0]}
[[ $(basename "$WHEEL") == mpipc-*-py3-none-manylinux_2_*_x86_64.whl ]] ||
    fail "$(basename "$WHEEL") is not a py3-none-manylinux_2_*_x86_64 wheel"

rm -rf "$W"
mkdir -p "$W"
cp "$SRC"/*.py "$W/"

QUEUES=()
cleanup() {
    # Queues a failed run may have left in /dev/shm.
    if [[ -x $W/venv/bin/python ]] && ((${#QUEUES[@]})); then
        "$W/venv/bin/python" -c '
import sys, mpipc
for q in sys.argv[1:]:
    try:
        mpipc.unlink("queue", q)
    except FileNotFoundError:
        pass' "${QUEUES[@]}" || true
    fi
}
trap cleanup EXIT

# 1. The interpreters: python3 from PATH (its venv is the one `mix` uses),
# then pyenv's oldest and newest claimed versions, when installed.
pythons=("$(command -v python3)")
for v in 3.10 3.13; do
    p=$(compgen -G "$PYENV_VERSIONS/$v.*/bin/python$v" | sort -V | tail -n1 || true)
    [[ -n $p ]] && pythons+=("$p")
done

i=0
for py in "${pythons[@]}"; do
    v=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || fail "$py does not run"
    venv=$W/venv
    ((i == 0)) || venv=$W/venv-$v
    "$py" -c 'import ensurepip, venv' 2>/dev/null || fail "$py cannot make a venv (Debian: apt-get install python3-venv)"

    # 2. Install, as users do.
    "$py" -m venv "$venv"
    start=$(date +%s%N)
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$WHEEL" >"$W/pip-$v.log" 2>&1 ||
        { cat "$W/pip-$v.log" >&2; fail "Python $v: pip install $(basename "$WHEEL")"; }
    step "Python $v ($py): pip install $(basename "$WHEEL") in $((($(date +%s%N) - start) / 1000000)) ms"
    "$venv/bin/python" -m pip check --disable-pip-version-check >/dev/null ||
        fail "Python $v: pip check: $("$venv/bin/python" -m pip check --disable-pip-version-check)"

    # 3. The library loaded is the package's: inside the venv's
    # site-packages, and no other libmpipc mapped in the process.
    (cd "$W" && "$venv/bin/python" - "$venv" <<'EOF') || fail "Python $v: the library was not loaded from the installed package"
import os, sys, sysconfig
import mpipc, mpipc._ffi

venv = os.path.realpath(sys.argv[1])
assert os.path.realpath(sys.prefix) == venv, (sys.prefix, venv)
site = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
pkg = os.path.realpath(os.path.dirname(mpipc.__file__))
lib = os.path.realpath(mpipc._ffi.LIB_PATH)
assert lib == os.path.join(pkg, "libmpipc.so"), "loaded %s, not the package's %s/libmpipc.so" % (lib, pkg)
assert any(lib.startswith(s + os.sep) for s in site), "%s is not in the venv's site-packages %s" % (lib, site)
with open("/proc/self/maps") as f:
    mapped = {line.split(None, 5)[5].strip() for line in f if "libmpipc" in line}
assert mapped == {lib}, "libmpipc files mapped: %s" % mapped
print("cleanroom python: mpipc %s, library %s (%s)" % (mpipc.__version__, lib, mpipc.LIB_VERSION))
EOF

    # 4. A producer and a consumer, two concurrent processes; the queue
    # holds 8, so the producer waits for the consumer.
    q="cr-py-$$-$i"
    QUEUES+=("$q")
    "$venv/bin/python" "$W/consumer.py" "$q" >"$W/consumer-$v.out" 2>&1 &
    cpid=$!
    "$venv/bin/python" "$W/producer.py" "$q" "$N" >"$W/producer-$v.out" 2>&1 ||
        { cat "$W/producer-$v.out" >&2; kill "$cpid" 2>/dev/null || true; fail "Python $v: producer failed"; }
    wait "$cpid" || { cat "$W/consumer-$v.out" >&2; fail "Python $v: consumer failed"; }
    want="python consumed $N idsum $((N * (N - 1) / 2)) (library $(realpath "$venv")/"
    grep -qF "$want" "$W/consumer-$v.out" ||
        { cat "$W/consumer-$v.out" >&2; fail "Python $v: the consumer did not report '$want...'"; }
    step "Python $v: $(head -n1 "$W/producer-$v.out" | cut -d' ' -f1-3), $(head -n1 "$W/consumer-$v.out" | cut -d' ' -f1-5)"
    i=$((i + 1))
done

# 5. Other platforms are refused by pip (the wheel's tags), and so are
# Pythons older than requires-python.
for plat in manylinux_2_34_aarch64 musllinux_1_2_x86_64; do
    if "$W/venv/bin/python" -m pip install --disable-pip-version-check --dry-run --no-deps --only-binary=:all: \
        --platform "$plat" --target "$W/refused" "$WHEEL" >"$W/refuse.log" 2>&1; then
        fail "pip would install $(basename "$WHEEL") for $plat"
    fi
    grep -q "is not a supported wheel on this platform" "$W/refuse.log" ||
        { cat "$W/refuse.log" >&2; fail "pip refused the wheel for $plat, but not for its platform"; }
done
step "pip refuses the wheel for aarch64 and musl"
old=$(compgen -G "$PYENV_VERSIONS/3.9.*/bin/python3.9" | sort -V | tail -n1 || true)
if [[ -n $old ]]; then
    "$old" -m venv "$W/venv-3.9"
    if "$W/venv-3.9/bin/python" -m pip install --disable-pip-version-check --no-deps "$WHEEL" >"$W/refuse.log" 2>&1; then
        fail "Python 3.9 installed $(basename "$WHEEL") (requires-python >=3.10)"
    fi
    grep -q "requires a different Python" "$W/refuse.log" ||
        { cat "$W/refuse.log" >&2; fail "Python 3.9 refused the wheel for another reason"; }
    step "pip on Python 3.9 refuses the wheel (requires a different Python)"
fi

# 6. The mixed exchange's roles, and one run of them: a producer, two
# consumers as separate processes, against a manager server of our own.
cat >"$W/mix" <<EOF
#!/bin/sh
# The Python roles of the clean-room's mixed exchange (mix.py).
exec "$W/venv/bin/python" "$W/mix.py" "\$@"
EOF
chmod +x "$W/mix"
coproc MGR { "$W/venv/bin/python" -u "$W/manager.py" "$W/mgr.sock" 2>"$W/manager.log"; }
# shellcheck disable=SC2153 # MGR_PID is set by coproc
mgr_pid=$MGR_PID
mgr_in=${MGR[1]}
mgr_out=${MGR[0]}
# Waits for the server's "ready" line (the bound only catches a hang).
read -r -t 60 line <&"$mgr_out" || { cat "$W/manager.log" >&2; fail "the manager server never said ready"; }
[[ $line == ready ]] || fail "the manager server said '$line'"
mq="/cr-pymix-$$"
QUEUES+=("$mq")
"$W/mix" produce "$mq" 300 2 >"$W/mix-produce.out" || fail "mix produce"
"$W/mix" consume "$mq" "unix:$W/mgr.sock" >"$W/mix-consume-1.out" &
c1=$!
"$W/mix" consume "$mq" "$W/mgr.sock" >"$W/mix-consume-2.out" &
c2=$!
wait "$c1" || fail "mix consume (1)"
wait "$c2" || fail "mix consume (2)"
k1=$(sed -n 's/^python consumed \([0-9]*\)$/\1/p' "$W/mix-consume-1.out")
k2=$(sed -n 's/^python consumed \([0-9]*\)$/\1/p' "$W/mix-consume-2.out")
[[ -n $k1 && -n $k2 && $((k1 + k2)) -eq 300 ]] || fail "mix consumers consumed '$k1' + '$k2', not 300"
echo "check 300 python" >&"$mgr_in"
read -r -t 60 line <&"$mgr_out" || fail "the manager server did not answer the check"
[[ $line == ok* ]] || fail "counts: $line"
exec {mgr_in}>&-
wait "$mgr_pid" || { cat "$W/manager.log" >&2; fail "the manager server failed"; }
step "mix: produce 300, two consumers ($k1 + $k2), counts in the manager dict $line"
step "passed"
