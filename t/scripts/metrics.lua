-- The script of t/metrics_lua.sh: one metric of each kind, declared at the
-- top level, moved there once per worker (so that a scrape shows the sum of
-- both workers at once) and by the commands of a line protocol.
local mw = require "moonwire"
local metrics = mw.metrics

local loads = metrics.counter("app_loads_total", "Top levels run, by worker.", {"worker"})
local lines = metrics.counter("app_lines_total", "Lines read.")
local requests = metrics.counter("app_requests_total", "Labelled commands, by label.", {"command"})
local workers = metrics.gauge("app_workers_up", "Workers up: each sets 1, the sum counts them.")
local open = metrics.gauge("app_open_connections", "Connections open in the handler.")
local delay = metrics.histogram("app_worker_id", "Worker ids observed at load.", {0.5, 1.5})
local sizes = metrics.histogram("app_label_bytes", "Label sizes.", {2, 8, math.huge}, {"command"})

loads:inc(1, {worker = tostring(mw.worker_id())})
loads:inc(1, {worker = "all"})
workers:set(1)
delay:observe(mw.worker_id())

-- Each command answers "ok", or the error its metrics raised.
local commands = {}

-- label VALUE: a command counted under its label value, and its size
function commands.label(value)
  requests:inc(1, {command = value})
  sizes:observe(#value, {command = "label"})
end

-- ping: only the line is counted
function commands.ping() end

-- many N: N new label combinations (past the limit: the error)
function commands.many(n)
  for i = 1, tonumber(n) do requests:inc(1, {command = "many" .. i}) end
end

-- declare: a metric declared after the top level (an error)
function commands.declare()
  metrics.counter("app_late_total", "Too late.")
end

-- wrong: labels the metric does not have (an error)
function commands.wrong()
  requests:inc(1, {verb = "x"})
end

return {
  framing = "line",
  on_connect = function() open:inc() end,
  on_close = function() open:dec() end,
  on_data = function(conn, line)
    local name, arg = line:match("^(%S+)%s*(.*)$")
    local command = commands[name]
    if not command then return conn:write("unknown\n") end
    lines:inc()
    local ok, err = pcall(command, arg)
    conn:write(ok and "ok" or tostring(err), "\n")
  end,
}
