#!/bin/bash
# The handler's keepalive field turns SO_KEEPALIVE on; the kernel shows it
# as a keepalive timer on the server's side of the connection (ss -o).
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 3

command -v ss >/dev/null || echo "# ss (iproute2) is needed"

# timer_of PORT: ss's timer column for the server side of connections to PORT.
timer_of() {
    ss -tnoH state established "( sport = :$1 )" 2>/dev/null
}

MW_KEEPALIVE=1 start_server on -l 127.0.0.1:0 "$SCRIPTS/keepalive.lua"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'x\n' >&3 && read -r -t 3 line <&3
timer_of "$PORT" | sed 's/^/# /'
check "keepalive = true: the connection has a keepalive timer" grep -q keepalive <(timer_of "$PORT")
exec 3>&-
stop_server

MW_KEEPALIVE=0 start_server off -l 127.0.0.1:0 "$SCRIPTS/keepalive.lua"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'x\n' >&3 && read -r -t 3 line <&3
check "the connection is served" [ "$line" = x ]
timer_of "$PORT" | grep -q keepalive
check "keepalive absent: no keepalive timer" [ $? -ne 0 ]
exec 3>&-
stop_server
finish
