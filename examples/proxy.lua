-- A TCP proxy: every client is connected to the upstream given in
-- MW_UPSTREAM (host:port, [v6]:port or unix:PATH).
--   MW_UPSTREAM=127.0.0.1:6379 moonwire -l 127.0.0.1:7000 examples/proxy.lua
-- Backpressure by direction: while the side written to has more than HIGH
-- bytes queued, the side read from is paused, until the first's on_drain.
-- pause_on_high_water = false, as the core would otherwise stop reading
-- the side whose output is queued: that is the other direction's source,
-- and with an upstream that does the same, all four buffers fill and wait.
-- An end of input passes through: one side's FIN (on_eof) is the other's
-- conn:shutdown(), sent after what is queued for it; a side closes once
-- both of its directions have ended. A pair that moves no byte either way
-- for MW_IDLE_TIMEOUT ms (default 300000) is closed.
local mw = require "moonwire"

local upstream = os.getenv("MW_UPSTREAM") or "127.0.0.1:6379"
local host, port = upstream:match("^%[(.+)%]:(%d+)$")
if not host then host, port = upstream:match("^(.+):(%d+)$") end
if upstream:match("^unix:") then host, port = upstream, 0 end
assert(host, "MW_UPSTREAM must be host:port, [v6]:port or unix:PATH")

local IDLE = tonumber(os.getenv("MW_IDLE_TIMEOUT") or "300000")
assert(IDLE and IDLE > 0, "MW_IDLE_TIMEOUT must be a number of ms above 0")

local HIGH, LOW = 256 * 1024, 64 * 1024

-- The other side of a connection, if it is still open.
local function peer_of(conn)
  local peer = conn.state.peer
  return peer and not peer.state.closed and peer
end

-- One timer per pair, due IDLE ms after the last byte read on either side.
local function watch_idle(pair)
  local function check()
    local quiet = mw.now() - pair.last
    if quiet < IDLE then
      pair.timer = mw.after(IDLE - quiet, check)
      return
    end
    mw.log("info", "connection", pair.client.id, "idle for", IDLE, "ms: closed")
    pair.client:close()
    pair.up:close()
  end
  pair.timer = mw.after(IDLE, check)
end

local common = {
  high_water = HIGH,
  low_water = LOW,
  pause_on_high_water = false,
  on_data = function(conn, data)
    conn.state.pair.last = mw.now()
    local peer = peer_of(conn)
    if not peer then return end
    local pending = peer:write(data)
    if pending and pending > HIGH then conn:pause() end
  end,
  -- conn's output is down to low_water: its source may be read again.
  on_drain = function(conn)
    local peer = peer_of(conn)
    if peer then peer:resume() end
  end,
  on_eof = function(conn)
    local peer = peer_of(conn)
    if peer then peer:shutdown() else conn:close() end
  end,
  on_close = function(conn)
    conn.state.closed = true
    local pair = conn.state.pair -- none if on_connect failed
    if pair then pair.timer:cancel() end
    local peer = peer_of(conn)
    if peer then peer:close() end
  end,
}

local function upstream_handler(client)
  return setmetatable({
    on_connect = function(up)
      mw.log("debug", "connection", client.id, "upstream", upstream, "connected")
    end,
    on_close = function(up, reason)
      if reason ~= "eof" and reason ~= "closed" then
        mw.log("warn", "connection", client.id, "upstream", upstream, reason)
      end
      common.on_close(up)
    end,
  }, { __index = common })
end

return setmetatable({
  on_connect = function(client)
    local up = mw.connect(host, tonumber(port), upstream_handler(client))
    local pair = { client = client, up = up, last = mw.now() }
    client.state.peer, client.state.pair = up, pair
    up.state.peer, up.state.pair = client, pair
    watch_idle(pair)
  end,
}, { __index = common })
