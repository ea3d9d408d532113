-- chat: line-based chat rooms over plain TCP; each room is a mailbox task.
--   moonwire -l 127.0.0.1:7000 examples/chat.lua    then: nc 127.0.0.1 7000
-- Commands: /nick NAME, /join ROOM, /who, /rooms, /quit, /help; any other
-- line is said to the room you are in (everybody starts in "lobby").
-- Connections send their room messages; the room task, one message at a
-- time, keeps the member list and writes to every member. Rooms live in one
-- worker: run it with one worker (-w 1, the default).
local mw = require "moonwire"

local rooms = {}   -- name -> room task
local members = {} -- name -> number of connections in the room
local nicks = {}   -- nick -> connection

local HELP = "commands: /nick NAME, /join ROOM, /who, /rooms, /quit; other lines go to the room\n"

-- ---- a room ----

-- What a room does with each message; `self` is the task (and its table).
local actions = {}

local function broadcast(self, except, ...)
  for conn in pairs(self.members) do
    if conn ~= except and not conn.state.closed then conn:write(...) end
  end
end

function actions.join(self, m)
  self.members[m.conn] = m.nick
  broadcast(self, m.conn, "* ", m.nick, " joined #", self.name, "\n")
  local names = {}
  for _, nick in pairs(self.members) do names[#names + 1] = nick end
  table.sort(names)
  m.conn:write("joined #", self.name, ": ", table.concat(names, " "), "\n")
end

function actions.leave(self, m)
  self.members[m.conn] = nil
  broadcast(self, nil, "* ", m.nick, " left #", self.name, "\n")
end

function actions.say(self, m)
  broadcast(self, m.conn, "[", self.name, "] ", m.nick, ": ", m.text, "\n")
end

function actions.nick(self, m)
  self.members[m.conn] = m.nick
  broadcast(self, m.conn, "* ", m.old, " is now ", m.nick, "\n")
end

function actions.who(self, m)
  local names = {}
  for _, nick in pairs(self.members) do names[#names + 1] = nick end
  table.sort(names)
  if not m.conn.state.closed then
    m.conn:write("in #", self.name, ": ", table.concat(names, " "), "\n")
  end
end

function actions.stop(self)
  self:stop()
end

local function new_room(name)
  return mw.task{
    name = name,
    members = {},
    on_message = function(self, m) actions[m.kind](self, m) end,
  }
end

-- ---- a connection's side: membership counts are kept here, at once ----

local function enter(conn, name)
  local st = conn.state
  local room = rooms[name]
  if not room then
    room = new_room(name)
    rooms[name], members[name] = room, 0
  end
  members[name] = members[name] + 1
  st.room = name
  room:send({ kind = "join", conn = conn, nick = st.nick })
end

-- Leaves the current room; an emptied room stops after its last messages.
local function leave(conn)
  local st = conn.state
  local name = st.room
  if not name then return end
  local room = rooms[name]
  room:send({ kind = "leave", conn = conn, nick = st.nick })
  members[name] = members[name] - 1
  if members[name] == 0 then
    room:send({ kind = "stop" })
    rooms[name], members[name] = nil, nil
  end
  st.room = nil
end

local commands = {}

function commands.nick(conn, arg)
  local st = conn.state
  if not arg:match("^[%w_%-]+$") or #arg > 32 then
    return conn:write("error: a nick is 1 to 32 letters, digits, _ or -\n")
  end
  if nicks[arg] and nicks[arg] ~= conn then return conn:write("error: nick ", arg, " is taken\n") end
  local old = st.nick
  nicks[old], nicks[arg], st.nick = nil, conn, arg
  conn:write("you are now ", arg, "\n")
  if st.room then rooms[st.room]:send({ kind = "nick", conn = conn, nick = arg, old = old }) end
end

function commands.join(conn, arg)
  local name = arg:match("^#?([%w_%-]+)$")
  if not name or #name > 32 then
    return conn:write("error: a room name is 1 to 32 letters, digits, _ or -\n")
  end
  if name == conn.state.room then return conn:write("already in #", name, "\n") end
  leave(conn)
  enter(conn, name)
end

function commands.who(conn)
  rooms[conn.state.room]:send({ kind = "who", conn = conn })
end

function commands.rooms(conn)
  local list = {}
  for name, n in pairs(members) do list[#list + 1] = ("#%s (%d)"):format(name, n) end
  table.sort(list)
  conn:write("rooms: ", table.concat(list, " "), "\n")
end

function commands.quit(conn)
  conn:write("bye\n")
  conn:close()
end

function commands.help(conn)
  conn:write(HELP)
end

return {
  framing = "line",
  max_frame = 4096,
  on_connect = function(conn)
    local nick = "guest" .. conn.id
    conn.state.nick = nick
    nicks[nick] = conn
    conn:write("welcome to moonwire chat, ", nick, ". ", HELP)
    enter(conn, "lobby")
  end,
  on_data = function(conn, line)
    local cmd, arg = line:match("^/(%a+)%s*(.-)%s*$")
    if cmd then
      local fn = commands[cmd:lower()]
      if not fn then return conn:write("error: unknown command /", cmd, "\n") end
      return fn(conn, arg)
    end
    if line:find("%S") then
      local st = conn.state
      rooms[st.room]:send({ kind = "say", conn = conn, nick = st.nick, text = line })
    end
  end,
  on_close = function(conn)
    local st = conn.state
    st.closed = true
    leave(conn)
    nicks[st.nick] = nil
  end,
}
