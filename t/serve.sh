#!/bin/bash
# The serve form: a coroutine task per connection with conn:read(n),
# conn:read_line() and conn:read_until(delim); a task sleeping when its
# connection is closed is stopped.
. "${MW_SRCDIR:-.}/t/lib.sh"
. "$MW_SRCDIR/t/workers_helpers.sh"
plan 17

# A serve task that sleeps 3 s after a first line, under an idle_timeout of
# 300 ms; a connection that sends "tasks" is told how many tasks there are.
cat >"$TMP/held.lua" <<'LUA'
local mw = require "moonwire"
return {
  idle_timeout = 300,
  serve = function(conn)
    local line = conn:read_line()
    if line == "tasks" then return conn:write("tasks ", mw.stats().tasks, "\n") end
    io.stderr:write("serve ", conn.id, " sleeping\n")
    mw.sleep(3000)
    io.stderr:write("serve ", conn.id, " woke\n")
  end,
  on_close = function(conn, reason) io.stderr:write("closed ", conn.id, " ", reason, "\n") end,
}
LUA

# errors: how many lines of the log tell of a serve task's failure.
errors() { grep -c 'serve failed\|attempt to\|connection is closed' "$LOG"; }

start_server serve -l 127.0.0.1:0 "$SCRIPTS/serve_lines.lua"
exchange 'one\r\nBODY 5\nab\ncdUNTIL ;;\nxyz;;SLEEP\nlast\nQUIT\nignored\n'
check "read_line, read(n), read_until and mw.sleep in one pipelined exchange" \
    replied 'ready\nline:one\nbody:ab\ncd\nuntil:xyz\nslept\nline:last\nbye\n'
check "returning from serve closes the connection" comes_to "$LOG" "closed 1 closed"
exchange 'FAIL\n'
check "an error in serve closes only its connection" replied 'ready\n'
check "and is logged with its traceback" comes_to "$LOG" "serve_lines.lua:26: serve failed on purpose"
check "with reason 'error'" comes_to "$LOG" "closed 2 error"
exchange 'x\n'
check "a peer that leaves makes read_line return nil, 'closed'" comes_to "$LOG" "serve 3 read_line: closed"
# The task does not read while it sleeps, so the server learns that its
# peer left at its next read, after the sleep.
(printf 'SLEEP\n'; sleep 0.05) | socat -T 1 -t 0.05 - "TCP:127.0.0.1:$PORT" >/dev/null 2>&1
check "a serve task sleeping when its peer leaves reads nil, 'closed' once awake" \
    comes_to "$LOG" "serve 4 read_line: closed"
not_failed() { comes_to "$LOG" "closed 4 " && ! grep -q "closed 4 error" "$LOG" && [ "$(errors)" -eq 1 ]; }
check "... and is not failed: its connection closes, not with reason 'error'" not_failed
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]

start_server echo -l 127.0.0.1:0 "$SCRIPTS/serve_echo.lua"
check "serve echo: 1 MiB through one connection" echocheck 127.0.0.1 "$PORT" 1 1048576 20
check "serve echo: 100 concurrent connections" echocheck 127.0.0.1 "$PORT" 100 20000 20
stop_server

start_server greet -l 127.0.0.1:0 "$EXAMPLES/greet.lua"
exchange 'Ada\nhi\n\n'
check "examples/greet.lua" replied 'What is your name?\nHello, Ada! Type lines; an empty one ends.\nAda said: hi\nGoodbye, Ada.\n'
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]

# A connection closed by the server (its idle_timeout) while its serve task
# sleeps: the task is stopped, not woken, not failed.
start_server held -l 127.0.0.1:0 "$TMP/held.lua"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
echo go >&3
comes_to "$LOG" "serve 1 sleeping"
check "the connection of a sleeping serve task closes at its idle_timeout" \
    comes_to "$LOG" "closed 1 idle timeout"
check "... the client sees it close (EOF)" at_eof 3
exec 3>&-
exchange 'tasks\n'
check "... and the sleeping task is stopped: only the asking one is left" replied 'tasks 1\n'
check "... never woken, never failed" sh -c "! grep -q 'serve 1 woke\|attempt to\|connection is closed' '$LOG'"
finish
