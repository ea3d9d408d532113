-- Memory of pending tasks, one kind and one N per process:
--   KIND=callback|mailbox|coroutine|sleeping N=10000 moonwire -l 127.0.0.1:0 pending.lua
-- Prints one line "RESULT kind n heap_bytes_per_task rss_bytes_per_task"
-- on stderr; bench/tasks/run.sh reads it and stops the server. Each task is
-- given a fresh closure (capturing its own i), as the original experiment did.
local mw = require "moonwire"
local KIND = os.getenv("KIND") or "callback"
local N = tonumber(os.getenv("N") or "10000")

local function rss()
  local f = assert(io.open("/proc/self/statm"))
  local _, resident = f:read("*n", "*n")
  f:close()
  return resident * 4096
end

local function measure()
  collectgarbage()
  collectgarbage()
  return mw.stats().heap_in_use, rss()
end

local make = {
  callback = function(i) mw.spawn(function() return i end) end,
  mailbox = function(i)
    mw.task{ on_message = function(self, msg) return i, msg end }:send(i)
  end,
  coroutine = function(i) mw.go(function() mw.receive(); return i end) end,
  sleeping = function(i) mw.go(function() mw.sleep(1e9); return i end) end,
}

local function report(heap0, rss0)
  local heap1, rss1 = measure()
  io.stderr:write(("RESULT %s %d %.1f %.1f tasks=%d\n"):format(KIND, N, (heap1 - heap0) / N,
    (rss1 - rss0) / N, mw.stats().tasks))
end

-- Started from the loop, so the master's check load does nothing.
mw.spawn(function()
  local create = assert(make[KIND], "KIND must be callback, mailbox, coroutine or sleeping")
  local heap0, rss0 = measure()
  for i = 1, N do create(i) end
  if KIND == "coroutine" or KIND == "sleeping" then
    mw.spawn(report, heap0, rss0) -- after every coroutine has run and parked
  else
    report(heap0, rss0)
  end
end)

return {}
