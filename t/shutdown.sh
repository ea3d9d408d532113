#!/bin/bash
# A draining worker (SIGTERM, or the old workers of a SIGHUP) keeps every
# connection it has, idle ones too, serving until --shutdown-timeout, and
# tells each one once (on_shutdown; mw.stopping() is true from then on).
# moonwire.http closes each connection at the end of a request (a response
# then says "Connection: close"), so a reload under keep-alive load loses
# no request; moonwire.resp (kv.lua) closes one between commands, its FIN
# with a batch's replies.
. "${MW_SRCDIR:-.}/t/lib.sh"
. "$MW_SRCDIR/t/workers_helpers.sh"
plan 28
trap '' PIPE

# answers FD LINE EXPECTED: LINE sent on FD is answered with EXPECTED.
answers() {
    printf '%s\n' "$2" >&"$1" && read -r -t 3 reply <&"$1" && [ "$reply" = "$3" ] && return 0
    echo "# sent '$2', expected '$3', got '${reply:-nothing}'"
    return 1
}

# read_response FD: an HTTP response to GET / of examples/http.lua comes on
# FD, kept in $TMP/response.
read_response() {
    : >"$TMP/response"
    while read -r -t 3 line <&"$1"; do
        echo "$line" >>"$TMP/response"
        [ "$line" = "hello from moonwire" ] && return 0
    done
    echo "# no whole response:" && sed 's/^/#   /' "$TMP/response"
    return 1
}

# old_draining N: N old workers have begun their drain (they take the
# master's SIGTERM in their own time, after it says the reload is done).
old_draining() { [ "$(grep -cE 'worker [0-9]+: Terminated: stopping \(' "$LOG")" -ge "$1" ]; }

# reloaded N: N reloads have started their new workers.
reloaded() { [ "$(grep -c 'reload: [0-9]* new worker(s) serve' "$LOG")" -ge "$1" ]; }

# old_exited: the old worker 0 of the first generation has exited, status 0.
old_exited() { grep -q "old worker 0 (pid $old) exited with status 0" "$LOG"; }

# --- a handler that does not take part: its connections are kept ---
start_server keep -l 127.0.0.1:0 --shutdown-timeout 3 "$EXAMPLES/echo.lua"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
check "before the stop: echoed" answers 3 one one
sleep 1.2 # idle for more than a second: the drain of old closed it at once
kill -TERM "$PID"
comes_to "$LOG" "Terminated: stopping (1 connections open)"
sleep 1.5
check "an idle connection is kept through the drain and still served (1.5 s in)" answers 3 two two
check "... until --shutdown-timeout 3, then closed" closes_within 4000 3
exec 3>&-
check "... with reason shutdown" comes_to "$LOG" 'reason="shutdown"'
check "... and the server exits 0" exited_within 3
check "exit status 0" [ "$STATUS" -eq 0 ]

# --- on_shutdown and mw.stopping() ---
start_server told -l 127.0.0.1:0 --shutdown-timeout 3 "$SCRIPTS/told.lua"
exec 3<>"/dev/tcp/127.0.0.1/$PORT" 4<>"/dev/tcp/127.0.0.1/$PORT"
check "mw.stopping() is false while serving" answers 3 "stopping?" false
check "a second connection asks to be told goodbye" answers 4 goodbye goodbye
kill -TERM "$PID"
check "each connection is told once (on_shutdown)" \
    matches_come_to "$LOG" 2 "TOLD [0-9]+ stopping=true"
check "mw.stopping() is true in on_shutdown and in a timer after it" \
    matches_come_to "$LOG" 2 "TIMER stopping=true"
check "on_shutdown's goodbye is written, then its close" \
    bash -c "read -r -t 3 line <&4 && [ \"\$line\" = bye ] && ! read -r -t 3 line <&4"
check "the connection it left is still served, and sees mw.stopping() true" \
    answers 3 "stopping?" true
exec 3>&- 4>&-
check "told once each, no more" bash -c "[ \$(grep -c TOLD '$LOG') -eq 2 ]"
check "the server exits 0 once the last connection has gone" exited_within 3
check "exit status 0" [ "$STATUS" -eq 0 ]

# --- moonwire.http: a reload under keep-alive load loses no request ---
# --shutdown-timeout 2: the old policy cut wrk's busy connections then, with
# requests in flight. An idle keep-alive connection is closed between
# requests; one with half a request gets its answer with Connection: close.
start_server http -w 2 -l 127.0.0.1:0 --shutdown-timeout 2 "$EXAMPLES/http.lua"
wait_for workers_started 2
old=$(worker_pid 0)
exec 3<>"/dev/tcp/127.0.0.1/$PORT" 4<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET / HTTP/1.1\r\nHost: a\r\n\r\n' >&3
check "a keep-alive connection is answered before the reload, then idle" read_response 3
printf 'GET / HTTP/1.1\r\nHost: a\r\n' >&4 # half a request
timeout 8 wrk -t 1 -c 40 -d 5s "http://127.0.0.1:$PORT/" >"$TMP/wrk.out" 2>&1 &
load=$!
sleep 1
kill -HUP "$PID"
wait_for reloaded 1
wait_for old_draining 2
printf '\r\n' >&4 # the rest of the request, well within the old worker's 2 s
check "the request in progress at the reload is answered" read_response 4
check "... with Connection: close" grep -q "^Connection: close" "$TMP/response"
check "... and closed after it" closes_within 2000 4
check "the idle keep-alive connection is closed between requests, within 2 s" closes_within 2000 3
exec 3>&- 4>&-
kill -HUP "$PID" # a second reload, with the load still on
wait_for reloaded 2
wait "$load"
sed 's/^/#   /' "$TMP/wrk.out"
check "wrk ran through two reloads" grep -q "requests in" "$TMP/wrk.out"
check "... and lost no request (no socket error, no non-2xx response)" \
    bash -c "! grep -q 'Socket errors\|Non-2xx' '$TMP/wrk.out'"
check "the old workers exit 0" wait_for old_exited
stop_server

# --- moonwire.resp (kv.lua): closed between commands ---
start_server kv -l 127.0.0.1:0 --shutdown-timeout 30 "$EXAMPLES/kv.lua"
old=$(worker_pid 0)
exec 3<>"/dev/tcp/127.0.0.1/$PORT" 4<>"/dev/tcp/127.0.0.1/$PORT"
printf 'PING\r\n' >&3 && read -r -t 3 line <&3
check "kv.lua answers before the reload" [ "$line" = $'+PONG\r' ]
printf '*2\r\n$4\r\nECHO\r\n' >&4 # half a command
"/usr/bin/python3" "$SCRIPTS/redis_across.py" "$PORT" 3 >"$TMP/redis.out" 2>&1 &
client=$!
sleep 1
kill -HUP "$PID"
wait_for reloaded 1
check "an idle connection is closed once it has sent nothing for 1 s" closes_within 2500 3
printf '$2\r\nhi\r\n' >&4
timeout 3 cat <&4 >"$TMP/half.out"
check "a half-sent command is answered, then the connection closed" \
    bash -c "[ \"\$(cat '$TMP/half.out')\" = \$'\$2\r\nhi\r' ]"
exec 3>&- 4>&-
check "the old worker exits long before --shutdown-timeout 30" wait_for old_exited
wait "$client"
sed 's/^/#   /' "$TMP/redis.out"
check "a redis-py client across the reload: every command answered, none wrong" \
    grep -q "^commands: [1-9][0-9]*, errors: 0, wrong: 0$" "$TMP/redis.out"
finish
