import redis, cbor2, sys, random
port = int(sys.argv[1]) if len(sys.argv) > 1 else 6390
r = redis.Redis(port=port)
src = open('/tmp/r22/lua/dict_incr.lua').read()
incr = r.register_script(src)
K = 'mpipc:d:{t}'
r.delete(K)
def enc(v): return cbor2.dumps(v, canonical=True)
I64 = (-2**63, 2**63-1)
def check(start, delta):
    f = enc('k')
    if start is None: r.hdel(K, f)
    else: r.hset(K, f, enc(start))
    exp = (0 if start is None else start) + delta
    try:
        out = incr(keys=[K], args=[f, enc(delta)])
    except redis.ResponseError as e:
        ok = not (I64[0] <= exp <= I64[1]) or not (start is None or I64[0] <= start <= I64[1])
        assert ok, (start, delta, str(e))
        return 'err'
    assert I64[0] <= exp <= I64[1], (start, delta)
    assert out == enc(exp), (start, delta, out, enc(exp))
    assert r.hget(K, f) == out
    return 'ok'
edges = [0,1,-1,23,24,-24,-25,255,256,-256,-257,65535,65536,2**32-1,2**32,-2**32,-2**32-1,2**53,2**53+1,-2**53-1,
         2**62,2**63-2,2**63-1,-2**63,-2**63+1, 2**63, 2**64-1, -2**64]
n = {'ok':0,'err':0}
for a in edges + [None]:
    for d in edges:
        if not (I64[0] <= d <= I64[1]): continue
        n[check(a, d)] += 1
for _ in range(3000):
    a = random.randint(*I64); d = random.randint(*I64)
    n[check(a, d)] += 1
    a = random.randint(-2**40, 2**40); d = random.randint(-2**40, 2**40)
    n[check(a, d)] += 1
# type errors
r.hset(K, b'x', enc('text'))
try: incr(keys=[K], args=[b'x', enc(1)]); print('NO ERROR?')
except redis.ResponseError as e: print('text ->', e)
r.hset(K, b'x', enc(1.5))
try: incr(keys=[K], args=[b'x', enc(1)]); print('NO ERROR?')
except redis.ResponseError as e: print('float ->', e)
r.hset(K, b'x', enc(2**70))
try: incr(keys=[K], args=[b'x', enc(1)]); print('NO ERROR?')
except redis.ResponseError as e: print('bignum ->', e)
r.hset(K, b'x', enc(2**63))
try: incr(keys=[K], args=[b'x', enc(1)]); print('NO ERROR?')
except redis.ResponseError as e: print('2^63 ->', e)
r.hset(K, b'x', b'\xf6')
print('null+5 ->', cbor2.loads(incr(keys=[K], args=[b'x', enc(5)])))
print(n)
