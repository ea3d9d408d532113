-- Allocation-heavy Lua workload: small tables, strings, closures and
-- coroutines built and dropped, with a live set that turns over, so the
-- allocator sees both churn and fragmentation.
local N = tonumber(arg and arg[1]) or 1000000

local function tables(n)
  local keep = {}
  for i = 1, n do
    local t = { i, i + 1, x = i, name = "t" }
    if i % 10 == 0 then keep[(i / 10) % 20000 + 1] = t end
  end
  return #keep
end

local function strings(n)
  local keep, parts = {}, {}
  for i = 1, n do
    local s = "key:" .. i .. ":" .. (i * 7) % 1000
    if i % 8 == 0 then keep[(i / 8) % 30000 + 1] = s end
    if i % 100 == 0 then
      parts[#parts + 1] = s
      if #parts == 64 then keep[0] = table.concat(parts, ","); parts = {} end
    end
  end
  return #keep
end

local function closures(n)
  local keep = {}
  for i = 1, n do
    local a, b = i, i * 2
    local f = function() return a + b end
    if i % 16 == 0 then keep[(i / 16) % 10000 + 1] = f end
  end
  return #keep
end

local function coroutines(n)
  local keep = {}
  for i = 1, n do
    local co = coroutine.create(function(x) local y = coroutine.yield(x + 1); return y end)
    coroutine.resume(co, i)
    if i % 4 == 0 then keep[(i / 4) % 2000 + 1] = co end
  end
  return #keep
end

local function hashes(n)
  local keep = {}
  for i = 1, n do
    local h = {}
    for k = 1, i % 12 do h["f" .. k] = k end
    if i % 5 == 0 then keep[(i / 5) % 10000 + 1] = h end
  end
  return #keep
end

local r = tables(N) + strings(N) + closures(N) + coroutines(N / 10) + hashes(N / 4)
return r
