#!/bin/bash
# Logs: an access line per closed connection (peer, duration, bytes,
# reason) at info level; --log-level warn leaves out info lines, access lines
# included, and keeps warnings; --log-format json writes one JSON object a
# line, and --log-file is reopened on SIGUSR1 in either format; mw.log's
# fields are key=value pairs in text and members in json.
. "${MW_SRCDIR:-.}/t/lib.sh"
. "$MW_SRCDIR/t/workers_helpers.sh"
plan 22

cat >"$TMP/logger.lua" <<'LUA'
local mw = require "moonwire"
return {
  framing = "line",
  on_data = function(conn, line)
    if line == "quit" then return conn:close() end
    if line == "warn" then mw.log("warn", "a warning from the handler") end
    if line == "fields" then
      mw.log("info", "with", "fields", { user = "ann b", n = 3, ok = true, q = 'say "x"', ms = 0.5 })
    end
    if line == "bad fields" then mw.log("info", "never", { nested = {} }) end
    mw.log("info", 'said "' .. line .. '"\tand\\ more')
    conn:write(line, "\n")
  end,
}
LUA

# free_port: a port the kernel picks as free (bound, then released).
free_port() {
    perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or die;
        bind($s, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die;
        print((unpack_sockaddr_in(getsockname($s)))[0], "\n")'
}

# start_by_hand NAME ARGS...: starts moonwire with its stderr in
# $TMP/NAME.stderr, for a log start_server cannot read; sets PID. The log is
# registered for finish's checks; the caller waits for the start.
start_by_hand() {
    name=$1
    shift
    watch_log "$TMP/$name.stderr"
    watch_log_file_option "$@"
    "$MOONWIRE" "$@" 2>"$TMP/$name.stderr" &
    PID=$!
    server_pids="$server_pids $PID"
}

# listening PORT: something listens on 127.0.0.1:PORT.
listening() { ss -Htln "sport = :$1" | grep -q .; }

start_server text -l 127.0.0.1:0 -l 127.0.0.1:0,proxy "$TMP/logger.lua"
PROXIED=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$LOG" | sed -n 2p)
exchange 'hello\n'
check "text: an access line with peer, duration, bytes in and out, and reason" \
    matches_come_to "$LOG" 1 'worker 0: access: conn=[0-9]+ peer=127\.0\.0\.1:[0-9]+ duration_ms=[0-9]+ bytes_in=6 bytes_out=6 reason="eof"$'
exchange 'quit\n'
check "text: a connection the handler closed says so" matches_come_to "$LOG" 1 'bytes_in=5 bytes_out=0 reason="closed"'
PORT=$PROXIED exchange 'PROXY TCP4 192.0.2.1 192.0.2.2 4242 80\r\nhi\n'
check "text: behind a proxy, the peer is the client the header named" \
    matches_come_to "$LOG" 1 'peer=192.0.2.1:4242 duration_ms=[0-9]+ bytes_in=43 bytes_out=3 reason="eof"'
PORT=$PROXIED exchange 'nonsense\n'
check "text: a rejected header's connection is logged with its reason" \
    matches_come_to "$LOG" 1 'bytes_in=9 bytes_out=0 reason="bad PROXY header"'
exchange 'fields\n'
check "text: mw.log's fields are key=value pairs after the message, in key order, quoted where needed" \
    contains "$LOG" '[info] worker 0: with fields ms=0.5 n=3 ok=true q="say \"x\"" user="ann b"'
exchange 'bad fields\n'
check "a bad field raises in the handler, naming the field" \
    matches_come_to "$LOG" 1 "on_data: .*logger.lua:[0-9]+: bad argument #3 to 'log' \(field 'nested': a table, expected a string, number or boolean\)"
check "... and nothing is logged" bash -c "! grep -q never '$LOG'"
stop_server

# --log-level warn: nothing at info, so no "listening on" to read the port
# from: the ports are picked here (the kernel's free pick, released).
LOG="$TMP/warn.stderr" PORT=$(free_port) PROXIED=$(free_port)
start_by_hand warn --log-level warn -l "127.0.0.1:$PORT" -l "127.0.0.1:$PROXIED,proxy" "$TMP/logger.lua"
check "--log-level warn: the server starts (it listens on its ports)" \
    wait_for listening "$PROXIED"
exchange 'hello\nwarn\n'
check "--log-level warn: connections are served" replied 'hello\nwarn\n'
PORT=$PROXIED exchange 'nonsense\n'
# Both connections are closed: their access lines would be written by now.
check "--log-level warn: the server's warnings are written (a rejected PROXY header)" \
    contains "$LOG" "no PROXY protocol header; closing"
check "--log-level warn: and a handler's mw.log at warn" contains "$LOG" "[warn] worker 0: a warning from the handler"
no_info() {
    ! grep -qE 'access|\[info\]' "$LOG" && return 0
    echo "# info lines at --log-level warn:" && grep -E 'access|\[info\]' "$LOG" | sed 's/^/#   /'
    return 1
}
check "--log-level warn: no access line, no info line (the master's, the server's or the handler's)" no_info
stop_server

# JSON, to a file: "listening on" goes to stderr before the file is opened;
# the port is read from that line.
LOG="$TMP/json.log"
start_by_hand json --log-format json --log-file "$LOG" -l 127.0.0.1:0 "$TMP/logger.lua"
wait_for grep -q '"msg":"listening on ' "$TMP/json.stderr"
PORT=$(sed -n 's/.*"msg":"listening on 127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$TMP/json.stderr" | head -n 1)
check "json: the server starts, with its log in the file" matches_come_to "$LOG" 1 '"msg":"worker 0 started'
exchange 'a\tb\n'
check "json: the access line comes" matches_come_to "$LOG" 1 '"msg":"access"'
check "json: every line is a JSON object" bash -c "jq -e . '$LOG' >/dev/null"
check "json: level, time, and worker (in a worker's lines)" \
    bash -c "jq -e 'select(.msg == \"access\") | .level == \"info\" and .worker == 0 and (.time | test(\"Z\$\"))' '$LOG' | grep -qx true"
check "json: the access line has its own keys" \
    bash -c "jq -ce 'select(.msg == \"access\") | [.bytes_in, .bytes_out, .reason, (.peer | test(\"^127.0.0.1:\")), (.duration_ms >= 0)]' '$LOG' | grep -qx '\[4,4,\"eof\",true,true\]'"
check "json: quotes, tabs and backslashes in a message are escaped" \
    bash -c "jq -r 'select(.worker == 0) | .msg' '$LOG' | grep -qF \"said \\\"a	b\\\"	and\\\\ more\""
exchange 'fields\n'
check "json: mw.log's fields are members after msg, numbers and booleans as such" \
    bash -c "jq -ce 'select(.msg == \"with fields\") | [.ms, .n, .ok, .q, .user]' '$LOG' | grep -qxF '[0.5,3,true,\"say \\\"x\\\"\",\"ann b\"]'"
check "json: the master's lines have no worker" \
    bash -c "jq -e 'select(.msg | startswith(\"worker 0 started\")) | has(\"worker\") | not' '$LOG' | grep -qx true"
mv "$LOG" "$LOG.1"
watch_log "$LOG.1"
kill -USR1 "$PID"
# The master writes its line in the new file, then passes the signal on.
matches_come_to "$LOG" 1 '"msg":"User defined signal 1: log file reopened"'
exchange 'after\n'
check "SIGUSR1 reopens the log file; the worker's next access line is in the new one" \
    matches_come_to "$LOG" 1 '"msg":"access".*"bytes_in":6'
check "... which is JSON too" bash -c "jq -e . '$LOG' >/dev/null"
stop_server
finish
