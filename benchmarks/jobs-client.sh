#!/usr/bin/env bash
# Benchmark: slurm-distil's Jobs client against Ray's own CLI (`ray job ...`) on the same Ray head,
# in the same run. Prints a table of figures and ratios; writes it to benchmarks/results/jobs-client.txt.
#   wall time of `submit --no-wait` and `status` (median of RUNS)
#   pack + upload of a working_dir of ~50 MB in ~5,000 files (new content each run, so it is uploaded)
#   peak resident memory of `logs --follow` on a job that prints 100 MB
# Needs no virtual cluster. Quick mode (QUICK=1 or --quick, see common.sh): one run of each, a working_dir
# of 0.5 MB in 50 files and 1 MB of output, no ratios; it fails if a byte of the output is missing.
source "$(dirname "$0")/common.sh"
if [ "$QUICK" = 1 ]; then
    RUNS=1 DIRS=5 FILES=10 LINES=10000
else
    RUNS=${RUNS:-7} DIRS=50 FILES=100 LINES=1000000
fi
HOST=127.0.0.5
BASE=24000
TMP=/tmp/sdb-$BASE
RAY=$ROOT/.venv-ray/bin/ray

cleanup() { Tests/Fixtures/stop_processes_under.sh "$TMP/r"; rm -rf "$TMP"; }
trap cleanup EXIT
cleanup
mkdir -p "$TMP"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/token"
chmod 600 "$TMP/token"
export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=$TMP/token RAY_ADDRESS=http://$HOST:$((BASE + 1))
PATH=$ROOT/.venv-ray/bin:$PATH "$RAY" start --head --node-ip-address=$HOST --dashboard-host=$HOST --temp-dir="$TMP/r" \
    --port=$BASE --dashboard-port=$((BASE + 1)) --ray-client-server-port=$((BASE + 2)) --node-manager-port=$((BASE + 3)) \
    --object-manager-port=$((BASE + 4)) --dashboard-agent-listen-port=$((BASE + 5)) --dashboard-agent-grpc-port=$((BASE + 6)) \
    --metrics-export-port=$((BASE + 7)) --runtime-env-agent-port=$((BASE + 8)) --min-worker-port=$((BASE + 10)) \
    --max-worker-port=$((BASE + 60)) --num-cpus=2 --object-store-memory=100000000 --disable-usage-stats >/dev/null 2>&1
until curl -sf -o /dev/null -H "Authorization: Bearer $(cat "$TMP/token")" "$RAY_ADDRESS/api/jobs/"; do sleep 0.3; done

now() { date +%s.%N; }
# median wall time in seconds of running "$@" RUNS times
median() {
    local times=()
    for _ in $(seq "$RUNS"); do
        local start end
        start=$(now)
        "$@" >/dev/null 2>&1
        end=$(now)
        times+=("$(awk "BEGIN {print $end - $start}")")
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p"
}

id=$("$BIN" submit --no-wait -- true)
ours_submit=$(median "$BIN" submit --no-wait -- true)
ray_submit=$(median "$RAY" job submit --no-wait -- true)
ours_status=$(median "$BIN" status "$id")
ray_status=$(median "$RAY" job status "$id")

# ~50 MB in ~5,000 files (10 kB each); one file changes before each run so that every run packs and uploads.
WD=$TMP/wd
for d in $(seq 1 "$DIRS"); do
    mkdir -p "$WD/d$d"
    for f in $(seq 1 "$FILES"); do head -c 10000 /dev/urandom >"$WD/d$d/f$f.bin"; done
done
upload() { head -c 16 /dev/urandom >"$WD/changing"; cd "$WD" && "$@" --working-dir . --no-wait -- true; }
ours_upload=$(median upload "$BIN" submit)
ray_upload=$(median upload "$RAY" job submit)

# 100 MB of output (LINES lines of 100 bytes), then the peak memory of following it to the end.
big=$("$BIN" submit --no-wait -- python -c "import sys
line = 'x' * 99 + '\n'
for _ in range($LINES): sys.stdout.write(line)")
ours_rss=$(/usr/bin/time -f %M "$BIN" logs "$big" --follow 2>&1 >/dev/null | tail -1)
ray_rss=$(/usr/bin/time -f %M "$RAY" job logs "$big" --follow 2>&1 >/dev/null | tail -1)
# Most of a process's RSS is shared library pages; its own working memory is the anonymous part,
# sampled every 50 ms while it follows the job.
peak_anonymous() {
    "$@" >/dev/null 2>&1 &
    local pid=$! peak=0 now
    while kill -0 "$pid" 2>/dev/null; do
        now=$(awk '/^Anonymous:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
        [ "${now:-0}" -gt "$peak" ] && peak=$now
        sleep 0.05
    done
    echo "$peak"
}
ours_anon=$(peak_anonymous "$BIN" logs "$big" --follow)
ray_anon=$(peak_anonymous "$RAY" job logs "$big" --follow)
ours_bytes=$("$BIN" logs "$big" --follow 2>/dev/null | wc -c)
if [ "$ours_bytes" -lt $((LINES * 100)) ]; then
    echo "$NAME: logs --follow delivered $ours_bytes bytes of the job's $((LINES * 100))" >&2
    exit 1
fi

if [ "$QUICK" = 1 ]; then
    {
        echo "quick mode (one run each, small inputs, nothing compared), $BUILD, $(date -u +%F)"
        echo "submit ${ours_submit}s/${ray_submit}s, status ${ours_status}s/${ray_status}s, upload ${ours_upload}s/${ray_upload}s (slurm-distil/ray job)"
        echo "logs --follow: ${ours_bytes} bytes, peak RSS ${ours_rss} kB, peak anonymous ${ours_anon} kB"
    } | tee "$OUT"
    exit 0
fi
ratio() { awk "BEGIN {printf \"%.1f\", $1 / $2}"; }
{
    echo "Jobs client vs Ray's CLI ($("$RAY" --version | head -1)), one Ray head on $HOST, $BUILD, median of $RUNS runs, $(date -u +%F)"
    printf '%-40s %12s %12s %8s\n' "measure" "slurm-distil" "ray job" "ratio"
    printf '%-40s %11.3fs %11.3fs %7sx\n' "submit --no-wait (wall)" "$ours_submit" "$ray_submit" "$(ratio "$ray_submit" "$ours_submit")"
    printf '%-40s %11.3fs %11.3fs %7sx\n' "status (wall)" "$ours_status" "$ray_status" "$(ratio "$ray_status" "$ours_status")"
    printf '%-40s %11.3fs %11.3fs %7sx\n' "pack+upload 50 MB / 5,000 files (wall)" "$ours_upload" "$ray_upload" "$(ratio "$ray_upload" "$ours_upload")"
    printf '%-40s %10dMB %10dMB %7sx\n' "logs --follow of 100 MB (peak RSS)" "$((ours_rss / 1024))" "$((ray_rss / 1024))" "$(ratio "$ray_rss" "$ours_rss")"
    printf '%-40s %10dMB %10dMB %7sx\n' "  the same, peak anonymous memory" "$((ours_anon / 1024))" "$((ray_anon / 1024))" "$(ratio "$ray_anon" "$ours_anon")"
    echo "bytes delivered by slurm-distil logs --follow: $ours_bytes (expected 100000000 plus Ray's 2 header lines)"
} | tee "$OUT"
