-- A configuration file (moonwire -c examples/moonwire.conf.lua): one server,
-- three protocols, each listener with its own script. Relative paths are
-- relative to this file; the command line overrides what is set here.
--   redis-cli -p 6380 set k v       curl http://127.0.0.1:8080/
--   echo hi | nc -q1 127.0.0.1 7000
return {
  workers = "auto",
  timeout = 5000,           -- ms each call into Lua may take
  shutdown_timeout = 10,    -- s a stopping worker keeps serving
  memory_limit = "256M",    -- Lua heap per worker
  log = { level = "info", format = "text" },
  listen = {
    { addr = "127.0.0.1:6380", script = "kv.lua" },
    { addr = "127.0.0.1:8080", script = "http.lua" },
    { addr = "127.0.0.1:7000", script = "echo.lua" },
  },
}
