#!/bin/bash
# examples/kv.lua answers as redis-server does, byte for byte: each command
# of t/scripts/kv_compare.cmds (lists, sets, hashes, sorted sets, what
# redis-benchmark sends; wrong types, missing keys, arity, syntax and range
# errors) against a redis-server started here, then the same on structures
# past Redis's small encodings and a seeded random run over keys the kinds
# share; and redis-benchmark's default run, at -P 1 and -P 16, completes
# against kv.lua with a figure for each of its tests and no error.
. "${MW_SRCDIR:-.}/t/lib.sh"
CMDS="$SCRIPTS/kv_compare.cmds"
NCMDS=$(grep -cvE '^[[:space:]]*(#|$)' "$CMDS")
plan $((NCMDS + 15))

# redis-server on a unix socket of the test's own (no port to race for),
# nothing saved; stopped by finish, by its PID, with the moonwire servers.
command -v redis-server >/dev/null ||
    echo "# redis-server is missing (apt-get install redis-server): the comparisons fail"
REDIS="$TMP/redis.sock"
redis-server --port 0 --unixsocket "$REDIS" --save '' --appendonly no --dir "$TMP" \
    >"$TMP/redis.out" 2>&1 &
server_pids="$server_pids $!"
for _ in $(seq 100); do
    [ "$(redis-cli -s "$REDIS" ping 2>/dev/null)" = PONG ] && break
    sleep 0.05
done
start_server kv -l 127.0.0.1:0 "$EXAMPLES/kv.lua"

# replies TARGET FILE OUT: the raw replies of TARGET (a port or a socket)
# to the commands of FILE, one line each (t/scripts/resp_replies.py).
replies() {
    timeout 120 python3 "$SCRIPTS/resp_replies.py" "$1" "$2" >"$3" 2>"$3.err" && return 0
    echo "# $2 to $1 failed:" && sed 's/^/#   /' "$3.err" | tail -5
    return 1
}

# short TEXT: TEXT cut to 100 characters, for a TAP line.
short() {
    [ ${#1} -le 100 ] && echo "$1" && return
    echo "${1:0:97}..."
}

# Each command of the script: one check, named after it and redis's reply.
replies "$REDIS" "$CMDS" "$TMP/redis.replies"
replies "$PORT" "$CMDS" "$TMP/kv.replies"
exec 4<"$TMP/redis.replies" 5<"$TMP/kv.replies"
for _ in $(seq "$NCMDS"); do
    IFS= read -r want <&4
    IFS= read -r got <&5
    [ -n "$want" ] && [ "$want" = "$got" ]
    ok $? "$(short "${want%%$'\t'*} -> ${want#*$'\t'}")"
    [ "$want" = "$got" ] || echo "#   kv.lua: $(short "${got#*$'\t'}")"
done
exec 4<&- 5<&-

# same_replies FILE: both servers answer every command of FILE with the
# same bytes; the first differences are shown.
same_replies() {
    replies "$REDIS" "$1" "$1.redis" && replies "$PORT" "$1" "$1.kv" || return 1
    [ -s "$1.redis" ] && cmp -s "$1.redis" "$1.kv" && return 0
    diff "$1.redis" "$1.kv" | head -6 | cut -c1-300 | sed 's/^/#   /'
    return 1
}

# big_commands: commands on structures past Redis's small encodings (its
# skip list, not a listpack; hash tables, not listpacks or intsets).
big_commands() {
    echo flushall
    echo "zadd big $(seq 500 | awk '{ printf "%s%d.%d m%d", (NR > 1 ? " " : ""), ($1 * 37) % 101, $1 % 4, $1 }')"
    echo "zrange big 0 -1 withscores"
    echo "zrange big 100 200 withscores"
    echo "zrevrange big 17 60 withscores"
    for m in m1 m77 m250 m499 m500 nothere; do
        echo "zrank big $m" && echo "zrevrank big $m" && echo "zscore big $m"
    done
    echo "zcount big 20 50" && echo "zcount big (20.1 (50.3"
    echo "zrangebyscore big (20 (50 withscores limit 10 30"
    echo "zrevrangebyscore big 80 (30 limit 5 40"
    echo "zrem big $(seq 3 5 500 | sed 's/^/m/' | tr '\n' ' ')"
    for i in $(seq 1 9 500); do echo "zincrby big $((i % 13 - 6)).5 m$i"; done
    echo "zrange big 0 -1 withscores"
    echo "zpopmin big 30" && echo "zpopmax big 30"
    echo "zremrangebyrank big 10 50" && echo "zremrangebyscore big 30 60"
    echo "zrange big 0 -1 withscores" && echo "zrevrange big 50 70"
    for m in m2 m77 m250 m361 m490; do echo "zrank big $m" && echo "zrevrank big $m"; done
    echo "zadd lex $(seq 300 | awk '{ printf "%s0 w%03d", (NR > 1 ? " " : ""), ($1 * 7) % 300 }')"
    echo "zrangebylex lex [w100 (w150" && echo "zrevrangebylex lex (w250 - limit 3 20"
    echo "zlexcount lex (w010 [w290" && echo "zremrangebylex lex - [w050" && echo "zrange lex 0 9"
    echo "rpush list $(seq 1000 | tr '\n' ' ')"
    echo "lpush list $(seq 1001 1200 | tr '\n' ' ')"
    echo "lrange list 0 -1" && echo "lrange list 150 250" && echo "lrange list -300 -200"
    for i in 0 199 200 700 -1 -1200 1200; do echo "lindex list $i"; done
    echo "linsert list before 500 x500" && echo "linsert list after 1100 x1100"
    echo "rpush list 7 7 7" && echo "lrem list -2 7" && echo "lrem list 1 7"
    echo "lset list 600 y" && echo "ltrim list 100 -100" && echo "lrange list 0 -1"
    echo "hset h $(seq 300 | awk '{ printf "f%d v%d ", $1, $1 * $1 }')"
    echo "~2 hgetall h" && echo "~ hkeys h" && echo "~ hvals h"
    echo "hdel h $(seq 1 3 300 | sed 's/^/f/' | tr '\n' ' ')"
    echo "hlen h" && echo "hmget h f1 f2 f3 f299 f300" && echo "~2 hgetall h"
    echo "sadd s $(seq 1000 | sed 's/^/e/' | tr '\n' ' ')"
    echo "sadd t $(seq 500 2 1500 | sed 's/^/e/' | tr '\n' ' ')"
    echo "~ smembers s"
    echo "srem s $(seq 1 3 1000 | sed 's/^/e/' | tr '\n' ' ')"
    echo "scard s" && echo "~ sinter s t" && echo "~ sunion s t" && echo "~ sdiff s t"
    echo "sintercard 2 s t limit 100" && echo "sinterstore u s t" && echo "scard u"
    echo "dbsize"
}
big_commands >"$TMP/big.cmds"
check "$(grep -c . "$TMP/big.cmds") commands on a 500-member sorted set, a 1,200-element list, a 300-field hash, 1,000-member sets: the same replies" \
    same_replies "$TMP/big.cmds"

# random_commands SEED N: N commands drawn at random over three keys of each
# kind (one in twenty on another kind's, for WRONGTYPE), a few members, scores
# with fractions and infinities (never -0, which Redis keeps only in its
# big sorted sets); no command whose reply is random (SPOP, SRANDMEMBER)
# or depends on Redis's encoding (SMEMBERS order, sorted by "~ ").
random_commands() {
    awk -v seed="$1" -v n="$2" 'BEGIN {
        srand(seed)
        nS = split("1 2 -1 0.5 2.5 -3.25 10 inf -inf 1e3 0 7", S, " ")
        nZ = split("- nx xx gt lt_ch incr ch", ZOPT, " ")
        # Each command and what follows its key: m, M members; s a score;
        # o ZADD options; a, b integers; x a score bound, ( or not; n a
        # count; w WITHSCORES or REV; p BEFORE or AFTER; X a new element;
        # K, L other keys of the same kind. "~" sorts the reply.
        nC = split("zadd:osm zadd:osm zadd:osm zincrby:sm zrem:m zscore:m zrank:m" \
            " zrevrank:m zcard: zrange:abw zrangebyscore:xb zcount:xb zpopmin:n zpopmax:n" \
            " zremrangebyrank:ab zremrangebyscore:xb" \
            " lpush:mM rpush:mM lpop:n rpop:n lrange:ab lindex:a lset:am lrem:am" \
            " linsert:pmX ltrim:ab" \
            " hset:msMa hdel:mM hget:m hgetall: hincrby:ma hlen:" \
            " sadd:mM srem:m sismember:m scard: ~smembers: ~sinter:K ~sunion:K ~sdiff:K" \
            " sinterstore:KL smove:Km" \
            " set:s del: del: del: type: exists:", C, " ")
        for (i = 0; i < n; i++) {
            split(C[int(rand() * nC) + 1], cmd, ":")
            name = cmd[1]; sub(/^~/, "~ ", name)
            # a key of the kind of the command (z, l, h, s: its first
            # letter; k for SET), one in twenty of another kind; DEL,
            # TYPE, EXISTS any
            K = (name == "set" ? "k" : substr(cmd[1], cmd[1] ~ /^~/ ? 2 : 1, 1))
            if (index("zlhsk", K) == 0 || rand() < 0.05) K = substr("zlhsk", int(rand() * 5) + 1, 1)
            m = sprintf("%c", 97 + int(rand() * 8))
            v["m"] = m; v["M"] = sprintf("%c", 97 + int(rand() * 8)); v["X"] = "x" m
            v["s"] = S[int(rand() * nS) + 1]; v["o"] = ZOPT[int(rand() * nZ) + 1]
            gsub(/_/, " ", v["o"]); if (v["o"] == "-") v["o"] = ""
            v["a"] = int(rand() * 9) - 4; v["b"] = int(rand() * 9) - 4
            v["x"] = (rand() < 0.5 ? "(" : "") v["a"]; v["n"] = int(rand() * 3)
            v["w"] = (rand() < 0.5 ? "withscores" : "rev")
            v["p"] = (rand() < 0.5 ? "before" : "after")
            v["K"] = K int(rand() * 3); v["L"] = K int(rand() * 3)
            line = name " " K int(rand() * 3)
            for (j = 1; j <= length(cmd[2]); j++) line = line " " v[substr(cmd[2], j, 1)]
            print line
        }
    }'
}
{ echo flushall && random_commands 19 3000; } >"$TMP/random.cmds"
check "3,000 random commands over a few keys of each kind (seed 19): the same replies" \
    same_replies "$TMP/random.cmds"

# bench NAME ARGS...: redis-benchmark's default suite against kv.lua, 300 s
# at most; the tests that reported a figure in $TMP/NAME.tests.
bench() {
    local name=$1
    shift
    timeout 300 redis-benchmark -p "$PORT" -q -n 20000 "$@" >"$TMP/$name" 2>&1
    echo $? >"$TMP/$name.status"
    tr '\r' '\n' <"$TMP/$name" | grep 'requests per second' | sed 's/^/#   /'
    tr '\r' '\n' <"$TMP/$name" | sed -n 's/^\([A-Z_0-9]*\).*: [0-9.]* requests per second.*/\1/p' |
        tr '\n' ' ' >"$TMP/$name.tests"
}

# Its whole default suite, in the order it runs (redis-tools 7.0).
SUITE="PING_INLINE PING_MBULK SET GET INCR LPUSH RPUSH LPOP RPOP SADD HSET SPOP ZADD ZPOPMIN LPUSH LRANGE_100 LRANGE_300 LRANGE_500 LRANGE_600 MSET "
# tests_were NAME: the run reported a figure for each test of SUITE.
tests_were() {
    [ "$(cat "$TMP/$1.tests")" = "$SUITE" ] && return 0
    echo "# reported: $(cat "$TMP/$1.tests")"
    return 1
}

for pipeline in 1 16; do
    bench "bench-P$pipeline" -P "$pipeline"
    check "redis-benchmark -q -n 20000 -P $pipeline (the default suite) ends, within 300 s" \
        [ "$(cat "$TMP/bench-P$pipeline.status")" = 0 ]
    check "... with a figure for each of its 20 tests, PING_INLINE to MSET" tests_were "bench-P$pipeline"
    check "... and no error line" sh -c "! grep -qi 'err' '$TMP/bench-P$pipeline'"
done
check "the server logged no handler error" sh -c "! grep -q '\[error\]' '$LOG'"

# installed FILE: FILE is installed with the examples (Makefile.am).
installed() {
    grep -qE "^dist_example_DATA .*examples/$(basename "$1")( |\$)" "$MW_SRCDIR/Makefile.am" && return 0
    echo "# $1 is not in Makefile.am's dist_example_DATA"
    return 1
}
all_installed() {
    for f in "$EXAMPLES"/kv*.lua; do installed "$f" || return 1; done
}
check "every examples/kv*.lua is installed with the examples" all_installed

# The data-type files are found beside kv.lua, whatever the directory the
# server runs from, and in a copy installed elsewhere; without them the
# check fails and names the one missing.
check "kv.lua loads from another directory" sh -c "cd / && '$MOONWIRE' --check '$EXAMPLES/kv.lua' >&2"
check "... from its own, by a path with no directory" sh -c "cd '$EXAMPLES' && '$MOONWIRE' --check kv.lua >&2"
mkdir -p "$TMP/share/moonwire/examples" "$TMP/alone"
cp "$EXAMPLES"/kv*.lua "$TMP/share/moonwire/examples/"
check "... from a copy of examples/kv*.lua elsewhere (as installed)" \
    sh -c "cd '$TMP' && '$MOONWIRE' --check share/moonwire/examples/kv.lua >&2"
check "... and in a 384K heap, as moonwire(1) says" \
    sh -c "'$MOONWIRE' --memory-limit 384K --check '$EXAMPLES/kv.lua' >&2"
cp "$EXAMPLES/kv.lua" "$TMP/alone/"
"$MOONWIRE" --check "$TMP/alone/kv.lua" >"$TMP/alone.out" 2>&1
check "... and without them the check fails, naming kv_lists.lua" \
    sh -c "[ $? -ne 0 ] && grep -q 'kv_lists.lua' '$TMP/alone.out'"
finish
