import sys, time, threading
from qlib import Q
port = int(sys.argv[1])
def fresh(name, **kw):
    q = Q(port, name, **kw); q.unlink(); return Q(port, name, **kw)
# 1. FIFO, maxsize, put_many partial, qsize exact
q = fresh('t1', maxsize=3)
assert q.put_many([b'a', b'bb', b'ccc', b'dddd']) == 3
assert q.qsize()[:2] == [3, 3], q.qsize()
try: q.put(b'x', timeout=0.05); assert False
except TimeoutError: pass
assert q.get_many(10) == [b'a', b'bb', b'ccc']
print('1 ok')
# 2. blocked putter woken by a get on another client (server-side)
q = fresh('t2', maxsize=1); q.put(b'1')
t0 = time.monotonic(); res = {}
def putter(): res['p'] = Q(port, 't2').put(b'2', timeout=5); res['t'] = time.monotonic() - t0
th = threading.Thread(target=putter); th.start(); time.sleep(0.2)
assert Q(port, 't2').get() == b'1'; th.join()
assert res['p'] == 1 and 0.19 < res['t'] < 0.5, res
assert q.get() == b'2'
print('2 ok (putter woke after %.3f s)' % res['t'])
# 3. several blocked getters on several clients all wake on shutdown (latch chain)
q = fresh('t3')
outs = []
def getter(i):
    try: Q(port, 't3').get(timeout=10); outs.append('msg')
    except EOFError: outs.append(('shut', round(time.monotonic() - t0, 3)))
ths = [threading.Thread(target=getter, args=(i,)) for i in range(8)]
[t.start() for t in ths]; time.sleep(0.3); t0 = time.monotonic()
q.shutdown(False); [t.join() for t in ths]
assert len(outs) == 8 and all(o[0] == 'shut' for o in outs), outs
print('3 ok: 8 getters woke on shutdown within', max(o[1] for o in outs), 's')
# 4. non-immediate shutdown drains first; put refused
q = fresh('t4'); q.put_many([b'x', b'y']); q.shutdown(False)
try: q.put(b'z'); assert False
except Exception as e: assert 'MPIPC_SHUTDOWN' in str(e)
assert q.get() == b'x' and q.get() == b'y'
try: q.get(timeout=5); assert False
except EOFError: pass
print('4 ok')
# 5. join/task_done: joiners on two clients wake when the count reaches 0
q = fresh('t5'); q.put_many([b'j1', b'j2'])
joined = []
def joiner(): Q(port, 't5').join(timeout=10); joined.append(time.monotonic() - t0)
ths = [threading.Thread(target=joiner) for _ in range(3)]; [t.start() for t in ths]
time.sleep(0.2); t0 = time.monotonic()
q.get(); q.task_done(); time.sleep(0.2); assert not joined
q.get(); q.task_done(); [t.join() for t in ths]
assert len(joined) == 3 and max(joined) < 0.5, joined
try: q.task_done(); assert False
except Exception as e: assert 'too many' in str(e)
q.join(timeout=0.1)
print('5 ok: 3 joiners woke in', round(max(joined) - 0.2, 4), 's after the last task_done')
# 6. immediate shutdown discards, counts as done, wakes joiners
q = fresh('t6'); q.put_many([b'a', b'b', b'c'])
th = threading.Thread(target=lambda: joined.append(Q(port, 't6').join(timeout=5))); th.start(); time.sleep(0.1)
q.shutdown(True); th.join(); assert q.qsize()[:3] == [0, 0, 1]
print('6 ok')
# 7. a putter blocked on a full queue wakes on shutdown with SHUTDOWN
q = fresh('t7', maxsize=1); q.put(b'1'); err = []
def p():
    try: Q(port, 't7').put(b'2', timeout=5)
    except Exception as e: err.append(str(e))
th = threading.Thread(target=p); th.start(); time.sleep(0.2); q.shutdown(False); th.join()
assert err and 'SHUTDOWN' in err[0], err
print('7 ok')
# 8. create-only / attach-only / options mismatch
try: Q(port, 'nope-xyz', mode='A'); assert False
except Exception as e: assert 'NOTFOUND' in str(e), e
try: Q(port, 't7', mode='C'); assert False
except Exception as e: assert 'EXISTS' in str(e)
try: Q(port, 't7', maxsize=5); assert False
except Exception as e: assert 'MPIPC_INVAL' in str(e); print('8 ok:', e)
# 9. many producers/consumers, bounded, every message accounted for
q = fresh('t9', maxsize=64); N = 4000; got = []; lock = threading.Lock()
def prod(k):
    qq = Q(port, 't9')
    for i in range(0, N, 50):
        batch = [b'%d-%d' % (k, j) for j in range(i, i + 50)]
        while batch: batch = batch[qq.put_many(batch, timeout=10):]
def cons():
    qq = Q(port, 't9')
    while True:
        try: ms = qq.get_many(32, timeout=10)
        except EOFError: return
        with lock: got.extend(ms)
        qq.task_done(len(ms))
t0 = time.monotonic()
ps = [threading.Thread(target=prod, args=(k,)) for k in range(2)]; cs = [threading.Thread(target=cons) for _ in range(2)]
[t.start() for t in ps + cs]; [t.join() for t in ps]; q.join(timeout=20); q.shutdown(); [t.join() for t in cs]
assert sorted(got) == sorted(b'%d-%d' % (k, j) for k in range(2) for j in range(N)), len(got)
print('9 ok: %d messages, bounded 64, 2x2, %.2f s' % (len(got), time.monotonic() - t0))
