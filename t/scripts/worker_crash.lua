-- Supervision tests: the worker exits (status 3) when a client sends "exit",
-- and otherwise echoes.
return {
  on_data = function(conn, data)
    if data:sub(1, 4) == "exit" then
      os.exit(3)
    end
    conn:write(data)
  end,
}
