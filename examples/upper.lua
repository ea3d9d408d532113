-- Upper: a greeting, then every byte back in upper case; "quit" closes.
-- Shows on_connect, conn.state, conn:peer() and on_close.
--   moonwire -l 127.0.0.1:7000 examples/upper.lua   then: nc 127.0.0.1 7000
local mw = require "moonwire"

return {
  on_connect = function(conn)
    conn.state.bytes = 0
    mw.log("info", "connection", conn.id, "from", conn:peer())
    conn:write("hello ", conn:peer(), "\n")
  end,
  on_data = function(conn, data)
    conn.state.bytes = conn.state.bytes + #data
    if data:match("^quit") then
      conn:write("bye\n")
      return conn:close()
    end
    conn:write(data:upper())
  end,
  on_close = function(conn, reason)
    mw.log("info", "connection", conn.id, "closed:", reason, conn.state.bytes, "bytes")
  end,
}
