#!/bin/bash
# matrix.sh TAG "ENV..." : runs manager, queue, sync benches quiet and with 3 busy loops
cd /tmp/wt17
M=target/release/deps/manager-6407a25f0eb10e1c; Q=target/release/deps/queue-028ec6487b77a00d; S=target/release/deps/sync-ec3c665b3162a0e6
tag=$1; shift
for cond in quiet busy3; do
  L=""; [ $cond = busy3 ] && L="/tmp/under_load.sh 3"
  {
  env "$@" $L $M --repeat 3 2>&1 >/dev/null | grep median
  env "$@" $L $Q --repeat 3 2>&1 >/dev/null | grep median
  env "$@" $L $S --repeat 3 --only array 2>&1 >/dev/null | grep median
  } > /tmp/res/$tag.$cond.txt
done
