-- Runaways under --memory-limit, in every kind of entry, beside a serve task
-- per connection that echoes lines (read through conn:read_line, so each
-- line is handed to a parked task). Each runaway builds a table without
-- bound: "grow" in the serve task's own locals, "keep" in conn.state (held
-- until the connection is gone), "spawn" in a callback task, "timer" in a
-- timer's callback, "mailbox" in a mailbox task's on_message; "stats"
-- answers the heap's bytes in use after a full collection.
local mw = require "moonwire"

local function runaway(t)
  while true do t[#t + 1] = string.rep("x", 64) .. #t end
end

local mailbox = mw.task {
  on_message = function(self, msg) runaway({}) end,
  on_stop = function(self, reason) io.stderr:write("mailbox stopped: ", reason, "\n") end,
}

local commands = {
  grow = function(conn) local t = {} runaway(t) end,
  keep = function(conn) conn.state.t = {} runaway(conn.state.t) end,
  spawn = function(conn) mw.spawn(runaway, {}) return "spawned" end,
  timer = function(conn) mw.after(0, function() runaway({}) end) return "timer set" end,
  mailbox = function(conn) mailbox:send("go") return "sent" end,
  stats = function(conn) collectgarbage() return mw.stats().heap_in_use end,
}

return {
  serve = function(conn)
    while true do
      local line = conn:read_line()
      if not line then return end
      local command = commands[line]
      conn:write(command and command(conn) or line, "\n")
    end
  end,
  on_close = function(conn, reason)
    io.stderr:write("closed ", conn.id, " ", reason, "\n")
  end,
}
