#!/bin/bash
# under_load.sh N cmd...: runs cmd with N busy loops beside it, always stops them.
n=$1; shift
/tmp/busy.sh start $n
trap '/tmp/busy.sh stop' EXIT
sleep 0.2
"$@"
