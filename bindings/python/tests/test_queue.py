"""Queue, JoinableQueue, SimpleQueue: multiprocessing's documented
behaviours, across real processes, plus what mpipc adds (names, exact
qsize, TypeError at put, shutdown, batches, C interop)."""

import os
import pickle
import queue
import shutil
import subprocess
import threading
import time

import pytest

import mpipc
from mpipc import JoinableQueue, Queue, SimpleQueue

from conftest import join_ok, python, run_child, start_child, wait_blocked_in_futex

SMALL = {"id": 1, "name": "item-1", "vals": [1.5, 2.5, 3.5]}


def test_fifo_and_values_round_trip(name):
    q = Queue(name=name)
    for v in (SMALL, None, [1, (2, 3)], b"\x00", "t", 2 ** 70, -0.5):
        q.put(v)
    assert q.qsize() == 7
    assert [q.get() for _ in range(7)] == [SMALL, None, [1, (2, 3)], b"\x00", "t", 2 ** 70, -0.5]
    q.close()


def test_full_and_empty_with_timeouts():
    q = Queue(2)
    q.put(1)
    q.put_nowait(2)
    assert q.full() and q.qsize() == 2
    with pytest.raises(queue.Full):
        q.put_nowait(3)
    with pytest.raises(queue.Full):
        q.put(3, block=False)
    t = time.monotonic()
    with pytest.raises(queue.Full):
        q.put(3, timeout=0.2)
    assert 0.18 <= time.monotonic() - t < 2
    assert q.get() == 1 and q.get_nowait() == 2
    assert q.empty() and not q.full()
    with pytest.raises(queue.Empty):
        q.get_nowait()
    with pytest.raises(queue.Empty):
        q.get(False)
    t = time.monotonic()
    with pytest.raises(queue.Empty):
        q.get(timeout=0.2)
    assert 0.18 <= time.monotonic() - t < 2
    with pytest.raises(queue.Empty):
        q.get(timeout=-1)  # a negative timeout does not wait (multiprocessing)
    q.close()


def test_exceptions_carry_code_and_message():
    q = Queue(1)
    q.put(0)
    with pytest.raises(mpipc.Full) as e:
        q.put(0, timeout=0)
    assert e.value.code == mpipc._bindings.MP_E_FULL and e.value.status_name == "MP_E_FULL"
    assert str(e.value)
    q.close()


def test_type_error_at_put_and_nothing_written():
    q = Queue()
    with pytest.raises(TypeError):
        q.put(object())
    with pytest.raises(TypeError):
        q.put({"f": lambda: 0})
    with pytest.raises(TypeError):
        q.put_many([1, object()])  # all encoded first: nothing written
    assert q.qsize() == 0
    q.close()


def test_closed_queue_raises_value_error():
    q = Queue()
    q.put(1)
    with pytest.raises(AssertionError):
        q.join_thread()  # only after close, as multiprocessing
    q.close()
    q.close()  # idempotent
    for call in (lambda: q.put(1), q.get, q.get_nowait, lambda: q.put_nowait(1), q.qsize, q.empty):
        with pytest.raises(ValueError):
            call()
    q.join_thread()
    q.cancel_join_thread()


def test_generated_name_is_unlinked_by_its_creator():
    q = Queue()
    path = "/dev/shm/mpipc.q." + q.name
    assert os.path.exists(path) and q.unlink_on_close
    q.close()
    assert not os.path.exists(path)
    q = Queue()
    path = "/dev/shm/mpipc.q." + q.name
    del q  # garbage collection unlinks too
    assert not os.path.exists(path)


def test_explicit_name_persists_until_unlinked(name):
    q = Queue(name=name)
    q.put("kept")
    q.close()
    assert os.path.exists("/dev/shm/mpipc.q." + name)
    q2 = Queue(name=name, create=False)
    assert q2.get() == "kept"
    q2.unlink()
    with pytest.raises(FileNotFoundError):
        Queue(name=name, create=False)
    x = Queue(name=name + "x", create=True)
    with pytest.raises(FileExistsError):
        Queue(name=name + "x", create=True)
    x.unlink()


def test_options_must_match_the_existing_queue(name):
    q = Queue(5, name=name)
    assert Queue(name=name).maxsize == 5  # maxsize 0 attaches to any
    with pytest.raises(ValueError):
        Queue(7, name=name)
    with pytest.raises(ValueError):
        Queue(name="bad/name")
    q.unlink()


def _producer(q, n):
    for i in range(n):
        q.put({"i": i})


def test_across_forked_processes(ctx):
    q = Queue(10)
    p = start_child(ctx, _producer, q, 200)
    got = [q.get(timeout=10)["i"] for _ in range(200)]
    join_ok(p)
    assert got == list(range(200))
    q.close()


def _consumer_sum(q, out):
    total = 0
    while True:
        v = q.get()
        if v is None:
            break
        total += v
    out.put(total)


def test_many_producers_and_consumers(ctx):
    q, out = Queue(50), Queue()
    cons = [start_child(ctx, _consumer_sum, q, out) for _ in range(2)]
    prods = [start_child(ctx, _producer_ints, q, k) for k in range(3)]
    join_ok(*prods)
    for _ in cons:
        q.put(None)
    join_ok(*cons)
    assert out.get(timeout=5) + out.get(timeout=5) == sum(range(3000))
    q.close()
    out.close()


def _producer_ints(q, k):
    for i in range(k * 1000, (k + 1) * 1000):
        q.put(i)


def test_spawned_program_opens_by_name(name):
    q = Queue(name=name)
    q.put(21)
    python("import mpipc, sys; q = mpipc.Queue(name=sys.argv[1], create=False); q.put(q.get() * 2)", name)
    assert q.get(timeout=5) == 42
    q.unlink()


def test_pickles_by_name(ctx):
    q = Queue()
    q2 = pickle.loads(pickle.dumps(q))
    assert q2.name == q.name and not q2.unlink_on_close
    q2.put("via name")
    assert q.get() == "via name"
    q2.close()
    assert os.path.exists("/dev/shm/mpipc.q." + q.name)  # an attacher never unlinks
    q.close()


def _spawn_child(q):
    q.put(("spawned", os.getpid()))


def test_spawn_start_method_reattaches_by_name():
    import multiprocessing

    sctx = multiprocessing.get_context("spawn")
    q = Queue()
    p = sctx.Process(target=_spawn_child, args=(q,))
    p.start()
    tag, pid = q.get(timeout=30)
    p.join(30)
    assert tag == "spawned" and pid == p.pid and p.exitcode == 0
    q.close()


def _child_closes(q):
    q.put("child")
    q.close()  # must not unlink what the parent created


def test_forked_child_never_unlinks_its_parents_queue(ctx):
    q = Queue()
    assert run_child(ctx, _child_closes, q) == 0
    assert os.path.exists("/dev/shm/mpipc.q." + q.name)
    assert q.get() == "child"
    q.close()


def test_joinable_queue_task_done_and_join(ctx):
    q = JoinableQueue()
    for i in range(5):
        q.put(i)
    p = start_child(ctx, _worker, q)
    t = time.monotonic()
    q.join()
    assert time.monotonic() - t < 10
    join_ok(p)
    with pytest.raises(ValueError, match="too many times"):
        q.task_done()
    q.put(1)
    with pytest.raises(TimeoutError):
        q.join(timeout=0.1)
    q.close()


def _worker(q):
    for _ in range(5):
        q.get()
        time.sleep(0.01)
        q.task_done()


def test_shutdown_drains_then_raises():
    q = Queue()
    q.put(1)
    q.shutdown()
    with pytest.raises(mpipc.ShutDown):
        q.put(2)
    assert q.get() == 1
    with pytest.raises(mpipc.ShutDown):
        q.get()
    q.close()
    q = JoinableQueue()
    q.put(1)
    q.put(2)
    q.shutdown(immediate=True)
    assert q.qsize() == 0
    q.join()  # discarded items count as done
    q.close()


def _blocked_get(q, out):
    try:
        q.get()
    except mpipc.ShutDown:
        out.put("shutdown")


def test_shutdown_wakes_a_blocked_consumer_in_another_process(ctx):
    q, out = Queue(), Queue()
    p = start_child(ctx, _blocked_get, q, out)
    time.sleep(0.2)
    q.shutdown()
    assert out.get(timeout=5) == "shutdown"
    join_ok(p)
    q.close()
    out.close()


def test_blocking_get_releases_the_gil():
    q = Queue()
    threading.Timer(0.1, q.put, args=("late",)).start()
    assert q.get(timeout=5) == "late"
    q.close()


def test_too_big_and_raw_bytes():
    q = Queue(capacity_bytes=4096)
    with pytest.raises(ValueError) as e:
        q.put(b"x" * 5000)
    assert isinstance(e.value, mpipc.TooBig)
    q.put_bytes(b"\xff\x00")  # not CBOR: the consumer gets DecodeError, the message is consumed
    with pytest.raises(mpipc.DecodeError) as e:
        q.get()
    assert e.value.data == b"\xff\x00" and q.empty()
    q.put_bytes(b"raw")
    assert q.get_bytes() == b"raw"
    q.close()


def test_large_messages_grow_the_receive_buffer():
    q = Queue(capacity_bytes=8 << 20)
    big = b"b" * (3 << 20)
    q.put(big)
    q.put([big[:100000]] * 3)
    assert q.get() == big
    assert q.get() == [big[:100000]] * 3
    q.close()


def test_put_many_and_get_many():
    q = Queue(100)
    q.put_many([{"i": i} for i in range(250)][:100])
    assert q.qsize() == 100
    got = q.get_many(60)
    assert [x["i"] for x in got] == list(range(60))
    assert len(q.get_many()) == 40
    with pytest.raises(queue.Empty):
        q.get_many(10, timeout=0.05)
    with pytest.raises(ValueError):
        q.get_many(0)
    q.close()


def test_simple_queue():
    q = SimpleQueue()
    assert q.empty()
    q.put([1])
    assert q.get() == [1]
    q.close()


C_PROGRAM = r"""
#include <stdio.h>
#include "mpipc.h"
int main(int argc, char **argv) {
    mpq *q; mpq_options o = {0}; o.flags = MPQ_ATTACH_ONLY;
    if (mpq_open(argv[1], &o, &q) != MP_OK) { fprintf(stderr, "%s\n", mp_last_error()); return 1; }
    mp_buf m;
    if (mpq_get_timeout(q, &m, 5000) != MP_OK) { fprintf(stderr, "%s\n", mp_last_error()); return 2; }
    for (size_t i = 0; i < m.len; i++) printf("%02x", m.ptr[i]);
    printf("\n");
    mp_buf_free(&m);
    /* {"from": "c", "n": [1, 2.5]} in CBOR, floats 64-bit (docs/TYPES.md) */
    static const uint8_t reply[] = {0xa2, 0x64, 'f', 'r', 'o', 'm', 0x61, 'c', 0x61, 'n', 0x82, 0x01,
                                    0xfb, 0x40, 0x04, 0, 0, 0, 0, 0, 0};
    if (mpq_put(q, reply, sizeof reply) != MP_OK) return 3;
    mpq_close(q);
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_interop_with_c(tmp_path, name):
    root = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    src = tmp_path / "peer.c"
    src.write_text(C_PROGRAM)
    libdir = os.path.dirname(mpipc.LIB_PATH)
    exe = tmp_path / "peer"
    # The peer needs the library by its soname, libmpipc.so.0, which the
    # wheel's package directory does not have (it holds libmpipc.so): a
    # link of that name to the library Python loaded, found through rpath.
    (tmp_path / "libmpipc.so.0").symlink_to(mpipc.LIB_PATH)
    subprocess.run(["cc", "-o", str(exe), str(src), "-I", os.path.join(root, "include"), "-L", libdir,
                    "-Wl,-rpath," + str(tmp_path), "-l:" + os.path.basename(mpipc.LIB_PATH)], check=True)
    q = Queue(name=name)
    q.put(SMALL)
    r = subprocess.run([str(exe), name], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert bytes.fromhex(r.stdout.strip()) == mpipc.encode(SMALL)  # what C read is the CBOR we wrote
    assert q.get(timeout=5) == {"from": "c", "n": [1, 2.5]}
    q.unlink()


def _blocked_forever(q, out, ready):
    import signal

    # Python leaves SIGINT ignored when it starts with it ignored (a test
    # run started in the background by a non-interactive shell): make
    # Ctrl-C raise KeyboardInterrupt here whatever the environment.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        ready.set()
        q.get()
    except KeyboardInterrupt:
        out.put("interrupted")


def test_blocking_get_is_interruptible(ctx):
    import signal

    q, out, ready = Queue(), Queue(), mpipc.Event()
    p = start_child(ctx, _blocked_forever, q, out, ready)
    assert ready.wait(60)
    wait_blocked_in_futex(p.pid)  # inside get()
    os.kill(p.pid, signal.SIGINT)
    assert out.get(timeout=60) == "interrupted"  # waits are sliced: Ctrl-C works
    join_ok(p)
    q.close()
    out.close()
    ready.close()


def _child_creates(out):
    q = Queue()  # generated name, created by the child; never closed
    q.put(1)
    out.put(q.name)


def test_object_created_in_a_child_is_unlinked_when_it_exits(ctx):
    out = Queue()
    assert run_child(ctx, _child_creates, out) == 0
    name = out.get(timeout=5)
    assert not os.path.exists("/dev/shm/mpipc.q." + name)
    out.close()
