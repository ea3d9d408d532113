#!/bin/sh
# require finds the project's Lua library (build tree here; the installed
# one is checked by make installcheck) and modules on LUA_PATH.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 5
unset LUA_PATH # set below where the test means it

printf 'return { greeting = "hello from LUA_PATH" }\n' >"$TMP/mw_user_module.lua"
printf 'local mw = require "moonwire"\nassert(type(mw.now()) == "number")\nreturn {}\n' \
    >"$TMP/requires_moonwire.lua"
check 'require "moonwire" works in a script' quiet "$MOONWIRE" --check "$TMP/requires_moonwire.lua"

LUA_PATH="$TMP/?.lua;;" start_server lib -l 127.0.0.1:0 "$SCRIPTS/uses_library.lua"
printf 'AB\n' | socat -T 5 -t 5 - "TCP:127.0.0.1:$PORT" >"$TMP/reply"
check "moonwire.hexdump loads from the build tree's lua/" \
    contains "$TMP/reply" "00000000  41 42 0a"
check "LUA_PATH still works" contains "$TMP/reply" "hello from LUA_PATH"
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]

start_server nolib -l 127.0.0.1:0 "$SCRIPTS/uses_library.lua"
printf 'AB\n' | socat -T 5 -t 5 - "TCP:127.0.0.1:$PORT" >"$TMP/reply"
check "without LUA_PATH the user module is not found" contains "$TMP/reply" "no user module"
stop_server
finish
