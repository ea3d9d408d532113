-- A TCP proxy: every client is connected to the upstream given in
-- MW_UPSTREAM (host:port, [v6]:port or unix:PATH). Backpressure both ways:
-- when one side has more than high_water bytes queued, the core stops
-- reading it, and this handler pauses the other side too until on_drain.
--   MW_UPSTREAM=127.0.0.1:6379 moonwire -l 127.0.0.1:7000 examples/proxy.lua
local mw = require "moonwire"

local upstream = os.getenv("MW_UPSTREAM") or "127.0.0.1:6379"
local host, port = upstream:match("^%[(.+)%]:(%d+)$")
if not host then host, port = upstream:match("^(.+):(%d+)$") end
if upstream:match("^unix:") then host, port = upstream, 0 end
assert(host, "MW_UPSTREAM must be host:port, [v6]:port or unix:PATH")

local HIGH, LOW = 256 * 1024, 64 * 1024

-- Writes data to `to`; pauses `from` while `to` cannot keep up.
local function relay(from, to, data)
  local pending = to:write(data)
  if pending and pending > HIGH then
    from:pause()
  end
end

-- The peer of a connection, if it is still open.
local function peer_of(conn)
  local peer = conn.state.peer
  return peer and not peer.state.closed and peer
end

local function close_both(conn)
  conn.state.closed = true
  local peer = peer_of(conn)
  if peer then peer:close() end
end

local common = {
  high_water = HIGH,
  low_water = LOW,
  on_data = function(conn, data)
    local peer = peer_of(conn)
    if peer then relay(conn, peer, data) end
  end,
  on_drain = function(conn)
    local peer = peer_of(conn)
    if peer then peer:resume() end
  end,
}

local function upstream_handler(client)
  return setmetatable({
    on_connect = function(up)
      up.state.peer = client
      mw.log("debug", "connection", client.id, "upstream", upstream, "connected")
    end,
    on_close = function(up, reason)
      if reason ~= "eof" and reason ~= "closed" then
        mw.log("warn", "connection", client.id, "upstream", upstream, reason)
      end
      close_both(up)
    end,
  }, { __index = common })
end

return setmetatable({
  on_connect = function(client)
    local up = mw.connect(host, tonumber(port), upstream_handler(client))
    up.state.peer = client
    client.state.peer = up
  end,
  on_close = close_both,
}, { __index = common })
