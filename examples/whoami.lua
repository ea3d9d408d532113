-- Reports which worker serves the connection, then echoes.
--   moonwire -w 2 -l 127.0.0.1:7000 examples/whoami.lua
--   for i in 1 2 3 4; do nc -q1 127.0.0.1 7000 </dev/null; done
-- The kernel spreads connections over the workers' SO_REUSEPORT sockets by a
-- hash of the client's address and port, so new connections land on
-- different workers.
local mw = require "moonwire"
return {
  on_connect = function(conn)
    conn:write("worker ", mw.worker_id(), "\n")
    mw.log("debug", "connection", conn.id, "from", conn:peer())
  end,
  on_data = function(conn, data)
    conn:write(data)
  end,
}
