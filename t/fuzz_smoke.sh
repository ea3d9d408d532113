#!/bin/sh
# Each fuzz target fuzzes for a while (MW_FUZZ_SMOKE_SECONDS, 20 s) on a
# scratch copy of its corpus, with its dictionary if it has one, and finds
# nothing. A finding fails the test and is kept in the test's directory
# (crash-*, timeout-*, slow-unit-*).
# Without libFuzzer (configure says so) each target is reported as skipped,
# which .ci/run counts and refuses.
. "${MW_SRCDIR:-.}/t/lib.sh"
TARGETS="framing addr proxyproto resp http"
SECONDS_EACH=${MW_FUZZ_SMOKE_SECONDS:-20}
plan 5

for target in $TARGETS; do
    fuzzer="$MW_BUILDDIR/t/fuzz/fuzz_$target"
    if [ ! -x "$fuzzer" ]; then
        echo "ok $((tap_count += 1)) - fuzz $target for $SECONDS_EACH s # SKIP not built (no libFuzzer)"
        continue
    fi
    cp -r "$MW_SRCDIR/t/fuzz/corpus/$target" "$TMP/corpus-$target"
    dict="$MW_SRCDIR/t/fuzz/$target.dict"
    [ -f "$dict" ] && set -- -dict="$dict" || set --
    # -timeout: a backstop for a hang outside Lua; fuzz_lua.c's own limit is 1 s.
    nice -n 10 "$fuzzer" -max_total_time="$SECONDS_EACH" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$TMP/$target-" "$@" "$TMP/corpus-$target" >"$TMP/$target.log" 2>&1
    status=$?
    [ $status -eq 0 ] || grep -v '^#[0-9]' "$TMP/$target.log" | tail -30 | sed 's/^/#   /'
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$TMP/$target.log")
    ok $status "fuzz $target for $SECONDS_EACH s: ${runs:-no} runs, nothing found"
done
finish
