-- Prints every name of the Lua API, one per line on stderr, for t/apidoc.sh:
-- mw.* functions and fields, conn:/task:/timer: methods, mw.metrics and the
-- counter:/gauge:/histogram: methods, and the resp and
-- http modules' functions (reply: methods of resp's reply objects).
local mw = require "moonwire"
local resp = require "moonwire.resp"
local http = require "moonwire.http"

local function put(prefix, t, only_functions)
  for k, v in pairs(t) do
    if type(k) == "string" and (not only_functions or type(v) == "function")
        and not k:match("^__") then
      io.stderr:write("NAME ", prefix, k, "\n")
    end
  end
end

-- The methods behind an object's __index: a table, or a C function's first upvalue.
local function methods(obj)
  local index = getmetatable(obj).__index
  if type(index) == "table" then return index end
  local _, t = debug.getupvalue(index, 1)
  return t
end

put("mw.", mw)
local task = mw.task{ on_message = function() end }
put("task:", methods(task), true)
local timer = mw.after(60000, function() end)
put("timer:", methods(timer), true)
timer:cancel()
local conn = mw.connect("127.0.0.1", 9, {})
put("conn:", methods(conn), true)
conn:close()
put("mw.metrics.", mw.metrics, true)
put("counter:", methods(mw.metrics.counter("api_names_total", "A counter.")), true)
put("gauge:", methods(mw.metrics.gauge("api_names", "A gauge.")), true)
put("histogram:", methods(mw.metrics.histogram("api_names_seconds", "A histogram.", {1})), true)
put("resp.", resp, true)
put("reply:", resp.Reply, true)
put("http.", http, true)
return {}
