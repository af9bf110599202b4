import redis, cbor2, sys, time, threading, os
port = int(sys.argv[1]); r = redis.Redis(port=port)
enc = lambda v: cbor2.dumps(v, canonical=True)
fc = lambda name, keys, args: r.fcall('mpipc_1_' + name, len(keys), *keys, *args)
# queue via FCALL (the same bodies as the EVAL tests)
t = '{fq}'; K = ['mpipc:q:%s:%s' % (t, k) for k in ('items','meta','room','done','shut')]; r.delete(*K)
print('q_open', fc('q_open', K, ['c', 2, 0, 'amo']), 'put', fc('q_put', K, ['-', b'a', b'b', b'c']), 'qsize', fc('q_qsize', K, []))
print('get', fc('q_get', K, [5]), 'ro qsize via FCALL_RO', r.execute_command('FCALL_RO', 'mpipc_1_q_qsize', 5, *K))
# dict
D = 'mpipc:d:{stats}'; r.delete(D)
print('incr', cbor2.loads(fc('d_incr', [D], [enc('hits'), enc(5)])), cbor2.loads(fc('d_incr', [D], [enc('hits'), enc(-7)])))
r.hset(D, enc('f'), enc(1.0))
print('cas bytes differ (1.0 stored, expect 1):', fc('d_cas', [D], [enc('f'), enc(1), enc(2)]))
print('cas exact:', fc('d_cas', [D], [enc('f'), enc(1.0), enc(2)]), cbor2.loads(r.hget(D, enc('f'))))
print('get_or_set:', cbor2.loads(fc('d_get_or_set', [D], [enc('g'), enc('dflt')])), cbor2.loads(fc('d_get_or_set', [D], [enc('g'), enc('other')])))
V = 'mpipc:v:{counter}'; r.delete(V); print('value incr:', cbor2.loads(fc('v_incr', [V], [enc(2**62)])), cbor2.loads(fc('v_incr', [V], [enc(2**62-1)])))
try: fc('v_incr', [V], [enc(1)])
except redis.ResponseError as e: print('value incr overflow:', e)
# lock with lease + fencing, a waiter woken by release, a dead holder's lease expiring
LK = ['mpipc:lock:{l}', 'mpipc:lock:{l}:seq', 'mpipc:lock:{l}:wake']; r.delete(*LK)
print('A acquires', fc('lock_acquire', LK, ['A', 300, '0']), 'B tries', fc('lock_acquire', LK, ['B', 300, '0'])[0])
def waiter(res):
    c = redis.Redis(port=port); t0 = time.monotonic()
    while True:
        g = c.fcall('mpipc_1_lock_acquire', 3, *LK, 'C', 5000, '0')
        if g[0] == 1: res.append((g[1], round(time.monotonic() - t0, 3))); return
        c.blmpop(max(min(g[1], 1000), 1) / 1000, 1, LK[2], direction='LEFT')
res = []; th = threading.Thread(target=waiter, args=(res,)); th.start(); time.sleep(0.1)
print('A releases ->', fc('lock_release', LK, ['A'])); th.join(); print('C got it (fence, after s):', res)
try: fc('lock_release', LK, ['A'])
except redis.ResponseError as e: print('A releases again:', e)
fc('lock_release', LK, ['C'])
fc('lock_acquire', LK, ['dead', 300, '0'])   # holder that dies: never renews
res = []; th = threading.Thread(target=waiter, args=(res,)); th.start(); th.join()
print('waiter after a dead holder (lease 300 ms), fence and wait:', res)
# semaphore (value 2, bounded)
S = ['mpipc:sem:{s}', 'mpipc:sem:{s}:meta', 'mpipc:sem:{s}:seq', 'mpipc:sem:{s}:wake']; r.delete(*S)
print('sem', [fc('sem_acquire', S, [h, 200, 2, '1']) for h in ('h1', 'h2', 'h3')])
fc('sem_release', S, ['h1']); print('after release h1:', fc('sem_acquire', S, ['h3', 200, 2, '1']))
try: fc('sem_release', S, ['']); fc('sem_release', S, ['']); fc('sem_release', S, [''])
except redis.ResponseError as e: print('bounded:', e)
time.sleep(0.25); print('after leases expired:', fc('sem_acquire', S, ['h4', 200, 2, '1']))
# event latch: many waiters on many clients woken by one set
E = ['mpipc:ev:{e}', 'mpipc:ev:{e}:wake']; r.delete(*E); woke = []
def ew():
    c = redis.Redis(port=port)
    if c.blmpop(5, 1, E[1], direction='LEFT'):
        c.fcall('mpipc_1_ev_rearm', 2, *E); woke.append(1)
ths = [threading.Thread(target=ew) for _ in range(6)]; [t.start() for t in ths]; time.sleep(0.2)
t0 = time.monotonic(); fc('ev_set', E, []); [t.join() for t in ths]
print('event: %d waiters woke in %.4f s' % (len(woke), time.monotonic() - t0))
