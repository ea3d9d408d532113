#!/bin/bash
# Hostile clients: floods, garbage, slow readers and writers, resets. After
# each, the same worker is still serving (not a replacement), a well-behaved
# client is answered and the worker's memory is back near where it started.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 17

# near_start KB_ALLOWED: the worker's RSS grew by at most KB_ALLOWED since $START_RSS.
near_start() {
    now=$(rss_kb "$WORKER")
    echo "# RSS ${START_RSS} kB at start, ${now} kB now"
    grew_at_most "$1" "$START_RSS" "$now"
}

stats() { printf 'STATS\n' | socat -T 3 - "TCP:127.0.0.1:$PORT" 2>/dev/null; }

# took_all BYTES: within 5 s the sink has counted BYTES, less at most the
# unterminated last line (64 KiB), as lines and their bytes; sets LINES.
took_all() {
    for _ in $(seq 50); do
        read -r LINES bytes <<<"$(stats)"
        is_number "$LINES" && is_number "$bytes" && [ $((LINES + bytes)) -gt $(($1 - 65536)) ] &&
            [ $((LINES + bytes)) -le "$1" ] && return 0
        sleep 0.1
    done
    echo "# the sink counted ${LINES:-no} lines and ${bytes:-no} bytes of the $1 sent"
    return 1
}

# answers_stats: a new client asking STATS gets its two numbers.
answers_stats() {
    grep -qxE '[0-9]+ [0-9]+' <<<"$(stats)"
}

# held_off SENT: the writer was still blocked, not failed, when stopped, and
# SENT bytes (1 to 64 MiB) got through: high_water and the socket buffers,
# where a reader that does not pause takes gigabytes in 3 s.
held_off() {
    if grep -qi error "$TMP/dd.err"; then sed 's/^/# dd: /' "$TMP/dd.err" && return 1; fi
    is_number "$1" && [ "$1" -ge 1048576 ] && [ "$1" -le 67108864 ]
}

# echoed_zeros FD: the first MiB read on FD within 5 s is the zeros sent.
echoed_zeros() {
    head -c 1048576 /dev/zero >"$TMP/zeros"
    timeout 5 head -c 1048576 <&"$1" | cmp -s - "$TMP/zeros"
}

MW_IDLE_TIMEOUT=1000 start_server sink -l 127.0.0.1:0 "$SCRIPTS/line_sink.lua"
stats >/dev/null
WORKER=$(worker_pid)
START_RSS=$(rss_kb "$WORKER")

head -c 100000000 /dev/urandom | socat -u - "TCP:127.0.0.1:$PORT" 2>/dev/null
check "100 MB of random bytes to a line handler are all taken in" took_all 100000000
check "... as lines (random bytes hold one newline in 256: $LINES)" [ "${LINES:-0}" -gt 300000 ]
check "... by the same worker, which still runs" still_worker "$WORKER"
check "and its memory is back near the start" near_start 8192

# Slowloris: a byte every 1.5 s against idle_timeout = 1 s.
idle_closes=$(grep -c 'reason="idle timeout"' "$LOG")
connecting=$(date +%s%N)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
(for _ in 1 2 3 4 5; do printf x; sleep 1.5; done) >&3 2>/dev/null &
trickle=$!
check "a slowloris client is closed by the server within 4 s (the trickle lasts 7.5 s)" \
    closes_silently_within 4000 3
lasted_ms=$(((${EOF_AT:-0} - connecting) / 1000000))
check "... not before its idle_timeout of 1 s (it lasted $lasted_ms ms from the connect)" [ "$lasted_ms" -ge 900 ]
kill "$trickle" 2>/dev/null
wait "$trickle" 2>/dev/null
exec 3>&-
check "... and the reason is the idle timeout" \
    matches_come_to "$LOG" $((idle_closes + 1)) 'reason="idle timeout"'
check "a well-behaved client is answered after it" answers_stats
stop_server

start_server echo -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
echocheck 127.0.0.1 "$PORT" 1 100
WORKER=$(worker_pid)
START_RSS=$(rss_kb "$WORKER")
# A client that writes for 3 s and never reads: dd reports what it got through.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
LC_ALL=C timeout -s INT 3 dd if=/dev/zero bs=64k >&3 2>"$TMP/dd.err"
sent=$(sed -n 's/^\([0-9]*\) bytes.*copied.*/\1/p' "$TMP/dd.err")
echo "# the client got ${sent:-no} bytes through in 3 s"
check "a client that sends forever and never reads is held off (1 to 64 MB got through in 3 s)" \
    held_off "$sent"
check "the server holds about high_water for it, not all it sent" near_start 6144
check "and answers others meanwhile" echocheck 127.0.0.1 "$PORT" 10 10000 10
check "the held client, reading at last, gets its echo (the first MiB)" echoed_zeros 3
exec 3>&-

START_RSS=$(rss_kb "$WORKER")
check "10,000 connections opened and reset" quiet "$MW_TESTBIN/rstflood" 127.0.0.1 "$PORT" 10000
check "the worker lives through the resets (not replaced)" still_worker "$WORKER"
check "and answers a well-behaved client" echocheck 127.0.0.1 "$PORT" 10 10000 10
check "and its memory is back near the start" near_start 4096
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]
finish
