#!/bin/bash
# systemd socket activation: with LISTEN_PID and LISTEN_FDS naming this
# process, the inherited sockets are served instead of binding --listen.
# The variables are set by hand here, by a small Perl launcher that binds a
# socket, puts it at descriptor 3 and execs moonwire (keeping its pid).
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 10

cat >"$TMP/activate.pl" <<'PERL'
# activate.pl PORTFILE PIDMODE CMD...: listens on 127.0.0.1 (any port) at fd 3.
use strict;
use Socket;
use POSIX ();
$^F = 3; # descriptors up to 3 stay open across exec
my ($portfile, $pidmode, @cmd) = @ARGV;
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
bind($s, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die "bind: $!";
listen($s, 128) or die "listen: $!";
my ($port) = unpack_sockaddr_in(getsockname($s));
open(my $f, ">", $portfile) or die "$portfile: $!";
print $f "$port\n";
close($f);
POSIX::dup2(fileno($s), 3) or die "dup2: $!";  # dup2 leaves fd 3 open across exec
$ENV{LISTEN_FDS} = "1";
$ENV{LISTEN_PID} = $pidmode eq "self" ? $$ : 1;
exec(@cmd) or die "exec: $!";
PERL

cat >"$TMP/env.lua" <<'LUA'
return {
  on_connect = function(conn)
    conn:write("peer ", conn:peer(), " LISTEN_FDS=", tostring(os.getenv("LISTEN_FDS")), "\n")
  end,
}
LUA

# activated NAME PIDMODE COMMAND...: starts moonwire through the
# launcher; sets PID, PORT (the inherited socket's) and LOG.
activated() {
    name=$1 pidmode=$2
    shift 2
    LOG="$TMP/$name.log"
    rm -f "$TMP/port"
    perl "$TMP/activate.pl" "$TMP/port" "$pidmode" "$@" 2>"$LOG" &
    PID=$!
    server_pids="$server_pids $PID"
    for _ in $(seq 100); do
        [ -s "$TMP/port" ] && grep -q "listening on " "$LOG" && break
        sleep 0.05
    done
    PORT=$(cat "$TMP/port")
}

activated plain self "$MOONWIRE" -l 127.0.0.1:1 "$TMP/env.lua"
exchange ''
check "the inherited socket is served" grep -q '^peer 127.0.0.1:' "$TMP/reply"
check "the log names it as passed by systemd" \
    contains "$LOG" "127.0.0.1:$PORT: socket passed by systemd (LISTEN_FDS)"
check "the --listen that matches no passed socket is not bound" \
    bash -c "! grep -q 'listening on 127.0.0.1:1\$' '$LOG'"
check "LISTEN_FDS is unset before the workers run (sd_listen_fds(1))" \
    grep -q 'LISTEN_FDS=nil' "$TMP/reply"
stop_server
check "the server stops cleanly" [ "$STATUS" -eq 0 ]

# The port is known only once the launcher has bound it: a --listen for
# every port cannot be written beforehand, so ask for ,proxy on the port
# the launcher reports, through a wrapper that reads it.
cat >"$TMP/with_port.sh" <<'SH'
#!/bin/sh
# with_port.sh PORTFILE MOONWIRE SCRIPT: --listen 127.0.0.1:PORT,proxy
exec "$2" -w 2 -l "127.0.0.1:$(cat "$1"),proxy" "$3"
SH
activated proxied self sh "$TMP/with_port.sh" "$TMP/port" "$MOONWIRE" "$TMP/env.lua"
exchange 'PROXY TCP4 192.0.2.5 192.0.2.6 1234 80\r\n'
check "a --listen ADDR,proxy naming the passed socket lends it ,proxy" \
    grep -q '^peer 192.0.2.5:1234 ' "$TMP/reply"
check "two workers share the passed socket" contains "$LOG" "one socket shared by 2 workers"
stop_server

activated other other "$MOONWIRE" -l 127.0.0.1:0 "$TMP/env.lua"
check "LISTEN_PID of another process: the sockets are not taken" \
    bash -c "! grep -q 'passed by systemd' '$LOG'"
check "... and --listen is bound as usual" grep -q "listening on 127.0.0.1:[0-9]" "$LOG"
stop_server

printf 'x' >"$TMP/file"
LISTEN_FDS=1 LISTEN_PID=self bash -c 'export LISTEN_PID=$$; exec "$0" "$1" 3<"$2"' \
    "$MOONWIRE" "$TMP/env.lua" "$TMP/file" 2>"$TMP/bad.log"
check "a passed descriptor that is not a listening socket: exit 1, with the reason" \
    bash -c "[ $? -eq 1 ] && grep -q 'descriptor 3' '$TMP/bad.log'"
finish
