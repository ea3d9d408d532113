-- t/backpressure.sh's handler. The first line of a connection names its role:
--   "echo"   the rest is echoed as it comes (raw), under high_water 65536 and
--            low_water 16384; what happens is counted (see stats);
--   "pause"  each line is answered "got LINE"; the line "hold" pauses the
--            connection (conn:pause) and is answered "held";
--   "resume" resumes every held connection, answers "resumed N", closes;
--   "stats"  answers one line of the counts below, closes.
local HIGH, LOW = 65536, 16384

local echo = {
  bytes_in = 0,    -- bytes on_data got
  crossings = 0,   -- writes that left more than HIGH queued
  drains = 0,      -- on_drain calls
  early = 0,       -- on_data calls between a crossing and its on_drain (0 expected)
  drain_max = 0,   -- the most bytes queued at an on_drain
  throttled = false,
  conn = nil,      -- the open echo connection, for its pending output
}
local paused = { lines = 0, held = {} }

local roles = {}

function roles.echo(conn, data)
  if echo.throttled then echo.early = echo.early + 1 end
  echo.bytes_in = echo.bytes_in + #data
  local pending = conn:write(data)
  if pending and pending > HIGH then
    echo.throttled = true
    echo.crossings = echo.crossings + 1
  end
end

function roles.pause(conn, line)
  paused.lines = paused.lines + 1
  if line == "hold" then
    conn:pause()
    paused.held[conn] = true
    conn:write("held\n")
  else
    conn:write("got ", line, "\n")
  end
end

local function stats()
  local pending = echo.conn and echo.conn:pending() or -1
  return string.format(
    "bytes_in=%d crossings=%d drains=%d early=%d drain_max=%d throttled=%s pending=%d lines=%d\n",
    echo.bytes_in, echo.crossings, echo.drains, echo.early, echo.drain_max,
    tostring(echo.throttled), pending, paused.lines)
end

local function first_line(conn, line)
  if line == "echo" then
    echo.conn = conn
    conn.state.role = roles.echo
    conn:framing("raw")
  elseif line == "pause" then
    conn.state.role = roles.pause
  elseif line == "resume" then
    local n = 0
    for held in pairs(paused.held) do
      paused.held[held] = nil
      held:resume()
      n = n + 1
    end
    conn:write("resumed ", n, "\n")
    conn:close()
  elseif line == "stats" then
    conn:write(stats())
    conn:close()
  else
    conn:write("unknown role\n")
    conn:close()
  end
end

return {
  framing = "line",
  high_water = HIGH,
  low_water = LOW,
  on_data = function(conn, data)
    local role = conn.state.role
    if role then return role(conn, data) end
    first_line(conn, data)
  end,
  on_drain = function(conn)
    echo.drains = echo.drains + 1
    echo.drain_max = math.max(echo.drain_max, conn:pending())
    echo.throttled = false
  end,
  on_close = function(conn)
    if echo.conn == conn then echo.conn = nil end
    paused.held[conn] = nil
  end,
}
