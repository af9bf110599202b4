#!/usr/bin/env bash
# Runs mpipc's queue, pipe, manager (incl. 256 clients under load) and
# array/lock benchmarks, the resource-hygiene measurement (full runs only), the bindings'
# queue benchmarks (the Python binding's also its Array, Pipe, 2 x 2 queue
# and manager round trip), the Python binding's peers (faster-fifo, pyzmq,
# UltraDict, in build/venv-peers), the Node binding's round trips and the
# polyglot demo's job shares, the cross-language table (every producer x
# consumer language), the object puts from C (libcbor, the JSON bridge) and
# Rust (serde) beside the bytes path (issue 19), the queue and manager at
# a Redis address beside the plain client of the same language and the
# shared-memory path (issue 22, "Redis" below), and Python's
# multiprocessing.Queue, Pipe, Manager, Array and Lock baselines in one
# invocation, then the busy-machine section (below), and writes the
# comparison (default: BENCHMARKS.md).
#
#   benches/run.sh [--quick] [--out FILE]
#   benches/run.sh --redis-only [--quick] [--out FILE]
#
# --quick: small sizes, one repetition (a smoke test; figures not meaningful).
# --redis-only: only the Redis section (quiet and busy rounds, "Redis"
# below), written into FILE (default BENCHMARKS.md) in place of that
# section, the rest of the file kept (benches/report.py --redis-only).
# MPIPC_BENCH_KEEP=DIR: also keep the raw results in DIR, so that the report
# can be made again (python3 benches/report.py DIR "benches/run.sh").
#
# Busy machine (issue #17): after the quiet sections the same benchmark
# programs (the binaries cargo built for them, the same Python scripts) run
# again beside nproc + 1 CPU-bound loops -- what a multiprocessing user's
# machine looks like while workers keep every core busy. The loops are
# started by this script (busy_start), so they are in the benchmarks'
# session: with sched_autogroup_enabled=1 (this machine; common distribution
# kernels enable it) the scheduler first shares the CPUs out between
# sessions, and loops started from another terminal would only take their
# own session's share and hide the problem. They are killed by PID
# (busy_stop, the EXIT trap) and die with this script in any case
# (PR_SET_PDEATHSIG). Every program runs under `timeout` (300 s, --quick
# 60 s): a run that collapses shows as a timed-out row of the report, not a
# hung `make bench`; a job that timed out is not run again in later rounds.
# 5 rounds (--quick 1), each running every job once with --repeat 1, mpipc
# and multiprocessing of one workload back to back (their order alternates
# by round), so slow drifts of the load hit both sides alike; the report
# gives medians over rounds and their spread, and the loops' measured CPU
# time (utime + stime from /proc/PID/stat) to show the load was there.
# Results: $tmp/busy/KEY.SIDE.ROUND.json, runs.jsonl (one line per run),
# load.json (the loops).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=()
out=BENCHMARKS.md
redis_only=0
while (($#)); do
    case $1 in
        --quick) quick=(--quick) ;;
        --out) out=$2; shift ;;
        --redis-only) redis_only=1 ;;
        *) echo "usage: benches/run.sh [--redis-only] [--quick] [--out FILE]" >&2; exit 2 ;;
    esac
    shift
done

# ---------------------------------------------------------------------------
# The busy-machine helpers (see the header; used after the quiet sections).

busy_pids=()  # the loops
busy_job=     # the timeout process of the job running beside them
busy_failed=0 # jobs that failed other than by timing out
declare -A busy_dead=() # KEY.SIDE of jobs that timed out or failed: not run again

# One busy loop: dies with this script even if it is SIGKILLed
# (PR_SET_PDEATHSIG, and a check that its parent is still the one that
# started it), names itself mpipc-busy (PR_SET_NAME, so `ps` shows what it
# is), then spins in the interpreter: pure user-space CPU, no system calls.
busy_py='import ctypes, os, sys
libc = ctypes.CDLL(None)
libc.prctl(1, 9)  # PR_SET_PDEATHSIG: SIGKILL when the parent dies
if os.getppid() != int(sys.argv[1]):  # it died before prctl
    sys.exit(0)
libc.prctl(15, b"mpipc-busy")  # PR_SET_NAME
while True:
    pass'

# Sets busy_us (wall clock, microseconds) and busy_ticks (CPU time the loops
# used so far, utime + stime in clock ticks, /proc/PID/stat fields 14, 15).
busy_sample() {
    local p s f
    busy_ticks=0
    for p in "${busy_pids[@]}"; do
        s=$(< "/proc/$p/stat") || { echo "benches/run.sh: busy loop $p is gone" >&2; exit 1; }
        read -ra f <<< "${s##*) }"
        busy_ticks=$((busy_ticks + f[11] + f[12]))
    done
    busy_us=${EPOCHREALTIME/[.,]/}
}

# Kills the loops (and a running job) by PID; the EXIT trap calls it too.
busy_kill() {
    local p
    if [[ -n $busy_job ]]; then
        kill -TERM "$busy_job" 2>/dev/null || true  # timeout passes it on to the job's process group
        busy_job=
    fi
    if ((${#busy_pids[@]})); then
        kill -TERM "${busy_pids[@]}" 2>/dev/null || true
        for p in "${busy_pids[@]}"; do
            wait "$p" 2>/dev/null || true
        done
        busy_pids=()
    fi
}

# Starts nproc + 1 loops as children of this shell and waits until each is
# in its loop (it has renamed itself).
busy_start() {
    local parent=$BASHPID i p
    busy_cpus=$(nproc)
    busy_n=$((busy_cpus + 1))
    mkdir -p "$tmp/busy"
    # Ctrl-C or TERM while a job runs in the background: stop it and leave
    # (the EXIT trap kills the loops).
    trap 'busy_kill; exit 130' INT
    trap 'busy_kill; exit 143' TERM
    for ((i = 0; i < busy_n; i++)); do
        python3 -c "$busy_py" "$parent" &
        busy_pids+=("$!")
    done
    for p in "${busy_pids[@]}"; do
        until [[ $(< "/proc/$p/comm") == mpipc-busy ]]; do
            kill -0 "$p" 2>/dev/null || { echo "benches/run.sh: busy loop $p did not start" >&2; exit 1; }
            sleep 0.01
        done
    done
    busy_sample
    busy_us0=$busy_us busy_ticks0=$busy_ticks
}

# Records the loops' CPU time in $tmp/busy/load.json, then kills them.
busy_stop() {
    local ag=null same=null p
    busy_sample
    if [[ -r /proc/$BASHPID/autogroup ]]; then
        ag=$(< "/proc/$BASHPID/autogroup")
        same=true
        for p in "${busy_pids[@]}"; do
            [[ $(< "/proc/$p/autogroup") == "$ag" ]] || same=false
        done
        ag="\"$ag\""
    fi
    printf '{"loops": %d, "cpus": %d, "loop": "python3: while True: pass", "clk_tck": %d, "wall_us": %d, '\
'"loops_ticks": %d, "autogroup": %s, "loops_in_our_autogroup": %s, "sched_autogroup_enabled": "%s", '\
'"rounds": %d, "timeout_s": %d}\n' \
        "$busy_n" "$busy_cpus" "$(getconf CLK_TCK)" $((busy_us - busy_us0)) $((busy_ticks - busy_ticks0)) \
        "$ag" "$same" "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo n/a)" \
        "$busy_rounds" "$busy_timeout" > "$tmp/busy/load.json"
    busy_kill
    trap - INT TERM
}

# busy_run KEY SIDE ROUND COMMAND...: runs COMMAND (stdout: one JSON object)
# under timeout beside the loops, into $tmp/busy/KEY.SIDE.ROUND.json, and
# appends the run's outcome, wall time and the loops' CPU time meanwhile
# to runs.jsonl. SIDE: mpipc, mp (multiprocessing), or both (a program that
# measures both). In the background plus `wait`, so that Ctrl-C is acted on
# at once (a foreground job in timeout's own process group would not get it).
busy_run() {
    local key=$1 side=$2 round=$3 rc=0 status=ok us0 ticks0
    shift 3
    if [[ -n ${busy_dead[$key.$side]:-} ]]; then
        printf '{"key": "%s", "side": "%s", "round": %d, "status": "skipped"}\n' "$key" "$side" "$round" \
            >> "$tmp/busy/runs.jsonl"
        return
    fi
    echo "== busy machine, round $round/$busy_rounds, $key ($side): $*" >&2
    busy_sample
    us0=$busy_us ticks0=$busy_ticks
    timeout -k 10 "$busy_timeout" "$@" > "$tmp/busy/$key.$side.$round.json" &
    busy_job=$!
    wait "$busy_job" 2>/dev/null || rc=$?  # (no "Killed" notice from bash: the status says it)
    busy_job=
    busy_sample
    if ((rc == 124 || (rc == 137 && busy_us - us0 >= busy_timeout * 1000000))); then
        status=timeout
        busy_dead[$key.$side]=1
        echo "benches/run.sh: $key ($side) timed out after ${busy_timeout} s; not run again" >&2
    elif ((rc != 0)); then
        status=failed
        busy_dead[$key.$side]=1
        busy_failed=$((busy_failed + 1))
        echo "benches/run.sh: $key ($side) failed with status $rc; not run again" >&2
    fi
    printf '{"key": "%s", "side": "%s", "round": %d, "status": "%s", "rc": %d, "wall_us": %d, "loops_ticks": %d}\n' \
        "$key" "$side" "$round" "$status" "$rc" $((busy_us - us0)) $((busy_ticks - ticks0)) >> "$tmp/busy/runs.jsonl"
}

# busy_pair KEY ROUND [MPIPC COMMAND...] -- [MULTIPROCESSING COMMAND...]:
# both sides of one workload back to back, mpipc first in odd rounds.
busy_pair() {
    local key=$1 round=$2 a=() b=()
    shift 2
    while [[ $1 != -- ]]; do a+=("$1"); shift; done
    shift
    b=("$@")
    if ((round % 2)); then
        busy_run "$key" mpipc "$round" "${a[@]}"
        busy_run "$key" mp "$round" "${b[@]}"
    else
        busy_run "$key" mp "$round" "${b[@]}"
        busy_run "$key" mpipc "$round" "${a[@]}"
    fi
}

# bench_exes BENCH...: prints "NAME EXECUTABLE" for each bench binary
# (building it if needed), so that the loops of the busy section compete
# with the benchmarks, not with cargo's freshness checks.
bench_exes() {
    local args=() b
    for b in "$@"; do args+=(--bench "$b"); done
    cargo bench --locked --no-run --message-format=json "${args[@]}" |
        python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and "bench" in m["target"]["kind"] and m.get("executable"):
        print(m["target"]["name"], m["executable"])'
}

# ---------------------------------------------------------------------------
# Redis (issue 22): the queue and the manager at a Redis address beside a
# hand-written program doing the same with the plain client of the same
# language, and beside the shared-memory path: benches/redis_bench.rs (the
# C ABI beside the `redis` crate) and benches/python/redis_bench.py (the
# Python binding in build/venv-python beside redis-py in build/venv-peers,
# pinned in benches/python/requirements-peers.txt). The server is our own
# (scripts/redis-server.sh: loopback port and unix socket, no RDB
# snapshots, hz 100), started without AOF (`-- --appendonly no`, over the
# script's `appendfsync always` default): the benchmark measures the
# protocol and the scripts, not fsync. Each program measures one round per
# run (--repeat 1); the quiet rounds interleave the three programs, their
# order rotating by round, so that drifts of the shared machine's load hit
# every side alike; report.py takes medians over rounds. The busy section
# runs them again (TCP loopback and shared memory only). Results:
# $tmp/redis/KEY.SIDE.ROUND.json (redis_rs.both, redis_py.mpipc,
# redis_py.plain), server.json (the server's version and settings), and
# the busy section's files (keys redis_rs, redis_py).

redis_dir= # the server's directory while it runs

# redis_start BENCH_BINARY: starts the server and sets the three programs'
# commands (redis_rs, redis_py, redis_plain).
redis_start() {
    redis_dir=$tmp/redis-server
    mkdir -p "$tmp/redis"
    echo "== Redis server (scripts/redis-server.sh start $redis_dir -- --appendonly no)" >&2
    bash scripts/redis-server.sh start "$redis_dir" -- --appendonly no >&2
    # shellcheck disable=SC1091 # written by redis-server.sh start: REDIS_PORT, REDIS_SOCKET, REDIS_PID
    . "$redis_dir/env"
    python3 -c 'import json, sys; print(json.dumps({"version": sys.argv[1], "start": sys.argv[2], "commit": sys.argv[3]}))' \
        "$("$(bash scripts/redis-server.sh bin)" --version)" "scripts/redis-server.sh start DIR -- --appendonly no" \
        "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" > "$tmp/redis/server.json"
    local at=(--tcp "127.0.0.1:$REDIS_PORT" --unix "$REDIS_SOCKET")
    redis_rs=("$1" "${quick[@]}" --repeat 1 "${at[@]}")
    redis_py=(env "MPIPC_LIB=$PWD/target/release/libmpipc.so" build/venv-python/bin/python
        benches/python/redis_bench.py --side mpipc "${quick[@]}" --repeat 1 "${at[@]}")
    redis_plain=(build/venv-peers/bin/python benches/python/redis_bench.py --side plain "${quick[@]}" --repeat 1
        "${at[@]}")
}

# The quiet rounds: 5 (--quick 1), the programs' order rotating by round.
redis_quiet() {
    local rounds=5 r i
    ((${#quick[@]} == 0)) || rounds=1
    echo "== Redis, $rounds rounds: ${redis_rs[*]}; ${redis_py[*]}; ${redis_plain[*]}" >&2
    for ((r = 1; r <= rounds; r++)); do
        for ((i = 0; i < 3; i++)); do
            case $(((r + i) % 3)) in
                0) "${redis_rs[@]}" --round "$r" > "$tmp/redis/redis_rs.both.$r.json" ;;
                1) "${redis_py[@]}" --round "$r" > "$tmp/redis/redis_py.mpipc.$r.json" ;;
                2) "${redis_plain[@]}" --round "$r" > "$tmp/redis/redis_py.plain.$r.json" ;;
            esac
        done
    done
}

# redis_busy_round ROUND: the three programs beside the loops, TCP loopback
# and shared memory (the unix socket's figures are the quiet section's):
# Rust, then the Python sides in an order alternating by round.
redis_busy_round() {
    local r=$1
    busy_run redis_rs both "$r" "${redis_rs[@]}" --transports tcp,shm --round "$r"
    if ((r % 2)); then
        busy_run redis_py mpipc "$r" "${redis_py[@]}" --transports tcp,shm --round "$r"
        busy_run redis_py plain "$r" "${redis_plain[@]}" --transports tcp --round "$r"
    else
        busy_run redis_py plain "$r" "${redis_plain[@]}" --transports tcp --round "$r"
        busy_run redis_py mpipc "$r" "${redis_py[@]}" --transports tcp,shm --round "$r"
    fi
}

# Stops the server (the EXIT trap calls it too).
redis_stop() {
    if [[ -n $redis_dir ]]; then
        bash scripts/redis-server.sh stop "$redis_dir" >&2 || true
        redis_dir=
    fi
}

tmp=$(mktemp -d)
trap 'busy_kill; redis_stop; rm -rf "$tmp"' EXIT

if ((redis_only)); then
    bash bindings/python/setup-venv.sh
    bash benches/python/setup-peers-venv.sh
    read -r _ redis_exe < <(bench_exes redis_bench)
    [[ -x ${redis_exe:-} ]] || { echo "benches/run.sh: no bench binary for redis_bench" >&2; exit 1; }
    redis_start "$redis_exe"
    redis_quiet
    busy_rounds=5 busy_timeout=300
    ((${#quick[@]} == 0)) || busy_rounds=1 busy_timeout=60
    echo "== Busy machine (Redis only): $(($(nproc) + 1)) busy loops on $(nproc) CPUs, $busy_rounds rounds" >&2
    busy_start
    for ((r = 1; r <= busy_rounds; r++)); do
        redis_busy_round "$r"
    done
    busy_stop
    redis_stop
    if [[ -n ${MPIPC_BENCH_KEEP:-} ]]; then
        rm -rf "$MPIPC_BENCH_KEEP" && cp -r "$tmp" "$MPIPC_BENCH_KEEP"
    fi
    python3 benches/report.py --redis-only "$tmp" "benches/run.sh --redis-only ${quick[*]}" "$out"
    ((busy_failed == 0)) || { echo "benches/run.sh: $busy_failed busy-machine run(s) failed" >&2; exit 1; }
    exit 0
fi
echo "== mpipc (cargo bench --bench queue -- ${quick[*]})" >&2
cargo bench --locked --bench queue -- "${quick[@]}" > "$tmp/mpipc.json"
echo "== Python multiprocessing (python3 benches/python/mp_queue_bench.py ${quick[*]})" >&2
python3 benches/python/mp_queue_bench.py "${quick[@]}" > "$tmp/python.json"
echo "== mpipc pipes (cargo bench --bench pipe -- ${quick[*]})" >&2
cargo bench --locked --bench pipe -- "${quick[@]}" > "$tmp/mpipc_pipe.json"
echo "== Python multiprocessing Pipe (python3 benches/python/mp_pipe_bench.py ${quick[*]})" >&2
python3 benches/python/mp_pipe_bench.py "${quick[@]}" > "$tmp/python_pipe.json"
echo "== mpipc manager (cargo bench --bench manager -- ${quick[*]})" >&2
cargo bench --locked --bench manager -- "${quick[@]}" > "$tmp/mpipc_mgr.json"
echo "== Python multiprocessing Manager (python3 benches/python/mp_manager_bench.py ${quick[*]})" >&2
python3 benches/python/mp_manager_bench.py "${quick[@]}" > "$tmp/python_mgr.json"
echo "== mpipc manager under load (cargo bench --bench manager_load -- ${quick[*]})" >&2
cargo bench --locked --bench manager_load -- "${quick[@]}" > "$tmp/mpipc_mgr_load.json"
echo "== Python multiprocessing Manager under load (python3 benches/python/mp_manager_load.py ${quick[*]})" >&2
python3 benches/python/mp_manager_load.py "${quick[@]}" > "$tmp/python_mgr_load.json"
echo "== mpipc arrays and locks (cargo bench --bench sync -- ${quick[*]})" >&2
cargo bench --locked --bench sync -- "${quick[@]}" > "$tmp/mpipc_sync.json"
echo "== Python multiprocessing Array and Lock (python3 benches/python/mp_sync_bench.py ${quick[*]})" >&2
python3 benches/python/mp_sync_bench.py "${quick[@]}" > "$tmp/python_sync.json"
echo "== Go binding (go run ./bench/qtput ${quick[*]}, into a struct and into any)" >&2
(cd bindings/go && go run ./bench/qtput "${quick[@]/--quick/-quick}") > "$tmp/go_qtput_struct.json"
(cd bindings/go && go run ./bench/qtput -decode any "${quick[@]/--quick/-quick}") > "$tmp/go_qtput_any.json"
echo "== Python binding vs multiprocessing.Queue (benches/python/mpipc_py_bench.py ${quick[*]})" >&2
bash bindings/python/setup-venv.sh
MPIPC_LIB=$PWD/target/release/libmpipc.so build/venv-python/bin/python benches/python/mpipc_py_bench.py "${quick[@]}" \
    > "$tmp/python_binding.json"
# The Python binding's peers (issue #17), benchmark-only packages pinned in
# benches/python/requirements-peers.txt, in their own venv (the first run
# builds it, compiling UltraDict; later runs find it ready).
echo "== Peers of the Python binding (faster-fifo, pyzmq, UltraDict: benches/python/peers_*.py ${quick[*]}, in build/venv-peers)" >&2
bash benches/python/setup-peers-venv.sh
for peer in fifo zmq ultradict; do
    build/venv-peers/bin/python "benches/python/peers_$peer.py" "${quick[@]}" > "$tmp/peers_$peer.json"
done
echo "== Node binding (node bench/qtput.mjs ${quick[*]})" >&2
(cd bindings/node && npm ci --ignore-scripts --no-audit --no-fund >&2 && \
    MPIPC_LIB=$PWD/../../target/release/libmpipc.so node bench/qtput.mjs "${quick[@]}") > "$tmp/node_qtput.json"
echo "== Node binding round trips (node bench/roundtrip.mjs ${quick[*]})" >&2
(cd bindings/node && MPIPC_LIB=$PWD/../../target/release/libmpipc.so node bench/roundtrip.mjs "${quick[@]}") > "$tmp/node_rtt.json"
echo "== Polyglot demo job shares (node bench/demo_share.mjs ${quick[*]})" >&2
(cd bindings/node && MPIPC_LIB=$PWD/../../target/release/libmpipc.so node bench/demo_share.mjs "${quick[@]}") > "$tmp/node_demo.json"
echo "== Across languages (benches/polyglot_bench.py ${quick[*]})" >&2
build/venv-python/bin/python benches/polyglot_bench.py "${quick[@]}" > "$tmp/polyglot.json"
# Objects from C and Rust (issue 19): the issue's map put by a C program
# encoding it with libcbor (items, and the streaming encoders), by the C
# ABI's JSON bridge (mpq_put_json) and by the Rust typed API (serde), each
# beside the put of the same bytes, measured by the same program in the
# same run (their rounds interleave the ways). 7 rounds, not 5: each round
# is short (0.1-0.5 s) and the ways are compared with each other.
obj_repeat=()
((${#quick[@]})) || obj_repeat=(--repeat 7)
echo "== Objects from C (benches/c/object_put.c with libcbor, benches/c/json_bridge.c ${quick[*]} ${obj_repeat[*]})" >&2
if ! cbor_flags=$(pkg-config --cflags --libs libcbor); then
    echo "benches/run.sh: libcbor not found by pkg-config (apt install libcbor-dev, or make deps)" >&2
    exit 1
fi
mkdir -p build/bench
# shellcheck disable=SC2086 # cbor_flags is a list of flags
gcc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude -Iexamples/c/common benches/c/object_put.c \
    -Ltarget/release -lmpipc $cbor_flags -Wl,-rpath,"$PWD/target/release" -o build/bench/c_object_put
gcc -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude benches/c/json_bridge.c \
    -Ltarget/release -lmpipc -Wl,-rpath,"$PWD/target/release" -o build/bench/c_json_bridge
build/bench/c_object_put "${quick[@]}" "${obj_repeat[@]}" > "$tmp/c_object_put.json"
build/bench/c_json_bridge "${quick[@]}" "${obj_repeat[@]}" > "$tmp/c_json_bridge.json"
echo "== Objects from Rust (cargo bench --bench rust_object_put -- ${quick[*]} ${obj_repeat[*]})" >&2
cargo bench --locked --bench rust_object_put -- "${quick[@]}" "${obj_repeat[@]}" > "$tmp/rust_object_put.json"

# ---------------------------------------------------------------------------
# Busy machine (see the header).

# The bench binaries `cargo bench` built and ran above, so that the loops
# compete with the benchmarks, not with cargo's freshness checks.
declare -A exe=()
while read -r name path; do
    exe[$name]=$path
done < <(bench_exes queue manager sync pipe redis_bench)
for b in queue manager sync pipe redis_bench; do
    [[ -x ${exe[$b]:-} ]] || { echo "benches/run.sh: no bench binary for $b" >&2; exit 1; }
done

# Redis (issue 22), quiet (see redis_start).
redis_start "${exe[redis_bench]}"
redis_quiet

if ((${#quick[@]})); then
    busy_rounds=1 busy_timeout=60 mgr_c=() mgr_py=()
else
    # Manager dict: 50,000 sets + gets per client (quiet: 10,000); shorter
    # runs beside the loops are mostly noise (0.2-0.5 s, spread 20-132 k ops/s).
    busy_rounds=5 busy_timeout=300 mgr_c=(--n 50000) mgr_py=(--n-per-client 50000)
fi
one=("${quick[@]}" --repeat 1)
pyb=(env "MPIPC_LIB=$PWD/target/release/libmpipc.so" build/venv-python/bin/python benches/python/mpipc_py_bench.py)
echo "== Busy machine: $(($(nproc) + 1)) busy loops on $(nproc) CPUs, $busy_rounds rounds" >&2
busy_start
for ((r = 1; r <= busy_rounds; r++)); do
    busy_pair queue_tput "$r" "${exe[queue]}" "${one[@]}" --only q_tput -- \
        python3 benches/python/mp_queue_bench.py "${one[@]}" --only q_tput
    busy_pair queue_mpmc "$r" "${exe[queue]}" "${one[@]}" --only q_mpmc -- \
        python3 benches/python/mp_queue_bench.py "${one[@]}" --only q_mpmc
    busy_pair queue_latency "$r" "${exe[queue]}" "${one[@]}" --only q_latency_spin -- \
        python3 benches/python/mp_queue_bench.py "${one[@]}" --only q_latency
    busy_pair mgr_dict "$r" "${exe[manager]}" "${one[@]}" --only mgr_dict "${mgr_c[@]}" -- \
        python3 benches/python/mp_manager_bench.py "${one[@]}" --only mgr_dict "${mgr_py[@]}"
    busy_pair mgr_rtt "$r" "${exe[manager]}" "${one[@]}" --only mgr_get_rtt -- \
        python3 benches/python/mp_manager_bench.py "${one[@]}" --only mgr_get_rtt
    busy_pair sync_array "$r" "${exe[sync]}" "${one[@]}" --only array_incr -- \
        python3 benches/python/mp_sync_bench.py "${one[@]}" --only array_incr
    busy_pair pipe_tput "$r" "${exe[pipe]}" "${one[@]}" --only pipe_tput -- \
        python3 benches/python/mp_pipe_bench.py "${one[@]}" --only pipe_tput
    busy_pair pipe_latency "$r" "${exe[pipe]}" "${one[@]}" --only pipe_latency -- \
        python3 benches/python/mp_pipe_bench.py "${one[@]}" --only pipe_latency
    # The Python binding's program measures multiprocessing and mpipc itself.
    for w in q_tput q_latency mgr_dict; do
        busy_run "pyb_$w" both "$r" "${pyb[@]}" "${one[@]}" --only "$w"
    done
    redis_busy_round "$r"
done
busy_stop
redis_stop
if ((${#quick[@]} == 0)); then
    # The full resource-hygiene run (100,000 cycles per primitive) writes
    # benches/results/hygiene.md, which the report includes.
    echo "== resource hygiene (bash tests/hygiene/run.sh 100000 5 benches/results/hygiene.md)" >&2
    bash tests/hygiene/run.sh 100000 5 benches/results/hygiene.md >&2
fi
# MPIPC_BENCH_KEEP=DIR keeps a copy of the raw results (to rerun
# benches/report.py DIR "COMMAND" on them after a change to the report).
if [[ -n ${MPIPC_BENCH_KEEP:-} ]]; then
    rm -rf "$MPIPC_BENCH_KEEP" && cp -r "$tmp" "$MPIPC_BENCH_KEEP"
fi
python3 benches/report.py "$tmp" "benches/run.sh ${quick[*]}" > "$tmp/report.md"
if [[ $out != /dev/null ]]; then
    cp "$tmp/report.md" "$out"
    echo "benches/run.sh: wrote $out" >&2
fi
# A busy-machine run that crashed (not one that timed out: that is a
# figure, reported as such) is a broken benchmark.
if ((busy_failed)); then
    echo "benches/run.sh: $busy_failed busy-machine run(s) failed (see above and the report)" >&2
    exit 1
fi
if [[ $out == /dev/null ]]; then
    echo "benches/run.sh: smoke run OK" >&2
fi
