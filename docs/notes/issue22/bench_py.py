import redis, time, threading, statistics
r = redis.Redis(port=6390); m = b'x' * 100; r.delete('pq')
def med(f, n=20000):
    xs = []
    for _ in range(n):
        t = time.perf_counter(); f(); xs.append((time.perf_counter() - t) * 1e6)
    xs.sort(); return 'p50 %.1f µs p99 %.1f µs' % (xs[len(xs)//2], xs[len(xs)*99//100])
print('redis-py LPUSH round trip:', med(lambda: r.lpush('pq', m)))
print('redis-py BRPOP round trip (item present):', med(lambda: r.brpop('pq', 1)))
r.hset('h', 'f', m); print('redis-py HGET round trip:', med(lambda: r.hget('h', 'f')))
def inc(n):
    c = redis.Redis(port=6390)
    for _ in range(n): c.hincrby('hh', 'hits', 1)
t0 = time.perf_counter(); ts = [threading.Thread(target=inc, args=(20000,)) for _ in range(2)]; [t.start() for t in ts]; [t.join() for t in ts]
print('redis-py 2-client HINCRBY (threads, GIL):  %.0f /s' % (40000 / (time.perf_counter() - t0)))
import multiprocessing as mp
t0 = time.perf_counter(); ps = [mp.Process(target=inc, args=(20000,)) for _ in range(2)]; [p.start() for p in ps]; [p.join() for p in ps]
print('redis-py 2-process HINCRBY: %.0f /s' % (40000 / (time.perf_counter() - t0)))
p = r.pipeline(transaction=False)
t0 = time.perf_counter()
for i in range(0, 200000, 256):
    p.rpush('pq2', *([m] * 256)); p.execute()
for i in range(0, 200000, 256):
    r.lpop('pq2', 256)
print('redis-py batched RPUSH 256 + LPOP COUNT 256 (one thread): %.0f msg/s' % (200000 / (time.perf_counter() - t0)))
