#!/bin/bash
# HAProxy (send-proxy-v2, health checks) in front of two moonwire instances,
# configured from examples/haproxy.cfg: both serve, the handler sees the
# client's address, one stopped gracefully loses no request, and once
# started again it serves again.
. "${MW_SRCDIR:-.}/t/lib.sh"
. "$MW_SRCDIR/t/workers_helpers.sh"
plan 12

# free_port: a port nobody listens on now (the kernel's pick, released).
free_port() {
    perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or die;
        bind($s, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die;
        print((unpack_sockaddr_in(getsockname($s)))[0], "\n")'
}

cat >"$TMP/named.lua" <<'LUA'
-- Answers each line after 300 ms, naming the instance and the client.
local mw = require "moonwire"
local name = os.getenv("MW_NAME")
return {
  framing = "line",
  on_data = function(conn, line)
    io.stderr:write("got ", line, "\n")
    local peer = conn:peer()
    mw.after(300, function() conn:write(name, " ", peer, " ", line, "\n") end)
  end,
}
LUA

# instance N PORT: starts moonwire instance N; its PID in PID_N.
instance() {
    MW_NAME="mw$1" start_server "mw$1-$RANDOM" --log-level debug -l "127.0.0.1:$2,proxy" \
        "$TMP/named.lua" || return 1
    eval "PID_$1=$PID LOG$1=$LOG"
}

# request TEXT: one request through HAProxy from 127.0.0.2; the reply line
# (awaited before closing: a half-closed connection ends at once) is
# appended to $TMP/replies.
request() {
    perl -MSocket -e 'my ($port, $text) = @ARGV;
        socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
        bind($s, pack_sockaddr_in(0, inet_aton("127.0.0.2"))) or die "bind: $!";
        connect($s, pack_sockaddr_in($port, inet_aton("127.0.0.1"))) or die "connect: $!";
        syswrite($s, "$text\n");
        local $SIG{ALRM} = sub { die "no reply\n" }; alarm 3;
        my $reply = <$s>; print $reply if defined $reply' "$FRONT" "$1" >>"$TMP/replies" 2>/dev/null
}

# start_haproxy: HAProxy on a free front port, in front of P1 and P2; fails
# if it exits or does not listen within 5 s (the port it was given may have
# been taken meanwhile by another test running in parallel).
start_haproxy() {
    FRONT=$(free_port)
    sed -e "s/127.0.0.1:7000/127.0.0.1:$FRONT/; s/127.0.0.1:7001/127.0.0.1:$P1/" \
        -e "s/127.0.0.1:7002/127.0.0.1:$P2/; s/inter 500ms/inter 100ms/" \
        "$EXAMPLES/haproxy.cfg" >"$TMP/haproxy.cfg"
    haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
    HAPROXY=$!
    for _ in $(seq 50); do
        kill -0 "$HAPROXY" 2>/dev/null || break
        ss -Htln "sport = :$FRONT" | grep -q . && return 0
        sleep 0.1
    done
    echo "# HAProxy did not start on port $FRONT:" && sed 's/^/#   /' "$TMP/haproxy.log"
    kill "$HAPROXY" 2>/dev/null
    wait "$HAPROXY" 2>/dev/null
    return 1
}

P1=$(free_port) P2=$(free_port)
instance 1 "$P1" && instance 2 "$P2"
started=1
for _ in 1 2 3; do start_haproxy && { started=0; break; }; done
ok $started "HAProxy listens in front of both instances (port $FRONT)"
server_pids="$server_pids $HAPROXY"
# checked: a health check (a PROXY v2 LOCAL header, 16 bytes) came to each;
# its access line is at debug level.
checked() {
    grep -q '\[debug\] worker 0: access: .* bytes_in=16 ' "$LOG1" &&
        grep -q '\[debug\] worker 0: access: .* bytes_in=16 ' "$LOG2"
}
check "HAProxy's health checks reach both instances" wait_for checked
check "... and are not logged as access lines at info level" \
    bash -c "! grep -q '\[info\] worker 0: access: .* bytes_in=16 ' '$LOG1' '$LOG2'"

: >"$TMP/replies"
for i in $(seq 10); do request "warmup $i"; done
check "both instances serve through HAProxy" \
    bash -c "grep -q '^mw1 ' '$TMP/replies' && grep -q '^mw2 ' '$TMP/replies'"
check "the handler sees the client's address (127.0.0.2), not HAProxy's" \
    bash -c "[ \$(grep -c ' 127\.0\.0\.2:[0-9]* warmup ' '$TMP/replies') -eq 10 ]"
check "HAProxy's health checks (PROXY v2 LOCAL) are not logged as bad headers" \
    bash -c "! grep -q 'bad PROXY header\|PROXY protocol header;' $TMP/mw1-*.log $TMP/mw2-*.log"

# 40 requests, 4 at a time (each answered 300 ms after it arrives); instance 1
# is stopped gracefully while the third batch is in flight.
: >"$TMP/replies"
for batch in $(seq 10); do
    clients=""
    for j in 1 2 3 4; do
        request "req $batch.$j" &
        clients="$clients $!"
    done
    if [ "$batch" -eq 3 ]; then
        # Stop it once a request of this batch has reached it (not sooner:
        # a slow build may take a while to get there).
        for _ in $(seq 100); do
            grep -q "^got req 3\." "$LOG1" && break
            sleep 0.02
        done
        kill -TERM "$PID_1"
        STOPPED=$PID_1
    fi
    wait $clients
done
check "no request is lost while instance 1 stops ($(grep -c ' req ' "$TMP/replies")/40 answered)" \
    [ "$(grep -c ' req ' "$TMP/replies")" -eq 40 ]
wait "$STOPPED"
check "instance 1 drained and exited cleanly" [ $? -eq 0 ]
check "... with requests in flight when it was told to stop" \
    grep -qE 'worker 0: Terminated: stopping \([1-9][0-9]* connections open\)' "$LOG1"
server_pids=$(echo "$server_pids" | sed "s/ $STOPPED\b//")
check "instance 2 took the requests after the stop" \
    bash -c "[ \$(tail -n 16 '$TMP/replies' | grep -c '^mw2 ') -eq 16 ]"

instance 1 "$P1"
: >"$TMP/replies"
for _ in $(seq 50); do
    request "again"
    grep -q '^mw1 ' "$TMP/replies" && break
    sleep 0.1
done
check "instance 1, started again, serves again" grep -q '^mw1 ' "$TMP/replies"
check "HAProxy saw it go down and come back" \
    bash -c "grep -q 'mw1 is DOWN' '$TMP/haproxy.log' && grep -q 'mw1 is UP' '$TMP/haproxy.log'"
grep -i "down\|up" "$TMP/haproxy.log" | sed 's/^/# haproxy: /'
for PID in "$HAPROXY" "$PID_1" "$PID_2"; do stop_server; done
finish
