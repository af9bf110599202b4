import redis, os, signal, subprocess, sys, time
port = int(sys.argv[1]) if len(sys.argv) > 1 else 6390; r = redis.Redis(port=port)
P = 'mpipc:q:{alo}:'; K = [P + k for k in ('items','meta','room','done','shut','consumers')]
for k in r.scan_iter(P.replace('{', '\\{').replace('}', '\\}') + '*'): r.delete(k)
r.fcall('mpipc_1_q_open', 5, *K[:5], 'c', 0, 0, 'alo')
r.fcall('mpipc_1_q_put', 5, *K[:5], '-', b'job1', b'job2', b'job3')
child = '''
import redis, time, sys
r = redis.Redis(port=%d); P = %r; K = %r; cid = "victim"
r.fcall("mpipc_1_q_lease", 6, *K, cid, 500, P + "proc:")
m = r.blmove(K[0], P + "proc:" + cid, 1, "LEFT", "RIGHT")
print("victim got", m.decode(), flush=True); time.sleep(30)
''' % (port, P, K)
p = subprocess.Popen([sys.executable, '-c', child], stdout=subprocess.PIPE, text=True)
print(p.stdout.readline().strip()); os.kill(p.pid, signal.SIGKILL); p.wait()
print('after SIGKILL: items', r.lrange(K[0], 0, -1), 'victim proc', r.lrange(P + 'proc:victim', 0, -1))
time.sleep(0.6)
cid = 'survivor'
print('survivor lease/reap ->', r.fcall('mpipc_1_q_lease', 6, *K, cid, 5000, P + 'proc:'))
got = [r.blmove(K[0], P + 'proc:' + cid, 1, 'LEFT', 'RIGHT') for _ in range(3)]
print('survivor got', got)
for _ in got: print('ack ->', r.fcall('mpipc_1_q_ack', 7, *K, P + 'proc:' + cid, cid, 1))
try: r.fcall('mpipc_1_q_ack', 7, *K, P + 'proc:' + cid, cid, 1)
except redis.ResponseError as e: print('extra ack:', e)
assert sorted(got) == [b'job1', b'job2', b'job3'] and got[0] == b'job1'
print('every job accounted for; the dead consumer\'s job came back first')
