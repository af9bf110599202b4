# usage: python py_mgr.py mpipc|mp N  -> prints ops/s for 2 clients x (N sets + N gets)
import sys, os, time, multiprocessing as mp
impl, N = sys.argv[1], int(sys.argv[2])
ctx = mp.get_context("fork")
if impl == "mpipc":
    sys.path.insert(0, "/work/main/bindings/python")
    import mpipc
    m = mpipc.Manager()
else:
    m = ctx.Manager()
d = m.dict()
bar = ctx.Barrier(3)
def client(c, d, bar):
    len(d)
    bar.wait()
    val = b"\x07" * 16
    for i in range(N):
        d[c * 1000000 + i] = val
    for i in range(N):
        d[c * 1000000 + i]
ps = [ctx.Process(target=client, args=(c, d, bar)) for c in range(2)]
for p in ps: p.start()
bar.wait(); t0 = time.perf_counter()
for p in ps: p.join()
dt = time.perf_counter() - t0
assert all(p.exitcode == 0 for p in ps)
print(f"{impl} mgr_dict 2 clients: {4*N/dt/1000:.1f} k ops/s")
m.shutdown()
