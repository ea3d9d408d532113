-- http.json and cjson in handlers, for t/json.sh.
local mw = require "moonwire"
local http = require "moonwire.http"
local cjson = require "cjson"

local routes = {
  ["/value"] = function()
    return http.json(200, { list = { 1, 2, 3 }, name = "moonwire", ok = true })
  end,
  ["/typed"] = function()
    return http.json(201, { id = 7 }, { ["content-type"] = "application/vnd.x+json", ["X-Id"] = 7 })
  end,
  ["/function"] = function() return http.json(200, { f = print }) end, -- a tail call
  ["/function-kept"] = function()
    local status, body, headers = http.json(200, { f = print })
    return status, body, headers
  end,
  ["/decode"] = function(req)
    local ok, v = pcall(cjson.decode, req.body)
    if not ok then return 400, "bad JSON\n" end
    return http.json(200, { sum = v.a + v.b })
  end,
  ["/decode-raw"] = function(req) return http.json(200, cjson.decode(req.body)) end,
  ["/errors"] = function()
    return http.json(200, { handler_errors = mw.stats().handler_errors })
  end,
}

return http.server(function(req)
  local route = routes[req.path]
  if not route then return 404, "not found\n" end
  return route(req)
end)
