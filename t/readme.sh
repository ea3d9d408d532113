#!/bin/bash
# The README stands alone and says what really happens: the documents of
# the project (README.md, HACKING.md, the man pages) name no file outside
# it, and its quick start, run as written (each server on a free port
# instead of its own), prints what the README shows: every "$ command" of a
# client and the lines after it, and the two chat sessions, typed lines and
# all.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 5
README="$MW_SRCDIR/README.md"

# Names of .md files, URLs aside: each a file of the tree, not outside it
# (../shared/DESIGN.md was named, and is there beside a checkout).
missing=$(cd "$MW_SRCDIR" && sed -E 's#[a-z]+://[^ )`]*##g' README.md HACKING.md man/* |
    grep -oE '[A-Za-z0-9./_-]+\.md\b' | sort -u |
    while read -r f; do
        case $f in ../* | */../* | /*) false ;; *) [ -f "$f" ] ;; esac || printf ' %s' "$f"
    done)
[ -z "$missing" ]
ok $? "every .md file README.md, HACKING.md and the man pages name is in the project${missing:+ (not:$missing)}"

# The code blocks of the quick start, as lines "B" (a block begins) and
# "L text" (a line of it, without its indent); a blank line inside a block
# stays in it.
awk '/^## / { on = ($0 == "## Quick start"); next }
    !on { next }
    /^    / { if (!inblock) print "B"; for (; blanks > 0; blanks--) print "L "; inblock = 1
        print "L " substr($0, 5); next }
    /^$/ { if (inblock) blanks++; next }
    { inblock = 0; blanks = 0 }' "$README" >"$TMP/blocks"

# Ports: the README's port of each server started, and the one it got.
declare -A port_of
with_ports() {
    local text=$1 p
    for p in "${!port_of[@]}"; do
        text=$(printf '%s' "$text" | sed -E "s/(^|[^0-9])$p([^0-9]|$)/\1${port_of[$p]}\2/g")
    done
    printf '%s' "$text"
}

# serve COMMAND: starts a server of the README ("VAR=value ... ./moonwire
# -l 127.0.0.1:PORT script") on a free port, in the source tree.
servers=0
serve() {
    local words=() args=() w readme_port=""
    read -r -a words <<<"$(with_ports "$1")"
    for w in "${words[@]}"; do
        case $w in
        [A-Z_]*=*) eval "export $w" ;;
        ./moonwire) ;;
        127.0.0.1:[0-9]*) readme_port=${w#127.0.0.1:} && args+=(127.0.0.1:0) ;;
        *) args+=("$w") ;;
        esac
    done
    start_server "server$servers" "${args[@]}" && port_of[$readme_port]=$PORT
    servers=$((servers + 1))
}

# run_client COMMAND EXPECTED: the command's output is EXPECTED, where a
# "Date: ..." line stands for any Date header; redis-cli formats its replies
# as it does on a terminal.
clients=0 client_failures=""
run_client() {
    local cmd
    cmd=$(with_ports "$1" | sed 's/^redis-cli /redis-cli --no-raw /')
    clients=$((clients + 1))
    timeout 10 bash -c "$cmd" 2>"$TMP/client.err" | tr -d '\r' >"$TMP/got"
    printf '%s' "$2" >"$TMP/want"
    if ! diff <(sed 's/^Date: .*/Date: */' "$TMP/want") <(sed 's/^Date: .*/Date: */' "$TMP/got") \
        >"$TMP/diff"; then
        client_failures="$client_failures; $1"
        echo "# \$ $1" && sed 's/^/#   /' "$TMP/diff"
    fi
}

# Walk the blocks: a server's, a client's ("$ command" and its output), a
# chat session's ("$ nc ..." alone: kept for the check below) or a log's.
cd "$MW_SRCDIR" || exit 1
: >"$TMP/chat"
sessions=0
run_block() {
    local first=$1 cmd="" out=""
    shift
    case $first in
    '$ '*./moonwire*) serve "${first#\$ }" && return ;;
    '$ nc '*) sessions=$((sessions + 1)) && printf '%s\n' "$first" "$@" >"$TMP/chat.$sessions" && return ;;
    '$ '*) ;;
    *) return ;;
    esac
    for line in "$first" "$@"; do
        case $line in
        '$ '*)
            [ -n "$cmd" ] && run_client "$cmd" "$out"
            cmd=${line#\$ } out=""
            ;;
        *) out="$out$line"$'\n' ;;
        esac
    done
    run_client "$cmd" "$out"
}
block=()
while IFS= read -r rec; do
    case $rec in
    B) [ ${#block[@]} -gt 0 ] && run_block "${block[@]}"; block=() ;;
    L*) block+=("${rec#L }") ;;
    esac
done <"$TMP/blocks"
[ ${#block[@]} -gt 0 ] && run_block "${block[@]}"

[ "$servers" -eq 5 ] && [ "$start_failures" -eq 0 ]
ok $? "the quick start's 5 servers started ($servers servers)"
[ "$clients" -ge 15 ] && [ -z "$client_failures" ]
ok $? "each of its client commands ($clients) printed what the README shows${client_failures:+ (not:${client_failures#; })}"

# The chat session, step by step: "A>" or "B>" a line typed on the first or
# second connection, "A<" or "B<" a line that must come to it next, "B+"
# the second connects. The README shows each connection's lines in order.
welcome="commands: /nick NAME, /join ROOM, /who, /rooms, /quit; other lines go to the room"
session=(
    "A< welcome to moonwire chat, guest1. $welcome" "A< joined #lobby: guest1"
    "A> /nick ada" "A< you are now ada"
    "B+" "B< welcome to moonwire chat, guest2. $welcome" "B< joined #lobby: ada guest2"
    "A< * guest2 joined #lobby"
    "B> /nick bob" "B< you are now bob" "A< * guest2 is now bob"
    "A> hello bob" "B< [lobby] ada: hello bob"
    "B> hi ada" "A< [lobby] bob: hi ada"
    "B> /who" "B< in #lobby: ada bob"
    "B> /quit" "B< bye" "A< * bob left #lobby"
    "A> /quit" "A< bye"
)
chat_port=${port_of[7002]:-none}
printf '$ nc 127.0.0.1 7002\n' | tee "$TMP/chat.A" >"$TMP/chat.B"
exec {fd_a}<>"/dev/tcp/127.0.0.1/$chat_port"
unexpected=""
for step in "${session[@]}"; do
    who=${step:0:1} what=${step:1:1} line=${step:3}
    [ "$who" = A ] && fd=$fd_a || fd=${fd_b:-}
    case $what in
    +) exec {fd_b}<>"/dev/tcp/127.0.0.1/$chat_port" ;;
    '>') printf '%s\n' "$line" >&"$fd" && printf '%s\n' "$line" >>"$TMP/chat.$who" ;;
    '<')
        got=""
        read -r -t 5 got <&"$fd"
        printf '%s\n' "$got" >>"$TMP/chat.$who"
        [ "$got" = "$line" ] || unexpected="$unexpected; $who got '$got', not '$line'"
        ;;
    esac
done
[ -z "$unexpected" ]
ok $? "the chat session went as the test says${unexpected:+ (${unexpected#; })}"
cmp -s "$TMP/chat.A" "$TMP/chat.1" && cmp -s "$TMP/chat.B" "$TMP/chat.2"
ok $? "the README shows the two connections of that session, line for line"
diff "$TMP/chat.A" "$TMP/chat.1" | sed 's/^/# A: /'
diff "$TMP/chat.B" "$TMP/chat.2" | sed 's/^/# B: /'
finish
