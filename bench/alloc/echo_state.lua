-- Resembles an echo handler: 10,000 connections, each a userdata-like
-- handle table with a state table and buffered frames, fed line frames.
local NCONN = tonumber(arg and arg[1]) or 10000
local ROUNDS = tonumber(arg and arg[2]) or 50

local conns = {}
local function new_conn(id)
  local conn = { id = id, state = { seen = 0, last = nil }, out = {} }
  function conn.write(self, data) local out = self.out; out[#out + 1] = data end
  return conn
end

local handler = {
  on_connect = function(conn) conn.state.peer = "127.0.0.1:" .. (40000 + conn.id) end,
  on_data = function(conn, data)
    local st = conn.state
    st.seen = st.seen + #data
    st.last = data
    conn:write(data:upper())
    if #conn.out > 4 then conn.out = {} end
  end,
}

for i = 1, NCONN do
  local c = new_conn(i)
  conns[i] = c
  handler.on_connect(c)
end
for r = 1, ROUNDS do
  for i = 1, NCONN do
    handler.on_data(conns[i], "line " .. r .. " from " .. i .. "\r\n")
  end
end
return #conns
