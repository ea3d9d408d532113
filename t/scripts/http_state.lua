-- moonwire.http leaves conn.state and on_close to the handler:
--   GET /count   how many requests this connection has made (in conn.state),
--                then the names of every field in conn.state
--   GET /closes  how many connections the handler's on_close has seen
local http = require "moonwire.http"

local closes = 0

return http.server(function(req)
  if req.path == "/count" then
    local st = req.conn.state
    st.count = (st.count or 0) + 1
    local names = {}
    for k in pairs(st) do names[#names + 1] = tostring(k) end
    table.sort(names)
    return 200, st.count .. " " .. table.concat(names, ",")
  end
  if req.path == "/closes" then return 200, tostring(closes) end
  return 404, "not found\n"
end, { on_close = function() closes = closes + 1 end })
