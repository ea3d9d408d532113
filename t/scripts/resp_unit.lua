-- moonwire.resp's parser, encoder and reply decoder, run at load time by
-- `moonwire --check` (t/kv_resp.sh): prints "RESULT name ok|FAIL detail".
local resp = require "moonwire.resp"

local check = dofile(debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "check.lua")
local report, same = check.report, check.same

local argv = {}
local argc, nxt = resp.parse_command("*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n", 1, argv)
same("multibulk_parsed", argc .. " " .. argv[1] .. " " .. argv[2] .. " " .. nxt, "2 GET k 21")
argc, nxt = resp.parse_command("*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n", 21, argv)
same("inline_after_multibulk", argc .. " " .. argv[1] .. " " .. nxt, "1 PING 27")
local r1, r2 = resp.parse_command("*1\r\n$100000\r\nabc", 1, argv)
same("incomplete_bulk_says_what_it_needs", tostring(r1) .. " " .. tostring(r2), "nil 100015")
r1, r2 = resp.parse_command("*1\r\n$3", 1, argv)
same("incomplete_header", tostring(r1) .. " " .. tostring(r2), "nil nil")
r1, r2 = resp.parse_command("*1\r\n$4\r\nab\r\n\r\n", 1, argv)
same("bulk_may_hold_crlf", r1 .. " " .. argv[1], "1 ab\r\n")
r1, r2 = resp.parse_command("*1\r\n$600000000\r\n", 1, argv)
same("bulk_over_max_is_error", tostring(r1) .. " " .. r2, "false Protocol error: invalid bulk length")
r1, r2 = resp.parse_command(("x"):rep(70000), 1, argv)
same("inline_over_64k_is_error", tostring(r1) .. " " .. r2, "false Protocol error: too big inline request")
r1 = resp.parse_command("  set  'a b'  \"c\\x41\\n\"\r\n", 1, argv)
same("inline_split_and_quotes", r1 .. "|" .. argv[1] .. "|" .. argv[2] .. "|" .. argv[3], "3|set|a b|cA\n")

same("encode_bulk", resp.encode("hi"), "$2\r\nhi\r\n")
same("encode_integer", resp.encode(-42), ":-42\r\n")
same("encode_big_integer", resp.encode(2 ^ 53), ":9007199254740992\r\n")
same("encode_null", resp.encode(resp.null), "$-1\r\n")
same("encode_nested_array", resp.encode({ "a", { 1, 2 }, n = 3 }),
  "*3\r\n$1\r\na\r\n*2\r\n:1\r\n:2\r\n$-1\r\n")
same("encode_error_and_simple", resp.encode({ { err = "ERR x" }, { ok = "OK" } }),
  "*2\r\n-ERR x\r\n+OK\r\n")
same("command", resp.command("SET", "k", 5), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n5\r\n")
same("helpers", resp.bulk(nil) .. resp.simple("OK") .. resp.error("ERR e") .. resp.integer(7),
  "$-1\r\n+OK\r\n-ERR e\r\n:7\r\n")

local v, pos = resp.decode("*3\r\n$1\r\na\r\n:5\r\n*-1\r\n+rest")
same("decode_array", v.n .. v[1] .. v[2] .. tostring(v[3] == resp.null) .. pos, "3a5true21")
v, pos = resp.decode("-ERR no\r\n")
same("decode_error", v.err .. " " .. pos, "ERR no 10")
v = resp.decode("$5\r\nab")
same("decode_incomplete", v, nil)
v, pos = resp.decode("?")
same("decode_garbage", v, false)

-- ---- commands in pieces: resp.parser, and resp.server's on_data ----

-- Every command of s fed to a parser in pieces cut at the positions in cuts
-- (ascending), as "argc:arg|arg;" each, then "ERR text" for an error.
local function parse_pieces(s, cuts, max_bulk)
  local p, out, from = resp.parser(max_bulk), {}, 1
  cuts[#cuts + 1] = #s
  for _, cut in ipairs(cuts) do
    local buf, pos = s:sub(from, cut), 1
    from = cut + 1
    while #buf > 0 do
      local argc, argv, nxt = p:parse(buf, pos)
      if argc == false then
        out[#out + 1] = "ERR " .. argv
        return table.concat(out)
      end
      if not argc then break end
      out[#out + 1] = argc .. ":" .. table.concat(argv, "|", 1, argc) .. ";"
      pos = nxt
      if pos > #buf then break end
    end
  end
  return table.concat(out)
end

local STREAM = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n" .. "*1\r\n$0\r\n\r\n" ..
  "PING\r\n" .. "\r\n" .. "*0\r\n" .. "  echo  'x y' \"\\x41\"\n" .. "*-1\r\n" ..
  "*2\r\n$4\r\nECHO\r\n$12\r\n0123456789ab\r\n" .. "GET k\r\n"
local WANT = "3:SET|k|a\r\nb;1:;1:PING;0:;0:;3:echo|x y|A;0:;2:ECHO|0123456789ab;2:GET|k;"
same("parser_whole_stream", parse_pieces(STREAM, {}), WANT)

-- The stream cut in two at every byte, and in three at every pair 7 bytes apart.
local function every_cut(s, want, max_bulk)
  for k = 1, #s - 1 do
    local got = parse_pieces(s, { k }, max_bulk)
    if got ~= want then return "cut at " .. k .. ": " .. got end
    if k + 7 < #s then
      got = parse_pieces(s, { k, k + 7 }, max_bulk)
      if got ~= want then return "cut at " .. k .. " and " .. k + 7 .. ": " .. got end
    end
  end
  return want
end
same("parser_split_at_every_byte", every_cut(STREAM, WANT), WANT)

local function cuts_every(n, len)
  local cuts = {}
  for k = n, len - 1, n do cuts[#cuts + 1] = k end
  return cuts
end
same("parser_one_byte_at_a_time", parse_pieces(STREAM, cuts_every(1, #STREAM)), WANT)

-- Elements, lines and bodies across reads, and what a body still misses.
local p = resp.parser()
local trace = {}
for _, piece in ipairs({ "*2\r\n$3\r\nSET\r\n$10\r\nabc", "defg", "hij\r", "\n" }) do
  local argc, a, b = p:parse(piece)
  trace[#trace + 1] = argc and (argc .. " " .. a[1] .. " " .. a[2] .. " " .. b) or tostring(a)
end
same("parser_says_body_bytes_missing", table.concat(trace, ","), "7,3,nil,2 SET abcdefghij 2")

-- A 100,000-element command in 3-byte pieces, and one whose elements are
-- each cut inside their length line.
local n = 100000
local big = "*" .. n .. "\r\n" .. ("$1\r\nk\r\n"):rep(n)
local got = parse_pieces(big, cuts_every(3, #big))
same("parser_many_pieces", #got .. " " .. got:sub(1, 10) .. got:sub(-3), (n * 2 + 7) .. " " .. n .. ":k|k|k;")
local inline_cuts = {}
for k = 1, 50 do inline_cuts[k] = k * 2 - 1 end
same("parser_inline_in_pieces", parse_pieces("SET   \"a b\"\tc\r\nGET a\nPING\r\n", inline_cuts),
  "3:SET|a b|c;2:GET|a;1:PING;")

-- Limits and errors are the same however the input is cut.
local function every_cut_err(s, want)
  for k = 1, #s - 1 do
    local got = parse_pieces(s, { k })
    if got ~= want then return "cut at " .. k .. ": " .. got end
  end
  return want
end
same("parser_errors_across_pieces",
  every_cut_err("*1\r\n+PING\r\n", "ERR Protocol error: expected '$', got '+'") ..
  every_cut_err("*x\r\n", "ERR Protocol error: invalid multibulk length") ..
  every_cut_err("*1\r\n$-3\r\n", "ERR Protocol error: invalid bulk length") ..
  every_cut_err("*1\r\n$6\r\n", "") .. every_cut_err("ECHO \"ab\r\n", "ERR Protocol error: unbalanced quotes in request"),
  "ERR Protocol error: expected '$', got '+'ERR Protocol error: invalid multibulk length" ..
  "ERR Protocol error: invalid bulk length" .. "ERR Protocol error: unbalanced quotes in request")
-- A line of 64 KiB is still waited for, a byte more is an error, in 1000-byte pieces.
local function limit(before, line, fill, err)
  local function fed(len)
    local s = before .. line .. fill:rep(len - #line)
    return parse_pieces(s, cuts_every(1000, #s))
  end
  return fed(65536) .. "|" .. fed(65537), "|ERR Protocol error: " .. err
end
same("parser_line_limits_across_pieces", limit("", "", "x", "too big inline request"))
same("parser_count_line_limit_across_pieces", limit("", "*", "1", "too big mbulk count string"))
same("parser_length_line_limit_across_pieces", limit("*1\r\n", "$", "1", "too big bulk count string"))
same("parser_max_bulk", parse_pieces("*1\r\n$11\r\n", { 6 }, 10), "ERR Protocol error: invalid bulk length")

-- resp.server's on_data, given a connection that keeps what is written and
-- cuts what comes next as the handler asks (a { length = n } frame whole).
local function fake_conn()
  local c = { state = {}, out = {}, framings = {} }
  function c:write(...)
    self.writes = (self.writes or 0) + 1
    for i = 1, select("#", ...) do self.out[#self.out + 1] = select(i, ...) end
    return 0
  end
  function c:close() self.closed = true end
  function c:framing(spec)
    self.framings[#self.framings + 1] = type(spec) == "table" and spec.length or spec
    self.len = type(spec) == "table" and spec.length or nil
  end
  return c
end

local kept -- the argv the command function saw last
local function echo_server()
  return resp.server(function(reply, argv, argc)
    kept = argv
    reply:array(argv, argc)
  end)
end

-- The replies to s fed to an echo server step bytes at a time.
local function serve(s, step)
  local h, c, pos = echo_server(), fake_conn(), 1
  while pos <= #s do
    local len = c.len or step
    h.on_data(c, s:sub(pos, pos + len - 1))
    pos = pos + len
  end
  return table.concat(c.out), c
end

local body = ("0123456789"):rep(20000) -- 200 KB: framed by the core
local SERVED = STREAM .. resp.command("SET", "big", body) .. "PING\r\n"
local want = {}
for _, cmd in ipairs({ { "SET", "k", "a\r\nb" }, { "" }, { "PING" }, { "echo", "x y", "A" },
  { "ECHO", "0123456789ab" }, { "GET", "k" }, { "SET", "big", body }, { "PING" } }) do
  want[#want + 1] = resp.encode(cmd)
end
local whole = serve(SERVED, #SERVED)
local bad = { whole == table.concat(want) and "whole" or "whole differs" }
for _, step in ipairs({ 1, 2, 3, 5, 7, 100, 1000, 4096, 65536 }) do
  if serve(SERVED, step) ~= whole then bad[#bad + 1] = step end
end
same("server_any_pieces_same_replies", table.concat(bad, " "), "whole")

local _, c = serve(SERVED, 1000)
same("server_frames_big_body", table.concat(c.framings, " "),
  tostring(200000 - (1000 - #STREAM - #"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$200000\r\n")) .. " raw")
same("server_lets_go_of_argv", tostring(kept[1]) .. " " .. tostring(c.state.pending), "nil nil")

local h = resp.server(function(reply) reply:bulk(body) end)
c = fake_conn()
h.on_data(c, "GET big\r\n")
same("server_big_reply_not_joined", c.writes .. " " .. #c.out .. " " .. (table.concat(c.out) == resp.bulk(body) and "same" or "differs"),
  "1 3 same")

io.stderr:write("DONE\n")
return {}
