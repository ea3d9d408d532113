-- Echoes, but raises on "boom", misuses handles on "stale" and "wrongtype";
-- "stalewrite" writes to the last closed connection and answers what the
-- write returned and what is_open says of it.
local last_closed
return {
  on_data = function(conn, data)
    if data:find("boom", 1, true) then
      error("boom requested")
    elseif data:find("stalewrite", 1, true) then
      local n, why = last_closed:write("to a closed connection")
      conn:write(tostring(n), " ", tostring(why), " ", tostring(last_closed:is_open()), "\n")
    elseif data:find("stale", 1, true) then
      last_closed:pause()
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
