#!/bin/bash
# The handler's keepalive field turns SO_KEEPALIVE on; the kernel shows it
# as a keepalive timer on the server's side of the connection (ss -o, from
# iproute2, which the test needs).
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 4

# server_side PORT: ss's line (timer column included) for the one established
# connection whose local port is PORT, in $TMP/ss; fails unless ss lists exactly one.
server_side() {
    ss -tnoH state established "( sport = :$1 )" >"$TMP/ss" 2>&1 || { sed 's/^/# ss: /' "$TMP/ss"; return 1; }
    sed 's/^/# /' "$TMP/ss"
    [ "$(wc -l <"$TMP/ss")" -eq 1 ] || { echo "# ss lists $(wc -l <"$TMP/ss") such connections, not 1"; return 1; }
}

# timer_is PORT WANT: the server side of the connection to PORT has a
# keepalive timer (WANT = keepalive) or none (WANT = none).
timer_is() {
    server_side "$1" || return 1
    if [ "$2" = keepalive ]; then grep -q 'timer:(keepalive,' "$TMP/ss"; else ! grep -q keepalive "$TMP/ss"; fi
}

MW_KEEPALIVE=1 start_server on -l 127.0.0.1:0 "$SCRIPTS/keepalive.lua"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
ask 3 x
check "keepalive = true: the connection is served" [ "$REPLY" = x ]
check "keepalive = true: the server's side has a keepalive timer" timer_is "$PORT" keepalive
exec 3>&-
stop_server

MW_KEEPALIVE=0 start_server off -l 127.0.0.1:0 "$SCRIPTS/keepalive.lua"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
ask 3 x
check "keepalive absent: the connection is served" [ "$REPLY" = x ]
check "keepalive absent: the server's side (listed by ss) has no keepalive timer" timer_is "$PORT" none
exec 3>&-
stop_server
finish
