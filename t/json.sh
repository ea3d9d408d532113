#!/bin/bash
# JSON with Debian's lua-cjson: examples/http.lua's GET /stats answers
# mw.stats() in JSON (curl, jq); http.json(status, value [, headers]) sets
# Content-Type application/json unless given one; what cjson cannot encode or
# decode is an error in that handler: a 500, logged and counted, and the
# worker serves on.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 14

# curl: never waits more than 20 s for an answer.
curl() { command curl --max-time 20 "$@"; }

# get PATH [ARGS...]: the response to a request for PATH, headers in
# $TMP/h, body in $TMP/body; prints the status.
get() {
    path=$1
    shift
    curl -s -D "$TMP/h" -o "$TMP/body" -w '%{http_code}' "$@" "$URL$path"
}

# json_is FILTER: jq's FILTER is true of the last body.
json_is() {
    jq -e "$1" "$TMP/body" >/dev/null && return 0
    echo "# jq '$1' is not true of:" && sed 's/^/#   /' "$TMP/body"
    return 1
}

start_server example -l 127.0.0.1:0 "$EXAMPLES/http.lua" || finish
URL="http://127.0.0.1:$PORT"
check "examples/http.lua: GET /stats is 200" [ "$(get /stats)" = 200 ]
check "... with Content-Type application/json" contains "$TMP/h" "Content-Type: application/json"
check "... and this worker's figures as a JSON object of numbers" \
    json_is '.connections >= 1 and .accepted >= 1 and .heap_in_use > 0
        and (.handler_errors | type) == "number" and ([.[] | type] | unique) == ["number"]'
curl -s -I "$URL/stats" >"$TMP/head"
check "HEAD /stats: the headers, no body" \
    bash -c "grep -q 'Content-Type: application/json' '$TMP/head' && ! grep -q heap '$TMP/head'"
stop_server

start_server json -l 127.0.0.1:0 "$SCRIPTS/json.lua" || finish
URL="http://127.0.0.1:$PORT"
WORKER=$(worker_pid)
get /value >/dev/null
check "http.json: tables, arrays, strings and booleans encoded by cjson" \
    json_is '.list == [1, 2, 3] and .name == "moonwire" and .ok == true'
check "http.json with headers: its status, and the headers given" \
    bash -c "[ \"\$(curl -s -D '$TMP/h' -o '$TMP/body' -w '%{http_code}' '$URL/typed')\" = 201 ] && grep -q '^X-Id: 7' '$TMP/h'"
check "... a Content-Type given (in any case) replaces application/json" \
    bash -c "[ \"\$(grep -ci '^content-type:' '$TMP/h')\" = 1 ] && grep -q 'content-type: application/vnd.x+json' '$TMP/h'"
check "a value cjson cannot encode is a 500" [ "$(get /function-kept)" = 500 ]
# Lua shortens a long path to its end, as in a distcheck's build tree.
check "... logged as the handler's error, where it called http.json, in cjson's words" \
    comes_to "$LOG" 'scripts/json.lua:15: http.json: Cannot serialise function: type not supported'
check "called as a tail call (return http.json(...)), the error names the http handler instead" \
    bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$URL/function')\" = 500 ] &&
        grep -qE 'on_data: http\.json: Cannot serialise function: type not supported \(in http handler [^ ]*scripts/json\.lua:29\)' '$LOG'"
check "cjson.decode under pcall: a bad body answered with 400" \
    [ "$(get /decode --data-binary '{"a": 1,')" = 400 ]
get /decode --data-binary '{"a": 1, "b": 2}' >/dev/null
check "... and a good one decoded" json_is '.sum == 3'
check "cjson.decode raising in the handler is a 500" \
    [ "$(get /decode-raw --data-binary 'not json')" = 500 ]
get /errors >/dev/null
check "the three errors counted (mw.stats().handler_errors), and the same worker serves on" \
    bash -c "jq -e '.handler_errors == 3' '$TMP/body' >/dev/null && kill -0 $WORKER"
finish
