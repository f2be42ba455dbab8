#!/usr/bin/env bash
# Benchmark: resident memory and CPU time of the bootstrap process itself over a 10-minute pipeline
# (MINUTES to change) on 2 virtual nodes; the pipeline prints a line a second. Measured with GNU time
# around bootstrap (the launcher below), next to the same for `ray job submit` following the same
# pipeline would need a cluster of its own, so the figure stands alone. Writes benchmarks/results/footprint.txt.
# Quick mode (QUICK=1 or --quick, see common.sh): a pipeline of 10 lines over 10 s; it fails if a line is missing.
source "$(dirname "$0")/common.sh"
if [ "$QUICK" = 1 ]; then
    LINES=10 MINUTES=0 JOB_TIMEOUT=${JOB_TIMEOUT_QUICK:-300}
else
    MINUTES=${MINUTES:-10}
    LINES=$((MINUTES * 60)) JOB_TIMEOUT=$((MINUTES * 60 + 900))
fi
"$VC" status >/dev/null 2>&1 || "$VC" up >/dev/null
WORK=$(mktemp -d /tmp/sd-foot-XXXX)
cd "$WORK"
cat >measured-launcher <<SCRIPT
#!/bin/bash
exec /usr/bin/time -o "$WORK/time.txt" -f "rss_kb=%M user_s=%U system_s=%S wall_s=%e" "$BIN" "\$@"
SCRIPT
chmod +x measured-launcher
"$BIN" gen-sbatch --no-profile -N 2 --time $((MINUTES + 5)) -J foot --venv "$ROOT/.venv-ray" \
    --launcher "$WORK/measured-launcher" --bootstrap-arg=--object-store-memory --bootstrap-arg=80M -o job.sh \
    -- python -u -c "import time
for i in range($LINES):
    print('line', i, flush=True)
    time.sleep(1)" 2>/dev/null
id=$("$VC" exec ctl sbatch --parsable job.sh)
state=$(wait_job "$id")
require_completed "$id" "$state" "$WORK/slurm-distil-logs/foot-$id.out"
delivered=$(grep -c '^line ' "slurm-distil-logs/$id/pipeline.log" || true)
{
    echo "bootstrap process over a pipeline of $LINES lines, one a second, on 2 virtual nodes ($BUILD), $(date -u +%F): job $state"
    sed 's/ /\n/g' time.txt | sed 's/^/  /'
    echo "  pipeline lines delivered: $delivered"
} | tee "$OUT"
if [ "$delivered" -ne "$LINES" ]; then
    echo "$NAME: the pipeline printed $LINES lines and pipeline.log holds $delivered" >&2
    exit 1
fi
cd "$ROOT" && rm -rf "$WORK"
