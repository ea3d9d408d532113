#!/bin/sh
# require finds the project's Lua library (build tree here; the installed
# one is checked by make installcheck), modules next to the script (before
# ./, from whatever directory moonwire runs in), modules on LUA_PATH, and the
# Lua 5.1 modules of Debian and LuaRocks: Debian's lua-cjson and lua-lpeg.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 13
unset LUA_PATH LUA_CPATH # set below where the test means it

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

# An application in its own directory: main.lua requires helper, which
# requires its own sibling; another helper.lua waits in the directory
# moonwire runs in, which the script's must come before.
mkdir "$TMP/app" "$TMP/cwd"
cat >"$TMP/app/main.lua" <<'LUA'
local helper = require "helper"
io.stderr:write("HELPER ", helper.where, "\n")
io.stderr:write("PATH ", package.path, "\n", "CPATH ", package.cpath, "\n")
return { on_data = function() end }
LUA
printf 'return { where = "beside the script, " .. require("helper_dep") }\n' >"$TMP/app/helper.lua"
printf 'return "and beside it too"\n' >"$TMP/app/helper_dep.lua"
printf 'return { where = "in ./" }\n' >"$TMP/cwd/helper.lua"

# check_in DIR SCRIPT: moonwire --check SCRIPT run in DIR; stderr in $TMP/err.
check_in() { (cd "$1" && "$MOONWIRE" --check "$2" >/dev/null 2>"$TMP/err"); }

check_in / "$TMP/app/main.lua"
check "a module next to the script, and one next to that, are found from another directory" \
    contains "$TMP/err" "HELPER beside the script, and beside it too"
check_in "$TMP/cwd" "$TMP/app/main.lua"
check "the script's directory comes before ./" \
    contains "$TMP/err" "HELPER beside the script, and beside it too"
check_in "$TMP" app/main.lua
check "a script named by a relative path finds its siblings" \
    contains "$TMP/err" "HELPER beside the script, and beside it too"

# Two listeners with a script each, in directories of their own (-l ADDR=SCRIPT).
mkdir "$TMP/b"
printf 'io.stderr:write("B ", require("b_helper"), "\\n")\nreturn { on_data = function() end }\n' \
    >"$TMP/b/main.lua"
printf 'return "beside b"\n' >"$TMP/b/b_helper.lua"
(cd / && "$MOONWIRE" --check -l "127.0.0.1:0=$TMP/app/main.lua" -l "127.0.0.1:0=$TMP/b/main.lua" \
    >/dev/null 2>"$TMP/err")
check "each listener's script finds its own siblings" \
    bash -c "grep -qF 'HELPER beside the script, and beside it too' '$TMP/err' && grep -qF 'B beside b' '$TMP/err'"

# once LIST ENTRY: ENTRY is one of LIST's ';'-separated entries, once.
once() {
    n=$(echo "$1" | tr ';' '\n' | grep -cxF -- "$2")
    [ "$n" -eq 1 ] && return 0
    echo "# '$2' is on the path $n times: $1"
    return 1
}
# on_paths: each Lua 5.1 module directory of Debian and LuaRocks is on the
# path once (LuaJIT's default has some of them), the multiarch one with the
# build's triplet.
on_paths() {
    path=$(sed -n 's/^PATH //p' "$TMP/err") cpath=$(sed -n 's/^CPATH //p' "$TMP/err")
    triplet=$(sed -n 's/^#define MW_MULTIARCH "\(.*\)"$/\1/p' "${MW_BUILDDIR:-$(dirname "$MOONWIRE")}/config.h")
    bad=0
    for d in /usr/local/share/lua/5.1 /usr/local/lib/lua/5.1 /usr/share/lua/5.1; do
        once "$path" "$d/?.lua" && once "$path" "$d/?/init.lua" || bad=1
    done
    for d in /usr/local/lib/lua/5.1 ${triplet:+/usr/lib/$triplet/lua/5.1} /usr/lib/lua/5.1; do
        once "$cpath" "$d/?.so" || bad=1
    done
    return $bad
}
check "Debian's and LuaRocks' Lua 5.1 module directories are on the paths, once each" on_paths

LUA_PATH="$TMP/?.lua" LUA_CPATH="$TMP/?.so" check_in / "$TMP/app/main.lua"
check "a LUA_PATH without ';;' replaces the rest of the path, after the library and the script's directory" \
    grep -qE "^PATH [^;]*/lua/\?\.lua;[^;]*/lua/\?/init\.lua;$TMP/app/\?\.lua;$TMP/app/\?/init\.lua;$TMP/\?\.lua\$" "$TMP/err"
check "... and a LUA_CPATH without ';;' is the whole cpath" contains "$TMP/err" "CPATH $TMP/?.so"

# Debian's lua-cjson and lua-lpeg (and lpeg's re.lua, in /usr/share/lua/5.1).
cat >"$TMP/app/debian.lua" <<'LUA'
local cjson, lpeg, re = require "cjson", require "lpeg", require "re"
assert(cjson.encode({ n = 1 }) == '{"n":1}' and cjson.decode("[1,2]")[2] == 2)
assert(lpeg.match(lpeg.R("09") ^ 1 * -1, "2026") == 5 and re.find("a42", "[0-9]+") == 2)
io.stderr:write("DEBIAN ok\n")
return { on_data = function() end }
LUA
check_in / "$TMP/app/debian.lua"
dpkg-query -W lua-cjson lua-lpeg >/dev/null 2>&1 || echo "# lua-cjson or lua-lpeg is not installed: sh .ci/deps test"
check 'require "cjson", "lpeg" and "re" load Debian'"'"'s lua-cjson and lua-lpeg' \
    contains "$TMP/err" "DEBIAN ok"
finish
