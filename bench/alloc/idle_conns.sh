#!/bin/bash
# Lua heap bytes per idle connection (issue 4, 7b): the BiBOP heap's own
# count (mw.stats) before and while N connections are open and idle.
#   bench/alloc/idle_conns.sh [N]     (from the build tree, after make;
#   MOONWIRE and LOADGEN name the binaries elsewhere)
# Prints nothing but the reason, and exits 1, when the server does not
# serve, the N connections are not all open when it counts, the load
# generator fails or counts errors, or the server's log has lines that void
# the run (bench/lib/serving.sh).
set -u
DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$DIR/../.." && pwd)
. "$DIR/../lib/serving.sh"
MOONWIRE=${MOONWIRE:-$TOP/moonwire}
LOADGEN=${LOADGEN:-$TOP/bench/loadgen/loadgen}
N=${1:-10000}
LOG=$(mktemp)
OUT=$(mktemp)
PID=
trap 'rm -f "$LOG" "$OUT"' EXIT
ulimit -n "$(ulimit -Hn)"
stats() { printf 'STATS\n' | socat -T 3 - "TCP:127.0.0.1:$1"; }
fail() {
    echo "idle_conns: $*" >&2
    [ -n "$PID" ] && kill -TERM "$PID" && wait "$PID"
    exit 1
}

taskset -c 0 "$MOONWIRE" -l 127.0.0.1:0 "$DIR/idle_heap.lua" 2>"$LOG" &
PID=$!
for _ in $(seq 50); do grep -q "listening on" "$LOG" && break; sleep 0.1; done
PORT=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$LOG")
[ -n "$PORT" ] || fail "no 'listening on' line in 5 s"
bench_serving echo "$PORT" "$LOG" 1 || fail "$BENCH_NOT_SERVING"
read -r use0 held0 _ < <(stats "$PORT")
taskset -c 1 "$LOADGEN" -i -c "$N" --hold 10 "127.0.0.1:$PORT" >"$OUT" 2>&1 &
LG=$!
# Counted once all N are open (the STATS connection is one more), within 60 s.
open=0
for _ in $(seq 600); do
    read -r use1 held1 open < <(stats "$PORT")
    [ "${open:-0}" -ge $((N + 1)) ] && break
    sleep 0.1
done
wait "$LG"
lgrc=$?
kill -TERM "$PID"
wait "$PID"
rc=$?
PID=
[ "${open:-0}" -ge $((N + 1)) ] || fail "only $((open - 1)) of $N connections open within 60 s"
[ "$lgrc" = 0 ] || fail "loadgen exited $lgrc: $(tail -n 2 "$OUT")"
[ "$rc" = 0 ] || fail "moonwire exited $rc"
[ "$(bench_log_trouble "$LOG")" = 0 ] || fail "its log voids the run: $(grep -E -- "$BENCH_DEATH|$BENCH_REPORT" "$LOG" | head -n 3)"
echo "command: bench/alloc/idle_conns.sh $N"
echo "connections open: $((open - 1)) (+ the STATS one); loadgen: $(grep -o 'mismatched bytes: .*' "$OUT")"
echo "heap in use: $use0 -> $use1 bytes: $(((use1 - use0) / N)) per connection"
echo "heap held:   $held0 -> $held1 bytes: $(((held1 - held0) / N)) per connection"
