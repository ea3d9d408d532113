# common.sh: what every bench script shares: messages, the work directory,
# the descriptor limit, the binaries (built here when `make` has not).
# Sourced by bench/run; expects BENCH_SRCDIR and BENCH_BUILDDIR.

bench_log() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
bench_die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# Raises the soft descriptor limit to the hard one (not raisable here) and
# sets BENCH_FD_LIMIT; servers and the load generator inherit it.
bench_fd_limit() {
    BENCH_FD_LIMIT=$(ulimit -Hn)
    [ "$BENCH_FD_LIMIT" = unlimited ] && BENCH_FD_LIMIT=1048576
    ulimit -n "$BENCH_FD_LIMIT" || bench_die "ulimit -n $BENCH_FD_LIMIT failed"
}

# Keeps the idle sizes that fit under the limit, with room for the
# listener, logs and the load generator's own descriptors.
bench_idle_sizes() {
    local n max=$((BENCH_FD_LIMIT - 1000)) out=
    for n in "$@"; do
        if [ "$n" -le "$max" ]; then out="$out $n"; else bench_log "idle $n skipped: over the limit"; fi
    done
    echo $out
}

# Builds the load generator and the C peers with cc when the build tree
# does not have them (bench/run works from a fresh checkout too).
bench_build() {
    local b=$BENCH_BUILDDIR/bench s=$BENCH_SRCDIR/bench
    LOADGEN=${LOADGEN:-$b/loadgen/loadgen}
    PEER_BIN=${PEER_BIN:-$b/peers}
    if [ -x "$LOADGEN" ] && [ -x "$PEER_BIN/echo_bev" ] && [ -x "$PEER_BIN/echo_direct" ]; then
        return 0
    fi
    local cc=${CC:-cc} flags="-std=c11 -O2 -Wall -Wextra $(pkg-config --cflags libevent_core)"
    local libs
    libs=$(pkg-config --libs libevent_core) || bench_die "libevent not found: apt-get install libevent-dev"
    mkdir -p "$BENCH_WORK/bin"
    bench_log "building the load generator and peers in $BENCH_WORK/bin"
    $cc $flags -o "$BENCH_WORK/bin/loadgen" "$s"/loadgen/*.c $libs || bench_die "building loadgen failed"
    local p
    for p in echo_bev echo_direct; do
        $cc $flags -o "$BENCH_WORK/bin/$p" "$s/peers/$p.c" "$s/peers/peer_main.c" $libs ||
            bench_die "building $p failed"
    done
    LOADGEN=$BENCH_WORK/bin/loadgen
    PEER_BIN=$BENCH_WORK/bin
}

# Installs a Debian package the peers need when running as root.
bench_need_pkg() { # bench_need_pkg COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        bench_log "installing $2 (for $1)"
        apt-get install -y -q "$2" >&2 || bench_log "apt-get install $2 failed"
    fi
    command -v "$1" >/dev/null 2>&1
}

# Prints the field KEY of the RESULT line in FILE.
bench_field() { # bench_field FILE KEY
    sed -n "s/^RESULT .*[ ]$2=\([^ ]*\).*/\1/p" "$1"
}

# Appends a command line, quoted for the shell, to the log RESULTS.md quotes.
bench_cmdlog() {
    printf '%q ' "$@" | sed 's/ $//' >>"$BENCH_WORK/commands.log"
    echo >>"$BENCH_WORK/commands.log"
}

# Two cores leave no room for other work: note the load average, and warn
# (here and in RESULTS.md) when something else keeps the machine busy.
bench_check_quiet() {
    BENCH_LOAD0=$(cut -d ' ' -f 1 /proc/loadavg)
    BENCH_BUSY=
    if awk -v l="$BENCH_LOAD0" 'BEGIN { exit !(l > 0.5) }'; then
        BENCH_BUSY=" (**the machine was busy before the run: figures are suspect**; busiest: $(
            ps -eo pcpu=,comm= --sort=-pcpu | awk 'NR <= 4 && $2 != "ps" { printf "%s%s %s%%", sep, $2, $1; sep = ", " }'))"
        bench_log "warning: load average $BENCH_LOAD0 before the run; other work skews the figures"
    fi
}
