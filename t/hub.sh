#!/bin/bash
# A write to a connection that has gone returns nil, "closed" and never
# raises: a hub task that broadcasts to a list of connections, and learns of
# a close only from a write, keeps serving while clients come and go.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 10

ASK_TIMEOUT=5
trap '' PIPE # a client cut off fails its checks, it does not end the test

# hears FD LINE: the next line on FD is LINE.
hears() {
    local line
    read -r -t 5 line <&"$1"
    [ "$line" = "$2" ] && return 0
    echo "# fd $1 heard '$line', expected '$2'"
    return 1
}

# say_and_hear LINE: the speaker (fd 5) says LINE; it and the bystander
# (fd 3) both hear it.
say_and_hear() {
    printf '%s\n' "$1" >&5
    hears 3 "$1" && hears 5 "$1"
}

# churn N: N clients (perl) connect and leave: a third closes at once, a
# third after hearing a line, a third with a reset (SO_LINGER 0).
churn() {
    perl -MIO::Socket::INET -MSocket -e '
        my ($port, $n) = @ARGV;
        for my $i (1 .. $n) {
            my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port)
                or die "connect: $!\n";
            if ($i % 3 == 1) {
                my $rin = ""; vec($rin, fileno($s), 1) = 1;
                sysread($s, my $buf, 4096) if select($rin, undef, undef, 0.2);
            } elsif ($i % 3 == 2) {
                $s->setsockopt(SOL_SOCKET, SO_LINGER, pack("ii", 1, 0));
            }
            close $s;
        }' "$PORT" "$1"
}

# talk N: the speaker says N lines, 5 ms apart, heard by the bystander.
talk() {
    for i in $(seq "$1"); do
        say_and_hear "line $i" || return 1
        sleep 0.005
    done
}

start_server hub -l 127.0.0.1:0 "$SCRIPTS/hub.lua"
WORKER=$(worker_pid)
exec 3<>"/dev/tcp/127.0.0.1/$PORT" 5<>"/dev/tcp/127.0.0.1/$PORT"
check "the hub broadcasts a line to every connection" say_and_hear "hello"

# fd4_says LINE: fd 4 says LINE (the hub has it by then: it is accepted
# before it is read), and it, the speaker and the bystander hear it.
fd4_says() {
    printf '%s\n' "$1" >&4
    hears 4 "$1" && hears 3 "$1" && hears 5 "$1"
}

exec 4<>"/dev/tcp/127.0.0.1/$PORT"
check "a third connection's line is heard by all three" fd4_says "three"
exec 4>&-
check "... then leaves, and the server sees it gone" \
    matches_come_to "$LOG" 1 'access: conn=3 .*reason="eof"'
# (the hub writes to the gone one last: the second line shows it lived on)
check "broadcasts after it is gone reach the others: the hub's write returned, not raised" \
    eval 'say_and_hear "after one left" && say_and_hear "and after that"'

churn 300 &
CHURN=$!
check "300 clients come and go (closing, reading first, resetting) while 100 lines are broadcast" \
    talk 100
wait "$CHURN"
check "... all 300 connected and left" [ $? -eq 0 ]
check "the hub still runs after the churn" say_and_hear "final"
printf 'count\n' >&5
check "it dropped every closed connection: it holds the speaker and the bystander" \
    bash -c 'read -r -t 5 a <&3 && read -r -t 5 b <&3 && [ "$a $b" = "count held 2" ]'
check "no error was logged" bash -c "! grep -F '[error]' '$LOG'"
check "... and the worker is the first one" still_worker "$WORKER"
exec 3>&- 5>&-
finish
