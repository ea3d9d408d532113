-- Line echo; "grow" builds a table without bound (until --memory-limit
-- stops it); "stats" answers the heap's bytes in use.
local mw = require "moonwire"
return {
  framing = "line",
  on_data = function(conn, line)
    if line == "grow" then
      local t = {}
      while true do t[#t + 1] = string.rep("x", 64) .. #t end
    elseif line == "stats" then
      collectgarbage()
      conn:write(mw.stats().heap_in_use, "\n")
    else
      conn:write(line, "\n")
    end
  end,
  on_close = function(conn, reason)
    io.stderr:write("closed ", conn.id, " ", reason, "\n")
  end,
}
