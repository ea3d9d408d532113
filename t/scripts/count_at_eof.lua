-- Counts the bytes that come, and says how many at the peer's EOF (a
-- half-closing peer, for t/halfclose.sh and t/proxy_stream.sh).
return {
  on_data = function(conn, data) conn.state.n = (conn.state.n or 0) + #data end,
  on_eof = function(conn)
    conn:write(conn.state.n or 0, "\n")
    conn:close()
  end,
}
