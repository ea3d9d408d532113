-- A task's memory is given back when it ends: after 100,000 tasks of each
-- kind (and timers) come and go, the heap's bytes in use are where they
-- started. For t/tasks.sh.
local mw = require "moonwire"
local N = 100000

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

local function round()
  local done = 0
  local function finish() done = done + 1 end
  for i = 1, N do mw.spawn(function() done = done + i - i + 1 end) end
  for i = 1, N do mw.spawn(finish, i, "x") end
  for _ = 1, N do
    local t = mw.task{ on_message = function(self) finish(); self:stop() end }
    t:send({})
  end
  local waiting = {}
  for i = 1, N do
    waiting[i] = mw.go(function() finish(); mw.receive(); finish() end)
  end
  for i = 1, N do mw.after(i % 7, finish) end
  wait_until(function() return done >= 5 * N end)
  for i = 1, N do waiting[i]:send(i) end
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
  io.stderr:write(("RESULT heap_returns %s %d\n"):format(
    (after == before and middle == before) and "ok" or "FAIL", after - before))
  io.stderr:write(("RESULT counts_return_to_zero %s tasks=%d timers=%d\n"):format(
    (mw.stats().tasks == 1 and mw.stats().timers == 0) and "ok" or "FAIL",
    mw.stats().tasks, mw.stats().timers))
  io.stderr:write("DONE\n")
end)

return {}
