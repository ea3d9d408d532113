#!/bin/bash
# examples/proxy.lua relays through mw.connect: TCP by number and by name,
# IPv6 and UNIX upstreams, and clear reasons when the upstream fails.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 12

start_server upstream -l 127.0.0.1:0 -l "unix:$TMP/echo.sock" -l "[::1]:0" "$EXAMPLES/echo.lua"
UP_PID=$PID UP_PORT=$PORT
UP6_PORT=$(sed -n 's/.*listening on \[::1\]:\([0-9]*\)$/\1/p' "$LOG")

proxy_to() {
    MW_UPSTREAM=$1 start_server "proxy$2" -l 127.0.0.1:0 "$EXAMPLES/proxy.lua"
}

proxy_to "127.0.0.1:$UP_PORT" 1
check "through the proxy: 1 MiB over one connection" echocheck 127.0.0.1 "$PORT" 1 1048576 20
check "through the proxy: 50 connections x 64 KiB" echocheck 127.0.0.1 "$PORT" 50 65536 20
stop_server
check "proxy exits 0" [ "$STATUS" -eq 0 ]

proxy_to "localhost:$UP_PORT" 2
check "upstream by name (resolved without blocking)" echocheck 127.0.0.1 "$PORT" 3 10000 10
stop_server

proxy_to "unix:$TMP/echo.sock" 3
check "upstream on a UNIX socket" echocheck 127.0.0.1 "$PORT" 3 10000 10
stop_server

proxy_to "[::1]:$UP6_PORT" 4
check "upstream on IPv6" echocheck 127.0.0.1 "$PORT" 3 10000 10
stop_server

# A port nobody listens on: bind one, note it, close it.
DEAD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 1)
proxy_to "127.0.0.1:$DEAD_PORT" 5
out=$(printf 'hello\n' | socat -T 3 - "TCP:127.0.0.1:$PORT" 2>/dev/null)
check "a refused upstream closes the client" [ -z "$out" ]
check "and on_close says why" comes_to "$LOG" "Connection refused"
stop_server

proxy_to "no-such-host.invalid:80" 6
out=$(printf 'hello\n' | socat -T 5 - "TCP:127.0.0.1:$PORT" 2>/dev/null)
check "an unknown upstream name closes the client" [ -z "$out" ]
check "and on_close names the resolver's reason" comes_to "$LOG" "not known"
stop_server
check "proxy exits 0 after failures" [ "$STATUS" -eq 0 ]

PID=$UP_PID
stop_server
check "upstream exits 0" [ "$STATUS" -eq 0 ]
finish
