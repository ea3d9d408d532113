#!/bin/bash
# examples/proxy.lua relays through mw.connect: TCP by number and by name,
# IPv6 and UNIX upstreams, and clear reasons when the upstream fails; a
# handler's connect_timeout ends a connect that cannot complete (a loopback
# listener whose backlog is full) with on_close "connect timeout", in time.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 17

# free_port: a port nobody listens on now (the kernel's pick, released).
free_port() {
    perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or die;
        bind($s, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die;
        print((unpack_sockaddr_in(getsockname($s)))[0], "\n")'
}

start_server upstream -l 127.0.0.1:0 -l "unix:$TMP/echo.sock" -l "[::1]:0" "$EXAMPLES/echo.lua"
UP_PID=$PID UP_PORT=$PORT
UP6_PORT=$(sed -n 's/.*listening on \[::1\]:\([0-9]*\)$/\1/p' "$LOG")

proxy_to() {
    MW_UPSTREAM=$1 start_server "proxy$2" -l 127.0.0.1:0 "$EXAMPLES/proxy.lua"
}

# closed_unanswered LINE: sends LINE through the proxy, which closes the
# client without a byte within 15 s (socat alone would wait 30 s).
closed_unanswered() {
    printf '%s\n' "$1" | timeout 15 socat -T 30 -t 30 - "TCP:127.0.0.1:$PORT" >"$TMP/reply" 2>/dev/null
    status=$?
    [ "$status" -eq 0 ] && [ ! -s "$TMP/reply" ] && return 0
    echo "# socat exit $status (124: still open after 15 s), reply:" && od -c "$TMP/reply" | head -5
    return 1
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

check "the upstream listens on [::1] ($UP6_PORT)" [ -n "$UP6_PORT" ]
proxy_to "[::1]:$UP6_PORT" 4
check "upstream on IPv6" echocheck 127.0.0.1 "$PORT" 3 10000 10
stop_server

DEAD_PORT=$(free_port)
proxy_to "127.0.0.1:$DEAD_PORT" 5
check "a refused upstream (port $DEAD_PORT) closes the client at once" closed_unanswered hello
check "and on_close says why" comes_to "$LOG" "Connection refused"
stop_server

proxy_to "no-such-host.invalid:80" 6
check "an unknown upstream name closes the client" closed_unanswered hello
check "and on_close names the resolver's reason" comes_to "$LOG" "not known"
stop_server
check "proxy exits 0 after failures" [ "$STATUS" -eq 0 ]

PID=$UP_PID
stop_server
check "upstream exits 0" [ "$STATUS" -eq 0 ]

# A listener with a backlog of 0 and one connection it never accepts: the
# kernel drops further SYNs, so a connect to it neither completes nor fails.
cat >"$TMP/full.pl" <<'PERL'
# full.pl PORTFILE: listens on 127.0.0.1 with its backlog full, for 120 s.
use strict;
use Socket;
use POSIX ();
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
bind($s, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die "bind: $!";
listen($s, 0) or die "listen: $!";
my ($port) = unpack_sockaddr_in(getsockname($s));
my @fillers;
for (1 .. 2) {
    socket(my $c, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
    fcntl($c, POSIX::F_SETFL(), POSIX::O_NONBLOCK()) or die "fcntl: $!";
    connect($c, pack_sockaddr_in($port, inet_aton("127.0.0.1")));
    push @fillers, $c;
    select(undef, undef, undef, 0.2);
}
open(my $f, ">", $ARGV[0]) or die "$ARGV[0]: $!";
print $f "$port\n";
close($f);
sleep 120;
PERL
perl "$TMP/full.pl" "$TMP/full.port" &
server_pids="$server_pids $!"
wait_for_file() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }
wait_for_file "$TMP/full.port"
FULL=$(cat "$TMP/full.port" 2>/dev/null)
ss -Htn state syn-sent "dport = :${FULL:-0}" | grep -q .
ok $? "a loopback listener with its backlog full leaves a connect hanging (port ${FULL:-none})"

cat >"$TMP/connect_timeout.lua" <<'LUA'
-- Each line "HOST PORT MS" connects there with connect_timeout MS; the
-- client is told "connected", or "closed REASON after N ms" (by mw.now()).
local mw = require "moonwire"
return {
  framing = "line",
  on_data = function(client, line)
    local host, port, ms = line:match("^(%S+) (%d+) (%d+)$")
    local t0 = mw.now()
    mw.connect(host, tonumber(port), {
      connect_timeout = tonumber(ms),
      on_connect = function(up) client:write("connected\n") end,
      on_close = function(up, reason)
        client:write(string.format("closed %s after %d ms\n", reason, mw.now() - t0))
      end,
    })
  end,
}
LUA
start_server ctimeout -l 127.0.0.1:0 "$TMP/connect_timeout.lua"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf '127.0.0.1 %s 1500\n127.0.0.1 %s 300\n' "$FULL" "$FULL" >&3
read -r -t 10 first <&3
read -r -t 10 second <&3
echo "# $first; $second"
# after REPLY MS: REPLY is a connect timeout reported MS to MS + 3000 ms
# (a loaded machine) after the connect.
after() {
    took=$(echo "$1" | sed -n 's/^closed connect timeout after \([0-9]*\) ms$/\1/p')
    [ -n "$took" ] && [ "$took" -ge "$2" ] && [ "$took" -lt $(($2 + 3000)) ]
}
check "connect_timeout 300: on_close gets \"connect timeout\", 300 ms on ($first)" after "$first" 300
check "connect_timeout 1500: the same, 1500 ms on, after the shorter one ($second)" after "$second" 1500
printf '127.0.0.1 %s 300\n' "$(free_port)" >&3
read -r -t 10 refused <&3
check "a refused connect is not a timeout: it is told at once ($refused)" \
    grep -qE '^closed Connection refused after [0-9]+ ms$' <<<"$refused"
exec 3>&-
finish
