#!/bin/bash
# Each framing cuts what a real client sends into the frames the handler sees.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 14

serve() {
    [ -n "$PID" ] && stop_server
    MW_FRAMING=$1 start_server "$1" -l 127.0.0.1:0 "$SCRIPTS/framed.lua"
}

# closed_unanswered INPUT: a connection that sends INPUT (a printf format) and
# keeps its side open is closed by the server within 2 s, with no answer.
closed_unanswered() {
    exec 3<>"/dev/tcp/127.0.0.1/$PORT"
    send_at_once 3 "$1"
    closes_silently_within 2000 3
    local status=$?
    exec 3>&-
    return $status
}

serve line
exchange 'one\ntwo\r\n\nlast without newline'
check "line: LF and CRLF cut, CR stripped, last line at EOF kept" \
    replied '3:one\n3:two\n0:\n20:last without newline\n'
exchange 'BULK 5\nab\ncdHELLO\n'
check "line: switching to a length frame mid-stream and back" \
    replied '6:BULK 5\n5:ab\ncd\n5:HELLO\n'
check "line: a line one byte over max_frame is closed at once, unanswered" \
    closed_unanswered "$(head -c 1025 /dev/zero | tr '\0' x)\n"
# It is the third connection to this server.
check "line: ... on_close gets the reason 'frame too large'" comes_to "$LOG" "closed 3 frame too large"
check "line: ... and it is logged as a warning" \
    comes_to "$LOG" "[warn] worker 0: connection 3: frame too large (max_frame 1024 bytes)"
exchange 'still\n'
check "line: the server answers the next client" replied '5:still\n'

serve delimiter
exchange 'a||bc||||d'
check "delimiter: cut at every ||, empty frames kept, tail at EOF" replied '1:a\n2:bc\n0:\n1:d\n'

serve length
exchange 'abcdefghij'
check "length: fixed frames of 4, the partial tail dropped" replied '4:abcd\n4:efgh\n'

serve prefix
exchange '\000\003abc\000\000\000\002de'
check "prefix 2 big-endian: frames of 3, 0 and 2 bytes" replied '3:abc\n0:\n2:de\n'
check "prefix: a header over max_frame is closed at once, unanswered" closed_unanswered '\377\377'
check "prefix: ... with the reason 'frame too large'" comes_to "$LOG" "closed 2 frame too large"

# A frame that arrives a byte at a time is put back together.
(printf '\000'; for c in '\006' p i e c e s; do sleep 0.05; printf "$c"; done) |
    socat -T 3 -t 3 - "TCP:127.0.0.1:$PORT" >"$TMP/reply" 2>/dev/null
check "prefix: a frame arriving a byte at a time" replied '6:pieces\n'

serve prefix_le
exchange '\003\000\000\000xyz'
check "prefix 4 little-endian" replied '3:xyz\n'
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]
finish
