#!/usr/bin/env bash
# The installed-wheel test (part of `make python-tests`): builds the wheel
# (packaging/python/dist.sh, into build/python-wheel-test/), installs it
# into a venv of every Python version the package claims -- the OLDEST
# (3.10) with the lower bounds of its dependency ranges
# (requirements-oldest.txt), the others up to the NEWEST (3.13) with the
# project's pins (bindings/python/requirements.txt) -- and runs the
# binding's whole pytest suite in each against the INSTALLED package
# (MPIPC_TEST_INSTALLED=1: the source tree is not on sys.path; MPIPC_LIB and
# PYTHONPATH unset, so the library inside the package is the one loaded,
# which the suite checks). About 40 s (a minute more the first time, when
# the venvs are made).
#
#   bash packaging/python/test-wheel.sh LIBDIR
#
# The interpreters are found as pythonX.Y on PATH or in pyenv's versions
# ($PYENV_ROOT, default ~/.pyenv); a missing one fails the test.
# The venvs (build/venv-python-wheel-X.Y) are kept while their
# requirements are unchanged; the wheel is reinstalled every run.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: packaging/python/test-wheel.sh LIBDIR" >&2
    exit 2
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LIBDIR=$(cd "$1" && pwd)
OUT=$ROOT/build/python-wheel-test
# version:requirements file, for every version pyproject.toml claims (its
# classifiers and requires-python).
PINS=$ROOT/bindings/python/requirements.txt
PAIRS=("3.10:$ROOT/packaging/python/requirements-oldest.txt" "3.11:$PINS" "3.12:$PINS" "3.13:$PINS")

die() { echo "python/test-wheel: $*" >&2; exit 1; }

find_python() {
    local v=$1 p
    # pyenv's shims are on PATH even for versions not selected (and then
    # fail): take the first candidate that runs and is that version.
    for p in "$(command -v "python$v" || true)" \
        $(compgen -G "${PYENV_ROOT:-$HOME/.pyenv}/versions/$v.*/bin/python$v" | sort -rV || true); do
        if [[ -n $p ]] && [[ $("$p" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) == "$v" ]]; then
            echo "$p"
            return
        fi
    done
    die "Python $v is not installed (neither python$v on PATH nor in ${PYENV_ROOT:-$HOME/.pyenv}/versions): the package claims it, so the test needs it (e.g. pyenv install $v)"
}

mkdir -p "$OUT"
bash "$ROOT/packaging/python/dist.sh" "$LIBDIR" "$OUT" >/dev/null
wheels=("$OUT"/mpipc-*.whl)
[[ ${#wheels[@]} -eq 1 && -f ${wheels[0]} ]] || die "expected one wheel in $OUT"
WHEEL=${wheels[0]}

# Outside the source tree: `python -m pytest` puts the cwd on sys.path.
RUNDIR=$(mktemp -d)
trap 'rm -rf "$RUNDIR"' EXIT
for pair in "${PAIRS[@]}"; do
    v=${pair%%:*}
    req=${pair#*:}
    py=$(find_python "$v")
    venv=$ROOT/build/venv-python-wheel-$v
    stamp=$venv/.mpipc-requirements
    want=$(printf '%s\n' "$py" && cat "$req")
    if ! [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
        rm -rf "$venv"
        "$py" -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
        printf '%s\n' "$want" >"$stamp"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$WHEEL"
    # The wheel's own requirements (cbor2's range) are met by the pins.
    "$venv/bin/python" -m pip check --disable-pip-version-check >/dev/null ||
        die "Python $v: $("$venv/bin/python" -m pip check --disable-pip-version-check)"
    echo "python/test-wheel: Python $("$venv/bin/python" -c 'import platform; print(platform.python_version())'), $(basename "$WHEEL"), $(grep -v '^#' "$req" | tr '\n' ' ')"
    (cd "$RUNDIR" && env -u MPIPC_LIB -u PYTHONPATH MPIPC_TEST_INSTALLED=1 \
        "$venv/bin/python" -m pytest -q --rootdir "$ROOT/bindings/python" "$ROOT/bindings/python/tests")
done
