-- A task's memory is given back when it ends: after 100,000 tasks of each
-- kind (and timers) come and go, the heap's bytes in use are where they
-- started. For t/tasks.sh.
local mw = require "moonwire"
local N = 100000
if os.getenv("MW_TEST_JIT_OFF") then jit.off() end

-- Compiled traces are heap objects too; they are not the tasks' memory.
local function heap()
  jit.flush()
  collectgarbage()
  collectgarbage()
  return mw.stats().heap_in_use
end

local function wait_until(cond)
  while not cond() do mw.sleep(1) end
end

-- Made in chunks that yield between them: each slice of the driver stays
-- far below the deadline of an entry into Lua.
local function chunked(make)
  for i = 1, N do
    make(i)
    if i % 1000 == 0 then mw.sleep(0) end
  end
end

local function round()
  local done = 0
  local function finish() done = done + 1 end
  chunked(function(i) mw.spawn(function() done = done + i - i + 1 end) end)
  chunked(function(i) mw.spawn(finish, i, "x") end)
  chunked(function()
    local t = mw.task{ on_message = function(self) finish(); self:stop() end }
    t:send({})
  end)
  local waiting = {}
  chunked(function(i) waiting[i] = mw.go(function() finish(); mw.receive(); finish() end) end)
  chunked(function(i) mw.after(i % 7, finish) end)
  wait_until(function() return done >= 5 * N end)
  chunked(function(i) waiting[i]:send(i) end)
  waiting = nil
  wait_until(function() return done >= 6 * N and mw.stats().tasks == 1 end)
end

mw.go(function()
  round() -- warms up: strings interned and tables grown once stay
  local before = heap()
  round()
  local middle = heap()
  round()
  local after = heap()
  io.stderr:write(("heap in use: %d before, %d after one round, %d after two\n")
    :format(before, middle, after))
  -- With the JIT off the figures are equal to the byte; with it on, its own
  -- bookkeeping (which jit.flush keeps) may grow by a few bytes a round.
  local slack = jit.status() and 1024 or 0
  io.stderr:write(("RESULT heap_returns %s %d\n"):format(
    (math.abs(after - before) <= slack and math.abs(middle - before) <= slack) and "ok" or "FAIL",
    after - before))
  io.stderr:write(("RESULT counts_return_to_zero %s tasks=%d timers=%d\n"):format(
    (mw.stats().tasks == 1 and mw.stats().timers == 0) and "ok" or "FAIL",
    mw.stats().tasks, mw.stats().timers))
  io.stderr:write("DONE\n")
end)

return {}
