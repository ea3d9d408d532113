-- A top level that takes longer than --timeout on purpose, and says so with
-- mw.deadline: it loads. For t/load_deadline.sh.
jit.off(true, true)
local mw = require "moonwire"
mw.deadline(20000)
local started = os.clock()
while os.clock() - started < 0.4 do
end
return {
    on_data = function(conn, data)
        conn:write(data)
    end,
}
