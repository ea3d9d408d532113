#!/bin/sh
# 200 connections at once, each echoing its own byte stream.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 4

start_server echo -l 127.0.0.1:0 "$EXAMPLES/echo.lua"
worker=$(worker_pid)
check "200 concurrent connections x 64 KiB echoed" \
    echocheck 127.0.0.1 "$PORT" 200 65536 30
check "200 concurrent connections x 1 byte echoed" \
    echocheck 127.0.0.1 "$PORT" 200 1 30
# same_worker: the worker that served them is alive and was never replaced.
same_worker() { [ -n "$worker" ] && kill -0 "$worker" && [ "$(worker_pid)" = "$worker" ]; }
check "the worker that served them still runs, never replaced (pid $worker)" same_worker
stop_server
check "server exits 0" [ "$STATUS" -eq 0 ]
finish
