-- t/fuzz/fuzz_http.lua: the Lua half of t/fuzz/fuzz_http.c. Each input (read
-- by fakeconn.input) goes through http.server's on_data twice, on two fake
-- connections: whole, and cut into pieces. The request handler answers
-- with what was parsed (method, target, version, headers, body), so the
-- responses show it. http.lua reports a malformed request by answering
-- 4xx/5xx and closing, never by raising: any error raised here is a
-- finding, and so are output that is not HTTP/1.1 responses and responses
-- that depend on how the bytes were cut ("100 Continue" aside, which is
-- sent only while a body is still missing).
-- The library functions called: http.server(handler, opts) and its
-- handler's on_connect (if any), on_data(conn, data) and on_close.

local fake = require "fakeconn"
local http = require "moonwire.http"

local concat, sort, pairs = table.concat, table.sort, pairs

local function describe(req)
  local names = {}
  for k in pairs(req.headers) do names[#names + 1] = k end
  sort(names)
  local t = { req.method, req.target, req.path, req.query or "-", req.version }
  for i = 1, #names do t[#t + 1] = names[i] .. "=" .. req.headers[names[i]] end
  t[#t + 1] = #req.body .. ":" .. req.body
  return concat(t, "\n")
end

local function handler(req) return 200, describe(req) end

-- Variant 1: limits small enough for the fuzzer to cross.
local options = {
  [0] = {},
  [1] = { max_request_line = 40, max_header = 200, max_headers = 4, max_body = 64 },
}

local CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n"

-- What was written, without "100 Continue"; each write is responses.
local function responses(out)
  local t = {}
  for i = 1, #out do
    if out[i] ~= CONTINUE then
      if out[i]:sub(1, 9) ~= "HTTP/1.1 " then error("written, not a response: " .. ("%q"):format(out[i]:sub(1, 60))) end
      t[#t + 1] = out[i]
    end
  end
  return concat(t)
end

-- Known, reported with issue 18: http.lua judges a size while it waits for
-- the end of what it measures, and not again once the end has come, so
-- how the bytes are cut decides (1) a request line of exactly
-- max_request_line bytes, or a head within a byte or two of max_header, is
-- refused (414, 431) when a read ends inside the CRLF after it, accepted
-- when the CRLF comes whole (t/fuzz/corpus/http/split-414, split-431);
-- (2) chunked trailers of any size are accepted when their blank line comes
-- in the same read, refused (431) past max_header when they come in pieces
-- (split-trailers); (3) so is a chunk-size line of any length, refused
-- (400) past 1,024 bytes (split-chunk-line). Until http.lua is fixed, a
-- split run may end in one of these refusals early; what came before it
-- must still be the same.
local function refusal(input)
  local out = fake.run(http.server(handler, options[1]), { input })
  return responses(out)
end
local EARLY = {
  refusal(("x"):rep(64)),
  refusal("GET / HTTP/1.1\r\n" .. ("a: b\r\n"):rep(40)),
  refusal("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" .. ("a"):rep(300)),
  refusal("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" .. ("a"):rep(1100)),
}
for _, r in ipairs(EARLY) do assert(r:find("^HTTP/1.1 4%d%d .*too "), r) end
return function(data)
  local variant, whole, pieces = fake.input(data)
  local out1, closed1 = fake.run(http.server(handler, options[variant]), whole)
  local out2, closed2 = fake.run(http.server(handler, options[variant]), pieces)
  out1, out2 = responses(out1), responses(out2)
  if closed2 and fake.refused_early(out1, out2, EARLY) then return end
  fake.differ("responses", out1, out2)
  if closed1 ~= closed2 then error("closed whole: " .. tostring(closed1) .. ", split: " .. tostring(closed2)) end
end
