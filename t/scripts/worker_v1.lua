-- Reload tests: echoes, and answers "version" with the script's version
-- and the worker that runs it.
local mw = require "moonwire"
local VERSION = "v1"
return {
  on_data = function(conn, data)
    if data == "version\n" then
      conn:write(VERSION, " worker ", mw.worker_id(), "\n")
    else
      conn:write(data)
    end
  end,
}
