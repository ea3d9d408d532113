#!/bin/sh
# The reference pages cover the program and the Lua API, both ways: every
# --help option is in moonwire(1) and every long option there is in --help;
# every function the moonwire module, conn, task, timer and metric objects
# and the resp and http libraries export is in moonwire-lua(3), and every
# function that page documents exists. (t/manlint.sh lints both pages.)
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 5

page1="$MW_SRCDIR/man/moonwire.1"
page3="$MW_SRCDIR/man/moonwire-lua.3"

# at_least N FILE: FILE has N lines or more (a list that came out empty
# would make the comparisons below pass).
at_least() { [ "$(wc -l <"$2")" -ge "$1" ]; }

"$MOONWIRE" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u >"$TMP/help"
grep -o 'Fl Fl [a-z][a-z-]*' "$page1" | sed 's/Fl Fl /--/' | sort -u >"$TMP/page1"
missing=$(comm -23 "$TMP/help" "$TMP/page1" | tr '\n' ' ')
at_least 15 "$TMP/help" && [ -z "$missing" ]
ok $? "every --help option ($(wc -l <"$TMP/help")) is in moonwire(1)${missing:+ (missing: $missing)}"
extra=$(comm -13 "$TMP/help" "$TMP/page1" | tr '\n' ' ')
at_least 15 "$TMP/page1" && [ -z "$extra" ]
ok $? "every long option in moonwire(1) ($(wc -l <"$TMP/page1")) is in --help${extra:+ (not in --help: $extra)}"

"$MOONWIRE" --check "$SCRIPTS/api_names.lua" 2>"$TMP/names" >/dev/null
status=$?
sed -n 's/^NAME //p' "$TMP/names" | sort -u >"$TMP/api"
kinds=$(sed 's/[.:].*//' "$TMP/api" | sort -u | tr '\n' ' ')
[ "$status" -eq 0 ] && [ "$kinds" = "conn counter gauge histogram http mw reply resp task timer " ]
ok $? "the API's names were listed: $(wc -l <"$TMP/api") names, of $kinds(exit $status)"
prefixes='\(mw\.\|mw\.metrics\.\|conn:\|task:\|timer:\|counter:\|gauge:\|histogram:\|resp\.\|reply:\|http\.\)[a-z_]*'
grep -o "\(Fn\|Va\) $prefixes" "$page3" | sed 's/^\(Fn\|Va\) //' | sort -u >"$TMP/documented"
grep -o "Fn $prefixes" "$page3" | sed 's/^Fn //' | sort -u >"$TMP/documented_fn"
missing=$(comm -23 "$TMP/api" "$TMP/documented" | tr '\n' ' ')
[ -z "$missing" ]
ok $? "every exported function and field ($(wc -l <"$TMP/api")) is in moonwire-lua(3)${missing:+ (missing: $missing)}"
extra=$(comm -13 "$TMP/api" "$TMP/documented_fn" | tr '\n' ' ')
at_least 40 "$TMP/documented_fn" && [ -z "$extra" ]
ok $? "every function moonwire-lua(3) documents ($(wc -l <"$TMP/documented_fn")) exists${extra:+ (no such function: $extra)}"
finish
