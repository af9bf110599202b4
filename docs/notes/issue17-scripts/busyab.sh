#!/bin/bash
# busyab.sh REPS V...: base and variants under 3 busy loops (started here), manager --quick + q_mpmc; others frozen.
reps=$1; shift
trap '/tmp/i17/busy.sh stop; /tmp/i17/freeze.sh cont' EXIT
/tmp/i17/freeze.sh stop
/tmp/i17/busy.sh start 3; sleep 0.3
for r in $(seq 1 $reps); do for v in base "$@"; do
  b=/tmp/i17/v/$v; [ $v = base ] && b=/tmp/wt-base/target
  echo "== $v r$r"
  timeout 300 $b/release/deps/manager-6407a25f0eb10e1c --quick --repeat 1 2>&1 >/dev/null | grep median
  timeout 300 $b/release/deps/queue-028ec6487b77a00d --only q_mpmc --repeat 1 2>&1 >/dev/null | grep median
done; done
