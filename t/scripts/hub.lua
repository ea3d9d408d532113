-- The hub of moonwire-lua(3)'s EXAMPLES: one coroutine task holds the
-- connections and writes each line said to all of them, dropping those a
-- write reports gone; nothing tells it of a close. "count" is answered with
-- how many connections it still holds after that broadcast.
local mw = require "moonwire"

local hub = mw.go(function()
  local conns = {}
  while true do
    local msg = mw.receive()
    if type(msg) ~= "string" then
      conns[#conns + 1] = msg -- a newcomer
    else
      local kept = {}
      for _, c in ipairs(conns) do
        if c:write(msg) then kept[#kept + 1] = c end
      end
      conns = kept
      if msg == "count\n" then
        for _, c in ipairs(conns) do c:write("held ", #conns, "\n") end
      end
    end
  end
end)

return {
  framing = "line",
  on_connect = function(conn) hub:send(conn) end,
  on_data = function(conn, line) hub:send(line .. "\n") end,
}
