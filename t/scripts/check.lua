-- Shared by the test scripts that check themselves: each check prints
-- "RESULT <name> ok|FAIL <detail>" on stderr, which t/lib.sh's results reads.
--   local check = dofile(debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "check.lua")
local M = {}

-- report(name, ok, detail): one RESULT line.
function M.report(name, ok, detail)
  io.stderr:write(("RESULT %s %s %s\n"):format(name, ok and "ok" or "FAIL", detail or ""))
end

-- same(name, got, want): ok when got == want; the detail shows both.
function M.same(name, got, want)
  M.report(name, got == want, ("got [%s] want [%s]"):format(tostring(got), tostring(want)))
end

return M
