-- Tasks: ordering, batches, mailboxes, coroutine tasks, receive timeouts.
-- Prints "RESULT <name> ok|FAIL <detail>" lines for t/tasks.sh, then DONE.
local mw = require "moonwire"

local check = dofile(debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "check.lua")
local report, same = check.report, check.same

local function wait_until(cond, ms)
  local deadline = mw.now() + (ms or 2000)
  while not cond() and mw.now() < deadline do mw.sleep(1) end
  return cond()
end

-- Callback tasks: in order; a spawn inside a task runs after the batch.
local order = {}
mw.spawn(function() order[#order + 1] = "A"; mw.spawn(function() order[#order + 1] = "C" end) end)
mw.spawn(function() order[#order + 1] = "B" end)
local ran_at_load = #order
local args_seen
mw.spawn(function(...) args_seen = select("#", ...) .. ":" .. tostring((select(2, ...))) ..
  ":" .. tostring((select(3, ...))) end, 1, nil, 3)

-- Mailbox: in order, one at a time, its table is its state.
local inside, nested, received = false, false, {}
local stops = {}
local box = mw.task{
  count = 0,
  on_message = function(self, msg)
    if inside then nested = true end
    inside = true
    self.count = self.count + 1
    received[#received + 1] = msg
    if msg == 1 then self:send("from inside") end
    inside = false
  end,
  on_stop = function(self, reason) stops[#stops + 1] = reason end,
}
for i = 1, 100 do box:send(i) end

local function mailbox_checks()
  same("mailbox_order", table.concat(received, ",", 1, 5), "1,2,3,4,5")
  same("mailbox_all_delivered", box.count, 101)
  same("mailbox_sent_from_inside_is_last", received[101], "from inside")
  report("mailbox_one_at_a_time", not nested)
  same("stop_returns_true_then_false", tostring(box:stop()) .. tostring(box:stop()), "truefalse")
  local ok, err = pcall(function() box:send("late") end)
  report("send_to_stopped_is_error", not ok and err:find("is stopped", 1, true) ~= nil, err)
  same("alive_after_stop", box:alive(), false)
end

local function coroutine_checks()
  local finished = {}
  mw.go(function(name, ms) mw.sleep(ms); finished[#finished + 1] = name end, "slow", 30)
  mw.go(function(name, ms) mw.sleep(ms); finished[#finished + 1] = name end, "fast", 5)
  wait_until(function() return #finished == 2 end)
  same("sleep_order", table.concat(finished, ","), "fast,slow")

  local log = {}
  local me
  local t = mw.go(function()
    me = mw.self()
    log[#log + 1] = table.concat({mw.receive()}, "/")
    log[#log + 1] = table.concat({tostring(mw.receive())}, "/")
    local v, why = mw.receive(20)
    log[#log + 1] = tostring(v) .. "/" .. tostring(why)
    v, why = mw.self():receive(0)
    log[#log + 1] = tostring(v) .. "/" .. tostring(why)
    log[#log + 1] = tostring(mw.receive(500))
    coroutine.yield("ignored")
    log[#log + 1] = "after yield"
  end)
  t:send("m1"); t:send("m2")
  mw.after(60, function() t:send("late") end)
  wait_until(function() return not t:alive() end)
  same("receive_in_order_then_timeout", table.concat(log, ","),
       "m1,m2,nil/timeout,nil/timeout,late,after yield")
  report("self_is_the_task", me == t)

  local ok, err = pcall(function() t:receive() end)
  report("receive_of_another_task_is_error", not ok and err:find("not the running", 1, true), err)

  local woke = false
  local sleeper = mw.go(function() mw.sleep(30); woke = true end)
  mw.sleep(5)
  same("stop_from_outside", sleeper:stop(), true)
  mw.sleep(60)
  report("stopped_sleeper_never_wakes", not woke and not sleeper:alive())

  local after_stop = false
  local quitter = mw.go(function() mw.self():stop(); after_stop = true end)
  mw.sleep(5)
  report("self_stop_ends_at_once", not after_stop and not quitter:alive())

  local early = mw.go(function() return mw.receive(1000) end)
  early:send("quick")
  local t0 = mw.now()
  wait_until(function() return not early:alive() end)
  report("message_before_timeout_cancels_it", mw.now() - t0 < 500, tostring(mw.now() - t0))
end

mw.go(function()
  same("spawn_waits_for_loop", ran_at_load, 0)
  same("spawn_inside_a_batch_waits_for_the_next", table.concat(order, ""), "AB")
  mw.sleep(0)
  same("spawn_order_and_batches", table.concat(order, ""), "ABC")
  same("spawn_arguments_with_nil", args_seen, "3:nil:3")
  wait_until(function() return box.count == 101 end)
  mailbox_checks()
  mw.sleep(1)
  same("on_stop_once_with_reason", table.concat(stops, ","), "stopped")
  coroutine_checks()
  io.stderr:write("DONE\n")
end)

-- mw.sleep from a plain callback is an error.
mw.spawn(function()
  local ok, err = pcall(mw.sleep, 1)
  report("sleep_in_callback_task_is_error",
         not ok and err:find("not called from a coroutine task", 1, true), err)
  report("self_outside_a_task_is_nil", mw.self() == nil)
end)

return {}
