#!/bin/bash
# vab.sh REPS V1 V2...: base and variants interleaved (q_mpmc), others frozen; prints medians.
reps=$1; shift
trap '/tmp/i17/freeze.sh cont' EXIT
/tmp/i17/freeze.sh stop
out=$(mktemp)
for r in $(seq 1 $reps); do for v in base "$@"; do
  b=/tmp/i17/v/$v; [ $v = base ] && b=/tmp/wt-base/target
  echo "== $v r$r" >> $out
  timeout 120 $b/release/deps/queue-028ec6487b77a00d --only q_mpmc --repeat 1 2>&1 >/dev/null | grep median >> $out
done; done
/tmp/i17/freeze.sh cont
python3 - "$out" "$@" <<'PY'
import re,sys,statistics as st
d={};cur=None
for l in open(sys.argv[1]):
    m=re.match(r'== (\S+) r',l)
    if m: cur=m.group(1); continue
    m=re.match(r'(\w+): median ([\d.]+)',l)
    if m: d.setdefault((m.group(1),cur),[]).append(float(m.group(2)))
for k in ('q_mpmc_single','q_mpmc_batch'):
    b=st.median(d[(k,'base')])
    print(k, ' | '.join(f"{v}: {st.median(d[(k,v)])/1e6:.2f} ({st.median(d[(k,v)])/b:.2f}) {[round(x/1e6,1) for x in d[(k,v)]]}" for v in ['base']+sys.argv[2:]))
PY
