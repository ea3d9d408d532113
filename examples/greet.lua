-- The serve form: one coroutine task per connection that reads as it goes.
--   moonwire -l 127.0.0.1:7000 examples/greet.lua   then: nc 127.0.0.1 7000
return {
  idle_timeout = 60000,
  serve = function(conn)
    conn:write("What is your name?\n")
    local name = conn:read_line()
    if not name then return end
    conn:write("Hello, ", name, "! Type lines; an empty one ends.\n")
    for line in function() return conn:read_line() end do
      if line == "" then break end
      conn:write(name, " said: ", line, "\n")
    end
    conn:write("Goodbye, ", name, ".\n")
  end,
}
