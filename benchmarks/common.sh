# Sourced by every benchmark: the build it measures, quick mode, and waiting for a job with a deadline.
#
# Quick mode (QUICK=1, or --quick as the first argument): one short iteration of everything the
# benchmark runs, figures written to .build/bench-quick/NAME.txt instead of benchmarks/results/, and
# nothing compared. It exists so that CI notices a benchmark that breaks (scripts/bench-quick).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
NAME=$(basename "$0" .sh)
QUICK=${QUICK:-0}
if [ "${1:-}" = --quick ]; then QUICK=1; fi
if [ "$QUICK" = 1 ]; then
    OUT=$ROOT/.build/bench-quick/$NAME.txt
else
    OUT=$ROOT/benchmarks/results/$NAME.txt
fi
mkdir -p "$(dirname "$OUT")"
VC=$ROOT/scripts/vcluster

scripts/setup >/dev/null
# The release build, as users install it: the debug build is several times slower at packing a
# working_dir, and a figure from it says nothing about what users run.
# The release tarball's binary (scripts/release). scripts/test has built it for this run already and
# names it in SLURM_DISTIL_RELEASE_BIN; run alone, a benchmark builds it (40 s when nothing changed).
if [ -z "${SLURM_DISTIL_RELEASE_BIN:-}" ]; then scripts/release >&2; fi
BIN=${SLURM_DISTIL_RELEASE_BIN:-$(scripts/release --binary)}
BUILD="release build of $(git describe --always --dirty 2>/dev/null || echo 'an unknown commit')"

# wait_job ID [SECONDS]: waits until the job has left the queue and prints its final state. A job still
# there after SECONDS (default JOB_TIMEOUT) is cancelled and the benchmark fails, instead of hanging.
JOB_TIMEOUT=${JOB_TIMEOUT:-1800}
wait_job() {
    local id=$1 limit=${2:-$JOB_TIMEOUT} start=$SECONDS state
    while :; do
        state=$("$VC" exec ctl scontrol show job "$id" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
        case "$state" in
        PENDING | RUNNING | CONFIGURING | COMPLETING) ;;
        *)
            echo "$state"
            return 0
            ;;
        esac
        if [ $((SECONDS - start)) -ge "$limit" ]; then
            "$VC" exec ctl scancel "$id" >/dev/null 2>&1 || true
            echo "$NAME: job $id was still $state after $limit s; cancelled it" >&2
            return 1
        fi
        sleep 0.5
    done
}

# require_completed ID STATE [OUTPUT_FILE]: a figure from a job that failed would be meaningless.
require_completed() {
    [ "$2" = COMPLETED ] && return 0
    echo "$NAME: job $1 ended $2${3:+; its output ($3):}" >&2
    [ -n "${3:-}" ] && tail -20 "$3" >&2
    exit 1
}
