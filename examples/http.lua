-- http: a small HTTP/1.1 server on moonwire.http.
--   GET /            a short greeting
--   POST /echo       the request body back
--   GET /stats       this worker's figures (mw.stats()) in JSON
--   GET /anything    the file of that path under MW_HTTP_ROOT, if it is set;
--                    ".." segments (even percent-encoded) are refused with 403
--   MW_HTTP_ROOT=/var/www moonwire -l 127.0.0.1:8080 examples/http.lua
--   curl http://127.0.0.1:8080/
-- Files are read with io.open, which blocks the worker while it reads: fine
-- for small files on a local disk, not for a network file system.
local mw = require "moonwire"
local http = require "moonwire.http"

local root = os.getenv("MW_HTTP_ROOT")
if root then root = root:gsub("/+$", "") end

local HELLO = "hello from moonwire\n"
local TEXT = { ["Content-Type"] = "text/plain" }

local types = {
  html = "text/html; charset=utf-8", txt = "text/plain; charset=utf-8",
  css = "text/css", js = "text/javascript", json = "application/json",
  png = "image/png", jpg = "image/jpeg", gif = "image/gif", svg = "image/svg+xml",
}

-- The file system path of a request path, or nil and the status to answer.
local function file_path(path)
  local decoded = http.unescape(path)
  if not decoded or decoded:find("%z") then return nil, 400 end
  for segment in decoded:gmatch("[^/\\]+") do
    if segment == ".." then return nil, 403 end
  end
  return root .. decoded
end

local function serve_file(req)
  if not root then return 404, "not found\n" end
  local path, status = file_path(req.path)
  if not path then return status, http.reasons[status] .. "\n" end
  local f = io.open(path, "rb")
  local body = f and f:read("*a") -- nil for a directory
  if f then f:close() end
  if not body then return 404, "not found\n" end
  local ext = path:match("%.(%w+)$")
  return 200, body, { ["Content-Type"] = types[ext and ext:lower()] or "application/octet-stream" }
end

return http.server(function(req)
  local method, path = req.method, req.path
  if path == "/" and (method == "GET" or method == "HEAD") then
    return 200, HELLO, TEXT
  end
  if path == "/stats" and (method == "GET" or method == "HEAD") then
    return http.json(200, mw.stats())
  end
  if path == "/echo" then
    if method ~= "POST" then return 405, "use POST\n", { Allow = "POST" } end
    return 200, req.body, TEXT
  end
  if method ~= "GET" and method ~= "HEAD" then
    return 405, "method not allowed\n", { Allow = "GET, HEAD" }
  end
  return serve_file(req)
end, { max_body = 8 * 1024 * 1024 })
