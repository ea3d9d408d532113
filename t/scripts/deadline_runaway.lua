-- Handlers that run too long, one per command line, for t/deadline.sh.
-- Each logs "START name" as it begins, so the test can time the raise.
local mw = require "moonwire"

local function interpreted_spin()
    local x = 0
    while true do
        x = x + 1 -- LINE interpreted
    end
end
jit.off(interpreted_spin)

local function cfunc_spin()
    local s
    for i = 1, math.huge do
        s = tostring(i) -- LINE cfunc
    end
    return s
end

-- Busy for ms, interpreted, then returns.
local function busy(ms)
    local stop = os.clock() + ms / 1000
    while os.clock() < stop do
    end
end
jit.off(busy)

local function start(name)
    mw.log("info", "START " .. name)
end

local commands = {}

function commands.interpreted()
    start("interpreted")
    interpreted_spin()
end

function commands.cfunc()
    start("cfunc")
    cfunc_spin()
end

function commands.swallow(conn)
    start("swallow")
    for _ = 1, 3 do
        pcall(interpreted_spin)
    end
    conn:write("swallowed\n")
end

function commands.shorter()
    mw.deadline(50)
    start("shorter")
    interpreted_spin()
end

function commands.none(conn)
    mw.deadline(0)
    busy(400)
    conn:write("survived ", tostring(mw.deadline()), "\n")
end

function commands.left(conn)
    conn:write(tostring(mw.deadline()), "\n")
end

function commands.timer(conn)
    mw.after(10, function()
        start("timer")
        interpreted_spin()
    end)
    conn:write("timer set\n")
end

function commands.go(conn)
    mw.go(function()
        mw.sleep(10)
        start("go")
        interpreted_spin()
    end)
    conn:write("go started\n")
end

function commands.busy(conn)
    busy(400)
    conn:write("done\n")
end

function commands.stats(conn)
    local s = mw.stats()
    conn:write(tostring(s.deadline_hits), " ", tostring(s.tasks), " ", tostring(s.timers), "\n")
end

return {
    framing = "line",
    timeout = tonumber(os.getenv("MW_TEST_HANDLER_TIMEOUT")),
    on_data = function(conn, line)
        local command = commands[line]
        if command then
            return command(conn)
        end
        conn:write(line, "\n")
    end,
    on_close = function(conn, reason)
        mw.log("info", "CLOSED " .. conn.id .. " " .. reason)
    end,
}
