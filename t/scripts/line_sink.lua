-- Counts lines and answers only "STATS": "<lines> <bytes>\n". Everything else
-- is swallowed. MW_IDLE_TIMEOUT (ms) closes silent connections.
local lines, bytes = 0, 0
return {
  framing = "line",
  idle_timeout = tonumber(os.getenv("MW_IDLE_TIMEOUT")) or 0,
  on_data = function(conn, line)
    if line == "STATS" then
      conn:write(lines, " ", bytes, "\n")
    else
      lines, bytes = lines + 1, bytes + #line
    end
  end,
  on_close = function(conn, reason)
    io.stderr:write("closed ", conn.id, " ", reason, "\n")
  end,
}
