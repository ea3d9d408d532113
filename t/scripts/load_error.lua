-- A script that fails while it runs, before returning its handler.
local config = nil
if not config then error("cannot start: no config") end
return {}
