#!/usr/bin/env bash
# Gives cargo's outputs of the C library crate (capi/: libmpipc_ffi.so,
# libmpipc_ffi.a, named after its lib target) the library's real names next
# to them in a profile directory such as target/release:
#   libmpipc.so   -> libmpipc_ffi.so   what -lmpipc links
#   libmpipc.so.0 -> libmpipc_ffi.so   the soname, what linked programs load
#   libmpipc.a    -> libmpipc_ffi.a    the static library
# The in-tree C tests, examples and bindings use these names; the packages
# copy the files under them. Relative symlinks, so they follow rebuilds.
#
#   bash scripts/link-outputs.sh target/release
set -euo pipefail
dir="${1:?usage: link-outputs.sh PROFILE_DIR}"
major=$(sed -n 's/^version = "\([0-9]*\)\..*/\1/p' "$(dirname "$0")/../capi/Cargo.toml" | head -1)
for f in libmpipc_ffi.so libmpipc_ffi.a; do
    [[ -e "$dir/$f" ]] || { echo "link-outputs: $dir/$f missing (cargo build first)" >&2; exit 1; }
done
ln -sfn libmpipc_ffi.so "$dir/libmpipc.so"
ln -sfn libmpipc_ffi.so "$dir/libmpipc.so.$major"
ln -sfn libmpipc_ffi.a "$dir/libmpipc.a"
