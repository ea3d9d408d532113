#!/bin/bash
# examples/http.lua (on moonwire.http) with curl and wrk, and malformed or
# oversized requests sent raw: each case gets the status HTTP says it should.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 93

mkdir -p "$TMP/www/sub"
printf '<h1>hi</h1>\n' >"$TMP/www/index.html"
printf 'body{}\n' >"$TMP/www/sub/a.css"
printf 'secret\n' >"$TMP/secret.txt"
MW_HTTP_ROOT="$TMP/www" start_server http -l 127.0.0.1:0 "$EXAMPLES/http.lua" || finish
URL="http://127.0.0.1:$PORT"

# curl: never waits more than 20 s for an answer.
curl() { command curl --max-time 20 "$@"; }

# code ARGS...: the status curl got.
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

check "GET / answers the greeting" [ "$(curl -s "$URL/")" = "hello from moonwire" ]
curl -s -D "$TMP/h" -o /dev/null "$URL/"
check "... with Content-Length 20" contains "$TMP/h" "Content-Length: 20"
check "... and a Date" grep -q '^Date: .* GMT' "$TMP/h"
curl -s -I "$URL/" >"$TMP/head"
check "HEAD / has the headers" contains "$TMP/head" "Content-Length: 20"
check "... and no body" sh -c "! grep -q hello '$TMP/head'"
check "a file from MW_HTTP_ROOT" [ "$(curl -s "$URL/index.html")" = "<h1>hi</h1>" ]
curl -s -D "$TMP/h" -o /dev/null "$URL/sub/a.css"
check "... with its Content-Type" contains "$TMP/h" "Content-Type: text/css"
check "a missing file is 404" [ "$(code "$URL/nope.txt")" = 404 ]
check "a directory is 404" [ "$(code "$URL/sub")" = 404 ]
check "/../ is refused with 403" [ "$(code --path-as-is "$URL/../secret.txt")" = 403 ]
check "/sub/../../ is refused with 403" [ "$(code --path-as-is "$URL/sub/../../secret.txt")" = 403 ]
check "percent-encoded %2e%2e is refused with 403" [ "$(code --path-as-is "$URL/%2e%2e/secret.txt")" = 403 ]
check "a bad percent-encoding is 400" [ "$(code "$URL/%zz")" = 400 ]
check "POST / is 405" [ "$(code -d x "$URL/")" = 405 ]

check "POST /echo with Content-Length" [ "$(curl -s --data-binary 'a=1&b=2' "$URL/echo")" = "a=1&b=2" ]
check "POST /echo with a chunked body" \
    [ "$(curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/www/index.html" "$URL/echo")" = "<h1>hi</h1>" ]
head -c 3000000 /dev/urandom >"$TMP/big"
curl -s --data-binary @"$TMP/big" -o "$TMP/big.back" "$URL/echo"
check "a 3 MB body (Expect: 100-continue) comes back byte for byte" cmp -s "$TMP/big" "$TMP/big.back"
curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/big" -o "$TMP/big.back" "$URL/echo"
check "... and chunked" cmp -s "$TMP/big" "$TMP/big.back"
head -c 9000000 /dev/zero >"$TMP/huge"
check "a 9 MB body (over max_body) is 413" [ "$(code --data-binary @"$TMP/huge" "$URL/echo")" = 413 ]

check "keep-alive: two requests on one connection" \
    [ "$(curl -s -o /dev/null -o /dev/null -w '%{num_connects}' "$URL/" "$URL/index.html")" = 10 ]
curl -s -D "$TMP/h" -o /dev/null -H 'Connection: close' "$URL/"
check "Connection: close is answered with Connection: close" contains "$TMP/h" "Connection: close"
curl -s -D "$TMP/h" -o /dev/null --http1.0 "$URL/"
check "HTTP/1.0 closes by default" contains "$TMP/h" "Connection: close"
curl -s -D "$TMP/h" -o /dev/null --http1.0 -H 'Connection: keep-alive' "$URL/"
check "HTTP/1.0 with keep-alive stays open" contains "$TMP/h" "Connection: keep-alive"

# raw INPUT: sends INPUT (printf format), the reply goes to $TMP/reply.
raw() { printf -- "$1" | socat -T 3 -t 3 - "TCP:127.0.0.1:$PORT" >"$TMP/reply" 2>/dev/null; }
status_is() { # status_is CODE: the first status line of the reply
    head -1 "$TMP/reply" | grep -q "^HTTP/1.1 $1 " && return 0
    echo "# got: $(head -1 "$TMP/reply")"
    return 1
}

raw 'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /index.html HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
check "three pipelined requests get three responses" [ "$(grep -c '^HTTP/1.1 200' "$TMP/reply")" -eq 3 ]
check "... in order" sh -c "tr -d '\r' <'$TMP/reply' | grep -x 'hello from moonwire\|<h1>hi</h1>' | tr '\n' ' ' | grep -qx 'hello from moonwire <h1>hi</h1> hello from moonwire '"
(printf 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'; sleep 0.1
    printf '5\r\nhel'; sleep 0.1; printf 'lo\r\n6;ext=1\r\n world\r\n0\r\n'; sleep 0.1
    printf 'X-Trailer: t\r\n\r\n') | socat -T 3 -t 3 - "TCP:127.0.0.1:$PORT" >"$TMP/reply" 2>/dev/null
check "a chunked body in pieces, with an extension and a trailer" \
    sh -c "tail -c 11 '$TMP/reply' | grep -qx 'hello world'"

raw 'GARBAGE\r\n\r\n'
check "a malformed request line is 400" status_is 400
check "... and the connection is closed with Connection: close" contains "$TMP/reply" "Connection: close"
raw 'GET / HTTP/1.1\r\nHost a\r\n\r\n'
check "a header without a colon is 400" status_is 400
raw 'GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n'
check "an obsolete folded header line is 400" status_is 400
raw 'GET / HTTP/1.1\r\n\r\n'
check "HTTP/1.1 without Host is 400" status_is 400
raw 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n'
check "a bad Content-Length is 400" status_is 400
raw 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
check "Content-Length with Transfer-Encoding is 400" status_is 400
raw 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'
check "a bad chunk size is 400" status_is 400
raw 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n'
check "an unknown Transfer-Encoding is 501" status_is 501
raw 'GET / HTTP/2.0\r\nHost: a\r\n\r\n'
check "HTTP/2.0 in a request line is 505" status_is 505
raw 'GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n'
check "a tab in the request target is 400" status_is 400
raw 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n'
check "two spaces after the method are 400" status_is 400
raw 'GET / HTTP/1.10\r\nHost: a\r\n\r\n'
check "HTTP/1.10 is 400" status_is 400
raw 'G(T / HTTP/1.1\r\nHost: a\r\n\r\n'
check "a method that is not a token is 400" status_is 400
raw 'BREW / HTTP/1.1\r\nHost: a\r\n\r\n'
check "an unknown method that is a token reaches the handler (405 here)" status_is 405
raw 'GET / HTTP/1.1\r\nHost: a\r\nX-Odd: \t v a l \t\r\nConnection: close\r\n\r\n'
check "a header value padded with spaces and tabs is trimmed, not refused" status_is 200
raw 'GET / HTTP/1.1\r\nHost: a\r\nX-Nul: a\0b\r\n\r\n'
check "a NUL in a header value is 400" status_is 400
raw 'GET / HTTP/1.1\r\nHost: a\r\nX-Cr: a\rb\r\n\r\n'
check "a bare CR in a header value is 400" status_is 400
raw 'GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n'
check "a header name with a space is 400" status_is 400
raw 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n'
check "a Content-Length over max_body is 413" status_is 413
raw "GET /$(head -c 9000 /dev/zero | tr '\0' a) HTTP/1.1\r\nHost: a\r\n\r\n"
check "a 9 KB request line is 414" status_is 414
raw "GET / HTTP/1.1\r\nHost: a\r\nX-Big: $(head -c 20000 /dev/zero | tr '\0' a)\r\n\r\n"
check "a 20 KB header section is 431" status_is 431

timeout 30 wrk -t1 -c10 -d1s "$URL/" >"$TMP/wrk" 2>&1
wrk_status=$?
sed 's/^/#   /' "$TMP/wrk" | grep -E 'requests in|Non-2xx|errors'
check "wrk: exit 0, requests were served" \
    bash -c "[ $wrk_status -eq 0 ] && grep -q 'requests in' '$TMP/wrk'"
check "wrk: no errors and no non-2xx answers" sh -c "! grep -q 'Non-2xx\|Socket errors' '$TMP/wrk'"
check "the server logged no handler error" sh -c "! grep -q 'error' '$LOG'"
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]

# The handler keeps conn.state and on_close for itself.
start_server state -l 127.0.0.1:0 "$SCRIPTS/http_state.lua" || finish
URL="http://127.0.0.1:$PORT"
check "conn.state is the handler's alone, per connection" \
    [ "$(curl -s "$URL/count" -o /dev/null "$URL/count")" = "2 count" ]
closes=0
for _ in $(seq 40); do
    closes=$(curl -s "$URL/closes")
    [ "$closes" -ge 1 ] && break
    sleep 0.05
done
check "the handler's on_close runs (saw $closes)" [ "$closes" -ge 1 ]
stop_server
check "that server exits 0" [ "$STATUS" -eq 0 ]

# ---- deadlines, strictness and failing handlers (t/scripts/http_strict.lua:
# header_timeout 2 s, body_timeout 3 s, idle_timeout left at 60 s; a 64 MB
# heap) ----
start_server strict --memory-limit 64M -l 127.0.0.1:0 "$SCRIPTS/http_strict.lua" || finish
URL="http://127.0.0.1:$PORT"

# cut_end HEAD REST: sends HEAD, then REST 0.3 s later (a read that ends
# inside the line end); the reply goes to $TMP/reply.
cut_end() {
    (printf '%s' "$1"; sleep 0.3; printf "$2"; sleep 0.3) |
        socat -T 3 -t 3 - "TCP:127.0.0.1:$PORT" >"$TMP/reply" 2>/dev/null
}
a_run() { head -c "$1" /dev/zero | tr '\0' "$2"; }

# A line (8192 bytes, max_request_line) or a head (16384, max_header) of
# exactly the limit is taken when a read ends inside its CRLF (found by
# t/fuzz/fuzz_http: it was refused, whole it was taken).
cut_end "GET /$(a_run 8178 a) HTTP/1.1"$'\r' '\nHost: a\r\nConnection: close\r\n\r\n'
check "a request line of exactly max_request_line, cut in its CRLF, is taken (404, not 414)" \
    status_is 404
head="GET / HTTP/1.1"$'\r\n'"Host: a"$'\r\n'"X: "
cut_end "$head$(a_run $((16384 - ${#head})) b)"$'\r\n\r' '\n'
check "a head of exactly max_header, cut in its CRLFCRLF, is taken (200, not 431)" status_is 200
cut_end "GET /$(a_run 8179 a) HTTP/1.1"$'\r' '\nHost: a\r\n\r\n'
check "one byte more is still 414" status_is 414

# trickle FD FIRST [SECONDS]: writes FIRST (printf format) on FD, then one
# byte a second for SECONDS (default 10) or until the write fails; in the
# background (its PID in TRICKLE).
trickle() {
    (
        send_at_once "$1" "$2"
        for _ in $(seq "${3:-10}"); do
            sleep 1
            printf X >&"$1" 2>/dev/null || exit 0
        done
    ) &
    TRICKLE=$!
}

# took_between LOW HIGH: the last closes_within's EOF_MS is in [LOW, HIGH].
took_between() {
    [ "$EOF_MS" -ge "$1" ] && [ "$EOF_MS" -le "$2" ] && return 0
    echo "# closed after $EOF_MS ms, not within $1..$2 ms"
    return 1
}

exec {slow}<>"/dev/tcp/127.0.0.1/$PORT"
trickle "$slow" 'GET / HTTP/1.1\r\n'
check "a head sent a byte a second is closed at header_timeout (2 s) from its first byte, unanswered" \
    closes_silently_within 6000 "$slow"
check "... not before it, and not re-armed by each byte" took_between 1500 4500
kill "$TRICKLE" 2>/dev/null
exec {slow}>&-
check "... and the log says why" comes_to "$LOG" "http: header timeout"

exec {slow}<>"/dev/tcp/127.0.0.1/$PORT"
trickle "$slow" 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n' 5
check "a body sent a byte a second (each read within body_timeout) is answered" \
    timeout 10 grep -a -m1 -qx XXXXX <&"$slow"
kill "$TRICKLE" 2>/dev/null
exec {slow}>&-

exec {slow}<>"/dev/tcp/127.0.0.1/$PORT"
send_at_once "$slow" 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc'
check "a body that stalls is closed at body_timeout (3 s) after its last read, unanswered" \
    closes_silently_within 7000 "$slow"
check "... not before it" took_between 2500 5500
exec {slow}>&-
check "... and the log says why" comes_to "$LOG" "http: body timeout"

# Many slow heads at once, each a byte a second, while a normal client is
# served; a few hundred, well under the descriptor limit.
slowloris=300
[ "$(ulimit -n)" -ge 1024 ] || slowloris=$(($(ulimit -n) / 4))
cat >"$TMP/slowloris.pl" <<'PERL'
# slowloris.pl PORT N LIMIT_S: N connections each send a request line, then
# a byte a second; prints how many the server closed (and how soon after
# their first byte) and how many bytes it sent them, once all are closed or
# after LIMIT_S seconds.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time);
$SIG{PIPE} = 'IGNORE';
my ($port, $n, $limit) = @ARGV;
my %start;
my $sel = IO::Select->new;
for my $i (1 .. $n) {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die "connect $i: $!\n";
    $s->blocking(0);
    syswrite($s, "GET / HTTP/1.1\r\n");
    $start{fileno $s} = time;
    $sel->add($s);
}
print STDERR "connected\n";
my ($closed, $bytes, $min, $max) = (0, 0, 1e9, 0);
my ($end, $next) = (time + $limit, time + 1);
while ($sel->count && time < $end) {
    for my $s ($sel->can_read(0.1)) {
        my $r = sysread($s, my $buf, 4096);
        next if !defined $r && $!{EAGAIN};
        if ($r) { $bytes += $r; next }
        my $ms = (time - $start{fileno $s}) * 1000;
        $min = $ms if $ms < $min;
        $max = $ms if $ms > $max;
        $closed++;
        $sel->remove($s);
        close $s;
    }
    if (time >= $next) {
        syswrite($_, "X") for $sel->handles;
        $next += 1;
    }
}
printf "opened %d closed %d bytes %d min_ms %d max_ms %d\n", $n, $closed, $bytes, $min, $max;
PERL
perl "$TMP/slowloris.pl" "$PORT" "$slowloris" 15 >"$TMP/slowloris.out" 2>"$TMP/slowloris.err" &
loris=$!
for _ in $(seq 100); do
    grep -q connected "$TMP/slowloris.err" && break
    sleep 0.05
done
code_then=$(code --max-time 3 "$URL/")
wait "$loris"
read -r _ opened _ closed _ bytes _ min_ms _ max_ms <"$TMP/slowloris.out"
echo "# slowloris: $(cat "$TMP/slowloris.out"; grep -v "^connected" "$TMP/slowloris.err")"
check "$slowloris slow heads at once: each closed at its header deadline (${min_ms:-?}..${max_ms:-?} ms)" \
    bash -c "[ '$closed' = '$slowloris' ] && [ '${min_ms:-0}' -ge 1500 ] && [ '${max_ms:-99999}' -le 8000 ]"
check "... with nothing sent to them" [ "$bytes" = 0 ]
check "... while a normal request was answered" [ "$code_then" = 200 ]

# refused_with CODE INPUT: INPUT (printf format) on a connection the client
# keeps open is answered with status CODE and closed by the server within 3 s.
refused_with() {
    local fd status
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
    send_at_once "$fd" "$2"
    closes_within 3000 "$fd"
    status=$?
    exec {fd}>&-
    head -1 "$TMP/eof.data" | grep -q "^HTTP/1.1 $1 " && return $status
    echo "# got: $(head -1 "$TMP/eof.data" | od -c | head -2)"
    return 1
}

check "a NUL in the request target is 400, and closes" refused_with 400 'GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n'
check "a control byte (001) in the request target is 400, and closes" \
    refused_with 400 'GET /a\001b HTTP/1.1\r\nHost: a\r\n\r\n'
check "a DEL in the request target is 400, and closes" refused_with 400 'GET /a\177b HTTP/1.1\r\nHost: a\r\n\r\n'
check "two Host headers are 400, and close" refused_with 400 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'
check "an HTTP/0.9 request line is answered 400 at once, and closes" refused_with 400 'GET /\r\n'
check "bare LF line ends are answered 400 at once, and close" refused_with 400 'GET / HTTP/1.1\nHost: a\n\n'
check "... in the header lines only too" refused_with 400 'GET / HTTP/1.1\r\nHost: a\n\n'
check "... and in a chunk size line" \
    refused_with 400 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n'

curl -s -D "$TMP/h" -o "$TMP/body" "$URL/raise"
check "a handler that raises: 500" grep -q '^HTTP/1.1 500 ' "$TMP/h"
check "... with Connection: close" contains "$TMP/h" "Connection: close"
check "... and the error logged with its traceback" comes_to "$LOG" "http_strict.lua:15: boom from /raise"
check "... the handler's frame in it" contains "$LOG" "http_strict.lua:15: in function"
check "requests before the one that raised are answered, then the 500 closes" \
    refused_with 200 'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /raise HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n'
check "... with nothing after the 500" \
    bash -c "[ \"\$(grep -ac '^HTTP/1.1 ' '$TMP/eof.data')\" = 2 ] && grep -aq '^HTTP/1.1 500 ' '$TMP/eof.data'"

curl -s -D "$TMP/h" -o "$TMP/body" "$URL/table"
check "a handler that returns a table as its body: 500" grep -q '^HTTP/1.1 500 ' "$TMP/h"
check "... not the table's address" sh -c "! grep -q 'table: 0x' '$TMP/body'"
check "... and the error names the handler (file:line)" \
    comes_to "$LOG" "http_strict.lua:25 returned a table as its body, not a string"
check "a string as the status: 500" [ "$(code "$URL/status")" = 500 ]
check "... logged" comes_to "$LOG" "returned a string as its status, not a number"
check "a table as a header's value: 500" [ "$(code "$URL/header")" = 500 ]
check "... logged" comes_to "$LOG" "returned a table as header X-Bad, not a string"
check "a handler's memory error closes its connection unanswered" [ "$(code "$URL/grow")" = 000 ]
check "... with reason out of memory" comes_to "$LOG" 'reason="out of memory"'
check "after all that the server still answers" [ "$(curl -s "$URL/")" = ok ]
stop_server
check "that server exits 0" [ "$STATUS" -eq 0 ]
finish
