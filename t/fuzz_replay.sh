#!/bin/sh
# Every input of the committed fuzzing corpora still runs clean (ASan, UBSan).
# Fuzzing itself: make fuzz, then t/fuzz/fuzz_framing t/fuzz/corpus/framing;
# a short run of each target in make check: t/fuzz_smoke.sh.
# Without libFuzzer (configure says so) each target is reported as skipped,
# which .ci/run counts and refuses.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 5

for target in framing addr proxyproto resp http; do
    fuzzer="$MW_BUILDDIR/t/fuzz/fuzz_$target"
    if [ ! -x "$fuzzer" ]; then
        echo "ok $((tap_count += 1)) - fuzz corpus of $target # SKIP not built (no libFuzzer)"
        continue
    fi
    "$fuzzer" -runs=0 "$MW_SRCDIR/t/fuzz/corpus/$target" >"$TMP/$target.log" 2>&1
    status=$?
    [ $status -eq 0 ] || sed 's/^/#   /' "$TMP/$target.log" | tail -20
    ok $status "fuzz corpus of $target replays clean ($(ls "$MW_SRCDIR/t/fuzz/corpus/$target" | wc -l) inputs)"
done
finish
