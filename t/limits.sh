#!/bin/bash
# --max-conns pauses accepting instead of failing; running out of descriptors
# pauses accepting without a busy loop; --memory-limit stops a runaway
# handler and only its connection.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 18

ASK_TIMEOUT=1 # ask waits 1 s for a reply

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

start_server maxconns --max-conns 3 --log-level debug -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
exec 3<>"/dev/tcp/127.0.0.1/$PORT" 4<>"/dev/tcp/127.0.0.1/$PORT" 5<>"/dev/tcp/127.0.0.1/$PORT"
ask 3 a && ask 4 b && ask 5 c
ok $? "three connections under --max-conns 3 are served"
exec 6<>"/dev/tcp/127.0.0.1/$PORT"
ask 6 d
check "a fourth connects but waits, not refused" [ -z "$REPLY" ]
check "accepting paused is logged" contains "$LOG" "accepting paused"
exec 3>&-
read -r -t 3 REPLY <&6
check "when one closes, the waiting one is accepted and answered" [ "$REPLY" = d ]
check "accepting resumed is logged" contains "$LOG" "accepting resumed"
exec 4>&- 5>&- 6>&-
stop_server

start_server flood --max-conns 20 -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
echocheck 127.0.0.1 "$PORT" 5 100
START_RSS=$(rss_kb "$(worker_pid)")
check "a connect flood past --max-conns: 3,000 connections come and go" \
    quiet "$MW_TESTBIN/rstflood" 127.0.0.1 "$PORT" 3000
check "the server answers after the flood" echocheck 127.0.0.1 "$PORT" 10 1000 10
now=$(rss_kb "$(worker_pid)")
echo "# worker RSS ${START_RSS} kB before the flood, ${now} kB after"
check "and the worker's memory is back near the start" [ $((now - START_RSS)) -le 2048 ]
stop_server

# Few descriptors: the server, its listener and ~10 connections fit.
(ulimit -n 16 && exec "$MOONWIRE" -l 127.0.0.1:0 "$EXAMPLES/echo.lua") 2>"$TMP/fd.log" &
PID=$! LOG=$TMP/fd.log
server_pids="$server_pids $PID"
for _ in $(seq 50); do grep -q "listening on" "$LOG" && break; sleep 0.1; done
PORT=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$LOG")
for fd in $(seq 20 49); do eval "exec $fd<>/dev/tcp/127.0.0.1/$PORT"; done
WORKER=$(worker_pid)
before=$(cpu_ticks "$WORKER")
sleep 2
after=$(cpu_ticks "$WORKER")
echo "# CPU ticks while out of descriptors: $((after - before))"
check "out of descriptors: no busy loop (under 0.2 s of CPU in 2 s)" [ $((after - before)) -lt 20 ]
check "out of descriptors is logged" contains "$LOG" "Too many open files"
check "... once, not per attempt" [ "$(grep -c 'Too many open files' "$LOG")" -eq 1 ]
for fd in $(seq 20 49); do eval "exec $fd>&-"; done
check "after the flood the server accepts again" echocheck 127.0.0.1 "$PORT" 5 1000 10
stop_server

start_server hog --memory-limit 16M -l 127.0.0.1:0 "$SCRIPTS/memory_hog.lua"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
ask 3 stats
start_bytes=$REPLY
out=$(printf 'grow\n' | socat -T 20 -t 20 - "TCP:127.0.0.1:$PORT" 2>/dev/null)
check "a handler that grows without bound is stopped" [ -z "$out" ]
check "its connection closes with reason 'out of memory'" contains "$LOG" "out of memory"
check "the memory error is logged" contains "$LOG" "not enough memory"
ask 3 "still here"
check "another connection is still answered" [ "$REPLY" = "still here" ]
ask 3 stats
echo "# heap in use: $start_bytes bytes before, $REPLY after"
check "the heap is back near where it started" [ "$REPLY" -lt $((start_bytes + 1048576)) ]
exec 3>&-
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]
finish
