"""The examples under examples/python run and say OK."""

import os
import subprocess
import sys

import pytest

from conftest import INSTALLED, ROOT

# The examples put the source tree on sys.path themselves; to run them on
# the installed package, it is imported first (the examples' own import
# then finds it in sys.modules) and the script runs as __main__.
PREIMPORT = ("import runpy, sys, mpipc; script = sys.argv[1]; sys.argv = sys.argv[1:]; "
             "runpy.run_path(script, run_name='__main__')")
EXAMPLES = {
    "producer_consumer": ["--items", "300"],
    "request_reply": [],
    "shared_counter": ["--procs", "2", "--n", "200"],
    "shared_array": ["--size", "5000"],
}


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_example(example):
    script = os.path.join(ROOT, "examples", "python", example, example + ".py")
    cmd = [sys.executable, "-c", PREIMPORT, script] if INSTALLED else [sys.executable, script]
    r = subprocess.run(cmd + EXAMPLES[example], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("OK")
    assert os.path.exists(os.path.join(ROOT, "examples", "python", example, "README.md"))
