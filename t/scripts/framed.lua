-- Answers each frame with "<len>:<frame>\n". The framing comes from the
-- environment: MW_FRAMING = line | delimiter | length | prefix | prefix_le.
-- In line framing, "BULK n" switches to { length = n } for one frame
-- (as a RESP bulk body follows its header line), then back to lines.
local choice = os.getenv("MW_FRAMING") or "line"
local framings = {
  line = "line",
  delimiter = { delimiter = "||" },
  length = { length = 4 },
  prefix = { prefix = 2, endian = "big" },
  prefix_le = { prefix = 4, endian = "little" },
}

return {
  framing = framings[choice],
  max_frame = tonumber(os.getenv("MW_MAX_FRAME")) or 1024,
  on_data = function(conn, frame)
    if conn.state.bulk then
      conn.state.bulk = nil
      conn:framing("line")
    end
    local n = frame:match("^BULK (%d+)$")
    if n then
      conn.state.bulk = true
      conn:framing({ length = tonumber(n) })
    end
    conn:write(#frame, ":", frame, "\n")
  end,
  on_close = function(conn, reason)
    io.stderr:write("closed ", conn.id, " ", reason, "\n")
  end,
}
