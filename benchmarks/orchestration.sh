#!/usr/bin/env bash
# Benchmark: bootstrap's orchestration cost as the allocation grows, with a stand-in for `ray start`
# that only reports in (benchmarks/fake-ray.py), on a virtual cluster of 16 Slurm nodes. Prints,
# per allocation size, the srun steps bootstrap created (from the slurmd logs) and the time from
# batch start to "pipeline submitted". Writes benchmarks/results/orchestration.txt.
# It replaces any running virtual cluster with a 16-node one and brings it down at the end.
# Quick mode (QUICK=1 or --quick, see common.sh): 2 nodes once, on the running virtual cluster if
# there is one (left up), else on a 2-node one it brings up and down.
source "$(dirname "$0")/common.sh"
if [ "$QUICK" = 1 ]; then
    SIZES=2
    JOB_TIMEOUT=${JOB_TIMEOUT_QUICK:-180}
    if "$VC" status >/dev/null 2>&1; then
        CLUSTER="the running virtual cluster"
    else
        "$VC" up --nodes 2 --gpus 1 >/dev/null
        trap '"$VC" down >/dev/null' EXIT
        CLUSTER="a virtual cluster of 2 nodes"
    fi
else
    SIZES=${SIZES:-"2 4 8 16"}
    "$VC" up --nodes 16 --gpus 1 >/dev/null
    trap '"$VC" down >/dev/null' EXIT
    CLUSTER="a virtual cluster of 16 nodes"
fi
STATE=$("$VC" env | sed -n 's/^VCLUSTER_STATE=//p')
WORK=$(mktemp -d /tmp/sd-orch-XXXX)
cd "$WORK"
{
    echo "bootstrap orchestration with a ray-start stand-in, $CLUSTER on 2 cores, $BUILD, $(date -u +%F)"
    printf '%-6s %12s %22s %16s\n' nodes "srun steps" "batch start->submitted" "Ray ready"
} | tee "$OUT"
for nodes in $SIZES; do
    # --ready-timeout: a stand-in that stops satisfying bootstrap's readiness fails the job in a minute.
    "$BIN" gen-sbatch --no-profile -N "$nodes" --gpus-per-node 1 --time 10 -J orch \
        --bootstrap-arg=--ray --bootstrap-arg="$ROOT/benchmarks/fake-ray.py" \
        --bootstrap-arg=--ready-timeout --bootstrap-arg=60s -o job.sh -- true 2>/dev/null
    id=$("$VC" exec ctl sbatch --parsable job.sh)
    state=$(wait_job "$id")
    require_completed "$id" "$state" "$WORK/slurm-distil-logs/orch-$id.out"
    # Distinct step ids slurmd launched for this job, over all nodes.
    steps=$(cat "$STATE"/log/slurmd-n*.log | grep -o "launch task StepId=$id\.[0-9]*" | sort -u | wc -l)
    submitted=$(grep -o '"submitted" : [0-9.]*' "slurm-distil-logs/$id/status.json" | awk '{print $3}')
    ready=$(grep -o '"rayReady" : [0-9.]*' "slurm-distil-logs/$id/status.json" | awk '{print $3}')
    printf '%-6s %12s %21ss %15ss   (%s)\n' "$nodes" "$steps" "$submitted" "$ready" "$state" | tee -a "$OUT"
done
cd "$ROOT" && rm -rf "$WORK"
