#!/usr/bin/env python3
"""Cross-language queue benchmark: every producer language x consumer
language of {c, go, node, python, rust} over one mpipc named queue.

    build/venv-python/bin/python benches/polyglot_bench.py [--quick] [--no-build]
        [--repeat R] [--langs c,go,...] [--lat-rounds R] [--lat-warmup W]

Prints ONE JSON object on stdout (progress on stderr). Standard library
only. The peers are the polyglot test peers (tests/polyglot/peers, their
"bench roles", tests/polyglot/PEERS.md), built the way
tests/polyglot/test_e2e.py builds them (gcc, go build, cargo build
--release --locked --example polyglot_peer) unless --no-build.

Message: the small object {"id": i, "name": "item-<i>", "vals": [1.5, 2.5,
3.5]}, encoded by the producer per message with its binding's encoder and
decoded by the consumer with its binding's decoder (C: an encoding
template with the id and name digits patched in, and a decoder that
validates the whole layout and parses the id; Rust: ciborium::Value with
mpipc::manager::protocol::encode_value / decode_value). One queue, default
options, one put / get per message.

- q_tput: the consumer (bench-get) and the producer (bench-put) open the
  queue and print READY; then the driver reads the clock and writes GO to
  the producer's stdin; the consumer prints DONE when it has received and
  decoded message N (each id checked in order); the driver reads the clock
  when it reads DONE. Rate = N / elapsed (process start-up excluded; the
  GO and DONE pipe hops, some 10-100 us, are included). N per pair from the
  slower side's N_TPUT (runs of roughly 0.3-1 s). Median of --repeat runs.
- q_latency: bench-pong gets from q1 and puts the decoded-and-re-encoded
  object on q2; bench-ping (after GO) times put(q1) + get(q2) per round
  with its language's monotonic clock, W warm-up rounds then R timed ones,
  and prints the median and p99. Reported: median over runs of the medians
  and of the p99s.
"""

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.join(ROOT, "tests", "polyglot", "peers")
RELEASE = os.path.join(ROOT, "target", "release")
LIB = os.path.join(RELEASE, "libmpipc.so")
BUILD = os.path.join(ROOT, "build", "polyglot")
LANGS = ["c", "go", "node", "python", "rust"]
# messages per q_tput run with this language on the slower side
N_TPUT = {"c": 2_000_000, "rust": 600_000, "go": 400_000, "node": 300_000, "python": 200_000}
RUN_TIMEOUT = 120.0
OBJECT = '{"id": i, "name": "item-<i>", "vals": [1.5, 2.5, 3.5]}'


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def peer_env():
    env = dict(os.environ)
    env["MPIPC_LIB"] = LIB
    pp = os.path.join(ROOT, "bindings", "python")
    env["PYTHONPATH"] = pp + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_build(cmd, cwd=ROOT):
    if shutil.which(cmd[0]) is None:
        sys.exit("polyglot_bench: %s not found on PATH" % cmd[0])
    p = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        sys.exit("polyglot_bench: %s exited %d:\n%s" % (" ".join(cmd), p.returncode, p.stdout.decode(errors="replace")))


def peers(build, langs):
    """{lang: argv prefix}, building the compiled peers first."""
    os.makedirs(BUILD, exist_ok=True)
    if not os.path.exists(LIB):
        sys.exit("polyglot_bench: %s is missing: build the library first (cargo build --release)" % LIB)
    argv = {
        "c": [os.path.join(BUILD, "c_peer")],
        "go": [os.path.join(BUILD, "go_peer")],
        "rust": [os.path.join(RELEASE, "examples", "polyglot_peer")],
        "python": [sys.executable, os.path.join(PEERS, "python", "peer.py")],
        "node": ["node", os.path.join(PEERS, "node", "peer.mjs")],
    }
    if build:
        if "c" in langs:
            run_build(["gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I", os.path.join(ROOT, "include"),
                       os.path.join(PEERS, "c", "peer.c"), "-L", RELEASE, "-lmpipc", "-lcbor",  # libcbor-dev
                       "-Wl,-rpath," + RELEASE,
                       "-o", argv["c"][0]])
        if "go" in langs:
            run_build(["go", "build", "-o", argv["go"][0], "."], cwd=os.path.join(PEERS, "go"))
        if "rust" in langs:
            run_build(["cargo", "build", "--release", "--locked", "--example", "polyglot_peer"])
    for lang in langs:
        if lang in ("c", "go", "rust") and not os.path.exists(argv[lang][0]):
            sys.exit("polyglot_bench: %s is missing (run without --no-build)" % argv[lang][0])
    return {lang: argv[lang] for lang in langs}


_seq = [0]


def fresh_name(tag):
    _seq[0] += 1
    return "pgbench-%d-%d-%s" % (os.getpid(), _seq[0], tag)


def cleanup(names):
    for name in names:
        for path in glob.glob("/dev/shm/mpipc.*.%s*" % glob.escape(name)):
            try:
                os.unlink(path)
            except OSError:
                pass


class Run:
    """Peers of one measurement: started, watched by a timeout, reaped."""

    def __init__(self):
        self.procs = []
        self.timer = threading.Timer(RUN_TIMEOUT, self.kill)
        self.timer.start()
        self.timed_out = False

    def start(self, argv, what, stdin=False):
        err = tempfile.TemporaryFile()
        p = subprocess.Popen(argv, env=ENV, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=err)
        p.what, p.err = what, err
        self.procs.append(p)
        return p

    def kill(self):
        self.timed_out = True
        for p in self.procs:
            if p.poll() is None:
                p.kill()

    def fail(self, msg):
        self.kill()
        detail = []
        for p in self.procs:
            p.wait()
            p.err.seek(0)
            detail.append("%s (exit %s): %s" % (p.what, p.returncode, p.err.read().decode(errors="replace")[-2000:]))
        raise RuntimeError(msg + ("(timed out) " if self.timed_out else "") + "\n" + "\n".join(detail))

    def line(self, p, want):
        s = p.stdout.readline().decode(errors="replace").strip()
        if not s.startswith(want):
            self.fail("%s: expected %s, got %r " % (p.what, want, s))
        return s

    def finish(self):
        for p in self.procs:
            try:
                p.wait(timeout=RUN_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        self.timer.cancel()
        bad = [p for p in self.procs if p.returncode != 0]
        if bad:
            self.fail("peer failed: ")
        for p in self.procs:
            p.stdout.close()
            p.err.close()


def tput_once(argv, prod, cons, n):
    name = fresh_name("t")
    r = Run()
    try:
        c = r.start(argv[cons] + ["bench-get", name, str(n)], "%s bench-get" % cons)
        p = r.start(argv[prod] + ["bench-put", name, str(n)], "%s bench-put" % prod, stdin=True)
        r.line(c, "READY")
        r.line(p, "READY")
        t0 = time.perf_counter()
        p.stdin.write(b"GO\n")
        p.stdin.flush()
        r.line(c, "DONE")
        t1 = time.perf_counter()
        p.stdin.close()
        r.finish()
    finally:
        r.kill()
        cleanup([name])
    return n / (t1 - t0)


def latency_once(argv, a, b, rounds, warmup):
    q1, q2 = fresh_name("p"), fresh_name("q")
    r = Run()
    try:
        pong = r.start(argv[b] + ["bench-pong", q1, q2, str(rounds + warmup)], "%s bench-pong" % b)
        ping = r.start(argv[a] + ["bench-ping", q1, q2, str(rounds), str(warmup)], "%s bench-ping" % a, stdin=True)
        r.line(pong, "READY")
        r.line(ping, "READY")
        ping.stdin.write(b"GO\n")
        ping.stdin.flush()
        res = r.line(ping, "RESULT").split()
        ping.stdin.close()
        r.finish()
    finally:
        r.kill()
        cleanup([q1, q2])
    return int(res[1]) / 1e3, int(res[2]) / 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, one run (a smoke test)")
    ap.add_argument("--no-build", action="store_true", help="use the peers already built")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--langs", default=",".join(LANGS))
    ap.add_argument("--lat-rounds", type=int, default=5000)
    ap.add_argument("--lat-warmup", type=int, default=500)
    ap.add_argument("--tput-scale", type=float, default=1.0, help="multiplies every N")
    o = ap.parse_args()
    langs = [x for x in o.langs.split(",") if x]
    for lang in langs:
        if lang not in LANGS:
            ap.error("unknown language %s" % lang)
    if o.quick:
        o.repeat, o.lat_rounds, o.lat_warmup = 1, 200, 20
    global ENV
    ENV = peer_env()
    argv = peers(not o.no_build, langs)
    out = {"object": OBJECT, "repeat": o.repeat, "langs": langs, "lat_rounds": o.lat_rounds,
           "lat_warmup": o.lat_warmup, "pairs": {}}
    t_start = time.monotonic()
    for prod in langs:
        for cons in langs:
            key = "%s->%s" % (prod, cons)
            n = 2000 if o.quick else int(min(N_TPUT[prod], N_TPUT[cons]) * o.tput_scale)
            runs = [round(tput_once(argv, prod, cons, n)) for _ in range(o.repeat)]
            lat = [latency_once(argv, prod, cons, o.lat_rounds, o.lat_warmup) for _ in range(o.repeat)]
            res = {
                "q_tput": {"msgs_per_s": round(statistics.median(runs)), "runs": runs, "n": n},
                "q_latency": {"median_us": round(statistics.median(m for m, _ in lat), 2),
                              "p99_us": round(statistics.median(p for _, p in lat), 2),
                              "runs_median_us": [round(m, 2) for m, _ in lat],
                              "runs_p99_us": [round(p, 2) for _, p in lat],
                              "rounds": o.lat_rounds, "warmup": o.lat_warmup},
            }
            out["pairs"][key] = res
            log("%-14s q_tput %8.0f k msg/s (n %d)  q_latency median %7.1f us p99 %7.1f us" % (
                key, res["q_tput"]["msgs_per_s"] / 1e3, n, res["q_latency"]["median_us"], res["q_latency"]["p99_us"]))
    out["seconds"] = round(time.monotonic() - t_start, 1)
    print(json.dumps(out, indent=1))


ENV = None

if __name__ == "__main__":
    main()
