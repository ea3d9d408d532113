#!/bin/bash
# moonwire.resp on its own: command parsing (multibulk, inline, incomplete
# input, limits), commands in pieces cut anywhere (resp.parser, and
# resp.server's on_data with a stand-in connection), encoding and reply
# decoding. The cases are named here, so one the script does not report fails.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 38

CASES="multibulk_parsed inline_after_multibulk incomplete_bulk_says_what_it_needs
    incomplete_header bulk_may_hold_crlf bulk_over_max_is_error inline_over_64k_is_error
    inline_split_and_quotes encode_bulk encode_integer encode_big_integer encode_null
    encode_nested_array encode_error_and_simple command helpers decode_array decode_error
    decode_incomplete decode_garbage
    parser_whole_stream parser_split_at_every_byte parser_one_byte_at_a_time
    parser_says_body_bytes_missing parser_many_pieces parser_inline_in_pieces
    parser_errors_across_pieces parser_line_limits_across_pieces
    parser_count_line_limit_across_pieces parser_length_line_limit_across_pieces parser_max_bulk
    server_any_pieces_same_replies server_frames_big_body server_lets_go_of_argv
    server_big_reply_not_joined"

LOG=$TMP/resp_unit.log # what results reads; finish looks in it for sanitizer reports
"$MOONWIRE" --check "$SCRIPTS/resp_unit.lua" 2>"$LOG" >&2
ok $? "moonwire --check exits 0"
check "the script loads and runs to the end" grep -q '^DONE' "$LOG"
# shellcheck disable=SC2086
results $CASES
check "it reports those 35 cases and no others" [ "$(grep -c '^RESULT ' "$LOG")" -eq 35 ]
finish
