#!/bin/bash
# SIGTERM and SIGINT stop the server (exit 0, connections closed);
# a peer that vanishes mid-write (SIGPIPE) costs nothing but its connection.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 11

# at_eof FD: the server has closed the connection on FD.
at_eof() {
    read -r -t 3 line <&"$1"
    [ $? -eq 1 ] && [ -z "$line" ]
}

start_server echo -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
head -c 4194304 /dev/zero | socat -u - "TCP:127.0.0.1:$PORT" 2>/dev/null
check "a client that sends 4 MiB and never reads does not stop the server" kill -0 "$PID"
check "and the server still echoes" echocheck 127.0.0.1 "$PORT" 5 1000 10

exec 3<>"/dev/tcp/127.0.0.1/$PORT" 4<>"/dev/tcp/127.0.0.1/$PORT"
printf 'x\n' >&3 && read -r -t 3 line <&3 && [ "$line" = x ]
ok $? "connections open before SIGTERM"
stop_server TERM
check "SIGTERM: exit status 0" [ "$STATUS" -eq 0 ]
check "SIGTERM: open connection 1 is closed" at_eof 3
check "SIGTERM: open connection 2 is closed" at_eof 4
check "SIGTERM: the stop is logged" contains "$LOG" "stopping (2 connections open)"
exec 3>&- 4>&-

first_port=$PORT
start_server echo2 -l "127.0.0.1:$first_port" "$EXAMPLES/echo.lua"
ok $? "the port is free again after the stop"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
stop_server INT
check "SIGINT: exit status 0" [ "$STATUS" -eq 0 ]
check "SIGINT: the open connection is closed" at_eof 3
exec 3>&-
check "SIGINT: the stop is logged" contains "$LOG" "Interrupt: stopping"
finish
