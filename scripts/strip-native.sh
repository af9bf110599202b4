#!/usr/bin/env bash
# Writes a stripped copy of one of mpipc's native files, the one policy
# every package and `make install` use:
#   a static library (*.a): --strip-debug, and without the LLVM bitcode
#     rustc embeds for LTO (.llvmbc, .llvmcmd: SHF_EXCLUDE, no C linker
#     uses it, and the system binutils' LTO plugin cannot read it): 35 MB
#     to under 6 MB;
#   anything else (the shared library, the command): --strip-unneeded.
#
#   scripts/strip-native.sh SRC DST      (SRC may be a symlink; DST is a new file)
set -euo pipefail
src="${1:?usage: strip-native.sh SRC DST}"
dst="${2:?usage: strip-native.sh SRC DST}"
case "$src" in
    *.a) strip --strip-debug -R .llvmbc -R .llvmcmd -o "$dst" "$src" ;;
    *) strip --strip-unneeded -o "$dst" "$src" ;;
esac
