-- kv_lists: the list commands of examples/kv.lua, which runs this file with
-- its kv table. A list is { kind = "list", n = count, first = i, [i] ... }:
-- its elements l[first .. first + n - 1], so a push or pop at either end
-- costs the same; one in the middle (LINSERT, LREM) moves what follows it.
local kv = assert(..., "kv_lists.lua is run by kv.lua, not on its own")
local command, store, delete, of_kind = kv.command, kv.store, kv.delete, kv.of_kind
local to_index, to_count, range_of = kv.to_index, kv.to_count, kv.range_of
local upper = string.upper
local E_INT, E_SYNTAX, E_POSITIVE = kv.E_INT, kv.E_SYNTAX, kv.E_POSITIVE

-- The list at key, a new empty one stored there when it is missing; false
-- after answering WRONGTYPE.
local function list_made(reply, key)
  local l = of_kind(reply, key, "list")
  if l == nil then
    l = { kind = "list", n = 0, first = 1 }
    store(key, l)
  end
  return l
end

local function push_one(l, v, left)
  if left then
    l.first = l.first - 1
    l[l.first] = v
  else
    l[l.first + l.n] = v
  end
  l.n = l.n + 1
end

local function push(reply, argv, argc, left, only_existing)
  local l
  if only_existing then
    l = of_kind(reply, argv[2], "list")
    if l == false then return end
    if l == nil then return reply:integer(0) end
  else
    l = list_made(reply, argv[2])
    if not l then return end
  end
  for i = 3, argc do push_one(l, argv[i], left) end
  reply:integer(l.n)
end

local function pusher(name, left, only_existing)
  command(name, -3, "write fast", function(reply, argv, argc)
    push(reply, argv, argc, left, only_existing)
  end)
end
pusher("lpush", true)
pusher("rpush", false)
pusher("lpushx", true, true)
pusher("rpushx", false, true)

local function pop_one(l, left)
  local at = left and l.first or l.first + l.n - 1
  local v = l[at]
  l[at], l.n = nil, l.n - 1
  if left then l.first = l.first + 1 end
  return v
end

-- LPOP key [count], RPOP key [count]: a bulk, or with a count an array of
-- up to count elements (the nil array for a missing key).
local function pop(reply, argv, argc, left)
  local count
  if argc == 3 then
    count = to_count(argv[3])
    if not count then return reply:error(E_POSITIVE) end
  end
  local key = argv[2]
  local l = of_kind(reply, key, "list")
  if l == false then return end
  if l == nil then
    if count then return reply:null_array() end
    return reply:null()
  end
  if not count then
    reply:bulk(pop_one(l, left))
  else
    if count > l.n then count = l.n end
    reply:array_header(count)
    for _ = 1, count do reply:bulk(pop_one(l, left)) end
  end
  if l.n == 0 then delete(key) end
end

command("lpop", -2, "write fast", function(reply, argv, argc)
  if argc > 3 then return reply:error(kv.wrong_args("lpop")) end
  pop(reply, argv, argc, true)
end)
command("rpop", -2, "write fast", function(reply, argv, argc)
  if argc > 3 then return reply:error(kv.wrong_args("rpop")) end
  pop(reply, argv, argc, false)
end)

command("llen", 2, "readonly fast", function(reply, argv)
  local l = of_kind(reply, argv[2], "list")
  if l ~= false then reply:integer(l and l.n or 0) end
end)

command("lrange", 4, "readonly", function(reply, argv)
  local from, to = to_index(argv[3]), to_index(argv[4])
  if not from or not to then return reply:error(E_INT) end
  local l = of_kind(reply, argv[2], "list")
  if l == false then return end
  from, to = range_of(from, to, l and l.n or 0)
  if not from then return reply:array_header(0) end
  reply:array_header(to - from + 1)
  for i = l.first + from, l.first + to do reply:bulk(l[i]) end
end)

-- The place in l of index i (negative from the end), or nil past either end.
local function place(l, i)
  if i < 0 then i = l.n + i end
  if i < 0 or i >= l.n then return nil end
  return l.first + i
end

command("lindex", 3, "readonly", function(reply, argv)
  local l = of_kind(reply, argv[2], "list")
  if l == false then return end
  if l == nil then return reply:null() end
  local i = to_index(argv[3])
  if not i then return reply:error(E_INT) end
  local at = place(l, i)
  reply:bulk(at and l[at])
end)

command("lset", 4, "write", function(reply, argv)
  local l = of_kind(reply, argv[2], "list")
  if l == false then return end
  if l == nil then return reply:error("ERR no such key") end
  local i = to_index(argv[3])
  if not i then return reply:error(E_INT) end
  local at = place(l, i)
  if not at then return reply:error("ERR index out of range") end
  l[at] = argv[4]
  reply:ok()
end)

command("ltrim", 4, "write", function(reply, argv)
  local from, to = to_index(argv[3]), to_index(argv[4])
  if not from or not to then return reply:error(E_INT) end
  local key = argv[2]
  local l = of_kind(reply, key, "list")
  if l == false then return end
  if l == nil then return reply:ok() end
  from, to = range_of(from, to, l.n)
  if not from then
    delete(key)
    return reply:ok()
  end
  local first, last = l.first, l.first + l.n - 1
  for i = first, first + from - 1 do l[i] = nil end
  for i = first + to + 1, last do l[i] = nil end
  l.first, l.n = first + from, to - from + 1
  reply:ok()
end)

-- Keeps the elements of l whose places are not in drop, in order.
local function filter(l, drop)
  local first, last = l.first, l.first + l.n - 1
  local to = first
  for i = first, last do
    if not drop[i] then
      l[to], to = l[i], to + 1
    end
  end
  for i = to, last do l[i] = nil end
  l.n = to - first
end

-- LREM key count element: count > 0 removes the first count matches,
-- count < 0 the last -count, 0 all of them.
command("lrem", 4, "write", function(reply, argv)
  local count = to_index(argv[3])
  if not count then return reply:error(E_INT) end
  local key, v = argv[2], argv[4]
  local l = of_kind(reply, key, "list")
  if l == false then return end
  if l == nil then return reply:integer(0) end
  local from, to, step = l.first, l.first + l.n - 1, 1
  if count < 0 then from, to, step, count = to, from, -1, -count end
  local drop, found = {}, 0
  for i = from, to, step do
    if l[i] == v then
      drop[i], found = true, found + 1
      if found == count then break end
    end
  end
  if found > 0 then filter(l, drop) end
  if l.n == 0 then delete(key) end
  reply:integer(found)
end)

-- LINSERT key BEFORE|AFTER pivot element: the new length, -1 when pivot
-- is not there.
command("linsert", 5, "write", function(reply, argv)
  local where = upper(argv[3])
  if where ~= "BEFORE" and where ~= "AFTER" then return reply:error(E_SYNTAX) end
  local l = of_kind(reply, argv[2], "list")
  if l == false then return end
  if l == nil then return reply:integer(0) end
  local pivot, at = argv[4], nil
  for i = l.first, l.first + l.n - 1 do
    if l[i] == pivot then at = i break end
  end
  if not at then return reply:integer(-1) end
  if where == "AFTER" then at = at + 1 end
  for i = l.first + l.n - 1, at, -1 do l[i + 1] = l[i] end
  l[at], l.n = argv[5], l.n + 1
  reply:integer(l.n)
end)
