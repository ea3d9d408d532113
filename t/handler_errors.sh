#!/bin/bash
# An error in a handler closes only that connection; stale and wrongly typed
# handles are Lua errors, never crashes.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 14

# closed_after TEXT: a fresh connection sending TEXT is closed with no reply.
closed_after() {
    out=$(printf '%s\n' "$1" | socat -T 3 - "TCP:127.0.0.1:$PORT" 2>&1)
    [ -z "$out" ]
}

start_server faulty -l 127.0.0.1:0 "$SCRIPTS/faulty.lua"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
ask 3 "first" && [ "$REPLY" = "first" ]
ok $? "a long-lived connection is echoed"

check "a handler error closes that connection" closed_after "boom"
check "the error is logged with its message" contains "$LOG" "faulty.lua:6: boom requested"
check "the error is logged with a traceback" contains "$LOG" "stack traceback:"
check "on_close learns the reason" contains "$LOG" "closed 2 error"
ask 3 "second" && [ "$REPLY" = "second" ]
ok $? "the other connection is still served after the error"

check "a stale handle is an error that closes only the caller" closed_after "stale"
check "a stale handle says the connection is closed" contains "$LOG" "connection is closed"
check "a wrongly typed handle closes only the caller" closed_after "wrongtype"
check "a wrongly typed handle names both types" \
    contains "$LOG" "bad argument #1 to 'write' (connection expected, got string)"
ask 3 "third" && [ "$REPLY" = "third" ]
ok $? "the other connection is still served after misuse"

ask 3 "quit"
check "conn:close() closes the connection" [ -z "$REPLY" ]
check "the server is still running" kill -0 "$PID"
exec 3>&-
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]
finish
