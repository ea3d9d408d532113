# servers.sh: start moonwire or a peer on CPU 0 with its own port, learn
# the port, stop it by its PID. Every server is started the same way, so
# bench/run treats moonwire as just another server command.
# Needs BENCH_WORK, BENCH_SRCDIR, PEER_BIN, MOONWIRE, MW_SCRIPT, BENCH_FD_LIMIT.

SRV_CPU=${SRV_CPU:-0}
SRV_PID=
SRV_PORT=

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

srv_start() { # srv_start NAME: sets SRV_PID and SRV_PORT
    local err=$BENCH_WORK/$1.stderr port=0
    [ "$1" = redis ] && { port=$(srv_free_port) || bench_die "no free port for redis"; }
    SRV_PORT=$port
    srv_command "$1" "$port" || bench_die "unknown server $1"
    bench_cmdlog taskset -c "$SRV_CPU" "${SRV_CMD[@]}"
    taskset -c "$SRV_CPU" "${SRV_CMD[@]}" >"$err" 2>&1 </dev/null &
    SRV_PID=$!
    if ! srv_wait_listening "$1" "$err"; then
        tail -n 5 "$err" >&2
        srv_stop
        bench_die "$1 did not start listening within 10 s (see above)"
    fi
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
    echo_bev | echo_direct) echo "libevent $(pkg-config --modversion libevent_core 2>/dev/null)" ;;
    node) echo "Node.js $(node --version)" ;;
    redis) redis-server --version | sed 's/ sha=.*//' ;;
    esac
}
