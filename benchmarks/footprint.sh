#!/usr/bin/env bash
# Benchmark: resident memory and CPU time of the bootstrap process itself over a 10-minute pipeline
# (MINUTES to change) on 2 virtual nodes; the pipeline prints a line a second. Measured with GNU time
# around bootstrap (the launcher below), next to the same for `ray job submit` following the same
# pipeline would need a cluster of its own, so the figure stands alone. Writes benchmarks/results/footprint.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VC=$ROOT/scripts/vcluster
MINUTES=${MINUTES:-10}
OUT=$ROOT/benchmarks/results/footprint.txt
scripts/setup >/dev/null
swift build -c release --quiet
"$VC" status >/dev/null 2>&1 || "$VC" up >/dev/null
WORK=$(mktemp -d /tmp/sd-foot-XXXX)
cd "$WORK"
cat >measured-launcher <<SCRIPT
#!/bin/bash
exec /usr/bin/time -o "$WORK/time.txt" -f "rss_kb=%M user_s=%U system_s=%S wall_s=%e" "$ROOT/.build/release/slurm-distil" "\$@"
SCRIPT
chmod +x measured-launcher
"$ROOT/.build/release/slurm-distil" gen-sbatch --no-profile -N 2 --time $((MINUTES + 5)) -J foot --venv "$ROOT/.venv-ray" \
    --launcher "$WORK/measured-launcher" --bootstrap-arg=--object-store-memory --bootstrap-arg=80M -o job.sh \
    -- python -u -c "import time
for i in range($MINUTES * 60):
    print('line', i, flush=True)
    time.sleep(1)" 2>/dev/null
id=$("$VC" exec ctl sbatch --parsable job.sh)
while :; do
    state=$("$VC" exec ctl scontrol show job "$id" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
    case "$state" in PENDING | RUNNING | CONFIGURING | COMPLETING) sleep 2 ;; *) break ;; esac
done
{
    echo "bootstrap process over a $MINUTES-minute pipeline on 2 virtual nodes (release build), $(date -u +%F): job $state"
    sed 's/ /\n/g' time.txt | sed 's/^/  /'
    echo "  pipeline lines delivered: $(grep -c '^line ' "slurm-distil-logs/$id/pipeline.log")"
} | tee "$OUT"
cd "$ROOT" && rm -rf "$WORK"
