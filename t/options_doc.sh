#!/bin/sh
# Every option of the getopt table (src/proc/options.c) is where a user looks
# for it, so a new one cannot be left out again: in --help, the short string
# given to getopt, moonwire(1)'s SYNOPSIS and its list of options, and the
# README's usage lines; and nothing is there that the table lacks.
. "${MW_SRCDIR:-.}/t/lib.sh"
plan 7

page="$MW_SRCDIR/man/moonwire.1"
options_c="$MW_SRCDIR/src/proc/options.c"

# The table, one line per option: NAME SHORT ARG (SHORT - when none, ARG
# "arg" or "none"), from lines like {"listen", required_argument, NULL, 'l'},
sed -n '/long_options\[\] = {/,/^};/p' "$options_c" |
    sed -n "s/^ *{\"\([a-z-]*\)\", \([a-z_]*\), NULL, \([^}]*\)},.*/\1 \3 \2/p" |
    sed "s/ '\(.\)' / \1 /; s/ OPT_[A-Z_]* / - /; s/required_argument/arg/; s/no_argument/none/" \
        >"$TMP/table"
[ "$(wc -l <"$TMP/table")" -ge 16 ] && ! grep -v '^[a-z-]* [a-zA-Z-] \(arg\|none\)$' "$TMP/table"
ok $? "the option table was read: $(wc -l <"$TMP/table") options ($(awk '{ printf "%s ", $1 }' "$TMP/table"))"

# The short options getopt is given, as "l arg" lines.
shortopts=$(sed -n 's/.*getopt_long(argc, argv, "\([^"]*\)".*/\1/p' "$options_c")
echo "$shortopts" | sed 's/^://' | grep -o '[a-zA-Z]:\?' |
    sed 's/:$/ arg/; /arg$/!s/$/ none/' | sort >"$TMP/getopt"
awk '$2 != "-" { print $2, $3 }' "$TMP/table" | sort >"$TMP/table_short"
cmp -s "$TMP/getopt" "$TMP/table_short"
ok $? "getopt's short options \"$shortopts\" are the table's short letters, with : for a value"

# in_help NAME SHORT: --help lists --NAME, after "-S, " when it has a short form.
"$MOONWIRE" --help >"$TMP/help" 2>&1
in_help() {
    if [ "$2" = - ]; then grep -qE -- "^ +--$1( |$)" "$TMP/help"; else grep -qE -- "^ +-$2, --$1( |$)" "$TMP/help"; fi
}
missing=""
while read -r name short arg; do
    in_help "$name" "$short" || missing="$missing $name"
done <"$TMP/table"
extra=$(grep -oE -- '--[a-z][a-z-]*' "$TMP/help" | sed 's/^--//' | sort -u |
    while read -r name; do grep -q "^$name " "$TMP/table" || printf ' %s' "$name"; done)
[ -z "$missing$extra" ]
ok $? "--help lists each option of the table, with its short form, and no other\
${missing:+ (missing:$missing)}${extra:+ (not in the table:$extra)}"

# The SYNOPSIS, one line per option it shows: "--name arg|none" or
# "-x arg|none" (.Op Fl Vh shows two).
sed -n '/^\.Sh SYNOPSIS/,/^\.Sh /p' "$page" | awk '
    $1 == ".Op" && $2 == "Fl" {
        arg = $0 ~ / Ar / ? "arg" : "none"
        if ($3 == "Fl") print "--" $4, arg
        else for (i = 1; i <= length($3); i++) print "-" substr($3, i, 1), arg
    }' | sort >"$TMP/synopsis"
# shown NAME SHORT ARG FILE: FILE (as above) has the option, long or short.
shown() { grep -qx -- "--$1 $3" "$4" || grep -qx -- "-$2 $3" "$4"; }
missing=""
while read -r name short arg; do
    shown "$name" "$short" "$arg" "$TMP/synopsis" || missing="$missing $name"
done <"$TMP/table"
extra=$(while read -r opt arg; do
    case $opt in
    --*) grep -q "^${opt#--} . $arg\$" "$TMP/table" ;;
    *) grep -q "^[a-z-]* ${opt#-} $arg\$" "$TMP/table" ;;
    esac || printf ' %s' "$opt"
done <"$TMP/synopsis")
[ -z "$missing$extra" ]
ok $? "moonwire(1)'s SYNOPSIS shows each option of the table, with Ar for a value, and no other\
${missing:+ (missing:$missing)}${extra:+ (not so in the table:$extra)}"

# The items of the list of options (the .Bl after "The options are as
# follows:"), without those of the lists nested in it.
awk '
    /^The options are as follows:/ { on = 1; next }
    on && /^\.Bl/ { depth++; next }
    on && /^\.El/ { if (--depth == 0) exit; next }
    on && depth == 1 && /^\.It / { print }
' "$page" >"$TMP/items"
# listed NAME SHORT: an item names --NAME, and -SHORT with it when it has one.
listed() {
    grep -E -- "Fl Fl $1( |$)" "$TMP/items" >"$TMP/item" || return 1
    [ "$2" = - ] || grep -qE -- "^\.It Fl $2( |$)" "$TMP/item"
}
missing=""
while read -r name short arg; do
    listed "$name" "$short" || missing="$missing $name"
done <"$TMP/table"
[ "$(wc -l <"$TMP/items")" -ge 16 ] && [ -z "$missing" ]
ok $? "moonwire(1)'s list of options ($(wc -l <"$TMP/items") items) has an item for each option\
 of the table, with its short form${missing:+ (missing:$missing)}"

# The README's usage lines: the block under "## Using it" up to a blank line.
awk '/^## Using it/ { on = 1; next } on && /^    moonwire / { code = 1 }
    code && /^$/ { exit } code { print }' "$MW_SRCDIR/README.md" >"$TMP/usage"
missing=""
while read -r name short arg; do
    grep -qE -- "(^|[][ |])(--$name|-$short)([][ |=]|$)" "$TMP/usage" || missing="$missing $name"
done <"$TMP/table"
[ -s "$TMP/usage" ] && [ -z "$missing" ]
ok $? "the README's usage lines show each option of the table${missing:+ (missing:$missing)}"
sed 's/^/# /' "$TMP/usage"

# The README's list under its usage has an entry for each option.
missing=""
while read -r name short arg; do
    grep -qE -- "^- .*\`(-$short, )?--${name}[ \`]" "$MW_SRCDIR/README.md" || missing="$missing $name"
done <"$TMP/table"
[ -z "$missing" ]
ok $? "the README's list of options says what each option of the table does${missing:+ (missing:$missing)}"
finish
