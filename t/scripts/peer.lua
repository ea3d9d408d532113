-- Answers each line with conn:peer() and the worker that serves it:
-- "peer [::1]:41234 worker 0 LINE".
local mw = require "moonwire"
return {
  framing = "line",
  on_data = function(conn, line)
    conn:write("peer ", conn:peer(), " worker ", mw.worker_id(), " ", line, "\n")
  end,
}
