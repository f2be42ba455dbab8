#!/bin/bash
# usage: interrupt.sh K LOGFILE -- python pipe.py
# Runs the command, sends SIGINT to it once BATCH_LOG has >= K lines, waits for exit,
# prints timing: t_sigint, t_exit, delta.
K=$1; OUT=$2; shift 2; [ "$1" = "--" ] && shift
: > "$BATCH_LOG"
"$@" > "$OUT" 2>&1 &
PID=$!
echo "pid=$PID" >&2
while kill -0 $PID 2>/dev/null; do
  n=$(wc -l < "$BATCH_LOG")
  if [ "$n" -ge "$K" ]; then break; fi
  sleep 0.05
done
TS=$(date +%s.%N)
kill -INT $PID 2>/dev/null
wait $PID; RC=$?
TE=$(date +%s.%N)
echo "sigint_after_batches=$(wc -l < "$BATCH_LOG" ) rc=$RC t_sigint=$TS t_exit=$TE stop_s=$(echo "$TE - $TS" | bc)"
