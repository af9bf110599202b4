#!/usr/bin/env bash
# Clean-room test of the Node package: installs DISTDIR/mpipc-<version>.tgz
# into SCRATCH/node the way users do (npm init, npm install <tarball>; koffi
# comes from the npm registry), type-checks and compiles a TypeScript
# producer (a typed Queue<Job>), runs it and an ES-module consumer as two
# processes, checks every job arrived in order and that both processes
# loaded libmpipc (and koffi) from SCRATCH/node/node_modules, then leaves
# SCRATCH/node/mix (the mixed-exchange roles, see node/mix.js) and checks it.
#
# Usage: tests/cleanroom/node.sh DISTDIR SCRATCH   (run by tests/cleanroom/run.sh
# under env -i; reads nothing of the checkout but its own node/ directory)
set -euo pipefail

if [ "$#" -ne 2 ]; then
    echo "usage: $0 DISTDIR SCRATCH" >&2
    exit 2
fi
DISTDIR=$1
SCRATCH=$2
HERE=$(cd "$(dirname "$0")/node" && pwd)
N=300

fail() { echo "cleanroom/node: FAIL: $*" >&2; exit 1; }
say() { echo "cleanroom/node: $*"; }

if env | grep -q '^MPIPC_'; then
    fail "MPIPC_* variables are set ($(env | grep '^MPIPC_' | cut -d= -f1 | tr '\n' ' ')): the clean room runs without them"
fi
NODE=$(command -v node) || fail "node not found on PATH ($PATH)"
command -v npm >/dev/null || fail "npm not found on PATH ($PATH)"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

shopt -s nullglob
tarballs=("$DISTDIR"/mpipc-[0-9]*.tgz)
shopt -u nullglob
[ "${#tarballs[@]}" -eq 1 ] || fail "expected one mpipc-<version>.tgz in $DISTDIR, found ${#tarballs[@]} (make dist)"
TARBALL=${tarballs[0]}

W=$SCRATCH/node
rm -rf "$W"
mkdir -p "$W"
cd "$W"
W=$(pwd -P)

# --- install, as a user would
npm init -y >/dev/null
t0=$(date +%s%N)
npm install "$TARBALL" >/dev/null
t1=$(date +%s%N)
say "npm install $(basename "$TARBALL"): $(( (t1 - t0) / 1000000 )) ms"
[ -d node_modules/mpipc ] && [ ! -L node_modules/mpipc ] || fail "node_modules/mpipc is not an installed directory"
[ -f node_modules/mpipc/prebuilds/linux-x64/libmpipc.so ] || fail "the package has no prebuilds/linux-x64/libmpipc.so"
[ -d node_modules/koffi ] || fail "koffi was not installed as a dependency"
# The TypeScript compiler and Node's types, pinned as in bindings/node/package-lock.json.
npm install --save-dev typescript@5.9.3 @types/node@20.19.43 >/dev/null

cp "$HERE/producer.ts" "$HERE/consumer.mjs" "$HERE/tsconfig.json" "$HERE/mix.js" "$HERE/mixcheck.js" "$W/"

# --- TypeScript: the installed typings, strict, with a typed Queue<Job>
"$NODE" node_modules/typescript/bin/tsc -p "$W" || fail "tsc failed on producer.ts against the installed typings"
[ -f build/producer.js ] || fail "tsc wrote no build/producer.js"
say "tsc: producer.ts compiles against node_modules/mpipc/index.d.ts"

# --- a producer and a consumer, two processes at once
QUEUE=/cr-node-$$
"$NODE" consumer.mjs "$QUEUE" "$N" >consumer.out &
cpid=$!
if ! "$NODE" build/producer.js "$QUEUE" "$N" >producer.out; then
    kill "$cpid" 2>/dev/null || true
    wait "$cpid" 2>/dev/null || true
    fail "producer failed"
fi
wait "$cpid" || fail "consumer failed: $(cat consumer.out)"
grep -qx "produced $N" producer.out || fail "producer printed: $(cat producer.out)"
grep -qx "consumed $N idsum $(( N * (N - 1) / 2 ))" consumer.out || fail "consumer printed: $(cat consumer.out)"
say "producer -> consumer: $N jobs, in order"

# --- where the library came from: the package in node_modules, nothing else
for who in producer consumer; do
    "$NODE" -e '
        const fs = require("node:fs");
        const path = require("node:path");
        const [root, file, who] = process.argv.slice(1);
        const line = fs.readFileSync(file, "utf8").split("\n").find((l) => l.startsWith("LIB "));
        if (!line) { console.error(`${who}: no LIB line`); process.exit(1); }
        const r = JSON.parse(line.slice(4));
        const nm = path.join(root, "node_modules") + "/";
        const pkg = path.join(nm, "mpipc", "prebuilds", "linux-x64") + "/";
        const libs = r.mapped.filter((f) => path.basename(f).startsWith("libmpipc"));
        const koffi = r.mapped.filter((f) => /koffi/.test(f));
        const bad = [];
        if (!r.libraryPath.startsWith(pkg)) bad.push(`libraryPath ${r.libraryPath}`);
        if (libs.length === 0) bad.push("no libmpipc mapped");
        for (const f of libs) if (!f.startsWith(pkg)) bad.push(`libmpipc mapped from ${f}`);
        if (koffi.length === 0) bad.push("no koffi module mapped");
        for (const f of koffi) if (!f.startsWith(nm)) bad.push(`koffi mapped from ${f}`);
        if (bad.length) { console.error(`${who}: not loaded from ${nm}: ${bad.join("; ")}`); process.exit(1); }
        console.log(`cleanroom/node: ${who} loaded ${libs.join(", ")} and ${koffi.join(", ")}`);
    ' "$W" "$W/$who.out" "$who" || fail "$who did not load the library from the package"
done

# --- the mix roles for the mixed-language exchange
printf '#!/usr/bin/env bash\n# mpipc clean room: the Node roles of the mixed exchange (mix.js).\nexec %q %q "$@"\n' \
    "$NODE" "$W/mix.js" >"$W/mix"
chmod +x "$W/mix"
"$NODE" mixcheck.js "$W/mix" 200 || fail "the mix wrapper failed its check"
say "OK"
