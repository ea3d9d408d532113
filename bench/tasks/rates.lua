-- Speed of tasks on one core (processor time):
--   M=1000000 moonwire -l 127.0.0.1:0 rates.lua
-- Prints "RATE <what> <per second>" lines on stderr, then "DONE";
-- bench/tasks/run.sh reads them and stops the server.
local mw = require "moonwire"
local M = tonumber(os.getenv("M") or "1000000")

-- Processor time of this process: the machine may be shared, and what is
-- measured is what one core does.
local now = os.clock

local function rate(what, count, seconds)
  io.stderr:write(("RATE %s %.0f\n"):format(what, count / seconds))
end

local steps = {}
local function next_step()
  local step = table.remove(steps, 1)
  if step then mw.spawn(step) else io.stderr:write("DONE\n") end
end

-- mw.spawn: each task a fresh closure; spawned, then run by the loop.
steps[#steps + 1] = function()
  local done = 0
  collectgarbage()
  local t0 = now()
  for _ = 1, M do mw.spawn(function() done = done + 1 end) end
  local t1 = now()
  mw.spawn(function()
    local t2 = now()
    assert(done == M)
    rate("spawn", M, t1 - t0)
    rate("spawn_and_run", M, t2 - t0)
    rate("run_spawned", M, t2 - t1)
    next_step()
  end)
end

-- mw.spawn at a steady pace: batches of 1,000 that the loop runs between
-- them, so the memory they use is reused rather than faulted in fresh.
steps[#steps + 1] = function()
  mw.go(function()
    local batch, spent, done = 1000, 0, 0
    collectgarbage()
    local t0 = now()
    for _ = 1, M / batch do
      local t1 = now()
      for _ = 1, batch do mw.spawn(function() done = done + 1 end) end
      spent = spent + now() - t1
      mw.sleep(0)
    end
    rate("spawn_steady", done, spent)
    rate("spawn_and_run_steady", done, now() - t0)
    next_step()
  end)
end

-- mw.go: coroutine tasks that start, return and are gone.
steps[#steps + 1] = function()
  local done = 0
  collectgarbage()
  local t0 = now()
  for _ = 1, M do mw.go(function() done = done + 1 end) end
  local t1 = now()
  mw.spawn(function()
    local t2 = now()
    assert(done == M)
    rate("go", M, t1 - t0)
    rate("go_and_run", M, t2 - t0)
    next_step()
  end)
end

-- t:send to one mailbox task: sent, then delivered one on_message each.
steps[#steps + 1] = function()
  local t0
  local box = mw.task{ on_message = function(self, n)
    if n == M then
      local t2 = now()
      rate("mailbox_messages", M, t2 - t0)
      self:stop()
      next_step()
    end
  end }
  collectgarbage()
  t0 = now()
  for i = 1, M do box:send(i) end
  rate("send", M, now() - t0)
end

-- t:send to a coroutine task that loops on mw.receive().
steps[#steps + 1] = function()
  local t0
  local co = mw.go(function()
    while true do
      if mw.receive() == M then break end
    end
    rate("coroutine_messages", M, now() - t0)
    next_step()
  end)
  collectgarbage()
  t0 = now()
  for i = 1, M do co:send(i) end
end

-- Ping-pong between two coroutine tasks: each message wakes the other.
steps[#steps + 1] = function()
  local rounds = M / 10
  local t0 = now()
  local pong = mw.go(function()
    while true do
      local peer, n = unpack(mw.receive())
      peer:send(n)
      if n == rounds then return end
    end
  end)
  mw.go(function()
    local me = mw.self()
    for n = 1, rounds do
      pong:send({me, n})
      mw.receive()
    end
    rate("ping_pong_round_trips", rounds, now() - t0)
    next_step()
  end)
end

mw.spawn(next_step)
return {}
