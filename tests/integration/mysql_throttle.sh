#!/bin/sh
# mysql_throttle.sh - the limits' throttle on MariaDB against real
# components: a replica (a second mariadbd, server-id 2) whose SQL thread
# is stopped (Seconds_Behind_Master NULL) holds the copy under --max-lag
# until it is started again; a --throttle-query reading a one-row table
# the test flips; --max-load while sessions sleep in SLEEP(); and
# --critical-load aborts and undoes. --max-lag without --replica is bad
# input (exit 2, one line). Each migration must end with every row.
#
# It starts its own primary (binlog on, TCP on 127.0.0.1 for the replica),
# never the run's shared server.
set -eu
. "$(dirname "$0")/../lib.sh"
WAIT_LINE_SECS=90  # wait_for_line: a throttle may take a while to be seen

ROWS=${MY_THROTTLE_ROWS:-300000}
ALTER='ADD COLUMN flag int NOT NULL DEFAULT 0'

unset SHADE_MY_SOCK
MY_SERVER_OPTS=$(my_primary_opts $((30000 + $$ % 20000)))
my_start
my_replica_start
my_newdb
MYR_DSN="mysql://root@/$MY_DB?socket=$MYR_SOCK"

make_table()
{
	my_sql "DROP TABLE IF EXISTS items, _items_old, gate;
CREATE TABLE gate (v int NOT NULL);
INSERT INTO gate VALUES (0);
CREATE TABLE items (id bigint PRIMARY KEY, sku varchar(40) NOT NULL, qty int NOT NULL);
INSERT INTO items SELECT seq, CONCAT('SKU-', seq), seq % 1000 FROM seq_1_to_$1;"
	my_sql "SELECT COUNT(*), SUM(qty), MD5(GROUP_CONCAT(sku ORDER BY id)) FROM items" \
	    >"$T_TMP/want"
}

check_done()
{
	wait_shade
	assert_rc 0 "$1"
	my_sql "SELECT COUNT(*), SUM(qty), MD5(GROUP_CONCAT(sku ORDER BY id)) FROM items" \
	    >"$T_TMP/got"
	assert_same_file "$T_TMP/want" "$T_TMP/got" "$1: items' rows changed"
	assert_eq "$(my_val "SELECT COUNT(*) FROM information_schema.columns
	    WHERE table_schema = DATABASE() AND table_name = 'items'
	      AND column_name = 'flag'")" 1 "$1: no new column"
	assert_eq "$(my_leftovers items)" "" "$1: leftovers"
}

assert_held()
{
	_a=$(my_val "SELECT COUNT(*) FROM _items_new")
	sleep 2
	_b=$(my_val "SELECT COUNT(*) FROM _items_new")
	note "$1: the shadow held $_a rows, 2 s later $_b"
	assert_eq "$_b" "$_a" "$1: the copy went on while throttled"
	[ "$_a" -lt "$ROWS" ] || fail "$1: the copy had ended before the throttle"
}

# Hold the copy with SIGUSR1 while the test makes its throttle come (a
# paused copy still looks at the limits), so that a fast copy cannot end
# before the throttle is seen; then lift the pause: the throttle alone
# must hold the copy (assert_held).
pause_copy()
{
	kill -USR1 "$SHADE_PID"
	wait_for_line "$1" "paused"
}
unpause_copy()
{
	kill -USR2 "$SHADE_PID"
	wait_for_line "$1" "resumed"
}

# -- --max-lag: the replica's SQL thread stopped -------------------------------
make_table "$ROWS"
_i=0
until [ "$(myr_sql "SELECT COUNT(*) FROM \`$MY_DB\`.items")" = "$ROWS" ]; do
	_i=$((_i + 1))
	[ "$_i" -lt 600 ] || fail "the replica did not get the table within 60 s"
	sleep 0.1
done
start_shade --dsn "$MY_DSN" --table items --execute --chunk-time 0.01 \
    --max-lag 1 --replica "$MYR_DSN" --alter "$ALTER"
my_wait_for_copy replica
pause_copy replica
myr_sql "STOP SLAVE SQL_THREAD"
wait_for_line replica "throttled: replica lag unknown, counted as over --max-lag 1"
unpause_copy replica
assert_contains "$SHADE_ERR" "(replica socket=$MYR_SOCK: Seconds_Behind_Master is NULL: its SQL thread is stopped" replica
assert_held replica
myr_sql "START SLAVE SQL_THREAD"
wait_for_line replica "throttle ended"
check_done replica
assert_eq "$(myr_sql "SELECT COUNT(*) FROM information_schema.columns
    WHERE table_schema = '$MY_DB' AND table_name = 'items' AND column_name = 'flag'")" 1 \
    "replica: the ALTER did not reach the replica"

# -- --throttle-query -----------------------------------------------------------
make_table "$ROWS"
start_shade --dsn "$MY_DSN" --table items --execute --chunk-time 0.01 \
    --throttle-query 'SELECT v FROM gate' --alter "$ALTER"
my_wait_for_copy query
pause_copy query
my_sql "UPDATE gate SET v = 1"
wait_for_line query "throttled: --throttle-query returned 1"
unpause_copy query
assert_held query
my_sql "UPDATE gate SET v = 0"
wait_for_line query "throttle ended"
check_done query

# -- --max-load and --critical-load: sessions asleep in SLEEP() ---------------
sleepers()
{
	for _s in 1 2 3; do
		my_client -e "SELECT SLEEP(600), 'shade-test-sleeper'" >/dev/null 2>&1 &
		bg_track $!
	done
	_i=0
	until [ "$(my_val "SELECT COUNT(*) FROM information_schema.processlist
	    WHERE info LIKE '%shade-test-sleeper%' AND id <> CONNECTION_ID()")" = 3 ]; do
		_i=$((_i + 1))
		[ "$_i" -lt 300 ] || fail "the sleepers did not start"
		sleep 0.1
	done
}

wake_sleepers()
{
	for _id in $(my_val "SELECT id FROM information_schema.processlist
	    WHERE info LIKE '%shade-test-sleeper%' AND id <> CONNECTION_ID()"); do
		my_sql "KILL $_id"
	done
}

make_table 20000
sleepers
start_shade --dsn "$MY_DSN" --table items --execute --max-load 2 --alter "$ALTER"
wait_for_line max-load "throttled: load "
assert_contains "$SHADE_ERR" "running threads > --max-load 2" max-load
_a=$(my_val "SELECT COUNT(*) FROM _items_new")
sleep 2
assert_eq "$(my_val "SELECT COUNT(*) FROM _items_new")" "$_a" "max-load: the copy went on"
wake_sleepers
check_done max-load

make_table 20000
my_fingerprint >"$T_TMP/before"
sleepers
run_shade --dsn "$MY_DSN" --table items --execute --critical-load 2 --alter "$ALTER"
wake_sleepers
assert_rc 1 critical-load
assert_contains "$SHADE_ERR" "running threads > --critical-load 2: aborted during copy" \
    critical-load
assert_eq "$(my_leftovers items)" "" "critical-load: leftovers"
my_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "critical-load: the database changed"

# -- bad input ---------------------------------------------------------------------
run_shade --dsn "$MY_DSN" --table items --execute --max-lag 1 --alter "$ALTER"
assert_rc 2 "--max-lag without --replica"
assert_one_line "--max-lag without --replica"
assert_contains "$SHADE_ERR" "--max-lag on MySQL needs --replica DSN" "--max-lag without --replica"
run_shade --dsn "$MY_DSN" --table items --execute --throttle-query 'SELECT v FROM nowhere' \
    --alter "$ALTER"
assert_rc 2 "failing query"
assert_one_line "failing query"
my_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "bad input: the database changed"

t_pass
