-- A top level that never finishes: a loop LuaJIT compiles, which no hook
-- reaches; only --grace (or the check's limit) ends it. For t/load_deadline.sh.
local mw = require "moonwire"
mw.log("info", "top level: spinning")
while true do
end
return {}
