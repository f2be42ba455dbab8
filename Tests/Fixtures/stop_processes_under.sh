#!/usr/bin/env bash
# Kills every process whose command line contains FOLDER, and all their descendants (Ray's workers
# and agents name no folder on their command line). Used to stop the Ray heads the tests start.
# Usage: stop_processes_under.sh FOLDER
set -u
folder=$1
table=$(ps -eo pid=,ppid=,args=)
targets=" $(awk -v f="$folder" 'index($0, f) && $3 != "awk" && $0 !~ /stop_processes_under/ {print $1}' <<<"$table" | tr '\n' ' ')"
while :; do
    added=$(awk -v t="$targets" 'index(t, " " $2 " ") && !index(t, " " $1 " ") {print $1}' <<<"$table" | tr '\n' ' ')
    [ -n "${added// /}" ] || break
    targets="$targets$added"
done
for pid in $targets; do kill -KILL "$pid" 2>/dev/null; done
exit 0
