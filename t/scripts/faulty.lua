-- Echoes, but raises on "boom", misuses handles on "stale" and "wrongtype".
local last_closed
return {
  on_data = function(conn, data)
    if data:find("boom", 1, true) then
      error("boom requested")
    elseif data:find("stale", 1, true) then
      last_closed:write("to a closed connection")
    elseif data:find("wrongtype", 1, true) then
      conn.write("not a connection", data)
    elseif data:find("quit", 1, true) then
      conn:close()
    else
      conn:write(data)
    end
  end,
  on_close = function(conn, reason)
    last_closed = conn
    io.stderr:write("closed ", conn.id, " ", reason, "\n")
  end,
}
