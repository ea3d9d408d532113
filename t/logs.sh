#!/bin/bash
# Logs: an access line per closed connection (peer, duration, bytes,
# reason) at info level; --log-format json writes one JSON object a line,
# and --log-file is reopened on SIGUSR1 in either format.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 11

cat >"$TMP/logger.lua" <<'LUA'
local mw = require "moonwire"
return {
  framing = "line",
  on_data = function(conn, line)
    if line == "quit" then return conn:close() end
    mw.log("info", 'said "' .. line .. '"\tand\\ more')
    conn:write(line, "\n")
  end,
}
LUA

start_server text -l 127.0.0.1:0 -l 127.0.0.1:0,proxy "$TMP/logger.lua"
PROXIED=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$LOG" | sed -n 2p)
exchange 'hello\n'
sleep 0.2
check "text: an access line with peer, duration, bytes in and out, and reason" \
    grep -qE 'worker 0: access: conn=[0-9]+ peer=127\.0\.0\.1:[0-9]+ duration_ms=[0-9]+ bytes_in=6 bytes_out=6 reason="eof"$' "$LOG"
exchange 'quit\n'
sleep 0.2
check "text: a connection the handler closed says so" grep -q 'bytes_in=5 bytes_out=0 reason="closed"' "$LOG"
PORT=$PROXIED exchange 'PROXY TCP4 192.0.2.1 192.0.2.2 4242 80\r\nhi\n'
sleep 0.2
check "text: behind a proxy, the peer is the client the header named" \
    grep -qE 'peer=192.0.2.1:4242 duration_ms=[0-9]+ bytes_in=43 bytes_out=3 reason="eof"' "$LOG"
PORT=$PROXIED exchange 'nonsense\n'
sleep 0.2
check "text: a rejected header's connection is logged with its reason" \
    grep -q 'bytes_in=9 bytes_out=0 reason="bad PROXY header"' "$LOG"
stop_server

# JSON, to a file: "listening on" goes to stderr before the file is opened,
# so the port is picked here (the kernel's free pick, released).
LOG="$TMP/json.log"
PORT=$(perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or die;
    bind($s, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die;
    print((unpack_sockaddr_in(getsockname($s)))[0], "\n")')
"$MOONWIRE" --log-format json --log-file "$LOG" -l "127.0.0.1:$PORT" "$TMP/logger.lua" \
    2>"$TMP/json.stderr" &
PID=$!
server_pids="$server_pids $PID"
for _ in $(seq 100); do
    grep -q '"worker 0 started' "$LOG" 2>/dev/null && break
    sleep 0.05
done
exchange 'a\tb\n'
sleep 0.2
check "json: every line is a JSON object" bash -c "jq -e . '$LOG' >/dev/null"
check "json: level, time, and worker (in a worker's lines)" \
    bash -c "jq -e 'select(.msg == \"access\") | .level == \"info\" and .worker == 0 and (.time | test(\"Z\$\"))' '$LOG' | grep -qx true"
check "json: the access line has its own keys" \
    bash -c "jq -ce 'select(.msg == \"access\") | [.bytes_in, .bytes_out, .reason, (.peer | test(\"^127.0.0.1:\")), (.duration_ms >= 0)]' '$LOG' | grep -qx '\[4,4,\"eof\",true,true\]'"
check "json: quotes, tabs and backslashes in a message are escaped" \
    bash -c "jq -r 'select(.worker == 0) | .msg' '$LOG' | grep -qF \"said \\\"a	b\\\"	and\\\\ more\""
check "json: the master's lines have no worker" \
    bash -c "jq -e 'select(.msg | startswith(\"worker 0 started\")) | has(\"worker\") | not' '$LOG' | grep -qx true"
mv "$LOG" "$LOG.1"
kill -USR1 "$PID"
sleep 0.3
exchange 'after\n'
sleep 0.2
check "SIGUSR1 reopens the log file; the new one is JSON too" bash -c "jq -e . '$LOG' >/dev/null"
check "... and gets the next access line" \
    bash -c "jq -e 'select(.msg == \"access\") | .bytes_in == 6' '$LOG' | grep -qx true"
stop_server
finish
