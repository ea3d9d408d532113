#!/bin/bash
# -w N: N worker processes each accept on their own SO_REUSEPORT socket of
# the one port the master picked; UNIX sockets are shared; mw.worker_id(),
# per-worker log prefix, --pid-file, --log-file with SIGUSR1, --user.
. "${MW_SRCDIR:-.}/t/lib.sh"
. "$MW_SRCDIR/t/workers_helpers.sh"
plan 29

start_server two -w 2 --log-level debug -l 127.0.0.1:0 "$EXAMPLES/whoami.lua"
wait_for workers_started 2
check "port 0 with 2 workers: one port, logged once" [ "$(grep -c 'listening on' "$LOG")" -eq 1 ]
check "the master says how the workers share the port" \
    contains "$LOG" "127.0.0.1:$PORT: one SO_REUSEPORT socket per worker, 2 workers"
for _ in $(seq 40); do whoami_once; done >"$TMP/who"
check "40 connections are all answered" [ "$(grep -c '^worker [01]$' "$TMP/who")" -eq 40 ]
check "connections land on worker 0" grep -qx "worker 0" "$TMP/who"
check "connections land on worker 1" grep -qx "worker 1" "$TMP/who"
check "the master has 2 worker processes" [ "$(ps --ppid "$PID" -o pid= | wc -l)" -eq 2 ]
check "a worker's log lines carry its number" contains "$LOG" "worker 1: connection"
holder_port=$PORT
timeout 20 "$MOONWIRE" -w 2 -l "127.0.0.1:$holder_port" "$EXAMPLES/echo.lua" 2>"$TMP/busy.err"
check "a port held by another moonwire -w 2 exits 1" [ $? -eq 1 ]
check "and says so in the system's words" \
    contains "$TMP/busy.err" "bind 127.0.0.1:$holder_port: Address already in use"
stop_server
check "stopped by SIGTERM: exit 0" [ "$STATUS" -eq 0 ]
check "both workers' exits are logged" contains "$LOG" "worker 1 (pid $(worker_pid 1)) exited with status 0"

start_server echo2 -w 2 -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
check "50 connections echo 100 kB each through 2 workers" echocheck 127.0.0.1 "$PORT" 50 100000 20
stop_server

start_server auto -w auto -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
check "-w auto starts one worker per online CPU" wait_for workers_started "$(getconf _NPROCESSORS_ONLN)"
stop_server

sock="$TMP/mw.sock"
start_server unix -w 2 -l "unix:$sock" "$EXAMPLES/whoami.lua"
wait_for workers_started 2
for _ in $(seq 10); do whoami_once "UNIX-CONNECT:$sock"; done >"$TMP/who"
check "a UNIX socket shared by 2 workers answers every connection" \
    [ "$(grep -c '^worker [01]$' "$TMP/who")" -eq 10 ]
check "the master says the UNIX socket is shared" contains "$LOG" "one socket shared by 2 workers"
stop_server
check "the UNIX socket file is removed at exit" [ ! -e "$sock" ]

pidfile="$TMP/mw.pid"
start_server pid -w 2 -l 127.0.0.1:0 --pid-file "$pidfile" "$EXAMPLES/echo.lua"
check "--pid-file holds the master's pid" wait_for grep -qx "$PID" "$pidfile"
timeout 20 "$MOONWIRE" -l 127.0.0.1:0 --pid-file "$pidfile" "$EXAMPLES/echo.lua" 2>"$TMP/pid.err"
check "a second moonwire with the same pid file exits 1" [ $? -eq 1 ]
check "and names the running one" contains "$TMP/pid.err" "held by a running moonwire (pid $PID)"
stop_server
check "the pid file is removed at exit" [ ! -e "$pidfile" ]
echo 999999 >"$pidfile"
start_server stale -l 127.0.0.1:0 --pid-file "$pidfile" "$EXAMPLES/echo.lua"
check "a pid file left by a dead master is taken over" wait_for grep -qx "$PID" "$pidfile"
stop_server

logfile="$TMP/mw.log"
start_server logf -w 2 --log-level debug -l 127.0.0.1:0 --log-file "$logfile" \
    "$EXAMPLES/whoami.lua"
check "--log-file gets the master's lines" wait_for grep -q "worker 1 started" "$logfile"
whoami_once >/dev/null
check "--log-file gets the workers' lines" wait_for grep -q "worker .: connection" "$logfile"
mv "$logfile" "$logfile.1"
kill -USR1 "$PID"
check "SIGUSR1 makes the master reopen the log file" wait_for grep -q "log file reopened" "$logfile"
# Both workers reopen: new connections land on each, and each logs to the new file.
reopened() {
    whoami_once >/dev/null
    grep -q 'worker 0: connection' "$logfile" && grep -q 'worker 1: connection' "$logfile"
}
check "and both workers log to the new file" wait_for reopened
stop_server

# --user needs root and a user nobody: CI has both, so without them the
# checks fail (and say why) rather than skip.
if [ "$(id -u)" -ne 0 ]; then
    ok 1 "--user nobody: the workers run as nobody (cannot: not run as root)"
    ok 1 "--user nobody: and serve (cannot: not run as root)"
elif ! id nobody >/dev/null 2>&1; then
    ok 1 "--user nobody: the workers run as nobody (cannot: no user nobody)"
    ok 1 "--user nobody: and serve (cannot: no user nobody)"
else
    # The script sits in the test's private directory, which nobody cannot
    # read: the master reads it before dropping privileges.
    cp "$EXAMPLES/whoami.lua" "$TMP/whoami.lua"
    chmod 700 "$TMP"
    start_server user -w 2 -l 127.0.0.1:0 --user nobody "$TMP/whoami.lua"
    wait_for workers_started 2
    uids=$(ps --ppid "$PID" -o uid= | sort -u | tr -d ' ')
    check "--user nobody: the workers run as nobody (uids: ${uids:-none})" [ "$uids" = "$(id -u nobody)" ]
    check "--user nobody: and serve" grep -qx 'worker [01]' <<<"$(whoami_once)"
    stop_server
fi
timeout 20 "$MOONWIRE" -l 127.0.0.1:0 --user root "$EXAMPLES/echo.lua" 2>"$TMP/user.err"
check "--user root is refused: exit 1" [ $? -eq 1 ]
check "... saying why" contains "$TMP/user.err" "refusing to run handlers as root"
finish
