#!/bin/sh
# 1 MiB of random bytes through one connection comes back unchanged.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 5

head -c 1048576 /dev/urandom >"$TMP/in"
start_server echo -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
check "server starts on an ephemeral port" [ -n "$PORT" ]
socat -T 10 -t 10 - "TCP:127.0.0.1:$PORT" <"$TMP/in" >"$TMP/out" 2>"$TMP/socat.err"
check "socat exchanged the file" [ $? -eq 0 ]
check "1 MiB of random bytes echoed unchanged" cmp -s "$TMP/in" "$TMP/out"
check "echocheck: 1 MiB pattern over one connection" \
    echocheck 127.0.0.1 "$PORT" 1 1048576 20
stop_server
check "server exits 0 on SIGTERM" [ "$STATUS" -eq 0 ]
finish
