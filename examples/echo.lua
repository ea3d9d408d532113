-- Echo: every byte that arrives is written back.
--   moonwire -l 127.0.0.1:7000 examples/echo.lua
return {
  on_data = function(conn, data)
    conn:write(data)
  end,
}
