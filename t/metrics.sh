#!/bin/bash
# --metrics ADDR: the master serves the workers' figures, summed, in the
# Prometheus text format (read by a strict parser, t/promcheck.py); they move
# as traffic is sent, the per-connection ones by listener (and "outbound"),
# counters survive a worker's replacement, and mw.stats() gives one worker's
# share.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 19

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
    local path = line:match("^dial (.+)$")
    if path then -- an outbound connection to the second listener, which echoes
      local out = mw.connect("unix:" .. path, 0, {
        framing = "line", on_data = function(c) c:close() end })
      out:write("outbound hello\n")
      return conn:write("dialled\n")
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
# A second listener, a UNIX one: a second TCP port 0 could be given the
# port just picked for --metrics.
start_server metrics -w 2 --metrics "127.0.0.1:$MPORT" -l 127.0.0.1:0 -l "unix:$TMP/second.sock" \
    "$TMP/counted.lua"
A="127.0.0.1:$PORT" B="unix:$TMP/second.sock"

PROMCHECK="python3 $MW_SRCDIR/t/promcheck.py"
scrape() { curl -s -f "http://127.0.0.1:$MPORT/metrics" >"$TMP/scrape"; }
# metric NAME: its value in the last scrape, summed over its samples (the
# per-listener ones, whose sum is the total); SERIES (name{labels}): its value.
metric() {
    case $1 in
    *"{"*) $PROMCHECK "$TMP/scrape" --value "$1" 2>/dev/null ;;
    *) $PROMCHECK "$TMP/scrape" --sum "$1" 2>/dev/null ;;
    esac
}
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

# prometheus_text: the last scrape is valid Prometheus text with the 13
# documented families, in order, and nothing else (no script metrics).
prometheus_text() {
    [ -s "$TMP/scrape" ] || { echo "# the scrape is empty"; return 1; }
    $PROMCHECK "$TMP/scrape" --families >"$TMP/families" 2>&1 || { sed 's/^/# /' "$TMP/families"; return 1; }
    [ "$(cut -d' ' -f1 "$TMP/families" | tr '\n' ' ')" = "$(echo $METRICS) " ] && return 0
    echo "# the families are:" && sed 's/^/#   /' "$TMP/families"
    return 1
}

# split_by_listener: each per-connection figure has a sample for each
# listener and one for outbound connections (the accepted ones: none for
# outbound), each other figure one sample without labels.
split_by_listener() {
    for m in moonwire_connections_open moonwire_bytes_in_total moonwire_bytes_out_total \
        moonwire_frames_total moonwire_connections_accepted_total; do
        labels="listener=\"$A\" listener=\"$B\""
        [ "$m" = moonwire_connections_accepted_total ] || labels="$labels listener=\"outbound\""
        [ "$(sed -n "s/^$m{\(.*\)} [0-9]*\$/\1/p" "$TMP/scrape" | tr '\n' ' ')" = "$labels " ] && continue
        echo "# $m: $(grep "^$m" "$TMP/scrape" | tr '\n' ' ')"
        return 1
    done
    [ "$(grep -c '^moonwire_[a-z_]* [0-9]*$' "$TMP/scrape")" -eq 8 ]
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
check "the scrape is Prometheus text with the 13 families" prometheus_text
check "the per-connection figures are split by listener, and outbound" split_by_listener
check "the Lua heaps' bytes in use and held are reported" heap_reported

for i in 1 2 3 4 5 6 7 8 9 10; do exchange "hello $i\\n"; done
check "connections accepted move with traffic (10 sent)" await moonwire_connections_accepted_total 10
check "bytes in and out move (8 bytes each way per connection, at least)" bytes_moved 80
check "frames move" await moonwire_frames_total 10
check "... all on the first listener" await "moonwire_connections_accepted_total{listener=\"$A\"}" 10
exchange "dial $TMP/second.sock\\n"
check "an outbound connection's bytes count as outbound (15 each way)" \
    eval 'await "moonwire_bytes_out_total{listener=\"outbound\"}" 15 15 &&
        await "moonwire_bytes_in_total{listener=\"outbound\"}" 15 15'
check "... and the connection it made to the second listener there" \
    eval 'await "moonwire_connections_accepted_total{listener=\"$B\"}" 1 1 &&
        await "moonwire_frames_total{listener=\"$B\"}" 1 1'

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
