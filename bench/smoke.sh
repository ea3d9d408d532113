#!/bin/bash
# smoke: a short run of the load generator against examples/echo.lua, every
# echoed byte checked (TAP). Not a benchmark: it only shows that the harness
# and the server agree on every byte, that bench/'s wait for a serving worker
# works, and that the server stopped cleanly with nothing in its log that
# would void a benchmark run. Needs MOONWIRE and MW_SRCDIR; LOADGEN defaults
# to the one built beside MOONWIRE.
: "${MOONWIRE:?MOONWIRE must name the moonwire binary}"
: "${MW_SRCDIR:?MW_SRCDIR must name the source directory}"
LOADGEN=${LOADGEN:-$(dirname "$MOONWIRE")/bench/loadgen/loadgen}
. "$MW_SRCDIR/bench/lib/serving.sh"

tmp=$(mktemp -d) || exit 1
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

n=0
check() { # check DESCRIPTION COMMAND...: one TAP line
    n=$((n + 1))
    desc=$1
    shift
    if "$@"; then echo "ok $n - $desc"; else echo "not ok $n - $desc"; fi
}

# Waits up to 10 s for "listening on 127.0.0.1:PORT" and sets port.
wait_port() {
    i=0
    while [ $i -lt 100 ]; do
        port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$tmp/err" | head -n 1)
        [ -n "$port" ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

result() { # result KEY: a field of the loadgen's RESULT line
    sed -n "s/^RESULT .*[ ]$1=\([^ ]*\).*/\1/p" "$tmp/out"
}

# Prints the log's lines that would void a benchmark run (serving.sh) and
# succeeds when there are none.
log_clean() {
    bad=$(grep -E -- "$BENCH_DEATH|$BENCH_REPORT" "$tmp/err")
    [ -z "$bad" ] || { echo "$bad" | sed 's/^/# /'; return 1; }
}

echo "1..9"
: >"$tmp/err"
"$MOONWIRE" -l 127.0.0.1:0 "$MW_SRCDIR/examples/echo.lua" 2>"$tmp/err" &
pid=$!
check "moonwire announces its port" wait_port
[ -n "$port" ] || { cat "$tmp/err" >&2; exit 1; }
check "its worker serves: a probe line is echoed and the worker logs its access line" \
    bench_serving echo "$port" "$tmp/err" 1

timeout 60 "$LOADGEN" -c 20 -d 4 -s 64 -w 0.2 -t 1.5 --timeout 10 "127.0.0.1:$port" \
    >"$tmp/out" 2>"$tmp/lgerr"
lgrc=$?
sed 's/^/# /' "$tmp/out" "$tmp/lgerr"
check "loadgen finishes and exits 0" test "$lgrc" -eq 0
check "zero mismatched bytes" test "$(result mismatches)" = 0
check "no connection errors" test "$(result errors)" = 0
check "some requests were echoed" test "$(result msgs)" -gt 0

# A negative control: RESP requests come back verbatim from an echo, not as
# RESP replies, so the checker must count mismatched bytes and fail.
timeout 30 "$LOADGEN" -c 2 -p resp -w 0 -t 0.3 --timeout 10 "127.0.0.1:$port" \
    >"$tmp/out" 2>"$tmp/lgerr"
lgrc=$?
check "the checker notices replies that differ" test "$lgrc" -eq 1 -a "$(result mismatches)" -gt 0

kill -TERM "$pid"
timeout 15 tail --pid="$pid" -f /dev/null
kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
wait "$pid"
rc=$?
pid=
check "moonwire exits 0 on SIGTERM" test "$rc" -eq 0
check "its log shows no worker death, sanitizer report, Lua panic or error" log_clean
