#!/usr/bin/env bash
# The clean-room test (`make cleanroom-test`, part of `make test`): installs
# every distributable of dist/ the way its users do, in a temporary
# directory, with no path into the checkout and none of the project's
# environment variables, and uses it there:
#
#   python  pip install of the wheel into a fresh venv        tests/cleanroom/python.sh
#   node    npm install of the tarball into a fresh project   tests/cleanroom/node.sh
#   go      go get through a file-based module proxy          tests/cleanroom/go.sh
#   rust    cargo build against the packaged .crate           tests/cleanroom/rust.sh
#   c       dpkg -i of the .deb; C, C++ and CMake programs    tests/cleanroom/c.sh
#
# Each builds and runs a producer and a consumer (two processes) in its
# language and checks that the native library came from its package. Then a
# mixed-language exchange among the installed packages: the Debian
# package's `mpipc manager serve`, a Python producer, Go, Node and Rust
# consumers counting their jobs with atomic incr in a manager dict, and a C
# reader that checks the totals.
#
# Everything runs from a copy in a fresh directory: this folder's scripts
# and sources and the distributables are copied there first, each step runs
# under `env -i` with HOME, TMPDIR and a PATH of system and toolchain
# directories only, and at the end no text file there may name the
# checkout. Installing the .deb needs root (CI runs as root); the package is
# removed again at the end unless it was installed before.
#
#   bash tests/cleanroom/run.sh DISTDIR [ECO ...]     (KEEP_CLEANROOM=1 keeps the directory)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DIST_SRC="$(cd "${1:?usage: run.sh DISTDIR [ECO ...]}" && pwd)"
shift
ecos=("$@")
((${#ecos[@]})) || ecos=(python node go rust c)

SCRATCH="$(mktemp -d /tmp/mpipc-cleanroom.XXXXXX)"
START=$(date +%s%N)
MGR_PID=""
deb_was_installed=0
dpkg-query -W -f='${Status}' mpipc 2>/dev/null | grep -q "install ok installed" && deb_was_installed=1

cleanup() {
    local rc=$?
    if [[ -n "$MGR_PID" ]]; then
        kill "$MGR_PID" 2>/dev/null || true
        wait "$MGR_PID" 2>/dev/null || true
    fi
    if ((!deb_was_installed)) && dpkg-query -W -f='${Status}' mpipc 2>/dev/null | grep -q "install ok installed"; then
        ${SUDO:-} dpkg -r mpipc >/dev/null || echo "cleanroom: could not remove the mpipc package" >&2
    fi
    if ((rc == 0)) && [[ -z "${KEEP_CLEANROOM:-}" ]]; then
        rm -rf "$SCRATCH"
    else
        echo "cleanroom: left $SCRATCH for inspection" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo -n"

elapsed() { local ms=$((($(date +%s%N) - $1) / 1000000)); printf '%d.%03d s' $((ms / 1000)) $((ms % 1000)); }

# The copies: distributables and the harness (scripts and program sources).
mkdir -p "$SCRATCH/dist" "$SCRATCH/harness" "$SCRATCH/home-tmp"
cp -a "$DIST_SRC"/. "$SCRATCH/dist/"
cp -a "$HERE"/. "$SCRATCH/harness/"

# PATH: system directories plus the directory of each toolchain the steps
# use (the language's own tools are the user's, not the project's).
path_dirs=(/usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin)
for tool in go node npm cargo rustc cc python3; do
    t=$(command -v "$tool" || true)
    [[ -n "$t" ]] || continue
    d=$(dirname "$t")
    [[ " ${path_dirs[*]} " == *" $d "* ]] || path_dirs=("$d" "${path_dirs[@]}")
done
# pyenv's shims need pyenv: name the interpreter's own directory instead.
py_dir=$(dirname "$(python3 -c 'import sys; print(sys.executable)')")
path_dirs=("$py_dir" "${path_dirs[@]}")
CLEAN_PATH=$(IFS=:; echo "${path_dirs[*]}")
case ":$CLEAN_PATH:" in
    *":$ROOT"/*) echo "cleanroom: note: a toolchain lives in the checkout ($CLEAN_PATH); only its tools are used" >&2 ;;
esac

CLEAN_ENV=(HOME="$HOME" PATH="$CLEAN_PATH" TMPDIR="$SCRATCH/home-tmp" LANG=C.UTF-8)
in_cleanroom() {
    (cd "$SCRATCH" && exec env -i "${CLEAN_ENV[@]}" "$@")
}

for eco in "${ecos[@]}"; do
    echo "== cleanroom: $eco"
    t=$(date +%s%N)
    in_cleanroom bash "$SCRATCH/harness/$eco.sh" "$SCRATCH/dist" "$SCRATCH"
    echo "== cleanroom: $eco passed in $(elapsed "$t")"
done

# The mixed-language exchange, with every package installed.
if [[ " ${ecos[*]} " == *" python "* && " ${ecos[*]} " == *" go "* && " ${ecos[*]} " == *" node "* &&
    " ${ecos[*]} " == *" rust "* && " ${ecos[*]} " == *" c "* ]]; then
    echo "== cleanroom: mixed-language exchange"
    t=$(date +%s%N)
    JOBS=3000
    SOCK="$SCRATCH/mgr.sock"
    ADDR="unix:$SOCK"
    QUEUE="/cr-mix-$$"
    # The Debian package's command, found through the clean PATH.
    # Not through in_cleanroom: a backgrounded function is a subshell of its
    # own, and $! must be the server's PID for the trap to stop it. The
    # subshell execs env, which execs the server.
    (cd "$SCRATCH" && exec env -i "${CLEAN_ENV[@]}" mpipc manager serve --address "$ADDR") 2>"$SCRATCH/mgr.log" &
    MGR_PID=$!
    # Wait for the server's state (it answers a ping), not for a duration.
    for ((i = 0; ; i++)); do
        in_cleanroom mpipc manager call "$ADDR" manager "" ping '[]' >/dev/null 2>&1 && break
        kill -0 "$MGR_PID" 2>/dev/null || { cat "$SCRATCH/mgr.log" >&2; echo "cleanroom: manager server died" >&2; exit 1; }
        ((i < 3000)) || { echo "cleanroom: manager server never answered" >&2; exit 1; }
        sleep 0.01
    done
    # The queue exists before the consumers start, so they all wait on it
    # when the producer (which attaches with the same size) begins: each
    # language takes a share, and the C reader checks the sum of the shares.
    in_cleanroom "$SCRATCH/rust/mix" create "$QUEUE" $((JOBS + 3))
    pids=()
    for eco in go node rust; do
        in_cleanroom "$SCRATCH/$eco/mix" consume "$QUEUE" "$ADDR" &
        pids+=($!)
    done
    in_cleanroom "$SCRATCH/python/mix" produce "$QUEUE" "$JOBS" 3
    for p in "${pids[@]}"; do wait "$p"; done
    in_cleanroom "$SCRATCH/c/mix" read "$ADDR" "$JOBS"
    in_cleanroom mpipc rm "$QUEUE" --kind queue >/dev/null
    echo "== cleanroom: mixed-language exchange passed in $(elapsed "$t")"
fi

# Nothing installed or built there may point into the checkout.
if leaks=$(grep -rIlF "$ROOT" "$SCRATCH" --exclude-dir=harness --exclude=mgr.log 2>/dev/null); then
    echo "cleanroom: these files name the checkout ($ROOT):" >&2
    echo "$leaks" | head -20 >&2
    exit 1
fi
echo "cleanroom: ${#ecos[@]} packages passed in $(elapsed "$START")"
