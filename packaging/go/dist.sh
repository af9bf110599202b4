#!/usr/bin/env bash
# The Go module as it is published, as a file-based module proxy (make dist):
#
#   packaging/go/dist.sh LIBDIR DISTDIR
#
# writes DISTDIR/goproxy/, usable as GOPROXY=file://DISTDIR/goproxy:
#
#   github.com/mpipc/mpipc/bindings/go/@v/v0.1.0.{zip,mod,info}, list
#       the module: bindings/go without its tests (they read the
#       repository's header and test vectors), plus the licences, plus
#       prebuilt/include/mpipc.h and prebuilt/linux-amd64/libmpipc.a (from
#       LIBDIR, stripped), which its default build links statically
#       (wasmtime-go's pattern: go get + go build, nothing else)
#   github.com/fxamacker/cbor/v2/@v/..., github.com/x448/float16/@v/...
#       its dependencies at the versions go.sum pins, copied from the go
#       command's download cache, so that the proxy is self-sufficient
#
# The zip is made by golang.org/x/mod/zip (packaging/go/modzip, pinned in
# its go.mod/go.sum): the go command's own code, so `go get` and
# `go mod verify` accept it. Reproducible: the files' content and order
# only, the version's time is SOURCE_DATE_EPOCH or the last commit's.
# Stages under build/go-dist/; touches nothing else in DISTDIR.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: packaging/go/dist.sh LIBDIR DISTDIR" >&2
    exit 2
fi
LIBDIR=$(cd "$1" && pwd)
DISTDIR=$(cd "$2" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SRC=$ROOT/bindings/go
STAGE=$ROOT/build/go-dist
MODDIR=$STAGE/module
PROXY=$STAGE/goproxy

VERSION=v$(sed -n 's/^const BindingVersion = "\(.*\)"$/\1/p' "$SRC/version.go")
[[ $VERSION =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    { echo "go/dist: cannot read BindingVersion from $SRC/version.go (got '$VERSION')" >&2; exit 1; }
EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct)}
WHEN=$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)

rm -rf "$STAGE"
mkdir -p "$MODDIR" "$PROXY"

# 1. The module's files: what the checkout has in bindings/go (git's view:
# committed or new, not ignored; the prebuilt files are ignored), minus
# the tests, plus the licences.
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard -- bindings/go) |
    while IFS= read -r -d '' f; do
        rel=${f#bindings/go/}
        [[ -f $ROOT/$f && $rel != *_test.go ]] || continue
        install -D -m 0644 "$ROOT/$f" "$MODDIR/$rel"
    done
install -m 0644 "$ROOT/LICENSE-MIT" "$ROOT/LICENSE-APACHE" "$MODDIR/"
# The licences of the Rust crates inside prebuilt/linux-amd64/libmpipc.a.
bash "$ROOT/packaging/third-party.sh" "prebuilt/linux-amd64/libmpipc.a" >"$MODDIR/THIRD-PARTY.txt"
bash "$ROOT/packaging/go/stage-prebuilt.sh" "$LIBDIR" "$MODDIR" >/dev/null

# 2. The module's zip, .mod, .info and list.
(cd "$ROOT/packaging/go/modzip" &&
    GOFLAGS="-mod=readonly -buildvcs=false" go run . -dir "$MODDIR" -version "$VERSION" -time "$WHEN" -proxy "$PROXY")

# 3. Its dependencies, as go.sum pins them: `go mod download` fills the
# download cache, whose layout is the proxy's.
CACHE=$(go env GOMODCACHE)/cache/download
(cd "$MODDIR" && GOFLAGS=-mod=readonly go mod download -json all) >"$STAGE/deps.json"
python3 - "$STAGE/deps.json" "$CACHE" "$PROXY" <<'PY'
import json, os, shutil, sys
raw, cache, proxy = sys.argv[1:]
dec, text, pos, mods = json.JSONDecoder(), open(raw).read(), 0, []
while pos < len(text.rstrip()):
    obj, pos = dec.raw_decode(text, pos)
    pos += len(text[pos:]) - len(text[pos:].lstrip())
    mods.append(obj)
for m in mods:
    if m.get("Error"):
        sys.exit("go/dist: go mod download %s@%s: %s" % (m["Path"], m.get("Version"), m["Error"]))
    for key in ("Info", "GoMod", "Zip"):
        src = m[key]
        rel = os.path.relpath(src, cache)
        if rel.startswith(".."):
            sys.exit("go/dist: %s is outside the download cache %s" % (src, cache))
        dst = os.path.join(proxy, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(src, dst)
    vdir = os.path.dirname(os.path.join(proxy, os.path.relpath(m["GoMod"], cache)))
    with open(os.path.join(vdir, "list"), "a") as f:
        f.write(m["Version"] + "\n")
    print("go/dist: dependency %s %s %s" % (m["Path"], m["Version"], m["Sum"]))
PY

rm -rf "$DISTDIR/goproxy"
cp -R "$PROXY" "$DISTDIR/goproxy"
zip=$(find "$DISTDIR/goproxy" -path "*/bindings/go/@v/$VERSION.zip")
echo "go/dist: $DISTDIR/goproxy ($(du -sh "$DISTDIR/goproxy" | cut -f1)): module zip $(du -h "$zip" | cut -f1)"
