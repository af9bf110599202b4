"""The examples under examples/python run and say OK."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
EXAMPLES = {
    "producer_consumer": ["--items", "300"],
    "request_reply": [],
    "shared_counter": ["--procs", "2", "--n", "200"],
    "shared_array": ["--size", "5000"],
}


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_example(example):
    script = os.path.join(ROOT, "examples", "python", example, example + ".py")
    r = subprocess.run([sys.executable, script] + EXAMPLES[example], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("OK")
    assert os.path.exists(os.path.join(ROOT, "examples", "python", example, "README.md"))
