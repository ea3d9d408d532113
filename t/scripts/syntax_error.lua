-- A script with a syntax error, reported on line 5.
return {
  on_data = function(conn, data)
    conn:write(data
  end,
}
