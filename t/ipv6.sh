#!/bin/bash
# An IPv6 listener ([::1]:0) facing real clients (socat, nc, curl, a Perl
# client that knows its own port): served, conn:peer() and the access line
# give the peer as [v6]:port, two workers share the port, and a PROXY header
# naming a v6 client is formatted the same way. Needs ::1 on loopback.
. "${MW_SRCDIR:-.}/t/lib.sh"
. "$MW_SRCDIR/t/workers_helpers.sh"
plan 12

# v6_client PORT LINE: sends LINE from a socket on ::1 and prints
# "PORT_OF_THE_CLIENT REPLY" (the reply read before closing, within 5 s).
v6_client() {
    perl -MSocket=:all -e '
        my ($port, $line) = @ARGV;
        my (undef, $server) = getaddrinfo("::1", $port, { socktype => SOCK_STREAM });
        socket(my $s, AF_INET6, SOCK_STREAM, 0) or die "socket: $!";
        connect($s, $server->{addr}) or die "connect: $!";
        my ($me) = unpack_sockaddr_in6(getsockname($s));
        syswrite($s, "$line\n");
        local $SIG{ALRM} = sub { die "no reply\n" }; alarm 5;
        my $reply = <$s>;
        print "$me $reply"' "$@"
}

[ -n "$(ip -6 addr show dev lo 2>/dev/null | grep 'inet6 ::1/128')" ]
ok $? "::1 is configured on lo (this test needs it)"

start_server v6 -l "[::1]:0" "$SCRIPTS/peer.lua"
check "the listener's address is logged as [::1]:PORT" grep -q "listening on \[::1\]:$PORT\$" "$LOG"
reply=$(printf 'socat\n' | socat -T 5 -t 5 - "TCP6:[::1]:$PORT" 2>/dev/null)
echo "# socat got: $reply"
check "socat over IPv6 is served; conn:peer() is [::1]:port" \
    grep -qE '^peer \[::1\]:[0-9]+ worker 0 socat$' <<<"$reply"
reply=$(printf 'nc\n' | timeout 10 nc -6 -N ::1 "$PORT" 2>/dev/null)
check "nc -6 is served too" grep -qE '^peer \[::1\]:[0-9]+ worker 0 nc$' <<<"$reply"
read -r client_port reply < <(v6_client "$PORT" perl)
echo "# from port $client_port: $reply"
check "conn:peer() names the client's own port ($client_port)" \
    [ "$reply" = "peer [::1]:$client_port worker 0 perl" ]
check "the access line gives the same peer" comes_to "$LOG" "peer=[::1]:$client_port "
stop_server
check "the IPv6 server exits 0" [ "$STATUS" -eq 0 ]

start_server v6http -l "[::1]:0" "$EXAMPLES/http.lua"
check "curl over IPv6 gets the HTTP example's greeting" \
    [ "$(curl -g -s --max-time 5 "http://[::1]:$PORT/")" = "hello from moonwire" ]
stop_server

start_server v6two -w 2 -l "[::1]:0" "$SCRIPTS/peer.lua"
wait_for workers_started 2
check "two workers: one SO_REUSEPORT socket each on the IPv6 port" \
    contains "$LOG" "[::1]:$PORT: one SO_REUSEPORT socket per worker, 2 workers"
for i in $(seq 40); do
    printf 'n%s\n' "$i" | socat -T 5 -t 5 - "TCP6:[::1]:$PORT" 2>/dev/null
done >"$TMP/who"
check "40 IPv6 connections are all answered" [ "$(grep -cE '^peer \[::1\]:[0-9]+ worker [01] n[0-9]+$' "$TMP/who")" -eq 40 ]
check "... by both workers" bash -c "grep -q ' worker 0 ' '$TMP/who' && grep -q ' worker 1 ' '$TMP/who'"
stop_server

start_server v6proxy -l "[::1]:0,proxy" "$SCRIPTS/peer.lua"
reply=$(printf 'PROXY TCP6 2001:db8::7 ::1 4242 80\r\nproxied\n' |
    socat -T 5 -t 5 - "TCP6:[::1]:$PORT" 2>/dev/null)
check "a PROXY header naming a v6 client: conn:peer() is [2001:db8::7]:4242 ($reply)" \
    [ "$reply" = "peer [2001:db8::7]:4242 worker 0 proxied" ]
finish
