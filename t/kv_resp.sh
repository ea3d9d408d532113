#!/bin/sh
# moonwire.resp on its own: command parsing (multibulk, inline, incomplete
# input, limits), encoding and reply decoding.
. "${MW_SRCDIR:-.}/t/lib.sh"
"$MOONWIRE" --check "$SCRIPTS/resp_unit.lua" 2>"$TMP/out" >&2
status=$?
n=$(grep -c '^RESULT ' "$TMP/out")
plan $((n + 2))
check "the script loads and runs to the end" grep -q '^DONE' "$TMP/out"
ok $status "moonwire --check exits 0"
while read -r _ name verdict detail; do
    [ "$verdict" = ok ]
    ok $? "$name${detail:+ ($detail)}"
done <<EOF2
$(grep '^RESULT ' "$TMP/out")
EOF2
finish
