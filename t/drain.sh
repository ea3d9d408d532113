#!/bin/bash
# SIGTERM drains: workers stop accepting, keep serving the connections they
# have (idle ones too: this handler has no on_shutdown to close them at a
# boundary of its protocol) and exit when the last has gone, or at
# --shutdown-timeout; a second SIGINT stops at once. A connection closed by
# the stop gets on_close "shutdown". (t/shutdown.sh: on_shutdown.)
. "${MW_SRCDIR:-.}/t/lib.sh"
. "$MW_SRCDIR/t/workers_helpers.sh"
plan 20

# An echo handler that logs each connection's opening and its close reason.
cat >"$TMP/closes.lua" <<'LUA'
local mw = require "moonwire"
return {
  on_connect = function(conn) mw.log("info", "OPEN " .. conn.id) end,
  on_data = function(conn, data) conn:write(data) end,
  on_close = function(conn, reason) mw.log("info", "CLOSED " .. conn.id .. " " .. reason) end,
}
LUA

# trickle PORT: a client that sends a line every 50 ms for up to 20 s, so it
# is never idle; its echo goes to $TMP/trickle.out.
trickle() {
    rm -f "$TMP/trickle.out" # no tick of an earlier trickle is taken for this one's
    (for _ in $(seq 400); do echo tick; sleep 0.05; done) |
        socat -t 1 - "TCP:127.0.0.1:$1" >"$TMP/trickle.out" 2>/dev/null &
    TRICKLE=$!
}

# refused: a new connection to PORT is refused by the kernel (nothing
# listens), not accepted nor left to time out.
refused() {
    socat -T 1 /dev/null "TCP:127.0.0.1:$PORT" 2>"$TMP/refused.err" && return 1
    grep -q "Connection refused" "$TMP/refused.err" && return 0
    sed 's/^/#   /' "$TMP/refused.err"
    return 1
}

# line_of PATTERN: the number of the first log line matching PATTERN (empty if none).
line_of() { grep -n -m1 -E -- "$1" "$LOG" | cut -d: -f1; }

# echoed_ticks N: the trickle has had N ticks echoed.
echoed_ticks() { [ "$(grep -c tick "$TMP/trickle.out")" -ge "$1" ]; }

# not_cut: no connection was cut at --shutdown-timeout.
not_cut() { ! grep -q "shutdown timeout" "$LOG"; }

# cut_in_time: worker 0 cut its connections at --shutdown-timeout 2.5, timed
# by its own log from its stop to its cut (a loop's cached time may put the
# timer a few ms before the stop's line); a busy machine may run the timer
# late, by 750 ms at most here.
cut_in_time() {
    stopped=$(log_ms "worker 0: Terminated: stopping \(") cut=$(log_ms "worker 0: shutdown timeout: stopping now")
    [ -n "$stopped" ] && [ -n "$cut" ] || return 1
    echo "# the worker cut its connections $((cut - stopped)) ms after its stop"
    [ $((cut - stopped)) -ge 2450 ] && [ $((cut - stopped)) -le 3250 ]
}

# idle_at_cut: connection 1 (idle) was closed at the cut, not before it.
idle_at_cut() {
    idle=$(line_of "CLOSED 1 shutdown") timeout=$(line_of "shutdown timeout: stopping now")
    [ -n "$idle" ] && [ -n "$timeout" ] && [ "$idle" -gt "$timeout" ]
}

# still_echoes FD: a line sent on FD comes back.
still_echoes() { echo again >&"$1" && read -r -t 3 line <&"$1" && [ "$line" = again ]; }

# draining: both workers have begun their drain.
draining() { [ "$(grep -c 'worker .: Terminated: stopping (' "$LOG")" -ge 2 ]; }

# A generous --shutdown-timeout: the test is about what a drain delivers, and
# a busy machine may need long to echo 100 MB.
start_server drain -w 2 -l 127.0.0.1:0 --shutdown-timeout 60 "$EXAMPLES/echo.lua"
wait_for workers_started 2
echocheck 127.0.0.1 "$PORT" 100 1000000 90 &
checker=$!
wait_for accepted 100
kill -TERM "$PID"
wait "$checker"
rc=$?
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$LOG"
check "SIGTERM mid-stream: 100 connections get every byte back" [ "$rc" -eq 0 ]
check "the stop came while connections were open" \
    grep -q "worker .: Terminated: stopping ([1-9][0-9]* connections open)" "$LOG"
check "the server exits after the drain" exited_within 60
check "exit status 0" [ "$STATUS" -eq 0 ]
check "no connection was cut at the deadline" not_cut

start_server idle -l 127.0.0.1:0 --shutdown-timeout 2.5 "$TMP/closes.lua"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
comes_to "$LOG" "OPEN 1" # the idle connection is 1, the trickle 2
trickle "$PORT"
wait_for grep -q tick "$TMP/trickle.out"
sleep 1.2 # idle for more than a second (the drain of old closed such a one at once)
kill -TERM "$PID"
comes_to "$LOG" "Terminated: stopping (2 connections open)"
check "new connections are refused while draining" refused
check "an idle connection is kept through the drain, and still served" still_echoes 3
before=$(grep -c tick "$TMP/trickle.out")
check "a busy one is still served while the worker drains" wait_for echoed_ticks $((before + 5))
check "the idle one is closed at the cut (EOF)" closes_within 4000 3
exec 3>&-
check "... and its on_close gets reason 'shutdown'" comes_to "$LOG" "CLOSED 1 shutdown"
check "the worker exits at --shutdown-timeout 2.5" exited_within 6
check "the cut at the deadline is logged" contains "$LOG" "shutdown timeout: stopping now"
check "at the timeout, not long after (as the worker logged it)" cut_in_time
check "the busy connection, open at the timeout, gets on_close reason 'shutdown'" \
    contains "$LOG" "CLOSED 2 shutdown"
check "the idle one was closed at the cut, not before" idle_at_cut
check "exit status 0 after the timeout" [ "$STATUS" -eq 0 ]
kill "$TRICKLE" 2>/dev/null

start_server twice -w 2 -l 127.0.0.1:0 "$TMP/closes.lua"
wait_for workers_started 2
trickle "$PORT"
wait_for grep -q tick "$TMP/trickle.out"
kill -INT "$PID"
check "a first SIGINT starts the drain in both workers" wait_for draining
kill -INT "$PID"
check "a second SIGINT stops at once" exited_within 2
check "and says so" contains "$LOG" "Interrupt again: stopping now"
check "the busy connection it cut gets on_close reason 'shutdown'" \
    grep -qE "worker .: CLOSED [0-9]+ shutdown" "$LOG"
kill "$TRICKLE" 2>/dev/null
finish
