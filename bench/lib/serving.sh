# serving.sh: what every bench script uses to know that a server it started
# serves (not only that its master announced a port), how many processes it
# is, and whether its log voids the run. Bash; sourced by bench/run and by
# the scripts under bench/*/. Loopback only; every wait is bounded.
#
# moonwire's master writes "listening on ADDR" when it binds and "worker N
# started (pid P)" when it forks, before the worker has loaded its script or
# entered its loop; a worker itself writes nothing until it serves. So a
# server is taken as serving once a probe connection is answered and, for
# moonwire, once every worker has written the access line of a probe it
# served ("worker N: access: ..."), which needs the default --log-level info.

# A worker that died (the master says how), a sanitizer's report, a Lua
# panic, an error: lines of a moonwire log that void the runs it served.
BENCH_DEATH='worker [0-9]+ \(pid [0-9]+\) (killed by signal|exited with status [1-9])'
BENCH_REPORT='Sanitizer|runtime error|Lua panic|\[error\]'

# bench_tree PID: PID and its descendants, one a line, in order (the set of
# processes loadgen --server-pid measures); nothing when PID is gone.
bench_tree() {
    local todo=" $1 " p out=
    while [ -n "${todo// /}" ]; do
        read -r p todo <<<"$todo"
        [ -r "/proc/$p/stat" ] || continue
        out="$out $p"
        todo="$todo $(cat /proc/"$p"/task/*/children 2>/dev/null | tr "\n" " ")"
    done
    [ -n "$out" ] && printf '%s\n' $out | sort -n
}

# bench_procs PID: how many processes bench_tree finds.
bench_procs() {
    bench_tree "$1" | grep -c .
}

# bench_echo_probe PORT: a connection to 127.0.0.1:PORT that sends a line
# and reads the same line back within 2 s.
bench_echo_probe() {
    local want="probe $$ $RANDOM"
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf '%s\n' "$want" >&3
        IFS= read -r -t 2 line <&3 && [ "$line" = "$want" ]
    ) 2>/dev/null
}

# bench_connect_probe PORT: a connection that is accepted, sends nothing and
# closes (for handlers that must not see a probe's bytes).
bench_connect_probe() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# bench_serving PROBE PORT [LOG [WORKERS]]: waits up to 10 s until PROBE
# (echo or connect) succeeds on PORT and, when LOG (a moonwire log) is
# given, until each of WORKERS workers (default: as many as the master
# says it started) has written the access line of a probe. Returns 1, with
# the reason in BENCH_NOT_SERVING, when that does not happen.
bench_serving() {
    local probe=bench_$1_probe port=$2 log=${3:-} want=${4:-} id missing
    local until=$((SECONDS + 10))
    BENCH_NOT_SERVING=
    until "$probe" "$port"; do
        [ "$SECONDS" -lt "$until" ] || { BENCH_NOT_SERVING="no answer to a $1 probe on port $port"; return 1; }
        sleep 0.05
    done
    [ -n "$log" ] || return 0
    [ -n "$want" ] || want=$(grep -cE 'worker [0-9]+ started \(pid' "$log")
    [ "$want" -gt 0 ] || { BENCH_NOT_SERVING="no 'worker N started' line in $log"; return 1; }
    while :; do
        missing=
        for ((id = 0; id < want; id++)); do
            grep -q "worker $id: access: " "$log" || missing="$missing $id"
        done
        [ -z "$missing" ] && return 0
        if [ "$SECONDS" -ge "$until" ]; then
            BENCH_NOT_SERVING="no access line from worker(s)$missing in $log (--log-level above info?)"
            return 1
        fi
        "$probe" "$port"
        sleep 0.05
    done
}

# bench_log_trouble LOG: how many lines of LOG void the runs it served.
bench_log_trouble() {
    grep -cE -- "$BENCH_DEATH|$BENCH_REPORT" "$1"
}
