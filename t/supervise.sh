#!/bin/bash
# The master replaces a worker that dies (SIGKILL, os.exit), logs why, backs
# off when one keeps dying, and loses nothing on the other workers.
. "${MW_SRCDIR:-.}/t/lib.sh"
. "$MW_SRCDIR/t/workers_helpers.sh"
plan 17

start_server sup -w 2 -l 127.0.0.1:0 "$EXAMPLES/whoami.lua"
wait_for workers_started 2
# 16 connections: each learns its worker from the greeting.
fds=() on=()
for i in $(seq 16); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
    read -r -t 3 greeting <&"$fd"
    fds+=("$fd") on+=("${greeting#worker }")
done
count_on() { n=0; for w in "${on[@]}"; do [ "$w" = "$1" ] && n=$((n + 1)); done; echo $n; }
check "connections are on both workers before the kill" \
    [ "$(count_on 0)" -gt 0 -a "$(count_on 1)" -gt 0 ]
victim=$(worker_pid 1)
kill -KILL "$victim"
expect_deaths 1
check "kill -9 of worker 1 is logged with the signal" \
    wait_for grep -q "worker 1 (pid $victim) killed by signal 9" "$LOG"
replaced() { [ -n "$(worker_pid 1)" ] && [ "$(worker_pid 1)" != "$victim" ]; }
check "worker 1 is replaced" wait_for replaced
survivors=0 lost=0
for i in "${!fds[@]}"; do
    [ "${on[$i]}" = 0 ] || continue
    ask "${fds[$i]}" "still there $i"
    if [ "$REPLY" = "still there $i" ]; then survivors=$((survivors + 1)); else lost=$((lost + 1)); fi
done
check "every connection on worker 0 survives the kill ($survivors)" \
    [ "$lost" -eq 0 -a "$survivors" -eq "$(count_on 0)" ]
closed=0
for i in "${!fds[@]}"; do
    [ "${on[$i]}" = 1 ] && at_eof "${fds[$i]}" && closed=$((closed + 1))
done
check "the killed worker's connections are closed" [ "$closed" -eq "$(count_on 1)" ]
for fd in "${fds[@]}"; do exec {fd}>&-; done
for _ in $(seq 30); do whoami_once; done >"$TMP/who"
check "new connections reach the replacement worker 1" grep -qx "worker 1" "$TMP/who"
check "and worker 0" grep -qx "worker 0" "$TMP/who"
check "the replacement keeps number 1 (mw.worker_id)" \
    [ "$(grep -c '^worker [01]$' "$TMP/who")" -eq 30 ]
stop_server
check "the master still stops with exit 0" [ "$STATUS" -eq 0 ]

# A worker that exits on every connection: replaced each time, with backoff.
# os.exit skips every clean-up, so a leak check at exit (ASan builds) would
# report the worker's whole heap and replace its exit status with its own.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    start_server crash -l 127.0.0.1:0 "$SCRIPTS/worker_crash.lua"
expect_deaths 5 # one os.exit(3) per connection below
for _ in $(seq 5); do
    printf 'exit\n' | socat -t 3 -T 3 - "TCP:127.0.0.1:$PORT" >/dev/null 2>&1
done
# The master logs a death when it reaps the worker, after the client saw
# the connection close: each line is waited for.
check "a worker that calls os.exit(3) is logged with its pid and status" \
    wait_for grep -q "worker 0 (pid [0-9]*) exited with status 3" "$LOG"
check "the first death is repaired at once (no 'in N ms')" \
    wait_for grep -q "exited with status 3; restarting it\$" "$LOG"
check "a worker that keeps dying waits before its restart" comes_to "$LOG" "restarting it in 100 ms"
check "and longer each time" comes_to "$LOG" "restarting it in 400 ms"
check "the master survives and the replacement serves" echocheck 127.0.0.1 "$PORT" 2 1000 10
check "the master never ran the handler (it is still alive)" kill -0 "$PID"
stop_server

# A master killed outright: its workers notice (PR_SET_PDEATHSIG), drain and go.
start_server orphans -w 2 -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
wait_for workers_started 2
w0=$(worker_pid 0) w1=$(worker_pid 1)
stop_server KILL
gone() { ! kill -0 "$w0" 2>/dev/null && ! kill -0 "$w1" 2>/dev/null; }
check "workers of a master killed by SIGKILL exit on their own" wait_for gone
check "after draining, as for SIGTERM" contains "$LOG" "worker 1: Terminated: stopping"
finish
