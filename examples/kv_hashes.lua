-- kv_hashes: the hash commands of examples/kv.lua, which runs this file with
-- its kv table. A hash keeps its fields in the order they were first set,
-- as Redis's small hashes do (HGETALL answers the same): h[1 .. top] the
-- fields, false where one was deleted (packed again once the holes
-- outnumber the fields), h.at[field] its place, h.val[field] its value.
local kv = assert(..., "kv_hashes.lua is run by kv.lua, not on its own")
local resp = require "moonwire.resp"
local command, store, delete, of_kind = kv.command, kv.store, kv.delete, kv.of_kind
local to_int, add = kv.to_int, kv.add
local E_INT, E_OVERFLOW = kv.E_INT, kv.E_OVERFLOW

local function new_hash()
  return { kind = "hash", n = 0, top = 0, at = {}, val = {} }
end

-- Sets field f to v; 1 if f is new, else 0 (and f keeps its place).
local function set(h, f, v)
  local val = h.val
  if val[f] ~= nil then
    val[f] = v
    return 0
  end
  local top = h.top + 1
  h[top], h.at[f], val[f], h.top, h.n = f, top, v, top, h.n + 1
  return 1
end

local function pack(h)
  local to, at = 0, h.at
  for i = 1, h.top do
    local f = h[i]
    if f then
      to = to + 1
      h[to], at[f] = f, to
    end
  end
  for i = to + 1, h.top do h[i] = nil end
  h.top = to
end

-- Deletes field f; 1 if it was there, else 0.
local function del(h, f)
  local i = h.at[f]
  if not i then return 0 end
  h[i], h.at[f], h.val[f], h.n = false, nil, nil, h.n - 1
  if h.top - h.n > h.n then pack(h) end
  return 1
end

-- The hash at key, a new one stored there when it is missing; false after
-- answering WRONGTYPE.
local function hash_made(reply, key)
  local h = of_kind(reply, key, "hash")
  if h == nil then
    h = new_hash()
    store(key, h)
  end
  return h
end

-- HSET key field value [field value ...]: the fields that are new;
-- HMSET the same, answered OK.
local function hset(name, ok)
  command(name, -4, "write fast", function(reply, argv, argc)
    if argc % 2 == 1 then return reply:error(kv.wrong_args(name)) end
    local h = hash_made(reply, argv[2])
    if not h then return end
    local added = 0
    for i = 3, argc, 2 do added = added + set(h, argv[i], argv[i + 1]) end
    if ok then return reply:ok() end
    reply:integer(added)
  end)
end
hset("hset")
hset("hmset", true)

command("hsetnx", 4, "write fast", function(reply, argv)
  local h = hash_made(reply, argv[2])
  if not h then return end
  if h.val[argv[3]] ~= nil then return reply:integer(0) end
  reply:integer(set(h, argv[3], argv[4]))
end)

command("hget", 3, "readonly fast", function(reply, argv)
  local h = of_kind(reply, argv[2], "hash")
  if h ~= false then reply:bulk(h and h.val[argv[3]]) end
end)

command("hmget", -3, "readonly fast", function(reply, argv, argc)
  local h = of_kind(reply, argv[2], "hash")
  if h == false then return end
  reply:array_header(argc - 2)
  for i = 3, argc do reply:bulk(h and h.val[argv[i]]) end
end)

command("hdel", -3, "write fast", function(reply, argv, argc)
  local h = of_kind(reply, argv[2], "hash")
  if h == false then return end
  if h == nil then return reply:integer(0) end
  local n = 0
  for i = 3, argc do n = n + del(h, argv[i]) end
  if h.n == 0 then delete(argv[2]) end
  reply:integer(n)
end)

command("hlen", 2, "readonly fast", function(reply, argv)
  local h = of_kind(reply, argv[2], "hash")
  if h ~= false then reply:integer(h and h.n or 0) end
end)

command("hexists", 3, "readonly fast", function(reply, argv)
  local h = of_kind(reply, argv[2], "hash")
  if h ~= false then reply:integer(h and h.val[argv[3]] and 1 or 0) end
end)

command("hstrlen", 3, "readonly fast", function(reply, argv)
  local h = of_kind(reply, argv[2], "hash")
  if h == false then return end
  local v = h and h.val[argv[3]]
  reply:integer(v and #v or 0)
end)

-- HKEYS, HVALS, HGETALL: the fields, the values, or both, in field order.
local function listing(name, fields, values)
  command(name, 2, "readonly", function(reply, argv)
    local h = of_kind(reply, argv[2], "hash")
    if h == false then return end
    if h == nil then return reply:array_header(0) end
    reply:array_header(h.n * ((fields and values) and 2 or 1))
    local val = h.val
    for i = 1, h.top do
      local f = h[i]
      if f then
        if fields then reply:bulk(f) end
        if values then reply:bulk(val[f]) end
      end
    end
  end)
end
listing("hkeys", true, false)
listing("hvals", false, true)
listing("hgetall", true, true)

command("hincrby", 4, "write fast", function(reply, argv)
  local by = to_int(argv[4])
  if not by then return reply:error(E_INT) end
  local h = hash_made(reply, argv[2])
  if not h then return end
  local f, n = argv[3], 0
  local v = h.val[f]
  if v ~= nil then
    n = to_int(v)
    if not n then return reply:error("ERR hash value is not an integer") end
  end
  local r = add(n, by)
  if not r then return reply:error(E_OVERFLOW) end
  set(h, f, resp.int_text(r))
  reply:integer(r)
end)
