#!/bin/bash
# A misspelled handler field is a warning, not silence: --check and the check
# at start name each unknown field of the handler table and the closest known
# one, and say when a listener's handler serves nothing; mw.connect warns of
# its handler's unknown fields too, where it was called, once.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 24

cat >"$TMP/typo.lua" <<'LUA'
return {
  framing = "line",
  idle_timout = 5000,
  on_dta = function(conn, line)
    conn:write(line, "\n")
  end,
  colour = "blue",
}
LUA
cat >"$TMP/timers_only.lua" <<'LUA'
local mw = require "moonwire"
mw.every(60000, function() end)
return {}
LUA
cat >"$TMP/connects.lua" <<'LUA'
local mw = require "moonwire"
mw.connect("127.0.0.1", 1, { on_close = function() end, on_dat = function() end })
return {
  framing = "line",
  on_data = function(conn, line)
    for _ = 1, 3 do
      mw.connect("127.0.0.1", 1, { on_close = function() end, conect_timeout = 100 })
    end
    conn:write(line, "\n")
  end,
}
LUA
cat >"$TMP/libraries.lua" <<'LUA'
local http = require "moonwire.http"
local resp = require "moonwire.resp"
if os.getenv("MW_LIB") == "resp" then
  return resp.server(function() end, { max_bulk = 1024, idle_timeout = 1000 })
end
return http.server(function() return 200, "ok" end,
  { max_body = 10, header_timeout = 5, shutdown_idle = 1, max_header = 100, idle_timout = 1 })
LUA

# run_check SCRIPT: --check SCRIPT, stdout to $TMP/out, stderr to $TMP/err.
run_check() {
    "$MOONWIRE" --check "$@" >"$TMP/out" 2>"$TMP/err"
}

# lines_in FILE N TEXT: FILE has exactly N lines holding TEXT.
lines_in() {
    local n
    n=$(grep -cF -- "$3" "$1")
    [ "$n" -eq "$2" ] && return 0
    echo "# $n line(s) of $1 hold '$3', $2 expected:" && sed 's/^/#   /' "$1" | head -20
    return 1
}

# no_warning FILE: FILE holds no warning.
no_warning() {
    ! grep -q '\[warn\]' "$1" && return 0
    echo "# warnings in $1:" && sed 's/^/#   /' "$1"
    return 1
}

check "--check of a handler with unknown fields passes (a warning, not an error)" \
    run_check "$TMP/typo.lua"
check "... and says so on stdout" [ "$(cat "$TMP/out")" = "$TMP/typo.lua: ok" ]
check "on_dta is named, with on_data, where its function was defined" contains "$TMP/err" \
    "[warn] $TMP/typo.lua:4: handler field 'on_dta' is not known (did you mean 'on_data'?)"
check "a field that is no function is named against the script" contains "$TMP/err" \
    "[warn] $TMP/typo.lua: handler field 'idle_timout' is not known (did you mean 'idle_timeout'?)"
check "a field close to none is named alone" \
    bash -c "grep -q \"handler field 'colour' is not known\$\" '$TMP/err'"
check "a handler with none of on_data, serve, on_connect is warned of" contains "$TMP/err" \
    "$TMP/typo.lua: handler has none of on_data, serve, on_connect: its listeners would drop every byte"
check "the known fields are not warned of" \
    bash -c "! grep -q \"'framing'\" '$TMP/err'"

check "--check of a script that only runs a timer passes" run_check "$TMP/timers_only.lua"
check "... without a warning: it serves nothing on purpose" no_warning "$TMP/err"
check "--check of echo.lua: no warning" run_check "$EXAMPLES/echo.lua"
check "... none" no_warning "$TMP/err"
check "--check of a library's handler (http.server): passes" run_check "$TMP/libraries.lua"
check "... its own options (max_body, header_timeout ...) are not warned of" \
    lines_in "$TMP/err" 1 "[warn]"
check "... a misspelled handler field among them is" contains "$TMP/err" \
    "handler field 'idle_timout' is not known (did you mean 'idle_timeout'?)"
check "resp.server's max_bulk is not warned of" \
    bash -c "MW_LIB=resp '$MOONWIRE' --check '$TMP/libraries.lua' 2>'$TMP/err' >/dev/null"
check "... nor anything else" no_warning "$TMP/err"

check "mw.connect at the top level: --check passes" run_check "$TMP/connects.lua"
check "... naming the field where mw.connect was called" contains "$TMP/err" \
    "[warn] $TMP/connects.lua:2: mw.connect: handler field 'on_dat' is not known (did you mean 'on_data'?)"

start_server typo -w 2 -l 127.0.0.1:0 "$TMP/typo.lua"
check "at start the check warns, once for two workers" lines_in "$LOG" 1 "handler field 'on_dta'"
check "... and of the handler that serves nothing, once" lines_in "$LOG" 1 "handler has none of"
stop_server

start_server connects -w 2 -l 127.0.0.1:0 "$TMP/connects.lua"
check "a top-level mw.connect warns once at start, for two workers" \
    lines_in "$LOG" 1 "handler field 'on_dat'"
exchange 'one\n'
exchange 'two\n'
exchange 'three\n'
check "a connect in a callback warns where it was called" comes_to "$LOG" \
    "$TMP/connects.lua:7: mw.connect: handler field 'conect_timeout' is not known (did you mean 'connect_timeout'?)"
check "... by its worker, once for nine calls" \
    matches_come_to "$LOG" 1 "\] worker [01]: .*connects.lua:7: mw.connect: handler field 'conect_timeout'"
check "... in each worker at most once" \
    bash -c "[ \$(grep -c \"worker 0: .*'conect_timeout'\" '$LOG') -le 1 ] &&
        [ \$(grep -c \"worker 1: .*'conect_timeout'\" '$LOG') -le 1 ]"
stop_server
finish
