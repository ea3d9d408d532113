-- Echo in the serve form: read whatever arrives, write it back.
return {
  serve = function(conn)
    while true do
      local data = conn:read()
      if not data then return end
      conn:write(data)
    end
  end,
}
