#!/bin/bash
# Half-close: a peer's FIN ends only its direction. A handler with on_eof is
# told after the last frame and may still write, until it closes; a serve
# task's conn:read* returns nil, "eof" and it may still write too.
# conn:shutdown() sends our FIN after what is queued while input is still
# read; a write after it returns nil, "shut down"; with both directions
# ended the connection closes ("eof"), and its peer is still named. A
# handler without on_eof keeps today's rule: closed once output is flushed.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 17

cat >"$TMP/eof.lua" <<'LUA'
-- Answers each line; at the peer's EOF says how many came, and once more
-- 300 ms later, then closes.
local mw = require "moonwire"
return {
  framing = "line",
  on_data = function(conn, line)
    conn.state.n = (conn.state.n or 0) + 1
    conn:write("got ", line, "\n")
  end,
  on_eof = function(conn)
    mw.log("info", "on_eof of", conn.id)
    conn:write("eof after ", conn.state.n or 0, " lines\n")
    mw.after(300, function()
      conn:write("later\n")
      conn:close()
    end)
  end,
  on_close = function(conn, reason) mw.log("info", "closed", conn.id, reason) end,
}
LUA
start_server eof -l 127.0.0.1:0 "$TMP/eof.lua"
exchange 'a\nb'
check "on_eof: the last line is delivered, then on_eof, whose writes arrive, then later ones" \
    replied 'got a\ngot b\neof after 2 lines\nlater\n'
check "on_eof was called once" matches_come_to "$LOG" 1 "on_eof of 1$"
check "and the handler's close ends it: on_close \"closed\"" comes_to "$LOG" "closed 1 closed"
exchange ''
check "an EOF with nothing before it: on_eof all the same" replied 'eof after 0 lines\nlater\n'
stop_server

cat >"$TMP/shut.lua" <<'LUA'
-- Greets, then shuts its side; still reads lines, and says what a write
-- after the shutdown returned; at the peer's EOF names the peer.
local mw = require "moonwire"
return {
  framing = "line",
  on_connect = function(conn)
    conn:write("hello\n")
    conn:shutdown()
    conn:shutdown() -- twice is harmless
  end,
  on_data = function(conn, line)
    local n, why = conn:write("too late\n")
    mw.log("info", "server read", line, "; a write returned", tostring(n), why)
  end,
  on_eof = function(conn) mw.log("info", "peer at eof:", conn:peer()) end,
  on_close = function(conn, reason) mw.log("info", "closed", conn.id, reason) end,
}
LUA
start_server shut -l 127.0.0.1:0 "$TMP/shut.lua"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
check "conn:shutdown(): the client reads the greeting, then an end of file" closes_within 3000 3
check "what came before the end is the greeting" cmp -s "$TMP/eof.data" <(printf 'hello\n')
printf 'ping\n' >&3
check "the server still reads after its shutdown" comes_to "$LOG" "server read ping"
check "and a write after conn:shutdown() returns nil, \"shut down\"" \
    comes_to "$LOG" 'a write returned nil shut down'
exec 3>&-
check "with both directions ended it closes with \"eof\"" comes_to "$LOG" "closed 1 eof"
check "conn:peer() still names the peer after both FINs" \
    grep -qE 'peer at eof: 127\.0\.0\.1:[0-9]+$' "$LOG"
check "and so does the access line" grep -qE 'conn=1 peer=127\.0\.0\.1:[0-9]+ .*reason="eof"' "$LOG"
stop_server

cat >"$TMP/serve_eof.lua" <<'LUA'
-- A serve task reads lines until the peer's EOF, then answers.
local mw = require "moonwire"
return {
  on_eof = function(conn) end,
  serve = function(conn)
    local lines = {}
    while true do
      local line, why = conn:read_line()
      if not line then
        conn:write("read ended: ", why, "\n")
        break
      end
      lines[#lines + 1] = line
    end
    local again, why = conn:read_line()
    mw.sleep(100)
    conn:write(table.concat(lines, ","), "; again: ", tostring(again), " ", why, "\n")
  end,
}
LUA
start_server serve -l 127.0.0.1:0 "$TMP/serve_eof.lua"
exchange 'a\nb\n'
check "serve with on_eof: conn:read_line() returns nil, \"eof\", and later writes arrive" \
    replied 'read ended: eof\na,b; again: nil eof\n'
stop_server

start_server count -l 127.0.0.1:0 "$SCRIPTS/count_at_eof.lua"
COUNT_PORT=$PORT
cat >"$TMP/connect_shut.lua" <<'LUA'
-- "N": connects to the counter, writes N bytes at once, shuts its side
-- before the connect has completed, and passes the answer on.
local mw = require "moonwire"
local port = tonumber(os.getenv("COUNT_PORT"))
return {
  framing = "line",
  on_data = function(client, line)
    local up = mw.connect("127.0.0.1", port, {
      on_data = function(up, data) client:write("count ", data) end,
    })
    up:write(string.rep("x", tonumber(line)))
    up:shutdown()
  end,
}
LUA
COUNT_PORT=$COUNT_PORT start_server connect_shut -l 127.0.0.1:0 "$TMP/connect_shut.lua"
exec 4<>"/dev/tcp/127.0.0.1/$PORT"
ask 4 5
check "conn:shutdown() while connecting: what was queued goes, then the FIN ($REPLY)" \
    [ "$REPLY" = "count 5" ]
ask 4 0
check "and with nothing queued, the FIN alone ($REPLY)" [ "$REPLY" = "count 0" ]
exec 4>&-
stop_server

cat >"$TMP/eof_raises.lua" <<'LUA'
return { on_eof = function(conn) error("no eof here") end }
LUA
start_server raises -l 127.0.0.1:0 "$TMP/eof_raises.lua"
exchange 'x'
check "an on_eof that raises: logged, and the connection closed with \"error\"" \
    matches_come_to "$LOG" 1 'on_eof: .*no eof here'
check "its access line says \"error\"" comes_to "$LOG" 'reason="error"'
stop_server

# Without on_eof: what is pending is sent, then the connection closes.
start_server echo -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
exchange 'abc'
check "a handler without on_eof: answered, then closed at the peer's EOF" replied 'abc'
finish
