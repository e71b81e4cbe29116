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
