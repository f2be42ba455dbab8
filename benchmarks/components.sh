#!/usr/bin/env bash
# Benchmark: the CPU seconds each Ray component spends until the pipeline is submitted, in a 3-node
# bootstrap on the virtual cluster: bootstrap as it runs by default, and with --all-ray-processes (the
# autoscaler monitor and the idle workers prestarted for the first driver, which bootstrap never uses),
# in one run. Read from /proc (utime+stime of every process in the nodes' namespaces, their reaped
# children included) the moment status.json says "submitted"; a process that came and went before
# that moment without a waiting parent is not seen. Writes benchmarks/results/components.txt.
# Quick mode (QUICK=1 or --quick, see common.sh): one run of each on 2 nodes, nothing compared.
source "$(dirname "$0")/common.sh"
if [ "$QUICK" = 1 ]; then
    RUNS=1 NODES=2 JOB_TIMEOUT=${JOB_TIMEOUT_QUICK:-300}
else
    RUNS=${RUNS:-3} NODES=3
fi
"$VC" status >/dev/null 2>&1 || "$VC" up >/dev/null
WORK=$(mktemp -d /tmp/sd-bench-XXXX)
cd "$WORK"

# One line per process of the job's Ray, "component node cpu_seconds", read in one pass so that the
# moment is the same for all.
snapshot() {
    local node pid
    for node in $("$VC" exec ctl scontrol show hostnames "$1"); do
        for pid in $(ip netns pids "sdv-$node"); do echo "$node $pid"; done
    done | python3 -c '
import os, sys
def component(args):
    first = args[0] if args else ""
    # The script a Python process runs, past options such as -u.
    second = next((a for a in args[1:] if a.endswith(".py") or a.endswith("/bin/ray")), "")
    line = " ".join(args)
    if first.startswith("ray-dashboard-"): return "dashboard module " + first.split("-")[2]
    if first.startswith("ray::"): return "idle worker (prestarted)" if first.startswith("ray::IDLE") else first.split(" ")[0].split(".")[0]
    if "gcs_server" in first: return "gcs_server"
    if first.endswith("raylet/raylet"): return "raylet"
    if second.endswith("dashboard/dashboard.py"): return "dashboard (head process)"
    if "multiprocessing" in line and "forkserver" in line: return "dashboard forkserver"
    if second.endswith("log_monitor.py"): return "log monitor"
    if "/autoscaler/" in second and second.endswith("/monitor.py"): return "autoscaler monitor"
    if "ray.util.client.server" in line: return "Ray Client server"
    if second.endswith("/bin/ray") and "start" in args: return "ray start --block"
    if first.endswith("slurm-distil") and "_node" in args: return "slurm-distil node agent"
    return None
for entry in sys.stdin:
    node, pid = entry.split()
    try:
        args = [w.decode(errors="replace") for w in open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0") if w]
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    name = component(args)
    if name:
        fields = stat[stat.rindex(")") + 2:].split()
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
        seconds = ticks / os.sysconf("SC_CLK_TCK")
        print(name.replace(" ", "_"), node, f"{seconds:.2f}")
'
}

# run LABEL [BOOTSTRAP_ARG]: one bring-up; its snapshot goes to LABEL-N.txt.
run() {
    local label=$1 extra=${2:-} n=$3
    "$BIN" gen-sbatch --no-profile -N "$NODES" --time 10 -J comp --venv "$ROOT/.venv-ray" \
        --bootstrap-arg=--object-store-memory --bootstrap-arg=80M ${extra:+"--bootstrap-arg=$extra"} -o job.sh -- sleep 15 >/dev/null
    local id
    id=$("$VC" exec ctl sbatch --parsable job.sh)
    local waited=$SECONDS
    until grep -q '"submitted"' "slurm-distil-logs/$id/status.json" 2>/dev/null; do
        if [ $((SECONDS - waited)) -ge 300 ] || [ -z "$("$VC" exec ctl squeue -h -j "$id" 2>/dev/null)" ]; then
            echo "$NAME: job $id did not submit its pipeline" >&2
            tail -20 "slurm-distil-logs/comp-$id.out" >&2 || true
            exit 1
        fi
        sleep 0.2
    done
    snapshot "$("$VC" exec ctl squeue -h -j "$id" -o %N)" >"$label-$n.txt"
    state=$(wait_job "$id")
    require_completed "$id" "$state" "$WORK/slurm-distil-logs/comp-$id.out"
}

for n in $(seq "$RUNS"); do
    run lean "" "$n"
    run all --all-ray-processes "$n"
done

# Median over runs of each component's CPU seconds summed over the nodes, for both variants.
python3 - "$RUNS" "$NODES" "$BUILD" "$QUICK" >"$OUT" <<'PY'
import collections, statistics, sys, datetime
runs, nodes, build, quick = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "1"
def load(label):
    per_run = []
    for n in range(1, runs + 1):
        totals, counts = collections.Counter(), collections.Counter()
        for line in open(f"{label}-{n}.txt"):
            name, node, seconds = line.split()
            totals[name] += float(seconds)
            counts[name] += 1
        per_run.append((totals, counts))
    return per_run
lean, full = load("lean"), load("all")
names = sorted({k for t, _ in lean + full for k in t}, key=lambda k: -statistics.median([t[k] for t, _ in full]))
med = lambda data, k: statistics.median([t[k] for t, _ in data])
procs = lambda data, k: max(c[k] for _, c in data)
print(f"CPU seconds until the pipeline is submitted, {nodes}-node bootstrap on the virtual cluster (Ray 2.60), {build}, "
      f"{'one run (quick mode)' if quick else f'median of {runs}'}, {datetime.date.today()}")
print(f"{'component':34} {'processes':>9} {'default':>9} {'--all-ray-processes':>20} {'saved':>7}")
for k in names:
    a, b = med(lean, k), med(full, k)
    print(f"{k.replace('_', ' '):34} {procs(full, k):>9} {a:>8.2f}s {b:>19.2f}s {b - a:>6.2f}s")
ta = statistics.median([sum(t.values()) for t, _ in lean])
tb = statistics.median([sum(t.values()) for t, _ in full])
print(f"{'total':34} {'':>9} {ta:>8.2f}s {tb:>19.2f}s {tb - ta:>6.2f}s")
PY
cat "$OUT"
cd "$ROOT" && rm -rf "$WORK"
