#!/bin/bash
# moonwire -c FILE: settings and listeners from a Lua file, each listener
# with its own script (paths relative to the file), the command line over
# it, and every mistake a message naming FILE:LINE and the key, exit 1.
. "${MW_SRCDIR:-.}/t/lib.sh"
. "$MW_SRCDIR/t/workers_helpers.sh"
plan 24

mkdir "$TMP/site"
cp "$EXAMPLES"/kv*.lua "$EXAMPLES/http.lua" "$EXAMPLES/echo.lua" "$TMP/site/"
# config NAME BODY: writes $TMP/site/NAME.lua returning { BODY }.
config() { printf 'return {\n%s\n}\n' "$2" >"$TMP/site/$1.lua"; }
LISTEN3='  listen = {
    { addr = "127.0.0.1:0", script = "kv.lua" },
    { addr = "127.0.0.1:0", script = "http.lua" },
    { addr = "127.0.0.1:0", script = "echo.lua" },
  },'
config three "  workers = 2, shutdown_timeout = 2,
  log = { level = \"info\" },
$LISTEN3"

# port_of N: the port of the Nth "listening on" line of $LOG.
port_of() { sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$LOG" | sed -n "${1}p"; }
# fails_with NAME TEXT: moonwire -c NAME.lua --check exits 1 and says TEXT.
fails_with() {
    (cd / && "$MOONWIRE" -c "$TMP/site/$1.lua" --check) >"$TMP/out" 2>"$TMP/err"
    local status=$?
    [ "$status" -eq 1 ] && grep -qF -- "$2" "$TMP/err" && return 0
    echo "# exit $status, expected 1 and '$2':" && sed 's/^/#   /' "$TMP/err" | head -5
    return 1
}

# --- three protocols on three ports, from another directory ---
cd / || exit 1
start_server three -c "$TMP/site/three.lua"
wait_for workers_started 2
kv=$(port_of 1) web=$(port_of 2) echo=$(port_of 3)
check "the file's workers = 2: two workers" [ "$(ps --ppid "$PID" -o pid= | wc -l)" -eq 2 ]
# One connection: each worker has its own store.
check "listen[1]: kv.lua, next to the file, answers redis-cli" \
    bash -c "[ \"\$(printf 'SET k v\nGET k\n' | redis-cli -p $kv)\" = \"OK
v\" ]"
check "listen[2]: http.lua answers curl" \
    bash -c "[ \"\$(curl -s http://127.0.0.1:$web/)\" = 'hello from moonwire' ]"
check "listen[3]: echo.lua echoes" \
    bash -c "[ \"\$(echo hi | socat -T 3 -t 3 - TCP:127.0.0.1:$echo)\" = hi ]"
stop_server
check "exit status 0" [ "$STATUS" -eq 0 ]
cd "$MW_SRCDIR" || exit 1

# --- the command line wins ---
start_server override -c "$TMP/site/three.lua" -w 1
check "-w 1 over the file's workers = 2: one worker" \
    wait_for bash -c "[ \$(ps --ppid $PID -o pid= | wc -l) -eq 1 ]"
stop_server
start_server replace -c "$TMP/site/three.lua" -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
check "-l replaces the file's listeners" [ "$(grep -c 'listening on' "$LOG")" -eq 1 ]
check "... served by the command line's SCRIPT" \
    bash -c "[ \"\$(echo hey | socat -T 3 -t 3 - TCP:127.0.0.1:$PORT)\" = hey ]"
stop_server

# --- --check ---
(cd / && "$MOONWIRE" -c "$TMP/site/three.lua" --check) >"$TMP/out" 2>"$TMP/err"
check "-c FILE --check: exit 0" [ $? -eq 0 ]
check "... ok for every script the file names" \
    bash -c "[ \"\$(cat '$TMP/out')\" = \"$TMP/site/kv.lua: ok
$TMP/site/http.lua: ok
$TMP/site/echo.lua: ok\" ]"

# --- mistakes ---
config unknown "  wrokers = 2,
$LISTEN3"
check "an unknown key: FILE:LINE, the key, the nearest known one" \
    fails_with unknown "unknown.lua:2: wrokers: not a known key (did you mean 'workers'?)"
config missing '  listen = {
    { addr = "127.0.0.1:0", script = "kv.lua" },
    { addr = "127.0.0.1:0", script = "apii.lua" },
  },'
check "a missing script: its line, its key path, its name" \
    fails_with missing "missing.lua:4: listen[2].script: no such file 'apii.lua'"
config badtype "  shutdown_timeout = 2,
  timeout = {},
$LISTEN3"
check "a wrong type: named, at its own line (not shutdown_timeout's)" \
    fails_with badtype "badtype.lua:3: timeout: expected a string or a number"
config badvalue "  workers = \"lots\",
$LISTEN3"
check "a bad value: the option's own message" \
    fails_with badvalue "badvalue.lua:2: workers: invalid --workers 'lots'"
config badlog "  log = { level = \"loud\" },
$LISTEN3"
check "a bad value in log: the key path" fails_with badlog "badlog.lua:2: log.level: invalid --log-level 'loud'"
config listenkey '  listen = { { adr = "127.0.0.1:0", script = "kv.lua" } },'
check "a listener's unknown key" fails_with listenkey "listen[1].adr: not a known key (did you mean 'addr'?)"
printf 'local n = 0\nwhile true do\n  n = n + 1\nend\n' >"$TMP/site/loop.lua"
t0=$SECONDS
check "a file that never ends: stopped" fails_with loop ": the file ran past 1 s of CPU (a loop?)"
check "... at a line of its loop" grep -qE "loop\.lua:[234]: " "$TMP/err"
check "... within a few seconds" [ $((SECONDS - t0)) -le 5 ]
printf 'local f = io.open("/etc/passwd")\nreturn {}\n' >"$TMP/site/sandbox.lua"
check "the file runs in a sandbox: no io" fails_with sandbox "attempt to index global 'io'"
printf 'return { script = require("echo") }\n' >"$TMP/site/norequire.lua"
check "... and no require" fails_with norequire "attempt to call global 'require'"
printf 'return 42\n' >"$TMP/site/number.lua"
check "a file that returns no table" fails_with number "the file must return a table (got number)"
printf 'return {\n  on_data = function(c, d) c:write(d\nend }\n' >"$TMP/site/syn.lua"
config second '  listen = {
    { addr = "127.0.0.1:0", script = "kv.lua" },
    { addr = "127.0.0.1:0", script = "syn.lua" },
  },'
check "a syntax error in the second listener's script: its file:line" \
    fails_with second "syn.lua:3: ')' expected"
check "... and no ok" [ ! -s "$TMP/out" ]
finish
