-- A serve coroutine that computes between reads, for t/deadline.sh: each
-- slice between two reads runs under the handler's timeout.
local mw = require "moonwire"

local function compute()
    local x = 0
    while true do
        x = x + 1 -- a runaway computation
    end
end
jit.off(compute)

return {
    timeout = 200,
    serve = function(conn)
        while true do
            local line = conn:read_line()
            if not line then
                return
            end
            if line == "compute" then
                mw.log("info", "START serve")
                compute()
            end
            conn:write(line, "\n")
        end
    end,
    on_close = function(conn, reason)
        mw.log("info", "CLOSED " .. conn.id .. " " .. reason)
    end,
}
