#!/bin/sh
# Both reference pages are well-formed and their quotes come out as written
# (their contents against --help and the Lua API are checked by t/apidoc.sh):
# the linter is clean; in the text mandoc renders, and groff, no paragraph
# has an odd number of double quotes or a run of them; and in the source no
# quoting macro swallows text its line does not show it quoting. The checks
# are first shown to catch the breakage they were written for (issue 19).
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 10

# render_mandoc PAGE, render_groff PAGE: the page as a terminal shows it,
# without bold or underline.
render_mandoc() { mandoc -Tutf8 "$1" | col -b; }
render_groff() { groff -mdoc -Tutf8 -P-c "$1" 2>"$TMP/groff.err" | col -b; }

# quotes_pair FILE: in the rendered text FILE, each paragraph has an even
# number of double quotes (and as many opening as closing typographic ones),
# and no run of them: """, or "" against a word, is a quote macro that took
# in the next one (the paragraphs that fail are shown).
quotes_pair() {
    awk '
    function flush(  s, n, o, c) {
        s = par
        n = gsub(/"/, "", s)
        o = gsub(/\342\200\234/, "", s)
        c = gsub(/\342\200\235/, "", s)
        if (n % 2 || o != c || par ~ /"""|[[:alnum:]]""|""[[:alnum:]]|\342\200\234\342\200\235/) {
            print "# " substr(par, 1, 400)
            bad = 1
        }
        par = ""
    }
    /^[ \t]*$/ { flush(); next }
    { line = $0; sub(/^[ \t]+/, "", line); par = par (par == "" ? "" : " ") line }
    END { flush(); exit bad }
    ' "$1"
}

# quote_scopes PAGE: Qq, Dq, Sq and Ql quote up to the end of their line, so
# one that comes after other text on its line must quote one argument (a
# word, or a "phrase in quotes"), closing punctuation aside, and none may hold
# another; a longer quote in a line says where it ends with Qo ... Qc. The
# lines that fail are shown: (framing Qq raw , idle_timeout 60000) renders
# (framing "raw, idle_timeout 60000").
quote_scopes() {
    awk '
    # split: the arguments of a macro line into A[1..n], Q[i] set when quoted.
    function split_args(line,   i, c, cur, inq, n, started) {
        n = 0; cur = ""; inq = 0; started = 0
        for (i = 1; i <= length(line); i++) {
            c = substr(line, i, 1)
            if (inq) {
                if (c == "\"") inq = 0; else cur = cur c
            } else if (c == "\\") {
                cur = cur c substr(line, ++i, 1); started = 1
            } else if (c == "\"" && !started) {
                inq = 1; started = 1; Q[n + 1] = 1
            } else if (c == " ") {
                if (started) { A[++n] = cur; cur = ""; started = 0 }
            } else {
                cur = cur c; started = 1
            }
        }
        if (started) A[++n] = cur
        return n
    }
    function quoting(i) { return !Q[i] && A[i] ~ /^(Qq|Dq|Sq|Ql)$/ }
    /^\.\\"/ { next }
    /^\./ {
        split("", A); split("", Q)
        n = split_args(substr($0, 2))
        for (i = 1; i <= n; i++) {
            if (!quoting(i)) continue
            last = n
            while (last > i && !Q[last] && A[last] ~ /^[.,:;?!)\]]$/) last--
            nested = 0
            for (j = i + 1; j <= last; j++) if (quoting(j)) nested = 1
            if (nested || (i > 1 && last - i > 1)) {
                print "# " FILENAME ":" FNR ": " $0
                bad = 1
            }
            break
        }
    }
    END { exit bad }
    ' "$1"
}

# at_least_lines FILE: FILE has 200 lines or more (a page that rendered to
# nothing would pass quotes_pair).
at_least_lines() { [ "$(wc -l <"$1")" -ge 200 ]; }

# A page with the four quotes that were broken, and one with them mended.
page_with() {
    printf '.Dd November 23, 2026\n.Dt Q 7\n.Os\n.Sh NAME\n.Nm q\n.Nd quotes\n'
    printf '.Sh DESCRIPTION\n%s\n' "$@"
}
page_with 'reason' '.Pq Qq eof , Qq closed , Qq reset , Qq idle timeout , Qq bad PROXY header ... :' \
    '.Pp' 'a table' '.Pq framing Qq raw , idle_timeout 60000' \
    '.Pp' 'Content-Type' '.Pq Qq text/plain unless given' \
    '.Pp' 'the body' '.Pq Qq No without one ,' >"$TMP/broken.7"
page_with 'reason' '.Pq Qo eof Qc , Qo closed Qc , Qo reset Qc , Qo idle timeout Qc , Qq "bad PROXY header ..." :' \
    '.Pp' 'a table' '.Pq framing Qo raw Qc , idle_timeout 60000' \
    '.Pp' 'Content-Type' '.Pq Qo text/plain Qc unless given' \
    '.Pp' 'the body' '.Pq Qo Qc No without one ,' >"$TMP/mended.7"
render_mandoc "$TMP/broken.7" >"$TMP/broken.txt"
render_mandoc "$TMP/mended.7" >"$TMP/mended.txt"
quote_scopes "$TMP/broken.7" >"$TMP/broken.scopes"
flagged=$(grep -c '^# ' "$TMP/broken.scopes")
! quotes_pair "$TMP/broken.txt" >/dev/null && [ "$flagged" -eq 4 ]
ok $? "the checks catch the quotes that were broken: a run of quotes rendered, and $flagged of 4\
 quotes that swallow what follows them"
quotes_pair "$TMP/mended.txt" && quote_scopes "$TMP/mended.7" && contains "$TMP/mended.txt" '("" without one)'
ok $? "and pass them mended (Qo ... Qc)"

for page in "$MW_SRCDIR/man/moonwire.1" "$MW_SRCDIR/man/moonwire-lua.3"; do
    name=$(basename "$page" | sed 's/\.\([0-9]\)$/(\1)/')
    check "$name lints clean" lint_page "$page"
    render_mandoc "$page" >"$TMP/mandoc.txt"
    at_least_lines "$TMP/mandoc.txt" && quotes_pair "$TMP/mandoc.txt"
    ok $? "$name as mandoc renders it: every paragraph's quotes pair up"
    if command -v groff >/dev/null; then
        render_groff "$page" >"$TMP/groff.txt"
        at_least_lines "$TMP/groff.txt" && quotes_pair "$TMP/groff.txt"
        ok $? "$name as groff renders it: every paragraph's quotes pair up"
    else
        tap_count=$((tap_count + 1))
        echo "ok $tap_count - $name as groff renders it # SKIP groff is not installed"
    fi
    check "$name: no quoting macro takes in more than its line shows" quote_scopes "$page"
done
finish
