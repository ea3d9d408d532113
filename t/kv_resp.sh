#!/bin/bash
# moonwire.resp on its own: command parsing (multibulk, inline, incomplete
# input, limits), encoding and reply decoding. The cases are named here, so
# one the script does not report fails.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 23

CASES="multibulk_parsed inline_after_multibulk incomplete_bulk_says_what_it_needs
    incomplete_header bulk_may_hold_crlf bulk_over_max_is_error inline_over_64k_is_error
    inline_split_and_quotes encode_bulk encode_integer encode_big_integer encode_null
    encode_nested_array encode_error_and_simple command helpers decode_array decode_error
    decode_incomplete decode_garbage"

LOG=$TMP/resp_unit.log # what results reads; finish looks in it for sanitizer reports
"$MOONWIRE" --check "$SCRIPTS/resp_unit.lua" 2>"$LOG" >&2
ok $? "moonwire --check exits 0"
check "the script loads and runs to the end" grep -q '^DONE' "$LOG"
# shellcheck disable=SC2086
results $CASES
check "it reports those 20 cases and no others" [ "$(grep -c '^RESULT ' "$LOG")" -eq 20 ]
finish
