#!/bin/bash
# examples/proxy.lua as a TCP proxy must be: an end of input passes through
# both ways (nc -q1 gets its reply every time; an upstream that answers at
# EOF answers; an upstream that shuts its side first is still written to);
# 100 MB go through both ways at once (to an echo upstream, which reads
# only while its output is below high_water) and one way each (socat
# upstreams), byte for byte and in bounded time; and a pair that moves no
# byte for MW_IDLE_TIMEOUT ms is closed, while one busy one way only is not.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 18

BIG=100000000
head -c "$BIG" /dev/urandom >"$TMP/big"

# free_port: a port nobody listens on now (the kernel's pick, released).
free_port() {
    perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or die;
        bind($s, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die;
        print((unpack_sockaddr_in(getsockname($s)))[0], "\n")'
}

# listening PORT: something listens on 127.0.0.1:PORT within 5 s.
listening() {
    for _ in $(seq 50); do
        ss -Hltn "sport = :$1" | grep -q . && return 0
        sleep 0.1
    done
    return 1
}

proxy_to() {
    MW_UPSTREAM=$1 start_server "proxy$2" -l 127.0.0.1:0 "$EXAMPLES/proxy.lua"
}

# same_as_big FILE: FILE holds exactly the BIG random bytes sent.
same_as_big() {
    cmp "$TMP/big" "$1" >&2 && return 0
    echo "# $1: $(wc -c <"$1") bytes, differs from the $BIG sent"
    return 1
}

start_server echo -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
ECHO_PORT=$PORT
proxy_to "127.0.0.1:$ECHO_PORT" echo

# nc -q1 sends its line and its FIN, then quits a second later: the reply
# must come back before, every time. 50 tries, 10 at a time.
nc_fails=0
for batch in 1 2 3 4 5; do
    pids=""
    for i in $(seq 10); do
        (echo "hi $batch $i" | timeout 10 nc -q1 127.0.0.1 "$PORT" >"$TMP/nc.$batch.$i" 2>&1) &
        pids="$pids $!"
    done
    # shellcheck disable=SC2086
    wait $pids
    for i in $(seq 10); do
        [ "$(cat "$TMP/nc.$batch.$i")" = "hi $batch $i" ] || nc_fails=$((nc_fails + 1))
    done
done
check "echo hi | nc -q1 through the proxy: answered 50 times of 50 ($nc_fails lost)" \
    [ "$nc_fails" -eq 0 ]

# 100 MB to the echo upstream and back through the proxy at once: the proxy
# reads each side only while the other is below high_water, so neither it
# nor the echo upstream waits on the other for ever. socat ends at the EOF
# the proxy passes back, else 30 s after its own (-t 30: a stall); 60 s
# bounds it all on a loaded machine (it takes 1 to 3).
start=$(date +%s%N)
timeout 60 socat -t 30 - "TCP:127.0.0.1:$PORT" <"$TMP/big" >"$TMP/big.echoed"
status=$?
ms=$((($(date +%s%N) - start) / 1000000))
echo "# 100 MB echoed through the proxy in $ms ms (socat exit $status)"
[ "$status" -eq 0 ] && [ "$ms" -lt 30000 ]
ok $? "100 MB through the proxy to echo.lua and back: ended by the proxy's FIN, in $ms ms"
check "and every byte came back, in order" same_as_big "$TMP/big.echoed"
check "both sides ended with both directions: their access lines say eof" \
    matches_come_to "$LOG" 2 "bytes_in=$BIG bytes_out=$BIG reason=\"eof\""

# The same with a client that reads nothing for its first 3 s, so that
# both directions are backed up at once: once it reads, the proxy must read
# the echo upstream again though its own output to it is still queued.
start=$(date +%s%N)
timeout 60 socat -t 30 - "TCP:127.0.0.1:$PORT" <"$TMP/big" | {
    sleep 3
    cat >"$TMP/big.echoed"
}
status=${PIPESTATUS[0]}
ms=$((($(date +%s%N) - start) / 1000000))
echo "# 100 MB echoed to a late reader in $ms ms (socat exit $status)"
[ "$status" -eq 0 ] && [ "$ms" -lt 33000 ]
ok $? "100 MB through the proxy and back to a client that reads late: ended by the FIN, in $ms ms"
check "and every byte came back, in order" same_as_big "$TMP/big.echoed"

# One way each: an upstream that sends 100 MB and its FIN, then one that
# takes 100 MB until the FIN.
UP=$(free_port)
timeout 60 socat -u "OPEN:$TMP/big" "TCP-LISTEN:$UP,bind=127.0.0.1,reuseaddr" &
SOURCE=$!
listening "$UP"
proxy_to "127.0.0.1:$UP" down
timeout 60 socat -u "TCP:127.0.0.1:$PORT" - >"$TMP/big.down" </dev/null
check "100 MB from an upstream through the proxy, ended by its FIN" same_as_big "$TMP/big.down"
wait "$SOURCE"
stop_server

UP=$(free_port)
timeout 60 socat -u "TCP-LISTEN:$UP,bind=127.0.0.1,reuseaddr" "CREATE:$TMP/big.up" &
SINK=$!
listening "$UP"
proxy_to "127.0.0.1:$UP" up
timeout 60 socat -u - "TCP:127.0.0.1:$PORT" <"$TMP/big"
wait "$SINK"
check "100 MB to an upstream through the proxy: the upstream saw them and the FIN" \
    same_as_big "$TMP/big.up"
stop_server

start_server count -l 127.0.0.1:0 "$SCRIPTS/count_at_eof.lua"
COUNT_PORT=$PORT
MW_IDLE_TIMEOUT=1000 proxy_to "127.0.0.1:$COUNT_PORT" count
printf hello | timeout 10 socat -T 5 -t 5 - "TCP:127.0.0.1:$PORT" >"$TMP/reply"
check "the client's FIN reaches the upstream, whose answer at EOF comes back" replied '5\n'

# A pair busy one way only (the upstream sends nothing) for three times
# its idle timeout is not idle.
{ for _ in $(seq 10); do printf x; sleep 0.3; done; } |
    timeout 15 socat -T 5 -t 5 - "TCP:127.0.0.1:$PORT" >"$TMP/reply"
check "a byte every 300 ms for 3 s one way, idle timeout 1 s: not cut" replied '10\n'

exec 3<>"/dev/tcp/127.0.0.1/$PORT"
check "a pair that moves nothing is closed at MW_IDLE_TIMEOUT (1 s)" closes_within 5000 3
check "not before it ($EOF_MS ms)" [ "$EOF_MS" -ge 900 ]
exec 3>&-
check "and the log says why" comes_to "$LOG" "idle for 1000 ms: closed"
stop_server

cat >"$TMP/banner.lua" <<'LUA'
-- Greets, shuts its side at once, and logs the lines it still reads.
local mw = require "moonwire"
return {
  framing = "line",
  on_connect = function(conn)
    conn:write("banner\n")
    conn:shutdown()
  end,
  on_data = function(conn, line) mw.log("info", "upstream read", line) end,
  on_eof = function(conn) mw.log("info", "upstream saw the FIN") end,
}
LUA
start_server banner -l 127.0.0.1:0 "$TMP/banner.lua"
BANNER_LOG=$LOG
proxy_to "127.0.0.1:$PORT" banner
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
check "an upstream that shuts its side: the client gets its bytes and then the FIN" \
    closes_within 5000 3
check "the bytes are the banner" cmp -s "$TMP/eof.data" <(printf 'banner\n')
printf 'after\n' >&3
check "the client's bytes after that still reach the upstream" comes_to "$BANNER_LOG" "upstream read after"
exec 3>&-
check "and so does its FIN" comes_to "$BANNER_LOG" "upstream saw the FIN"
check "the proxy closes both: eof twice" matches_come_to "$LOG" 2 'reason="eof"'
finish
