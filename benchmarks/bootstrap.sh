#!/usr/bin/env bash
# Benchmark: time from batch start to "pipeline submitted" on the virtual cluster, slurm-distil's
# bootstrap against the launcher script of distilabel's and Ray's docs (fixed sleeps, one srun per
# worker), same nodes, same Ray, in one run; and against two floors that no launcher can beat here:
# - Ray's head alone, started as bootstrap starts it, until its dashboard answers (issue #15's floor);
# - Ray on all N nodes: bootstrap's own head step, its worker step as soon as the GCS answers, until
#   the dashboard answers and lists N nodes ALIVE. What bootstrap adds on top of Ray is the ratio to it.
# The nodes of the virtual cluster share this machine's cores, so the second floor grows with N where
# a real cluster's would not; the first cannot show that.
# At 2, 3 and 6 nodes (the virtual cluster is brought up with 6 nodes for it, and back to 3 after).
# Prints a table with ratios; writes benchmarks/results/bootstrap.txt.
# Quick mode (QUICK=1 or --quick, see common.sh): each once, on 2 nodes, no ratios.
source "$(dirname "$0")/common.sh"
if [ "$QUICK" = 1 ]; then
    RUNS=1 SIZES=2 JOB_TIMEOUT=${JOB_TIMEOUT_QUICK:-300}
else
    RUNS=${RUNS:-3} SIZES=${SIZES:-"2 3 6"}
fi
largest=$(tr ' ' '\n' <<<"$SIZES" | sort -n | tail -1)
have=$("$VC" exec ctl sinfo -h -N -p debug -o %N 2>/dev/null | wc -l || true)
if [ "$have" -lt "$largest" ]; then
    "$VC" up --nodes "$((largest > 3 ? largest : 3))" >/dev/null
    [ "$largest" -le 3 ] || trap '"$VC" up >/dev/null' EXIT
fi
WORK=$(mktemp -d /tmp/sd-bench-XXXX)
cd "$WORK"
PIPELINE="python -c 'print(1)'"

# The docs' script, as distilabel and Ray document it (with --overlap, without which Slurm 22.05
# queues the second step on a node until the first ends).
cat >docs.sh <<'SCRIPT'
#!/bin/bash
#SBATCH --ntasks-per-node=1
#SBATCH --output=docs-%j.out
start=$(date +%s.%N)
source "$VENV/bin/activate"
# As the docs' script runs: without authentication, also where ~/.ray/auth_token exists (Ray 2.60
# turns token auth on by itself when it finds that file and RAY_AUTH_MODE is unset).
export RAY_AUTH_MODE=disabled
nodes=$(scontrol show hostnames "$SLURM_JOB_NODELIST")
nodes_array=($nodes)
head_node=${nodes_array[0]}
head_node_ip=$(srun --overlap --nodes=1 --ntasks=1 -w "$head_node" hostname --ip-address)
port=6379
srun --overlap --nodes=1 --ntasks=1 -w "$head_node" ray start --head --node-ip-address="$head_node_ip" --port=$port \
    --num-cpus 1 --object-store-memory 80000000 --dashboard-host=0.0.0.0 --block &
sleep 10
worker_num=$((SLURM_JOB_NUM_NODES - 1))
for ((i = 1; i <= worker_num; i++)); do
    node_i=${nodes_array[$i]}
    srun --overlap --nodes=1 --ntasks=1 -w "$node_i" ray start --address "$head_node_ip:$port" --num-cpus 1 \
        --object-store-memory 80000000 --block &
    sleep 5
done
ray job submit --address "http://$head_node_ip:8265" --no-wait -- python -c 'print(1)' >/dev/null
echo "submitted_after=$(echo "$(date +%s.%N) - $start" | awk '{print $1 - $3}')"
srun --overlap --ntasks-per-node=1 ray stop --force >/dev/null 2>&1 || true
SCRIPT

# The floors: Ray as bootstrap starts it (its own head and worker steps from `bootstrap --dry-run`: the
# same flags, token and node agent), from the head step's start until the dashboard answers the Jobs
# API and lists every node of the job ALIVE. On one node that is the head alone. Workers start as soon
# as the GCS accepts a connection, as bootstrap starts them. No submission.
cat >floor.sh <<'SCRIPT'
#!/bin/bash
#SBATCH --ntasks-per-node=1
#SBATCH --output=floor-%j.out
set -euo pipefail
source "$VENV/bin/activate"
export RAY_AUTH_MODE=token
RAY_AUTH_TOKEN=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
export RAY_AUTH_TOKEN
plan=$("$BIN" bootstrap --dry-run --object-store-memory 80M -- true)
dashboard=$(sed -n 's/^dashboard \(http[^ ]*\).*/\1/p' <<<"$plan")
gcs=$(sed -n 's/.*, GCS \([0-9.]*:[0-9]*\),.*/\1/p' <<<"$plan")
mkdir -p "slurm-distil-logs/$SLURM_JOB_ID"
alive() {
    curl -sf -H "Authorization: Bearer $RAY_AUTH_TOKEN" "$dashboard/api/v0/nodes?limit=1000&detail=false" |
        grep -o '"state": *"ALIVE"' | wc -l
}
start=$(date +%s.%N)
# exec: the background jobs are srun itself, which forwards the USR1 below to the node agents.
eval "exec $(sed -n 's/^head step: *//p' <<<"$plan")" &
steps=($!)
if [ "$SLURM_JOB_NUM_NODES" -gt 1 ]; then
    until (exec 3<>"/dev/tcp/${gcs%:*}/${gcs#*:}") 2>/dev/null; do sleep 0.1; done
    eval "exec $(sed -n 's/^worker step: *//p' <<<"$plan")" &
    steps+=($!)
fi
until curl -sf -o /dev/null -H "Authorization: Bearer $RAY_AUTH_TOKEN" "$dashboard/api/jobs/" &&
    [ "$(alive)" -ge "$SLURM_JOB_NUM_NODES" ]; do sleep 0.1; done
echo "floor=$(echo "$(date +%s.%N) - $start" | awk '{print $1 - $3}')"
kill -USR1 "${steps[@]}"
wait "${steps[@]}" || true
SCRIPT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

# floor_run NODES: one run of floor.sh on NODES nodes; prints its figure.
floor_run() {
    local id state
    id=$("$VC" exec ctl sbatch --parsable -N "$1" --export=ALL,VENV="$ROOT/.venv-ray",BIN="$BIN" floor.sh)
    state=$(wait_job "$id")
    require_completed "$id" "$state" "$WORK/floor-$id.out"
    grep -o 'floor=[0-9.]*' "floor-$id.out" | cut -d= -f2
}

declare -A result
for nodes in $SIZES; do
    "$BIN" gen-sbatch --no-profile -N "$nodes" --time 10 -J ours --venv "$ROOT/.venv-ray" \
        --bootstrap-arg=--object-store-memory --bootstrap-arg=80M -o ours.sh -- python -c 'print(1)' 2>/dev/null
    ours=() docs=() floors=()
    for _ in $(seq "$RUNS"); do
        id=$("$VC" exec ctl sbatch --parsable ours.sh)
        state=$(wait_job "$id")
        require_completed "$id" "$state" "$WORK/slurm-distil-logs/ours-$id.out"
        ours+=("$(grep -o '"submitted" : [0-9.]*' "slurm-distil-logs/$id/status.json" | awk '{print $3}')")
        id=$("$VC" exec ctl sbatch --parsable -N "$nodes" --export=ALL,VENV="$ROOT/.venv-ray" docs.sh)
        wait_job "$id" >/dev/null
        docs+=("$(grep -o 'submitted_after=[0-9.]*' "docs-$id.out" | cut -d= -f2)")
        floors+=("$(floor_run "$nodes")")
    done
    result[ours$nodes]=$(printf '%s\n' "${ours[@]}" | median)
    result[docs$nodes]=$(printf '%s\n' "${docs[@]}" | median)
    result[floor$nodes]=$(printf '%s\n' "${floors[@]}" | median)
done
heads=()
for _ in $(seq "$RUNS"); do heads+=("$(floor_run 1)"); done
head=$(printf '%s\n' "${heads[@]}" | median)

ratio() { awk "BEGIN {printf \"%.2f\", $1 / $2}"; }
if [ "$QUICK" = 1 ]; then
    {
        echo "quick mode (one run each, nothing compared), $BUILD, $(date -u +%F)"
        echo "batch start to pipeline submitted on 2 nodes: bootstrap ${result[ours2]}s, docs' script ${result[docs2]}s; Ray alone on 2 nodes ${result[floor2]}s, head alone ${head}s"
    } | tee "$OUT"
    cd "$ROOT" && rm -rf "$WORK"
    exit 0
fi
{
    echo "Batch start to pipeline submitted, virtual cluster (Slurm 22.05, Ray 2.60, 2 cores shared by all nodes), $BUILD, median of $RUNS, $(date -u +%F)"
    printf 'head alone: Ray'"'"'s head as bootstrap starts it, until its dashboard answers the Jobs API: %.1fs\n' "$head"
    echo "Ray alone: bootstrap's head and worker steps (workers once the GCS answers), until the dashboard lists every node ALIVE"
    printf '%-6s %10s %13s %10s %9s %11s %12s\n' nodes bootstrap "docs' script" "Ray alone" "vs docs'" "vs Ray alone" "vs head alone"
    for nodes in $SIZES; do
        printf '%-6s %9.1fs %12.1fs %9.1fs %8sx %11sx %12sx\n' "$nodes" "${result[ours$nodes]}" "${result[docs$nodes]}" "${result[floor$nodes]}" \
            "$(ratio "${result[docs$nodes]}" "${result[ours$nodes]}")" "$(ratio "${result[ours$nodes]}" "${result[floor$nodes]}")" \
            "$(ratio "${result[ours$nodes]}" "$head")"
    done
    echo "targets (issue #15): within 1.10x of the head alone at every size; at least 3x faster than the docs' script at 6 nodes"
} | tee "$OUT"
cd "$ROOT" && rm -rf "$WORK"
