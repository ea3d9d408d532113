-- kv: an in-memory key-value server speaking enough of the Redis protocol
-- for redis-cli and redis-benchmark (its whole default run). Strings here;
-- lists, sets, hashes and sorted sets in kv_lists.lua, kv_sets.lua,
-- kv_hashes.lua and kv_zsets.lua beside this file. Keys expire lazily (when
-- read) and by a timer that samples the keys with a time to live.
--   moonwire -l 127.0.0.1:6380 examples/kv.lua
--   redis-cli -p 6380 set greeting hello ex 60; redis-cli -p 6380 get greeting
-- Each worker has its own data: run it with one worker (-w 1, the default).
local mw = require "moonwire"
local resp = require "moonwire.resp"
local ffi = require "ffi"

local byte, sub, find, lower, upper, format = string.byte, string.sub, string.find,
  string.lower, string.upper, string.format
local concat, tonumber, type, now = table.concat, tonumber, type, mw.now

local data = {}    -- key -> string, or a table whose field kind is "list", "set", "hash", "zset"
local expires = {} -- key -> absolute time in ms (mw.now())
local nkeys = 0

local E_TYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
local E_INT = "ERR value is not an integer or out of range"
local E_SYNTAX = "ERR syntax error"
local E_OVERFLOW = "ERR increment or decrement would overflow"
local E_POSITIVE = "ERR value is out of range, must be positive"

-- ---- keys ----

local function delete(key)
  if data[key] == nil then return false end
  data[key], expires[key] = nil, nil
  nkeys = nkeys - 1
  return true
end

-- The value of key, or nil when it is missing or has expired.
local function lookup(key)
  local v = data[key]
  if v ~= nil then
    local at = expires[key]
    if at and at <= now() then
      delete(key)
      return nil
    end
  end
  return v
end

local function store(key, v, keep_ttl)
  if data[key] == nil then nkeys = nkeys + 1 end
  data[key] = v
  if not keep_ttl then expires[key] = nil end
end

-- Active expiry: every 100 ms, up to 200 keys with a time to live are
-- looked at, resuming where the last pass stopped.
local cursor
mw.every(100, function()
  if cursor ~= nil and expires[cursor] == nil then cursor = nil end
  local t, key, at = now(), next(expires, cursor)
  for _ = 1, 200 do
    if key == nil then break end
    local nxt = next(expires, key)
    if at <= t then delete(key) end
    key, at = nxt, nxt ~= nil and expires[nxt] or nil
  end
  cursor = key
end)

-- ---- integers, exact over the whole int64 range ----

ffi.cdef [[ long long strtoll(const char *s, char **end, int base); ]]
local I64 = ffi.typeof("int64_t")
local MAXI, MINI = 9223372036854775807LL, -9223372036854775807LL - 1
local SAFE = 2 ^ 53

-- A Redis integer (no sign +, no leading zeros, within int64) as a number,
-- or as int64 cdata past 2^53; nil otherwise.
local function to_int(s)
  if #s == 0 or #s > 20 then return nil end
  if not find(s, "^%-?[1-9]%d*$") then return s == "0" and 0 or nil end
  if #s <= 15 then return tonumber(s) end
  ffi.errno(0)
  local v = ffi.C.strtoll(s, nil, 10)
  if ffi.errno() ~= 0 then return nil end
  if v > -SAFE and v < SAFE then return tonumber(v) end
  return v
end

-- a + b, or nil when it overflows int64.
local function add(a, b)
  if type(a) == "number" and type(b) == "number" then
    local r = a + b
    if r > -SAFE and r < SAFE then return r end
  end
  local A, B = I64(a), I64(b)
  if (B > 0 and A > MAXI - B) or (B < 0 and A < MINI - B) then return nil end
  local r = A + B
  if r > -SAFE and r < SAFE then return tonumber(r) end
  return r
end

-- ---- the command table ----

local commands = {}

-- Registers a command; arity counts the name, negative means "at least";
-- keys, { first, last, step } as COMMAND INFO says them, when not 1, 1, 1.
local function command(name, arity, flags, fn, keys)
  local c = { name = name, arity = arity, flags = flags, fn = fn, keys = keys }
  commands[name], commands[upper(name)] = c, c
end

local function wrong_args(name)
  return "ERR wrong number of arguments for '" .. name .. "' command"
end

local function unknown(argv, argc)
  local args = {}
  local len = 0
  for i = 2, argc do
    if len >= 128 then break end
    local a = "'" .. sub(argv[i], 1, 128 - len) .. "' "
    args[#args + 1], len = a, len + #a
  end
  local name = sub(argv[1], 1, 128)
  local msg = "ERR unknown command '" .. name .. "', with args beginning with: " .. concat(args)
  return (msg:gsub("[\r\n]", " "))
end

local function string_value(reply, key)
  local v = lookup(key)
  if type(v) == "table" then
    reply:error(E_TYPE)
    return false
  end
  return v
end

command("ping", -1, "fast", function(reply, argv, argc)
  if argc > 2 then return reply:error(wrong_args("ping")) end
  if argc == 2 then return reply:bulk(argv[2]) end
  reply:simple("PONG")
end)

command("echo", 2, "fast", function(reply, argv)
  reply:bulk(argv[2])
end)

command("quit", -1, "fast", function(reply)
  reply:ok()
  reply:close()
end)

command("select", 2, "fast", function(reply, argv)
  local db = to_int(argv[2])
  if not db then return reply:error(E_INT) end
  if db ~= 0 then return reply:error("ERR DB index is out of range") end
  reply:ok()
end)

command("get", 2, "readonly fast", function(reply, argv)
  local v = string_value(reply, argv[2])
  if v ~= false then reply:bulk(v) end
end)

-- The options of SET after key and value: a table of what was given, or
-- nil and the error.
local function set_options(argv, argc)
  local o = {}
  local i = 4
  while i <= argc do
    local opt = upper(argv[i])
    if (opt == "NX" and not o.xx) or (opt == "XX" and not o.nx) then
      o[lower(opt)] = true
    elseif opt == "GET" then
      o.get = true
    elseif opt == "KEEPTTL" and not o.unit then
      o.keepttl = true
    elseif (opt == "EX" or opt == "PX" or opt == "EXAT" or opt == "PXAT")
      and not o.unit and not o.keepttl and i < argc then
      local n = to_int(argv[i + 1])
      if not n then return nil, E_INT end
      if n <= 0 or (type(n) ~= "number") then return nil, "ERR invalid expire time in 'set' command" end
      o.unit, o.time, i = opt, n, i + 1
    else
      return nil, E_SYNTAX
    end
    i = i + 1
  end
  return o
end

-- The absolute expiry time in ms of an EX/PX/EXAT/PXAT option.
local function expiry_of(unit, n)
  if unit == "EX" then return now() + n * 1000 end
  if unit == "PX" then return now() + n end
  if unit == "EXAT" then return n * 1000 - os.time() * 1000 + now() end
  return n - os.time() * 1000 + now()
end

command("set", -3, "write", function(reply, argv, argc)
  local key, value = argv[2], argv[3]
  if argc == 3 then
    store(key, value)
    return reply:ok()
  end
  local o, err = set_options(argv, argc)
  if not o then return reply:error(err) end
  local old = lookup(key)
  if o.get and type(old) == "table" then return reply:error(E_TYPE) end
  if (o.nx and old ~= nil) or (o.xx and old == nil) then
    if o.get then return reply:bulk(old) end
    return reply:null()
  end
  store(key, value, o.keepttl)
  if o.unit then expires[key] = expiry_of(o.unit, o.time) end
  if o.get then return reply:bulk(old) end
  reply:ok()
end)

command("del", -2, "write", function(reply, argv, argc)
  local n = 0
  for i = 2, argc do
    if lookup(argv[i]) ~= nil and delete(argv[i]) then n = n + 1 end
  end
  reply:integer(n)
end)

command("exists", -2, "readonly fast", function(reply, argv, argc)
  local n = 0
  for i = 2, argc do
    if lookup(argv[i]) ~= nil then n = n + 1 end
  end
  reply:integer(n)
end)

command("type", 2, "readonly fast", function(reply, argv)
  local v = lookup(argv[2])
  reply:simple(v == nil and "none" or type(v) == "table" and v.kind or "string")
end)

local function incr_by(reply, key, by)
  local v = lookup(key)
  if type(v) == "table" then return reply:error(E_TYPE) end
  local n = 0
  if v ~= nil then
    n = to_int(v)
    if not n then return reply:error(E_INT) end
  end
  local r = add(n, by)
  if not r then return reply:error(E_OVERFLOW) end
  store(key, resp.int_text(r), true)
  reply:integer(r)
end

command("incr", 2, "write fast", function(reply, argv) incr_by(reply, argv[2], 1) end)
command("decr", 2, "write fast", function(reply, argv) incr_by(reply, argv[2], -1) end)

command("incrby", 3, "write fast", function(reply, argv)
  local by = to_int(argv[3])
  if not by then return reply:error(E_INT) end
  incr_by(reply, argv[2], by)
end)

command("decrby", 3, "write fast", function(reply, argv)
  local by = to_int(argv[3])
  if not by then return reply:error(E_INT) end
  if by == MINI then return reply:error("ERR decrement would overflow") end
  incr_by(reply, argv[2], -by)
end)

command("mget", -2, "readonly fast", function(reply, argv, argc)
  reply:array_header(argc - 1)
  for i = 2, argc do
    local v = lookup(argv[i])
    reply:bulk(type(v) == "string" and v or nil)
  end
end)

command("mset", -3, "write", function(reply, argv, argc)
  if argc % 2 == 0 then return reply:error(wrong_args("mset")) end
  for i = 2, argc, 2 do store(argv[i], argv[i + 1]) end
  reply:ok()
end)

-- ---- expiry ----

local function expire_in(reply, argv, ms)
  local key = argv[2]
  local n = to_int(argv[3])
  if not n or type(n) ~= "number" then return reply:error(E_INT) end
  if lookup(key) == nil then return reply:integer(0) end
  if n * ms <= 0 then
    delete(key)
  else
    expires[key] = now() + n * ms
  end
  reply:integer(1)
end

command("expire", 3, "write fast", function(reply, argv) expire_in(reply, argv, 1000) end)
command("pexpire", 3, "write fast", function(reply, argv) expire_in(reply, argv, 1) end)

command("persist", 2, "write fast", function(reply, argv)
  local key = argv[2]
  if lookup(key) == nil or not expires[key] then return reply:integer(0) end
  expires[key] = nil
  reply:integer(1)
end)

local function ttl_of(key, ms)
  if lookup(key) == nil then return -2 end
  local at = expires[key]
  if not at then return -1 end
  local left = at - now()
  if ms then return left end
  return math.floor((left + 500) / 1000)
end

command("ttl", 2, "readonly fast", function(reply, argv) reply:integer(ttl_of(argv[2])) end)
command("pttl", 2, "readonly fast", function(reply, argv) reply:integer(ttl_of(argv[2], true)) end)

-- ---- the keyspace ----

-- A Redis glob (* ? [abc] [^a] [a-z] \x) as an anchored Lua pattern.
local function glob_pattern(glob)
  local out, i, n = { "^" }, 1, #glob
  while i <= n do
    local c = sub(glob, i, i)
    if c == "*" then
      out[#out + 1] = ".-"
    elseif c == "?" then
      out[#out + 1] = "."
    elseif c == "\\" and i < n then
      i = i + 1
      out[#out + 1] = "%" .. sub(glob, i, i)
    elseif c == "[" and find(glob, "]", i + 1, true) then
      local close = find(glob, "]", i + 2, true) or find(glob, "]", i + 1, true)
      local class = sub(glob, i + 1, close - 1)
      local neg = sub(class, 1, 1) == "^"
      if neg then class = sub(class, 2) end
      class = class:gsub("[%%%]%[]", "%%%0"):gsub("\\(.)", "%%%1")
      out[#out + 1] = "[" .. (neg and "^" or "") .. class .. "]"
      i = close
    else
      out[#out + 1] = c:match("%w") and c or "%" .. c
    end
    i = i + 1
  end
  out[#out + 1] = "$"
  return concat(out)
end

command("keys", 2, "readonly", function(reply, argv)
  local pattern, all = glob_pattern(argv[2]), argv[2] == "*"
  local found, t = {}, now()
  for key in pairs(data) do
    local at = expires[key]
    if (not at or at > t) and (all or find(key, pattern)) then found[#found + 1] = key end
  end
  reply:array(found, #found)
end)

command("dbsize", 1, "readonly fast", function(reply) reply:integer(nkeys) end)

command("flushdb", -1, "write", function(reply, argv, argc)
  if argc > 2 or (argc == 2 and not ({ ASYNC = 1, SYNC = 1 })[upper(argv[2])]) then
    return reply:error(E_SYNTAX)
  end
  data, expires, nkeys, cursor = {}, {}, 0, nil
  reply:ok()
end)
commands.flushall, commands.FLUSHALL = commands.flushdb, commands.FLUSHDB

-- ---- the other data types ----

-- The value of key when it holds a kind ("list", "set", ...); nil when the
-- key is missing; false when it holds another kind, after answering WRONGTYPE.
local function of_kind(reply, key, kind)
  local v = lookup(key)
  if v ~= nil and (type(v) == "string" or v.kind ~= kind) then
    reply:error(E_TYPE)
    return false
  end
  return v
end

-- An integer argument used as an index or a count: as to_int, but always a
-- number, clamped to 2^53 beyond it (no list or set is that long).
local function to_index(s)
  local n = to_int(s)
  if type(n) == "cdata" then return n > 0 and SAFE or -SAFE end
  return n
end

-- The count argument of LPOP, SPOP, ZPOPMIN and the like: a whole number
-- from 0 (as to_index), or nil for anything else (E_POSITIVE).
local function to_count(s)
  local n = to_index(s)
  if n and n >= 0 then return n end
  return nil
end

-- The 0-based range from .. to of a list of n elements that indexes from
-- and to name (negative from the end), or nil when it is empty.
local function range_of(from, to, n)
  if from < 0 then from = n + from end
  if to < 0 then to = n + to end
  if from < 0 then from = 0 end
  if from > to or from >= n then return nil end
  if to >= n then to = n - 1 end
  return from, to
end

-- What the files of the other data types build their commands from.
local kv = {
  command = command, lookup = lookup, store = store, delete = delete, of_kind = of_kind,
  to_int = to_int, to_index = to_index, to_count = to_count, range_of = range_of, add = add,
  wrong_args = wrong_args, E_TYPE = E_TYPE, E_INT = E_INT, E_SYNTAX = E_SYNTAX,
  E_OVERFLOW = E_OVERFLOW, E_POSITIVE = E_POSITIVE,
}

-- A file beside this one (found from this script's own path, so from any
-- directory and once installed), run as a function of kv.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
function kv.sibling(name)
  return assert(loadfile(here .. name .. ".lua"))
end
for _, name in ipairs({ "kv_lists", "kv_sets", "kv_hashes", "kv_zsets" }) do
  kv.sibling(name)(kv)
end

-- ---- introspection, for redis-cli and redis-benchmark ----

local function arity_key_positions(c)
  if c.keys then return c.keys[1], c.keys[2], c.keys[3] end
  if c.flags:find("write") or c.flags:find("readonly") then
    local last = (c.name == "del" or c.name == "exists" or c.name == "mget") and -1
      or (c.name == "mset" and -1) or 1
    return 1, last, c.name == "mset" and 2 or 1
  end
  return 0, 0, 0
end

local function command_info(reply, c)
  local flags = {}
  for f in c.flags:gmatch("%S+") do flags[#flags + 1] = { ok = f } end
  local first, last, step = arity_key_positions(c)
  reply:value({ n = 10, c.name, c.arity, flags, first, last, step, {}, {}, {}, {} })
end

local function command_list()
  local list = {}
  for name, c in pairs(commands) do
    if name == c.name then list[#list + 1] = c end
  end
  table.sort(list, function(a, b) return a.name < b.name end)
  return list
end

command("command", -1, "", function(reply, argv, argc)
  local sub_cmd = argc >= 2 and upper(argv[2])
  if not sub_cmd then
    local list = command_list()
    reply:array_header(#list)
    for _, c in ipairs(list) do command_info(reply, c) end
  elseif sub_cmd == "COUNT" and argc == 2 then
    reply:integer(#command_list())
  elseif sub_cmd == "DOCS" then
    reply:array_header(0)
  elseif sub_cmd == "INFO" then
    reply:array_header(argc - 2)
    for i = 3, argc do
      local c = commands[lower(argv[i])]
      if c then command_info(reply, c) else reply:null_array() end
    end
  else
    reply:error(format("ERR unknown subcommand '%s'. Try COMMAND HELP.", sub(argv[2], 1, 128)))
  end
end)

-- redis-benchmark asks for "save" and "appendonly" before it starts.
local config = { save = "", appendonly = "no", databases = "1" }
command("config", -2, "", function(reply, argv, argc)
  if upper(argv[2]) ~= "GET" or argc < 3 then
    return reply:error(format("ERR unknown subcommand '%s'. Try CONFIG HELP.", sub(argv[2], 1, 128)))
  end
  local out = {}
  for i = 3, argc do
    local name = lower(argv[i])
    if config[name] then out[#out + 1], out[#out + 2] = name, config[name] end
  end
  reply:array(out, #out)
end)

command("info", -1, "", function(reply)
  local s = mw.stats()
  reply:bulk(concat({
    "# Server", "redis_version:7.0.0", "moonwire_version:" .. tostring(mw.version),
    "", "# Memory", "used_memory:" .. s.heap_in_use,
    "", "# Keyspace", nkeys > 0 and format("db0:keys=%d,expires=0,avg_ttl=0", nkeys) or "", "",
  }, "\r\n"))
end)

-- ---- dispatch ----

local function dispatch(reply, argv, argc)
  local name = argv[1]
  local c = commands[name] or commands[lower(name)]
  if not c then return reply:error(unknown(argv, argc)) end
  local arity = c.arity
  if (arity > 0 and argc ~= arity) or argc < -arity then
    return reply:error(wrong_args(c.name))
  end
  return c.fn(reply, argv, argc)
end

return resp.server(dispatch)
