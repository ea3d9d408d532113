#!/bin/bash
# --memory-limit costs only the entry that hit it: a runaway handler, serve
# task, callback task, timer or mailbox task gets its memory error (a
# connection of its own is closed with "out of memory") and every other
# connection of the worker goes on being answered, by the same worker.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 12

ASK_TIMEOUT=5
trap '' PIPE # a bystander cut off fails its checks, it does not end the test

# bystander_answers N: the bystander (fd 3) echoes N lines in a row.
bystander_answers() {
    for i in $(seq "$1"); do
        ask 3 "ping $i" && [ "$REPLY" = "ping $i" ] && continue
        echo "# bystander: 'ping $i' answered '$REPLY'"
        return 1
    done
}

# runaway COMMAND: a new connection sends COMMAND and is closed with nothing
# sent back, within 20 s.
runaway() {
    exec 4<>"/dev/tcp/127.0.0.1/$PORT"
    printf '%s\n' "$1" >&4
    closes_silently_within 20000 4
    local status=$?
    exec 4>&-
    return $status
}

# rounds N: N runaways, alternately in the serve task's locals and in
# conn.state, each followed by 10 answers to the bystander.
rounds() {
    for r in $(seq "$1"); do
        cmd=grow
        [ $((r % 2)) -eq 0 ] && cmd=keep
        runaway "$cmd" || { echo "# runaway $r ($cmd) was not closed"; return 1; }
        bystander_answers 10 || { echo "# after runaway $r ($cmd)"; return 1; }
    done
}

start_server runaway --memory-limit 64M -l 127.0.0.1:0 "$SCRIPTS/memory_runaway.lua"
WORKER=$(worker_pid)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
ask 3 stats
START_BYTES=$REPLY
check "a bystander opened first is answered" bystander_answers 1
check "10 runaways, each closed unanswered; the bystander answered 100 times in a row meanwhile" \
    rounds 10
# (on_close of a connection that keeps its runaway table in conn.state may
# itself run out of memory: the access line tells the reason.)
check "each runaway's connection was closed with reason 'out of memory'" \
    matches_come_to "$LOG" 10 'access: .* reason="out of memory"'
check "the memory errors are logged" comes_to "$LOG" ": not enough memory"

ask 3 spawn
check "a runaway callback task (mw.spawn) ..." [ "$REPLY" = spawned ]
check "... fails alone, logged" comes_to "$LOG" "spawned task: not enough memory"
ask 3 timer
check "a runaway timer callback ..." [ "$REPLY" = "timer set" ]
check "... fails alone, logged" comes_to "$LOG" "timer: not enough memory"
ask 3 mailbox
check "a runaway mailbox task ends with reason 'out of memory'" \
    comes_to "$LOG" "mailbox stopped: out of memory"
check "the bystander is still answered, 10 times" bystander_answers 10
check "... by the same worker, never replaced" still_worker "$WORKER"
ask 3 stats
echo "# heap in use: $START_BYTES bytes at the start, $REPLY at the end"
check "the heap is back near where it started" grew_at_most 1048576 "$START_BYTES" "$REPLY"
exec 3>&-
finish
