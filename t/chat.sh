#!/bin/bash
# examples/chat.lua with three socat clients at once and one nc: nicks,
# rooms as mailbox tasks, broadcast to the room only, /who, /rooms, /quit,
# a client that vanishes.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 23

start_server chat -l 127.0.0.1:0 "$EXAMPLES/chat.lua" || finish

# connect NAME FD: a client whose input is written to FD and output kept in $TMP/NAME.out.
connect() {
    mkfifo "$TMP/$1.in"
    socat -t 2 - "TCP:127.0.0.1:$PORT" <"$TMP/$1.in" >"$TMP/$1.out" 2>/dev/null 3>&- 4>&- 5>&- &
    server_pids="$server_pids $!"
    eval "exec $2>\"$TMP/$1.in\""
}

# seen NAME TEXT: NAME's client received TEXT (waits up to 3 s).
seen() {
    for _ in $(seq 60); do
        grep -qF -- "$2" "$TMP/$1.out" && return 0
        sleep 0.05
    done
    echo "# '$2' not seen by $1; it got:" && sed 's/^/#   /' "$TMP/$1.out"
    return 1
}
unseen() { ! grep -qF -- "$2" "$TMP/$1.out"; }

connect alice 3
check "a newcomer is welcomed with a guest nick" seen alice "welcome to moonwire chat, guest"
check "... and is in #lobby" seen alice "joined #lobby: guest"
echo "/nick alice" >&3
check "/nick renames" seen alice "you are now alice"
connect bob 4
seen bob "joined #lobby" >/dev/null
check "the room sees a newcomer join" seen alice " joined #lobby"
echo "/nick bob" >&4
check "the room sees a rename" seen alice " is now bob"
echo "hello everyone" >&4
check "a line is broadcast to the room" seen alice "[lobby] bob: hello everyone"
echo "/nick alice" >&4
check "a nick in use is refused" seen bob "error: nick alice is taken"
echo "/who" >&4
check "/who lists the room" seen bob "in #lobby: alice bob"
# The room answers /who after the line bob said before it: an echo would be
# in bob's output by now.
check "the line bob said was not echoed to him" unseen bob "[lobby] bob: hello everyone"
echo "/nick no spaces" >&4
check "a bad nick is refused" seen bob "error: a nick is 1 to 32"

echo "/join rust" >&3
check "/join moves to a new room" seen alice "joined #rust: alice"
check "the old room sees the leaving" seen bob "* alice left #lobby"
echo "lobby only" >&4
echo "/who" >&4
# The lobby answers this /who after "lobby only": were alice sent that line, it
# would come before anything the test waits for in her output from now on.
check "the old room's /who no longer lists who left" seen bob "in #lobby: bob"
connect carol 5
echo "/nick carol" >&5
echo "/join #rust" >&5
check "a second member joins the room" seen carol "joined #rust: alice carol"
echo "hi rust" >&5
check "the new room hears its members" seen alice "[rust] carol: hi rust"
check "... and not the other room" unseen alice "lobby only"
echo "/rooms" >&5
check "/rooms lists rooms and counts" seen carol "rooms: #lobby (1) #rust (2)"
echo "/bogus" >&5
check "an unknown command is an error" seen carol "error: unknown command /bogus"

bob_id=$(sed -n 's/.*welcome to moonwire chat, guest\([0-9]*\)\..*/\1/p' "$TMP/bob.out")
exec 4>&- # bob vanishes
# His access line is written as his connection closes, just before its
# on_close leaves the room; alice's next line is read after that.
comes_to "$LOG" "access: conn=$bob_id "
echo "/rooms" >&3
check "an emptied room goes away" seen alice "rooms: #rust (2)"
echo "/quit" >&5
check "/quit says bye" seen carol "bye"
check "... and the room sees carol leave" seen alice "* carol left #rust"

printf '/nick zed\nhi from nc\n/quit\n' | nc -w 3 127.0.0.1 "$PORT" >"$TMP/nc.out" 2>/dev/null
check "nc works as a client" contains "$TMP/nc.out" "you are now zed"
exec 3>&- 5>&-
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]
finish
