-- Line echo that answers "STATS" with the Lua heap's bytes in use and held
-- (after a full collection), for bench/alloc/idle_conns.sh.
local mw = require "moonwire"
return {
  framing = "line",
  on_data = function(conn, line)
    if line == "STATS" then
      collectgarbage()
      local s = mw.stats()
      conn:write(s.heap_in_use, " ", s.heap_held, " ", s.connections, "\n")
    else
      conn:write(line, "\n")
    end
  end,
}
