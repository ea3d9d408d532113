-- Echo with SO_KEEPALIVE on (MW_KEEPALIVE=1) or off.
return {
  keepalive = os.getenv("MW_KEEPALIVE") == "1",
  on_data = function(conn, data) conn:write(data) end,
}
