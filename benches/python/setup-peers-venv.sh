#!/usr/bin/env bash
# Creates the virtualenv of the Python benchmarks' peers, build/venv-peers,
# with the pinned packages of benches/python/requirements-peers.txt
# (faster-fifo, UltraDict, pyzmq, redis-py: benchmark-only, never dependencies of the
# mpipc package), their build tools pinned by constraints-peers.txt. Some
# compile from source (UltraDict always, faster-fifo where no wheel fits),
# so a C/C++ compiler and Python's headers are installed with apt-get when
# missing (as scripts/install-deps.sh does). Idempotent: does nothing when
# the venv already holds exactly those pins.
#
#   bash benches/python/setup-peers-venv.sh [VENV_DIR]
#
# The peers' programs run in it: build/venv-peers/bin/python benches/python/peers_queue.py
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${1:-$root/build/venv-peers}
req=$here/requirements-peers.txt
con=$here/constraints-peers.txt
stamp=$venv/.mpipc-peers-requirements
if [[ -x $venv/bin/python && -f $stamp ]] && cmp -s <(cat "$req" "$con") "$stamp"; then
    exit 0
fi
missing=()
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
command -v g++ >/dev/null || missing+=(g++)
# Python.h, for the extensions that compile (Debian's python3 lacks it
# without python3-dev; a python3 built from source has it).
python3 -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
    || missing+=(python3-dev)
if ((${#missing[@]})); then
    echo "setup-peers-venv.sh: installing ${missing[*]}" >&2
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO=sudo
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
python3 -m venv "$venv"
PIP_CONSTRAINT=$con "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
cat "$req" "$con" > "$stamp"
echo "setup-peers-venv.sh: $venv ready ($(grep -v '^#' "$req" | tr '\n' ' '))" >&2
