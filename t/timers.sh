#!/bin/bash
# Timers: mw.after and mw.every on the loop, cancel semantics, 100,000
# timers pending at once. The Lua script checks itself (RESULT lines).
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 15

start_server timers -l 127.0.0.1:0 "$SCRIPTS/timer_basics.lua"
for _ in $(seq 400); do
    grep -q "^DONE" "$LOG" && break
    sleep 0.05
done
check "the timer script runs to the end" grep -q "^DONE" "$LOG"
results after_fires_in_time_order every_repeats_until_cancelled \
    cancel_inside_own_callback_then_again every_passes_the_timer pending_after_cancel \
    cancel_before_firing_then_again cancelled_timer_never_fires \
    cancel_of_fired_one_shot_inside_it now_is_loop_time_in_ms hundred_thousand_pending \
    hundred_thousand_fired timers_count_back_to_zero
check "no timer check failed" no_failures
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]
finish
