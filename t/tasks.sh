#!/bin/bash
# Tasks: callback, mailbox and coroutine tasks keep their order, share the
# loop fairly with sockets and timers, end alone on errors, and give their
# memory back. The Lua scripts check themselves and print RESULT lines.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 53

# run_script NAME SECONDS [OPTION...]: starts t/scripts/NAME.lua and waits
# for its DONE.
run_script() {
    name=$1 seconds=$2
    shift 2
    start_server "$name" -l 127.0.0.1:0 "$@" "$SCRIPTS/$name.lua" || return 1
    for _ in $(seq $((seconds * 20))); do
        grep -q "^DONE" "$LOG" && return 0
        sleep 0.05
    done
    echo "# $name did not finish:" && sed 's/^/#   /' "$LOG" | tail -20
    return 1
}

run_script task_order 20
ok $? "ordering script runs to the end"
results spawn_waits_for_loop spawn_inside_a_batch_waits_for_the_next spawn_order_and_batches \
    spawn_arguments_with_nil sleep_in_callback_task_is_error self_outside_a_task_is_nil \
    mailbox_order mailbox_all_delivered mailbox_sent_from_inside_is_last mailbox_one_at_a_time \
    stop_returns_true_then_false send_to_stopped_is_error alive_after_stop \
    on_stop_once_with_reason sleep_order receive_in_order_then_timeout self_is_the_task \
    receive_of_another_task_is_error stop_from_outside stopped_sleeper_never_wakes \
    self_stop_ends_at_once message_before_timeout_cancels_it
check "no ordering check failed" no_failures
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]

run_script task_errors 20
ok $? "error script runs to the end"
results spawn_needs_a_function task_needs_on_message after_rejects_negative_time \
    every_rejects_zero_interval go_needs_a_function a_timer_is_not_a_task a_task_is_not_a_timer \
    message_error_stops_that_task send_after_error_is_error repeating_timer_cancelled_after_error \
    other_tasks_keep_running all_ended_tasks_are_counted_out
# Lua shortens a long script path to "...tail", so only its end is matched.
check "a callback task's error is logged" grep -qE "spawned task: .*task_errors.lua:12: spawn boom" "$LOG"
check "a coroutine task's error is logged" grep -qE "coroutine: .*task_errors.lua:13: go boom" "$LOG"
check "a message handler's error is logged" grep -qE "on_message: .*task_errors.lua:21: message boom" "$LOG"
check "an error that is not a string is described" contains "$LOG" "(error object is a table value)"
check "errors come with a traceback" contains "$LOG" "stack traceback:"
check "a repeating timer says it was cancelled" contains "$LOG" "repeating timer cancelled after this error"
stop_server
check "server exits 0 after task errors" [ "$STATUS" -eq 0 ]

start_server fairness -l 127.0.0.1:0 "$SCRIPTS/task_fairness.lua"
reply=$(printf 'still served\n' | socat -T 3 - "TCP:127.0.0.1:$PORT")
check "endless tasks do not starve a socket" [ "$reply" = "still served" ]
check "endless tasks do not starve a timer" comes_to "$LOG" "timer fired while busy"
stop_server
check "a busy server still stops on SIGTERM" [ "$STATUS" -eq 0 ]

# Full collections of 600,000 dead objects are what it measures, not what a
# deadline is for: no deadline here.
run_script task_memory 120 -t 0
ok $? "memory script runs to the end"
results heap_returns counts_return_to_zero
grep "heap in use" "$LOG" | sed 's/^/# /'
stop_server

MW_TEST_JIT_OFF=1 run_script task_memory 120 -t 0
ok $? "memory script runs to the end without the JIT"
grep -q "^RESULT heap_returns ok 0" "$LOG"
ok $? "without the JIT the heap returns to the byte"
grep "heap in use" "$LOG" | sed 's/^/# /'
stop_server
finish
