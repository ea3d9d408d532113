#!/bin/sh
# Command-line errors and their exit codes (a bad --max-conns or
# --memory-limit value, an unknown --user included), and --check.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 56

# run EXPECTED_STATUS ARGS...: runs moonwire, output to $TMP/out and $TMP/err;
# one that serves instead of exiting is stopped after 20 s (status 124).
run() {
    expected=$1
    shift
    timeout 20 "$MOONWIRE" "$@" >"$TMP/out" 2>"$TMP/err"
    status=$?
    [ "$status" -eq "$expected" ] && return 0
    echo "# moonwire $*: exit $status, expected $expected" && sed 's/^/#   /' "$TMP/err"
    return 1
}

check "unknown option exits 2" run 2 --frobnicate "$EXAMPLES/echo.lua"
check "unknown option is named, with usage, on stderr" contains "$TMP/err" "unknown option '--frobnicate'"
check "usage follows the error" contains "$TMP/err" "usage: moonwire"
check "bad --log-level value exits 2" run 2 --log-level loud "$EXAMPLES/echo.lua"
check "bad value is named" contains "$TMP/err" "loud"
check "option without its value exits 2" run 2 "$EXAMPLES/echo.lua" --listen
check "no SCRIPT exits 2" run 2 -l 127.0.0.1:0
check "-h exits 0" run 0 -h
check "-h prints usage on stdout" contains "$TMP/out" "--listen ADDR"
check "-V exits 0" run 0 -V
check "-V prints the version" contains "$TMP/out" "moonwire 0."

check "unparsable address exits 1" run 1 -l 127.0.0.1:99999 "$EXAMPLES/echo.lua"
check "unparsable address is named" contains "$TMP/err" "invalid address '127.0.0.1:99999'"

start_server holder -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
check "address in use exits 1" run 1 -l "127.0.0.1:$PORT" "$EXAMPLES/echo.lua"
check "address in use names the address and the reason" \
    contains "$TMP/err" "bind 127.0.0.1:$PORT: Address already in use"
check "... with no word of privileges" bash -c "! grep -q 'privileges' '$TMP/err'"
stop_server

# A port below 1024 (net.ipv4.ip_unprivileged_port_start) as a user who may
# not bind it: the reason, and how to get the right. Needs root (to become
# nobody): CI has it, so without it the checks fail and say why.
start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)
low=$((start > 80 ? 80 : start - 1))
if [ "$(id -u)" -ne 0 ] || ! id nobody >/dev/null 2>&1 || [ "$low" -lt 1 ]; then
    ok 1 "a privileged port as nobody exits 1 (cannot: not root, no user nobody, or none is)"
    ok 1 "... saying why, and what to do (cannot: not root, no user nobody, or none is)"
else
    mkdir "$TMP/public" && cp "$EXAMPLES/echo.lua" "$TMP/public/" && chmod 711 "$TMP"
    chmod 755 "$TMP/public" && chmod 644 "$TMP/public/echo.lua"
    timeout 20 setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
        "$MOONWIRE" -l "127.0.0.1:$low" "$TMP/public/echo.lua" >"$TMP/out" 2>"$TMP/err"
    check "a privileged port ($low) as nobody exits 1" [ $? -eq 1 ]
    check "... saying why, and what to do" contains "$TMP/err" \
        "bind 127.0.0.1:$low: Permission denied (ports below $start need privileges: run as root \
with --user to serve as another user, or grant CAP_NET_BIND_SERVICE)"
    chmod 700 "$TMP"
fi

check "missing script exits 1" run 1 -l 127.0.0.1:0 "$TMP/no-such-script.lua"
check "missing script is named with the reason" contains "$TMP/err" "no-such-script.lua: No such file"
check "syntax error exits 1" run 1 -l 127.0.0.1:0 "$SCRIPTS/syntax_error.lua"
check "syntax error has file:line" contains "$TMP/err" "syntax_error.lua:5:"
check "error while loading exits 1" run 1 -l 127.0.0.1:0 "$SCRIPTS/load_error.lua"
check "load error has file:line and message" contains "$TMP/err" "load_error.lua:3: cannot start"
{ echo '#!/usr/bin/env moonwire'; cat "$SCRIPTS/load_error.lua"; } >"$TMP/shebang.lua"
check "a script with a #! line: the line is skipped" run 1 -l 127.0.0.1:0 "$TMP/shebang.lua"
check "and line numbers count it" contains "$TMP/err" "shebang.lua:4: cannot start"
check "script not returning a table exits 1" run 1 "$SCRIPTS/returns_number.lua"
check "handler field of the wrong type exits 1" run 1 "$SCRIPTS/bad_handler_field.lua"
check "wrong field is named" contains "$TMP/err" "handler field 'on_data' must be a function"
check "--max-conns 0 exits 2" run 2 --max-conns 0 --check "$EXAMPLES/echo.lua"
check "... naming the value" contains "$TMP/err" "moonwire: invalid --max-conns '0' (expected 1 "
check "... with usage" contains "$TMP/err" "usage: moonwire"
check "--max-conns past a long (overflow) exits 2" run 2 --max-conns 99999999999999999999 --check "$EXAMPLES/echo.lua"
check "... naming the value" contains "$TMP/err" "invalid --max-conns '99999999999999999999'"
check "--max-conns with a suffix exits 2 (a count takes none)" run 2 --max-conns 1K --check "$EXAMPLES/echo.lua"
check "--memory-limit 64MB exits 2" run 2 --memory-limit 64MB --check "$EXAMPLES/echo.lua"
check "... naming the value and the form expected" \
    contains "$TMP/err" "moonwire: invalid --memory-limit '64MB' (expected e.g. 64M)"
check "--memory-limit 0 exits 2" run 2 --memory-limit 0 --check "$EXAMPLES/echo.lua"
check "--memory-limit past 1e15 bytes exits 2" run 2 --memory-limit 99999999999G --check "$EXAMPLES/echo.lua"
check "--memory-limit 64M, 512k, 1G and --max-conns 100 are taken" \
    run 0 --memory-limit 64M --memory-limit 512k --memory-limit 1G --max-conns 100 --check "$EXAMPLES/echo.lua"
check "a --memory-limit too small for a Lua state is a usage error: exit 2" \
    run 2 --memory-limit 1K -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
check "... naming the limit and the smallest that works" contains "$TMP/err" \
    "moonwire: --memory-limit '1K' is too small: a worker's Lua state needs at least 256K"
check "... before any worker starts" bash -c "! grep -q 'worker 0 started' '$TMP/err'"
check "--check under the same limit exits 2 too" run 2 --check --memory-limit 1K "$EXAMPLES/echo.lua"
check "so does a limit just under the floor (255K)" run 2 --check --memory-limit 255K "$EXAMPLES/echo.lua"
check "the floor itself (256K) runs echo.lua" run 0 --check --memory-limit 256K "$EXAMPLES/echo.lua"
check "an unknown --user exits 1" run 1 -l 127.0.0.1:0 --user no_such_user_mw "$EXAMPLES/echo.lua"
check "... saying so" contains "$TMP/err" "--user no_such_user_mw: no such user"
check "... before binding anything" bash -c "! grep -q 'listening on' '$TMP/err'"
check "--check of a good script exits 0" run 0 --check "$EXAMPLES/echo.lua"
check "... printing its path and ': ok' on stdout, nothing on stderr" \
    bash -c "[ \"\$(cat '$TMP/out')\" = '$EXAMPLES/echo.lua: ok' ] && [ ! -s '$TMP/err' ]"
shown=$(sed -n '/^\$ moonwire --check examples\/echo\.lua$/{n;p;q}' "$MW_SRCDIR/man/moonwire.1")
(cd "$MW_SRCDIR" && "$MOONWIRE" --check examples/echo.lua >"$TMP/out" 2>&1)
check "moonwire(1) shows what --check prints ('${shown:-nothing}')" \
    bash -c "[ -n '$shown' ] && [ \"\$(cat '$TMP/out')\" = '$shown' ]"
check "--check of a broken script exits 1" run 1 --check "$SCRIPTS/syntax_error.lua"
# Lua shortens a long path to its end ("...t/scripts/syntax_error.lua"), as
# in a distcheck's build tree.
check "... naming the file and line, at level error" \
    grep -qE "\[error\] (\.\.\.)?[^ ]*scripts/syntax_error\.lua:5: " "$TMP/err"
check "... and no worker: there is none" bash -c "! grep -q 'worker' '$TMP/err'"
check "... printing nothing on stdout" [ ! -s "$TMP/out" ]
finish
