#!/bin/bash
# An error in a handler closes only that connection; stale and wrongly typed
# handles are Lua errors, never crashes.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 15

# closed_after TEXT: a fresh connection sending TEXT, its side kept open, is
# closed by the server within 2 s with no reply.
closed_after() {
    exec 4<>"/dev/tcp/127.0.0.1/$PORT"
    printf '%s\n' "$1" >&4
    closes_silently_within 2000 4
    local status=$?
    exec 4>&-
    return $status
}

start_server faulty -l 127.0.0.1:0 "$SCRIPTS/faulty.lua"
WORKER=$(worker_pid)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
ask 3 "first" && [ "$REPLY" = "first" ]
ok $? "a long-lived connection is echoed"

check "a handler error closes that connection at once, unanswered" closed_after "boom"
check "the error is logged with its message" comes_to "$LOG" "faulty.lua:8: boom requested"
check "the error is logged with a traceback" comes_to "$LOG" "stack traceback:"
check "on_close learns the reason" comes_to "$LOG" "closed 2 error"
ask 3 "second" && [ "$REPLY" = "second" ]
ok $? "the other connection is still served after the error"

ask 3 "stalewrite"
check "a write to a closed connection returns nil, \"closed\" (is_open: false), raising nothing" \
    [ "$REPLY" = "nil closed false" ]
check "a stale handle (but in write, close, is_open) is an error that closes only the caller" \
    closed_after "stale"
check "a stale handle says the connection is closed" comes_to "$LOG" "connection is closed"
check "a wrongly typed handle closes only the caller" closed_after "wrongtype"
check "a wrongly typed handle names both types" \
    comes_to "$LOG" "bad argument #1 to 'write' (connection expected, got string)"
ask 3 "third" && [ "$REPLY" = "third" ]
ok $? "the other connection is still served after misuse"

printf 'quit\n' >&3
check "conn:close() closes the connection at once, with nothing more sent" closes_silently_within 2000 3
exec 3>&-
check "the worker that raised and was misused still runs (not replaced)" still_worker "$WORKER"
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]
finish
