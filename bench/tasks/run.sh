#!/bin/sh
# Memory and speed of moonwire's tasks beside Erlang processes, on one core.
#   bench/tasks/run.sh [OUT.md]        (from the build tree, after make)
# For each N, one fresh process per kind: N tasks left pending, bytes per
# task from the Lua heap's own accounting (mw.stats().heap_in_use; Erlang:
# erlang:memory(total)) and from the RSS. Then spawns and messages per
# second (processor time). Environment: MOONWIRE, CPU (default 0), NS, M.
set -u
DIR=$(cd "$(dirname "$0")" && pwd)
MOONWIRE=${MOONWIRE:-$DIR/../../moonwire}
CPU=${CPU:-0}
NS=${NS:-"100 1000 2000 5000 10000 1000000"}
M=${M:-1000000}
OUT=${1:-$DIR/RESULTS-tasks.md}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mwtasks.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
KINDS="callback mailbox coroutine sleeping"

# Bytes of memory the kernel could give without swapping.
available() {
    awk '/^MemAvailable:/ { printf "%.0f\n", $2 * 1024 }' /proc/meminfo
}

# wait_for FILE PATTERN SECONDS: waits for a line matching PATTERN.
wait_for() {
    for _ in $(seq $(($3 * 10))); do
        grep -q "$2" "$1" && return 0
        sleep 0.1
    done
    return 1
}

# moonwire_run LOG SCRIPT PATTERN SECONDS [VAR=VALUE...]: a server pinned to
# CPU with no deadline, stopped once PATTERN shows in its log.
moonwire_run() {
    log=$1 script=$2 pattern=$3 seconds=$4
    shift 4
    env "$@" taskset -c "$CPU" "$MOONWIRE" -t 0 -l 127.0.0.1:0 "$DIR/$script" 2>"$log" &
    pid=$!
    wait_for "$log" "$pattern" "$seconds" || echo "timeout" >>"$log"
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

# need KIND: bytes per task to have free before trying (about twice the RSS).
need() {
    case $1 in
    callback) echo 512 ;;
    mailbox) echo 1024 ;;
    erlang) echo 8192 ;;
    *) echo 2048 ;;
    esac
}

# pending KIND N: "heap / rss" bytes per task, or "skipped" / "failed".
pending() {
    if [ "$(available)" -lt $(($2 * $(need "$1"))) ]; then
        echo "skipped (low memory)"
        return
    fi
    if [ "$1" = erlang ]; then
        taskset -c "$CPU" erl -noshell +P 4000000 -pa "$TMP" -run tasks_bench pending "$2" \
            2>"$TMP/erl.log"
        line=$(grep "^RESULT" "$TMP/erl.log")
    else
        moonwire_run "$TMP/$1.log" pending.lua "^RESULT" 600 KIND="$1" N="$2"
        line=$(grep "^RESULT" "$TMP/$1.log")
    fi
    [ -n "$line" ] || { echo "failed"; return; }
    echo "$line" | awk '{ printf "%s / %s", $4, $5 }'
}

erlc -o "$TMP" "$DIR/tasks_bench.erl" || exit 1
{
    echo "# Tasks: memory and speed"
    echo
    echo "Run by \`bench/tasks/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), pinned with"
    echo "\`taskset -c $CPU\`; $("$MOONWIRE" -V 2>&1 | head -1), $(erl -noshell -eval \
        'io:format("Erlang/OTP ~s", [erlang:system_info(otp_release)]), halt().'),"
    echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
    echo "load average $(cut -d' ' -f1-3 /proc/loadavg), $(($(available) / 1048576)) MiB available at start."
    echo
    echo "Bytes per pending task, heap / RSS (heap: mw.stats().heap_in_use, the Lua"
    echo "heap's own count; Erlang: erlang:memory(total)). Each task is a fresh closure"
    echo "capturing its own i. callback: \`mw.spawn(function() return i end)\`, queued;"
    echo "mailbox: \`mw.task{on_message = ...}\` holding one queued message; coroutine:"
    echo "\`mw.go\` parked in \`mw.receive()\`; sleeping: \`mw.go\` in \`mw.sleep(1e9)\`;"
    echo "erlang: \`spawn(fun() -> receive after infinity -> I end end)\`."
    echo
    echo "| N | callback | mailbox | coroutine | sleeping | erlang |"
    echo "|--:|--:|--:|--:|--:|--:|"
} >"$OUT"
for n in $NS; do
    row="| $n"
    for kind in $KINDS erlang; do
        row="$row | $(pending "$kind" "$n")"
    done
    echo "$row |" | tee -a "$OUT"
done

moonwire_run "$TMP/rates.log" rates.lua "^DONE" 1200 M="$M"
taskset -c "$CPU" erl -noshell +P 4000000 -pa "$TMP" -run tasks_bench rates "$M" \
    2>>"$TMP/rates.log"
{
    echo
    echo "Per second of processor time, M = $M (\`rates.lua\`, \`tasks_bench:rates/1\`):"
    echo
    echo "| what | per second |"
    echo "|---|--:|"
    grep "^RATE" "$TMP/rates.log" | awk '{ printf "| %s | %s |\n", $2, $3 }'
} | tee -a "$OUT"
