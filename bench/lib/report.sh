# report.sh: writes RESULTS.md from the statistics of one bench/run.
# Needs the variables bench/run sets and the res_* functions of results.sh.

report_machine() {
    local cpu mem os
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
    mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    os=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-}")
    echo "- CPU: ${cpu:-unknown}, $(nproc) cores online; memory $mem"
    echo "- OS: ${os:-unknown}, kernel $(uname -r)"
    echo "- descriptors: $BENCH_FD_LIMIT per process (\`ulimit -Hn\`, not raisable here);" \
        "bench/run raises the soft limit to it, and the largest idle run keeps 1,000 under it"
    echo "- pinning: servers on CPU $SRV_CPU, load generator on CPU $LOAD_CPU (\`taskset\`)"
    echo "- load average before / after the run: $BENCH_LOAD0 / $BENCH_LOAD1$BENCH_BUSY"
}

report_versions() {
    local s
    echo "- moonwire: $BENCH_REV (source tree when the run started)" \
        "($([ -x "$MOONWIRE" ] && "$MOONWIRE" -V 2>&1 | head -n 1)), serving \`${MW_SCRIPT#"$BENCH_SRCDIR"/}\`"
    for s in node redis; do
        command -v "${s/redis/redis-server}" >/dev/null && echo "- $(srv_version "$s")"
    done
    echo "- libevent $(pkg-config --modversion libevent_core 2>/dev/null)," \
        "LuaJIT $(pkg-config --modversion luajit 2>/dev/null), $(${CC:-cc} --version | head -n 1)"
}

report_header() {
    cat <<HDR
# moonwire benchmark results

Written by \`bench/run\` on $(date -u '+%Y-%m-%d %H:%M UTC'): $ROUNDS round(s) of every
measurement, the servers alternating within each round (${ECHO_SERVERS// /, }),
every server started fresh for every run; medians with min–max. Echo runs:
${WARMUP} s warm-up, then ${DURATION} s measured. The measuring took ${BENCH_SECONDS} s.

On two cores the load generator saturates its own core about as soon as a fast
server does, so requests per second alone cannot tell servers apart. The figure
that does is the **server's CPU time per echoed message**: utime + stime of the
server's processes (from /proc/PID/stat, children included) over the measured
window, divided by the messages echoed in it. Latencies come from an HDR-style
histogram (under 1% relative error). Every echoed byte is checked against the
per-connection pseudo-random stream that was sent ("bad bytes").

Memory per idle connection: VmRSS of the server's processes before the
connections open, and after N connections have each echoed one 16-byte message
and been held ${HOLD} s; (after − before) / N. Source addresses are spread over
127.1.0.0/16, 100 connections per address.

## Machine and versions

$(report_machine)
$(report_versions)
HDR
}

report_echo() {
    local sc title id
    echo
    echo "## Echo throughput, latency and CPU per message"
    for sc in "${ECHO_SCENARIOS[@]}" "$RESP_SCENARIO"; do
        id=${sc%% *}
        title=${sc#*|}
        res_echo_table "$id" "$title" $ECHO_SERVERS redis
    done
}

report_idle() {
    local n
    echo
    echo "## Server memory per idle connection"
    for n in $IDLE_SIZES; do res_idle_table "$n" $IDLE_SERVERS; done
}

report_summary() {
    local keys=() sc
    for sc in "${ECHO_SCENARIOS[@]}"; do keys+=("${sc%% *}"); done
    echo
    echo "## moonwire against its targets"
    echo
    echo "Targets of the later work (issue 3): server CPU per echoed message at or below"
    echo "echo_bev's, within 1.15× of echo_direct's and below Node.js's on every row;"
    echo "at most 512 bytes of server memory per idle connection. Ratios are moonwire ÷ peer."
    echo
    res_targets "${keys[@]}" -- $IDLE_SIZES
}

report_peers() {
    cat <<'PEERS'

## The peers

- `echo_bev` (bench/peers/echo_bev.c): plain C echo on libevent bufferevents, no Lua.
- `echo_direct` (bench/peers/echo_direct.c): the same with one change, the floor
  for moonwire's engine: when nothing is queued it writes at once from the read
  callback (epoll_wait, read, write per message; the bufferevent makes five calls:
  epoll_wait, ioctl(FIONREAD), readv, epoll_ctl, writev, epoll_ctl).
- `node` (bench/peers/echo_node.js): a Node.js `net` echo server.
- `redis`: redis-server from Debian, `--save '' --appendonly no`; idle memory with
  one RESP ECHO per connection, and a RESP ECHO row for the later RESP work.
PEERS
}

report_commands() {
    echo
    echo "## Exact commands"
    echo
    echo "Paths are relative to the source tree. Reproduce with \`bench/run\` (this report) or \`bench/run --quick\` (a check of"
    echo "the harness). First round's commands; ports are ephemeral, PIDs of that run:"
    echo
    echo '```'
    sed "s|$BENCH_SRCDIR/||g" "$BENCH_WORK/commands.log"
    echo '```'
}

report_raw() {
    echo
    echo "## Every run"
    echo
    echo "<details><summary>one line per run: kind, measurement, server, round, figures</summary>"
    echo
    echo '```'
    awk -F '\t' '{ id = $1 " " $2 " " $3 " " $4
        if (id != last) { if (line != "") print line; line = id; last = id }
        line = line " " $5 "=" $6 }
        END { if (line != "") print line }' "$BENCH_WORK/runs.tsv"
    echo '```'
    echo
    echo "</details>"
}

# The benchmarks of later issues keep their own scripts and result files
# (bench/*/RESULTS-*.md, each with the commands that made it); RESULTS.md
# carries them too, as they were last written, so one file has every number.
report_others() {
    for f in "$BENCH_SRCDIR"/bench/*/RESULTS-*.md; do
        [ -f "$f" ] || continue
        echo
        echo "---"
        echo
        echo "_From \`${f#"$BENCH_SRCDIR"/}\`, written by its own script (see its commands)._"
        echo
        sed 's/^#/##/' "$f"
    done
}

report_write() {
    report_header
    report_summary
    report_echo
    report_idle
    report_peers
    report_commands
    report_raw
    report_others
}
