#!/bin/bash
# Backpressure end to end (t/scripts/backpressure.lua): a client that stops
# reading fills the output past high_water, and the server stops reading it
# (its bytes wait in the socket); once the client reads again, on_drain fires
# at low_water and reading resumes; conn:pause() and conn:resume() stop and
# restart delivery, buffered frames included. Not a byte is lost or reordered.
. "${MW_SRCDIR:-.}/t/lib.sh"
. "$MW_SRCDIR/t/workers_helpers.sh"
plan 16

HIGH=65536 LOW=16384 READ=65536 # the script's marks; conn.c reads 64 KiB at a time

cat >"$TMP/client.pl" <<'PERL'
# client.pl PORT DATA OUT STATUS GO: says "echo", then sends DATA without
# reading until the socket takes nothing for 1 s ("blocked SENT" in STATUS);
# once the file GO exists, sends the rest while reading, half-closes, and
# writes all it got back to OUT ("done RECEIVED" in STATUS). Bounded: 60 s
# to block, 30 s for GO, 60 s to finish.
use strict;
use Socket;
use POSIX qw(EAGAIN EWOULDBLOCK);
use IO::Handle;
my ($port, $datafile, $outfile, $statusfile, $gofile) = @ARGV;
open(my $in, "<", $datafile) or die "$datafile: $!";
binmode $in;
my $data = do { local $/; <$in> };
open(my $st, ">", $statusfile) or die "$statusfile: $!";
$st->autoflush(1);
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
# Small buffers on the client's side, so that its kernel holds little.
setsockopt($s, SOL_SOCKET, SO_RCVBUF, 32768) or die "SO_RCVBUF: $!";
setsockopt($s, SOL_SOCKET, SO_SNDBUF, 32768) or die "SO_SNDBUF: $!";
connect($s, pack_sockaddr_in($port, inet_aton("127.0.0.1"))) or die "connect: $!";
syswrite($s, "echo\n") == 5 or die "write: $!";
my $flags = fcntl($s, POSIX::F_GETFL(), 0);
fcntl($s, POSIX::F_SETFL(), $flags | POSIX::O_NONBLOCK()) or die "fcntl: $!";
my ($sent, $total) = (0, length $data);
my $w = '';
vec($w, fileno($s), 1) = 1;
# send: writes what the socket takes of the rest of DATA.
sub send_some {
    my $n = syswrite($s, $data, 65536, $sent);
    die "write: $!" if !defined $n && $! != EAGAIN && $! != EWOULDBLOCK;
    $sent += $n if $n;
}
my $deadline = time + 60;
while ($sent < $total) {
    die "still sending after 60 s\n" if time > $deadline;
    my $wout = $w;
    last unless select(undef, $wout, undef, 1.0);
    send_some();
}
print $st ($sent < $total ? "blocked" : "never blocked"), " $sent\n";
exit 1 if $sent >= $total;
for (1 .. 300) { last if -e $gofile; select(undef, undef, undef, 0.1); }
-e $gofile or die "no go in 30 s\n";
my ($out, $shut) = ('', 0);
$deadline = time + 60;
while (1) {
    die "not done in 60 s (" . length($out) . " bytes back)\n" if time > $deadline;
    my ($rin, $win) = ($w, $sent < $total ? $w : '');
    next unless select($rin, $win, undef, 1.0);
    send_some() if $sent < $total && vec($win, fileno($s), 1);
    if ($sent >= $total && !$shut) {
        shutdown($s, 1) or die "shutdown: $!";
        $shut = 1;
    }
    next unless vec($rin, fileno($s), 1);
    my $n = sysread($s, $out, 65536, length $out);
    die "read: $!" if !defined $n && $! != EAGAIN && $! != EWOULDBLOCK;
    last if defined $n && $n == 0;
}
open(my $o, ">", $outfile) or die "$outfile: $!";
binmode $o;
print $o $out;
close($o) or die "$outfile: $!";
print $st "done ", length($out), "\n";
PERL

# stats: the script's counts (a "stats" connection), in $STATS; and each
# count as a shell variable of its name (bytes_in, crossings, ...), none
# left from an earlier call when this one fails.
stats() {
    unset bytes_in crossings drains early drain_max throttled pending lines
    STATS=$(printf 'stats\n' | socat -T 5 -t 5 - "TCP:127.0.0.1:$PORT" 2>/dev/null)
    echo "# stats: $STATS"
    case "$STATS" in bytes_in=*) ;; *) return 1 ;; esac
    eval "$(echo "$STATS" | tr ' ' '\n' | grep -E '^[a-z_]+=[a-z0-9-]+$')"
}

# queues SIDE: "RECVQ SENDQ" of the one established socket on the server's
# side (SIDE sport) or the client's (dport) of PORT; its ss line in $TMP/ss.
queues() {
    ss -Htn state established "$1 = :$PORT" >"$TMP/ss"
    [ "$(wc -l <"$TMP/ss")" -eq 1 ] && awk '{ print $1, $2 }' "$TMP/ss"
}

# unread_is N: the server's socket holds N bytes it has not read.
unread_is() { [ "$(queues sport)" = "$1 0" ]; }

# comes_unread N: within 5 s the server's socket holds N unread bytes; shows ss if not.
comes_unread() {
    wait_for unread_is "$1" && return 0
    echo "# expected $1 bytes unread; ss says:" && sed 's/^/#   /' "$TMP/ss"
    return 1
}

start_server bp -l 127.0.0.1:0 "$SCRIPTS/backpressure.lua"

# 32 MiB in 16-byte numbered lines: a lost, doubled or reordered byte shows.
awk 'BEGIN { for (i = 0; i < 2097152; i++) printf "%015d\n", i }' >"$TMP/data"
total=$(wc -c <"$TMP/data")
perl "$TMP/client.pl" "$PORT" "$TMP/data" "$TMP/out" "$TMP/status" "$TMP/go" 2>"$TMP/client.err" &
client=$!
for _ in $(seq 600); do
    grep -qs blocked "$TMP/status" && break
    kill -0 "$client" 2>/dev/null || break
    sleep 0.1
done
sent=$(sed -n 's/^blocked \([0-9]*\)$/\1/p' "$TMP/status" 2>/dev/null)
[ -n "$sent" ]
ok $? "a client that does not read is held back: its socket takes nothing for 1 s (sent ${sent:-?} of $total)"
stats
ok $? "the server answers a stats connection meanwhile"
[ "${crossings:-0}" -ge 1 ] && [ "$throttled" = true ]
ok $? "a write left more than high_water ($HIGH) queued: reading stopped (${crossings:-?} passes)"
[ "${early:-1}" -eq 0 ]
ok $? "no on_data since: the paused reader delivers nothing (${early:-?} calls)"
[ "${pending:-0}" -gt "$LOW" ] && [ "$pending" -le $((HIGH + READ)) ]
ok $? "the server holds no more than high_water and one read for it (${pending:-?} queued)"
[ "${drains:-1}" -eq $((${crossings:-0} - 1)) ]
ok $? "no on_drain while the client does not read (${drains:-?} of ${crossings:-?} passes drained)"
server_q=$(queues sport) client_q=$(queues dport)
[ "${server_q%% *}" -gt 0 ] 2>/dev/null
ok $? "what the server did not read waits in its socket (Recv-Q ${server_q%% *})"
[ "$((bytes_in + ${server_q%% *} + ${client_q#* }))" -eq "$sent" ] 2>/dev/null
ok $? "not a byte is lost: read ($bytes_in), in the server's Recv-Q and the client's Send-Q (${client_q#* }) add up to $sent"

touch "$TMP/go"
for _ in $(seq 600); do kill -0 "$client" 2>/dev/null || break; sleep 0.1; done
kill "$client" 2>/dev/null # still running after 60 s: its status says so
wait "$client"
rc=$?
sed 's/^/# client: /' "$TMP/client.err"
[ "$rc" -eq 0 ] && cmp "$TMP/data" "$TMP/out"
ok $? "the client reads again: all $total bytes come back, in order"
stats
[ "${drains:-0}" -ge 1 ] && [ "$drains" -eq "$crossings" ] && [ "$throttled" = false ]
ok $? "on_drain fired for each pass of high_water (${drains:-?} of ${crossings:-?})"
[ "${drain_max:-$HIGH}" -le "$LOW" ]
ok $? "on_drain came at or below low_water $LOW (at most ${drain_max:-?} queued then)"
[ "${bytes_in:-0}" -eq "$total" ] && [ "$early" -eq 0 ]
ok $? "the server read every byte, and none while paused (${bytes_in:-?}; early ${early:-?})"

# conn:pause() from on_data: the frames already buffered behind "hold" wait,
# and so do bytes that come later (they stay in the socket). One write(2)
# (printf from env, not the shell's, which writes a line at a time) puts
# them all in the server's one read.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
env printf 'pause\none\nhold\nb1\nb2\n' >&3
read -r -t 5 r1 <&3
read -r -t 5 r2 <&3
stats
[ "$r1" = "got one" ] && [ "$r2" = held ] && [ "${lines:-0}" -eq 2 ] && unread_is 0
ok $? "conn:pause() in on_data: the frames read with it, behind it, are not delivered ('$r1', '$r2', ${lines:-?} lines)"
env printf 'c1\nc2\n' >&3
check "... and what comes later is not read: it waits in the socket" comes_unread 6
stats
[ "${lines:-0}" -eq 2 ]
ok $? "... nor delivered (${lines:-?} lines)"
resumed=$(printf 'resume\n' | socat -T 5 -t 5 - "TCP:127.0.0.1:$PORT" 2>/dev/null)

# got_all: the lines after the resume come in order, and one sent after it.
got_all() {
    for want in b1 b2 c1 c2 d1; do
        [ "$want" = d1 ] && printf 'd1\n' >&3
        read -r -t 5 line <&3
        [ "$line" = "got $want" ] || { echo "# expected 'got $want', got '$line'"; return 1; }
    done
}
[ "$resumed" = "resumed 1" ] && got_all
ok $? "conn:resume() delivers the buffered frames, then the socket's, in order ($resumed)"
exec 3>&-
finish
