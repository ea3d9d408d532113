-- Loops LuaJIT compiles into traces, where no hook runs: only --grace ends
-- them, by ending the worker. For t/deadline_grace.sh.
local mw = require "moonwire"

local function add(a, b)
    return a + b
end

local commands = {}

function commands.compiled()
    mw.log("info", "START compiled")
    local x = 0
    while true do
        x = x + 1
    end
end

-- add is inlined into the loop's trace: no call ever leaves it.
function commands.inlined()
    mw.log("info", "START inlined")
    local x = 0
    while true do
        x = add(x, 1)
    end
end

function commands.who(conn)
    conn:write("worker ", tostring(mw.worker_id()), "\n")
end

return {
    framing = "line",
    on_data = function(conn, line)
        local command = commands[line]
        if command then
            return command(conn)
        end
        conn:write(line, "\n")
    end,
}
