#!/bin/bash
# -l ADDR=SCRIPT: a listener served by its own script, in the worker's one
# Lua state (a module two scripts require is loaded once); the positional
# SCRIPT serves the others, and may be left out when every -l names one.
# --check and every reload check every script.
. "${MW_SRCDIR:-.}/t/lib.sh"
. "$MW_SRCDIR/t/workers_helpers.sh"
plan 18

# A line handler that says which script answers, and how many scripts the
# state has loaded so far (a global they share).
script() { # script NAME: writes $TMP/NAME.lua
    cat >"$TMP/$1.lua" <<LUA
loaded = (loaded or 0) + 1
local mine = loaded
return {
  framing = "line",
  on_data = function(conn, line) conn:write("$1 " .. mine .. "/" .. loaded .. " " .. line .. "\n") end,
}
LUA
}
script one
script two

# says PORT LINE EXPECTED: a connection to PORT that sends LINE gets EXPECTED.
says() {
    reply=$(printf '%s\n' "$2" | socat -T 3 -t 3 - "TCP:127.0.0.1:$1" 2>/dev/null)
    [ "$reply" = "$3" ] && return 0
    echo "# port $1: sent '$2', expected '$3', got '$reply'"
    return 1
}

# port_of N: the port of the Nth "listening on" line of $LOG.
port_of() { sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$LOG" | sed -n "${1}p"; }

# --- two listeners, each its own script, no positional SCRIPT ---
start_server two -w 2 -l "127.0.0.1:0=$TMP/one.lua" -l "127.0.0.1:0=$TMP/two.lua"
wait_for workers_started 2
p1=$(port_of 1) p2=$(port_of 2)
check "the first listener is served by its script" says "$p1" hi "one 1/2 hi"
check "the second by its own, loaded second into the same state" says "$p2" hi "two 2/2 hi"

# --- a reload re-reads every script ---
sed -i 's/"two "/"TWO "/' "$TMP/two.lua"
kill -HUP "$PID"
check "SIGHUP checks every script" wait_for contains "$LOG" "Hangup: checking $TMP/one.lua, $TMP/two.lua before reloading"
check "... and starts new workers" wait_for contains "$LOG" "reload: 2 new worker(s) serve"
# Until the old workers have closed their sockets a newcomer may still land
# on one of them: asked again until the new code answers.
check "the new workers serve the changed second script" wait_for says "$p2" hi "TWO 2/2 hi"
check "and the first as it was" says "$p1" hi "one 1/2 hi"
cp "$SCRIPTS/syntax_error.lua" "$TMP/two.lua"
kill -HUP "$PID"
check "a broken second script fails the reload, with its file:line" \
    matches_come_to "$LOG" 1 "\[error\] $TMP/two\.lua:[0-9]+: "
check "... and the reload is refused" comes_to "$LOG" "failed its check (exited with status 1)"
check "... and the running workers keep serving both" says "$p2" hi "TWO 2/2 hi"
stop_server
check "exit status 0" [ "$STATUS" -eq 0 ]

# --- the positional SCRIPT serves the listeners that name none ---
script two
start_server mixed -l "127.0.0.1:0=$TMP/two.lua" -l 127.0.0.1:0 "$TMP/one.lua"
p1=$(port_of 1) p2=$(port_of 2)
check "a listener with its own script: that script" says "$p1" x "two 2/2 x"
check "a listener without: the positional SCRIPT, loaded first" says "$p2" x "one 1/2 x"
stop_server

# --- the command line ---
"$MOONWIRE" -l "127.0.0.1:0=$TMP/one.lua" -l 127.0.0.1:0 >"$TMP/out" 2>"$TMP/err"
check "a listener with no script and no SCRIPT: exit 2" [ $? -eq 2 ]
check "... naming the listener" grep -q "missing SCRIPT (for --listen 127.0.0.1:0, which names none)" "$TMP/err"
"$MOONWIRE" -l "127.0.0.1:0=" "$TMP/one.lua" >"$TMP/out" 2>"$TMP/err"
check "an empty script after '=': exit 2, said" \
    bash -c "[ $? -eq 2 ] && grep -q \"no script after '='\" '$TMP/err'"
"$MOONWIRE" --check -l "127.0.0.1:0=$TMP/two.lua" "$TMP/one.lua" >"$TMP/out" 2>"$TMP/err"
check "--check checks every script: ok for each" \
    bash -c "[ $? -eq 0 ] && [ \"\$(cat '$TMP/out')\" = \"$TMP/one.lua: ok
$TMP/two.lua: ok\" ]"
"$MOONWIRE" --check -l "127.0.0.1:0=$SCRIPTS/syntax_error.lua" "$TMP/one.lua" >"$TMP/out" 2>"$TMP/err"
check "--check: an error in the second script exits 1" [ $? -eq 1 ]
check "... with its file:line, and no ok" \
    bash -c "grep -q 'syntax_error.lua:[0-9]*:' '$TMP/err' && ! grep -q ': ok' '$TMP/out'"
finish
