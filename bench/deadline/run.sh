#!/bin/bash
# Deadlines: what they cost and how late they come.
#   bench/deadline/run.sh [ROUNDS] [SECONDS] [RUNAWAYS]
# 1. arm + disarm per entry on the loop thread, against a clock_gettime.
# 2. Echo throughput, examples/echo.lua, --timeout 5000 (the default: the
#    scheduler thread runs, every entry is armed) against --timeout 0 (no
#    thread), alternating rounds, server on CPU 0, load generator on CPU 1.
#    Issue 8's target, "the cost is under 2%", is judged on echo throughput
#    (req/s, the metric the issue names: medians, on / off); messages per
#    server CPU-second (the thread's CPU counted) is shown beside it. A
#    round counts only with no bad bytes and no errors (loadgen's, its exit
#    status, the server's processes changed, its exit status, a line in its
#    log that voids it) and a figure.
# 3. RUNAWAYS entries that spin until their 20 ms deadline: p50/p99 of how
#    late the raise comes, as the client sees it (send -> close - 20 ms).
# A server counts as started once its worker has served a probe
# (bench/lib/serving.sh). Run from the build tree (or set BENCH_BUILDDIR).
set -u
ROUNDS=${1:-5}
SECS=${2:-5}
RUNAWAYS=${3:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/serving.sh"
SRC=${MW_SRCDIR:-$(cd "$HERE/../.." && pwd)}
BUILD=${BENCH_BUILDDIR:-$SRC}
MOONWIRE=${MOONWIRE:-$BUILD/moonwire}
LOADGEN=${LOADGEN:-$BUILD/bench/loadgen/loadgen}
CONNS=${CONNS:-50}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mwdeadline.XXXXXX")
PID=
trap '[ -n "$PID" ] && kill -TERM "$PID" && wait "$PID"; rm -rf "$WORK"' EXIT

# start PROBE ARGS...: moonwire on CPU 0 and an ephemeral port, serving once
# PROBE (echo or connect) is answered and its worker logged it; sets PID,
# PORT and TREE (its processes).
start() {
    local probe=$1
    shift
    : >"$WORK/srv.log"
    taskset -c 0 "$MOONWIRE" -l 127.0.0.1:0 "$@" 2>"$WORK/srv.log" &
    PID=$!
    for _ in $(seq 100); do
        PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/srv.log")
        [ -n "$PORT" ] && break
        sleep 0.05
    done
    if [ -z "$PORT" ] || ! bench_serving "$probe" "$PORT" "$WORK/srv.log" 1; then
        echo "server did not serve: ${BENCH_NOT_SERVING:-no port}" >&2
        exit 1
    fi
    TREE=$(bench_tree "$PID" | tr '\n' ' ')
}

# stop: SIGTERM; sets STOP_ERRORS to 1 when its processes changed since it
# started serving or it did not exit 0.
stop() {
    STOP_ERRORS=0
    [ "$(bench_tree "$PID" | tr '\n' ' ')" = "$TREE" ] || STOP_ERRORS=1
    kill -TERM "$PID"
    wait "$PID" || STOP_ERRORS=$((STOP_ERRORS + 1))
    PID=
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
        start echo --timeout "$t" "$SRC/examples/echo.lua"
        [ "$r" = 1 ] && echo "+ taskset -c 0 moonwire --timeout $t -l 127.0.0.1:0 examples/echo.lua" &&
            echo "+ taskset -c 1 loadgen -c $CONNS -s 64 -d 1 -t $SECS -w 1 --server-pid PID 127.0.0.1:PORT"
        taskset -c 1 "$LOADGEN" -c "$CONNS" -s 64 -d 1 -t "$SECS" -w 1 --server-pid "$PID" \
            "127.0.0.1:$PORT" >"$WORK/lg.out" 2>&1
        lgrc=$?
        procs=$(bench_procs "$PID")
        stop
        void=$((STOP_ERRORS + $(bench_log_trouble "$WORK/srv.log")))
        grep '^RESULT' "$WORK/lg.out" | awk -v t="$t" -v r="$r" -v rc="$lgrc" -v void="$void" -v p="$procs" '{
            for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            bad = v["errors"] + v["mismatches"]
            if (rc != 0 && bad == 0) void++
            per = v["srv_cpu_s"] + 0 > 0 ? sprintf("%.0f", v["msgs"] / v["srv_cpu_s"]) : "nan"
            printf "timeout=%s round=%s rps=%.0f srv_cpu_s=%.3f msgs_per_cpu_s=%s errors=%s mismatches=%s void=%d processes=%d\n",
                t, r, v["rps"], v["srv_cpu_s"], per, v["errors"], v["mismatches"], void, p }
            END { if (NR == 0) printf "timeout=%s round=%s rps=nan srv_cpu_s=nan msgs_per_cpu_s=nan errors=1 mismatches=0 void=%d processes=%d\n", t, r, void, p }' |
            tee -a "$WORK/echo"
    done
done
median() { grep -v nan | sort -n | awk '{ a[NR] = $1 } END { if (!NR) print "nan"; else print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
for t in 5000 0; do
    rps=$(grep "^timeout=$t " "$WORK/echo" | sed 's/.* rps=\([0-9a-z]*\).*/\1/' | median)
    per=$(grep "^timeout=$t " "$WORK/echo" | sed 's/.*msgs_per_cpu_s=\([0-9a-z]*\).*/\1/' | median)
    echo "MEDIAN timeout=$t rps=$rps msgs_per_cpu_s=$per"
    echo "$rps $per" >"$WORK/med-$t"
done
# Runs that void the verdict: errors, bad bytes, void, or no figure.
voided=$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    if (v["errors"] + v["mismatches"] + v["void"] > 0 || v["rps"] == "nan" || v["msgs_per_cpu_s"] == "nan") n++ }
    END { print n + 0 }' "$WORK/echo")
read -r on_rps on_per <"$WORK/med-5000"
read -r off_rps off_per <"$WORK/med-0"
awk -v on="$on_per" -v off="$off_per" 'BEGIN { if (on == "nan" || off == "nan") print "COST msgs_per_cpu_s: no figure"
    else printf "COST msgs_per_cpu_s (beside the verdict): 1 - on/off = %+.2f%%\n", (1 - on / off) * 100 }'
awk -v on="$on_rps" -v off="$off_rps" -v voided="$voided" -v runs="$((2 * ROUNDS))" 'BEGIN {
    if (on == "nan" || off == "nan") { print "TARGET cost under 2%, on req/s: no verdict (no figure)"; exit }
    cost = (1 - on / off) * 100
    printf "COST rps (the verdict): 1 - on/off = %+.2f%%\n", cost
    if (voided) printf "TARGET cost under 2%%, on req/s: no verdict (%d of %d runs with errors or no figure)\n", voided, runs
    else printf "TARGET cost under 2%%, on req/s: %s\n", cost < 2 ? "met" : "missed" }'

echo "== lateness over $RUNAWAYS runaway entries (20 ms deadline)"
start connect "$SRC/bench/deadline/runaway.lua"
echo "+ taskset -c 0 moonwire -l 127.0.0.1:0 bench/deadline/runaway.lua"
echo "+ taskset -c 1 bench/deadline/late.py PORT $RUNAWAYS 20"
taskset -c 1 python3 "$SRC/bench/deadline/late.py" "$PORT" "$RUNAWAYS" 20 || echo "late.py failed (exit $?)"
echo "deadline errors logged: $(grep -c 'deadline exceeded (20 ms)' "$WORK/srv.log") of $RUNAWAYS"
stop
# Deadline errors are this run's purpose; a death or a report is not.
trouble=$(grep -cE -- "$BENCH_DEATH|Sanitizer|runtime error|Lua panic" "$WORK/srv.log")
echo "worker deaths, sanitizer reports, Lua panics: $trouble; processes changed or exit not 0: $STOP_ERRORS"
# Any of it, or an echo round with errors or without a figure, fails the run.
[ "$voided" = 0 ] && [ "$trouble" = 0 ] && [ "$STOP_ERRORS" = 0 ]
