# servers.sh: start moonwire or a peer on CPU 0 with its own port, learn
# the port, wait until it serves, stop it by its PID. Every server is
# started the same way, so bench/run treats moonwire as just another server
# command; "baseline" is a second moonwire binary, started, waited for and
# judged exactly like the first. Needs serving.sh and BENCH_WORK,
# BENCH_SRCDIR, PEER_BIN, MOONWIRE, MW_SCRIPT, BENCH_FD_LIMIT (and BASELINE,
# BASELINE_SCRIPT for the baseline).

SRV_CPU=${SRV_CPU:-0}
SRV_PID=
SRV_PORT=
SRV_NAME=
SRV_TREE=

# A port below the ephemeral range that nothing listens on (for redis,
# which cannot announce a port it chose itself).
srv_free_port() {
    local p i
    for i in $(seq 1 50); do
        p=$((20000 + RANDOM % 10000))
        ss -Htln "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return 0; }
    done
    return 1
}

# Sets SRV_CMD to the command that starts server NAME on port PORT.
srv_command() { # srv_command NAME PORT
    case $1 in
    moonwire) SRV_CMD=("$MOONWIRE" ${MW_ARGS:-} -l "127.0.0.1:$2" "$MW_SCRIPT") ;;
    baseline) SRV_CMD=("$BASELINE" ${MW_ARGS:-} -l "127.0.0.1:$2" "$BASELINE_SCRIPT") ;;
    echo_bev | echo_direct) SRV_CMD=("$PEER_BIN/$1" -l "127.0.0.1:$2") ;;
    node) SRV_CMD=(node "$BENCH_SRCDIR/bench/peers/echo_node.js" -l "127.0.0.1:$2") ;;
    redis) SRV_CMD=(redis-server --port "$2" --bind 127.0.0.1 --save '' --appendonly no
        --maxclients $((BENCH_FD_LIMIT - 100)) --daemonize no --loglevel warning --protected-mode no) ;;
    *) return 1 ;;
    esac
}

srv_wait_listening() { # srv_wait_listening NAME ERRFILE: sets SRV_PORT
    local i
    for i in $(seq 1 100); do
        kill -0 "$SRV_PID" 2>/dev/null || return 1
        if [ "$1" = redis ]; then
            [ "$(redis-cli -p "$SRV_PORT" ping 2>/dev/null)" = PONG ] && return 0
        else
            SRV_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$2" | head -n 1)
            [ -n "$SRV_PORT" ] && return 0
        fi
        sleep 0.1
    done
    return 1
}

# Waits until server NAME serves: redis answers PING; the echo servers echo
# a line, and each of moonwire's workers has logged serving one (see
# serving.sh: the master's lines are written before its workers serve).
srv_wait_serving() { # srv_wait_serving NAME ERRFILE
    case $1 in
    redis) return 0 ;;
    moonwire | baseline) bench_serving echo "$SRV_PORT" "$2" ;;
    *) bench_serving echo "$SRV_PORT" ;;
    esac
}

srv_start() { # srv_start NAME: sets SRV_PID, SRV_PORT and SRV_TREE (its processes)
    local err=$BENCH_WORK/$1.stderr port=0
    [ "$1" = redis ] && { port=$(srv_free_port) || bench_die "no free port for redis"; }
    SRV_PORT=$port
    SRV_NAME=$1
    srv_command "$1" "$port" || bench_die "unknown server $1"
    # With a baseline, say which moonwire command is which build.
    if [ -n "${BASELINE:-}" ]; then
        case $1 in
        moonwire) echo "# the new build:" >>"$BENCH_WORK/commands.log" ;;
        baseline) echo "# the baseline:" >>"$BENCH_WORK/commands.log" ;;
        esac
    fi
    bench_cmdlog taskset -c "$SRV_CPU" "${SRV_CMD[@]}"
    : >"$err"
    taskset -c "$SRV_CPU" "${SRV_CMD[@]}" >"$err" 2>&1 </dev/null &
    SRV_PID=$!
    if ! srv_wait_listening "$1" "$err"; then
        tail -n 5 "$err" >&2
        srv_stop
        bench_die "$1 did not start listening within 10 s (see above)"
    fi
    if ! srv_wait_serving "$1" "$err"; then
        tail -n 5 "$err" >&2
        srv_stop
        bench_die "$1 listens but does not serve: $BENCH_NOT_SERVING"
    fi
    SRV_TREE=$(bench_tree "$SRV_PID" | tr '\n' ' ')
}

# After a run: appends to the RESULT line of OUTFILE the server's process
# count (procs) and run_errors: 1 when its processes are not those it had
# when it started serving (one died or was replaced), plus 1 when the load
# generator failed (exit status above 1, or 1 with no error counted).
srv_check_run() { # srv_check_run OUTFILE LOADGEN-STATUS
    local now lost=0 lgfail=0 counted
    now=$(bench_tree "$SRV_PID" | tr '\n' ' ')
    [ "$now" = "$SRV_TREE" ] || { lost=1; bench_log "$SRV_NAME: processes [$SRV_TREE] at the start, [$now] at the end"; }
    counted=$(( $(bench_field "$1" errors | cut -d. -f1)0 / 10 + $(bench_field "$1" mismatches | cut -d. -f1)0 / 10 ))
    if [ "$2" -gt 1 ] || { [ "$2" = 1 ] && [ "$counted" = 0 ]; }; then lgfail=1; fi
    sed -i "/^RESULT /s/\$/ procs=$(wc -w <<<"$now") run_errors=$((lost + lgfail))/" "$1"
}

# After the server stopped: adds to run_errors in OUTFILE the lines of
# moonwire's (or the baseline's) log that void the run (a worker's death, a
# sanitizer report, a Lua panic, an error).
srv_check_log() { # srv_check_log NAME OUTFILE
    local n v
    case $1 in moonwire | baseline) ;; *) return 0 ;; esac
    n=$(bench_log_trouble "$BENCH_WORK/$1.stderr")
    [ "$n" -gt 0 ] || return 0
    bench_log "$1: $n line(s) of its log void the run:"
    grep -E -- "$BENCH_DEATH|$BENCH_REPORT" "$BENCH_WORK/$1.stderr" | head -n 5 >&2
    v=$(bench_field "$2" run_errors)
    sed -i "/^RESULT /s/ run_errors=[0-9]*/ run_errors=$((v + n))/" "$2"
}

# SIGTERM, up to 5 s to drain, then SIGKILL; always by PID.
srv_stop() {
    [ -n "$SRV_PID" ] || return 0
    local i
    kill -TERM "$SRV_PID" 2>/dev/null
    for i in $(seq 1 50); do
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$SRV_PID" 2>/dev/null && kill -KILL "$SRV_PID" 2>/dev/null
    wait "$SRV_PID" 2>/dev/null
    SRV_PID=
}

# The version line of server NAME, for RESULTS.md.
srv_version() {
    case $1 in
    moonwire) "$MOONWIRE" -V 2>&1 | head -n 1 ;;
    baseline) "$BASELINE" -V 2>&1 | head -n 1 ;;
    echo_bev | echo_direct) echo "libevent $(pkg-config --modversion libevent_core 2>/dev/null)" ;;
    node) echo "Node.js $(node --version)" ;;
    redis) redis-server --version | sed 's/ sha=.*//' ;;
    esac
}
