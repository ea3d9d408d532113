-- Loads a module from the project's lua/ directory and one from LUA_PATH.
local hexdump = require "moonwire.hexdump"
local ok, user = pcall(require, "mw_user_module")
return {
  on_data = function(conn, data)
    conn:write(hexdump(data), "\n", ok and user.greeting or "no user module", "\n")
    conn:close()
  end,
}
