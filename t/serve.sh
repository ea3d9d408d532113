#!/bin/bash
# The serve form: a coroutine task per connection with conn:read(n),
# conn:read_line() and conn:read_until(delim).
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 12

start_server serve -l 127.0.0.1:0 "$SCRIPTS/serve_lines.lua"
exchange 'one\r\nBODY 5\nab\ncdUNTIL ;;\nxyz;;SLEEP\nlast\nQUIT\nignored\n'
check "read_line, read(n), read_until and mw.sleep in one pipelined exchange" \
    replied 'ready\nline:one\nbody:ab\ncd\nuntil:xyz\nslept\nline:last\nbye\n'
check "returning from serve closes the connection" contains "$LOG" "closed 1 closed"
exchange 'FAIL\n'
check "an error in serve closes only its connection" replied 'ready\n'
check "and is logged with its traceback" contains "$LOG" "serve_lines.lua:26: serve failed on purpose"
check "with reason 'error'" contains "$LOG" "closed 2 error"
exchange 'x\n'
check "a peer that leaves makes read_line return nil, 'closed'" contains "$LOG" "read_line: closed"
(printf 'SLEEP\n'; sleep 0.05) | socat -T 1 -t 0.05 - "TCP:127.0.0.1:$PORT" >/dev/null 2>&1
sleep 0.4
check "a serve task sleeping when its peer leaves is stopped, not failed" \
    [ "$(grep -c 'serve failed\|attempt to\|connection is closed' "$LOG")" -eq 1 ]
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]

start_server echo -l 127.0.0.1:0 "$SCRIPTS/serve_echo.lua"
check "serve echo: 1 MiB through one connection" echocheck 127.0.0.1 "$PORT" 1 1048576 20
check "serve echo: 100 concurrent connections" echocheck 127.0.0.1 "$PORT" 100 20000 20
stop_server

start_server greet -l 127.0.0.1:0 "$EXAMPLES/greet.lua"
exchange 'Ada\nhi\n\n'
check "examples/greet.lua" replied 'What is your name?\nHello, Ada! Type lines; an empty one ends.\nAda said: hi\nGoodbye, Ada.\n'
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]
finish
