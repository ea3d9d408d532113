#!/bin/bash
# Under valgrind's memcheck: the master and a worker (on the BiBOP heap, which
# reports its blocks to memcheck) serve echo traffic and stop with no error.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 5

wrapper="$TMP/moonwire-memcheck"
cat >"$wrapper" <<WRAP
#!/bin/sh
exec valgrind -q --error-exitcode=99 --log-file="$TMP/vg.%p" "$MOONWIRE" "\$@"
WRAP
chmod +x "$wrapper"

LOG="$TMP/server.log"
watch_log "$LOG"
"$wrapper" -w 1 -l 127.0.0.1:0 "$EXAMPLES/echo.lua" 2>"$LOG" &
PID=$!
server_pids="$server_pids $PID"
listening() { grep -q "worker 0 started" "$LOG" && grep -q "listening on " "$LOG"; }
for _ in $(seq 600); do listening && break; sleep 0.1; done
PORT=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$LOG" | head -n 1)
check "moonwire starts under memcheck" [ -n "$PORT" ]
# The socket is bound before the worker loads its script: the connections
# wait in its backlog until the worker, slow under memcheck, accepts them.
check "and echoes every byte (4 connections, 200 kB)" echocheck 127.0.0.1 "$PORT" 4 200000 60
stop_server
check "it stops with exit status 0" [ "$STATUS" -eq 0 ]
worker=$(sed -n 's/.*worker 0 started (pid \([0-9]*\)).*/\1/p' "$LOG" | head -n 1)
# memcheck ran in the master and in the worker: each wrote its (empty) log.
[ -n "$worker" ] && [ -e "$TMP/vg.$PID" ] && [ -e "$TMP/vg.$worker" ]
ok $? "memcheck watched the master (vg.$PID) and the worker (vg.${worker:-?})"
errors=$(cat "$TMP"/vg.* 2>/dev/null)
[ -z "$errors" ] || echo "$errors" | sed 's/^/# /'
clean() { [ -z "$errors" ] && ! grep -q "status 99" "$LOG"; }
check "memcheck reports no error in the master or the worker" clean
finish
