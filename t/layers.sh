#!/bin/bash
# The house by floors (HACKING.md), checked on the source: base < core < lua
# < proc; no file includes a header of a floor above its own, nothing below
# the Lua floor names a Lua header, the master's files include none even
# through a moonwire header, no file passes 600 lines, and every room opens
# with a comment saying what it is for.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 6
SRC="$MW_SRCDIR/src"
FLOORS="base core lua proc"

# floor_of HEADER: the floor whose folder holds HEADER (empty: not ours).
floor_of() {
    for floor in $FLOORS; do
        [ -f "$SRC/$floor/$1" ] && echo "$floor" && return
    done
}

# rank FLOOR: 0 for base up to 3 for proc.
rank() {
    n=0
    for floor in $FLOORS; do
        [ "$floor" = "$1" ] && echo $n && return
        n=$((n + 1))
    done
}

# quoted_includes FILE: the headers FILE includes with "...".
quoted_includes() { sed -n 's/^#include "\([^"]*\)".*/\1/p' "$1"; }

# upward: every include that points to a higher floor, as "file -> header".
upward() {
    for floor in $FLOORS; do
        for file in "$SRC/$floor"/*.[ch]; do
            for header in $(quoted_includes "$file"); do
                to=$(floor_of "$header")
                [ -n "$to" ] && [ "$(rank "$to")" -gt "$(rank "$floor")" ] &&
                    echo "$floor/${file##*/} -> $to/$header"
            done
        done
    done
}

# lua_headers FILE...: the files that name a Lua header (lua.h, lauxlib.h, ...).
lua_headers() { grep -lE '#include <(lua|lauxlib|lualib|luajit)\.h>' "$@"; }

# closure FILE: FILE and every moonwire header it reaches through includes.
closure() {
    todo="$1" seen=""
    while [ -n "$todo" ]; do
        set -- $todo
        file=$1
        shift
        todo="$*"
        case " $seen " in *" $file "*) continue ;; esac
        seen="$seen $file"
        for header in $(quoted_includes "$file"); do
            to=$(floor_of "$header")
            [ -n "$to" ] && todo="$todo $SRC/$to/$header"
        done
    done
    echo $seen
}

# master_lua: the master's files that reach a Lua header.
master_lua() {
    for file in "$SRC"/proc/master*.c "$SRC"/proc/main.c; do
        # shellcheck disable=SC2046
        lua_headers $(closure "$file") >/dev/null && echo "${file##*/}"
    done
}

# uncommented: the rooms that do not open with a comment (a .c file may
# lean on its own header's).
uncommented() {
    for file in "$SRC"/*/*.[ch]; do
        head -n 1 "$file" | grep -q '^/\*' && continue
        own=${file%.c}.h
        [ "${file%.c}" != "$file" ] && [ -f "$own" ] && head -n 1 "$own" | grep -q '^/\*' &&
            continue
        echo "${file#"$SRC"/}"
    done
}

check "src/ has exactly the four floors" \
    [ "$(find "$SRC" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort | tr '\n' ' ')" = \
        "base core lua proc " ]
check "and no source file outside them" [ -z "$(find "$SRC" -maxdepth 1 -type f -name '*.[ch]')" ]
upward >"$TMP/upward"
check "no include points to a higher floor" bash -c "! sed 's/^/# /' '$TMP/upward' | grep ."
lua_headers "$SRC"/base/* "$SRC"/core/* >"$TMP/lua_below"
check "no file of base or core names a Lua header" bash -c "! sed 's/^/# /' '$TMP/lua_below' | grep ."
master_lua >"$TMP/master_lua"
check "the master's files reach no Lua header, even through ours" \
    bash -c "! sed 's/^/# /' '$TMP/master_lua' | grep ."
{ wc -l "$SRC"/*/*.[ch] | awk '$2 != "total" && $1 > 600'; uncommented; } >"$TMP/rooms"
check "no file over 600 lines, each room opens with what it is for" \
    bash -c "! sed 's/^/# /' '$TMP/rooms' | grep ."
finish
