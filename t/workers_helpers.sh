# Helpers for the worker tests (t/workers.sh, t/supervise.sh, t/drain.sh,
# t/reload.sh), sourced after t/lib.sh. Every wait is bounded.

# wait_for COMMAND...: retries COMMAND for up to 5 s.
wait_for() {
    for _ in $(seq 100); do
        "$@" && return 0
        sleep 0.05
    done
    return 1
}

# worker_pid N: the pid of the latest worker N the master started.
worker_pid() {
    sed -n "s/.*worker $1 started (pid \([0-9]*\)).*/\1/p" "$LOG" | tail -n 1
}

# workers_started N: N workers have been started (the first generation).
workers_started() {
    [ "$(grep -c 'worker [0-9]* started' "$LOG")" -ge "$1" ]
}

# exited_within SECONDS: the server ($PID) has exited within SECONDS; sets STATUS.
exited_within() {
    for _ in $(seq $(($1 * 20))); do
        kill -0 "$PID" 2>/dev/null || { stop_server; return 0; }
        sleep 0.05
    done
    return 1
}

# at_eof FD: the server has closed the connection on FD (EOF, not a reset).
at_eof() {
    read -r -t 3 line <&"$1"
    [ $? -eq 1 ] && [ -z "$line" ]
}

# whoami_once [ADDRESS]: which worker a fresh connection lands on ("worker N").
whoami_once() {
    socat -T 2 - "${1:-TCP:127.0.0.1:$PORT}" </dev/null 2>/dev/null | head -n 1
}

# accepted N: at least N connections to PORT are held by a worker (accepted,
# not waiting in the listen queue).
accepted() {
    [ "$(ss -Htnp state established "( sport = :$PORT )" | grep -c 'users:')" -ge "$1" ]
}
