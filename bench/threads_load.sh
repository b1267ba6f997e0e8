#!/bin/bash
# Threads on a shared machine: the case-3 model of docs/performance.md (D = 32,
# batch 1024, full s2 by D2SM), 200 training steps through the command-line
# tool with threads=1 and threads=2, for one or two builds of it, alternately,
# three rounds, beside 0, 1 and 2 busy shell loops. Prints the wall and CPU
# time of each whole command.
#
#   bench/threads_load.sh build-rel/examples/cli/hosm [OTHER_HOSM]
set -eu
hosms=("$@")
(( ${#hosms[@]} )) || { echo "usage: $0 HOSM [OTHER_HOSM]" >&2; exit 2; }
data=$(mktemp --suffix=.npy)
out=$(mktemp --suffix=.hosm)
pids=""
trap 'rm -f "$data" "$out"; [ -n "$pids" ] && kill $pids 2>/dev/null; true' EXIT
/usr/bin/python3 -c "
import numpy as np
np.save('$data', np.random.default_rng(0).standard_normal((8192, 32)).astype(np.float32))"
for busy in 0 1 2; do
    pids=""
    for _ in $(seq 1 $busy); do sh -c 'while :; do :; done' & pids="$pids $!"; done
    sleep 1
    echo "## $busy busy loops; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    for round in 1 2 3; do
        for h in "${hosms[@]}"; do
            for t in 1 2; do
                /usr/bin/time -f "busy=$busy round=$round threads=$t wall %e user %U sys %S $h" \
                    "$h" train "$data" -o "$out" -q steps=200 batch=1024 hidden=256 depth=2 \
                    s2=full s2_objective=d2sm sigma=0.1 threads=$t 2>&1 | tail -1
            done
        done
    done
    [ -n "$pids" ] && kill $pids
    pids=""
done
