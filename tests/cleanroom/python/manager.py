"""A manager server for python.sh's own run of the mix roles (the mixed
exchange of run.sh uses the Debian package's `mpipc manager serve`
instead): serves at unix:PATH without an authkey, creates the dict
"counts", prints "ready", then answers lines on stdin:

    check N LANG    the dict must hold LANG == N and idsum == N*(N-1)/2:
                    prints "ok ..." or "bad ..."
    EOF             stops the server

    python manager.py PATH
"""

import sys

import mpipc


def main():
    m = mpipc.SyncManager(address="unix:" + sys.argv[1], authkey=b"").start()
    counts = m.dict(name="counts")
    print("ready", flush=True)
    for line in sys.stdin:
        _, n, lang = line.split()
        n = int(n)
        got = counts.copy()
        ok = got.get(lang) == n and got.get("idsum") == n * (n - 1) // 2
        print("%s %r" % ("ok" if ok else "bad", got), flush=True)
    m.shutdown()


if __name__ == "__main__":
    main()
