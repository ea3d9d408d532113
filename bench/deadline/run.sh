#!/bin/bash
# Deadlines: what they cost and how late they come.
#   bench/deadline/run.sh [ROUNDS] [SECONDS] [RUNAWAYS]
# 1. arm + disarm per entry on the loop thread, against a clock_gettime.
# 2. Echo throughput, examples/echo.lua, --timeout 5000 (the default: the
#    scheduler thread runs, every entry is armed) against --timeout 0 (no
#    thread), alternating rounds, server on CPU 0, load generator on CPU 1.
#    Messages per server CPU-second (the thread's CPU counted) is the figure.
# 3. RUNAWAYS entries that spin until their 20 ms deadline: p50/p99 of how
#    late the raise comes, as the client sees it (send -> close - 20 ms).
# Run from the build tree.
set -u
ROUNDS=${1:-5}
SECS=${2:-5}
RUNAWAYS=${3:-1000}
BUILD=$(cd "$(dirname "$0")/../.." && pwd)
SRC=${MW_SRCDIR:-$BUILD}
MOONWIRE=${MOONWIRE:-$BUILD/moonwire}
LOADGEN=${LOADGEN:-$BUILD/bench/loadgen/loadgen}
CONNS=${CONNS:-50}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mwdeadline.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# start ARGS...: moonwire on CPU 0 and an ephemeral port; sets PID and PORT.
start() {
    taskset -c 0 "$MOONWIRE" -l 127.0.0.1:0 "$@" 2>"$WORK/srv.log" &
    PID=$!
    for _ in $(seq 100); do
        PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/srv.log")
        [ -n "$PORT" ] && grep -q 'started (pid' "$WORK/srv.log" && return 0
        sleep 0.05
    done
    echo "server did not start" >&2
    exit 1
}

stop() {
    kill -TERM "$PID"
    wait "$PID"
}

echo "== arm + disarm"
cc -O2 -std=c11 -D_GNU_SOURCE -I"$BUILD" -I"$SRC/src/base" -I"$SRC/src/core" -include config.h \
    "$SRC/bench/deadline/armcost.c" "$SRC/src/core/deadline.c" "$SRC/src/base/log.c" -lpthread \
    -o "$WORK/armcost" || exit 1
echo "+ taskset -c 0 armcost"
taskset -c 0 "$WORK/armcost"

echo "== echo throughput, --timeout 5000 vs --timeout 0"
for r in $(seq "$ROUNDS"); do
    for t in 5000 0; do
        start --timeout "$t" "$SRC/examples/echo.lua"
        [ "$r" = 1 ] && echo "+ taskset -c 0 moonwire --timeout $t -l 127.0.0.1:0 examples/echo.lua" &&
            echo "+ taskset -c 1 loadgen -c $CONNS -s 64 -d 1 -t $SECS -w 1 --server-pid PID 127.0.0.1:PORT"
        line=$(taskset -c 1 "$LOADGEN" -c "$CONNS" -s 64 -d 1 -t "$SECS" -w 1 --server-pid "$PID" \
            "127.0.0.1:$PORT" 2>&1 | grep '^RESULT')
        stop
        echo "$line" | awk -v t="$t" -v r="$r" '{
            for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            printf "timeout=%s round=%s rps=%.0f srv_cpu_s=%.3f msgs_per_cpu_s=%.0f errors=%s mismatches=%s\n",
                t, r, v["rps"], v["srv_cpu_s"], v["msgs"] / v["srv_cpu_s"], v["errors"], v["mismatches"] }' |
            tee -a "$WORK/echo"
    done
done
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
for t in 5000 0; do
    rps=$(grep "^timeout=$t " "$WORK/echo" | sed 's/.* rps=\([0-9]*\).*/\1/' | median)
    per=$(grep "^timeout=$t " "$WORK/echo" | sed 's/.*msgs_per_cpu_s=\([0-9]*\).*/\1/' | median)
    echo "MEDIAN timeout=$t rps=$rps msgs_per_cpu_s=$per"
    echo "$per" >"$WORK/per-$t"
done
awk -v on="$(cat "$WORK/per-5000")" -v off="$(cat "$WORK/per-0")" \
    'BEGIN { printf "COST msgs_per_cpu_s on/off - 1 = %+.2f%%\n", (on / off - 1) * 100 }'

echo "== lateness over $RUNAWAYS runaway entries (20 ms deadline)"
start "$SRC/bench/deadline/runaway.lua"
echo "+ taskset -c 0 moonwire -l 127.0.0.1:0 bench/deadline/runaway.lua"
echo "+ taskset -c 1 bench/deadline/late.py PORT $RUNAWAYS 20"
taskset -c 1 python3 "$SRC/bench/deadline/late.py" "$PORT" "$RUNAWAYS" 20
echo "deadline errors logged: $(grep -c 'deadline exceeded (20 ms)' "$WORK/srv.log")"
stop
