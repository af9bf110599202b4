#!/usr/bin/env bash
# Creates the project-local virtualenv of the Python binding,
# build/venv-python, with the pinned dependencies of
# bindings/python/requirements.txt (cbor2, pytest). Idempotent: does
# nothing when the venv already holds exactly those pins.
#
#   bash bindings/python/setup-venv.sh [VENV_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${1:-$root/build/venv-python}
req=$here/requirements.txt
stamp=$venv/.mpipc-requirements
if [[ -x $venv/bin/python && -f $stamp ]] && cmp -s "$req" "$stamp"; then
    exit 0
fi
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    echo "setup-venv.sh: python3 cannot make a venv (Debian: apt-get install python3-venv)" >&2
    exit 1
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
cp "$req" "$stamp"
echo "setup-venv.sh: $venv ready ($(tr '\n' ' ' < <(grep -v '^#' "$req")))" >&2
