#!/bin/bash
# SIGTERM drains: workers stop accepting, finish what is in flight, close
# idle connections and exit within --shutdown-timeout; a second SIGINT
# stops at once.
. "${MW_SRCDIR:-.}/t/lib.sh"
. "$MW_SRCDIR/t/workers_helpers.sh"
plan 14

# trickle PORT: a client that sends a line every 50 ms for up to 20 s, so it
# is never idle; its echo goes to $TMP/trickle.out.
trickle() {
    (for _ in $(seq 400); do echo tick; sleep 0.05; done) |
        socat -t 1 - "TCP:127.0.0.1:$1" >"$TMP/trickle.out" 2>/dev/null &
    TRICKLE=$!
}

# A generous --shutdown-timeout: the test is about what a drain delivers, and
# a busy machine may need long to echo 100 MB.
start_server drain -w 2 -l 127.0.0.1:0 --shutdown-timeout 60 "$EXAMPLES/echo.lua"
wait_for workers_started 2
echocheck 127.0.0.1 "$PORT" 100 1000000 90 &
checker=$!
sleep 0.2
kill -TERM "$PID"
wait "$checker"
rc=$?
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$LOG"
check "SIGTERM mid-stream: 100 connections get every byte back" [ "$rc" -eq 0 ]
check "the stop came while connections were open" \
    grep -q "worker .: Terminated: stopping ([1-9][0-9]* connections open)" "$LOG"
check "the server exits after the drain" exited_within 60
check "exit status 0" [ "$STATUS" -eq 0 ]
not_cut() { ! grep -q "shutdown timeout" "$LOG"; }
check "no connection was cut at the deadline" not_cut

start_server idle -l 127.0.0.1:0 --shutdown-timeout 2.5 "$EXAMPLES/echo.lua"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
trickle "$PORT"
wait_for grep -q tick "$TMP/trickle.out"
started=$(date +%s%N)
kill -TERM "$PID"
check "an idle connection is closed at the stop" at_eof 3
exec 3>&-
echoed_ticks() { [ "$(grep -c tick "$TMP/trickle.out")" -ge "$1" ]; }
before=$(grep -c tick "$TMP/trickle.out")
check "a busy one is still served while the worker drains" wait_for echoed_ticks $((before + 5))
socat -T 1 - "TCP:127.0.0.1:$PORT" </dev/null 2>/dev/null
check "new connections are refused while draining" [ $? -ne 0 ]
check "the worker exits at --shutdown-timeout 2.5" exited_within 6
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
check "at the timeout, not long after (${elapsed_ms} ms)" \
    [ "$elapsed_ms" -ge 2400 -a "$elapsed_ms" -lt 4500 ]
check "the cut at the deadline is logged" contains "$LOG" "shutdown timeout: stopping now"
check "exit status 0 after the timeout" [ "$STATUS" -eq 0 ]
kill "$TRICKLE" 2>/dev/null

start_server twice -w 2 -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
wait_for workers_started 2
trickle "$PORT"
wait_for grep -q tick "$TMP/trickle.out"
kill -INT "$PID"
sleep 0.3
kill -INT "$PID"
check "a second SIGINT stops at once" exited_within 2
check "and says so" contains "$LOG" "Interrupt again: stopping now"
kill "$TRICKLE" 2>/dev/null
finish
