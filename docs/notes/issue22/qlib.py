import redis, time, threading
L = '/tmp/r22/lua/'
def src(name): return open(L+'q_common.lua').read() + '\n' + open(L+name+'.lua').read()
class Q:
    def __init__(self, port, name, maxsize=0, mode='c', sock=None):
        import os
        sock = sock or os.environ.get('QSOCK')
        self.r = redis.Redis(port=port) if not sock else redis.Redis(unix_socket_path=sock)
        t = '{%s}' % name
        self.keys = ['mpipc:q:%s:%s' % (t, k) for k in ('items','meta','room','done','shut')]
        self.items, self.meta, self.room, self.done, self.shut = self.keys
        self.s = {n: self.r.register_script(src(n)) for n in
                  ('q_open','q_put','q_get','q_task_done','q_shutdown','latch_rearm','q_qsize')}
        self.info = self.s['q_open'](keys=self.keys, args=[mode, maxsize, 0, 'amo'])
        self.maxsize = int(self.info[0])
    def put_many(self, msgs, timeout=None):
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            n = self.s['q_put'](keys=self.keys, args=['w'] + list(msgs))
            if n > 0: return n
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0: raise TimeoutError('full')
            t = 1.0 if left is None else min(left, 1.0)   # failsafe recheck
            r = self.r.blmpop(max(t, 0.001), 2, self.room, self.shut, direction='LEFT', count=1)
            if r and r[0].decode() == self.shut:
                self.s['latch_rearm'](keys=self.keys, args=['shut'])
    def put(self, m, timeout=None): return self.put_many([m], timeout)
    def get_many(self, n=1, timeout=None):
        end = None if timeout is None else time.monotonic() + timeout
        if self.maxsize > 0 or timeout == 0:
            r = self.s['q_get'](keys=self.keys, args=[n])
            if r[0] == 0: return r[1:]
            if r[0] == 2: raise EOFError('shutdown')
            if timeout == 0: raise TimeoutError('empty')
        while True:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0: raise TimeoutError('empty')
            t = 1.0 if left is None else min(left, 1.0)
            r = self.r.blmpop(max(t, 0.001), 2, self.items, self.shut, direction='LEFT', count=n)
            if r is None:
                continue
            if r[0].decode() == self.shut:
                self.s['latch_rearm'](keys=self.keys, args=['shut'])
                # drained? (non-immediate shutdown leaves items for the others)
                r2 = self.s['q_get'](keys=self.keys, args=[n])
                if r2[0] == 0: return r2[1:]
                raise EOFError('shutdown')
            return r[1]
    def get(self, timeout=None): return self.get_many(1, timeout)[0]
    def task_done(self, n=1): return self.s['q_task_done'](keys=self.keys, args=[n])
    def join(self, timeout=None):
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0: raise TimeoutError('join')
            t = 1.0 if left is None else min(left, 1.0)
            r = self.r.blmpop(max(t, 0.001), 1, self.done, direction='LEFT', count=1)
            if r is not None and self.s['latch_rearm'](keys=self.keys, args=['done']) == 1:
                return
    def shutdown(self, immediate=False): return self.s['q_shutdown'](keys=self.keys, args=['1' if immediate else '0'])
    def qsize(self): return self.s['q_qsize'](keys=self.keys, args=[])
    def unlink(self): self.r.delete(*self.keys)
