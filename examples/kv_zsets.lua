-- kv_zsets: the sorted set commands of examples/kv.lua, which runs this file
-- with its kv table. A sorted set is { kind = "zset", score = {}, sl = a
-- skip list (kv_skiplist.lua) }: each member's score, and the members in
-- order of (score, member). Scores are doubles, read as Redis reads them
-- (strtod, the whole argument) and written as it writes them (%.17g).
local kv = assert(..., "kv_zsets.lua is run by kv.lua, not on its own")
local ffi = require "ffi"
local skiplist = kv.sibling("kv_skiplist")()
local command, store, delete, of_kind = kv.command, kv.store, kv.delete, kv.of_kind
local to_index, to_count, range_of = kv.to_index, kv.to_count, kv.range_of
local byte, sub, upper, format = string.byte, string.sub, string.upper, string.format
local huge = math.huge
local E_INT, E_SYNTAX, E_POSITIVE = kv.E_INT, kv.E_SYNTAX, kv.E_POSITIVE
local E_FLOAT = "ERR value is not a valid float"
local E_NAN = "ERR resulting score is not a number (NaN)"
local E_RANGE = "ERR min or max is not a float"
local E_LEX = "ERR min or max not valid string range item"

-- ---- scores ----

ffi.cdef [[ double strtod(const char *s, char **end); ]]
local ERANGE = 34 -- Linux's
local stop = ffi.new("char *[1]")

-- strtod(s): the double at the start of s, the bytes it took, and errno.
local function strtod(s)
  local p = ffi.cast("const char *", s)
  ffi.errno(0)
  local d = ffi.C.strtod(p, stop)
  return d, tonumber(stop[0] - p), ffi.errno()
end

local function leading_space(s)
  local c = byte(s, 1)
  return c == 32 or (c ~= nil and c >= 9 and c <= 13)
end

-- A score argument as Redis takes one: all of it a double, no leading
-- space, not NaN, not too big or too small to be one; else nil.
local function to_score(s)
  local d, used, errno = strtod(s)
  if #s == 0 or used ~= #s or d ~= d or leading_space(s) then return nil end
  if errno == ERANGE and (d == huge or d == -huge or d == 0) then return nil end
  return d
end

local function score_text(d)
  if d == huge then return "inf" end
  if d == -huge then return "-inf" end
  return format("%.17g", d)
end

-- ---- one sorted set ----

local function new_zset()
  return { kind = "zset", score = {}, sl = skiplist.new() }
end

-- A zero is kept as 0, -0 too: as Redis's small sorted sets keep it.
local function insert(z, score, m)
  if score == 0 then score = 0 end
  z.score[m] = score
  skiplist.insert(z.sl, score, m)
end

local function remove(z, m)
  local score = z.score[m]
  if score == nil then return 0 end
  skiplist.delete(z.sl, score, m)
  z.score[m] = nil
  return 1
end

-- What ZADD does with one pair, given its options o: "added", "updated",
-- "same" (the score stays), "skipped" (NX, XX, GT or LT said no) or
-- "nan"; and the member's score after it.
local function zadd_one(z, score, m, o)
  local cur = z.score[m]
  if cur == nil then
    if o.xx then return "skipped" end
    insert(z, score, m)
    return "added", z.score[m]
  end
  if o.nx then return "skipped" end
  if o.incr then
    score = score + cur
    if score ~= score then return "nan" end
  end
  if (o.lt and score >= cur) or (o.gt and score <= cur) then return "skipped" end
  if score == cur then return "same", cur end
  remove(z, m)
  insert(z, score, m)
  return "updated", z.score[m]
end

-- ---- adding, scores, ranks ----

local ZADD_OPTIONS = { NX = "nx", XX = "xx", GT = "gt", LT = "lt", CH = "ch", INCR = "incr" }

-- Adds the pairs argv[from ..] (their scores already read, in scores) to
-- the set at argv[2], which is made if missing (unless XX); answers the
-- pairs added (or changed, with CH), or with INCR the new score.
local function zadd_pairs(reply, argv, from, scores, o)
  local key = argv[2]
  local z = of_kind(reply, key, "zset")
  if z == false then return end
  if z == nil then
    if o.xx and o.incr then return reply:null() end
    if o.xx then return reply:integer(0) end
    z = new_zset()
    store(key, z)
  end
  local added, changed, done, score = 0, 0, false, nil
  for i = 1, #scores do
    local what, now = zadd_one(z, scores[i], argv[from + 2 * i - 1], o)
    if what == "nan" then return reply:error(E_NAN) end
    if what == "added" then added = added + 1 end
    if what == "updated" then changed = changed + 1 end
    if what ~= "skipped" then done, score = true, now end
  end
  if o.incr then return reply:bulk(done and score_text(score) or nil) end
  reply:integer(o.ch and added + changed or added)
end

command("zadd", -4, "write fast", function(reply, argv, argc)
  local o, i = {}, 3
  while i <= argc and ZADD_OPTIONS[upper(argv[i])] do
    o[ZADD_OPTIONS[upper(argv[i])]] = true
    i = i + 1
  end
  local args = argc - i + 1
  if args == 0 or args % 2 == 1 then return reply:error(E_SYNTAX) end
  if o.nx and o.xx then
    return reply:error("ERR XX and NX options at the same time are not compatible")
  end
  if (o.gt and o.nx) or (o.lt and o.nx) or (o.gt and o.lt) then
    return reply:error("ERR GT, LT, and/or NX options at the same time are not compatible")
  end
  if o.incr and args > 2 then
    return reply:error("ERR INCR option supports a single increment-element pair")
  end
  local scores = {}
  for j = i, argc, 2 do
    local score = to_score(argv[j])
    if not score then return reply:error(E_FLOAT) end
    scores[#scores + 1] = score
  end
  zadd_pairs(reply, argv, i, scores, o)
end)

command("zincrby", 4, "write fast", function(reply, argv)
  local by = to_score(argv[3])
  if not by then return reply:error(E_FLOAT) end
  zadd_pairs(reply, argv, 3, { by }, { incr = true })
end)

command("zscore", 3, "readonly fast", function(reply, argv)
  local z = of_kind(reply, argv[2], "zset")
  if z == false then return end
  local score = z and z.score[argv[3]]
  reply:bulk(score and score_text(score))
end)

command("zmscore", -3, "readonly fast", function(reply, argv, argc)
  local z = of_kind(reply, argv[2], "zset")
  if z == false then return end
  reply:array_header(argc - 2)
  for i = 3, argc do
    local score = z and z.score[argv[i]]
    reply:bulk(score and score_text(score))
  end
end)

command("zcard", 2, "readonly fast", function(reply, argv)
  local z = of_kind(reply, argv[2], "zset")
  if z ~= false then reply:integer(z and z.sl.length or 0) end
end)

command("zrem", -3, "write fast", function(reply, argv, argc)
  local z = of_kind(reply, argv[2], "zset")
  if z == false then return end
  if z == nil then return reply:integer(0) end
  local n = 0
  for i = 3, argc do n = n + remove(z, argv[i]) end
  if z.sl.length == 0 then delete(argv[2]) end
  reply:integer(n)
end)

-- ZRANK, ZREVRANK: the 0-based rank of a member, or nil.
local function zrank(name, rev)
  command(name, 3, "readonly fast", function(reply, argv)
    local z = of_kind(reply, argv[2], "zset")
    if z == false then return end
    local score = z and z.score[argv[3]]
    if score == nil then return reply:null() end
    local r = skiplist.rank(z.sl, score, argv[3])
    reply:integer(rev and z.sl.length - r or r - 1)
  end)
end
zrank("zrank")
zrank("zrevrank", true)

-- ZPOPMIN key [count], ZPOPMAX key [count]: member, score, ... of the
-- count (default 1) lowest or highest.
local function zpop(name, max)
  command(name, -2, "write fast", function(reply, argv, argc)
    if argc > 3 then return reply:error(E_SYNTAX) end
    local count = 1
    if argc == 3 then
      count = to_count(argv[3])
      if not count then return reply:error(E_POSITIVE) end
    end
    local key = argv[2]
    local z = of_kind(reply, key, "zset")
    if z == false then return end
    if z == nil then return reply:array_header(0) end
    local sl = z.sl
    if count > sl.length then count = sl.length end
    reply:array_header(2 * count)
    for _ = 1, count do
      local x = max and sl.tail or sl.head.next[1]
      reply:bulk(x.member)
      reply:bulk(score_text(x.score))
      remove(z, x.member)
    end
    if sl.length == 0 then delete(key) end
  end)
end
zpop("zpopmin")
zpop("zpopmax", true)

-- ---- ranges ----

local PAREN, BRACKET = byte("("), byte("[")

-- One end of a score range ("(" before it: exclusive) as a test of a node:
-- above the lower end, or below the upper; nil if s is not a float.
local function score_end(s, lower)
  local ex = byte(s, 1) == PAREN
  local text = ex and sub(s, 2) or s
  local d, used = strtod(text)
  if d ~= d or (used < #text and byte(text, used + 1) ~= 0) then return nil end
  if lower then
    if ex then return function(x) return x.score > d end end
    return function(x) return x.score >= d end
  end
  if ex then return function(x) return x.score < d end end
  return function(x) return x.score <= d end
end

-- One end of a lex range ("-", "+", "[member" or "(member") as a test of a
-- node (see score_end); nil if s is not one.
local function lex_end(s, lower)
  if s == "-" then return function() return lower end end
  if s == "+" then return function() return not lower end end
  local c, v = byte(s, 1), sub(s, 2)
  if c == PAREN then
    if lower then return function(x) return x.member > v end end
    return function(x) return x.member < v end
  elseif c == BRACKET then
    if lower then return function(x) return x.member >= v end end
    return function(x) return x.member <= v end
  end
  return nil
end

-- The range of argv[lo], argv[hi] as by ("score" or "lex") reads it:
-- { above =, below = } tests of a node; or nil and the error.
local function range_at(argv, lo, hi, by)
  local read = by == "score" and score_end or lex_end
  local above, below = read(argv[lo], true), read(argv[hi], false)
  if not above or not below then return nil, by == "score" and E_RANGE or E_LEX end
  return { above = above, below = below }
end

local function step(x, rev)
  if rev then return x.back end
  return x.next[1]
end

-- The nodes of z from 0-based rank from to rank to (counted from the
-- highest when rev).
local function by_rank(z, from, to, rev)
  local sl, out = z.sl, {}
  from, to = range_of(from, to, sl.length)
  if not from then return out end
  local x = skiplist.at_rank(sl, rev and sl.length - from or from + 1)
  for i = 1, to - from + 1 do
    out[i], x = x, step(x, rev)
  end
  return out
end

-- The nodes of z in range r (from the highest when rev), offset of them
-- skipped and limit taken (negative: all).
local function in_range(z, r, rev, offset, limit)
  local sl, out = z.sl, {}
  if offset < 0 or (offset > 0 and offset >= sl.length) then return out end
  local x = (rev and skiplist.last_in or skiplist.first_in)(sl, r.above, r.below)
  for _ = 1, offset do x = x and step(x, rev) end
  local inside = rev and r.above or r.below
  while x and limit ~= 0 and inside(x) do
    out[#out + 1], limit = x, limit - 1
    x = step(x, rev)
  end
  return out
end

local function reply_nodes(reply, nodes, withscores)
  reply:array_header(withscores and 2 * #nodes or #nodes)
  for _, x in ipairs(nodes) do
    reply:bulk(x.member)
    if withscores then reply:bulk(score_text(x.score)) end
  end
end

-- The options of a range command after key, min, max: a table of them, or
-- nil and the error. BYSCORE, BYLEX and REV are ZRANGE's alone (general).
local function range_options(argv, argc, o, general)
  local i = 5
  while i <= argc do
    local opt = upper(argv[i])
    if opt == "WITHSCORES" then
      o.withscores = true
    elseif opt == "LIMIT" and i + 2 <= argc then
      o.offset, o.limit = to_index(argv[i + 1]), to_index(argv[i + 2])
      if not o.offset or not o.limit then return nil, E_INT end
      i = i + 2
    elseif general and not o.by and (opt == "BYSCORE" or opt == "BYLEX") then
      o.by = opt == "BYSCORE" and "score" or "lex"
    elseif general and not o.rev and opt == "REV" then
      o.rev = true
    else
      return nil, E_SYNTAX
    end
    i = i + 1
  end
  if not o.by and ((o.offset or 0) ~= 0 or (o.limit or -1) ~= -1) then
    return nil, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE"
      .. " or BYLEX"
  end
  if o.withscores and o.by == "lex" then
    return nil, "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
  end
  return o
end

-- ZRANGE key min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
-- [WITHSCORES], and the older forms, each a preset of it (by, rev).
local function zrange(name, by, rev)
  command(name, -4, "readonly", function(reply, argv, argc)
    local o, err = range_options(argv, argc, { by = by, rev = rev }, name == "zrange")
    if not o then return reply:error(err) end
    local lo, hi = 3, 4
    if o.rev and o.by then lo, hi = 4, 3 end
    local r, from, to
    if o.by then
      r, err = range_at(argv, lo, hi, o.by)
      if not r then return reply:error(err) end
    else
      from, to = to_index(argv[3]), to_index(argv[4])
      if not from or not to then return reply:error(E_INT) end
    end
    local z = of_kind(reply, argv[2], "zset")
    if z == false then return end
    if z == nil then return reply:array_header(0) end
    local nodes = r and in_range(z, r, o.rev, o.offset or 0, o.limit or -1)
      or by_rank(z, from, to, o.rev)
    reply_nodes(reply, nodes, o.withscores)
  end)
end
zrange("zrange")
zrange("zrevrange", nil, true)
zrange("zrangebyscore", "score")
zrange("zrevrangebyscore", "score", true)
zrange("zrangebylex", "lex")
zrange("zrevrangebylex", "lex", true)

-- ZCOUNT key min max, ZLEXCOUNT key min max: the members in the range.
local function zcount(name, by)
  command(name, 4, "readonly fast", function(reply, argv)
    local r, err = range_at(argv, 3, 4, by)
    if not r then return reply:error(err) end
    local z = of_kind(reply, argv[2], "zset")
    if z == false then return end
    local sl = z and z.sl
    local first = sl and skiplist.first_in(sl, r.above, r.below)
    if not first then return reply:integer(0) end
    local last = skiplist.last_in(sl, r.above, r.below)
    reply:integer(skiplist.rank(sl, last.score, last.member)
      - skiplist.rank(sl, first.score, first.member) + 1)
  end)
end
zcount("zcount", "score")
zcount("zlexcount", "lex")

-- ZREMRANGEBYRANK key start stop, ZREMRANGEBYSCORE and ZREMRANGEBYLEX key
-- min max: the members removed.
local function zremrange(name, by)
  command(name, 4, "write", function(reply, argv)
    local r, from, to, err
    if by then
      r, err = range_at(argv, 3, 4, by)
      if not r then return reply:error(err) end
    else
      from, to = to_index(argv[3]), to_index(argv[4])
      if not from or not to then return reply:error(E_INT) end
    end
    local z = of_kind(reply, argv[2], "zset")
    if z == false then return end
    if z == nil then return reply:integer(0) end
    local nodes = r and in_range(z, r, false, 0, -1) or by_rank(z, from, to, false)
    for _, x in ipairs(nodes) do remove(z, x.member) end
    if z.sl.length == 0 then delete(argv[2]) end
    reply:integer(#nodes)
  end)
end
zremrange("zremrangebyrank")
zremrange("zremrangebyscore", "score")
zremrange("zremrangebylex", "lex")
