#!/bin/sh
# Both reference pages are well-formed (their contents against --help and the
# Lua API are checked by t/apidoc.sh).
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 2

check "moonwire(1) lints clean" lint_page "$MW_SRCDIR/man/moonwire.1"
check "moonwire-lua(3) lints clean" lint_page "$MW_SRCDIR/man/moonwire-lua.3"
finish
