#!/bin/bash
# SIGHUP: the script is checked first; new workers serve the new code while
# the old ones drain; nothing in flight is lost; a broken script changes
# nothing.
. "${MW_SRCDIR:-.}/t/lib.sh"
. "$MW_SRCDIR/t/workers_helpers.sh"
plan 21
trap '' PIPE # a write to a connection the server closed fails, not the test

LOADGEN="$MW_TESTBIN/../bench/loadgen/loadgen"
handler="$TMP/handler.lua"

# version_of FD: the script version the worker behind FD runs.
version_of() { ask "$1" version && echo "${REPLY% worker *}"; }

# reloads_done N: N reloads have started their new workers.
reloads_done() { [ "$(grep -c 'reload: 2 new worker(s) serve' "$LOG")" -ge "$1" ]; }

# all_v2 ANSWERS...: every answer is v2 (and there are some).
all_v2() { [ $# -gt 0 ] && for a in "$@"; do [ "$a" = v2 ] || return 1; done; }

# ask_worker0: asks "version" on new connections until one lands on worker 0
# (10 s at most); its answer in REPLY.
ask_worker0() {
    local until=$((SECONDS + 10))
    while [ "$SECONDS" -lt "$until" ]; do
        exec 7<>"/dev/tcp/127.0.0.1/$PORT"
        ask 7 version
        exec 7>&-
        case "$REPLY" in *" worker 0") return 0 ;; esac
    done
    return 1
}

cp "$SCRIPTS/worker_v1.lua" "$handler"
# --shutdown-timeout 6: the load (4 s) ends within it, an idle client not.
start_server reload -w 2 -l 127.0.0.1:0 --shutdown-timeout 6 "$handler"
wait_for workers_started 2
old0=$(worker_pid 0) old1=$(worker_pid 1)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
check "before the reload: v1 answers" [ "$(version_of 3)" = v1 ]
"$LOADGEN" -c 20 -t 4 -w 0 "127.0.0.1:$PORT" >"$TMP/loadgen.out" 2>&1 &
loadgen=$!
wait_for accepted 21 # the load's 20 connections and fd 3
cp "$SCRIPTS/worker_v2.lua" "$handler"
kill -HUP "$PID"
check "the script is checked before the reload" \
    wait_for contains "$LOG" "Hangup: checking $handler"
check "new workers start" wait_for reloads_done 1
check "... while the load still runs" kill -0 "$loadgen"
wait "$loadgen"
check "the load generator ran through the reload" [ $? -eq 0 ]
sed 's/^/# /' "$TMP/loadgen.out"
check "reload under load: zero mismatches, zero errors" \
    contains "$TMP/loadgen.out" "mismatched bytes: 0, errors: 0"
check "and requests were answered" grep -q "^requests: [1-9]" "$TMP/loadgen.out"
exec 4<>"/dev/tcp/127.0.0.1/$PORT"
check "a new connection gets the new code" [ "$(version_of 4)" = v2 ]
check "an idle client of an old worker is kept, and served the old code" [ "$(version_of 3)" = v1 ]
check "... until --shutdown-timeout, then closed (EOF, not a reset)" closes_within 6000 3
exec 3>&-
check "old worker 0 drains and exits 0" \
    wait_for grep -q "old worker 0 (pid $old0) exited with status 0" "$LOG"
check "old worker 1 drains and exits 0" \
    wait_for grep -q "old worker 1 (pid $old1) exited with status 0" "$LOG"

# A client that keeps asking, every 50 ms, while the code goes back to v1:
# three times before the reload, then until the new workers serve (5 s at
# most) and three times more.
across="" after=0
for i in $(seq 100); do
    if [ "$i" -eq 4 ]; then
        cp "$SCRIPTS/worker_v1.lua" "$handler"
        kill -HUP "$PID"
    fi
    across="$across $(version_of 4)"
    [ "$i" -gt 4 ] && reloads_done 2 && after=$((after + 1))
    [ "$after" -ge 3 ] && break
    sleep 0.05
done
echo "# answers across the reload:$across"
check "the reload's new workers serve while that client keeps asking" [ "$after" -ge 3 ]
# shellcheck disable=SC2086
check "a client busy across the reload stays with its old worker" all_v2 $across
exec 5<>"/dev/tcp/127.0.0.1/$PORT"
check "while new connections get the new code" [ "$(version_of 5)" = v1 ]
exec 4>&-

new0=$(worker_pid 0) new1=$(worker_pid 1)
cp "$SCRIPTS/syntax_error.lua" "$handler"
kill -HUP "$PID"
check "a broken script on reload is logged" \
    wait_for grep -q "reload: $handler failed its check (exited with status 1)" "$LOG"
check "the running workers keep serving the old code" [ "$(version_of 5)" = v1 ]
same() { [ "$(worker_pid 0) $(worker_pid 1)" = "$new0 $new1" ] && kill -0 "$new0" "$new1"; }
check "and no worker was replaced" same
exec 5>&-
# A worker that dies now is replaced with the text that passed its check,
# not with the broken file now on disk.
kill -KILL "$new0"
expect_deaths 1
replaced() { p=$(worker_pid 0); [ -n "$p" ] && [ "$p" != "$new0" ] && kill -0 "$p"; }
check "a worker killed after the failed reload is replaced" wait_for replaced
stays() { p=$(worker_pid 0); kill -0 "$p" && ! grep -q "worker 0 (pid $p) exited" "$LOG"; }
old_code() { ask_worker0 && [ "$REPLY" = "v1 worker 0" ] && stays; }
check "and it serves the old code, not the broken file (it answers v1, and runs on)" old_code
stop_server
check "stop after reloads: exit 0" [ "$STATUS" -eq 0 ]
finish
