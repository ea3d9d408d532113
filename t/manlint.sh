#!/bin/sh
# The man page is well-formed and documents every option of --help.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 2

page="$MW_SRCDIR/man/moonwire.1"
case "${MANLINT:-mandoc}" in
*groff) quiet groff -man -ww -z "$page" 2>"$TMP/lint" ;;
*) quiet "${MANLINT:-mandoc}" -Tlint -Wwarning "$page" >"$TMP/lint" 2>&1 ;;
esac
[ $? -eq 0 ] && [ ! -s "$TMP/lint" ]
ok $? "man page lints clean"
sed 's/^/#   /' "$TMP/lint"

missing=""
for opt in $("$MOONWIRE" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    grep -q "Fl Fl ${opt#--}" "$page" || missing="$missing $opt"
done
[ -z "$missing" ]
ok $? "every --help option is in the man page${missing:+ (missing:$missing)}"
finish
