#!/bin/bash
# --max-conns pauses accepting instead of failing; running out of descriptors
# pauses accepting without a busy loop; --memory-limit stops a runaway
# handler and only its connection.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 20

ASK_TIMEOUT=1 # ask waits 1 s for a reply

# cpu_ticks PID: the clock ticks of CPU (user and system) PID has used;
# fails, printing nothing, when there is no such process.
cpu_ticks() {
    alive "$1" || return 1
    awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null | grep -x '[0-9][0-9]*'
}

# no_busy_loop PID SECONDS: PID, running all along, uses under a tenth of
# the CPU time in SECONDS; fails when there is no process to measure.
no_busy_loop() {
    local before after hz
    hz=$(getconf CLK_TCK)
    before=$(cpu_ticks "$1") || { echo "# no process ${1:-(none)} to measure"; return 1; }
    sleep "$2"
    after=$(cpu_ticks "$1") || { echo "# process $1 is gone"; return 1; }
    echo "# CPU ticks of $1 in $2 s: $((after - before)) (at $hz per second)"
    [ $(((after - before) * 10)) -lt $(($2 * hz)) ]
}

# answers FD...: each FD's line is echoed: it writes the FD's number and reads it back.
answers() {
    for fd in "$@"; do
        ask "$fd" "$fd" && [ "$REPLY" = "$fd" ] || { echo "# fd $fd answered '$REPLY'"; return 1; }
    done
}

start_server maxconns --max-conns 3 --log-level debug -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
exec 3<>"/dev/tcp/127.0.0.1/$PORT" 4<>"/dev/tcp/127.0.0.1/$PORT" 5<>"/dev/tcp/127.0.0.1/$PORT"
check "three connections under --max-conns 3 are served" answers 3 4 5
exec 6<>"/dev/tcp/127.0.0.1/$PORT"
check "a fourth connects (not refused)" [ $? -eq 0 ]
printf 'd\n' >&6
check "... and waits, unanswered and not closed, while three are open" unanswered_for 1 6
check "accepting paused is logged" comes_to "$LOG" "accepting paused"
exec 3>&-
read -r -t 3 REPLY <&6
check "when one closes, the waiting one is accepted and answered" [ "$REPLY" = d ]
check "accepting resumed is logged" comes_to "$LOG" "accepting resumed"
exec 4>&- 5>&- 6>&-
stop_server

start_server flood --max-conns 20 -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
echocheck 127.0.0.1 "$PORT" 5 100
WORKER=$(worker_pid)
START_RSS=$(rss_kb "$WORKER")
check "a connect flood past --max-conns: 3,000 connections come and go" \
    quiet "$MW_TESTBIN/rstflood" 127.0.0.1 "$PORT" 3000
check "the server answers after the flood" echocheck 127.0.0.1 "$PORT" 10 1000 10
check "... from the same worker, not a replacement" still_worker "$WORKER"
now=$(rss_kb "$WORKER")
echo "# worker RSS ${START_RSS} kB before the flood, ${now} kB after"
check "and the worker's memory is back near the start" grew_at_most 2048 "$START_RSS" "$now"
stop_server

# Few descriptors: the server, its listener and ~10 connections fit. The
# server runs under a wrapper that lowers its limit, started and watched as any.
printf '#!/bin/sh\nulimit -n 16 && exec "%s" "$@"\n' "$MOONWIRE" >"$TMP/ulimit16"
chmod +x "$TMP/ulimit16"
MOONWIRE=$TMP/ulimit16 start_server fd -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
for fd in $(seq 20 49); do eval "exec $fd<>/dev/tcp/127.0.0.1/$PORT"; done
check "out of descriptors is logged" comes_to "$LOG" "Too many open files"
check "out of descriptors: no busy loop (under a tenth of a CPU over 2 s)" no_busy_loop "$(worker_pid)" 2
check "... logged once, not per attempt" [ "$(grep -c 'Too many open files' "$LOG")" -eq 1 ]
for fd in $(seq 20 49); do eval "exec $fd>&-"; done
check "after the flood the server accepts again" echocheck 127.0.0.1 "$PORT" 5 1000 10
stop_server

start_server hog --memory-limit 16M -l 127.0.0.1:0 "$SCRIPTS/memory_hog.lua"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
ask 3 stats
start_bytes=$REPLY
exec 4<>"/dev/tcp/127.0.0.1/$PORT"
printf 'grow\n' >&4
check "a handler that grows without bound is stopped: its connection closed, unanswered" \
    closes_silently_within 20000 4
exec 4>&-
# Connection 1 is the one on fd 3, 2 the one that grew.
check "its connection closes with reason 'out of memory'" comes_to "$LOG" "closed 2 out of memory"
check "the memory error is logged" comes_to "$LOG" "not enough memory"
ask 3 "still here"
check "another connection is still answered" [ "$REPLY" = "still here" ]
ask 3 stats
echo "# heap in use: $start_bytes bytes before, $REPLY after"
check "the heap is back near where it started" grew_at_most 1048576 "$start_bytes" "$REPLY"
exec 3>&-
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]
finish
