"""The compact summary of the end-to-end matrix (test_e2e.py): one grid per
primitive, senders down, receivers across ('.' passed, 'F' failed, 'E'
error, ' ' not run); the Redis column (test_e2e_redis) as
"queue on redis" and "manager on redis"."""

import re
import time

_ID = re.compile(r"test_e2e(_redis)?\[([a-z]+)-([a-z]+)-([a-z]+)\]$")
_results = {}
_start = [None]


def pytest_sessionstart(session):
    _start[0] = time.monotonic()


def pytest_runtest_logreport(report):
    m = _ID.search(report.nodeid)
    if not m:
        return
    redis, prim, s, r = m.groups()
    key = (prim + " on redis" if redis else prim, s, r)
    if report.when == "call":
        _results[key] = "." if report.passed else ("x" if getattr(report, "wasxfail", None) else "F")
    elif report.failed:
        _results[key] = "E"
    elif report.skipped and key not in _results:
        _results[key] = "s"


def pytest_terminal_summary(terminalreporter):
    if not _results:
        return
    from test_e2e import LANGS, PRIMITIVES, REDIS_PRIMITIVES  # noqa: E402 (the test module is importable by now)

    tr = terminalreporter
    tr.section("cross-language matrix (rows: sender, columns: receiver)")
    head = "  %-8s" % "" + " ".join("%-7s" % lang for lang in LANGS)
    for prim in PRIMITIVES + [p + " on redis" for p in REDIS_PRIMITIVES]:
        if not any(k[0] == prim for k in _results):
            continue
        tr.write_line("%s" % prim)
        tr.write_line(head)
        for s in LANGS:
            tr.write_line("  %-8s" % s + " ".join("%-7s" % _results.get((prim, s, r), " ") for r in LANGS))
    counts = {}
    for v in _results.values():
        counts[v] = counts.get(v, 0) + 1
    took = time.monotonic() - _start[0] if _start[0] else 0.0
    tr.write_line("%d cases: %d passed, %d failed, %d errors in %.1f s" % (
        len(_results), counts.get(".", 0), counts.get("F", 0), counts.get("E", 0), took))
    failed = sorted("-".join(k) for k, v in _results.items() if v in "FE")
    if failed:
        tr.write_line("failed: " + " ".join(failed))
