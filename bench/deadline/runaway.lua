-- Every line starts a runaway computation, stopped by its 20 ms deadline.
-- For bench/deadline/late.py (how late the raise comes).
local function spin()
    local x = 0
    while true do
        x = x + 1
    end
end
jit.off(spin)

return {
    framing = "line",
    timeout = 20,
    on_data = function()
        spin()
    end,
}
