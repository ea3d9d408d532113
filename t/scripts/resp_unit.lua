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

io.stderr:write("DONE\n")
return {}
