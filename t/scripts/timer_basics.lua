-- Timers: order by time, repetition, cancel semantics, 100,000 pending.
-- Prints "RESULT <name> ok|FAIL <detail>" lines for t/timers.sh, then DONE.
local mw = require "moonwire"

local check = dofile(debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "check.lua")
local report, same = check.report, check.same

local fired = {}
for _, ms in ipairs{30, 10, 20, 0} do
  mw.after(ms, function() fired[#fired + 1] = ms end)
end

local ticks, cancel_results, tick_arg_ok = 0, nil, false
local ticker
ticker = mw.every(5, function(tm)
  ticks = ticks + 1
  tick_arg_ok = tm == ticker
  if ticks == 3 then
    cancel_results = tostring(tm:cancel()) .. tostring(tm:cancel())
  end
end)

local never = false
local doomed = mw.after(20, function() never = true end)
local doomed_cancels = tostring(doomed:cancel()) .. tostring(doomed:cancel())

local once_cancel
mw.after(1, function(tm) once_cancel = tostring(tm:cancel()) end)

local MANY = 100000
local function many_timers()
  local many_fired = 0
  for i = 1, MANY do
    mw.after(20 + i % 50, function() many_fired = many_fired + 1 end)
  end
  report("hundred_thousand_pending", mw.stats().timers == MANY, tostring(mw.stats().timers))
  local deadline = mw.now() + 5000
  while many_fired < MANY and mw.now() < deadline do mw.sleep(10) end
  same("hundred_thousand_fired", many_fired, MANY)
  same("timers_count_back_to_zero", mw.stats().timers, 0)
end

mw.go(function()
  local t0 = mw.now()
  mw.sleep(150)
  local elapsed = mw.now() - t0
  same("after_fires_in_time_order", table.concat(fired, ","), "0,10,20,30")
  same("every_repeats_until_cancelled", ticks, 3)
  same("cancel_inside_own_callback_then_again", cancel_results, "truefalse")
  report("every_passes_the_timer", tick_arg_ok)
  same("pending_after_cancel", ticker:pending(), false)
  same("cancel_before_firing_then_again", doomed_cancels, "truefalse")
  report("cancelled_timer_never_fires", not never)
  same("cancel_of_fired_one_shot_inside_it", once_cancel, "false")
  report("now_is_loop_time_in_ms", type(t0) == "number" and elapsed >= 140 and elapsed < 1000,
         tostring(elapsed))
  many_timers()
  io.stderr:write("DONE\n")
end)

return {}
