#!/bin/sh
# tests/run.sh - run shade's tests: every unit test binary (build/tests/test_*)
# and every integration test (tests/integration/*.sh), each counted as one
# test, with one line per test and its time, the output of each failing test,
# and as the last line "N passed, N failed". Exit status 1 if any failed.
#
#	sh tests/run.sh             everything
#	sh tests/run.sh pg_mirror   only the tests whose name contains pg_mirror
#	sh tests/run.sh "pg_[ae]"   (a shell pattern matched anywhere in the name)
#
# `make test` builds build/shade, the unit tests and build/tools/* with
# SANITIZE=1 first. One PostgreSQL and one MariaDB server (only those the
# selected tests need: pg_* tests PostgreSQL, mysql_* MariaDB, any other
# both) are started for the whole run and shared by the tests through the
# SHADE_PG_* / SHADE_MY_SOCK variables (see tests/lib.sh).
#
# The integration tests run in two lanes at once, one per server: the
# PostgreSQL tests one after another in one lane, the MariaDB tests in the
# other, so no test shares its server with a test running at the same time
# (some look at the whole server: sessions, lock holders, load, replicas).
# The unit tests and the tests that use both servers run first, alone. A
# test's line is printed when it ends; the output of the failing ones comes
# after every lane has ended, before the last line.
#
# Environment: SHADE_TEST_TIMEOUT (seconds per test, default 900),
# SHADE_TEST_LANES=1 runs every test one after another,
# SHADE_KEEP_TMP=1 keeps the temporary directories.

cd "$(dirname "$0")/.." || exit 1

ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS UBSAN_OPTIONS

. tests/lib.sh

filter=${1:-}
timeout_s=${SHADE_TEST_TIMEOUT:-900}
passed=0
failed=0
failed_names=
summary_done=

r_summary()
{
	[ -z "$summary_done" ] || return 0
	summary_done=1
	[ -z "$failed_names" ] || echo "failed:$failed_names"
	echo "$passed passed, $failed failed"
}

r_selected()
{
	[ -z "$filter" ] && return 0
	case $1 in
	*$filter*) return 0 ;;
	esac
	return 1
}

r_ms()
{
	echo $(($(date +%s%N) / 1000000))
}

units=
for f in build/tests/test_*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	case $f in
	*.d | *.o) continue ;;
	esac
	r_selected "$(basename "$f")" && units="$units $f"
done
integ=
need_pg=
need_my=
for f in tests/integration/*.sh; do
	[ -f "$f" ] || continue
	n=$(basename "$f" .sh)
	r_selected "$n" || continue
	integ="$integ $f"
	case $n in
	pg_*) need_pg=1 ;;
	mysql_* | my_*) need_my=1 ;;
	*) need_pg=1 need_my=1 ;;
	esac
done

if [ -z "$units$integ" ]; then
	echo "run.sh: no test matches '$filter'"
	r_summary
	exit 1
fi

# A server that does not start fails every integration test.
T_EXIT_HOOK='for f in $integ; do failed=$((failed + 1));
    failed_names="$failed_names $(basename "$f" .sh)"; done; r_summary'
if [ -n "$integ" ]; then
	if [ -n "$need_pg" ]; then
		t0=$(r_ms)
		pg_start
		echo "started PostgreSQL in $(($(r_ms) - t0)) ms"
	fi
	if [ -n "$need_my" ]; then
		t0=$(r_ms)
		my_start
		echo "started MariaDB in $(($(r_ms) - t0)) ms"
	fi
fi
T_EXIT_HOOK=

# r_run NAME COMMAND...: run one test; its line goes to stdout (one write,
# so lanes never cut each other's lines), its result to $results and, when
# it fails, its output's tail to $T_TMP/NAME.fail.
r_run()
{
	name=$1
	shift
	log=$T_TMP/$name.log
	t0=$(r_ms)
	rc=0
	timeout -k 10 "$timeout_s" "$@" >"$log" 2>&1 </dev/null || rc=$?
	ms=$(($(r_ms) - t0))
	secs=$(printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100)))
	if [ "$rc" = 0 ]; then
		echo "ok $name" >>"$results"
		printf 'ok    %-28s %8s\n' "$name" "$secs"
	else
		echo "FAIL $name" >>"$results"
		why="exit $rc"
		[ "$rc" != 124 ] || why="timed out after ${timeout_s}s"
		printf 'FAIL  %-28s %8s  (%s)\n' "$name" "$secs" "$why"
		{
			printf 'FAIL  %s (%s):\n' "$name" "$why"
			tail -n 300 "$log" | sed 's/^/    | /'
		} >"$T_TMP/$name.fail"
	fi
}

# r_lane FILE...: run these integration tests one after another.
r_lane()
{
	for f in "$@"; do
		r_run "$(basename "$f" .sh)" sh "$f"
	done
}

results=$T_TMP/results
: >"$results"
for f in $units; do
	r_run "$(basename "$f")" "$f"
done
lane_pg=
lane_my=
alone=
for f in $integ; do
	case $(basename "$f") in
	pg_*) lane_pg="$lane_pg $f" ;;
	mysql_* | my_*) lane_my="$lane_my $f" ;;
	*) alone="$alone $f" ;;
	esac
done
# shellcheck disable=SC2086
r_lane $alone
if [ "${SHADE_TEST_LANES:-2}" = 1 ]; then
	# shellcheck disable=SC2086
	r_lane $lane_pg $lane_my
else
	# shellcheck disable=SC2086
	r_lane $lane_pg &
	lane_pid=$!
	bg_track "$lane_pid"
	# shellcheck disable=SC2086
	r_lane $lane_my
	wait "$lane_pid" || true
fi

passed=$(grep -c '^ok ' "$results" || true)
failed=$(grep -c '^FAIL ' "$results" || true)
failed_names=$(sed -n 's/^FAIL / /p' "$results" | tr -d '\n')
for f in "$T_TMP"/*.fail; do
	[ -f "$f" ] && cat "$f"
done
r_summary
[ "$failed" = 0 ]
