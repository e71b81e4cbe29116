# tests/equiv/equiv.sh - the differential harness: shade against the
# server's own ALTER TABLE, case by case. Sourced by pg_equiv.sh and
# mysql_equiv.sh after tests/lib.sh.
#
# A corpus file (tests/equiv/*.cases) holds one case per paragraph:
#
#	== name
#	-- alter: ADD COLUMN flag int NOT NULL DEFAULT 0
#	-- expect: same
#	CREATE TABLE t (id int PRIMARY KEY, ...);
#	INSERT INTO t ...;
#
# The setup SQL builds table t (and whatever it needs) twice, once where
# the plain ALTER runs and once where shade runs. expect is one of:
#	same    the plain ALTER succeeds; shade must exit 0 with the same
#	        table: rows, columns, types, defaults, constraints and their
#	        validation state, indexes, triggers and their enabled state
#	refuse  the plain ALTER succeeds, but shade cannot promise its result:
#	        it must exit 2 and leave its copy untouched
#	fail    the plain ALTER fails; shade must exit non-zero and leave its
#	        copy untouched
# The harness also checks the expectation itself (a "same" or "refuse"
# case whose plain ALTER fails is a broken case), and that shade leaves
# nothing of its own behind.
#
# eq_split FILE DIR: write each case of FILE as DIR/NNN.name, .alter,
# .expect, .sql; print the case numbers.
eq_split()
{
	awk -v dir="$2" '
	function flush() { if (n) close(base ".sql") }
	/^== / {
		flush(); n++; base = sprintf("%s/%03d", dir, n)
		print substr($0, 4) > (base ".name"); close(base ".name")
		printf "" > (base ".sql")
		print sprintf("%03d", n)
		next
	}
	/^-- alter: / { print substr($0, 11) > (base ".alter"); close(base ".alter"); next }
	/^-- expect: / { print substr($0, 12) > (base ".expect"); close(base ".expect"); next }
	/^#/ || /^[ \t]*$/ { next }
	n { print >> (base ".sql") }
	END { flush() }' "$1"
}

EQ_FAILED=
EQ_REFUSED=
EQ_N=0

# Each harness defines eq_describe SIDE and eq_rows SIDE (SIDE is p, where
# the plain ALTER ran, or s, where shade ran): the table's description and
# its rows, as text that is equal for equal tables.

# eq_snapshot C: shade's copy before shade runs (C is the case's file stem).
eq_snapshot()
{
	eq_describe s >"$1.before"
	eq_rows s >"$1.rows_before"
}

# eq_judge NAME EXPECT PLAIN_RC C: the verdict on one case, after shade
# ran (SHADE_RC, SHADE_ERR) and the plain ALTER's output is in C.plain.
eq_judge()
{
	_n=$1 _x=$2 _rc=$3 _c=$4
	_why=$(grep -m 1 ERROR "$_c.plain" || head -c 300 "$_c.plain")
	case $_x in
	same | refuse)
		[ "$_rc" = 0 ] || { eq_bad "$_n" "broken case: the plain ALTER fails: $_why"; return 0; } ;;
	fail)
		[ "$_rc" != 0 ] || { eq_bad "$_n" "broken case: the plain ALTER succeeds"; return 0; } ;;
	*)
		eq_bad "$_n" "broken case: expect '$_x'"
		return 0 ;;
	esac
	if [ "$_x" = same ]; then
		if [ "$SHADE_RC" != 0 ]; then
			eq_bad "$_n" "shade exited $SHADE_RC where the plain ALTER succeeds: $(tail -n 1 "$SHADE_ERR")"
			return 0
		fi
		eq_describe p >"$_c.want"
		eq_describe s >"$_c.got"
		cmp -s "$_c.want" "$_c.got" || eq_bad "$_n" "the table differs from the plain ALTER's:
$(diff "$_c.want" "$_c.got" | grep '^[<>]' | head -n 6 | cut -c 1-200 | sed 's/^/      /')"
		eq_rows p >"$_c.want_rows"
		eq_rows s >"$_c.got_rows"
		cmp -s "$_c.want_rows" "$_c.got_rows" || eq_bad "$_n" "the rows differ from the plain ALTER's:
$(diff "$_c.want_rows" "$_c.got_rows" | grep '^[<>]' | head -n 4 | cut -c 1-200 | sed 's/^/      /')"
		return 0
	fi
	# refuse / fail: shade's copy must be untouched.
	if [ "$_x" = refuse ] && [ "$SHADE_RC" != 2 ]; then
		eq_bad "$_n" "want a refusal (exit 2), got exit $SHADE_RC: $(tail -n 1 "$SHADE_ERR")"
	elif [ "$_x" = fail ] && [ "$SHADE_RC" = 0 ]; then
		eq_bad "$_n" "shade exited 0 where the plain ALTER fails: $_why"
	fi
	[ "$_x" != refuse ] || EQ_REFUSED="$EQ_REFUSED
  $_n: $(tail -n 1 "$SHADE_ERR" | sed 's/^shade: //')"
	eq_describe s >"$_c.after"
	eq_rows s >"$_c.rows_after"
	cmp -s "$_c.before" "$_c.after" || eq_bad "$_n" "shade changed the table's definition"
	cmp -s "$_c.rows_before" "$_c.rows_after" || eq_bad "$_n" "shade changed the table's rows"
}

# eq_bad CASE WHY: remember a case that broke the contract.
eq_bad()
{
	note "FAIL $1: $2"
	EQ_FAILED="$EQ_FAILED
  $1: $2"
}

# eq_report ENGINE: the corpus size, the refused shapes and their reasons,
# and the verdict.
eq_report()
{
	note "$1: $EQ_N cases"
	if [ -n "$EQ_REFUSED" ]; then
		note "$1: refused in preflight (exit 2), as expected:$EQ_REFUSED"
	fi
	[ -z "$EQ_FAILED" ] || fail "$1: cases that break the contract:$EQ_FAILED"
}
