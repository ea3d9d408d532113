-- kv_sets: the set commands of examples/kv.lua, which runs this file with
-- its kv table. A set is { kind = "set", n = count, at = {}, [i] ... }: its
-- members in s[1 .. n] and each one's place in s.at, so SPOP and
-- SRANDMEMBER pick at random at once, and SREM moves the last member into
-- the place it empties. Members come in no defined order, as in Redis.
local kv = assert(..., "kv_sets.lua is run by kv.lua, not on its own")
local command, store, delete, of_kind = kv.command, kv.store, kv.delete, kv.of_kind
local to_index, to_count = kv.to_index, kv.to_count
local random, upper = math.random, string.upper
local E_INT, E_SYNTAX, E_POSITIVE = kv.E_INT, kv.E_SYNTAX, kv.E_POSITIVE

local function new_set()
  return { kind = "set", n = 0, at = {} }
end

-- Adds m to s; 1 if it was not there, else 0.
local function add(s, m)
  if s.at[m] then return 0 end
  local n = s.n + 1
  s[n], s.at[m], s.n = m, n, n
  return 1
end

-- Removes m from s; 1 if it was there, else 0.
local function remove(s, m)
  local i = s.at[m]
  if not i then return 0 end
  local n = s.n
  local last = s[n]
  s[i], s.at[last] = last, i
  s[n], s.at[m], s.n = nil, nil, n - 1
  return 1
end

command("sadd", -3, "write fast", function(reply, argv, argc)
  local s = of_kind(reply, argv[2], "set")
  if s == false then return end
  if s == nil then
    s = new_set()
    store(argv[2], s)
  end
  local added = 0
  for i = 3, argc do added = added + add(s, argv[i]) end
  reply:integer(added)
end)

command("srem", -3, "write fast", function(reply, argv, argc)
  local s = of_kind(reply, argv[2], "set")
  if s == false then return end
  if s == nil then return reply:integer(0) end
  local removed = 0
  for i = 3, argc do removed = removed + remove(s, argv[i]) end
  if s.n == 0 then delete(argv[2]) end
  reply:integer(removed)
end)

command("smembers", 2, "readonly", function(reply, argv)
  local s = of_kind(reply, argv[2], "set")
  if s == false then return end
  if s == nil then return reply:array_header(0) end
  reply:array(s, s.n)
end)

command("scard", 2, "readonly fast", function(reply, argv)
  local s = of_kind(reply, argv[2], "set")
  if s ~= false then reply:integer(s and s.n or 0) end
end)

command("sismember", 3, "readonly fast", function(reply, argv)
  local s = of_kind(reply, argv[2], "set")
  if s ~= false then reply:integer(s and s.at[argv[3]] and 1 or 0) end
end)

command("smismember", -3, "readonly fast", function(reply, argv, argc)
  local s = of_kind(reply, argv[2], "set")
  if s == false then return end
  reply:array_header(argc - 2)
  for i = 3, argc do reply:integer(s and s.at[argv[i]] and 1 or 0) end
end)

-- SPOP key [count]: a member taken at random (a bulk), or with a count an
-- array of up to count of them; the key goes with its last member.
command("spop", -2, "write fast", function(reply, argv, argc)
  if argc > 3 then return reply:error(E_SYNTAX) end
  local count
  if argc == 3 then
    count = to_count(argv[3])
    if not count then return reply:error(E_POSITIVE) end
  end
  local key = argv[2]
  local s = of_kind(reply, key, "set")
  if s == false then return end
  if s == nil then
    if count then return reply:array_header(0) end
    return reply:null()
  end
  if count and count >= s.n then
    reply:array(s, s.n)
    return delete(key)
  end
  if count then reply:array_header(count) end
  for _ = 1, count or 1 do
    local m = s[random(s.n)]
    remove(s, m)
    reply:bulk(m)
  end
  if s.n == 0 then delete(key) end
end)

-- count distinct members of s taken at random (count < s.n): a partial
-- shuffle of a copy of the members.
local function distinct(reply, s, count)
  local copy = {}
  for i = 1, s.n do copy[i] = s[i] end
  reply:array_header(count)
  for i = 1, count do
    local j = random(i, s.n)
    copy[i], copy[j] = copy[j], copy[i]
    reply:bulk(copy[i])
  end
end

-- SRANDMEMBER key [count]: count > 0 distinct members, count < 0 that many
-- drawn with repeats.
command("srandmember", -2, "readonly", function(reply, argv, argc)
  if argc > 3 then return reply:error(E_SYNTAX) end
  local count
  if argc == 3 then
    count = to_index(argv[3])
    if not count then return reply:error(E_INT) end
    if argv[3] == "-9223372036854775808" then
      return reply:error("ERR value is out of range, value must between "
        .. "-9223372036854775807 and 9223372036854775807")
    end
  end
  local s = of_kind(reply, argv[2], "set")
  if s == false then return end
  if s == nil then
    if count then return reply:array_header(0) end
    return reply:null()
  end
  if not count then return reply:bulk(s[random(s.n)]) end
  if count >= s.n then return reply:array(s, s.n) end
  if count >= 0 then return distinct(reply, s, count) end
  reply:array_header(-count)
  for _ = 1, -count do reply:bulk(s[random(s.n)]) end
end)

command("smove", 4, "write fast", function(reply, argv)
  local src = of_kind(reply, argv[2], "set")
  if src == false then return end
  if src == nil then return reply:integer(0) end
  local dst = of_kind(reply, argv[3], "set")
  if dst == false then return end
  local m = argv[4]
  if src == dst then return reply:integer(src.at[m] and 1 or 0) end
  if remove(src, m) == 0 then return reply:integer(0) end
  if src.n == 0 then delete(argv[2]) end
  if dst == nil then
    dst = new_set()
    store(argv[3], dst)
  end
  add(dst, m)
  reply:integer(1)
end, { 1, 2, 1 })

-- ---- SINTER, SUNION, SDIFF and their STORE and CARD forms ----

local EMPTY = new_set() -- what a missing key counts as; never stored

-- The sets at argv[from .. to] (EMPTY for a missing key), or nil after
-- answering WRONGTYPE: every key is looked at before any answer.
local function sets_at(reply, argv, from, to)
  local sets = {}
  for i = from, to do
    local s = of_kind(reply, argv[i], "set")
    if s == false then return nil end
    sets[#sets + 1] = s or EMPTY
  end
  return sets
end

-- The members of the smallest set that are in all the others, up to limit
-- of them (0: no limit).
local function inter(sets, limit)
  table.sort(sets, function(a, b) return a.n < b.n end)
  local out = new_set()
  local first = sets[1]
  for i = 1, first.n do
    local m, all = first[i], true
    for j = 2, #sets do
      if not sets[j].at[m] then all = false break end
    end
    if all then
      add(out, m)
      if out.n == limit then break end
    end
  end
  return out
end

local function union(sets)
  local out = new_set()
  for _, s in ipairs(sets) do
    for i = 1, s.n do add(out, s[i]) end
  end
  return out
end

local function diff(sets)
  local out = new_set()
  local first = sets[1]
  for i = 1, first.n do
    local m, elsewhere = first[i], false
    for j = 2, #sets do
      if sets[j].at[m] then elsewhere = true break end
    end
    if not elsewhere then add(out, m) end
  end
  return out
end

-- SINTER key ..., and SINTERSTORE destination key ... (which replaces
-- whatever destination held, or deletes it when the result is empty).
local function algebra(name, op)
  command(name, -2, "readonly", function(reply, argv, argc)
    local sets = sets_at(reply, argv, 2, argc)
    if sets then
      local out = op(sets, 0)
      reply:array(out, out.n)
    end
  end, { 1, -1, 1 })
  command(name .. "store", -3, "write", function(reply, argv, argc)
    local sets = sets_at(reply, argv, 3, argc)
    if not sets then return end
    local out = op(sets, 0)
    if out.n > 0 then store(argv[2], out) else delete(argv[2]) end
    reply:integer(out.n)
  end, { 1, -1, 1 })
end

algebra("sinter", inter)
algebra("sunion", union)
algebra("sdiff", diff)

-- SINTERCARD numkeys key ... [LIMIT limit]
command("sintercard", -3, "readonly", function(reply, argv, argc)
  local nkeys = to_index(argv[2])
  if not nkeys or nkeys < 1 then return reply:error("ERR numkeys should be greater than 0") end
  if nkeys > argc - 2 then
    return reply:error("ERR Number of keys can't be greater than number of args")
  end
  local limit, i = 0, 3 + nkeys
  while i <= argc do
    if upper(argv[i]) ~= "LIMIT" or i == argc then return reply:error(E_SYNTAX) end
    limit = to_index(argv[i + 1])
    if not limit or limit < 0 then return reply:error("ERR LIMIT can't be negative") end
    i = i + 2
  end
  local sets = sets_at(reply, argv, 3, 2 + nkeys)
  if sets then reply:integer(inter(sets, limit).n) end
end, { 2, -1, 1 })
