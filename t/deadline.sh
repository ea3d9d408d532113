#!/bin/bash
# Deadlines: a runaway handler (interpreted, or calling C functions), a timer
# callback and a coroutine slice are stopped at the line that runs, soon after
# their deadline; the connection closes with reason "deadline"; a pcall that
# swallows it is raised again; other connections are served as before;
# mw.deadline and the handler's timeout field change it; 0 means none; a
# serve coroutine is stopped between two reads.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 38

LATE_MS=50 # the most a raise may come after its deadline
SCRIPT="$SCRIPTS/deadline_runaway.lua"

ASK_TIMEOUT=5 # ask waits 5 s for a reply

# send COMMAND: one connection that sends COMMAND; its output in $TMP/out.
send() {
    printf '%s\n' "$1" | socat -t 5 -T 5 - "TCP:127.0.0.1:$PORT" >"$TMP/out" 2>/dev/null
}

# send_open LINE...: one connection that sends the LINEs and keeps its side
# open; its output in $TMP/out. Succeeds when the server closes it (EOF, or
# a reset when it left input unread) within 5 s; fails when the client gives
# up waiting. Read a byte at a time: what came before a reset is kept.
send_open() {
    exec 6<>"/dev/tcp/127.0.0.1/$PORT"
    printf '%s\n' "$@" >&6
    : >"$TMP/out"
    while :; do
        IFS= read -r -d '' -N 1 -t 5 byte <&6 2>"$TMP/read.err"
        status=$?
        [ "$status" -eq 0 ] || break
        printf '%s' "$byte" >>"$TMP/out"
    done
    exec 6>&-
    sed 's/^/# /' "$TMP/read.err"
    [ "$status" -eq 1 ] && return 0
    echo "# the server did not close the connection in 5 s (read status $status)"
    return 1
}

# waited_ms: how long the threads of the server's worker have waited for a
# CPU so far, in ms (the run-queue time in each thread's schedstat, summed).
waited_ms() {
    cat /proc/"$(worker_pid)"/task/*/schedstat 2>/dev/null |
        awk '{ ns += $2 } END { printf "%d\n", ns / 1000000 }'
}

# mark: notes how long the worker has waited for a CPU, before a runaway.
mark() { WAITED=$(waited_ms); }

# in_time NAME ERROR_PATTERN DEADLINE_MS: the raise came within LATE_MS of
# the deadline, counted from the handler's "START NAME" log line: both times
# are the server's own, not a loaded client's clock. On a busy machine the
# worker may wait for a CPU while it runs past its deadline: the time it
# waited since the last mark is allowed on top of LATE_MS.
in_time() {
    start=$(log_ms "START $1\$") raised=$(log_ms "$2")
    late=$((raised - start - $3)) waited=$(($(waited_ms) - WAITED))
    [ "$waited" -ge 0 ] || waited=0
    echo "# $1: raised $late ms after its $3 ms deadline; the worker waited $waited ms for a CPU"
    [ -n "$start" ] && [ -n "$raised" ] && [ "$late" -ge -2 ] && [ "$late" -le $((LATE_MS + waited)) ]
}

MW_TEST_HANDLER_TIMEOUT=200 start_server runaway --timeout 300 -l 127.0.0.1:0 "$SCRIPT"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
ask 3 hello
check "a connection is served before any runaway" [ "$REPLY" = hello ]

mark
send interpreted
err="deadline_runaway.lua:[78]: moonwire: deadline exceeded \(200 ms\)"
check "an interpreted endless loop is stopped (handler timeout 200 ms)" matches_come_to "$LOG" 1 "on_data: .*$err"
check "... the traceback shows the line in the loop" \
    grep -qE "^	.*deadline_runaway.lua:[78]: in function 'interpreted_spin'" "$LOG"
check "... within $LATE_MS ms of the deadline" in_time interpreted "$err" 200
check "... its connection closes with reason 'deadline'" matches_come_to "$LOG" 1 "CLOSED 2 deadline"
ask 3 still
check "... another connection is still served" [ "$REPLY" = still ]

mark
send cfunc
err="deadline_runaway.lua:1[56]: moonwire: deadline exceeded \(200 ms\)"
check "a compiled loop that calls a C function (tostring) is stopped" matches_come_to "$LOG" 1 "$err"
check "... the traceback shows the line in the loop" \
    grep -qE "^	.*deadline_runaway.lua:1[56]: in function 'cfunc_spin'" "$LOG"
check "... within $LATE_MS ms of the deadline" in_time cfunc "$err" 200
check "... its connection closes with reason 'deadline'" matches_come_to "$LOG" 1 "CLOSED 3 deadline"

send_open swallow
closed=$?
check "a pcall that swallows the error sees it raised again: the handler ends" \
    matches_come_to "$LOG" 1 "CLOSED 4 deadline"
closed_silent() { [ "$closed" -eq 0 ] && [ ! -s "$TMP/out" ]; }
check "... and never reaches the code after its pcalls: closed with nothing written" closed_silent
check "... raised again in the handler, past the pcall" \
    grep -qE "connection 4: on_data: .*deadline_runaway.lua:4[67]: moonwire: deadline" "$LOG"

mark
send shorter
err="deadline_runaway.lua:[78]: moonwire: deadline exceeded \(50 ms\)"
check "mw.deadline(50) shortens the running entry's deadline" matches_come_to "$LOG" 1 "$err"
check "... within $LATE_MS ms of it" in_time shorter "$err" 50

send none
check "mw.deadline(0) lifts it: 400 ms of work past a 200 ms deadline finishes" \
    grep -qx "survived nil" "$TMP/out"
send left
check "mw.deadline() tells the ms left (200 at most)" \
    awk '$1 > 0 && $1 <= 200 { ok = 1 } END { exit !ok }' "$TMP/out"

mark
send timer
err="timer: .*deadline_runaway.lua:[78]: moonwire: deadline exceeded \(300 ms\)"
check "a timer callback is stopped (--timeout 300)" matches_come_to "$LOG" 1 "$err"
check "... within $LATE_MS ms of the deadline" in_time timer "$err" 300

mark
send go
err="task [0-9]*: coroutine: .*deadline_runaway.lua:[78]: moonwire: deadline exceeded \(300 ms\)"
check "a coroutine task's slice after mw.sleep is stopped" matches_come_to "$LOG" 1 "$err"
check "... within $LATE_MS ms of the deadline" in_time go "$err" 300

ask 3 stats
echo "# stats: $REPLY"
check "mw.stats(): 6 deadline hits; the task and the timer are gone" [ "$REPLY" = "6 0 0" ]
ask 3 "still here"
check "the first connection was served throughout" [ "$REPLY" = "still here" ]
check "nothing was logged as a crash" sh -c "! grep -q 'killed by signal\|exited with status' '$LOG'"
exec 3>&-
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]

# --timeout 0: no deadline at all (no thread, no hook).
MW_TEST_HANDLER_TIMEOUT= start_server off --timeout 0 -l 127.0.0.1:0 "$SCRIPT"
send busy
check "--timeout 0: 400 ms of work is not stopped" grep -qx done "$TMP/out"
send left
check "--timeout 0: mw.deadline() is nil" grep -qx nil "$TMP/out"
check "--timeout 0: no deadline error" sh -c "! grep -q 'deadline exceeded' '$LOG'"
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]

# The handler's timeout = 0 takes its callbacks out of --timeout.
MW_TEST_HANDLER_TIMEOUT=0 start_server handler_off --timeout 100 -l 127.0.0.1:0 "$SCRIPT"
send busy
check "handler timeout = 0: 400 ms of work past --timeout 100 finishes" grep -qx done "$TMP/out"
check "... with no deadline error" sh -c "! grep -q 'deadline exceeded' '$LOG'"
send timer
check "... while a timer still has --timeout 100" matches_come_to "$LOG" 1 "timer: .*deadline exceeded \(100 ms\)"
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]

# serve: each slice of the connection's coroutine between two reads.
start_server serve --timeout 5000 -l 127.0.0.1:0 "$SCRIPTS/deadline_serve.lua"
mark
send_open a b compute c
closed=$?
answered_before() { [ "$closed" -eq 0 ] && [ "$(tr '\n' ' ' <"$TMP/out")" = "a b " ]; }
check "serve: the lines before the runaway are answered, not the one after; then it closes" \
    answered_before
err="coroutine: .*deadline_serve.lua:[78]: moonwire: deadline exceeded \(200 ms\)"
check "serve: a computation between two reads is stopped (handler timeout)" matches_come_to "$LOG" 1 "$err"
check "... within $LATE_MS ms of the deadline" in_time serve "$err" 200
check "... its connection closes with reason 'deadline'" matches_come_to "$LOG" 1 "CLOSED 1 deadline"
stop_server

# A handler timeout that is not a whole number of ms is refused at load.
printf 'return { timeout = -5 }\n' >"$TMP/bad.lua"
"$MOONWIRE" --check "$TMP/bad.lua" 2>"$TMP/bad.log"
check "timeout = -5 is refused" contains "$TMP/bad.log" "handler field 'timeout' must be a whole number"
finish
