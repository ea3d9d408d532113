-- moonwire.resp: the Redis protocol (RESP2), both ways.
--   local resp = require "moonwire.resp"
--   return resp.server(function(reply, argv, argc) reply:bulk(argv[2]) end)
-- Commands are parsed from whatever arrived, a whole pipelined batch per
-- on_data, and the replies of the batch leave in one write. A bulk body too
-- big for the buffered bytes is collected by the core with a { length = n }
-- frame, so a large value is copied once, not once per read.

local byte, sub, find, format = string.byte, string.sub, string.find, string.format
local concat, tostring, tonumber, type = table.concat, tostring, tonumber, type
local setmetatable, error = setmetatable, error

local MAX_INLINE = 64 * 1024        -- an inline command or a length line
local MAX_MULTIBULK = 1024 * 1024   -- elements in one command
local MAX_BULK = 512 * 1024 * 1024  -- bytes in one bulk string (Redis's default)
local BIG_BODY = 64 * 1024          -- a body missing this much is framed by the core

local M = {}

-- A unique value for RESP's nil, in decoded replies and in arrays to encode.
local null = setmetatable({}, { __tostring = function() return "resp.null" end })
M.null = null

-- ---- parsing commands ----

-- The decimal integer in buf[i .. j-1]; nil unless it is one (at most 15 digits).
local function int_at(buf, i, j)
  local neg = byte(buf, i) == 45
  if neg then i = i + 1 end
  if i >= j or j - i > 15 then return nil end
  local n = 0
  for k = i, j - 1 do
    local d = byte(buf, k) - 48
    if d < 0 or d > 9 then return nil end
    n = n * 10 + d
  end
  return neg and -n or n
end

-- The end of the line starting at pos ("\r\n" at e, e+1), or nil, or false
-- when no line end is in sight within MAX_INLINE bytes.
local function line_end(buf, pos)
  local e = find(buf, "\r\n", pos, true)
  if e then return e end
  if #buf - pos < MAX_INLINE then return nil end
  return false
end

local ESCAPES = { n = "\n", r = "\r", t = "\t", b = "\b", a = "\a" }

-- A quoted argument of an inline command starting at buf[i] (the quote);
-- returns the argument and the position after it, or nil.
local function quoted_arg(line, i)
  local q, parts, j = byte(line, i), {}, i + 1
  while j <= #line do
    local c = byte(line, j)
    if c == q then
      local after = byte(line, j + 1)
      if after and after ~= 32 and after ~= 9 then return nil end
      return concat(parts), j + 1
    elseif c == 92 and j < #line then -- backslash
      local n = sub(line, j + 1, j + 1)
      local hex = q == 34 and n == "x" and sub(line, j + 2, j + 3)
      if hex and find(hex, "^%x%x$") then
        parts[#parts + 1], j = string.char(tonumber(hex, 16)), j + 4
      elseif q == 34 then
        parts[#parts + 1], j = ESCAPES[n] or n, j + 2
      elseif n == "'" then
        parts[#parts + 1], j = "'", j + 2
      else
        parts[#parts + 1], j = "\\", j + 1
      end
    else
      parts[#parts + 1], j = sub(line, j, j), j + 1
    end
  end
  return nil
end

-- Splits an inline command as Redis does (spaces, "..." and '...' quoting).
local function split_inline(line, argv)
  local argc, i = 0, 1
  while true do
    i = find(line, "[^ \t]", i)
    if not i then return argc end
    local arg, nxt
    local c = byte(line, i)
    if c == 34 or c == 39 then
      arg, nxt = quoted_arg(line, i)
      if not arg then return nil end
    else
      nxt = find(line, "[ \t]", i) or #line + 1
      arg = sub(line, i, nxt - 1)
    end
    argc = argc + 1
    argv[argc] = arg
    i = nxt
  end
end

local function parse_inline(buf, pos, argv)
  local e = find(buf, "\n", pos, true)
  if not e then
    if #buf - pos >= MAX_INLINE then return false, "Protocol error: too big inline request" end
    return nil
  end
  local stop = (e > pos and byte(buf, e - 1) == 13) and e - 2 or e - 1
  local argc = split_inline(sub(buf, pos, stop), argv)
  if not argc then return false, "Protocol error: unbalanced quotes in request" end
  return argc, e + 1
end

-- One bulk string at pos into argv[i]. Returns the next position; or nil and
-- the buffer length that would complete it; or false and an error.
local function parse_bulk(buf, pos, argv, i, max_bulk)
  local c = byte(buf, pos)
  if c == nil then return nil end
  if c ~= 36 then return false, format("Protocol error: expected '$', got '%s'", sub(buf, pos, pos)) end
  local e = line_end(buf, pos)
  if not e then
    if e == false then return false, "Protocol error: too big bulk count string" end
    return nil
  end
  local len = int_at(buf, pos + 1, e)
  if not len or len < 0 or len > max_bulk then return false, "Protocol error: invalid bulk length" end
  local first = e + 2
  local last = first + len - 1
  if last + 2 > #buf then return nil, last + 2 end
  argv[i] = sub(buf, first, last)
  return last + 3
end

local function parse_multibulk(buf, pos, argv, max_bulk)
  local e = line_end(buf, pos)
  if not e then
    if e == false then return false, "Protocol error: too big mbulk count string" end
    return nil
  end
  local n = int_at(buf, pos + 1, e)
  if not n or n > MAX_MULTIBULK then return false, "Protocol error: invalid multibulk length" end
  pos = e + 2
  for i = 1, n do
    local nxt, need = parse_bulk(buf, pos, argv, i, max_bulk)
    if not nxt then return nxt, need end
    pos = nxt
  end
  return n > 0 and n or 0, pos
end

-- Parses one command at pos of buf into argv[1 .. argc].
-- Returns argc and the position after it (argc 0: an empty command);
-- nil and maybe the buffer length needed when the command is incomplete;
-- false and the error text on a protocol error.
local function parse_command(buf, pos, argv, max_bulk)
  if byte(buf, pos) == 42 then
    return parse_multibulk(buf, pos, argv, max_bulk or MAX_BULK)
  end
  return parse_inline(buf, pos, argv)
end
M.parse_command = parse_command

-- ---- encoding ----

local CRLF = "\r\n"
local OK = "+OK\r\n"
local NULL_BULK = "$-1\r\n"
local NULL_ARRAY = "*-1\r\n"

-- "$<n>\r\n" for small n, made once.
local bulk_headers = {}
for n = 0, 1024 do bulk_headers[n] = "$" .. n .. CRLF end

local function bulk_header(n)
  return bulk_headers[n] or "$" .. n .. CRLF
end

-- An integer as Redis writes it: numbers without exponent, int64 cdata without LL.
local function int_text(n)
  if type(n) == "number" then
    if n < 1e14 and n > -1e14 then return tostring(n) end
    return format("%.0f", n)
  end
  local s = tostring(n)
  return (sub(s, -3) == "ULL") and sub(s, 1, -4) or (sub(s, -2) == "LL" and sub(s, 1, -3) or s)
end
M.int_text = int_text

local function encode_into(out, n, v)
  local t = type(v)
  if t == "string" then
    out[n + 1], out[n + 2], out[n + 3] = bulk_header(#v), v, CRLF
    return n + 3
  elseif t == "number" or t == "cdata" then
    out[n + 1] = ":" .. int_text(v) .. CRLF
  elseif v == nil or v == null then
    out[n + 1] = NULL_BULK
  elseif t == "table" and v.err then
    out[n + 1] = "-" .. v.err .. CRLF
  elseif t == "table" and v.ok then
    out[n + 1] = "+" .. v.ok .. CRLF
  elseif t == "table" then
    local count = v.n or #v
    out[n + 1] = "*" .. count .. CRLF
    n = n + 1
    for i = 1, count do n = encode_into(out, n, v[i]) end
    return n
  elseif t == "boolean" then
    out[n + 1] = v and ":1\r\n" or ":0\r\n"
  else
    error("resp: cannot encode a " .. t, 3)
  end
  return n + 1
end

-- resp.encode(v): a string is a bulk string, a number an integer, nil or
-- resp.null the nil bulk, a table an array (of v.n or #v elements, nested),
-- { err = "ERR ..." } an error and { ok = "OK" } a simple string.
function M.encode(v)
  local out = {}
  local n = encode_into(out, 0, v)
  return concat(out, "", 1, n)
end

function M.bulk(s)
  if s == nil then return NULL_BULK end
  return bulk_header(#s) .. s .. CRLF
end
function M.simple(s) return "+" .. s .. CRLF end
function M.error(s) return "-" .. s .. CRLF end
function M.integer(n) return ":" .. int_text(n) .. CRLF end

-- resp.command(...): a command as a client sends it (an array of bulks).
function M.command(...)
  local args = { n = select("#", ...), ... }
  for i = 1, args.n do args[i] = tostring(args[i]) end
  return M.encode(args)
end

-- ---- decoding replies (for clients) ----

local decode

local function decode_array(buf, pos, e)
  local n = int_at(buf, pos + 1, e)
  if not n then return false, "bad array length" end
  if n < 0 then return null, e + 2 end
  local arr, at = { n = n }, e + 2
  for i = 1, n do
    local v, nxt = decode(buf, at)
    if not v then return v, nxt end
    arr[i], at = v, nxt
  end
  return arr, at
end

-- resp.decode(buf, pos): one reply at pos (default 1). Returns the value and
-- the position after it: a string, a number, a table (array, with field n),
-- resp.null, or { err = text } for an error reply; nil when incomplete;
-- false and a reason when buf is not RESP.
decode = function(buf, pos)
  pos = pos or 1
  local c = byte(buf, pos)
  if not c then return nil end
  if c ~= 43 and c ~= 45 and c ~= 58 and c ~= 36 and c ~= 42 then
    return false, format("unexpected byte %q", string.char(c))
  end
  local e = find(buf, "\r\n", pos, true)
  if not e then return nil end
  if c == 43 then return sub(buf, pos + 1, e - 1), e + 2 end
  if c == 45 then return { err = sub(buf, pos + 1, e - 1) }, e + 2 end
  if c == 58 then
    local v = tonumber(sub(buf, pos + 1, e - 1))
    if not v then return false, "bad integer" end
    return v, e + 2
  end
  if c == 36 then
    local len = int_at(buf, pos + 1, e)
    if not len then return false, "bad bulk length" end
    if len < 0 then return null, e + 2 end
    if e + 3 + len > #buf then return nil end
    return sub(buf, e + 2, e + 1 + len), e + 4 + len
  end
  return decode_array(buf, pos, e)
end
M.decode = decode

-- ---- replies of a batch ----

-- The reply object given to the command function: what it writes is kept
-- and leaves with the batch's other replies in one write. It is valid only
-- during the call; a reply sent later goes through conn:write(resp.bulk(v)).
local Reply = {}
Reply.__index = Reply

function Reply:ok()
  local n = self.n + 1
  self[n], self.n = OK, n
end
function Reply:simple(s)
  local n = self.n + 1
  self[n], self.n = "+" .. s .. CRLF, n
end
function Reply:error(s)
  local n = self.n + 1
  self[n], self.n = "-" .. s .. CRLF, n
end
function Reply:integer(v)
  local n = self.n + 1
  self[n], self.n = ":" .. int_text(v) .. CRLF, n
end
function Reply:null()
  local n = self.n + 1
  self[n], self.n = NULL_BULK, n
end
function Reply:null_array()
  local n = self.n + 1
  self[n], self.n = NULL_ARRAY, n
end
function Reply:bulk(s)
  local n = self.n
  if s == nil then
    self[n + 1], self.n = NULL_BULK, n + 1
  else
    self[n + 1], self[n + 2], self[n + 3], self.n = bulk_header(#s), s, CRLF, n + 3
  end
end
-- An array header; the count elements follow as further replies.
function Reply:array_header(count)
  local n = self.n + 1
  self[n], self.n = "*" .. count .. CRLF, n
end
-- An array of count bulk strings t[1 .. count] (nil elements are nil bulks).
function Reply:array(t, count)
  count = count or #t
  self:array_header(count)
  for i = 1, count do self:bulk(t[i]) end
end
-- Any value, as resp.encode encodes it.
function Reply:value(v)
  self.n = encode_into(self, self.n, v)
end
-- Bytes already in RESP.
function Reply:raw(s)
  local n = self.n + 1
  self[n], self.n = s, n
end
-- Closes the connection once this batch's replies are written.
function Reply:close()
  self.closing = true
end

-- Forgets what a batch that raised an error left behind.
local function reset(reply, conn)
  for i = 1, reply.n do reply[i] = nil end
  reply.n, reply.closing, reply.conn = 0, nil, conn
end

local function flush(reply)
  local conn, n = reply.conn, reply.n
  if n > 0 then
    conn:write(n == 1 and reply[1] or concat(reply, "", 1, n))
    for i = 1, n do reply[i] = nil end
  end
  reply.n, reply.conn = 0, nil
  if reply.closing then
    reply.closing = nil
    conn:close()
  end
end

-- ---- the server handler ----

-- Keeps what is left of buf from pos for the next on_data; a bulk body
-- missing many bytes is framed by the core as one { length = n } frame.
local function keep_tail(conn, st, buf, pos, need)
  st.tail = sub(buf, pos)
  if need and need - #buf >= BIG_BODY then
    conn:framing({ length = need - #buf })
    st.framed = true
  end
end

-- Runs every complete command of buf through fn; returns false once the
-- connection is to be closed.
local function run_batch(conn, st, buf, fn, reply, argv, max_bulk)
  local pos, len = 1, #buf
  while pos <= len do
    local argc, nxt = parse_command(buf, pos, argv, max_bulk)
    if argc then
      pos = nxt
      if argc > 0 then
        fn(reply, argv, argc)
        if reply.closing then return end
      end
    elseif argc == nil then
      return keep_tail(conn, st, buf, pos, nxt)
    else
      reply:error("ERR " .. nxt)
      reply.closing = true
      return
    end
  end
end

-- resp.server(fn, opts): a handler table (framing "raw") that calls
-- fn(reply, argv, argc) for each command, argv[1] being its name as sent.
-- argv is reused: copy what must outlive the call. opts: max_bulk (bytes,
-- default 512 MiB), and any handler fields (on_connect, on_close,
-- idle_timeout, high_water ...) to include.
function M.server(fn, opts)
  opts = opts or {}
  local max_bulk = opts.max_bulk or MAX_BULK
  local argv = {}
  local reply = setmetatable({ n = 0 }, Reply)
  local handler = { framing = "raw", max_frame = max_bulk + 2 }
  for k, v in pairs(opts) do
    if k ~= "max_bulk" then handler[k] = v end
  end
  handler.on_data = function(conn, data)
    local st = conn.state
    local tail = st.tail
    if tail then
      st.tail = nil
      if st.framed then
        st.framed = nil
        conn:framing("raw")
      end
      data = tail .. data
    end
    if reply.n > 0 or reply.closing then reset(reply, conn) end
    reply.conn = conn
    run_batch(conn, st, data, fn, reply, argv, max_bulk)
    flush(reply)
  end
  return handler
end

M.Reply = Reply
return M
