-- moonwire.resp_parser: how moonwire.resp reads commands (RESP2 arrays of
-- bulk strings, and inline commands) from a stream cut anywhere.
--   local p = require "moonwire.resp_parser"
--   local argc, argv, nxt = p.next_command(buf, pos, argv, max_bulk)
-- next_command parses a command at pos; resume goes on with what an
-- unfinished one kept (the pending state next_command returned); parser
-- wraps both for a stream fed in pieces (resp.parser).

local byte, sub, find, format = string.byte, string.sub, string.find, string.format
local concat, tonumber, type = table.concat, tonumber, type
local setmetatable = setmetatable
local strbuf = require "string.buffer"

local MAX_INLINE = 64 * 1024        -- an inline command or a length line
local MAX_MULTIBULK = 1024 * 1024   -- elements in one command
local MAX_BULK = 512 * 1024 * 1024  -- bytes in one bulk string (Redis's default)
local BIG_BODY = 64 * 1024          -- a body missing this much is framed by the core

local M = { MAX_BULK = MAX_BULK, BIG_BODY = BIG_BODY }

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

local E_INLINE = "Protocol error: too big inline request"
local E_QUOTES = "Protocol error: unbalanced quotes in request"
local E_MBULK_LINE = "Protocol error: too big mbulk count string"
local E_MBULK = "Protocol error: invalid multibulk length"
local E_BULK_LINE = "Protocol error: too big bulk count string"
local E_BULK = "Protocol error: invalid bulk length"

-- The inline command on buf[pos .. e] (e at its LF) split into argv: argc, or
-- false and the error.
local function inline_args(buf, pos, e, argv)
  local stop = (e > pos and byte(buf, e - 1) == 13) and e - 2 or e - 1
  local argc = split_inline(sub(buf, pos, stop), argv)
  if not argc then return false, E_QUOTES end
  return argc
end

-- The count of the multibulk line at pos (its CR at e): n, or false and the error.
local function count_at(buf, pos, e)
  local n = int_at(buf, pos + 1, e)
  if not n or n > MAX_MULTIBULK then return false, E_MBULK end
  return n
end

-- The length on the bulk line at pos (its CR at e): len, or false and the error.
local function length_at(buf, pos, e, max_bulk)
  local len = int_at(buf, pos + 1, e)
  if not len or len < 0 or len > max_bulk then return false, E_BULK end
  return len
end

-- The bulk strings args[i .. n] from pos, as far as buf goes. Returns the
-- index of the first one not complete (n + 1 when all are) and its position,
-- with its length and where its body starts once its length line is read;
-- or false and the error.
local function bulks(buf, pos, args, i, n, max_bulk)
  local size = #buf
  for k = i, n do
    local c = byte(buf, pos)
    if c ~= 36 then
      if c == nil then return k, pos end
      return false, format("Protocol error: expected '$', got '%s'", sub(buf, pos, pos))
    end
    local e = find(buf, "\r\n", pos, true)
    if not e then
      if size - pos >= MAX_INLINE then return false, E_BULK_LINE end
      return k, pos
    end
    local len, err = length_at(buf, pos, e, max_bulk)
    if not len then return false, err end
    local first = e + 2
    if first + len + 1 > size then return k, pos, len, first end
    args[k] = sub(buf, first, first + len - 1)
    pos = first + len + 2
  end
  return n + 1, pos
end

-- Parses one command at pos of buf into argv[1 .. argc].
-- Returns argc and the position after it (argc 0: an empty command);
-- nil and maybe the buffer length needed when the command is incomplete;
-- false and the error text on a protocol error.
local function parse_command(buf, pos, argv, max_bulk)
  local multi = byte(buf, pos) == 42
  local e = find(buf, multi and "\r\n" or "\n", pos, true)
  if not e then
    if #buf - pos >= MAX_INLINE then return false, multi and E_MBULK_LINE or E_INLINE end
    return nil
  end
  local n, err
  if not multi then
    n, err = inline_args(buf, pos, e, argv)
    if not n then return false, err end
    return n, e + 1
  end
  n, err = count_at(buf, pos, e)
  if not n then return false, err end
  local i, nxt, len, first = bulks(buf, e + 2, argv, 1, n, max_bulk or MAX_BULK)
  if not i then return false, nxt end
  if i <= n then return nil, len and first + len + 1 end
  return n > 0 and n or 0, nxt
end
M.parse_command = parse_command

-- ---- commands that arrive in pieces ----

-- What an unfinished command left between reads, so that the next read goes on
-- where the last stopped: the elements found so far (args[1 .. got] of want;
-- want is nil until the count line is read), and the part of the next one that
-- came, in parts (plen bytes): kind "*", "$" or "\n" for a count, length or
-- inline line not ended yet, "body" for a bulk body (blen bytes), "crlf" for
-- the skip bytes of the line end after it, nil for nothing yet. Each byte is
-- looked at once and copied at most twice (kept, then joined into its
-- element), however the command is cut.
local LINE_TOO_BIG = { ["*"] = E_MBULK_LINE, ["$"] = E_BULK_LINE, ["\n"] = E_INLINE }

local function keep(pend, s)
  local parts = pend.parts
  parts[#parts + 1] = s
  pend.plen = pend.plen + #s
end

-- The strings t[1 .. n] (len bytes, or nil to count them) joined.
-- table.concat and .. build in LuaJIT's shared buffer, which keeps the size of
-- the longest string it ever built and only halves at each collection: one
-- 100 MB value would hold 128 MB for cycles. A big string is built in a
-- buffer of its own, freed at once.
local function join(t, n, len)
  if not len then
    len = 0
    for i = 1, n do len = len + #t[i] end
  end
  if len < BIG_BODY then return concat(t, "", 1, n) end
  local b = strbuf.new(len)
  for i = 1, n do b:put(t[i]) end
  local s = b:tostring()
  b:free()
  return s
end

-- The parts joined with s, and forgotten.
local function take(pend, s)
  local len = pend.plen
  if len == 0 then return s end
  local parts = pend.parts
  local n = #parts + 1
  parts[n] = s
  s = join(parts, n, len + #s)
  pend.parts, pend.plen = {}, 0
  return s
end

-- Starts keeping an unfinished line of kind at pos; nil, or false and the
-- error when it is already too long.
local function line_kept(kind, buf, pos)
  if #buf - pos >= MAX_INLINE then return false, LINE_TOO_BIG[kind] end
  local pend = { kind = kind, parts = {}, plen = 0, got = 0 }
  keep(pend, pos == 1 and buf or sub(buf, pos))
  return nil, pend
end

-- The rest of the line being kept, from pos: the whole line with its end and
-- the position after it; nil when buf ends first (kept too); false when the
-- line is past MAX_INLINE.
local function line_rest(pend, buf, pos)
  local e
  if pend.kind == "\n" then
    e = find(buf, "\n", pos, true)
  elseif byte(buf, pos) == 10 and byte(pend.parts[#pend.parts], -1) == 13 then
    e = pos -- the CR ended the last read
  else
    e = find(buf, "\r\n", pos, true)
    e = e and e + 1
  end
  if e then return take(pend, sub(buf, pos, e)), e + 1 end
  keep(pend, pos == 1 and buf or sub(buf, pos))
  if pend.plen > MAX_INLINE then return false end
  return nil
end

local more

-- The line end after a body: skip bytes of it from pos, then the elements after.
local function crlf_rest(pend, buf, pos, max_bulk)
  local have = #buf - pos + 1
  if have < pend.skip then
    pend.kind, pend.skip = "crlf", pend.skip - have
    return nil, pend
  end
  return more(pend, buf, pos + pend.skip, max_bulk)
end

-- The body of the bulk being read (blen bytes, plen of them kept), from pos.
-- Returns as resume does; when buf ends first, the body bytes still missing.
local function body_rest(pend, buf, pos, max_bulk)
  local have, missing = #buf - pos + 1, pend.blen - pend.plen
  if have < missing then
    if have > 0 then keep(pend, pos == 1 and buf or sub(buf, pos)) end
    pend.kind = "body"
    return nil, pend, missing - have
  end
  -- A body framed by the core is the whole of buf: taken as it is.
  local piece = (pos == 1 and have == missing) and buf or sub(buf, pos, pos + missing - 1)
  local got = pend.got + 1
  pend.args[got], pend.got, pend.skip = take(pend, piece), got, 2
  return crlf_rest(pend, buf, pos + missing, max_bulk)
end

-- bulks stopped at element i of pend's command (at nxt, its length len and
-- body first when its length line was read): what came of it is kept.
local function stopped(pend, buf, i, nxt, len, first, max_bulk)
  pend.got, pend.kind = i - 1, nil
  if len then
    pend.blen = len
    return body_rest(pend, buf, first, max_bulk)
  end
  if nxt <= #buf then
    pend.kind = "$"
    keep(pend, sub(buf, nxt))
  end
  return nil, pend
end

-- The elements after pend.got from pos, as far as buf goes.
more = function(pend, buf, pos, max_bulk)
  local args, want = pend.args, pend.want
  local i, nxt, len, first = bulks(buf, pos, args, pend.got + 1, want, max_bulk)
  if not i then return false, nxt end
  if i > want then return want, args, nxt end
  return stopped(pend, buf, i, nxt, len, first, max_bulk)
end

-- A count or inline line that took more than one read, now whole.
local function line_done(pend, line, buf, nxt, argv, max_bulk)
  local kind, n, err = pend.kind, nil, nil
  if kind == "\n" then
    n, err = inline_args(line, 1, #line, argv)
    if not n then return false, err end
    return n, argv, nxt
  elseif kind == "*" then
    n, err = count_at(line, 1, #line - 1)
    if not n then return false, err end
    if n <= 0 then return 0, argv, nxt end
    pend.want, pend.args = n, argv
    return more(pend, buf, nxt, max_bulk)
  end
  n, err = length_at(line, 1, #line - 1, max_bulk)
  if not n then return false, err end
  pend.blen = n
  return body_rest(pend, buf, nxt, max_bulk)
end

-- Goes on with the unfinished command pend from pos of buf; returns as
-- next_command does.
local function resume(pend, buf, pos, argv, max_bulk)
  local kind = pend.kind
  if kind == "body" then return body_rest(pend, buf, pos, max_bulk) end
  if kind == "crlf" then return crlf_rest(pend, buf, pos, max_bulk) end
  if kind == nil then return more(pend, buf, pos, max_bulk) end
  local line, nxt = line_rest(pend, buf, pos)
  if line then return line_done(pend, line, buf, nxt, argv, max_bulk) end
  if line == false then return false, LINE_TOO_BIG[kind] end
  return nil, pend
end

-- The next command at pos of buf, into argv. Returns argc, its arguments and
-- the position after it (argc 0: an empty command); nil, what to resume with
-- the next bytes, and the bulk body bytes still missing when known (the
-- arguments table is then the state's: pass a new argv from now on); false
-- and the error text.
local function next_command(buf, pos, argv, max_bulk)
  if byte(buf, pos) ~= 42 then
    local e = find(buf, "\n", pos, true)
    if not e then return line_kept("\n", buf, pos) end
    local argc, err = inline_args(buf, pos, e, argv)
    if not argc then return false, err end
    return argc, argv, e + 1
  end
  local e = find(buf, "\r\n", pos, true)
  if not e then return line_kept("*", buf, pos) end
  local n, err = count_at(buf, pos, e)
  if not n then return false, err end
  if n <= 0 then return 0, argv, e + 2 end
  local i, nxt, len, first = bulks(buf, e + 2, argv, 1, n, max_bulk)
  if not i then return false, nxt end
  if i > n then return n, argv, nxt end
  local pend = { parts = {}, plen = 0, args = argv, want = n }
  return stopped(pend, buf, i, nxt, len, first, max_bulk)
end

-- A parser of the commands of one stream, whatever pieces it comes in.
local Parser = {}
Parser.__index = Parser

-- resp.parser(max_bulk): parser:parse(buf) gives the commands of a stream
-- fed to it in pieces of any size, one at a time.
function M.parser(max_bulk)
  return setmetatable({ argv = {}, max_bulk = max_bulk or MAX_BULK, pending = false }, Parser)
end

-- parser:parse(buf, pos): the next command from pos of buf (default 1):
-- argc, argv (the parser's, reused) and the position after it; nil and the
-- bulk bytes still missing, if known, once buf is used up (what it held is
-- kept: give the bytes that follow next); false and the error text.
function Parser:parse(buf, pos)
  pos = pos or 1
  local pend, argv, argc, r, nxt = self.pending, self.argv, nil, nil, nil
  if pend then
    self.pending = false
    argc, r, nxt = resume(pend, buf, pos, argv, self.max_bulk)
  elseif pos <= #buf then
    argc, r, nxt = next_command(buf, pos, argv, self.max_bulk)
  end
  if argc == nil and r then
    self.pending = r
    if r.args == argv then self.argv = {} end
    return nil, nxt
  end
  return argc, r, nxt
end

M.next_command, M.resume, M.int_at, M.join = next_command, resume, int_at, join
return M
