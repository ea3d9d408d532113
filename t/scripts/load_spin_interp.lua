-- A top level that never finishes, kept out of the JIT compiler: the
-- deadline's hook raises in it, at the loop's one line. For t/load_deadline.sh.
jit.off(true, true)
local x = 0
while true do x = x + 1 end
return {}
