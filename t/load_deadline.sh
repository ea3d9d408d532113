#!/bin/bash
# A script whose top level never finishes: it runs under --timeout (the hook
# raises at its line) and --grace (a compiled loop's check is killed), so
# --check, the start and a reload fail in bounded time with exit 1 and
# "file:line: deadline exceeded while loading"; the master answers SIGTERM
# and SIGINT while the start-up check runs, and a checking child dies with
# the process that started it.
. "${MW_SRCDIR:-.}/t/lib.sh"
. "$MW_SRCDIR/t/workers_helpers.sh"
plan 31

spin="$SCRIPTS/load_spin.lua"          # compiled: beyond the hook
interp="$SCRIPTS/load_spin_interp.lua" # jit.off: the hook raises at line 5
groups=""

# Every moonwire here runs in a session of its own: a build that leaves a
# spinning child behind (the bug) still has it killed, with its group, at exit.
kill_groups() {
    for g in $groups; do
        kill -KILL -- "-$g" 2>/dev/null
    done
}
trap 'st=$?; kill_groups; (exit $st); cleanup' EXIT

# spawn NAME ARGS...: starts moonwire ARGS in its own session, stderr to
# $TMP/NAME.log ($LOG); sets PID and STARTED (date +%s%N).
spawn() {
    LOG="$TMP/$1.log"
    shift
    watch_log "$LOG"
    STARTED=$(date +%s%N)
    setsid "$MOONWIRE" "$@" >"$LOG.out" 2>"$LOG" &
    PID=$!
    groups="$groups $PID"
}

# exits_within SECONDS: $PID exits within SECONDS; sets STATUS and TOOK_MS.
exits_within() {
    for _ in $(seq $(($1 * 20))); do
        if ! kill -0 "$PID" 2>/dev/null; then
            wait "$PID"
            STATUS=$?
            TOOK_MS=$((($(date +%s%N) - STARTED) / 1000000))
            echo "# pid $PID exited with status $STATUS after $TOOK_MS ms"
            return 0
        fi
        sleep 0.05
    done
    echo "# pid $PID still running after $1 s:" && sed 's/^/#   /' "$LOG" | tail -5
    return 1
}

# fails_within SECONDS: $PID exits within SECONDS, with status 1.
fails_within() {
    exits_within "$1" && [ "$STATUS" -eq 1 ]
}

# checker_of PID: the one child of PID (the script check), in CHECKER, found
# by its parent once the script's top level has begun (it logs it).
checker_of() {
    CHECKER=""
    wait_for contains_quietly "$LOG" "top level: spinning" || return 1
    CHECKER=$(pgrep -P "$1")
    echo "# children of $1: ${CHECKER:-none}"
    is_number "$CHECKER"
}
contains_quietly() { grep -qF -- "$2" "$1"; }

# gone_within SECONDS PID: PID is gone (or a zombie) within SECONDS.
gone_within() {
    for _ in $(seq $(($1 * 20))); do
        alive "$2" || return 0
        sleep 0.05
    done
    echo "# pid $2 still running after $1 s: $(ps -o pid=,ppid=,stat=,pcpu= -p "$2")"
    return 1
}

# ---- --check ----

spawn check_interp --check --timeout 200 "$interp"
check "--check of a jit.off 'while true do end' at the top level exits 1 in bounded time" \
    fails_within 10
check "... with file:line: deadline exceeded while loading" \
    contains "$LOG" "load_spin_interp.lua:5: deadline exceeded while loading (200 ms"
check "... and no 'ok'" sh -c "! grep -q ok '$LOG.out'"

spawn check_compiled --check --timeout 200 --grace 300 "$spin"
check "--check of a compiled 'while true do end' exits 1 in bounded time (past --grace)" \
    fails_within 10
check "... saying the check was killed, naming the script" contains "$LOG" \
    "$spin: deadline exceeded while loading: its top level still ran past --timeout 200 ms and --grace 300 ms"

spawn check_slow --check --timeout 100 "$SCRIPTS/load_slow_ok.lua"
exits_within 20 && [ "$STATUS" -eq 0 ] && contains "$LOG.out" "load_slow_ok.lua: ok"
ok $? "a top level that asks mw.deadline for longer than --timeout loads: --check says ok"

# ---- the start ----

spawn start_interp -l 127.0.0.1:0 --timeout 200 "$interp"
check "the server with a jit.off spinning top level exits 1 at start" fails_within 10
check "... with file:line: deadline exceeded while loading" \
    contains "$LOG" "load_spin_interp.lua:5: deadline exceeded while loading"
check "... before binding or starting a worker" \
    sh -c "! grep -qE 'listening on|worker 0 started' '$LOG'"

spawn start_compiled -l 127.0.0.1:0 --timeout 200 --grace 300 "$spin"
check "the server with a compiled spinning top level exits 1 at start" fails_within 10
check "... saying the check was killed, naming the script" \
    contains "$LOG" "$spin: deadline exceeded while loading"

# ---- stops during the start-up check ----

for sig in TERM INT; do
    spawn "stop_$sig" -l 127.0.0.1:0 --timeout 60000 --grace 0 "$spin"
    checker_of "$PID"
    ok $? "SIG$sig: the start-up check runs (a child of the master spins)"
    sleep 0.3
    STARTED=$(date +%s%N)
    kill "-$sig" "$PID"
    check "SIG$sig during the start-up check stops the master promptly" exits_within 5
    check "... with exit status 0, saying so" \
        eval '[ "$STATUS" -eq 0 ] && contains "$LOG" "stopping while $spin was checked; no worker started"'
    check "... and the check is killed" gone_within 5 "$CHECKER"
done

# ---- the parent dies ----

spawn orphan -l 127.0.0.1:0 --timeout 60000 --grace 0 "$spin"
checker_of "$PID"
ok $? "the start-up check runs, found by its parent pid"
{ kill -KILL "$PID" && wait "$PID"; } 2>/dev/null
check "SIGKILL of the master during the check leaves no checking child behind" \
    gone_within 5 "$CHECKER"

spawn check_orphan --check --timeout 60000 --grace 0 "$spin"
checker_of "$PID"
ok $? "--check checks in a child, found by its parent pid"
{ kill -KILL "$PID" && wait "$PID"; } 2>/dev/null
check "SIGKILL of --check leaves no checking child behind" gone_within 5 "$CHECKER"

# ---- a reload ----

handler="$TMP/handler.lua"
cp "$SCRIPTS/worker_v1.lua" "$handler"
start_server reload -w 1 --timeout 200 --grace 300 -l 127.0.0.1:0 "$handler"
worker=$(worker_pid 0)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
ask 3 version
check "before the reloads: v1 answers" [ "$REPLY" = "v1 worker 0" ]
serving() {
    ask 3 version && [ "$REPLY" = "v1 worker 0" ] && [ "$(worker_pid 0)" = "$worker" ] &&
        alive "$worker"
}
n=0
for script in "$interp" "$spin"; do
    n=$((n + 1))
    cp "$script" "$handler"
    kill -HUP "$PID"
    check "reload $n ($(basename "$script")): refused" \
        matches_come_to "$LOG" "$n" "reload: $handler failed its check"
    check "... the old worker keeps serving, not replaced" serving
done
check "the jit.off one: file:line: deadline exceeded while loading" \
    contains "$LOG" "handler.lua:5: deadline exceeded while loading"
check "the compiled one: the check was killed past --grace, and the log says why" \
    contains "$LOG" "$handler: deadline exceeded while loading: its top level still ran past"
exec 3>&-
stop_server
check "the master stops with exit 0 after the refused reloads" [ "$STATUS" -eq 0 ]
finish
