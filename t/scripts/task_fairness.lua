-- Tasks that never stop asking for more time: a callback task that spawns
-- itself, a coroutine that yields, a mailbox that mails itself. Sockets and
-- timers must still be served. For t/tasks.sh.
local mw = require "moonwire"

local spins = 0
local function spin() spins = spins + 1; mw.spawn(spin) end
mw.spawn(spin)

mw.go(function() while true do coroutine.yield() end end)
mw.go(function() while true do mw.sleep(0) end end)

local echo = mw.task{ on_message = function(self, n) self:send(n + 1) end }
echo:send(0)

mw.after(50, function()
  io.stderr:write(("timer fired while busy (after %d spins)\n"):format(spins))
end)

return {
  on_data = function(conn, data)
    conn:write(data)
  end,
}
