-- moonwire.http: an HTTP/1.1 server helper.
--   local http = require "moonwire.http"
--   return http.server(function(req) return 200, "hello\n" end)
-- Requests are parsed from whatever arrived (framing "raw"), pipelined ones
-- included, and the responses of one read leave in one write. The reads of
-- a body the parser knows the length of are gathered in a string buffer and
-- joined once. Keep-alive by default in HTTP/1.1, close by default in
-- HTTP/1.0. Malformed requests get 400, oversized ones 413, 414 or 431, and
-- close; a handler that raises gets 500, and closes. A request's head must
-- come whole within header_timeout of its first byte, and its body with no
-- more than body_timeout between two reads: past either, the connection is
-- closed without a response, as nginx does.

local byte, sub, find, match, lower, format = string.byte, string.sub, string.find,
  string.match, string.lower, string.format
local concat, tonumber, tostring, type, pairs = table.concat, tonumber, tostring, type, pairs
local gsub, char, rep, os_date = string.gsub, string.char, string.rep, os.date
local xpcall, error, traceback, getinfo = xpcall, error, debug.traceback, debug.getinfo
local max, huge, setmetatable = math.max, math.huge, setmetatable
local new_buffer = require("string.buffer").new

-- LuaJIT's table.new(narray, nhash): a table sized up front, not grown by rehashing.
local new_table = require "table.new"

local M = {}

local reasons = {
  [100] = "Continue", [200] = "OK", [201] = "Created", [202] = "Accepted",
  [204] = "No Content", [206] = "Partial Content",
  [301] = "Moved Permanently", [302] = "Found", [303] = "See Other",
  [304] = "Not Modified", [307] = "Temporary Redirect", [308] = "Permanent Redirect",
  [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden",
  [404] = "Not Found", [405] = "Method Not Allowed", [408] = "Request Timeout",
  [409] = "Conflict", [411] = "Length Required", [413] = "Content Too Large",
  [414] = "URI Too Long", [415] = "Unsupported Media Type",
  [417] = "Expectation Failed", [429] = "Too Many Requests",
  [431] = "Request Header Fields Too Large", [500] = "Internal Server Error",
  [501] = "Not Implemented", [502] = "Bad Gateway", [503] = "Service Unavailable",
  [505] = "HTTP Version Not Supported",
}
M.reasons = reasons

-- "HTTP/1.1 200 OK\r\n" for each known status, made once.
local status_lines = {}
for code, reason in pairs(reasons) do
  status_lines[code] = "HTTP/1.1 " .. code .. " " .. reason .. "\r\n"
end

local function status_line(code)
  return status_lines[code] or format("HTTP/1.1 %d %s\r\n", code, reasons[code] or "Unknown")
end

-- The Date header, formatted by a timer just after each second begins, so a
-- response makes no call for it (a C call per request keeps the JIT from
-- compiling the request path in one piece).
local mw = require "moonwire"
local date_header
local function refresh_date()
  date_header = os_date("!Date: %a, %d %b %Y %H:%M:%S GMT\r\nServer: moonwire\r\n")
  mw.after(1001 - mw.now() % 1000, refresh_date)
end
refresh_date()

-- ---- helpers for handlers ----

-- http.unescape(s): percent-decoding; nil when a % is not followed by two hex digits.
function M.unescape(s)
  if not find(s, "%", 1, true) then return s end
  if find(s, "%%%X") or find(s, "%%%x%X") or find(s, "%%.?$") then return nil end
  return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

-- http.parse_query(q): a table of the decoded name=value pairs (the last wins).
function M.parse_query(q)
  local t = {}
  for pair in (q or ""):gmatch("[^&]+") do
    local k, v = match(pair, "^([^=]*)=?(.*)$")
    k, v = M.unescape((gsub(k, "+", " "))), M.unescape((gsub(v, "+", " ")))
    if k then t[k] = v or "" end
  end
  return t
end

-- ---- responses ----

-- What a handler returned that cannot be sent: raised as an error naming
-- the handler (where: its file:line), never sent as "table: 0x...".
local function bad_result(where, what, v, expected)
  error(format("http handler %s returned a %s as %s, not %s", where, type(v), what, expected), 0)
end

-- Appends the response to out (from index n+1); returns the new n. body is
-- a string; headers come from the handler described by where.
local function put_response(out, n, req, status, body, headers, where)
  out[n + 1], out[n + 2] = status_line(status), date_header
  n = n + 2
  local typed = false
  if headers then
    for k, v in pairs(headers) do
      if type(k) ~= "string" then bad_result(where, "a header name", k, "a string") end
      local tv = type(v)
      if tv ~= "string" and tv ~= "number" then bad_result(where, "header " .. k, v, "a string") end
      if not typed and lower(k) == "content-type" then typed = true end
      out[n + 1], out[n + 2], out[n + 3], out[n + 4] = k, ": ", v, "\r\n"
      n = n + 4
    end
  end
  if not typed and status ~= 204 and status ~= 304 then
    n = n + 1
    out[n] = "Content-Type: text/plain\r\n"
  end
  if req.close then
    n = n + 1
    out[n] = "Connection: close\r\n"
  elseif req.version == "1.0" then
    n = n + 1
    out[n] = "Connection: keep-alive\r\n"
  end
  if status == 204 or status == 304 then
    out[n + 1] = "\r\n"
    return n + 1
  end
  out[n + 1], out[n + 2], out[n + 3] = "Content-Length: ", #body, "\r\n\r\n"
  n = n + 3
  if req.method ~= "HEAD" then
    n = n + 1
    out[n] = body
  end
  return n
end

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
local function wants_close(req)
  local c = req.headers.connection
  c = c and lower(c)
  if req.version == "1.0" then return not (c and find(c, "keep-alive", 1, true)) end
  return c ~= nil and find(c, "close", 1, true) ~= nil
end

-- How the body comes: "none", "length" (with its size) or "chunked"; or fails.
local function body_kind(req, limits)
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
local function parse_head(buf, pos, limits)
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
local function parse_chunks(buf, pos, st, limits)
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

-- ---- the connection ----

local out, out_n = {}, 0

-- Empties out: after its write, and before each read.
local function clear_out()
  for i = 1, out_n do out[i] = nil end
  out_n = 0
end

-- Forgets the pieces of a response that put_response left unfinished past
-- out_n when what it was given raised.
local function drop_unfinished()
  local i = out_n + 1
  while out[i] ~= nil do
    out[i] = nil
    i = i + 1
  end
end

-- Queues the response to a failed request and marks the connection to close.
local function refuse(st, status, why)
  local req = { close = true, version = "1.1", method = "GET" }
  local text = status .. " " .. (reasons[status] or "") .. (why and ": " .. why or "") .. "\n"
  out_n = put_response(out, out_n, req, status, text)
  st.closing = true
end

-- Runs the handler on a complete request and queues its response; what
-- cannot be sent raises, naming the handler (limits.where).
local function respond(conn, st, req, handler, limits)
  req.conn = conn
  req.close = wants_close(req)
  local status, body, headers = handler(req)
  if type(status) ~= "number" then bad_result(limits.where, "its status", status, "a number") end
  if type(body) ~= "string" then
    if body == nil then
      body = ""
    elseif type(body) == "number" then
      body = tostring(body)
    else
      bad_result(limits.where, "its body", body, "a string")
    end
  end
  if headers ~= nil and type(headers) ~= "table" then
    bad_result(limits.where, "its headers", headers, "a table")
  end
  out_n = put_response(out, out_n, req, status, body, headers, limits.where)
  if req.close then st.closing = true end
end

-- Sends "100 Continue" once when the client waits for it before its body.
local function maybe_continue(conn, req)
  local expect = req.headers.expect
  if expect and lower(expect) == "100-continue" and not req.continued then
    req.continued = true
    conn:write("HTTP/1.1 100 Continue\r\n\r\n")
  end
end

-- The body of st.req from buf at pos: the next position; or nil, the
-- buffer length needed and where the unparsed rest starts; or false, status, why.
local function read_body(st, buf, pos, limits)
  local req = st.req
  if st.kind == "length" then
    local last = pos + st.length - 1
    if last > #buf then return nil, last, pos end
    req.body = sub(buf, pos, last)
    return last + 1
  end
  local nxt, x, y = parse_chunks(buf, pos, st, limits)
  if nxt then
    req.body = concat(st.chunks)
  end
  return nxt, x, y
end

-- Keeps buf from pos for the next read. When the parser knows what length
-- the kept bytes must reach (need, a position in buf), the reads until then
-- go to a string buffer (st.more) and are joined once: a large body costs
-- its length, not its length times its reads, and each read is seen, for
-- the body timeout.
local function keep_tail(st, buf, pos, need)
  if need then
    local more = new_buffer()
    more:put(buf):skip(pos - 1)
    st.more, st.need = more, need - pos + 1
  elseif pos <= #buf then
    st.tail = sub(buf, pos)
  end
end

-- ---- deadlines: a head's, and a body's between two reads ----

-- Connections waiting for the rest of a head or a body, to their state:
-- st.due is when they expire, st.phase "header" or "body". One timer runs at
-- the earliest due time (sweep_at). A request that comes in one read never
-- enters, so the common path arms no timer.
local waiting = setmetatable({}, { __mode = "k" })
local sweep_timer, sweep_at = nil, huge
local SWEEP_EVERY = 50 -- ms at least between sweeps: expiries this close share one

local function unwatch(conn, st)
  st.due, st.phase = nil, nil
  waiting[conn] = nil
end

-- Closes a connection past its deadline without a response, as nginx does
-- for client_header_timeout and client_body_timeout (it logs a 408 but
-- sends nothing): a client that stalls is not waiting for an answer.
local function expire(conn, st)
  mw.log("info", format("connection %.0f: http: %s timeout", conn.id, st.phase))
  unwatch(conn, st)
  st.closing = true
  conn:close()
end

local sweep

local function arm_sweep(due)
  if sweep_timer then sweep_timer:cancel() end
  sweep_at = due
  sweep_timer = mw.after(max(due - mw.now(), 0), sweep)
end

sweep = function()
  sweep_timer, sweep_at = nil, huge
  local now, next_due = mw.now(), huge
  for conn, st in pairs(waiting) do
    if st.due <= now then
      expire(conn, st)
    elseif st.due < next_due then
      next_due = st.due
    end
  end
  if next_due < huge then arm_sweep(max(next_due, now + SWEEP_EVERY)) end
end

local function watch(conn, st, timeout, phase)
  local due = mw.now() + timeout
  st.due, st.phase = due, phase
  waiting[conn] = st
  if due < sweep_at then arm_sweep(due) end
end

-- After a read that left a request unfinished, or finished one that had a
-- deadline: a head's deadline runs from the read that brought its first
-- byte, a body's from each read.
local function keep_time(conn, st, limits)
  if st.closing then
    if st.due then unwatch(conn, st) end
  elseif st.req then
    if limits.body_timeout > 0 then watch(conn, st, limits.body_timeout, "body") end
  elseif st.tail then
    if st.phase ~= "header" and limits.header_timeout > 0 then
      watch(conn, st, limits.header_timeout, "header")
    end
  elseif st.due then
    unwatch(conn, st)
  end
end

-- ---- serving a read ----

-- Starts the request whose head is at pos; returns the body position or nil/false.
local function start_request(conn, st, buf, pos, limits)
  local req, at, why = parse_head(buf, pos, limits)
  if not req then
    if req == false then refuse(st, at, why) end
    return req
  end
  if st.due then unwatch(conn, st) end -- the head came in time
  local kind, n, bad = body_kind(req, limits)
  if not kind then
    refuse(st, n, bad)
    return false
  end
  st.req, st.kind, st.length, st.body_size, st.chunks = req, kind, n, 0, kind == "chunked" and {} or nil
  if kind == "none" then req.body = "" end
  return at
end

-- Serves every complete request in buf.
local function run(conn, st, buf, handler, limits)
  local pos = 1
  while not st.closing do
    if not st.req then
      if pos > #buf then return end
      local at = start_request(conn, st, buf, pos, limits)
      if not at then
        if at == nil then keep_tail(st, buf, pos) end
        return
      end
      pos = at
    end
    if st.kind ~= "none" then
      local nxt, x, y = read_body(st, buf, pos, limits)
      if not nxt then
        if nxt == false then return refuse(st, x, y) end
        maybe_continue(conn, st.req)
        return keep_tail(st, buf, y, x)
      end
      pos = nxt
    end
    local req = st.req
    st.req, st.chunks = nil, nil
    respond(conn, st, req, handler, limits)
  end
end

-- Writes what the read queued; returns conn:write's bytes still queued (0
-- with nothing to write), or nil when the connection is going.
local function flush(conn, st)
  local left = 0
  if out_n > 0 then
    left = conn:write(concat(out, "", 1, out_n))
    clear_out()
  end
  if st.closing then conn:close() end
  return left
end

-- ---- a handler that raised ----

-- xpcall's message handler: the traceback from where the error was raised.
-- LuaJIT does not call it for a memory error, which is how one is told apart.
local traced = false
local function trace(e)
  traced = true
  if type(e) ~= "string" then e = "(error object is a " .. type(e) .. " value)" end
  return traceback(e, 2)
end

-- LuaJIT raises its memory error for a string over 2 GiB before allocating
-- any of it: a memory error caught here leaves as one, so that the core
-- closes with "out of memory" and collects, as for any handler.
local function raise_memory_error()
  return rep("xx", 0x40000000)
end

-- The handler raised: the responses to the requests before it leave, then
-- a 500 that closes the connection. The error goes on to the core, which
-- logs it with the connection's id and counts it; only when output is
-- still queued (the core's abort would drop it) is it logged here instead.
local function handler_failed(conn, st, err)
  local was_traced = traced
  traced = false
  drop_unfinished()
  if st.due then unwatch(conn, st) end
  if not was_traced and err == "not enough memory" then
    clear_out()
    raise_memory_error()
  end
  refuse(st, 500)
  local left = flush(conn, st)
  if not left or left == 0 then error(err, 0) end
  mw.log("error", format("connection %.0f: on_data: %s", conn.id, err))
end

local defaults = {
  max_request_line = 8192, -- bytes; past it, 414
  max_header = 16384,      -- bytes of request line and headers; past it, 431
  max_headers = 100,       -- header fields; past it, 431
  max_body = 1048576,      -- bytes of body; past it, 413
  header_timeout = 60000,  -- ms from a request's first byte to its last header (nginx: 60 s)
  body_timeout = 60000,    -- ms between two reads of a body (nginx: 60 s)
}

-- Where a function was defined, "file:line", to name the handler in errors.
local function defined_at(fn)
  local info = type(fn) == "function" and getinfo(fn, "S")
  if not info then return tostring(fn) end
  return info.short_src .. ":" .. info.linedefined
end

-- The limits of http.server's opts: its defaults, checked.
local function take_limits(opts, handler)
  local limits = { where = defined_at(handler) }
  for k, v in pairs(defaults) do
    local given = opts[k]
    if given ~= nil and (type(given) ~= "number" or given < 0) then
      error(format("http.server: %s must be a number >= 0, got %s", k, tostring(given)), 3)
    end
    limits[k] = given or v
  end
  return limits
end

-- A read for a body still short of st.need: joined once it is complete
-- (returned), else nil, and the body's deadline starts again.
local function gather(conn, st, data, limits)
  local more = st.more
  more:put(data)
  if #more < st.need then
    if limits.body_timeout > 0 then watch(conn, st, limits.body_timeout, "body") end
    return nil
  end
  data = more:tostring()
  more:free()
  st.more, st.need = nil, nil
  return data
end

-- http.server(handler, opts): a handler table for moonwire. handler(req)
-- returns status, body (a string), headers (a table name -> value).
-- opts: max_request_line, max_header, max_headers, max_body,
-- header_timeout, body_timeout, and any handler fields (idle_timeout,
-- on_connect, on_close ...) to include.
function M.server(handler, opts)
  opts = opts or {}
  local limits, h = take_limits(opts, handler), { framing = "raw", idle_timeout = 60000 }
  for k, v in pairs(opts) do
    if defaults[k] == nil then h[k] = v end
  end
  -- Each connection's parser state, by connection: a table lookup per read
  -- rather than a call into C for conn.state, which stays the handler's own.
  -- Dropped at close (weak keys only as a safety net).
  local states = setmetatable({}, { __mode = "k" })
  local on_close = h.on_close
  h.on_close = function(conn, reason)
    states[conn], waiting[conn] = nil, nil
    if on_close then return on_close(conn, reason) end
  end
  h.on_data = function(conn, data)
    local st = states[conn]
    if not st then
      st = {}
      states[conn] = st
    end
    if st.closing then return end
    if st.more then
      data = gather(conn, st, data, limits)
      if not data then return end
    elseif st.tail then
      data = st.tail .. data
      st.tail = nil
    end
    clear_out()
    local ok, err = xpcall(run, trace, conn, st, data, handler, limits)
    if not ok then return handler_failed(conn, st, err) end
    flush(conn, st)
    if st.tail or st.req or st.due then keep_time(conn, st, limits) end
  end
  return h
end

return M
