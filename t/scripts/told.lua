-- A line handler that takes part in the drain: "stopping?" answers what
-- mw.stopping() says; a connection that said "goodbye" is told goodbye and
-- closed by on_shutdown, any other is left open (and still served). Each
-- on_shutdown call is logged, with what mw.stopping() says in it, and a
-- timer started then logs it again.
local mw = require "moonwire"
return {
  framing = "line",
  on_data = function(conn, line)
    if line == "stopping?" then return conn:write(tostring(mw.stopping()) .. "\n") end
    if line == "goodbye" then conn.state.goodbye = true end
    conn:write(line .. "\n")
  end,
  on_shutdown = function(conn)
    mw.log("info", "TOLD " .. conn.id .. " stopping=" .. tostring(mw.stopping()))
    mw.after(10, function() mw.log("info", "TIMER stopping=" .. tostring(mw.stopping())) end)
    if conn.state.goodbye then
      conn:write("bye\n")
      conn:close()
    end
  end,
  on_close = function(conn, reason) mw.log("info", "CLOSED " .. conn.id .. " " .. reason) end,
}
