#!/bin/bash
# systemd socket activation: with LISTEN_PID and LISTEN_FDS naming this
# process, the inherited sockets are served instead of binding --listen; two
# of them (LISTEN_FDS=2, with LISTEN_FDNAMES) are both served, and a
# --listen naming one lends its flags to that one alone.
# The variables are set by hand here, by a small Perl launcher that binds the
# sockets, puts them at descriptors 3 on and execs moonwire (keeping its pid).
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 19

cat >"$TMP/activate.pl" <<'PERL'
# activate.pl PORTFILE PIDMODE CMD...: listens on 127.0.0.1 (any port) at
# fd 3, and with MW_SOCKETS=N on N sockets at fds 3 to 3+N-1 (their ports
# in PORTFILE, one a line); MW_FDNAMES, if set, becomes LISTEN_FDNAMES.
use strict;
use Socket;
use POSIX ();
use Fcntl qw(F_DUPFD);
my ($portfile, $pidmode, @cmd) = @ARGV;
my $n = $ENV{MW_SOCKETS} || 1;
my (@high, @ports);
for my $i (1 .. $n) {
    socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
    bind($s, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die "bind: $!";
    listen($s, 128) or die "listen: $!";
    push @ports, (unpack_sockaddr_in(getsockname($s)))[0];
    # Out of the way first, so that no socket sits where another goes.
    push @high, fcntl($s, F_DUPFD, 20) or die "F_DUPFD: $!";
}
for my $i (0 .. $n - 1) {  # dup2 leaves the new descriptor open across exec
    POSIX::dup2($high[$i], 3 + $i) or die "dup2: $!";
    POSIX::close($high[$i]);
}
open(my $f, ">", $portfile) or die "$portfile: $!";
print $f "$_\n" for @ports;
close($f);
$ENV{LISTEN_FDS} = $n;
$ENV{LISTEN_PID} = $pidmode eq "self" ? $$ : 1;
$ENV{LISTEN_FDNAMES} = $ENV{MW_FDNAMES} if defined $ENV{MW_FDNAMES};
delete @ENV{qw(MW_SOCKETS MW_FDNAMES)};
exec(@cmd) or die "exec: $!";
PERL

cat >"$TMP/env.lua" <<'LUA'
return {
  on_connect = function(conn)
    conn:write("peer ", conn:peer(),
      " LISTEN_FDS=", tostring(os.getenv("LISTEN_FDS")),
      " LISTEN_PID=", tostring(os.getenv("LISTEN_PID")),
      " LISTEN_FDNAMES=", tostring(os.getenv("LISTEN_FDNAMES")), "\n")
  end,
}
LUA

# activated NAME PIDMODE COMMAND...: starts moonwire through the launcher;
# sets PID, LOG, PORT (the first inherited socket's) and PORT2 (the second's,
# with MW_SOCKETS=2). A server that does not listen in 5 s fails the test.
activated() {
    name=$1 pidmode=$2
    shift 2
    LOG="$TMP/$name.log"
    watch_log "$LOG"
    rm -f "$TMP/port"
    perl "$TMP/activate.pl" "$TMP/port" "$pidmode" "$@" 2>"$LOG" &
    PID=$!
    server_pids="$server_pids $PID"
    for _ in $(seq 100); do
        [ -s "$TMP/port" ] && grep -q "listening on " "$LOG" && break
        sleep 0.05
    done
    PORT=$(sed -n 1p "$TMP/port" 2>/dev/null) PORT2=$(sed -n 2p "$TMP/port" 2>/dev/null)
    grep -q "listening on " "$LOG" && return 0
    echo "# server $name did not start:" && sed 's/^/#   /' "$LOG"
    start_failures=$((start_failures + 1))
    return 1
}

# exchange_on PORT INPUT: exchange INPUT with the server on PORT.
exchange_on() { PORT=$1 exchange "$2"; }

activated plain self "$MOONWIRE" -l 127.0.0.1:1 "$TMP/env.lua"
exchange ''
check "the inherited socket is served" grep -q '^peer 127.0.0.1:' "$TMP/reply"
check "the log names it as passed by systemd" \
    contains "$LOG" "127.0.0.1:$PORT: socket passed by systemd (LISTEN_FDS)"
[ "$(grep -c 'listening on ' "$LOG")" -eq 1 ] && grep -q "listening on 127.0.0.1:$PORT\$" "$LOG"
ok $? "the --listen that matches no passed socket is not bound: one address, the passed one"
check "LISTEN_FDS and LISTEN_PID are unset before the workers run (sd_listen_fds(1))" \
    grep -q 'LISTEN_FDS=nil LISTEN_PID=nil ' "$TMP/reply"
stop_server
check "the server stops cleanly" [ "$STATUS" -eq 0 ]

MW_SOCKETS=2 MW_FDNAMES=first:second activated two self "$MOONWIRE" "$TMP/env.lua"
exchange_on "$PORT" ''
check "LISTEN_FDS=2: the first passed socket is served" grep -q '^peer 127.0.0.1:' "$TMP/reply"
exchange_on "$PORT2" ''
check "LISTEN_FDS=2: the second passed socket is served" grep -q '^peer 127.0.0.1:' "$TMP/reply"
check "LISTEN_FDNAMES is unset too" \
    grep -q 'LISTEN_FDS=nil LISTEN_PID=nil LISTEN_FDNAMES=nil$' "$TMP/reply"
check "the log names the first as passed by systemd" \
    contains "$LOG" "127.0.0.1:$PORT: socket passed by systemd (LISTEN_FDS)"
check "... and the second" contains "$LOG" "127.0.0.1:$PORT2: socket passed by systemd (LISTEN_FDS)"
check "nothing else is bound (the default --listen is not)" [ "$(grep -c 'listening on ' "$LOG")" -eq 2 ]
stop_server
check "the server of two passed sockets stops cleanly" [ "$STATUS" -eq 0 ]

# The ports are known only once the launcher has bound them: a --listen for
# them cannot be written beforehand, so ask for ,proxy on the port the
# launcher reports, through a wrapper that reads it (line 1 or 2).
cat >"$TMP/with_port.sh" <<'SH'
#!/bin/sh
# with_port.sh PORTFILE LINE MOONWIRE SCRIPT: -w 2 --listen 127.0.0.1:PORT,proxy
exec "$3" -w 2 -l "127.0.0.1:$(sed -n "$2p" "$1"),proxy" "$4"
SH
activated proxied self sh "$TMP/with_port.sh" "$TMP/port" 1 "$MOONWIRE" "$TMP/env.lua"
exchange 'PROXY TCP4 192.0.2.5 192.0.2.6 1234 80\r\n'
check "a --listen ADDR,proxy naming the passed socket lends it ,proxy" \
    grep -q '^peer 192.0.2.5:1234 ' "$TMP/reply"
check "two workers share the passed socket" contains "$LOG" "one socket shared by 2 workers"
stop_server

MW_SOCKETS=2 activated proxied2 self sh "$TMP/with_port.sh" "$TMP/port" 2 "$MOONWIRE" "$TMP/env.lua"
exchange_on "$PORT2" 'PROXY TCP4 192.0.2.7 192.0.2.6 4321 80\r\n'
check "of two passed sockets, the one a --listen names gets ,proxy" \
    grep -q '^peer 192.0.2.7:4321 ' "$TMP/reply"
exchange_on "$PORT" ''
check "... and the other does not" grep -q '^peer 127.0.0.1:' "$TMP/reply"
stop_server

activated other other "$MOONWIRE" -l 127.0.0.1:0 "$TMP/env.lua"
own=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$LOG")
[ -n "$own" ] && [ "$own" != "$PORT" ] && ! grep -q 'passed by systemd' "$LOG"
ok $? "LISTEN_PID of another process: the sockets are not taken, --listen is bound (${own:-none})"
exchange_on "$own" ''
check "... and served" grep -q '^peer 127.0.0.1:' "$TMP/reply"
stop_server

printf 'x' >"$TMP/file"
LISTEN_FDS=1 LISTEN_PID=self timeout 10 bash -c 'export LISTEN_PID=$$; exec "$0" "$1" 3<"$2"' \
    "$MOONWIRE" "$TMP/env.lua" "$TMP/file" 2>"$TMP/bad.log"
status=$?
[ "$status" -eq 1 ] && grep -q 'descriptor 3' "$TMP/bad.log"
ok $? "a passed descriptor that is not a listening socket: exit 1 (got $status), with the reason"
finish
