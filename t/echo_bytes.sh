#!/bin/sh
# 1 MiB of random bytes through one connection comes back unchanged.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 7

head -c 1048576 /dev/urandom >"$TMP/in"
start_server echo -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
check "server starts on an ephemeral port" [ -n "$PORT" ]
socat -T 10 -t 10 - "TCP:127.0.0.1:$PORT" <"$TMP/in" >"$TMP/out" 2>"$TMP/socat.err"
check "socat exchanged the file" [ $? -eq 0 ]
check "1 MiB of random bytes echoed unchanged" cmp -s "$TMP/in" "$TMP/out"
check "echocheck: 1 MiB pattern over one connection" \
    echocheck 127.0.0.1 "$PORT" 1 1048576 20
# Input and its end in one burst, more than one read holds: the reads after
# the first and the end are seen without a new event from the socket.
head -c 300000 /dev/urandom >"$TMP/burst"
t0=$(date +%s)
socat -T 30 -t 30 - "TCP:127.0.0.1:$PORT" <"$TMP/burst" >"$TMP/burst.out" 2>/dev/null
t1=$(date +%s)
check "300 KB and the end of input in one burst: all echoed" cmp -s "$TMP/burst" "$TMP/burst.out"
check "... and the server closes at the end at once (took $((t1 - t0)) s, socat waits 30)" \
    [ $((t1 - t0)) -lt 10 ]
stop_server
check "server exits 0 on SIGTERM" [ "$STATUS" -eq 0 ]
finish
