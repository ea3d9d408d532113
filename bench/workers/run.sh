#!/bin/bash
# Echo throughput of moonwire with 1 and 2 workers, and requests per second
# per busy server core (messages / CPU seconds of the master and its
# workers, as loadgen --server-pid counts them).
#   bench/workers/run.sh [ROUNDS] [SECONDS]
# Two layouts on a 2-core machine:
#   pinned: the server (all its workers) on CPU 0, the load generator on CPU 1;
#           throughput is bounded by one core, so this compares cost per request.
#   shared: nothing pinned; the workers and the load generator share both cores.
# Rounds alternate 1 and 2 workers; medians are reported. Run from the build tree.
set -u
ROUNDS=${1:-5}
SECS=${2:-5}
BUILD=$(cd "$(dirname "$0")/../.." && pwd)
MOONWIRE=${MOONWIRE:-$BUILD/moonwire}
LOADGEN=${LOADGEN:-$BUILD/bench/loadgen/loadgen}
SCRIPT=${SCRIPT:-$BUILD/examples/echo.lua}
CONNS=${CONNS:-50}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mwbench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# run_one LAYOUT WORKERS: one measurement; prints "rps srv_cpu_s rps_per_core".
run_one() {
    local layout=$1 w=$2 srv=() lg=() pid port line i
    [ "$layout" = pinned ] && srv=(taskset -c 0) lg=(taskset -c 1)
    "${srv[@]}" "$MOONWIRE" -w "$w" -l 127.0.0.1:0 "$SCRIPT" 2>"$WORK/srv.log" &
    pid=$!
    for i in $(seq 100); do
        port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/srv.log")
        [ -n "$port" ] && [ "$(grep -c 'started (pid' "$WORK/srv.log")" -ge "$w" ] && break
        sleep 0.05
    done
    echo "+ ${srv[*]} $MOONWIRE -w $w -l 127.0.0.1:0 $SCRIPT" >>"$WORK/commands"
    echo "+ ${lg[*]} $LOADGEN -c $CONNS -s 64 -d 1 -t $SECS -w 1 --server-pid $pid 127.0.0.1:$port" \
        >>"$WORK/commands"
    line=$("${lg[@]}" "$LOADGEN" -c "$CONNS" -s 64 -d 1 -t "$SECS" -w 1 --server-pid "$pid" \
        "127.0.0.1:$port" 2>&1 | grep '^RESULT')
    kill -TERM "$pid"
    wait "$pid"
    echo "$line" | awk '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        if (v["mismatches"] != 0 || v["errors"] != 0) print "ERRORS", v["mismatches"], v["errors"] > "/dev/stderr"
        printf "%.0f %.3f %.0f\n", v["rps"], v["srv_cpu_s"], v["msgs"] / v["srv_cpu_s"] }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

for layout in pinned shared; do
    for r in $(seq "$ROUNDS"); do
        for w in 1 2; do
            read -r rps cpu per <<<"$(run_one "$layout" "$w")"
            echo "$layout w=$w round=$r rps=$rps srv_cpu_s=$cpu rps_per_core=$per"
            echo "$rps $per" >>"$WORK/$layout-$w"
        done
    done
done | tee "$WORK/raw"

echo
echo "| layout | workers | req/s (median) | req/s per busy server core (median) | vs 1 worker |"
echo "|---|---|---|---|---|"
for layout in pinned shared; do
    base=$(cut -d' ' -f2 "$WORK/$layout-1" | median)
    for w in 1 2; do
        rps=$(cut -d' ' -f1 "$WORK/$layout-$w" | median)
        per=$(cut -d' ' -f2 "$WORK/$layout-$w" | median)
        echo "| $layout | $w | $rps | $per | $(awk -v a="$per" -v b="$base" 'BEGIN { printf "%+.1f%%", (a / b - 1) * 100 }') |"
    done
done
echo
echo "Commands (first round):"
head -n 4 "$WORK/commands" | sed 's/^/    /'
