#!/bin/bash
# Lua heap bytes per idle connection (issue 4, 7b): the BiBOP heap's own
# count (mw.stats) before and while N connections are open and idle.
#   bench/alloc/idle_conns.sh [N]     (from the build tree, after make)
set -u
DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$DIR/../.." && pwd)
N=${1:-10000}
LOG=$(mktemp)
ulimit -n "$(ulimit -Hn)"
stats() { printf 'STATS\n' | socat -T 3 - "TCP:127.0.0.1:$1"; }

taskset -c 0 "$TOP/moonwire" -l 127.0.0.1:0 "$DIR/idle_heap.lua" 2>"$LOG" &
PID=$!
for _ in $(seq 50); do grep -q "listening on" "$LOG" && break; sleep 0.1; done
PORT=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$LOG")
read -r use0 held0 _ < <(stats "$PORT")
taskset -c 1 "$TOP/bench/loadgen/loadgen" -i -c "$N" --hold 4 "127.0.0.1:$PORT" >/dev/null 2>&1 &
LG=$!
sleep 3
read -r use1 held1 open < <(stats "$PORT")
wait "$LG"
kill "$PID"
wait "$PID"
echo "command: bench/alloc/idle_conns.sh $N"
echo "connections open: $((open - 1)) (+ the STATS one)"
echo "heap in use: $use0 -> $use1 bytes: $(((use1 - use0) / N)) per connection"
echo "heap held:   $held0 -> $held1 bytes: $(((held1 - held0) / N)) per connection"
rm -f "$LOG"
