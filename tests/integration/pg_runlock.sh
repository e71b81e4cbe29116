#!/bin/sh
# pg_runlock.sh - one shade per table on PostgreSQL.
#
# 1. While shade A is paused in its copy (SIGUSR1), shade B on the same
#    table (named another way) exits 2 with one line naming A's backend
#    pid, its user and application_name, and changes nothing: the database
#    is exactly as A left it. A dry run is refused the same way.
# 2. Meanwhile a shade on another table of the same database runs to the
#    end.
# 3. A, resumed (SIGUSR2), finishes with exit 0 and the right table.
# 4. A shade killed with SIGKILL takes its lock with it (its session ends):
#    the next run is not refused for the lock (it may be for the leftovers
#    the killed one left).
#
# shade is started in the background by a non-interactive shell, which
# starts it with SIGINT ignored (POSIX); it handles SIGUSR1/2 itself.
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=${PG_RUNLOCK_ROWS:-400000}
ALTER='ADD COLUMN flag int NOT NULL DEFAULT 0'

pg_start
pg_newdb

pg_sql <<EOF
CREATE TABLE items (
	id bigint PRIMARY KEY,
	sku text NOT NULL,
	qty int NOT NULL
);
INSERT INTO items SELECT g, 'SKU-' || g, g % 1000 FROM generate_series(1, $ROWS) g;
ANALYZE items;
CREATE TABLE items_before AS SELECT * FROM items;
CREATE TABLE other (id int PRIMARY KEY, v text);
INSERT INTO other SELECT g, 'v' || g FROM generate_series(1, 1000) g;
EOF

# Start shade on items and pause it in its copy; A_PID, A_ERR.
start_paused()
{
	start_shade --dsn "$PG_DSN" --table items --execute --chunk-time 0.05 \
	    --alter "$ALTER" "$@"
	A_PID=$SHADE_PID
	A_ERR=$SHADE_ERR
	_i=0
	until [ "$(pg_try "SELECT count(*) FROM (SELECT 1 FROM _items_new LIMIT 1) s")" = 1 ]; do
		kill -0 "$A_PID" 2>/dev/null || { wait_shade; fail "A ended before its copy was seen"; }
		_i=$((_i + 1))
		[ "$_i" -lt 600 ] || fail "A's copy did not start within 60 s"
		sleep 0.1
	done
	kill -USR1 "$A_PID"
	_i=0
	until grep -q paused "$A_ERR"; do
		kill -0 "$A_PID" 2>/dev/null || { wait_shade; fail "A ended before it paused"; }
		_i=$((_i + 1))
		[ "$_i" -lt 600 ] || fail "A did not pause in its copy"
		sleep 0.05
	done
}

# The one session shade A has in this database.
a_backend()
{
	pg_val "SELECT pid FROM pg_stat_activity
	    WHERE datname = current_database() AND application_name = 'shade'"
}

# -- 1. a second shade on the same table is refused ---------------------------

start_paused
a_pid=$A_PID
a_err=$A_ERR
a_backend_pid=$(a_backend)
note "A: pid $a_pid, backend pid $a_backend_pid"
[ -n "$a_backend_pid" ] || fail "A has no session in the database"
pg_fingerprint >"$T_TMP/paused"

want="another shade is running on public.items (PostgreSQL backend pid $a_backend_pid, user $PG_USER, application_name shade"
for how in "--execute" "--dry-run"; do
	run_shade --dsn "$PG_DSN" --table public.items --alter "$ALTER" $how
	assert_rc 2 "B ($how) on the table A works on"
	assert_one_line "B ($how)"
	assert_contains "$SHADE_ERR" "$want" "B ($how): the holder named"
	if grep -q leftovers "$SHADE_ERR"; then
		fail "B ($how) was refused for A's objects, not for A's lock"
	fi
done
pg_fingerprint >"$T_TMP/after_b"
assert_same_file "$T_TMP/paused" "$T_TMP/after_b" "B changed the database"

# -- 2. another table of the same database is free ----------------------------

run_shade --dsn "$PG_DSN" --table other --alter "$ALTER" --execute --drop-old
assert_rc 0 "a shade on another table while A holds its lock"
assert_eq "$(pg_val "SELECT count(*) FROM other WHERE flag = 0")" 1000 "other's rows"
# (pg_leftovers lists every function: A's trigger function is A's.)
assert_eq "$(pg_leftovers other | grep -v '_items_shade_fn()' || true)" "" \
    "left behind on other"

# -- 3. A, resumed, finishes ----------------------------------------------------

SHADE_PID=$a_pid
SHADE_ERR=$a_err
kill -0 "$SHADE_PID" 2>/dev/null || fail "A died while paused"
kill -USR2 "$SHADE_PID"
wait_shade
assert_rc 0 "A, resumed"
grep -q resumed "$a_err" || fail "A did not say it resumed"
assert_eq "$(pg_val "SELECT count(*) FROM items WHERE flag = 0")" "$ROWS" "items' rows after A"
pg_same_rows items items_before "id, sku, qty" "A's result"
assert_eq "$(pg_leftovers items)" "" "left behind by A"
pg_sql "DROP TABLE _items_old"

# -- 4. kill -9: the lock goes with the session ---------------------------------

ALTER='ADD COLUMN flag2 int'
start_paused
kill -KILL "$A_PID"
wait "$A_PID" 2>/dev/null || true
i=0
while [ "$(pg_val "SELECT count(*) FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = 'shade'")" != 0 ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "the killed shade's session did not end within 10 s"
	sleep 0.1
done
run_shade --dsn "$PG_DSN" --table items --alter "$ALTER" --execute
if grep -q "another shade is running" "$SHADE_ERR"; then
	fail "a killed shade's lock outlived its session"
fi
# Refused for what the killed run left, or (where shade can take up an
# interrupted run) done: either way not for the lock.
case $SHADE_RC in
2)
	assert_one_line "a run after a killed one"
	assert_contains "$SHADE_ERR" "leftovers of an earlier run" "a run after a killed one"
	;;
0)
	assert_eq "$(pg_val "SELECT count(*) FROM items WHERE flag2 IS NULL")" "$ROWS" \
	    "items' rows after the run that followed the killed one"
	;;
*)
	fail "a run after a killed one exited $SHADE_RC, want 2 (leftovers) or 0"
	;;
esac

t_pass
