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
-- closed without a response, as nginx does. When the worker drains (a stop,
-- a reload), each connection closes at the end of a request: see "a
-- draining worker" below.

local sub, find, match, lower, format = string.sub, string.find,
  string.match, string.lower, string.format
local concat, tonumber, tostring, type, pairs = table.concat, tonumber, tostring, type, pairs
local gsub, char, rep, os_date = string.gsub, string.char, string.rep, os.date
local xpcall, pcall, error = xpcall, pcall, error
local traceback, getinfo = debug.traceback, debug.getinfo
local max, huge, setmetatable = math.max, math.huge, setmetatable
local new_buffer = require("string.buffer").new
local parser = require "moonwire.http_parser"
local parse_head, parse_chunks = parser.parse_head, parser.parse_chunks
local wants_close, body_kind = parser.wants_close, parser.body_kind

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

-- cjson's encode, loaded by the first http.json: a server that sends no
-- JSON does not need lua-cjson.
local encode_json
-- The handler running (its file:line), for http.json's errors.
local running = "?"
local here = getinfo(1, "S").source

-- What cjson could not encode, raised where http.json was called; or, when
-- the caller's frame is gone (return http.json(...) is a tail call), naming
-- the handler.
local function encode_failed(why)
  why = gsub(why, "^.-:%d+: ", "")
  local caller = getinfo(3, "S")
  if caller and caller.source ~= here then error("http.json: " .. why, 3) end
  error(format("http.json: %s (in http handler %s)", why, running), 0)
end

-- http.json(status, value [, headers]): what a handler returns to answer
-- with value in JSON, Content-Type application/json unless headers has one.
-- A value cjson cannot encode raises, in the handler: a 500.
function M.json(status, value, headers)
  if headers ~= nil and type(headers) ~= "table" then
    error("http.json: headers must be a table, got " .. type(headers), 2)
  end
  encode_json = encode_json or require("cjson").encode
  local ok, body = pcall(encode_json, value)
  if not ok then encode_failed(body) end
  local h = { ["Content-Type"] = "application/json" }
  if headers then
    for k, v in pairs(headers) do
      if type(k) == "string" and lower(k) == "content-type" then h["Content-Type"] = nil end
      h[k] = v
    end
  end
  return status, body, h
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
-- cannot be sent raises, naming the handler (limits.where). last: the
-- connection closes after it (a draining worker's last request of a read).
local function respond(conn, st, req, handler, limits, last)
  req.conn = conn
  req.close = last or wants_close(req)
  running = limits.where
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
    respond(conn, st, req, handler, limits, limits.draining and pos > #buf)
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
  shutdown_idle = 1000,    -- ms a draining worker keeps a connection that sends nothing
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

-- ---- a draining worker ----

-- When the worker begins to drain (a stop, a reload), each connection hears
-- of it (on_shutdown). A request in progress, and any that comes later, is
-- answered with "Connection: close" (the last of a read's pipelined ones:
-- those before it are answered too), and the connection closes after it.
-- One between requests is closed once shutdown_idle ms pass with no byte
-- from it, so that a request already on its way is answered, not cut
-- (closing it at once races the client's next request, which nginx loses).
-- Returns the on_shutdown function and the set of connections it waits on,
-- which a read or a close takes a connection out of.
local function drainer(states, limits)
  local quiet, timer = setmetatable({}, { __mode = "k" }), nil
  local function close_quiet()
    for conn in pairs(quiet) do
      quiet[conn] = nil
      conn:close()
    end
  end
  local function on_shutdown(conn)
    limits.draining = true
    local st = states[conn]
    if st and (st.closing or st.tail or st.req or st.more) then return end
    quiet[conn] = true
    if not timer then timer = mw.after(limits.shutdown_idle, close_quiet) end
  end
  return on_shutdown, quiet
end

-- http.server(handler, opts): a handler table for moonwire. handler(req)
-- returns status, body (a string), headers (a table name -> value).
-- opts: max_request_line, max_header, max_headers, max_body,
-- header_timeout, body_timeout, shutdown_idle, and any handler fields
-- (idle_timeout, on_connect, on_close, on_shutdown ...) to include.
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
  local on_shutdown, quiet = drainer(states, limits)
  local on_close, users_shutdown = h.on_close, h.on_shutdown
  h.on_close = function(conn, reason)
    states[conn], waiting[conn], quiet[conn] = nil, nil, nil
    if on_close then return on_close(conn, reason) end
  end
  h.on_shutdown = function(conn)
    on_shutdown(conn)
    if users_shutdown then return users_shutdown(conn) end
  end
  h.on_data = function(conn, data)
    local st = states[conn]
    if not st then
      st = {}
      states[conn] = st
    end
    if st.closing then return end
    if limits.draining then quiet[conn] = nil end
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
