#!/bin/bash
# Loops LuaJIT compiles into traces run no hook, so their deadline cannot be
# raised: past --grace the scheduler thread logs what runs and ends the
# worker; the master replaces it, and a client of the other worker sees no
# interruption.
. "${MW_SRCDIR:-.}/t/lib.sh"
. "$MW_SRCDIR/t/workers_helpers.sh"
plan 16

# who FD: the worker that serves FD ("0" or "1").
who() {
    ask "$1" who
    echo "${REPLY#worker }"
}

# open_on_other WORKER: opens connections until one lands on a worker other
# than WORKER; its descriptor in VICTIM, the worker in VICTIM_WORKER.
open_on_other() {
    for _ in $(seq 50); do
        exec {VICTIM}<>"/dev/tcp/127.0.0.1/$PORT"
        VICTIM_WORKER=$(who "$VICTIM")
        [ -n "$VICTIM_WORKER" ] && [ "$VICTIM_WORKER" != "$1" ] && return 0
        exec {VICTIM}>&-
    done
    return 1
}

# pings N: N requests on fd 3, 50 ms apart; sets ANSWERED and SLOWEST (ms).
pings() {
    ANSWERED=0 SLOWEST=0
    for i in $(seq "$1"); do
        t0=$(date +%s%N)
        ask 3 "ping $i"
        t=$((($(date +%s%N) - t0) / 1000000))
        [ "$REPLY" = "ping $i" ] && ANSWERED=$((ANSWERED + 1))
        [ "$t" -gt "$SLOWEST" ] && SLOWEST=$t
        sleep 0.05
    done
}

# count PATTERN: lines of the log that match.
count() { grep -c -- "$1" "$LOG"; }

# runaway COMMAND N: sends COMMAND to a worker other than fd 3's and checks
# that it is ended by grace and replaced while fd 3 is served throughout.
runaway() {
    open_on_other "$observer"
    ok $? "$1: a connection lands on the other worker ($VICTIM_WORKER)"
    victim_pid=$(worker_pid "$VICTIM_WORKER")
    printf '%s\n' "$1" >&"$VICTIM"
    pings 24
    echo "# $1: $ANSWERED of 24 pings answered on worker $observer, slowest $SLOWEST ms"
    check "$1: the other worker answers every request meanwhile" [ "$ANSWERED" -eq 24 ]
    ENDED=$2
    ended() { [ "$(count "on_data still running .* past --grace 300 ms")" -ge "$ENDED" ]; }
    check "$1: past --grace, the thread logs what runs and ends the worker" wait_for ended
    check "$1: the master logs the kill" \
        wait_for grep -q "worker $VICTIM_WORKER (pid $victim_pid) killed by signal 9" "$LOG"
    replaced() { [ -n "$(worker_pid "$VICTIM_WORKER")" ] && [ "$(worker_pid "$VICTIM_WORKER")" != "$victim_pid" ]; }
    check "$1: and replaces it" wait_for replaced
    check "$1: the runaway's connection is closed" at_eof "$VICTIM"
    exec {VICTIM}>&-
}

start_server grace -w 2 --timeout 200 --grace 300 -l 127.0.0.1:0 "$SCRIPTS/deadline_compiled.lua"
expect_deaths 2 # the two runaways, ended by the grace kill
wait_for workers_started 2
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
observer=$(who 3)
check "the observer is served by a worker" [ -n "$observer" ]

runaway compiled 1
check "a compiled 'while true do end' is never reached by the hook" \
    sh -c "! grep -q 'deadline exceeded' '$LOG'"
runaway inlined 2
check "neither is a loop calling an inlined Lua function" sh -c "! grep -q 'deadline exceeded' '$LOG'"
exec 3>&-
stop_server
check "the master still stops with exit 0" [ "$STATUS" -eq 0 ]
finish
