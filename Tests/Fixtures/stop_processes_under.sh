#!/usr/bin/env bash
# Kills every process whose command line contains one of the PATTERNs (a Ray head's temp folder, its
# GCS address), and all their descendants (Ray's workers and agents name neither). Used to stop the
# Ray heads the tests start, also ones left by a run that died.
# Usage: stop_processes_under.sh PATTERN...
set -u
table=$(ps -eo pid=,ppid=,args=)
targets=" "
for pattern in "$@"; do
    targets="$targets$(awk -v f="$pattern" 'index($0, f) && $3 != "awk" && $0 !~ /stop_processes_under/ {print $1}' <<<"$table" | tr '\n' ' ')"
done
while :; do
    added=$(awk -v t="$targets" 'index(t, " " $2 " ") && !index(t, " " $1 " ") {print $1}' <<<"$table" | tr '\n' ' ')
    [ -n "${added// /}" ] || break
    targets="$targets$added"
done
for pid in $targets; do kill -KILL "$pid" 2>/dev/null; done
exit 0
