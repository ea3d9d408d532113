#!/bin/bash
# mw.metrics: a script's counters, gauges and histograms, declared at its top
# level, summed over two workers by the master and served at --metrics next
# to the built-in ones, as Prometheus text (a strict parser, t/promcheck.py,
# reads every scrape); label values escaped; the series limit and a late
# declaration are errors; a bad name stops the script's check (file:line,
# exit 1); a worker gone leaves its counters, not its gauges; a reload.
. "${MW_SRCDIR:-.}/t/lib.sh"
. "$MW_SRCDIR/t/workers_helpers.sh"
plan 33

PROMCHECK="python3 $MW_SRCDIR/t/promcheck.py"
MPORT=$(perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or die;
    bind($s, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die;
    print((unpack_sockaddr_in(getsockname($s)))[0], "\n")')

# scrape: the metrics now, in $TMP/scrape.
scrape() { curl -s -f "http://127.0.0.1:$MPORT/metrics" >"$TMP/scrape"; }
# valid: the last scrape is valid Prometheus text (what is wrong as comments).
valid() { $PROMCHECK "$TMP/scrape" 2>&1 | sed 's/^/# /'; [ "${PIPESTATUS[0]}" -eq 0 ]; }
# value SERIES: its value in the last scrape (empty when it has none).
value() { $PROMCHECK "$TMP/scrape" --value "$1" 2>/dev/null; }
# is SERIES VALUE: scrapes until SERIES has VALUE (5 s at most; workers
# write their values at once, the built-in figures every 100 ms).
is() {
    for _ in $(seq 100); do
        scrape && [ "$(value "$1")" = "$2" ] && return 0
        sleep 0.05
    done
    echo "# $1 is '$(value "$1")', not '$2'"
    return 1
}
# values SERIES...: their values in the last scrape, each followed by a space.
values() { for series in "$@"; do printf '%s ' "$(value "$series")"; done; }
# family_at N NAME: the Nth family of the last scrape is NAME.
family_at() { [ "$($PROMCHECK "$TMP/scrape" --families | sed -n "${1}p" | cut -d' ' -f1)" = "$2" ]; }
# has_line LINE: the last scrape has LINE, as it is.
has_line() { grep -qxF -- "$1" "$TMP/scrape"; }
# absent NAME: the last scrape has no sample of NAME, nor a family.
absent() { ! grep -q "^$1[{ ]" "$TMP/scrape" && ! grep -q "^# TYPE $1 " "$TMP/scrape"; }
# reply_has TEXT: the last exchange's answer holds TEXT.
reply_has() { contains "$TMP/reply" "$1"; }

# ---- declarations at the top level, summed over two workers ----

cp "$SCRIPTS/metrics.lua" "$TMP/metrics.lua"
start_server metrics -w 2 --metrics "127.0.0.1:$MPORT" -l 127.0.0.1:0 "$TMP/metrics.lua"
wait_for workers_started 2
check "both workers run" is moonwire_workers 2
check "a counter is summed over the two workers' top levels" is 'app_loads_total{worker="all"}' 2
check "... each worker's own label value is its own series" \
    [ "$(values 'app_loads_total{worker="0"}' 'app_loads_total{worker="1"}')" = "1 1 " ]
check "a gauge is the sum of the workers' values (each set 1)" is app_workers_up 2
check "a histogram counts both workers' observations (ids 0 and 1)" is app_worker_id_count 2
check "... in cumulative buckets, with their sum" \
    [ "$(values 'app_worker_id_bucket{le="0.5"}' 'app_worker_id_bucket{le="1.5"}' \
        'app_worker_id_bucket{le="+Inf"}' app_worker_id_sum)" = "1 2 2 1 " ]
check "the scrape is valid Prometheus text" valid
check "the 13 built-in families come first, then the script's" \
    eval 'family_at 1 moonwire_connections_open && family_at 13 moonwire_workers &&
        family_at 14 app_loads_total'
check "a labelled metric not used yet is not served" absent app_requests_total

# ---- moved by traffic ----

for _ in 1 2 3; do exchange 'label get\n'; done
check "a labelled counter moves with traffic" is 'app_requests_total{command="get"}' 3
exchange 'label we"ird\\back\n'
check "a label value with a quote and a backslash reads back as it was" \
    is 'app_requests_total{command="we\"ird\\back"}' 1
check "... escaped in the text" has_line 'app_requests_total{command="we\"ird\\back"} 1'
check "a labelled histogram's count moves (one label per exchange)" \
    is 'app_label_bytes_count{command="label"}' 4
check "... and its buckets: the sizes were 3, 3, 3 and 11, +Inf given once by the script (implied)" \
    [ "$(values 'app_label_bytes_bucket{command="label",le="2"}' \
        'app_label_bytes_bucket{command="label",le="8"}' \
        'app_label_bytes_bucket{command="label",le="+Inf"}' \
        'app_label_bytes_sum{command="label"}')" = "0 3 4 20 " ]
exec 5<>"/dev/tcp/127.0.0.1/$PORT" 6<>"/dev/tcp/127.0.0.1/$PORT" 7<>"/dev/tcp/127.0.0.1/$PORT"
check "a gauge moved up and down by the workers: 3 connections held" is app_open_connections 3
exec 5>&- 6>&- 7>&-
check "... and 0 once they close" is app_open_connections 0
scrape
check "the scrape is still valid Prometheus text, escapes and all" valid

# ---- errors ----

exchange 'declare\n'
check "declaring after the top level is an error" \
    reply_has "metric 'app_late_total': metrics are declared at the script's top level"
exchange 'wrong\n'
check "a label the metric does not have is an error" reply_has "label 'verb' is not one of the metric's"
scrape
lines=$(value app_lines_total)
exec 8<>"/dev/tcp/127.0.0.1/$PORT"
ask 8 'many 300'
check "past 256 series in a worker, a new label combination raises, naming the metric and limit" \
    eval 'case $REPLY in *"metric '"'app_requests_total'"': too many series (at most 256 label combinations in a worker"*) ;; *) false ;; esac'
ask 8 ping
check "... the worker lives on, and its series count on" [ "$REPLY" = ok ]
exec 8>&-
check "... counted" is app_lines_total $((lines + 2))

# ---- a worker gone, a reload ----

kill -KILL "$(worker_pid 1)"
expect_deaths 1
check "a worker killed and replaced: its counter is kept, the new one's added" \
    is 'app_loads_total{worker="all"}' 3
check "... its gauge is dropped, the new one's added" is app_workers_up 2
sed -e 's/^local delay = .*/local reloads = metrics.counter("app_reloads_total", "Reloaded top levels.")/' \
    -e 's/^delay:observe.*/reloads:inc()/' "$SCRIPTS/metrics.lua" >"$TMP/metrics.lua"
old0=$(worker_pid 0) old1=$(worker_pid 1)
kill -HUP "$PID"
wait_for grep -q "old worker 0 (pid $old0) exited" "$LOG"
wait_for grep -q "old worker 1 (pid $old1) exited" "$LOG"
check "after a reload, a metric the new script declares is served" is app_reloads_total 2
check "... one it no longer declares is not, once the old workers are gone" absent app_worker_id
check "... and the counters of old workers go on in the sums" is 'app_loads_total{worker="all"}' 5
check "the scrape after the reload is valid Prometheus text" valid
stop_server

# ---- names checked at the top level ----

# bad_script NAME LINE3: a script whose third line is LINE3.
bad_script() {
    printf 'local mw = require "moonwire"\n-- line 2\n%s\nreturn { on_data = function() end }\n' \
        "$2" >"$TMP/$1.lua"
}
bad_script badname 'mw.metrics.counter("app-requests", "Requests.")'
"$MOONWIRE" --check "$TMP/badname.lua" >/dev/null 2>"$TMP/badname.err"
check "an invalid metric name fails the check: exit 1" [ $? -eq 1 ]
check "... saying file:line and what is valid" contains "$TMP/badname.err" \
    "$TMP/badname.lua:3: metric name 'app-requests' is not valid (a letter, _ or :, then letters, digits, _ or :)"
bad_script badlabel 'mw.metrics.gauge("app_temp", "T.", {"__room"})'
"$MOONWIRE" -l 127.0.0.1:0 "$TMP/badlabel.lua" 2>"$TMP/badlabel.err"
check "an invalid label name stops the server at start: exit 1" [ $? -eq 1 ]
check "... saying file:line and why" contains "$TMP/badlabel.err" \
    "$TMP/badlabel.lua:3: metric 'app_temp': label name '__room' is not valid"
bad_script reserved 'mw.metrics.counter("moonwire_mine_total", "Mine.")'
"$MOONWIRE" --check "$TMP/reserved.lua" >/dev/null 2>"$TMP/reserved.err"
check "a name of moonwire's own (moonwire_...) fails the check" \
    contains "$TMP/reserved.err" "$TMP/reserved.lua:3: metric 'moonwire_mine_total': names beginning with moonwire_ are moonwire's own"
finish
