#!/usr/bin/env bash
# Benchmark: bootstrap's orchestration cost as the allocation grows, with a stand-in for `ray start`
# that only reports in (benchmarks/fake-ray.py), on a virtual cluster of 16 Slurm nodes. Prints,
# per allocation size, the srun steps bootstrap created (from the slurmd logs) and the time from
# batch start to "pipeline submitted". Writes benchmarks/results/orchestration.txt.
# It replaces any running virtual cluster with a 16-node one and brings it down at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VC=$ROOT/scripts/vcluster
BIN=$ROOT/.build/debug/slurm-distil
OUT=$ROOT/benchmarks/results/orchestration.txt
SIZES=${SIZES:-"2 4 8 16"}
scripts/setup >/dev/null
swift build --quiet
"$VC" up --nodes 16 --gpus 1 >/dev/null
trap '"$VC" down >/dev/null' EXIT
STATE=$("$VC" env | sed -n 's/^VCLUSTER_STATE=//p')
WORK=$(mktemp -d /tmp/sd-orch-XXXX)
cd "$WORK"
{
    echo "bootstrap orchestration with a ray-start stand-in, virtual cluster of 16 nodes on 2 cores, $(date -u +%F)"
    printf '%-6s %12s %22s %16s\n' nodes "srun steps" "batch start->submitted" "Ray ready"
} | tee "$OUT"
for nodes in $SIZES; do
    "$BIN" gen-sbatch --no-profile -N "$nodes" --gpus-per-node 1 --time 10 -J orch \
        --bootstrap-arg=--ray --bootstrap-arg="$ROOT/benchmarks/fake-ray.py" -o job.sh -- true 2>/dev/null
    id=$("$VC" exec ctl sbatch --parsable job.sh)
    while :; do
        state=$("$VC" exec ctl scontrol show job "$id" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
        case "$state" in PENDING | RUNNING | CONFIGURING | COMPLETING) sleep 0.3 ;; *) break ;; esac
    done
    # Distinct step ids slurmd launched for this job, over all nodes.
    steps=$(cat "$STATE"/log/slurmd-n*.log | grep -o "launch task StepId=$id\.[0-9]*" | sort -u | wc -l)
    submitted=$(grep -o '"submitted" : [0-9.]*' "slurm-distil-logs/$id/status.json" | awk '{print $3}')
    ready=$(grep -o '"rayReady" : [0-9.]*' "slurm-distil-logs/$id/status.json" | awk '{print $3}')
    printf '%-6s %12s %21ss %15ss   (%s)\n' "$nodes" "$steps" "$submitted" "$ready" "$state" | tee -a "$OUT"
done
cd "$ROOT" && rm -rf "$WORK"
