-- Errors in tasks, messages and timers end only what raised them; wrong
-- arguments and handles are clear Lua errors. For t/tasks.sh.
local mw = require "moonwire"

local report = dofile(debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "check.lua").report

local function raises(name, fn, text)
  local ok, err = pcall(fn)
  report(name, not ok and tostring(err):find(text, 1, true) ~= nil, tostring(err))
end

mw.spawn(function() error("spawn boom") end)
mw.go(function() mw.sleep(1); error("go boom") end)
mw.go(function() error({}) end)
mw.after(1, function() error("after boom") end)
local every_runs = 0
mw.every(5, function() every_runs = every_runs + 1; error("every boom") end)

local stopped_with
local faulty = mw.task{
  on_message = function(self, msg) if msg == "boom" then error("message boom") end end,
  on_stop = function(self, reason) stopped_with = reason end,
}
faulty:send("fine")
faulty:send("boom")
faulty:send("never delivered")

local survivor_got = {}
local survivor = mw.task{ on_message = function(self, msg) survivor_got[#survivor_got + 1] = msg end }

raises("spawn_needs_a_function", function() mw.spawn(42) end,
       "bad argument #1 to 'spawn' (function expected, got number)")
raises("task_needs_on_message", function() mw.task{} end,
       "bad argument #1 to 'task' (field 'on_message' must be a function)")
raises("after_rejects_negative_time", function() mw.after(-1, print) end,
       "bad argument #1 to 'after' (must not be negative)")
raises("every_rejects_zero_interval", function() mw.every(0, print) end,
       "bad argument #1 to 'every' (interval must be positive)")
raises("go_needs_a_function", function() mw.go("x") end,
       "bad argument #1 to 'go' (function expected, got string)")
local tm = mw.after(1000, print)
raises("a_timer_is_not_a_task", function() survivor.send(tm, 1) end,
       "bad argument #1 to 'send' (task expected, got timer)")
raises("a_task_is_not_a_timer", function() tm.cancel(survivor) end,
       "bad argument #1 to 'cancel' (timer expected, got task)")
tm:cancel()

mw.go(function()
  mw.sleep(50)
  report("message_error_stops_that_task", stopped_with == "error" and not faulty:alive(),
         tostring(stopped_with))
  raises("send_after_error_is_error", function() faulty:send(1) end, "is stopped")
  report("repeating_timer_cancelled_after_error", every_runs == 1, tostring(every_runs))
  survivor:send("still here")
  mw.sleep(1)
  report("other_tasks_keep_running", survivor_got[1] == "still here")
  report("all_ended_tasks_are_counted_out", mw.stats().tasks == 2, tostring(mw.stats().tasks))
  io.stderr:write("DONE\n")
end)

return {}
