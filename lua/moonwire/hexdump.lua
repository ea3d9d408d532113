-- moonwire.hexdump: render bytes as a hex dump, for debugging protocol handlers.
--   local hexdump = require "moonwire.hexdump"
--   mw.log("debug", hexdump(data))
-- Each line: offset, 16 bytes in hex, then the printable ASCII.

local byte, format, rep, concat = string.byte, string.format, string.rep, table.concat

local function printable(b)
  return (b >= 32 and b < 127) and string.char(b) or "."
end

local function dump_line(data, offset)
  local hex, text = {}, {}
  for i = offset + 1, math.min(offset + 16, #data) do
    local b = byte(data, i)
    hex[#hex + 1] = format("%02x", b)
    text[#text + 1] = printable(b)
  end
  local hexcol = concat(hex, " ")
  return format("%08x  %s%s  |%s|", offset, hexcol, rep(" ", 47 - #hexcol), concat(text))
end

local function hexdump(data)
  assert(type(data) == "string", "hexdump expects a string")
  local lines = {}
  for offset = 0, #data - 1, 16 do
    lines[#lines + 1] = dump_line(data, offset)
  end
  return concat(lines, "\n")
end

return hexdump
