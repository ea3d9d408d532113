#!/bin/bash
# The harness catches what the master hides: a test whose worker crashes,
# whose server log holds a sanitizer report, or whose server never started
# fails, though every check of its own passed; it keeps its directory (server
# log included) and says where. Each case is a small test run on its own.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 13

# The inner tests' directories (their planted failures included) sit apart
# from $TMP, which this test's own finish checks; removed if all went well.
INNERS=$(mktemp -d "${TMPDIR:-/tmp}/mwharness.XXXXXX")

# inner NAME BODY: writes a test that sources lib.sh and runs BODY after one
# passing check; runs it with its temp directory under $INNERS/NAME; its TAP
# in $TMP/NAME.tap, its exit status in INNER; OUTER names this test's directory.
inner() {
    mkdir -p "$INNERS/$1"
    printf '. "$MW_SRCDIR/t/lib.sh"\nplan 1\n%s\nok 0 "its own check passes"\nfinish\n' \
        "$2" >"$TMP/$1.sh"
    OUTER=$TMP TMPDIR="$INNERS/$1" bash "$TMP/$1.sh" >"$TMP/$1.tap" 2>&1
    INNER=$?
}

# kept NAME: the inner test NAME kept its directory, with the server log in it.
kept() {
    dir=$(sed -n 's/^# FAILED: kept //p' "$TMP/$1.tap")
    [ -n "$dir" ] && [ -s "$dir/mw.log" ]
}

# last_line_fails NAME: the inner test's own check passed and its last one failed.
last_line_fails() {
    grep -q '^ok 1 - its own check passes' "$TMP/$1.tap" &&
        grep -q '^not ok 2 - servers started' "$TMP/$1.tap"
}

SEGV='start_server mw -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
kill -SEGV "$(worker_pid)"
comes_to "$LOG" "killed by signal 11" >/dev/null
for _ in $(seq 50); do echocheck 127.0.0.1 "$PORT" 1 100 2 && break; sleep 0.1; done'

inner segv "$SEGV"
check "a worker killed by SIGSEGV fails a test whose checks all passed" [ "$INNER" -ne 0 ]
check "... on the harness's own last check" last_line_fails segv
# Under ASan, the sanitizer catches the signal and reports it instead.
check "... which names the death" grep -qE 'killed by signal 11|AddressSanitizer: SEGV' "$TMP/segv.tap"
check "... and the test keeps its directory with the server log" kept segv

# SIGKILL, which no sanitizer sees: the death is the only trouble.
KILL=$(echo "$SEGV" | sed 's/-SEGV/-KILL/; s/signal 11/signal 9/')
inner declared "$KILL
expect_deaths 1"
check "declared with expect_deaths 1, a worker killed by SIGKILL passes" [ "$INNER" -eq 0 ]
check "... and the directory is removed" [ -z "$(ls -A "$INNERS/declared")" ]

inner twice "$KILL
expect_deaths 2"
check "a declared count that does not match fails" [ "$INNER" -ne 0 ]

cat >"$TMP/reports.lua" <<'LUA'
return { on_data = function(conn, data)
  io.stderr:write("==1==ERROR: AddressSanitizer: heap-use-after-free\n")
  conn:write(data)
end }
LUA
inner asan 'start_server mw -l 127.0.0.1:0 "$OUTER/reports.lua"
echocheck 127.0.0.1 "$PORT" 1 100 5'
check "a sanitizer report in the server log fails the test" [ "$INNER" -ne 0 ]
check "... and is shown" grep -q 'AddressSanitizer: heap-use-after-free' "$TMP/asan.tap"

cat >"$TMP/exits.lua" <<'LUA'
return { on_data = function() os.exit(1) end }
LUA
inner exits 'ASAN_OPTIONS=detect_leaks=0 start_server mw -l 127.0.0.1:0 "$OUTER/exits.lua"
printf "x\n" | socat -T 3 - "TCP:127.0.0.1:$PORT" >/dev/null 2>&1
comes_to "$LOG" "exited with status 1" >/dev/null'
check "a worker that exits with status 1 fails the test" [ "$INNER" -ne 0 ]
check "... which names it" grep -q '1 worker death(s), 0 expected' "$TMP/exits.tap"

inner nostart 'start_server mw -l 127.0.0.1:0 "$TMP/missing.lua"'
check "a server that does not start fails the test" [ "$INNER" -ne 0 ]
check "... saying so" grep -q 'server(s) did not start' "$TMP/nostart.tap"
[ "$tap_failed" -eq 0 ] && rm -rf "$INNERS" || echo "# the inner tests are in $INNERS"
finish
