#!/bin/bash
# --metrics ADDR: the master serves the workers' figures, summed, in the
# Prometheus text format; they move as traffic is sent, counters survive a
# worker's replacement, and mw.stats() gives one worker's share.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 15

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
# await NAME MIN [MAX]: scrapes until NAME is at least MIN (and at most MAX)
# for up to 5 s (workers publish every 100 ms).
await() {
    for _ in $(seq 100); do
        scrape && [ "$(metric "$1")" -ge "$2" ] 2>/dev/null &&
            [ "$(metric "$1")" -le "${3:-$(metric "$1")}" ] && return 0
        sleep 0.05
    done
    echo "# $1 = $(metric "$1"), expected from $2 to ${3:-any}"
    return 1
}

METRICS="moonwire_connections_open moonwire_connections_accepted_total moonwire_bytes_in_total
    moonwire_bytes_out_total moonwire_frames_total moonwire_handler_errors_total
    moonwire_deadline_hits_total moonwire_lua_heap_in_use_bytes moonwire_lua_heap_held_bytes
    moonwire_tasks_pending moonwire_timers_pending moonwire_worker_restarts_total moonwire_workers"

# prometheus_text: the last scrape has the 13 documented metrics, each as
# one HELP line, one TYPE line (counter or gauge) and one sample, and
# nothing else.
prometheus_text() {
    [ -s "$TMP/scrape" ] || { echo "# the scrape is empty"; return 1; }
    bad=$(grep -cvE '^(# HELP moonwire_[a-z_]+ .+|# TYPE moonwire_[a-z_]+ (counter|gauge)|moonwire_[a-z_]+ [0-9]+)$' "$TMP/scrape")
    [ "$bad" -eq 0 ] || { echo "# $bad line(s) are not HELP, TYPE or a sample"; return 1; }
    for m in $METRICS; do
        [ "$(grep -c "^# HELP $m " "$TMP/scrape")" -eq 1 ] &&
            [ "$(grep -cE "^# TYPE $m (counter|gauge)\$" "$TMP/scrape")" -eq 1 ] &&
            [ "$(grep -cE "^$m [0-9]+\$" "$TMP/scrape")" -eq 1 ] && continue
        echo "# $m lacks its HELP, TYPE or sample"
        return 1
    done
    [ "$(wc -l <"$TMP/scrape")" -eq 39 ] || { echo "# $(wc -l <"$TMP/scrape") lines, 39 expected"; return 1; }
}

# heap_reported: the Lua heaps' bytes in use are above 0, the bytes held at least as many.
heap_reported() {
    await moonwire_lua_heap_in_use_bytes 1 &&
        [ "$(metric moonwire_lua_heap_held_bytes)" -ge "$(metric moonwire_lua_heap_in_use_bytes)" ]
}

# bytes_moved N: at least N bytes in and N bytes out are counted.
bytes_moved() {
    await moonwire_bytes_in_total "$1" && await moonwire_bytes_out_total "$1"
}

# busiest_worker: the worker (its number) that has logged the most connections served.
busiest_worker() {
    sed -n 's/.*worker \([0-9]*\): access:.*/\1/p' "$LOG" | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2 }'
}

check "the log says where metrics are served" comes_to "$LOG" "metrics on http://127.0.0.1:$MPORT/metrics"
check "both workers are counted" await moonwire_workers 2 2
check "the scrape is Prometheus text: HELP, TYPE and one sample for each of the 13 metrics" prometheus_text
check "the Lua heaps' bytes in use and held are reported" heap_reported

for i in 1 2 3 4 5 6 7 8 9 10; do exchange "hello $i\\n"; done
check "connections accepted move with traffic (10 sent)" await moonwire_connections_accepted_total 10
check "bytes in and out move (8 bytes each way per connection, at least)" bytes_moved 80
check "frames move" await moonwire_frames_total 10

exec 5<>"/dev/tcp/127.0.0.1/$PORT" 6<>"/dev/tcp/127.0.0.1/$PORT" 7<>"/dev/tcp/127.0.0.1/$PORT"
check "open connections are a gauge: 3 while 3 are held open" await moonwire_connections_open 3 3
exec 5>&- 6>&- 7>&-
check "... and 0 once they are closed" await moonwire_connections_open 0 0
exchange 'boom\n'
check "a handler error is counted, once" await moonwire_handler_errors_total 1 1
exchange 'spin\n'
check "a missed deadline is counted, once" await moonwire_deadline_hits_total 1 1

scrape
accepted=$(metric moonwire_connections_accepted_total)
victim=$(busiest_worker)
echo "# killing worker $victim, which served $(grep -c "worker $victim: access:" "$LOG") of the $accepted connections"
kill -KILL "$(sed -n "s/.*worker $victim started (pid \\([0-9]*\\)).*/\\1/p" "$LOG" | tail -n 1)"
expect_deaths 1
check "a worker killed and replaced is counted as a restart" await moonwire_worker_restarts_total 1 1
check "... and its counters are kept in the sums ($accepted accepted before)" \
    await moonwire_connections_accepted_total "$accepted" "$accepted"

exchange 'stats\n'
check "mw.stats() gives the same figures for the worker" \
    grep -qE '^connections=[0-9]+ accepted=[1-9][0-9]* bytes_in=[1-9][0-9]* bytes_out=[0-9]+ frames=[1-9][0-9]* handler_errors=[0-9]+ deadline_hits=[0-9]+ heap_in_use=[1-9][0-9]* heap_held=[1-9][0-9]* tasks=[0-9]+ timers=[0-9]+$' "$TMP/reply"
check "another path is 404" \
    bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$MPORT/other) = 404 ]"
stop_server
finish
