#!/bin/sh
# cli_man.sh - the man page and `make install` cannot drift from the binary.
#
#   - the options: every --option that `$SHADE_BIN --help` prints (read
#     from the built binary at test time, so an option added to
#     src/main.c shows up here at once) has a .TP entry in the OPTIONS
#     section of man/shade.1, and every entry there is an option --help
#     prints; an --option mentioned anywhere else in the page (SYNOPSIS,
#     EXAMPLES) must be one too. Each missing option is named. Dashes in
#     the page must be written \- (a bare - prints as a hyphen, which
#     cannot be pasted into a shell);
#   - the page renders without a single warning (man --warnings=w -l, else
#     groff -man -ww) and lexgrog reads its NAME line, as mandb and whatis
#     will; each check is skipped, saying so, when its tool is missing;
#   - `make install DESTDIR=$T_TMP/dest PREFIX=/usr` puts bin/shade (0755,
#     the binary under test, not rebuilt) and share/man/man1/shade.1 (0644)
#     in place, PREFIX defaults to /usr/local, and `make uninstall` with the
#     same variables removes both.
#
# It needs no server. tests/run.sh starts servers by the test's name
# (pg_* PostgreSQL, mysql_* MariaDB, any other both) and has no name for
# none: this one gets both, unused.
set -eu
. "$(dirname "$0")/../lib.sh"

MAN=$SHADE_ROOT/man/shade.1
LC_ALL=C
export LC_ALL

[ -x "$SHADE_BIN" ] || fail "$SHADE_BIN is not built"
[ -f "$MAN" ] || fail "$MAN is missing"

# -- the options ----------------------------------------------------------

"$SHADE_BIN" --help >"$T_TMP/help" 2>&1 || fail "shade --help exited $?"
grep -o -- '--[a-z][a-z0-9-]*' "$T_TMP/help" | sort -u >"$T_TMP/help.opts" || true

# The page's text lines, comments dropped, with \- read as - and the
# escapes a tag may carry (fonts, \% \& \c, quotes) removed.
sed -e '/^\.\\"/d' -e '/^'"'"'\\"/d' "$MAN" |
    sed -e 's/\\-/-/g' -e 's/\\f\[[^]]*\]//g' -e 's/\\f([A-Z][A-Z]//g' \
        -e 's/\\f[A-Z1-4]//g' -e 's/\\[%&c]//g' -e 's/"//g' >"$T_TMP/man.txt"

# The tag lines of the OPTIONS section: the line after .TP (or .TQ, groff's
# further tag), or the argument of .IP.
awk '
/^\.SH[ \t]/ {
	s = $0
	sub(/^\.SH[ \t]+/, "", s)
	sub(/[ \t]+$/, "", s)
	in_opts = (s == "OPTIONS")
	tag = 0
	next
}
!in_opts { next }
/^\.(TP|TQ)([ \t]|$)/ { tag = 1; next }
/^\.IP[ \t]/ { s = $0; sub(/^\.IP[ \t]+/, "", s); print NR ": " s; next }
tag { print NR ": " $0; tag = 0 }
' "$T_TMP/man.txt" >"$T_TMP/man.tags"

: >"$T_TMP/man.opts"
while IFS= read -r line; do
	o=$(printf '%s\n' "$line" | grep -o -- '--[a-z][a-z0-9-]*' || true)
	[ -n "$o" ] || o="(none: line $line)"
	printf '%s\n' "$o" >>"$T_TMP/man.opts"
done <"$T_TMP/man.tags"
sort "$T_TMP/man.opts" >"$T_TMP/man.opts.all"
sort -u -o "$T_TMP/man.opts" "$T_TMP/man.opts"
grep -o -- '--[a-z][a-z0-9-]*' "$T_TMP/man.txt" | sort -u >"$T_TMP/man.mentions" || true

note "shade --help: $(tr '\n' ' ' <"$T_TMP/help.opts")"
note "man OPTIONS:  $(tr '\n' ' ' <"$T_TMP/man.opts")"

c_parsed()
{
	# Guard against a parser that finds nothing and so passes vacuously.
	n=$(grep -c . "$T_TMP/help.opts" || true)
	[ "$n" -ge 5 ] || fail "only $n options found in shade --help"
	grep -qx -- --help "$T_TMP/help.opts" || fail "--help not found in shade --help"
	n=$(grep -c . "$T_TMP/man.tags" || true)
	[ "$n" -ge 5 ] || fail "only $n .TP entries found in man/shade.1's OPTIONS"
}

c_help_in_man()
{
	missing=$(comm -23 "$T_TMP/help.opts" "$T_TMP/man.opts")
	for o in $missing; do
		echo "option $o is in shade --help but has no entry in man/shade.1's OPTIONS" >&2
	done
	[ -z "$missing" ] || fail "man/shade.1 lacks:" $missing
}

c_man_in_help()
{
	extra=$(comm -13 "$T_TMP/help.opts" "$T_TMP/man.opts")
	for o in $extra; do
		echo "man/shade.1's OPTIONS documents $o, which shade --help does not list" >&2
	done
	[ -z "$extra" ] || fail "not in shade --help:" $extra
	dup=$(uniq -d "$T_TMP/man.opts.all")
	[ -z "$dup" ] || fail "man/shade.1's OPTIONS has more than one entry for:" $dup
}

c_mentions()
{
	extra=$(comm -13 "$T_TMP/help.opts" "$T_TMP/man.mentions")
	[ -z "$extra" ] || fail "man/shade.1 mentions options shade --help does not list:" $extra
}

c_dashes()
{
	# `--x` in the source (not `\-\-x`) renders with hyphens.
	bare=$(sed -e '/^\.\\"/d' "$MAN" | grep -n -- '--[a-z]' || true)
	[ -z "$bare" ] || fail "write each - of an option as \\- in man/shade.1: $bare"
}

t_check "every option of shade --help is parsed" c_parsed
t_check "every option of shade --help is in man/shade.1's OPTIONS" c_help_in_man
t_check "every option in man/shade.1's OPTIONS is in shade --help" c_man_in_help
t_check "every option man/shade.1 mentions is in shade --help" c_mentions
t_check "man/shade.1 writes option dashes as \\-" c_dashes

# -- rendering ------------------------------------------------------------

c_render()
{
	if command -v man >/dev/null 2>&1; then
		MANWIDTH=80 MANPAGER=cat PAGER=cat man --warnings=w -l "$MAN" \
		    >"$T_TMP/man.out" 2>"$T_TMP/man.warn" || fail "man -l exited $?"
		tool="man --warnings=w -l"
	elif command -v groff >/dev/null 2>&1; then
		groff -man -Tutf8 -ww "$MAN" >"$T_TMP/man.out" 2>"$T_TMP/man.warn" ||
		    fail "groff exited $?"
		tool="groff -man -Tutf8 -ww"
	else
		note "SKIPPED: neither man nor groff is installed: the page's rendering is not checked"
		return 0
	fi
	if [ -s "$T_TMP/man.warn" ]; then
		sed 's/^/#   | /' "$T_TMP/man.warn" >&2
		fail "$tool warns about man/shade.1"
	fi
	grep -q 'OPTIONS' "$T_TMP/man.out" || fail "$tool rendered no OPTIONS section"
	note "$tool: no warnings"
}

c_whatis()
{
	if ! command -v lexgrog >/dev/null 2>&1; then
		note "SKIPPED: lexgrog (man-db) is not installed: the NAME line is not checked"
		return 0
	fi
	lexgrog "$MAN" >"$T_TMP/lexgrog" 2>&1 || {
		cat "$T_TMP/lexgrog" >&2
		fail "lexgrog cannot parse the NAME section"
	}
	grep -q '"shade - ' "$T_TMP/lexgrog" || fail "lexgrog: $(cat "$T_TMP/lexgrog")"
}

t_check "man/shade.1 renders without warnings" c_render
t_check "man/shade.1's NAME line is what whatis reads" c_whatis

# -- make install / uninstall ---------------------------------------------

# -o build/shade: install the binary under test as it is, never rebuild
# it (the suite built it with SANITIZE=1; a rebuild with other flags
# would swap it under the other tests). SANITIZE=1 keeps the flags those
# of the suite's build in any case.
dest=$T_TMP/dest
t_make()
{
	(cd "$SHADE_ROOT" && make --no-print-directory -o build/shade SANITIZE=1 \
	    DESTDIR="$dest" "$@") >"$T_TMP/make.log" 2>&1 || {
		sed 's/^/#   | /' "$T_TMP/make.log" >&2
		fail "make $* failed"
	}
	sed 's/^/#   make: /' "$T_TMP/make.log" >&2
}

c_install()
{
	t_make install PREFIX=/usr
	# Nothing but copies: no compiler, no link.
	other=$(grep -v '^install ' "$T_TMP/make.log" || true)
	[ -z "$other" ] || fail "make install did more than install files: $other"
	bin=$dest/usr/bin/shade
	page=$dest/usr/share/man/man1/shade.1
	[ -f "$bin" ] || fail "$bin was not installed"
	[ -f "$page" ] || fail "$page was not installed"
	assert_eq "$(stat -c %a "$bin")" 755 "mode of bin/shade"
	assert_eq "$(stat -c %a "$page")" 644 "mode of man1/shade.1"
	cmp -s "$bin" "$SHADE_ROOT/build/shade" || fail "bin/shade is not build/shade"
	cmp -s "$page" "$MAN" || fail "man1/shade.1 is not man/shade.1"
	"$bin" --version >/dev/null || fail "the installed shade does not run"

	t_make uninstall PREFIX=/usr
	[ ! -e "$bin" ] || fail "make uninstall left $bin"
	[ ! -e "$page" ] || fail "make uninstall left $page"
	# A second uninstall, with nothing left to remove, succeeds too.
	t_make uninstall PREFIX=/usr
}

c_default_prefix()
{
	t_make -n install
	assert_contains "$T_TMP/make.log" "$dest/usr/local/bin/shade" "default PREFIX, binary"
	assert_contains "$T_TMP/make.log" "$dest/usr/local/share/man/man1/shade.1" \
	    "default PREFIX, man page"
}

t_check "make install / make uninstall with DESTDIR and PREFIX" c_install
t_check "PREFIX defaults to /usr/local" c_default_prefix

t_done
