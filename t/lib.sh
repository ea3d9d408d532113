# Helpers for the integration tests: TAP output, and a moonwire server
# started on an ephemeral port and always stopped by its PID.
# Sourced by t/*.sh; needs MOONWIRE, MW_SRCDIR and MW_TESTBIN (set by make check).

: "${MOONWIRE:?MOONWIRE must name the moonwire binary}"
: "${MW_SRCDIR:?MW_SRCDIR must name the source tree}"
: "${MW_TESTBIN:=$(dirname "$MOONWIRE")/t}"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mwtest.XXXXXX")
SCRIPTS="$MW_SRCDIR/t/scripts"
EXAMPLES="$MW_SRCDIR/examples"
tap_count=0
tap_failed=0
server_pids=""
server_logs=""
start_failures=0

# cleanup: kills what is still running; a test that failed keeps its
# directory (server logs included) and says where it is, with each log's end.
cleanup() {
    status=$?
    for pid in $server_pids; do
        kill -KILL "$pid" 2>/dev/null
    done
    if [ "$status" -eq 0 ] && [ "$tap_failed" -eq 0 ]; then
        rm -rf "$TMP"
        return
    fi
    echo "# FAILED: kept $TMP"
    for log in $server_logs; do
        [ -f "$log" ] || continue
        echo "# last lines of $log:"
        tail -n 30 "$log" | sed 's/^/#   /'
    done
}
trap cleanup EXIT

# plan N: N checks of the test's own, and one more made by finish (the
# server logs show no unexpected worker death, sanitizer report or panic).
plan() { echo "1..$(($1 + 1))"; }

# ok STATUS DESCRIPTION: one TAP line; STATUS 0 is a pass.
ok() {
    tap_count=$((tap_count + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $tap_count - $2"
    else
        echo "not ok $tap_count - $2"
        tap_failed=$((tap_failed + 1))
    fi
}

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
    desc=$1
    shift
    if "$@"; then ok 0 "$desc"; else ok 1 "$desc"; fi
}

# contains FILE TEXT: FILE contains TEXT (fixed string); shows FILE if not.
contains() {
    grep -qF -- "$2" "$1" && return 0
    echo "# '$2' not found in $1:" && sed 's/^/#   /' "$1" | head -20
    return 1
}

# comes_to FILE TEXT: FILE contains TEXT within 5 s, for lines a server writes after
# the client it answered has gone (an upstream's failure, logged when it comes).
comes_to() {
    for _ in $(seq 50); do
        grep -qF -- "$2" "$1" && return 0
        sleep 0.1
    done
    contains "$1" "$2"
}

# rss_kb PID: the resident memory of a process, in kB.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# worker_pid: worker 0 of the server started last (the newest, if replaced);
# the worker is what serves, the master only supervises.
worker_pid() {
    for _ in $(seq 100); do
        pid=$(sed -n 's/.*worker 0 started (pid \([0-9]*\)).*/\1/p' "$LOG" | tail -1)
        [ -n "$pid" ] && echo "$pid" && return 0
        sleep 0.05
    done
    return 1
}

# exchange INPUT: sends INPUT (a printf format) on a new connection to PORT,
# half-closes, and keeps all the server answers in $TMP/reply.
exchange() {
    # shellcheck disable=SC2059
    printf "$1" | socat -T 3 -t 3 - "TCP:127.0.0.1:$PORT" >"$TMP/reply" 2>/dev/null
}

# replied EXPECTED: the last exchange's reply is exactly EXPECTED (printf format).
replied() {
    # shellcheck disable=SC2059
    printf "$1" >"$TMP/expected"
    cmp -s "$TMP/expected" "$TMP/reply" && return 0
    echo "# expected:" && od -c "$TMP/expected" | sed 's/^/#   /'
    echo "# got:" && od -c "$TMP/reply" | sed 's/^/#   /'
    return 1
}

# quiet COMMAND...: runs COMMAND with its stdout sent to the log, not to TAP.
quiet() {
    "$@" >&2
}

# echocheck HOST PORT CONNECTIONS BYTES [TIMEOUT_S]: the C echo client; its
# report goes to stderr (the test's log) to keep stdout pure TAP.
echocheck() {
    "$MW_TESTBIN/echocheck" "$@" >&2
}

# lint_page PAGE: the man page lints clean (mandoc -Tlint, or groff with
# MANLINT=groff); what the linter said is shown as TAP comments.
lint_page() {
    case "${MANLINT:-mandoc}" in
    *groff) quiet groff -man -ww -z "$1" 2>"$TMP/lint" ;;
    *) quiet "${MANLINT:-mandoc}" -Tlint -Wwarning "$1" >"$TMP/lint" 2>&1 ;;
    esac
    local status=$?
    sed 's/^/#   /' "$TMP/lint"
    [ "$status" -eq 0 ] && [ ! -s "$TMP/lint" ]
}

# ask FD TEXT [SECONDS]: writes a line on FD and reads one line back into
# REPLY, waiting SECONDS (else $ASK_TIMEOUT, else 3) at most.
ask() {
    printf '%s\n' "$2" >&"$1"
    REPLY=""
    read -r -t "${3:-${ASK_TIMEOUT:-3}}" REPLY <&"$1"
}

# results NAME...: one TAP line per "RESULT NAME ok|FAIL" line a Lua test
# script printed in $LOG (see t/scripts/check.lua).
results() {
    for name in "$@"; do
        grep -q "^RESULT $name ok" "$LOG"
        ok $? "$name"
        grep "^RESULT $name FAIL" "$LOG" | sed 's/^/# /'
    done
}

# no_failures: the script printed no failing RESULT line in $LOG.
no_failures() {
    ! grep -q "^RESULT .* FAIL" "$LOG"
}

# watch_log FILE: FILE is written by a server; finish checks it.
watch_log() {
    case " $server_logs " in *" $1 "*) ;; *) server_logs="$server_logs $1" ;; esac
}

# expect_deaths N [LOG]: the server writing LOG (default: the last one
# started) loses exactly N workers on purpose (killed, crashed, os.exit).
expect_deaths() {
    echo "$1" >"${2:-$LOG}.deaths"
}

# start_server NAME ARGS...: starts moonwire in the background; sets PID and
# PORT (of the first TCP listener) and LOG. Fails if it does not listen in
# 5 s, and then finish fails the test too (try_start_server does not: for a
# caller that retries).
start_server() {
    try_start_server "$@" && return 0
    start_failures=$((start_failures + 1))
    return 1
}

try_start_server() {
    name=$1
    shift
    LOG="$TMP/$name.log"
    watch_log "$LOG"
    watch_log_file_option "$@"
    : >"$LOG"
    "$MOONWIRE" "$@" 2>>"$LOG" &
    PID=$!
    server_pids="$server_pids $PID"
    for _ in $(seq 100); do
        # One read of the log, so a line being written is not half-seen.
        line=$(grep -m1 "listening on " "$LOG")
        PORT=$(echo "$line" | sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p')
        case "$line" in *"listening on unix:"*) return 0 ;; esac
        [ -n "$PORT" ] && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "# server $name did not start:" && sed 's/^/#   /' "$LOG"
    return 1
}

# stop_server [SIGNAL]: signals the server and waits; sets STATUS to its exit status.
stop_server() {
    kill "-${1:-TERM}" "$PID" 2>/dev/null
    wait "$PID"
    STATUS=$?
    server_pids=$(echo "$server_pids" | sed "s/ $PID\b//")
}

# watch_log_file_option ARGS...: watches the file a --log-file argument names.
watch_log_file_option() {
    while [ $# -gt 1 ]; do
        [ "$1" = --log-file ] && watch_log "$2"
        shift
    done
}

# stop_all_servers: SIGTERM to every server still running, as a user stops
# it, so that what it writes at exit (a leak report) is in its log; a server
# that does not exit in 20 s is killed and counted as a failure.
stop_all_servers() {
    for pid in $server_pids; do
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 200); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "# server pid $pid still running 20 s after SIGTERM: killed"
            kill -KILL "$pid"
            stuck_servers=$((stuck_servers + 1))
        fi
        wait "$pid" 2>/dev/null
    done
    server_pids=""
}

# DEATH and REPORT: the lines of a server log that fail a test: a worker
# that died (the master says how), a sanitizer's report, a Lua panic.
DEATH='worker [0-9]+ \(pid [0-9]+\) (killed by signal|exited with status [1-9])'
REPORT='Sanitizer|runtime error|Lua panic'

# log_trouble LOG: what in LOG is unexpected, as TAP comments; fails if any.
log_trouble() {
    [ -f "$1" ] || return 0
    expected=$(cat "$1.deaths" 2>/dev/null || echo 0)
    deaths=$(grep -cE -- "$DEATH" "$1")
    trouble=0
    if [ "$deaths" -ne "$expected" ]; then
        echo "# $1: $deaths worker death(s), $expected expected:"
        grep -E -- "$DEATH" "$1" | head -10 | sed 's/^/#   /'
        trouble=1
    fi
    if grep -qE -- "$REPORT" "$1"; then
        echo "# $1: a sanitizer report or a Lua panic:"
        grep -E -A5 -- "$REPORT" "$1" | head -30 | sed 's/^/#   /'
        trouble=1
    fi
    return $trouble
}

# logs_clean: every server started, stopped when asked, and left logs with
# no unexpected worker death; no log or stderr capture of the test's holds
# a sanitizer report or a Lua panic.
logs_clean() {
    clean=0
    [ "$start_failures" -eq 0 ] || { echo "# $start_failures server(s) did not start"; clean=1; }
    [ "${stuck_servers:-0}" -eq 0 ] || clean=1
    captures=$(find "$TMP" -type f \( -name '*.log' -o -name '*.err' -o -name '*.stderr' \))
    for log in $server_logs; do
        log_trouble "$log" || clean=1
    done
    for log in $captures; do
        case " $server_logs " in *" $log "*) continue ;; esac
        grep -qE -- "$REPORT" "$log" || continue
        echo "# $log: a sanitizer report or a Lua panic:"
        grep -E -A5 -- "$REPORT" "$log" | head -30 | sed 's/^/#   /'
        clean=1
    done
    return $clean
}

# finish: stops the servers still running, checks their logs (the last
# TAP line), and exits with the harness's status.
finish() {
    stop_all_servers
    logs_clean
    ok $? "servers started, and their logs show no unexpected worker death, sanitizer report or Lua panic ($(echo $server_logs | wc -w) logs)"
    [ "$tap_failed" -eq 0 ]
    exit $?
}

# ---- helpers for precise checks ----

# is_number TEXT: TEXT is a whole number (not empty, digits only).
is_number() {
    case $1 in '' | *[!0-9]*) return 1 ;; esac
}

# alive PID: process PID runs (it exists and is not a zombie).
alive() {
    local state
    state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/${1:-none}/status" 2>/dev/null)
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# still_worker PID: PID is still $LOG's latest worker 0 and runs; a worker
# that died is replaced by the master, which itself lives on.
still_worker() {
    local latest
    latest=$(sed -n 's/.*worker 0 started (pid \([0-9]*\)).*/\1/p' "$LOG" | tail -n 1)
    is_number "$1" && [ "$latest" = "$1" ] && alive "$1" && return 0
    echo "# worker 0 was pid ${1:-unknown}, is now pid ${latest:-unknown} ($(alive "$latest" && echo running || echo gone))"
    return 1
}

# grew_at_most MAX BEFORE AFTER: AFTER exceeds BEFORE by at most MAX; a
# figure that is not a number (it could not be read) fails.
grew_at_most() {
    is_number "$2" && is_number "$3" && [ $(($3 - $2)) -le "$1" ] && return 0
    echo "# before: '${2}', after: '${3}', allowed growth $1"
    return 1
}

# send_at_once FD FORMAT: writes FORMAT (printf) on FD in one write; bash's
# own printf writes line by line, and a server that closes after a line
# resets a connection whose next lines came after it read.
send_at_once() {
    # shellcheck disable=SC2059
    printf -- "$2" >"$TMP/send_at_once"
    cat "$TMP/send_at_once" >&"$1"
}

# closes_within MS FD: the peer closes FD (an end of file, not a reset)
# within MS milliseconds of now, the client keeping its side open; sets
# EOF_MS to the time it took, EOF_AT to when it came (date +%s%N) and keeps
# what came before the end in $TMP/eof.data.
closes_within() {
    local started status
    started=$(date +%s%N)
    timeout "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))" cat <&"$2" >"$TMP/eof.data" 2>"$TMP/eof.err"
    status=$?
    EOF_AT=$(date +%s%N)
    EOF_MS=$(((EOF_AT - started) / 1000000))
    case $status in
    0) echo "# end of file after $EOF_MS ms, $(wc -c <"$TMP/eof.data") bytes before it" && return 0 ;;
    124) echo "# no end of file within $1 ms" ;;
    *) echo "# the read failed after $EOF_MS ms: $(cat "$TMP/eof.err")" ;;
    esac
    return 1
}

# closes_silently_within MS FD: closes_within MS FD, and nothing came before the end.
closes_silently_within() {
    closes_within "$1" "$2" && [ ! -s "$TMP/eof.data" ]
}

# unanswered_for SECONDS FD: nothing comes on FD for SECONDS and the
# connection stays open: the read times out (not an end of file, not an error).
unanswered_for() {
    local line status
    read -r -t "$1" line <&"$2"
    status=$?
    [ "$status" -gt 128 ] && [ -z "$line" ] && return 0
    echo "# the read ended with status $status, line '$line'"
    return 1
}

# matches_come_to FILE N REGEX: FILE has at least N lines matching REGEX
# (grep -E) within 5 s.
matches_come_to() {
    for _ in $(seq 50); do
        [ "$(grep -cE -- "$3" "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    echo "# $(grep -cE -- "$3" "$1") line(s) of $1 match '$3', $2 expected:"
    tail -n 20 "$1" | sed 's/^/#   /'
    return 1
}

# log_ms PATTERN: the log time (ms of the day) of the first line of $LOG matching PATTERN.
log_ms() {
    grep -m1 -E -- "$1" "$LOG" | sed -n 's/^[0-9-]*T\([0-9]*\):\([0-9]*\):\([0-9]*\)\.\([0-9]*\)Z.*/\1 \2 \3 \4/p' |
        awk '{ print (($1 * 60 + $2) * 60 + $3) * 1000 + $4 }'
}
