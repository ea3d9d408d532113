-- t/fuzz/fuzz_resp.lua: the Lua half of t/fuzz/fuzz_resp.c. Each input (read
-- by fakeconn.input) goes through resp.server's on_data twice, on two fake
-- connections: whole, and cut into pieces. The command function answers
-- each command with its arguments, so the replies show what was parsed.
-- resp.lua reports a protocol error by answering "-ERR Protocol error: ..."
-- and closing, never by raising: any error raised here is a finding, and so
-- are replies that are not RESP, a protocol error that does not end the
-- connection, and replies that depend on how the bytes were cut.
-- The library functions called: resp.server(fn, opts) and its handler's
-- on_data(conn, data) (on_connect and on_close too, if it has them);
-- resp.decode to read the replies back. The conn methods and framings the
-- handler may use are fakeconn's: one it does not fake fails the target.

local fake = require "fakeconn"
local resp = require "moonwire.resp"

local function echo(reply, argv, argc) reply:array(argv, argc) end

-- Variant 1: a max_bulk small enough for the fuzzer to cross.
local options = { [0] = {}, [1] = { max_bulk = 100 } }

-- Every reply decodes; only the last may be a protocol error, and then the
-- connection was closed.
local function check_replies(out, closed)
  local pos = 1
  while pos <= #out do
    local v, nxt = resp.decode(out, pos)
    if not v then error("reply is not RESP at byte " .. pos .. ": " .. tostring(nxt)) end
    if type(v) == "table" and v.err then
      if not v.err:find("^ERR Protocol error: ") then error("unexpected error reply " .. v.err) end
      if nxt <= #out or not closed then error("a protocol error did not end the connection") end
    end
    pos = nxt
  end
end

-- As redis does, resp.lua limits an inline command and a count line only
-- while it waits for their end: one that comes whole in a read is taken,
-- one that comes cut is refused once 64 KiB of it are buffered. A split run
-- may end in those refusals early; what came before must be the same.
local EARLY = {
  "-ERR Protocol error: too big inline request\r\n",
  "-ERR Protocol error: too big mbulk count string\r\n",
  "-ERR Protocol error: too big bulk count string\r\n",
}

return function(data)
  local variant, whole, pieces = fake.input(data)
  local out1, closed1 = fake.run(resp.server(echo, options[variant]), whole)
  local out2, closed2 = fake.run(resp.server(echo, options[variant]), pieces)
  out1, out2 = fake.concat(out1), fake.concat(out2)
  check_replies(out1, closed1)
  check_replies(out2, closed2)
  if closed2 and fake.refused_early(out1, out2, EARLY) then return end
  fake.differ("replies", out1, out2)
  if closed1 ~= closed2 then error("closed whole: " .. tostring(closed1) .. ", split: " .. tostring(closed2)) end
end
