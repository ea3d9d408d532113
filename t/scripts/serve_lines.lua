-- The serve form: one coroutine task per connection, reading as it goes.
-- "HELLO" greets; "BODY n" then reads n raw bytes; "UNTIL d" reads up to d;
-- "SLEEP" sleeps 200 ms first; "QUIT" ends the task (and the connection).
local mw = require "moonwire"
return {
  serve = function(conn)
    conn:write("ready\n")
    while true do
      local line, err = conn:read_line()
      if not line then
        io.stderr:write("serve ", conn.id, " read_line: ", err, "\n")
        return
      end
      local cmd, arg = line:match("^(%u+) ?(.*)$")
      if cmd == "BODY" then
        conn:write("body:", conn:read(tonumber(arg)), "\n")
      elseif cmd == "UNTIL" then
        conn:write("until:", conn:read_until(arg), "\n")
      elseif cmd == "SLEEP" then
        mw.sleep(200)
        conn:write("slept\n")
      elseif cmd == "QUIT" then
        conn:write("bye\n")
        return
      elseif cmd == "FAIL" then
        error("serve failed on purpose")
      else
        conn:write("line:", line, "\n")
      end
    end
  end,
  on_close = function(conn, reason)
    io.stderr:write("closed ", conn.id, " ", reason, "\n")
  end,
}
