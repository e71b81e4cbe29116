#!/bin/sh
# mysql_runlock.sh - one shade per table on MariaDB.
#
# 1. While shade A is paused in its copy (SIGUSR1), shade B on the same
#    table (named another way) exits 2 with one line naming A's connection
#    id, its user, program and client pid, and changes nothing: the
#    database is exactly as A left it. A dry run is refused the same way.
# 2. Meanwhile a shade on another table of the same database runs to the
#    end; that table's name is long enough that the lock's name is a hash.
# 3. A, resumed (SIGUSR2), finishes with exit 0 and the right table.
# 4. A shade killed with SIGKILL takes its lock with it (its session ends):
#    the next run is not refused for the lock (it may be for the leftovers
#    the killed one left).
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=${MYSQL_RUNLOCK_ROWS:-200000}
ALTER='ADD COLUMN flag INT NOT NULL DEFAULT 0'
# 60 characters: "shade:" and the quoted db.table pass 64.
OTHER=other_with_a_long_name_so_that_the_lock_name_is_hashed_xxxxx

my_start
my_newdb
[ "$(my_val "SELECT @@performance_schema")" = 1 ] ||
    fail "performance_schema is off on the test server: the holder's pid cannot be seen"

my_sql <<EOF
CREATE TABLE items (
	id BIGINT NOT NULL PRIMARY KEY,
	sku VARCHAR(40) NOT NULL,
	qty INT NOT NULL
) ENGINE=InnoDB;
INSERT INTO items SELECT seq, CONCAT('SKU-', seq), seq % 100 FROM seq_1_to_$ROWS;
CREATE TABLE items_before AS SELECT * FROM items;
CREATE TABLE $OTHER (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB;
INSERT INTO $OTHER SELECT seq, CONCAT('v', seq) FROM seq_1_to_1000;
EOF

# Start shade on items and pause it in its copy; A_PID, A_ERR.
start_paused()
{
	start_shade --dsn "$MY_DSN" --table items --execute --chunk-time 0.02 \
	    --alter "$ALTER"
	A_PID=$SHADE_PID
	A_ERR=$SHADE_ERR
	_i=0
	until [ "$(my_try "SELECT COUNT(*) FROM (SELECT 1 FROM _items_new LIMIT 1) s")" = 1 ]; do
		kill -0 "$A_PID" 2>/dev/null || { wait_shade; fail "A ended before its copy was seen"; }
		_i=$((_i + 1))
		[ "$_i" -lt 1200 ] || fail "A's copy did not start within 60 s"
		sleep 0.05
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

# The connection of process $1 (its _pid connection attribute).
conn_of()
{
	my_val "SELECT PROCESSLIST_ID FROM performance_schema.session_connect_attrs
	    WHERE ATTR_NAME = '_pid' AND ATTR_VALUE = '$1'"
}

# -- 1. a second shade on the same table is refused ---------------------------

start_paused
a_pid=$A_PID
a_err=$A_ERR
a_conn=$(conn_of "$a_pid")
note "A: pid $a_pid, connection id $a_conn"
[ -n "$a_conn" ] || fail "A has no connection"
my_fingerprint >"$T_TMP/paused"

want="another shade is running on $MY_DB.items (MariaDB connection id $a_conn, user root@localhost, program shade, client pid $a_pid)"
for how in "--execute" "--dry-run"; do
	run_shade --dsn "$MY_DSN" --table "$MY_DB.items" --alter "$ALTER" $how
	assert_rc 2 "B ($how) on the table A works on"
	assert_one_line "B ($how)"
	assert_contains "$SHADE_ERR" "$want" "B ($how): the holder named"
	if grep -q leftovers "$SHADE_ERR"; then
		fail "B ($how) was refused for A's objects, not for A's lock"
	fi
done
my_fingerprint >"$T_TMP/after_b"
assert_same_file "$T_TMP/paused" "$T_TMP/after_b" "B changed the database"

# -- 2. another table of the same database is free ----------------------------

run_shade --dsn "$MY_DSN" --table "$OTHER" --alter "$ALTER" --execute --drop-old
assert_rc 0 "a shade on another table while A holds its lock"
assert_eq "$(my_val "SELECT COUNT(*) FROM $OTHER WHERE flag = 0")" 1000 "$OTHER's rows"
assert_eq "$(my_leftovers "$OTHER")" "" "left behind on $OTHER"

# -- 3. A, resumed, finishes ----------------------------------------------------

SHADE_PID=$a_pid
SHADE_ERR=$a_err
kill -0 "$SHADE_PID" 2>/dev/null || fail "A died while paused"
kill -USR2 "$SHADE_PID"
wait_shade
assert_rc 0 "A, resumed"
grep -q resumed "$a_err" || fail "A did not say it resumed"
assert_eq "$(my_val "SELECT COUNT(*) FROM items WHERE flag = 0")" "$ROWS" "items' rows after A"
my_same_rows items items_before "id, sku, qty" "A's result"
assert_eq "$(my_leftovers items)" "" "left behind by A"
my_sql "DROP TABLE _items_old"

# -- 4. kill -9: the lock goes with the session ---------------------------------

ALTER='ADD COLUMN flag2 INT'
start_paused
k_conn=$(conn_of "$A_PID")
[ -n "$k_conn" ] || fail "the shade to kill has no connection"
kill -KILL "$A_PID"
wait "$A_PID" 2>/dev/null || true
i=0
while [ "$(my_val "SELECT COUNT(*) FROM information_schema.PROCESSLIST
    WHERE ID = $k_conn")" != 0 ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "the killed shade's connection did not end within 10 s"
	sleep 0.1
done
run_shade --dsn "$MY_DSN" --table items --alter "$ALTER" --execute
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
	assert_eq "$(my_val "SELECT COUNT(*) FROM items WHERE flag2 IS NULL")" "$ROWS" \
	    "items' rows after the run that followed the killed one"
	;;
*)
	fail "a run after a killed one exited $SHADE_RC, want 2 (leftovers) or 0"
	;;
esac

t_pass
