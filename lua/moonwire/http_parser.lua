-- moonwire.http_parser: the request parser of moonwire.http.
--   local parser = require "moonwire.http_parser"
--   local req, at = parser.parse_head(buf, pos, limits)
-- Request line and headers (parse_head), chunked bodies (parse_chunks),
-- and what a head says of the body (body_kind) and of the connection
-- (wants_close). limits: max_request_line, max_header, max_headers,
-- max_body. A fault is answered as false, status, why: the status to
-- refuse with, and why, for the body of the refusal.

local byte, sub, find, match, lower = string.byte, string.sub, string.find, string.match,
  string.lower
local tonumber = tonumber

-- LuaJIT's table.new(narray, nhash): a table sized up front, not grown by rehashing.
local new_table = require "table.new"

local M = {}

-- ---- parsing ----

local TOKEN = "^[%w!#$%%&'*+%-.^_`|~]+$"

-- A failure: status and a short reason, sent as the response body.
local function fail(status, why)
  return nil, status, why
end

-- Adds header name: value to h, joining repeats with ", "; returns why a
-- repeat is refused: a second Host (RFC 9112 3.2), or a Content-Length
-- that differs from the first.
local function add_header(h, name, value)
  local old = h[name]
  if not old then
    h[name] = value
  elseif name == "host" then
    return "more than one Host"
  elseif name ~= "content-length" then
    h[name] = old .. ", " .. value
  elseif old ~= value then
    return "conflicting Content-Length"
  end
end

-- Header names already seen to be tokens: most requests repeat a few dozen
-- names, and a plain table lookup spares a pattern match per header. Bounded,
-- so a client inventing names cannot grow it.
local token_names, token_count = {}, 0
local function remember_token(name)
  if token_count < 512 then
    token_names[name], token_count = true, token_count + 1
  end
end

-- buf[from .. to] without the spaces and tabs around it.
local function trimmed(buf, from, to)
  local b = byte(buf, from)
  while from <= to and (b == 32 or b == 9) do
    from = from + 1
    b = byte(buf, from)
  end
  b = byte(buf, to)
  while to >= from and (b == 32 or b == 9) do
    to = to - 1
    b = byte(buf, to)
  end
  return sub(buf, from, to)
end

-- Parses the header lines in buf[from .. to]; returns the table or nil, status, why.
local function parse_headers(buf, from, to, limits)
  local h, count = new_table(0, 4), 0
  while from <= to do
    local e = find(buf, "\r\n", from, true)
    if not e or e > to + 1 then e = to + 1 end
    local colon = find(buf, ":", from, true)
    if not colon or colon > e then return fail(400, "header line without a colon") end
    local name = sub(buf, from, colon - 1)
    if not token_names[name] then
      if not find(name, TOKEN) then return fail(400, "bad header name") end
      remember_token(name)
    end
    local value = trimmed(buf, colon + 1, e - 1)
    if find(value, "\r", 1, true) or find(value, "\n", 1, true) or find(value, "\0", 1, true) then
      return fail(400, "bad header value")
    end
    count = count + 1
    if count > limits.max_headers then return fail(431, "too many header fields") end
    local refused = add_header(h, lower(name), value)
    if refused then return fail(400, refused) end
    from = e + 2
  end
  return h
end

-- Splits the request target into path and query; nil if it is not one we serve.
local function split_target(method, target)
  if byte(target, 1) ~= 47 then -- "/"
    if target == "*" and method == "OPTIONS" then return "*" end
    local path = match(target, "^https?://[^/?#]+(/?[^#]*)$")
    if not path then return nil end
    target = path == "" and "/" or path
  end
  local q = find(target, "?", 1, true)
  if q then return sub(target, 1, q - 1), sub(target, q + 1) end
  return target
end

-- Methods known to be tokens, so the common request line needs no pattern.
local KNOWN_METHODS = {
  GET = true, HEAD = true, POST = true, PUT = true, DELETE = true,
  OPTIONS = true, PATCH = true, CONNECT = true, TRACE = true,
}

-- Whether s has a space, a control byte (NUL included) or DEL: none may be
-- in a request target (RFC 3986), and nginx refuses them with 400.
local function has_ctl(s)
  for i = 1, #s do
    local b = byte(s, i)
    if b <= 32 or b == 127 then return true end
  end
  return false
end

-- "METHOD target HTTP/1.x" by plain searches: method, target, major, minor;
-- nil for anything else, which the pattern below then judges.
local function split_request_line(buf, pos, e)
  local sp1 = find(buf, " ", pos, true)
  if not sp1 or sp1 >= e then return nil end
  local sp2 = find(buf, " ", sp1 + 1, true)
  if not sp2 or sp2 + 9 ~= e or sub(buf, sp2 + 1, sp2 + 7) ~= "HTTP/1." then return nil end
  local method = sub(buf, pos, sp1 - 1)
  local minor = byte(buf, sp2 + 8)
  if not KNOWN_METHODS[method] or (minor ~= 48 and minor ~= 49) then return nil end
  local target = sub(buf, sp1 + 1, sp2 - 1)
  if target == "" then return nil end
  return method, target, "1", minor == 48 and "0" or "1"
end

-- Parses the request line in buf[pos .. e-1]: method, target, path, query
-- (or nil) and version; or fails (nil, status, why).
local function parse_request_line(buf, pos, e)
  local method, target, major, minor = split_request_line(buf, pos, e)
  if not method then
    method, target, major, minor = match(sub(buf, pos, e - 1), "^(%S+) (%S+) HTTP/(%d)%.(%d)$")
    if not method or not find(method, TOKEN) then return fail(400, "malformed request line") end
  end
  if has_ctl(target) then return fail(400, "control byte in the request target") end
  if major ~= "1" then return fail(505, "only HTTP/1.x is served") end
  local path, query = split_target(method, target)
  if not path then return fail(400, "malformed request target") end
  return method, target, path, query, minor == "0" and "1.0" or "1.1"
end

-- Whether the connection ends after this request, by version and Connection.
function M.wants_close(req)
  local c = req.headers.connection
  c = c and lower(c)
  if req.version == "1.0" then return not (c and find(c, "keep-alive", 1, true)) end
  return c ~= nil and find(c, "close", 1, true) ~= nil
end

-- How the body comes: "none", "length" (with its size) or "chunked"; or fails.
function M.body_kind(req, limits)
  local h = req.headers
  local te, cl = h["transfer-encoding"], h["content-length"]
  if te then
    if cl then return fail(400, "both Transfer-Encoding and Content-Length") end
    if lower(te) ~= "chunked" then return fail(501, "unsupported Transfer-Encoding") end
    if req.version == "1.0" then return fail(400, "chunked body in HTTP/1.0") end
    return "chunked"
  end
  if not cl then return "none" end
  if not find(cl, "^%d+$") or #cl > 15 then return fail(400, "bad Content-Length") end
  local n = tonumber(cl)
  if n > limits.max_body then return fail(413, "body too large") end
  return n > 0 and "length" or "none", n
end

-- The first LF at or after from (before stop, if given) without a CR before
-- it. A line ended so would never end, as lines end at CRLF here: such a
-- request is refused at once rather than held until a timeout (nginx takes
-- a bare LF as a line end; RFC 9112 2.2 allows either).
local function bare_lf(buf, from, stop)
  local lf = find(buf, "\n", from, true)
  while lf and (not stop or lf < stop) do
    if lf == from or byte(buf, lf - 1) ~= 13 then return lf end
    lf = find(buf, "\n", lf + 1, true)
  end
end

-- How many of the bytes of buf up to at could be the start of term (a read
-- may end inside the CRLF that ends a line, or the CRLFCRLF of a head).
local function partial_at(buf, at, term)
  for n = #term - 1, 1, -1 do
    if sub(buf, at - n + 1, at) == sub(term, 1, n) then return n end
  end
  return 0
end

-- Where in buf a section from pos is first known to pass limit before its
-- term: the shortest read that shows more than limit bytes that are not a
-- start of term (nil: not yet, or never).
local function too_long_at(buf, pos, limit, term)
  for at = pos + limit, math.min(#buf, pos + limit + #term - 1) do
    if at + 1 - partial_at(buf, at, term) - pos > limit then return at end
  end
end

-- Judges a section of a head (the request line, or the line and headers)
-- from pos, its LFs looked at from from, ended by term at stop (nil: not
-- yet come): false, status, why for its fault, or nil. A fault is the one
-- the shortest read would show, so that how the reads cut a request never
-- changes its answer (t/fuzz/fuzz_http compares them): a bare LF, or more
-- than limit bytes (too_long, why), whichever comes first.
local function section_fault(buf, pos, from, stop, limit, term, too_long, why)
  local lf = bare_lf(buf, from, stop)
  local long = too_long_at(buf, pos, limit, term)
  if lf and (not long or lf <= long) then return false, 400, "bare LF line end" end
  if long and (not stop or long <= stop) then return false, too_long, why end
  return nil
end

local function line_fault(buf, pos, line_end, limits)
  return section_fault(buf, pos, pos, line_end, limits.max_request_line, "\r\n", 414,
    "request line too long")
end

local function head_fault(buf, pos, line_end, head_end, limits)
  return section_fault(buf, pos, line_end + 2, head_end, limits.max_header, "\r\n\r\n", 431,
    "header section too large")
end

-- Parses a request head at pos: returns the request and the position of
-- its body; nil when more is needed; or false, status, why. The request
-- line is judged as soon as it ends, so one that is not HTTP/1.x (an
-- HTTP/0.9 "GET /") is answered without waiting for headers.
function M.parse_head(buf, pos, limits)
  while sub(buf, pos, pos + 1) == "\r\n" do pos = pos + 2 end -- stray CRLFs between requests
  local line_end = find(buf, "\r\n", pos, true)
  local ok, status, why = line_fault(buf, pos, line_end, limits)
  if ok == false or not line_end then return ok, status, why end
  local method, target, path, query, version = parse_request_line(buf, pos, line_end)
  if not method then return false, target, path end -- the status and why
  local head_end = find(buf, "\r\n\r\n", line_end, true)
  ok, status, why = head_fault(buf, pos, line_end, head_end, limits)
  if ok == false or not head_end then return ok, status, why end
  local headers, status, why = parse_headers(buf, line_end + 2, head_end - 1, limits)
  if not headers then return false, status, why end
  if version == "1.1" and not headers.host then return false, 400, "missing Host" end
  -- Made in one piece, so its hash part is sized once: nine fields added one
  -- by one cost five rehashes. Eight fields fill a hash part of eight slots
  -- exactly; query, rarely there, is added after. conn, close and body are set
  -- before the handler runs.
  local req = {
    method = method, target = target, path = path, version = version,
    headers = headers, conn = false, close = false, body = false,
  }
  if query then req.query = query end
  return req, head_end + 4
end

-- ---- chunked bodies ----

-- Parses chunks from buf at pos into st.chunks; returns the position after
-- the last chunk and trailers; nil, the buffer length needed (if known) and
-- where the unparsed rest starts; or false, status, why.
function M.parse_chunks(buf, pos, st, limits)
  while true do
    local e = find(buf, "\r\n", pos, true)
    local ok, status, why = section_fault(buf, pos, pos, e, 1024, "\r\n", 400,
      "chunk size line too long")
    if ok == false then return ok, status, why end
    if not e then return nil, nil, pos end
    local size = match(sub(buf, pos, e - 1), "^(%x+)[ \t]*;?[^\r\n]*$")
    if not size or #size > 15 then return false, 400, "bad chunk size" end
    size = tonumber(size, 16)
    if size == 0 then
      if sub(buf, e + 2, e + 3) == "\r\n" then return e + 4 end
      local t = find(buf, "\r\n\r\n", e, true)
      local long = too_long_at(buf, e, limits.max_header, "\r\n\r\n")
      if long and (not t or long <= t) then return false, 431, "trailers too large" end
      if not t then return nil, nil, pos end
      return t + 4
    end
    st.body_size = st.body_size + size
    if st.body_size > limits.max_body then return false, 413, "body too large" end
    if e + 3 + size > #buf then
      st.body_size = st.body_size - size
      return nil, e + 3 + size, pos
    end
    if sub(buf, e + 2 + size, e + 3 + size) ~= "\r\n" then return false, 400, "chunk without CRLF" end
    st.chunks[#st.chunks + 1] = sub(buf, e + 2, e + 1 + size)
    pos = e + 4 + size
  end
end

return M
