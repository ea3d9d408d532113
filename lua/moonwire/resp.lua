-- moonwire.resp: the Redis protocol (RESP2), both ways.
--   local resp = require "moonwire.resp"
--   return resp.server(function(reply, argv, argc) reply:bulk(argv[2]) end)
-- Commands are parsed as they arrive, a whole pipelined batch per on_data,
-- and the replies of the batch leave in one write. An unfinished command keeps
-- its elements and the part of the next one between reads, so each byte is
-- looked at once however the input is cut; a bulk body too big for the bytes
-- at hand is collected by the core with a { length = n } frame.

local byte, sub, find, format = string.byte, string.sub, string.find, string.format
local concat, tostring, tonumber, type = table.concat, tostring, tonumber, type
local setmetatable, error, unpack, min = setmetatable, error, unpack, math.min
local mw = require "moonwire"

local parser = require "moonwire.resp_parser"
local next_command, resume = parser.next_command, parser.resume
local int_at, join = parser.int_at, parser.join
local MAX_BULK = parser.MAX_BULK
local BIG_BODY = parser.BIG_BODY -- a body missing this much is framed by the core,
                                 -- and a string this long is not joined by concat

local M = { parser = parser.parser, parse_command = parser.parse_command }

-- A unique value for RESP's nil, in decoded replies and in arrays to encode.
local null = setmetatable({}, { __tostring = function() return "resp.null" end })
M.null = null

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
    if #v >= BIG_BODY then out.big = true end
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
  return out.big and join(out, n) or concat(out, "", 1, n)
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
    if #s >= BIG_BODY then self.big = true end
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
  if #s >= BIG_BODY then self.big = true end
  self[n], self.n = s, n
end
-- Closes the connection once this batch's replies are written.
function Reply:close()
  self.closing = true
end

-- Forgets what a batch that raised an error left behind.
local function reset(reply, conn)
  for i = 1, reply.n do reply[i] = nil end
  reply.n, reply.closing, reply.conn, reply.big = 0, nil, conn, false
end

-- The batch's replies in one write: joined, unless one is big (its bytes
-- then go as they are, by writev, not copied into one string). last: the
-- connection is left after them, our FIN with their last write.
local function flush(reply, last)
  local conn, n = reply.conn, reply.n
  if n > 0 then
    if not reply.big then
      local write = last and conn.shutdown or conn.write
      write(conn, n == 1 and reply[1] or concat(reply, "", 1, n))
    else
      for i = 1, n, 256 do
        local write = last and i + 256 > n and conn.shutdown or conn.write
        if not write(conn, unpack(reply, i, min(i + 255, n))) then break end
      end
    end
    for i = 1, n do reply[i] = nil end
  end
  reply.n, reply.conn, reply.big = 0, nil, false
  if reply.closing then
    reply.closing = nil
    conn:close()
  end
end

-- ---- the server handler ----

-- What an unfinished command left waits in conn.state for the next on_data; a
-- bulk body missing BIG_BODY bytes or more is collected by the core as one
-- { length = n } frame, which becomes the argument as it is (or joined once
-- to the part that came before it).
local function keep_pending(conn, st, pend, missing)
  st.pending = pend
  if missing and missing >= BIG_BODY then
    conn:framing({ length = missing })
    st.framed = true
  end
end

-- When the worker drains, a connection is left between commands: our FIN
-- goes with the last write of the first batch after which no command is
-- half received (conn:shutdown(replies): one segment), so a client that
-- waits for each reply sees the end with it, before it sends again
-- (redis-py checks a pooled connection before it sends, and reconnects). A
-- connection that sends nothing for QUIET_MS is left then: leaving it at
-- once would race a command already on its way (redis-py lost about one in
-- 20,000 so across a reload). What comes after our FIN is not answered; the
-- connection closes when the client closes its side, or LINGER_MS after.
local QUIET_MS, LINGER_MS = 1000, 1000

local function close_each(set)
  for conn in pairs(set) do
    set[conn] = nil
    conn:close()
  end
end

local function drainer(users_shutdown)
  local quiet, lingering = setmetatable({}, { __mode = "k" }), setmetatable({}, { __mode = "k" })
  local draining, quiet_timer, linger_timer = false, nil, nil
  local function leave(conn)
    quiet[conn] = nil
    conn.state.left = true
    conn:shutdown() -- done already if the replies went with it
    lingering[conn] = true
    if not linger_timer then
      linger_timer = mw.after(LINGER_MS, function()
        linger_timer = nil
        close_each(lingering)
      end)
    end
  end
  local function leave_quiet()
    quiet_timer = nil
    for conn in pairs(quiet) do leave(conn) end
  end
  local function on_shutdown(conn)
    draining = true
    if users_shutdown then users_shutdown(conn) end
    local st = conn.state
    if not st.left and not st.pending then quiet[conn] = true end
    if not quiet_timer then quiet_timer = mw.after(QUIET_MS, leave_quiet) end
  end
  -- Whether the batch just run ends the connection: its replies go with our FIN.
  local function last_batch(conn, st)
    if not draining then return false end
    quiet[conn] = nil
    return not st.pending
  end
  local function forget(conn)
    quiet[conn], lingering[conn] = nil, nil
  end
  return on_shutdown, last_batch, leave, forget
end

-- resp.server(fn, opts): a handler table (framing "raw") that calls
-- fn(reply, argv, argc) for each command, argv[1] being its name as sent.
-- argv is reused: copy what must outlive the call. opts: max_bulk (bytes,
-- default 512 MiB), and any handler fields (on_connect, on_close,
-- on_shutdown, idle_timeout, high_water ...) to include. When the worker
-- drains (a stop, a reload), a connection closes between commands (above).
function M.server(fn, opts)
  opts = opts or {}
  local max_bulk = opts.max_bulk or MAX_BULK
  local argv = {} -- shared by the commands parsed whole from one read
  local unfinished -- a batch raised: what its argv holds is dropped
  -- big is false, never nil: storing nil under a key a table lacks, on
  -- every batch, cost kv.lua's GET 25% more instructions under the JIT.
  local reply = setmetatable({ n = 0, big = false }, Reply)
  local handler = { framing = "raw", max_frame = max_bulk + 2 }
  for k, v in pairs(opts) do
    if k ~= "max_bulk" then handler[k] = v end
  end
  local on_shutdown, last_batch, leave, forget = drainer(handler.on_shutdown)
  local on_close = handler.on_close
  handler.on_shutdown = on_shutdown
  handler.on_close = function(conn, reason)
    forget(conn)
    if on_close then return on_close(conn, reason) end
  end

  -- Lets go of the arguments of a batch's commands (up to n of them) once
  -- it is done: a value kept nowhere else is garbage then, not when a later
  -- command overwrites it.
  local function let_go(n)
    if n > 64 then
      argv = {}
    else
      for i = 1, n do argv[i] = nil end
    end
  end

  -- Runs every complete command of buf through fn, the first one going on
  -- from what the last read left (pend); stops once the connection is to
  -- close. Returns the most arguments a command had in argv.
  local function run_batch(conn, st, buf, pend)
    local pos, size, most = 1, #buf, 0
    while pos <= size do
      local argc, args, nxt
      if pend then
        argc, args, nxt = resume(pend, buf, pos, argv, max_bulk)
        pend = nil
      else
        argc, args, nxt = next_command(buf, pos, argv, max_bulk)
      end
      if argc then
        pos = nxt
        if args == argv and argc > most then most = argc end
        if argc > 0 then
          fn(reply, args, argc)
          if reply.closing then return most end
        end
      elseif argc == nil then
        if args.args == argv then argv, most = {}, 0 end -- the command's now
        keep_pending(conn, st, args, nxt)
        return most
      else
        reply:error("ERR " .. args)
        reply.closing = true
        return most
      end
    end
    return most
  end

  handler.on_data = function(conn, data)
    local st = conn.state
    if st.left then return end -- past our FIN: not answered
    local pend = st.pending
    if pend then
      st.pending = nil
      if st.framed then
        st.framed = nil
        conn:framing("raw")
      end
    end
    if reply.n > 0 or reply.closing then reset(reply, conn) end
    if unfinished then argv = {} end
    reply.conn, unfinished = conn, true
    let_go(run_batch(conn, st, data, pend))
    unfinished = false
    local last = last_batch(conn, st)
    flush(reply, last)
    if last then leave(conn) end
  end
  return handler
end

M.Reply = Reply
return M
