#!/bin/bash
# Data-level resume end-to-end. usage: e2e_dl.sh TAG SIG1:K1 [SIG2:K2 ...]   (SIG = INT|KILL)
# attempt i gets signal SIGi (to the process group for KILL, to the driver pid for INT)
# after Ki batch-log lines; the last attempt runs to completion. Each attempt: own cache dir.
set -u
TAG=$1; shift
D=/work/research-resume/runs/$TAG; rm -rf "$D"; mkdir -p "$D"
export COLUMNS=250 RESULT_JSON=$D/result.json
PY=/work/main/.venv-ray/bin/python; N_ROWS=${N_ROWS:-200}
att=0; total=0; PREV=""
run_attempt() {
  att=$((att+1)); export BATCH_LOG=$D/batches-$att.log; : > $BATCH_LOG
  export DISTILABEL_CACHE_DIR=$D/attempt-$att/cache DL_PREV_CACHES=$PREV
  if [ -n "$1" ]; then
    sig=${1%%:*}; k=${1##*:}
    setsid $PY /work/research-resume/pipe_dl.py > $D/attempt-$att.log 2>&1 & PID=$!
    while kill -0 $PID 2>/dev/null && [ "$(wc -l < $BATCH_LOG)" -lt "$k" ]; do sleep 0.05; done
    sleep ${SIG_DELAY:-0.25}
    TS=$(date +%s.%N)
    if [ $sig = KILL ]; then kill -KILL -- -$PID; else kill -INT $PID; fi
    ( sleep 120; kill -KILL -- -$PID 2>/dev/null ) & WD=$!
    wait $PID 2>/dev/null; RC=$?; TE=$(date +%s.%N); kill $WD 2>/dev/null; wait $WD 2>/dev/null
    echo "attempt $att: SIG$sig after $k -> stop_s=$(echo "$TE - $TS" | bc) rc=$RC batches=$(wc -l < $BATCH_LOG) $(grep -o 'RESULT.*' $D/attempt-$att.log)"
  else
    TS=$(date +%s.%N); timeout -k 5 180 $PY /work/research-resume/pipe_dl.py > $D/attempt-$att.log 2>&1; RC=$?; TE=$(date +%s.%N)
    echo "attempt $att: to completion rc=$RC wall=$(echo "$TE - $TS" | bc) batches=$(wc -l < $BATCH_LOG) $(grep -o 'RESULT.*' $D/attempt-$att.log)"
  fi
  grep "skipped" $D/attempt-$att.log
  total=$((total + $(wc -l < $BATCH_LOG)))
  PREV="${PREV:+$PREV:}$DISTILABEL_CACHE_DIR"
}
for a in "$@"; do run_attempt "$a"; done
run_attempt ""
N_STEPS=${N_STEPS:-1}; IBS=${IBS:-10}; min=$(( N_STEPS * ( (N_ROWS + IBS - 1) / IBS ) ))
python3 - "$RESULT_JSON" "$N_ROWS" "$total" "$min" <<'PY'
import json, sys, os
p, n, tb, mn = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ids = json.load(open(p)) if os.path.exists(p) else []
missing = set(range(n)) - set(ids); dup = len(ids) - len(set(ids))
ok = not missing and dup == 0 and tb < 2 * mn
print(f"VERDICT {'PASS' if ok else 'FAIL'}: rows={len(ids)} missing={len(missing)} duplicated={dup} batches_total={tb} (one clean run={mn}, limit<{2*mn})")
PY
pgrep -f research-resume/pipe >/dev/null && echo "WARNING: leftover processes" || true
