#!/bin/sh
# check-banned.sh - fail (exit 1, one file:line per hit) when shade's C code
# uses a banned function or quotes an SQL identifier outside src/sql.c.
# `make check-banned` runs it; it needs only grep and find.
#
# 1. Banned functions, as curl bans them: sprintf, vsprintf, strcpy, strcat,
#    strncpy, gets, strtok, atoi. The first five write past a buffer or leave
#    it unterminated without a word; gets cannot be used safely at all; strtok
#    keeps hidden global state; atoi turns "12x" or "" into a number without
#    an error. Use snprintf / struct buf / xstrdup / strtol instead. Checked
#    in every .c and .h under src/, include/, tests/tools/ and tests/unit/.
#    A hit is a name followed by "(", so snprintf, vsnprintf, fgets and
#    strtok_r do not count; a banned name followed by "(" in a comment does.
#
# 2. Identifier quoting. STYLE.md: every identifier goes into SQL through
#    sql_ident() (directly or via sql_build's %I/%Q/%L/%P), and "a grep can
#    prove there is no other path". This is that grep. What it proves is
#    narrow, so here it is precisely:
#    a. No file under src/ except src/sql.c contains the C text \"\" (a
#       doubled double quote inside a string literal) or `` (a doubled
#       backtick): the escape of a quote inside a PostgreSQL or a MySQL
#       identifier, written as text.
#    b. No file under src/ except src/sql.c, src/ident.c, src/alter.c and
#       src/instant.c *writes* a quote character one piece at a time, as sql_ident()
#       itself does: the character constants '"' and '`' and the strings
#       "\"" and "`" may appear elsewhere only where a quote is *read* -
#       compared with == or != or looked for with strchr/strrchr (e.g. an
#       engine reading a name the server wrote in SHOW CREATE TABLE); any
#       other use (an assignment, an argument, buf_append) is a hit. ident.c,
#       alter.c and instant.c read the names and the ALTER-BODY the user
#       wrote and pass the quote characters around to do so; they never
#       write SQL.
#    c. No file under src/engine/ contains \"%s\", \"%.*s\" or `%s`, a name
#       pasted between quotes by a printf-style format with no escape at all
#       (an injection), except on a line that calls err_set( or die(: a
#       message may quote a value.
#    d. The SQL the operator wrote in --alter (the ALTER-BODY, a USING
#       expression) has one way into a statement: sql_build's %A. Under
#       src/engine/, a line that names it (alter_body, ->expr, .expr,
#       clauses.items) and
#       also writes text any other way (buf_append, buf_printf, xasprintf,
#       snprintf, strlist_push, or sql_build without %A) is a hit.
#    Together they catch the usual ways of writing a second quoting path,
#    correct or not. They cannot catch every way: a quote hidden in a longer
#    literal ("FROM \"" name), spelled as a number (34, 0x60), taken from a
#    macro, or a message format on the line after its err_set( would pass;
#    so would a name pasted into SQL with no quotes at all ("... FROM %s").
#    Those are kept out by review: in src/engine/, SQL is built with
#    sql_build(), whose %s takes only text the engine wrote itself or the
#    server returned from its own catalog (pg_get_indexdef, SHOW CREATE
#    TABLE), never input from the user.
#
# Exit status: 0 clean, 1 a violation (listed on stdout), 2 cannot run.
set -u

cd "$(dirname "$0")/.." || exit 2

status=0
banned='sprintf|vsprintf|strcpy|strcat|strncpy|gets|strtok|atoi'

# The C files under the given directories that exist, one per line.
c_files()
{
	for d in "$@"; do
		[ -d "$d" ] && find "$d" -type f \( -name '*.c' -o -name '*.h' \)
	done | sort
}

# report TITLE HITS: print the title and the hits, if there are any. Not
# in a pipeline: it sets status, which a subshell would lose.
report()
{
	[ -n "$2" ] || return 0
	echo "check-banned: $1"
	printf '%s\n' "$2" | sed 's/^/  /'
	status=1
}

files=$(c_files src include tests/tools tests/unit)
if [ -n "$files" ]; then
	# shellcheck disable=SC2086 # file names have no spaces: they are ours
	report "banned function (use snprintf, struct buf, xstrdup, strtol):" \
		"$(grep -nHE "(^|[^A-Za-z0-9_])($banned)[[:space:]]*\\(" $files)"
fi

files=$(c_files src | grep -vx 'src/sql.c')
if [ -n "$files" ]; then
	# shellcheck disable=SC2016,SC2086 # the backticks are meant literally
	report "identifier quote doubled outside src/sql.c (use sql_ident / sql_build):" \
		"$(grep -nHF -e '\"\"' -e '``' $files)"
fi

# Of grep's file:line:text hits, those where a quote character is used for
# anything but a comparison or a strchr/strrchr search (check 2b).
quote_writes_awk=$(cat <<'EOF'
{
	text = $0
	sub(/^[^:]*:[0-9]+:/, "", text)
	gsub("(==|!=)[ \t]*" q "[\"`]" q, "", text)
	gsub("strr?chr\\([^,()]*,[ \t]*" q "[\"`]" q "\\)", "", text)
	if (text ~ (q "[\"`]" q) || index(text, "\"\\\"\"") || index(text, "\"`\""))
		print
}
EOF
)
files=$(c_files src | grep -vx -e 'src/sql.c' -e 'src/ident.c' -e 'src/alter.c' -e 'src/instant.c')
if [ -n "$files" ]; then
	# shellcheck disable=SC2016,SC2086 # the backticks are meant literally
	report "quote character written outside src/sql.c (use sql_ident / sql_build):" \
		"$(grep -nHF -e "'\"'" -e "'\`'" -e '"\""' -e '"`"' $files |
		   awk -v q="'" "$quote_writes_awk")"
fi

files=$(c_files src/engine)
if [ -n "$files" ]; then
	# shellcheck disable=SC2016,SC2086 # the backticks are meant literally
	report "name pasted between quotes in src/engine (use sql_build's %I / %Q):" \
		"$(grep -nHF -e '\"%s\"' -e '\"%.*s\"' -e '`%s`' $files |
		   grep -vE '(^|[^A-Za-z0-9_])(err_set|die)\(')"
fi

files=$(c_files src/engine)
if [ -n "$files" ]; then
	# shellcheck disable=SC2086 # file names have no spaces: they are ours
	report "ALTER-BODY text written into SQL other than by sql_build's %A:" \
		"$(grep -nHE '(alter_body|(->|\.)expr|clauses\.items)([^a-z_]|$)' $files |
		   grep -E '(buf_append|buf_printf|xasprintf|snprintf|strlist_push)|sql_build\(' |
		   grep -vE 'sql_build\([^;]*%A')"
fi

[ "$status" -eq 0 ] && echo "check-banned: clean"
exit "$status"
