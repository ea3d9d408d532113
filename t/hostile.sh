#!/bin/bash
# Hostile clients: floods, garbage, slow readers and writers, resets. After
# each, a well-behaved client is still answered and the server's memory is
# back near where it started.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 14

# near_start KB_ALLOWED: RSS grew by at most KB_ALLOWED since $START_RSS.
near_start() {
    now=$(rss_kb "$(worker_pid)")
    echo "# RSS ${START_RSS} kB at start, ${now} kB now"
    [ $((now - START_RSS)) -le "$1" ]
}

stats() { printf 'STATS\n' | socat -T 3 - "TCP:127.0.0.1:$PORT" 2>/dev/null; }

MW_IDLE_TIMEOUT=1000 start_server sink -l 127.0.0.1:0 "$SCRIPTS/line_sink.lua"
stats >/dev/null
START_RSS=$(rss_kb "$(worker_pid)")

head -c 100000000 /dev/urandom | socat -u - "TCP:127.0.0.1:$PORT" 2>/dev/null
check "100 MB of random bytes to a line handler: the server lives" kill -0 "$PID"
lines=$(stats | cut -d' ' -f1)
check "and it counted the lines in them ($lines)" [ "${lines:-0}" -gt 300000 ]
check "and its memory is back near the start" near_start 8192

# Slowloris: a byte every 1.5 s against idle_timeout = 1 s.
start=$(date +%s%N)
(for _ in 1 2 3 4 5; do printf x; sleep 1.5; done) | socat -T 10 - "TCP:127.0.0.1:$PORT" >/dev/null 2>&1
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
echo "# slowloris connection lasted $elapsed_ms ms"
check "a slowloris client is closed by idle_timeout" contains "$LOG" "idle timeout"
check "within about the timeout, not after the whole trickle" [ "$elapsed_ms" -lt 4000 ]
check "a well-behaved client is answered after it" stats
stop_server

start_server echo -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
echocheck 127.0.0.1 "$PORT" 1 100
START_RSS=$(rss_kb "$(worker_pid)")
timeout 5 socat -u /dev/zero "TCP:127.0.0.1:$PORT" 2>/dev/null
check "a client that sends forever and never reads is held off (runs until killed)" [ $? -eq 124 ]
check "the server holds about high_water for it, not all it sent" near_start 6144
check "and answers others meanwhile" echocheck 127.0.0.1 "$PORT" 10 10000 10

START_RSS=$(rss_kb "$(worker_pid)")
check "10,000 connections opened and reset" quiet "$MW_TESTBIN/rstflood" 127.0.0.1 "$PORT" 10000
check "the server lives after the resets" kill -0 "$PID"
check "and answers a well-behaved client" echocheck 127.0.0.1 "$PORT" 10 10000 10
check "and its memory is back near the start" near_start 4096
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]
finish
