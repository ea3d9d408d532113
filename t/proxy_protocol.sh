#!/bin/bash
# A listener with ,proxy takes the PROXY protocol header (v1 or v2) off the
# input before the handler sees a byte; conn:peer() names the client it
# carried; a missing or malformed header closes with a logged reason.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 24

cat >"$TMP/peer.lua" <<'LUA'
local mw = require "moonwire"
return {
  framing = "line",
  on_connect = function(conn)
    mw.log("info", "handler saw connection", conn.id)
    conn:write("peer ", conn:peer(), "\n")
  end,
  on_data = function(conn, line) conn:write("data ", line, "\n") end,
}
LUA

# closed_unanswered INPUT: a connection that sends INPUT (a printf format)
# and keeps its side open is closed by the server (EOF or reset within 5 s,
# not a client timeout) without a byte of answer.
closed_unanswered() {
    exec 5<>"/dev/tcp/127.0.0.1/$PORT"
    # shellcheck disable=SC2059
    printf "$1" >&5
    IFS= read -r -d '' -N 1 -t 5 byte <&5 2>"$TMP/read.err"
    status=$?
    exec 5>&-
    # An EOF, or a reset: bash writes the header's line and what follows it
    # apart, and a server that closes with bytes it has not read resets.
    [ "$status" -eq 1 ] && [ -z "$byte" ] &&
        { [ ! -s "$TMP/read.err" ] || grep -q "Connection reset by peer" "$TMP/read.err"; } && return 0
    echo "# read status $status (1 is EOF, over 128 a timeout), got '$byte'" && sed 's/^/#   /' "$TMP/read.err"
    return 1
}

start_server proxy -l 127.0.0.1:0,proxy -l 127.0.0.1:0 "$TMP/peer.lua"
PLAIN=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$LOG" | sed -n 2p)
check "the log says the listener expects a PROXY header" \
    contains "$LOG" "connections start with a PROXY protocol header"

SIG='\r\n\r\n\000\r\nQUIT\n'
exchange 'PROXY TCP4 192.0.2.1 198.51.100.2 4242 7000\r\nhello\n'
check "v1 TCP4: peer() is the client; the header never reaches the handler" \
    replied 'peer 192.0.2.1:4242\ndata hello\n'
exchange 'PROXY TCP6 2001:db8::1 2001:db8::2 5353 7000\r\nhi\n'
check "v1 TCP6: peer() is [2001:db8::1]:5353" replied 'peer [2001:db8::1]:5353\ndata hi\n'
exchange "$SIG"'\041\021\000\014\313\000\161\007\300\000\002\001\025\263\033\130x\n'
check "v2 PROXY TCP4: peer() is 203.0.113.7:5555" replied 'peer 203.0.113.7:5555\ndata x\n'
exchange "$SIG"'\041\021\000\023\313\000\161\007\300\000\002\001\025\263\033\130\004\000\004abcdy\n'
check "v2 with a TLV after the addresses: skipped with the header" \
    replied 'peer 203.0.113.7:5555\ndata y\n'
exchange "$SIG"'\040\000\000\000z\n'
check "v2 LOCAL (a health check): peer() is the proxy's own address" \
    grep -qE '^peer 127\.0\.0\.1:[0-9]+$' "$TMP/reply"
{ printf 'PROXY TCP4 192.0.2.9 198.51'; sleep 0.3; printf '.100.2 1 2\r\nlate\n'; } |
    socat -T 3 -t 3 - "TCP:127.0.0.1:$PORT" >"$TMP/reply" 2>/dev/null
check "a header split over two reads is put together" replied 'peer 192.0.2.9:1\ndata late\n'

before=$(grep -c "handler saw connection" "$LOG")
check "no header: closed at once, nothing answered" closed_unanswered 'hello without a header\n'
check "no header: the reason is logged" contains "$LOG" "no PROXY protocol header; closing"
check "malformed v1: closed at once, nothing answered" \
    closed_unanswered 'PROXY TCP4 192.0.2.1 198.51.100.2 4242\r\nhello\n'
check "malformed v1: the reason is logged" contains "$LOG" "v1 header: bad addresses or ports"
exchange "$SIG"'\041\021\000\004abcd'
check "v2 addresses shorter than the family needs: logged" \
    contains "$LOG" "v2 header: addresses longer than the header"
after=$(grep -c "handler saw connection" "$LOG")
check "the handler never saw the rejected connections" [ "$before" -eq "$after" ]

PORT=$PLAIN exchange 'plain\n'
check "a listener without ,proxy on the same server needs no header" \
    grep -qx 'data plain' "$TMP/reply"

# A load balancer's health check: a v2 LOCAL header, and the checker goes.
# Its access line, twice a second per balancer, is not at info level.
exchange "$SIG"'\040\000\000\000'
probe=$(sed -n 's/.*handler saw connection \([0-9]*\)$/\1/p' "$LOG" | tail -n 1)
check "a v2 LOCAL health check reaches the handler" grep -qE '^peer 127\.0\.0\.1:[0-9]+$' "$TMP/reply"
check "... and, closed, leaves no access line at info level (conn $probe)" \
    bash -c "is_number() { case \$1 in '' | *[!0-9]*) return 1 ;; esac; }; is_number '$probe' &&
        ! grep -q 'access: conn=$probe ' '$LOG'"
check "a client's connection still has its access line at info level" \
    grep -qE '\[info\] worker 0: access: conn=[0-9]+ peer=192\.0\.2\.1:4242 ' "$LOG"
stop_server

# As HAProxy's check does it: the header, then a reset (SO_LINGER 0).
start_server probed --log-level debug -l 127.0.0.1:0,proxy "$EXAMPLES/echo.lua"
perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
    connect($s, pack_sockaddr_in($ARGV[0], inet_aton("127.0.0.1"))) or die "connect: $!";
    syswrite($s, "\r\n\r\n\0\r\nQUIT\n\x20\0\0\0");
    setsockopt($s, SOL_SOCKET, SO_LINGER, pack("ii", 1, 0)) or die "linger: $!";
    close($s)' "$PORT"
check "a health check reset after its LOCAL header: its access line is at debug level" \
    matches_come_to "$LOG" 1 '\[debug\] worker 0: access: conn=[0-9]+ peer=[^ ]+ duration_ms=[0-9]+ bytes_in=16 bytes_out=[0-9]+ reason="reset"$'
check "... and none at info" bash -c "! grep -q '\[info\] worker 0: access:' '$LOG'"
stop_server

start_server serve -l 127.0.0.1:0,proxy "$SCRIPTS/serve_echo.lua"
exchange 'PROXY TCP4 192.0.2.1 198.51.100.2 4242 7000\r\nabc'
check "a serve task starts after the header and reads only what follows it" replied 'abc'

# A peer that connects and sends nothing is closed when the header is due.
start=$(date +%s%N)
socat -T 10 -u "TCP:127.0.0.1:$PORT" - >/dev/null 2>&1
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
echo "# a silent connection lasted $elapsed_ms ms"
check "a silent peer is closed after about 5 s, not held forever" \
    [ "$elapsed_ms" -ge 4500 -a "$elapsed_ms" -lt 9000 ]
check "and the reason is logged" contains "$LOG" "no complete PROXY header within 5 s of the connect"

# A peer that sends its header a byte a second (a v1 header is some 45
# bytes) is closed 5 s after its connect all the same: the timeout is a
# deadline for the whole header, not re-armed by each byte.
cat >"$TMP/drip.pl" <<'PERL'
# drip.pl PORT: sends a PROXY v1 header a byte a second; prints how the
# connection ended ("eof", "reset" or "open") and the ms from the connect.
use strict;
use Socket;
use Time::HiRes qw(time);
$SIG{PIPE} = 'IGNORE';
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
connect($s, pack_sockaddr_in($ARGV[0], inet_aton("127.0.0.1"))) or die "connect: $!";
my $t0 = time;
my $how = "open";
for my $c (split //, "PROXY TCP4 192.0.2.1 198.51.100.2 4242 7000\r\nhello\n") {
    syswrite($s, $c);
    my $rin = '';
    vec($rin, fileno($s), 1) = 1;
    next unless select(my $rout = $rin, undef, undef, 1);
    my $got = sysread($s, my $buf, 100);
    $how = defined $got && $got == 0 ? "eof" : "reset";
    last;
}
printf "%s %d\n", $how, (time - $t0) * 1000;
PERL
read -r how elapsed_ms < <(perl "$TMP/drip.pl" "$PORT")
echo "# a header sent a byte a second: $how after ${elapsed_ms:-?} ms"
# An EOF, or a reset when the cut comes with a dripped byte still unread
# (a socket closed with input unread resets, as in closed_unanswered).
{ [ "$how" = eof ] || [ "$how" = reset ]; } && [ "${elapsed_ms:-0}" -ge 4500 ] &&
    [ "${elapsed_ms:-0}" -lt 9000 ]
ok $? "a header sent a byte a second is cut off about 5 s after the connect"
check "and the reason is logged" matches_come_to "$LOG" 2 "no complete PROXY header within 5 s"
stop_server
finish
