#!/bin/bash
# SIGTERM and SIGINT stop the server (exit 0, connections closed: echo.lua
# has no on_shutdown, so its idle connections are kept until
# --shutdown-timeout, 1 s here); SIGQUIT
# stops at once, without the drain: a connection that is not idle is closed
# with "shutdown" and the server exits long before --shutdown-timeout.
# A peer that vanishes mid-write (SIGPIPE) costs nothing but its connection.
. "${MW_SRCDIR:-.}/t/lib.sh"
. "$MW_SRCDIR/t/workers_helpers.sh"
plan 21

start_server echo -l 127.0.0.1:0 --shutdown-timeout 1 "$EXAMPLES/echo.lua"
worker=$(worker_pid 0)
head -c 4194304 /dev/zero | timeout 20 socat -u - "TCP:127.0.0.1:$PORT" 2>/dev/null
check "a client sends 4 MiB, never reads its echo and goes away" [ $? -eq 0 ]
check "... its connection is closed (its access line is written)" comes_to "$LOG" "access: conn=1 "
survived() { [ "$(worker_pid 0)" = "$worker" ] && kill -0 "$worker" 2>/dev/null; }
check "... and the worker that served it lives on, not replaced (pid $worker)" survived
check "and the server still echoes" echocheck 127.0.0.1 "$PORT" 5 1000 10

exec 3<>"/dev/tcp/127.0.0.1/$PORT" 4<>"/dev/tcp/127.0.0.1/$PORT"
printf 'x\n' >&3 && read -r -t 3 line <&3 && [ "$line" = x ] &&
    printf 'y\n' >&4 && read -r -t 3 line <&4 && [ "$line" = y ]
ok $? "two connections served before SIGTERM"
stop_server TERM
check "SIGTERM: exit status 0" [ "$STATUS" -eq 0 ]
check "SIGTERM: open connection 1 is closed" at_eof 3
check "SIGTERM: open connection 2 is closed" at_eof 4
check "SIGTERM: the stop is logged" contains "$LOG" "stopping (2 connections open)"
exec 3>&- 4>&-

first_port=$PORT
start_server echo2 -l "127.0.0.1:$first_port" --shutdown-timeout 1 "$EXAMPLES/echo.lua"
ok $? "the port is free again after the stop"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'z\n' >&3 && read -r -t 3 line <&3 && [ "$line" = z ]
ok $? "a connection served before SIGINT"
stop_server INT
check "SIGINT: exit status 0" [ "$STATUS" -eq 0 ]
check "SIGINT: the open connection is closed" at_eof 3
exec 3>&-
check "SIGINT: the stop is logged" contains "$LOG" "Interrupt: stopping"

# A connection with part of a line buffered is never idle: a drain would
# keep it until --shutdown-timeout (30 s). "STATS" and the start of a line
# go in one write, so the answer says the server has read both.
start_server quit -l 127.0.0.1:0 --shutdown-timeout 30 "$SCRIPTS/line_sink.lua"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
env printf 'STATS\npartial' >&3
read -r -t 5 line <&3
[ "$line" = "0 0" ]
ok $? "a connection with half a line buffered ('$line')"
t0=$(date +%s%N)
kill -QUIT "$PID"
exited_within 5
ok $? "SIGQUIT: the server exits at once ($((($(date +%s%N) - t0) / 1000000)) ms; --shutdown-timeout is 30 s)"
check "SIGQUIT: exit status 0" [ "${STATUS:-1}" -eq 0 ]
check "SIGQUIT: the connection is closed" at_eof 3
exec 3>&-
check "SIGQUIT: on_close gets \"shutdown\"" contains "$LOG" "closed 1 shutdown"
check "SIGQUIT: the worker stops now, with the connection open" \
    contains "$LOG" "worker 0: Quit: stopping now (1 connections open)"
check "SIGQUIT: the master says it stops now, once, with no drain" \
    bash -c "grep -q 'Quit: stopping 1 worker(s) now' '$LOG' && ! grep -q 'to drain\|Quit again' '$LOG'"
finish
