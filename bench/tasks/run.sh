#!/bin/bash
# Memory and speed of moonwire's tasks beside Erlang processes, on one core.
#   bench/tasks/run.sh [OUT.md]        (from the build tree, after make)
# For each N, one fresh process per kind: N tasks left pending, bytes per
# task from the Lua heap's own accounting (mw.stats().heap_in_use; Erlang:
# erlang:memory(total)) and from the RSS. Then spawns and messages per
# second (processor time). Environment: MOONWIRE, CPU (default 0), NS, M.
# Ends with issue 5's targets judged by the rule written in the report: a
# figure counts only from a run that reported it with all its N tasks alive
# and left nothing in its log that voids it (serving.sh).
set -u
DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/../lib/serving.sh"
MOONWIRE=${MOONWIRE:-$DIR/../../moonwire}
CPU=${CPU:-0}
NS=${NS:-"100 1000 2000 5000 10000 1000000"}
M=${M:-1000000}
OUT=${1:-$DIR/RESULTS-tasks.md}
COMMAND="NS=\"$NS\" M=$M bench/tasks/run.sh${1:+ $1}"
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mwtasks.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
KINDS="callback mailbox coroutine sleeping"
BIG=1000000 # the largest N of issue 5's experiment: RSS is judged there

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
# CPU with no deadline, stopped once PATTERN shows in its log. Fails (and
# says why in the log's last line) when PATTERN did not come, the server
# did not exit 0, or its log has lines that void the run.
moonwire_run() {
    local log=$1 script=$2 pattern=$3 seconds=$4 pid rc=0 trouble
    shift 4
    env "$@" taskset -c "$CPU" "$MOONWIRE" -t 0 -l 127.0.0.1:0 "$DIR/$script" 2>"$log" &
    pid=$!
    wait_for "$log" "$pattern" "$seconds" || rc=1
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" || rc=1
    trouble=$(bench_log_trouble "$log")
    [ "$trouble" = 0 ] || rc=1
    [ "$rc" = 0 ] || echo "VOID: pattern or clean exit missing, or $trouble line(s) that void the run" >>"$log"
    return $rc
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

# pending KIND N: "heap / rss" bytes per task, or "skipped (low memory)" /
# "failed"; appends "KIND N heap rss" to $TMP/mem for a figure that counts.
pending() {
    local line ok=1 alive
    if [ "$(available)" -lt $(($2 * $(need "$1"))) ]; then
        echo "skipped (low memory)"
        return
    fi
    if [ "$1" = erlang ]; then
        taskset -c "$CPU" erl -noshell +P 4000000 -pa "$TMP" -run tasks_bench pending "$2" \
            2>"$TMP/erl.log" || ok=
        line=$(grep "^RESULT" "$TMP/erl.log")
    else
        moonwire_run "$TMP/$1.log" pending.lua "^RESULT" 600 KIND="$1" N="$2" || ok=
        line=$(grep "^RESULT" "$TMP/$1.log")
    fi
    # RESULT kind n heap rss tasks=T: all N tasks must still be alive.
    alive=${line##*tasks=}
    [ -n "$ok" ] && [ -n "$line" ] && [[ $alive =~ ^[0-9]+$ ]] && [ "$alive" -ge "$2" ] ||
        { echo "failed"; return; }
    echo "$line" | awk '{ printf "%s / %s", $4, $5 }'
    echo "$line" | awk '{ print $2, $3, $4, $5 }' >>"$TMP/mem"
}

# rate WHAT: a RATE figure of a clean rates run, or nothing.
rate() {
    [ -f "$TMP/rates.ok" ] || return 0
    awk -v w="$1" '$1 == "RATE" && $2 == w { print $3 }' "$TMP/rates.log"
}

# memory_target KIND LIMIT: the verdict on bytes per pending task of KIND:
# the heap's count at every N measured and the RSS at N = BIG both at most
# LIMIT, every N of the run measured.
memory_target() {
    local kind=$1 limit=$2 n
    local heap rss worst measured=0 wanted=0
    for n in $NS; do
        wanted=$((wanted + 1))
        grep -q "^$kind $n " "$TMP/mem" 2>/dev/null && measured=$((measured + 1))
    done
    worst=$(awk -v k="$kind" '$1 == k { if (w == "" || $3 > w) { w = $3; at = $2 } }
        END { if (w != "") printf "%s (N = %s)", w, at }' "$TMP/mem" 2>/dev/null)
    rss=$(awk -v k="$kind" -v n="$BIG" '$1 == k && $2 == n { print $4 }' "$TMP/mem" 2>/dev/null)
    heap=${worst%% *}
    printf '| at most %s bytes per %s | heap bytes per task at every N, and RSS bytes per task at N = %s | heap %s; RSS %s | ' \
        "$limit" "$3" "$BIG" "${worst:-none}" "${rss:-not measured}"
    if [ "$measured" -lt "$wanted" ]; then
        echo "no verdict ($((wanted - measured)) of $wanted N not measured or failed) |"
    elif [ -z "$rss" ]; then
        echo "no verdict (N = $BIG not in this run) |"
    else
        awk -v h="$heap" -v r="$rss" -v l="$limit" 'BEGIN { print (h <= l && r <= l ? "**met**" : "missed") " |" }'
    fi
}

erlc -o "$TMP" "$DIR/tasks_bench.erl" || exit 1
{
    echo "# Tasks: memory and speed"
    echo
    echo "_Generated by \`$COMMAND\` on $DATE._"
    echo
    echo "Run by \`bench/tasks/run.sh\` on $DATE, pinned with"
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
    echo "erlang: \`spawn(fun() -> receive after infinity -> I end end)\`. \"failed\": the"
    echo "run gave no figure, had fewer than N tasks alive, did not exit 0 or left a worker's"
    echo "death, a sanitizer report, a Lua panic or an error in its log."
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

moonwire_run "$TMP/rates.log" rates.lua "^DONE" 1200 M="$M" && touch "$TMP/rates.ok"
taskset -c "$CPU" erl -noshell +P 4000000 -pa "$TMP" -run tasks_bench rates "$M" \
    2>>"$TMP/rates.log"
{
    echo
    echo "Per second of processor time, M = $M (\`rates.lua\`, \`tasks_bench:rates/1\`):"
    echo
    echo "| what | per second |"
    echo "|---|--:|"
    grep "^RATE" "$TMP/rates.log" | awk '{ printf "| %s | %s |\n", $2, $3 }'
    [ -f "$TMP/rates.ok" ] || echo "| (moonwire's rates run is void: $(tail -n 1 "$TMP/rates.log")) | |"
} | tee -a "$OUT"

spawn=$(rate spawn)
steady=$(rate spawn_steady)
{
    echo
    echo "## Targets (issue 5)"
    echo
    echo "_Generated by \`$COMMAND\` on $DATE._"
    echo
    echo "Each target is judged on the metric issue 5 names, by this rule: **met** only"
    echo "when every figure it needs came from a run that counts (above); otherwise \"no"
    echo "verdict\" and why. Bytes per task: the heap's own count at every N (RSS at small"
    echo "N is mostly the pages and tables any run touches) and the RSS at N = $BIG."
    echo "Spawns per second: \`spawn\` with M = $BIG, the experiment of the issue (M spawns"
    echo "in one go, each task a fresh closure, all pending until the loop runs them);"
    echo "\`spawn_steady\` (batches of 1,000 run between them, so memory is reused rather"
    echo "than faulted in) is shown beside it and is not the verdict."
    echo
    echo "| target | metric the verdict uses | figure | verdict |"
    echo "|---|---|---|---|"
    memory_target callback 128 "pending callback task"
    memory_target coroutine 768 "parked coroutine task"
    printf '| at least 5,000,000 spawns per second on one core | `spawn`, M = %s | %s (beside it: `spawn_steady` %s) | %s |\n' \
        "$M" "${spawn:-none}" "${steady:-none}" \
        "$(if [ -z "$spawn" ]; then echo "no verdict (no clean rates run)"
        elif [ "$M" -lt "$BIG" ]; then echo "no verdict (M below $BIG)"
        else awk -v s="$spawn" 'BEGIN { print (s >= 5000000 ? "**met**" : "missed") }'; fi)"
} | tee -a "$OUT"
# A failed run fails this run of the benchmark too (skipped for memory is no failure).
! grep -q '| failed' "$OUT" && [ -f "$TMP/rates.ok" ]
