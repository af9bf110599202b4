"""Regression tests of issue #18's bugs (the Python binding as a drop-in for
multiprocessing)."""

import os
import threading
import time

import pytest

import mpipc
from mpipc.connection import Client, Listener, wait


def test_wait_on_a_mixed_list_returns_every_ready_object():
    # Bug 1: with a Connection holding a message, a ready descriptor in the
    # same list was dropped; multiprocessing returns both.
    a, b = mpipc.Pipe()
    r, w = os.pipe()
    try:
        os.write(w, b"x")
        a.send(1)
        assert wait([b, r], 1) == [b, r]
        assert b.recv() == 1
        # Only the descriptor ready: just it.
        assert wait([b, r], 1) == [r]
        os.read(r, 1)
        # Only the Connection ready: just it.
        a.send(2)
        assert wait([r, b], 1) == [b]
        assert b.recv() == 2
        # Nothing ready: [] when the time runs out.
        assert wait([b, r], 0.05) == []
    finally:
        a.close()
        b.close()
        os.close(r)
        os.close(w)


def test_listener_close_wakes_a_blocked_accept():
    # Bug 4: close() from another thread freed the C handle under the
    # running accept (a use-after-free). Now the accept raises OSError
    # within a slice and the handle is freed after it returned.
    listener = Listener(authkey=b"key")
    address = listener.address
    errors = []

    def accept():
        try:
            listener.accept()
        except OSError as e:
            errors.append(e)

    t = threading.Thread(target=accept)
    t.start()
    deadline = time.monotonic() + 30
    while not listener._calls and time.monotonic() < deadline:
        time.sleep(0.001)  # polling a state: the thread is inside accept
    assert listener._calls, "the thread never entered accept"
    listener.close()
    t.join(30)
    assert not t.is_alive(), "close() did not wake the blocked accept"
    assert len(errors) == 1 and "closed" in str(errors[0])
    assert listener._h is None, "the handle outlived the last call"
    with pytest.raises(OSError, match="closed"):
        listener.accept(0)
    listener.close()  # a second close is a no-op
    with pytest.raises(Exception):
        Client(address, authkey=b"key", timeout=1)
