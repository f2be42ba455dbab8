#!/bin/bash
# usage: e2e.sh TAG MODE K1 [K2 ...]
#   MODE: fixup | swift | nofix   (before each resumed attempt: fixup = fixup_cache.py,
#         swift = `$SLURM_DISTIL _repair-distilabel-cache`, default binary .build/debug/slurm-distil of this repository)
#   Ki  : interrupt attempt i with SIGINT after Ki batch-log lines (of that attempt)
# The last attempt runs to completion under `timeout 180`. Prints per-attempt stats and verdict.
# Honors pipe.py env (N_ROWS GEN_BS IBS N_STEPS SLEEP RAY), SIG_TARGET=pid|group, RUNS (folder of the runs).
set -u
TAG=$1; MODE=$2; shift 2
D=${RUNS:-/work/research-resume/runs}/$TAG; rm -rf "$D"; mkdir -p "$D"
export DISTILABEL_CACHE_DIR=$D/cache COLUMNS=250 RESULT_JSON=$D/result.json
PY=/work/main/.venv-ray/bin/python
SLURM_DISTIL=${SLURM_DISTIL:-$(cd "$(dirname "$0")/../.." && pwd)/.build/debug/slurm-distil}
N_ROWS=${N_ROWS:-200}
att=0; total_batches=0
run_attempt() { # $1 = K or "" (run to completion)
  att=$((att+1)); export BATCH_LOG=$D/batches-$att.log; : > "$BATCH_LOG"
  if [ $att -gt 1 ] && [ "$MODE" = fixup ]; then $PY /work/research-resume/fixup_cache.py "$DISTILABEL_CACHE_DIR" > $D/fixup-$att.log 2>&1; fi
  if [ $att -gt 1 ] && [ "$MODE" = swift ]; then "$SLURM_DISTIL" _repair-distilabel-cache "$DISTILABEL_CACHE_DIR" > $D/fixup-$att.log 2>&1; echo "  repair before attempt $att (rc=$?): $(tr '\n' ';' < $D/fixup-$att.log)"; fi
  if [ -n "$1" ]; then
    setsid $PY /work/research-resume/pipe.py > $D/attempt-$att.log 2>&1 &
    PID=$!
    while kill -0 $PID 2>/dev/null && [ "$(wc -l < $BATCH_LOG)" -lt "$1" ]; do sleep 0.05; done
    sleep ${SIG_DELAY:-0}
    TS=$(date +%s.%N)
    if [ "${SIG_TARGET:-pid}" = group ]; then kill -${SIG:-INT} -- -$PID; else kill -${SIG:-INT} $PID; fi
    # hard bound for the stop
    ( sleep 120; kill -KILL -- -$PID 2>/dev/null ) & WD=$!
    wait $PID; RC=$?; TE=$(date +%s.%N); kill $WD 2>/dev/null; wait $WD 2>/dev/null
    echo "attempt $att: SIG${SIG:-INT} after $1 -> stop_s=$(echo "$TE - $TS" | bc) rc=$RC batches=$(wc -l < $BATCH_LOG) $(grep -o 'RESULT.*' $D/attempt-$att.log)"
  else
    TS=$(date +%s.%N)
    timeout -k 5 180 $PY /work/research-resume/pipe.py > $D/attempt-$att.log 2>&1; RC=$?
    TE=$(date +%s.%N)
    echo "attempt $att: to completion rc=$RC wall=$(echo "$TE - $TS" | bc) batches=$(wc -l < $BATCH_LOG) $(grep -o 'RESULT.*' $D/attempt-$att.log)"
  fi
  total_batches=$((total_batches + $(wc -l < $BATCH_LOG)))
}
for k in "$@"; do run_attempt "$k"; done
run_attempt ""
N_STEPS=${N_STEPS:-1}; IBS=${IBS:-10}
min=$(( N_STEPS * ( (N_ROWS + IBS - 1) / IBS ) ))
python3 - "$RESULT_JSON" "$N_ROWS" "$total_batches" "$min" <<'PY'
import json, sys, os
p, n, tb, mn = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ids = json.load(open(p)) if os.path.exists(p) else []
missing = set(range(n)) - set(ids); dup = len(ids) - len(set(ids))
ok = not missing and dup == 0 and tb < 2 * mn
print(f"VERDICT {'PASS' if ok else 'FAIL'}: rows={len(ids)} missing={len(missing)} duplicated={dup} batches_total={tb} (one clean run={mn}, limit<{2*mn})")
PY
pgrep -f research-resume/pipe.py >/dev/null && echo "WARNING: leftover pipe.py processes" || true
