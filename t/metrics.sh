#!/bin/bash
# --metrics ADDR: the master serves the workers' figures, summed, in the
# Prometheus text format; they move as traffic is sent, counters survive a
# worker's replacement, and mw.stats() gives one worker's share.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 14

cat >"$TMP/counted.lua" <<'LUA'
local mw = require "moonwire"
return {
  framing = "line",
  on_data = function(conn, line)
    if line == "boom" then error("boom") end
    if line == "spin" then
      mw.deadline(50)
      local s
      for i = 1, math.huge do s = tostring(i) end -- a C call: the trace is left
    end
    if line == "stats" then
      local s, keys = mw.stats(), {}
      for _, k in ipairs{"connections", "accepted", "bytes_in", "bytes_out", "frames",
                         "handler_errors", "deadline_hits", "heap_in_use", "heap_held",
                         "tasks", "timers"} do
        keys[#keys + 1] = k .. "=" .. tostring(s[k])
      end
      return conn:write(table.concat(keys, " "), "\n")
    end
    conn:write(line, "\n")
  end,
}
LUA

MPORT=$(perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or die;
    bind($s, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die;
    print((unpack_sockaddr_in(getsockname($s)))[0], "\n")')
start_server metrics -w 2 --metrics "127.0.0.1:$MPORT" -l 127.0.0.1:0 "$TMP/counted.lua"

scrape() { curl -s -f "http://127.0.0.1:$MPORT/metrics" >"$TMP/scrape"; }
# metric NAME: its value in the last scrape.
metric() { sed -n "s/^$1 \\([0-9]*\\)\$/\\1/p" "$TMP/scrape"; }
# await NAME MIN: scrapes until NAME is at least MIN (workers publish every 100 ms).
await() {
    for _ in $(seq 40); do
        scrape && [ "$(metric "$1")" -ge "$2" ] 2>/dev/null && return 0
        sleep 0.05
    done
    echo "# $1 = $(metric "$1"), expected at least $2"
    return 1
}

check "the log says where metrics are served" contains "$LOG" "metrics on http://127.0.0.1:$MPORT/metrics"
scrape
check "the scrape is Prometheus text: HELP, TYPE and one sample per metric" \
    bash -c "grep -v '^# \\(HELP\\|TYPE\\) moonwire_' '$TMP/scrape' | grep -qvE '^moonwire_[a-z_]+ [0-9]+\$' && exit 1; exit 0"
check "both workers are counted" [ "$(metric moonwire_workers)" -eq 2 ]
await moonwire_lua_heap_in_use_bytes 1 >/dev/null
check "the Lua heaps' bytes in use and held are reported" \
    bash -c "[ $(metric moonwire_lua_heap_in_use_bytes) -gt 0 ] && [ $(metric moonwire_lua_heap_held_bytes) -ge $(metric moonwire_lua_heap_in_use_bytes) ]"

for i in 1 2 3 4 5 6 7 8 9 10; do exchange "hello $i\\n"; done
check "connections accepted move with traffic (10 sent)" await moonwire_connections_accepted_total 10
check "bytes in and out move (8 bytes each way per connection, at least)" \
    bash -c "[ $(metric moonwire_bytes_in_total) -ge 80 ] && [ $(metric moonwire_bytes_out_total) -ge 80 ]"
check "frames move" await moonwire_frames_total 10

for i in 1 2 3; do sleep 2 | socat -T 3 - "TCP:127.0.0.1:$PORT" >/dev/null 2>&1 & done
check "open connections are a gauge (3 held open)" await moonwire_connections_open 3
exchange 'boom\n'
check "a handler error is counted" await moonwire_handler_errors_total 1
exchange 'spin\n'
check "a missed deadline is counted" await moonwire_deadline_hits_total 1

scrape
accepted=$(metric moonwire_connections_accepted_total)
kill -KILL "$(worker_pid)"
expect_deaths 1
check "a worker killed and replaced is counted as a restart" await moonwire_worker_restarts_total 1
check "... and its counters are kept in the sums" \
    bash -c "[ $(metric moonwire_connections_accepted_total) -ge $accepted ]"

exchange 'stats\n'
check "mw.stats() gives the same figures for the worker" \
    grep -qE '^connections=[0-9]+ accepted=[1-9][0-9]* bytes_in=[1-9][0-9]* bytes_out=[0-9]+ frames=[1-9][0-9]* handler_errors=[0-9]+ deadline_hits=[0-9]+ heap_in_use=[1-9][0-9]* heap_held=[1-9][0-9]* tasks=[0-9]+ timers=[0-9]+$' "$TMP/reply"
check "another path is 404" \
    bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$MPORT/other) = 404 ]"
stop_server
finish
