#!/bin/bash
# busy.sh start N | stop
case $1 in
start) : > /tmp/busy.pids; for i in $(seq 1 ${2:-3}); do (while :; do :; done) & echo $! >> /tmp/busy.pids; done ;;
stop) [ -f /tmp/busy.pids ] && for p in $(cat /tmp/busy.pids); do kill $p 2>/dev/null; done; rm -f /tmp/busy.pids ;;
esac
