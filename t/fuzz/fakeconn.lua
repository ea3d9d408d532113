-- t/fuzz/fakeconn.lua: what the fuzz targets of the Lua protocol libraries
-- (fuzz_resp.lua, fuzz_http.lua) run on instead of a server: a moonwire
-- module whose clock stands still and whose timers never fire, and a
-- connection that records what is written and hands input to a handler as
-- the core does: framing "raw" gives everything buffered, { length = n }
-- gives n bytes once they are there, and nothing is given once the handler
-- closed or paused it. A method or mw function not faked here raises, so
-- a library that starts using one fails the target at once: add it here.

local byte, sub, concat, format = string.byte, string.sub, table.concat, string.format

local M = {}

-- ---- the moonwire module ----

local timer = { cancel = function() return true end, pending = function() return true end }

local mw = {
  now = function() return 0 end,
  after = function() return timer end,
  every = function() return timer end,
  log = function() end,
  stopping = function() return false end,
  worker_id = function() return 1 end,
  version = "fuzz",
}
setmetatable(mw, { __index = function(_, k) error("fakeconn: mw." .. tostring(k) .. " is not faked", 2) end })
package.loaded.moonwire = mw
M.mw = mw

-- ---- connections ----

local Conn = {}
local priv = setmetatable({}, { __mode = "k" }) -- conn -> what the core would keep

local function live(conn)
  local p = priv[conn]
  if p.gone then error("connection is closed", 3) end
  return p
end

function Conn.write(conn, ...)
  local p = live(conn)
  if p.closing then return nil, "closing" end
  for i = 1, select("#", ...) do
    local s = select(i, ...)
    if type(s) ~= "string" and type(s) ~= "number" then
      error(format("bad argument #%d to 'write' (string expected, got %s)", i, type(s)), 2)
    end
    p.out[#p.out + 1] = tostring(s)
  end
  return 0
end

function Conn.close(conn)
  priv[conn].closing = true
end

function Conn.pause(conn) live(conn).paused = true end
function Conn.resume(conn) live(conn).paused = false end
function Conn.pending(conn) live(conn) return 0 end
function Conn.peer(conn) live(conn) return "127.0.0.1:40000" end
function Conn.is_open(conn) return not priv[conn].gone and not priv[conn].closing end

-- As lhandler_framing checks a spec: raw, or a whole length in 1 .. max_frame.
function Conn.framing(conn, spec)
  local p = live(conn)
  if spec == "raw" then
    p.length = nil
    return
  end
  local n = type(spec) == "table" and spec.length
  if type(n) ~= "number" or n < 1 or n % 1 ~= 0 then
    error("fakeconn: framing " .. tostring(spec) .. " is not emulated (raw or { length = n })", 2)
  end
  if n > p.max_frame then error("length is larger than max_frame", 2) end
  p.length = n
end

local conn_mt = {
  __index = function(conn, k)
    local m = Conn[k]
    if m then return m end
    if k == "state" then
      local st = {}
      rawset(conn, "state", st)
      return st
    end
    error("fakeconn: conn:" .. tostring(k) .. " is not faked", 2)
  end,
}

local next_id = 0
local function new_conn(handler)
  next_id = next_id + 1
  local conn = setmetatable({ id = next_id }, conn_mt)
  priv[conn] = { out = {}, buf = "", max_frame = handler.max_frame or 1048576 }
  return conn
end

-- The next frame of p.buf under its framing, or nil.
local function cut(p)
  local buf = p.buf
  if p.length then
    if #buf < p.length then return nil end
    p.buf = sub(buf, p.length + 1)
    return sub(buf, 1, p.length)
  end
  if buf == "" then return nil end
  p.buf = ""
  return buf
end

-- Appends piece to what conn has buffered and gives the handler every frame.
local function deliver(handler, conn, piece)
  local p = priv[conn]
  p.buf = p.buf .. piece
  while not p.closing and not p.paused do
    local frame = cut(p)
    if not frame then return end
    handler.on_data(conn, frame)
  end
end

-- M.run(handler, pieces): a connection that receives pieces[1 ..] in turn,
-- then EOF. Returns what was written (an array of strings) and whether the
-- handler closed the connection before EOF.
function M.run(handler, pieces)
  local conn = new_conn(handler)
  local p = priv[conn]
  if handler.on_connect then handler.on_connect(conn) end
  for i = 1, #pieces do
    if p.closing then break end
    deliver(handler, conn, pieces[i])
  end
  local closed = p.closing or false
  p.closing, p.gone = true, true
  if handler.on_close then handler.on_close(conn, closed and "closed" or "eof") end
  return p.out, closed
end

-- ---- inputs ----

-- Bit 4 of byte 1: in the payload, 0xFF c x stands for the byte x repeated
-- (c + 1) * 512 times (128 KiB in all at most), so that what a library
-- treats apart past 64 KiB (a body framed by the core, the length of an
-- inline command) is within reach of a 4 KiB input. Not for x a newline: a
-- hundred thousand empty commands would time the fuzzing hooks, not the
-- library. fuzz_allow (fuzz_lua.c) gives the two runs time for the bytes.
local INFLATE_UNIT, INFLATE_MAX, MAX_PIECES = 512, 128 * 1024, 2000
local allow = rawget(_G, "fuzz_allow") or function() end

local function inflate(payload)
  local total = #payload
  local out = payload:gsub("\255(.)(.)", function(c, x)
    local n = (byte(c) + 1) * INFLATE_UNIT
    if x == "\n" or total + n > INFLATE_MAX then return nil end
    total = total + n
    return x:rep(n)
  end)
  allow(2 * (#out - #payload))
  return out
end

-- M.input(data): a fuzzer's input as the targets read it. Byte 1: bits 0-2
-- the count k of size bytes after it, bit 3 a variant of the library's
-- options, bit 4 inflate (above); bytes 2 .. k+1: the sizes of the pieces
-- the payload is cut into, used in turn (b + 1 bytes for b < 128, else
-- (b - 127) * 512; and at least 1/2000 of the payload, so that a library
-- that joins what it kept onto each read is not timed on it); the rest: the
-- payload. Returns the variant, the payload whole (one piece) and the
-- payload cut.
function M.input(data)
  local cfg = byte(data, 1) or 0
  local k = cfg % 8
  local variant = math.floor(cfg / 8) % 2
  local payload = sub(data, k + 2)
  if math.floor(cfg / 16) % 2 == 1 then payload = inflate(payload) end
  local least = math.ceil(#payload / MAX_PIECES)
  local pieces, at, i = {}, 1, 0
  while at <= #payload do
    local size = #payload
    if k > 0 then
      local b = byte(data, 2 + i % k)
      size = math.max(least, b < 128 and b + 1 or (b - 127) * INFLATE_UNIT)
    end
    pieces[#pieces + 1] = sub(payload, at, at + size - 1)
    at, i = at + size, i + 1
  end
  return variant, { payload }, pieces
end

-- M.refused_early(whole, split, refusals): whether split is a prefix of
-- whole followed by one of the strings in refusals (a library that judges
-- a size only while it waits refuses early when the bytes come cut).
function M.refused_early(whole, split, refusals)
  for _, r in ipairs(refusals) do
    local before = #split - #r
    if before >= 0 and sub(split, before + 1) == r and sub(whole, 1, before) == sub(split, 1, before) then
      return true
    end
  end
  return false
end

-- M.differ(what, a, b): raises naming the first byte at which a and b differ.
function M.differ(what, a, b)
  if a == b then return end
  local i = 1
  while byte(a, i) == byte(b, i) do i = i + 1 end
  error(format("%s differ at byte %d:\n  whole: %q\n  split: %q", what, i,
    sub(a, i, i + 60), sub(b, i, i + 60)), 2)
end

M.concat = concat
return M
