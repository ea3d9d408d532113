-- kv_skiplist: the order of a sorted set of examples/kv.lua (kv_zsets.lua
-- loads it), Redis's own structure: a skip list by (score, member), members
-- compared byte by byte, each link knowing how many nodes it jumps (its
-- span), so that a node's rank and the node at a rank are found in log n.
-- A node is { score =, member =, back = the node before, next = {}, span = {} }.
local random = math.random

local MAX_LEVEL, P = 32, 0.25

local M = {}

function M.new()
  return { head = { next = {}, span = { 0 } }, level = 1, length = 0, tail = nil }
end

local function before(s1, m1, s2, m2)
  return s1 < s2 or (s1 == s2 and m1 < m2)
end

local function random_level()
  local level = 1
  while level < MAX_LEVEL and random() < P do level = level + 1 end
  return level
end

-- The last node before (score, member) on each level, and the rank of each.
local function path(sl, score, member)
  local update, rank, x = {}, {}, sl.head
  for i = sl.level, 1, -1 do
    rank[i] = i == sl.level and 0 or rank[i + 1]
    local nx = x.next[i]
    while nx and before(nx.score, nx.member, score, member) do
      rank[i] = rank[i] + x.span[i]
      x, nx = nx, nx.next[i]
    end
    update[i] = x
  end
  return update, rank
end

-- Inserts (score, member), which must not be in sl.
function M.insert(sl, score, member)
  local update, rank = path(sl, score, member)
  local level = random_level()
  for i = sl.level + 1, level do
    rank[i], update[i] = 0, sl.head
    sl.head.span[i] = sl.length
  end
  if level > sl.level then sl.level = level end
  local node = { score = score, member = member, next = {}, span = {} }
  for i = 1, level do
    local u = update[i]
    node.next[i], u.next[i] = u.next[i], node
    node.span[i] = u.span[i] - (rank[1] - rank[i])
    u.span[i] = rank[1] - rank[i] + 1
  end
  for i = level + 1, sl.level do update[i].span[i] = update[i].span[i] + 1 end
  node.back = update[1] ~= sl.head and update[1] or nil
  if node.next[1] then node.next[1].back = node else sl.tail = node end
  sl.length = sl.length + 1
end

-- Deletes (score, member), which must be in sl.
function M.delete(sl, score, member)
  local update = path(sl, score, member)
  local x = update[1].next[1]
  for i = 1, sl.level do
    local u = update[i]
    if u.next[i] == x then
      u.span[i] = u.span[i] + x.span[i] - 1
      u.next[i] = x.next[i]
    else
      u.span[i] = u.span[i] - 1
    end
  end
  if x.next[1] then x.next[1].back = x.back else sl.tail = x.back end
  while sl.level > 1 and sl.head.next[sl.level] == nil do sl.level = sl.level - 1 end
  sl.length = sl.length - 1
end

-- The 1-based rank of (score, member), which must be in sl.
function M.rank(sl, score, member)
  local rank, x = 0, sl.head
  for i = sl.level, 1, -1 do
    local nx = x.next[i]
    while nx and not before(score, member, nx.score, nx.member) do
      rank = rank + x.span[i]
      x, nx = nx, nx.next[i]
    end
    if x.member == member then return rank end
  end
  return rank
end

-- The node of 1-based rank r, or nil.
function M.at_rank(sl, r)
  local traversed, x = 0, sl.head
  for i = sl.level, 1, -1 do
    while x.next[i] and traversed + x.span[i] <= r do
      traversed = traversed + x.span[i]
      x = x.next[i]
    end
    if traversed == r then return x end
  end
  return nil
end

-- The first node in a range, where above_min(node) and below_max(node)
-- say whether a node is past its lower and within its upper bound (each
-- true from some node on, resp. up to some node, in the list's order).
function M.first_in(sl, above_min, below_max)
  local x = sl.head
  for i = sl.level, 1, -1 do
    while x.next[i] and not above_min(x.next[i]) do x = x.next[i] end
  end
  x = x.next[1]
  if x and below_max(x) then return x end
  return nil
end

-- The last node in a range (see first_in).
function M.last_in(sl, above_min, below_max)
  local x = sl.head
  for i = sl.level, 1, -1 do
    while x.next[i] and below_max(x.next[i]) do x = x.next[i] end
  end
  if x ~= sl.head and above_min(x) then return x end
  return nil
end

return M
