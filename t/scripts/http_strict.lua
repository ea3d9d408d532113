-- moonwire.http with short deadlines (2 s for a head, 3 s between body
-- reads) and handlers that fail:
--   GET /          "ok"
--   POST /echo     the body back, and a LF
--   GET /raise     raises an error
--   GET /table     returns a table as its body
--   GET /status    returns a string as its status
--   GET /header    returns a table as a header's value
--   GET /grow      grows a table without bound (until --memory-limit)
local http = require "moonwire.http"

local routes = {
  ["/"] = function() return 200, "ok\n" end,
  ["/echo"] = function(req) return 200, req.body .. "\n" end,
  ["/raise"] = function() error("boom from /raise") end,
  ["/table"] = function() return 200, { "not", "a", "string" } end,
  ["/status"] = function() return "200", "ok\n" end,
  ["/header"] = function() return 200, "ok\n", { ["X-Bad"] = {} } end,
  ["/grow"] = function()
    local t = {}
    while true do t[#t + 1] = string.rep("x", 64) .. #t end
  end,
}

local function serve(req)
  local route = routes[req.path]
  if not route then return 404, "not found\n" end
  return route(req)
end

return http.server(serve, { header_timeout = 2000, body_timeout = 3000 })
