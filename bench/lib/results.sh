# results.sh: the per-run figures (one "kind key server round metric value"
# line each, in $BENCH_WORK/runs.tsv), their medians and ranges, and
# RESULTS.md. Needs BENCH_WORK.

# Records the RESULT fields of one loadgen output file. A field that is
# missing, or -1 (the load generator's "no figure", e.g. when it lost the
# server's processes), is recorded as nan: no figure, which no median,
# ratio or target takes for a number.
res_record() { # res_record KIND KEY SERVER ROUND OUTFILE METRIC...
    local kind=$1 key=$2 srv=$3 round=$4 out=$5 m v
    shift 5
    for m in "$@"; do
        v=$(bench_field "$out" "$m")
        case $v in -1 | -1.0*) v=nan ;; esac
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$key" "$srv" "$round" "$m" "${v:-nan}" \
            >>"$BENCH_WORK/runs.tsv"
    done
}

# runs.tsv -> stats.tsv: kind key server metric median min max sum n
res_stats() {
    sort -t "$(printf '\t')" -k1,1 -k2,2 -k3,3 -k5,5 -k6,6g "$BENCH_WORK/runs.tsv" | awk -F '\t' '
    function flush() {
        if (n == 0) return
        med = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        printf "%s\t%s\t%s\t%s\t%.10g\t%.10g\t%.10g\t%.0f\t%d\n", k1, k2, k3, k4, med, v[1], v[n], sum, n
        n = 0; sum = 0
    }
    $6 == "nan" { next }
    { id = $1 SUBSEP $2 SUBSEP $3 SUBSEP $5
      if (id != last) { flush(); k1 = $1; k2 = $2; k3 = $3; k4 = $5; last = id }
      v[++n] = $6 + 0; sum += $6 }
    END { flush() }' >"$BENCH_WORK/stats.tsv"
    res_load
}

# Loads stats.tsv into RES_STAT, so that tables need no process per cell.
res_load() {
    declare -gA RES_STAT=()
    local a b c d med min max sum n
    while IFS=$'\t' read -r a b c d med min max sum n; do
        RES_STAT["$a|$b|$c|$d|med"]=$med
        RES_STAT["$a|$b|$c|$d|min"]=$min
        RES_STAT["$a|$b|$c|$d|max"]=$max
        RES_STAT["$a|$b|$c|$d|sum"]=$sum
        RES_STAT["$a|$b|$c|$d|n"]=$n
    done <"$BENCH_WORK/stats.tsv"
}

# Prints one statistic: FIELD is med, min, max, sum or n; "" when absent.
res_get() { # res_get KIND KEY SERVER METRIC FIELD
    echo "${RES_STAT["$1|$2|$3|$4|$5"]:-}"
}

# Mismatched bytes plus errors over every run of KIND KEY SERVER: the load
# generator's (failed connections, a run that ended without figures) and the
# run's own (the load generator failed, the server's processes changed, its
# log showed a worker's death, a sanitizer report, a Lua panic or an error).
res_bad() { # res_bad KIND KEY SERVER
    local a b c
    a=$(res_get "$1" "$2" "$3" mismatches sum)
    b=$(res_get "$1" "$2" "$3" errors sum)
    c=$(res_get "$1" "$2" "$3" run_errors sum)
    echo $(( ${a%.*}0 / 10 + ${b%.*}0 / 10 + ${c%.*}0 / 10 ))
}

# The server's process count over the runs: "2", or "1–2" when it varied.
res_procs() { # res_procs KIND KEY SERVER
    local lo hi
    lo=$(res_get "$1" "$2" "$3" procs min)
    hi=$(res_get "$1" "$2" "$3" procs max)
    if [ -z "$lo" ]; then echo "–"; elif [ "$lo" = "$hi" ]; then echo "$lo"; else echo "$lo–$hi"; fi
}

res_fmt() { # res_fmt PRINTF-FORMAT VALUE: "–" when there is no value
    if [ -z "$2" ]; then echo "–"; else printf "$1" "$2"; fi
}

# "median (min–max)" with the given format.
res_range() { # res_range KIND KEY SERVER METRIC FORMAT
    local med
    med=$(res_get "$1" "$2" "$3" "$4" med)
    [ -n "$med" ] || { echo "–"; return; }
    printf "$5 ($5–$5)" "$med" "$(res_get "$1" "$2" "$3" "$4" min)" \
        "$(res_get "$1" "$2" "$3" "$4" max)"
}

# moonwire's median divided by SERVER's, as "0.87×".
res_ratio() { # res_ratio KIND KEY SERVER METRIC
    local a b
    a=$(res_get "$1" "$2" moonwire "$4" med)
    b=$(res_get "$1" "$2" "$3" "$4" med)
    if [ -z "$a" ] || [ -z "$b" ] || [ "$3" = moonwire ]; then echo "–"; return; fi
    awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "–" }'
}

res_echo_table() { # res_echo_table KEY TITLE SERVERS...
    local key=$1 title=$2 s bad
    shift 2
    printf '\n### %s\n\n' "$title"
    echo "| server | req/s, median (min–max) | p50 µs | p99 µs | p999 µs | server CPU ns/message, median (min–max) | moonwire ÷ server, CPU/message | moonwire ÷ server, req/s | loadgen CPU | server processes | bad bytes + errors |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for s in "$@"; do
        [ -n "$(res_get echo "$key" "$s" errors n)" ] || continue
        bad=$(res_bad echo "$key" "$s")
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$s" \
            "$(res_range echo "$key" "$s" rps %.0f)" \
            "$(res_fmt %.0f "$(res_get echo "$key" "$s" p50_us med)")" \
            "$(res_fmt %.0f "$(res_get echo "$key" "$s" p99_us med)")" \
            "$(res_fmt %.0f "$(res_get echo "$key" "$s" p999_us med)")" \
            "$(res_range echo "$key" "$s" srv_ns_per_msg %.0f)" \
            "$(res_ratio echo "$key" "$s" srv_ns_per_msg)" \
            "$(res_ratio echo "$key" "$s" rps)" \
            "$(res_fmt %.0f%% "$(res_get echo "$key" "$s" lg_cpu_pct med)")" \
            "$(res_procs echo "$key" "$s")" "$bad"
    done
}

res_idle_table() { # res_idle_table N SERVERS...
    local n=$1 s
    shift
    printf '\n### %s idle connections\n\n' "$n"
    echo "| server | bytes per connection, median (min–max) | RSS before → after, kB (median) | moonwire ÷ server | server processes | bad bytes + errors |"
    echo "|---|---|---|---|---|---|"
    for s in "$@"; do
        [ -n "$(res_get idle "$n" "$s" errors n)" ] || continue
        printf '| %s | %s | %s → %s | %s | %s | %s |\n' "$s" \
            "$(res_range idle "$n" "$s" bytes_per_conn %.0f)" \
            "$(res_fmt %.0f "$(res_get idle "$n" "$s" rss0_kb med)")" \
            "$(res_fmt %.0f "$(res_get idle "$n" "$s" rss1_kb med)")" \
            "$(res_ratio idle "$n" "$s" bytes_per_conn)" \
            "$(res_procs idle "$n" "$s")" "$(res_bad idle "$n" "$s")"
    done
}

# Why the runs of KIND KEY for the SERVERs cannot be judged on METRIC, or
# nothing when they can: every run clean (no bad bytes, no errors of any
# kind) and a figure from every run.
res_unjudged() { # res_unjudged KIND KEY METRIC SERVER...
    local kind=$1 key=$2 metric=$3 s runs figs bad why=
    shift 3
    for s in "$@"; do
        runs=$(res_get "$kind" "$key" "$s" errors n)
        figs=$(res_get "$kind" "$key" "$s" "$metric" n)
        bad=$(res_bad "$kind" "$key" "$s")
        if [ -z "$runs" ]; then
            why="$why; no $s run"
        elif [ "$bad" -gt 0 ]; then
            why="$why; $s: $bad bad bytes + errors"
        elif [ "${figs:-0}" -lt "$runs" ]; then
            why="$why; $s: no figure in $((runs - ${figs:-0})) of $runs runs"
        fi
    done
    echo "${why#; }"
}

# The verdict on moonwire's median against a peer's times a factor:
# "**yes** (0.87×)" or "no (1.20×)" when res_unjudged finds nothing to say,
# else "no verdict (why)": a run with errors or without a figure is never a yes.
res_target() { # res_target KIND KEY PEER METRIC FACTOR OP
    local a b why
    why=$(res_unjudged "$1" "$2" "$4" moonwire "$3")
    [ -z "$why" ] || { echo "no verdict ($why)"; return; }
    a=$(res_get "$1" "$2" moonwire "$4" med)
    b=$(res_get "$1" "$2" "$3" "$4" med)
    awk -v a="$a" -v b="$b" -v f="$5" -v op="$6" 'BEGIN {
        if (b <= 0) { print "no verdict (no positive figure for the peer)"; exit }
        ok = op == "<" ? a < b * f : a <= b * f
        printf "%s (%.2f×)", ok ? "**yes**" : "no", a / b }'
}

res_targets() { # res_targets ECHO-KEYS -- IDLE-SIZES
    echo "| measurement | CPU/message ≤ echo_bev | ≤ 1.15 × echo_direct | < node |"
    echo "|---|---|---|---|"
    local k b why
    while [ "$1" != -- ]; do
        k=$1
        shift
        printf '| echo %s | %s | %s | %s |\n' "$k" \
            "$(res_target echo "$k" echo_bev srv_ns_per_msg 1 '<=')" \
            "$(res_target echo "$k" echo_direct srv_ns_per_msg 1.15 '<=')" \
            "$(res_target echo "$k" node srv_ns_per_msg 1 '<')"
    done
    shift
    echo
    echo "| idle connections | moonwire bytes per connection | ≤ 512 B |"
    echo "|---|---|---|"
    for k in "$@"; do
        b=$(res_get idle "$k" moonwire bytes_per_conn med)
        why=$(res_unjudged idle "$k" bytes_per_conn moonwire)
        printf '| %s | %s | %s |\n' "$k" "$(res_fmt %.0f "$b")" \
            "$([ -n "$why" ] && echo "no verdict ($why)" ||
                awk -v b="$b" 'BEGIN { print b <= 512 ? "**yes**" : "no" }')"
    done
}

# The new build's median over the baseline's, as "1.004×" (three decimals:
# the rule it is judged by is 1.02).
res_ab_ratio() { # res_ab_ratio KEY METRIC
    local a b
    a=$(res_get echo "$1" moonwire "$2" med)
    b=$(res_get echo "$1" baseline "$2" med)
    if [ -z "$a" ] || [ -z "$b" ]; then echo "–"; return; fi
    awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.3f×", a / b; else print "–" }'
}

# The rule fixed before an A/B run: the new build's median server CPU per
# echoed message at most 1.02 × the baseline's, every run of both clean and
# with a figure: "**yes** (1.004×)", "no (1.031×)" or "no verdict (why)".
res_ab_verdict() { # res_ab_verdict KEY
    local why a b
    why=$(res_unjudged echo "$1" srv_ns_per_msg moonwire baseline)
    [ -z "$why" ] || { echo "no verdict ($why)"; return; }
    a=$(res_get echo "$1" moonwire srv_ns_per_msg med)
    b=$(res_get echo "$1" baseline srv_ns_per_msg med)
    awk -v a="$a" -v b="$b" 'BEGIN {
        if (b <= 0) { print "no verdict (no positive figure for the baseline)"; exit }
        printf "%s (%.3f×)", a <= b * 1.02 ? "**yes**" : "no", a / b }'
}

# The A/B table: per echo row, the new build (moonwire) against the baseline.
res_ab_table() { # res_ab_table ROW... (each "KEY|TITLE")
    local row key
    echo "| echo row | server CPU ns/message, new: median (min–max) | baseline: median (min–max) | new ÷ baseline, CPU/message | req/s, new: median (min–max) | baseline: median (min–max) | new ÷ baseline, req/s | bad bytes + errors, new / baseline | within 2%: new's CPU/message ≤ 1.02 × baseline's |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for row in "$@"; do
        key=${row%%|*}
        printf '| %s | %s | %s | %s | %s | %s | %s | %s / %s | %s |\n' "${row#*|}" \
            "$(res_range echo "$key" moonwire srv_ns_per_msg %.0f)" \
            "$(res_range echo "$key" baseline srv_ns_per_msg %.0f)" \
            "$(res_ab_ratio "$key" srv_ns_per_msg)" \
            "$(res_range echo "$key" moonwire rps %.0f)" \
            "$(res_range echo "$key" baseline rps %.0f)" \
            "$(res_ab_ratio "$key" rps)" \
            "$(res_bad echo "$key" moonwire)" "$(res_bad echo "$key" baseline)" \
            "$(res_ab_verdict "$key")"
    done
}

# Every row at once: "**yes**" when every row is, "no" when one misses,
# else "no verdict".
res_ab_overall() { # res_ab_overall KEY...
    local k v all=yes
    for k in "$@"; do
        v=$(res_ab_verdict "$k")
        case $v in
        no\ verdict*) [ "$all" = yes ] && all="no verdict" ;;
        no*) all=no ;;
        esac
    done
    [ "$all" = yes ] && echo "**yes**" || echo "$all"
}
