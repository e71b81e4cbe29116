#!/bin/sh
# pg_throttle.sh - the limits' throttle on PostgreSQL against real
# components: a streaming standby (pg_basebackup) whose replay is paused
# holds the copy (--max-lag with --replica, then through
# pg_stat_replication) until it is resumed; a --throttle-query reading a
# one-row table the test flips; --max-load while sessions sleep in
# pg_sleep; --critical-load aborts and undoes; a failing query and an
# unreachable replica are bad input (exit 2, one line, nothing changed).
# Each migration must end with every row in place.
set -eu
. "$(dirname "$0")/../lib.sh"
WAIT_LINE_SECS=90  # wait_for_line: a throttle may take a while to be seen

ROWS=${PG_THROTTLE_ROWS:-1000000}  # a copy long enough to catch mid-way
ALTER='ADD COLUMN flag int NOT NULL DEFAULT 0'

pg_start
pg_newdb

make_table()
{
	pg_sql <<SQL
DROP TABLE IF EXISTS items, _items_old, gate;
CREATE TABLE gate (v int NOT NULL);
INSERT INTO gate VALUES (0);
CREATE TABLE items (id bigint PRIMARY KEY, sku text NOT NULL, qty int NOT NULL);
INSERT INTO items SELECT g, 'SKU-' || g, g % 1000 FROM generate_series(1, $1) g;
ANALYZE items;
SQL
	pg_sql "SELECT count(*), sum(qty), md5(string_agg(sku, ',' ORDER BY id)) FROM items" \
	    >"$T_TMP/want"
}

# The migration ended well: new column, every row as it was, nothing left.
check_done()
{
	wait_shade
	assert_rc 0 "$1"
	pg_sql "SELECT count(*), sum(qty), md5(string_agg(sku, ',' ORDER BY id)) FROM items" \
	    >"$T_TMP/got"
	assert_same_file "$T_TMP/want" "$T_TMP/got" "$1: items' rows changed"
	assert_eq "$(pg_val "SELECT count(*) FROM information_schema.columns
	    WHERE table_name = 'items' AND column_name = 'flag'")" 1 "$1: no new column"
	assert_eq "$(pg_leftovers items)" "" "$1: leftovers"
}

# Throttled: the shadow's row count stands still across 2 s, mid-copy.
assert_held()
{
	_a=$(pg_val "SELECT count(*) FROM _items_new")
	sleep 2
	_b=$(pg_val "SELECT count(*) FROM _items_new")
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

# -- --max-lag with --replica: the standby's own lag -------------------------
make_table "$ROWS"
pg_replica_start
start_shade --dsn "$PG_DSN" --table items --execute --chunk-time 0.01 \
    --max-lag 1 --replica "$PGR_DSN" --alter "$ALTER"
pg_wait_for_copy replica
pause_copy replica
pg_replica_sql "SELECT pg_wal_replay_pause()"
pg_sql "UPDATE gate SET v = 0"  # WAL the paused standby receives, not replays
wait_for_line replica "throttled: replica lag"
unpause_copy replica
assert_contains "$SHADE_ERR" "> --max-lag 1 (replica host=$PGR_DIR port=$PGR_PORT)" replica
assert_held replica
pg_replica_sql "SELECT pg_wal_replay_resume()"
wait_for_line replica "throttle ended"
check_done replica

# -- --max-lag through pg_stat_replication ----------------------------------
make_table "$ROWS"
start_shade --dsn "$PG_DSN" --table items --execute --chunk-time 0.01 \
    --max-lag 1 --alter "$ALTER"
pg_wait_for_copy pg_stat_replication
pause_copy pg_stat_replication
pg_replica_sql "SELECT pg_wal_replay_pause()"
pg_sql "UPDATE gate SET v = 0"  # WAL the paused standby receives, not replays
wait_for_line pg_stat_replication "throttled: replica lag"
unpause_copy pg_stat_replication
assert_contains "$SHADE_ERR" "> --max-lag 1 (replica standby " pg_stat_replication
assert_held pg_stat_replication
pg_replica_sql "SELECT pg_wal_replay_resume()"
check_done pg_stat_replication
pg_replica_stop

# -- --throttle-query: a one-row table flipped 0 -> 1 -> 0 -------------------
make_table "$ROWS"
start_shade --dsn "$PG_DSN" --table items --execute --chunk-time 0.01 \
    --throttle-query 'SELECT v FROM gate' --alter "$ALTER"
pg_wait_for_copy query
pause_copy query
pg_sql "UPDATE gate SET v = 1"
wait_for_line query "throttled: --throttle-query returned 1"
unpause_copy query
assert_held query
pg_sql "UPDATE gate SET v = 0"
wait_for_line query "throttle ended"
check_done query

# -- --max-load and --critical-load: sessions asleep in pg_sleep -------------
sleepers()
{
	for _s in 1 2 3; do
		pg_psql -c "SELECT pg_sleep(600) /* shade-test-sleeper */" >/dev/null 2>&1 &
		bg_track $!
	done
	_i=0
	until [ "$(pg_val "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'
	    AND query LIKE '%shade-test-sleeper%' AND pid <> pg_backend_pid()")" = 3 ]; do
		_i=$((_i + 1))
		[ "$_i" -lt 300 ] || fail "the sleepers did not start"
		sleep 0.1
	done
}

wake_sleepers()
{
	pg_sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	    WHERE query LIKE '%shade-test-sleeper%' AND pid <> pg_backend_pid()" >/dev/null
}

make_table 50000
sleepers
start_shade --dsn "$PG_DSN" --table items --execute --max-load 2 --alter "$ALTER"
wait_for_line max-load "throttled: load "
assert_contains "$SHADE_ERR" "active backends > --max-load 2" max-load
_a=$(pg_val "SELECT count(*) FROM _items_new")
sleep 2
assert_eq "$(pg_val "SELECT count(*) FROM _items_new")" "$_a" "max-load: the copy went on"
wake_sleepers
check_done max-load

make_table 50000
pg_fingerprint >"$T_TMP/before"
sleepers
run_shade --dsn "$PG_DSN" --table items --execute --critical-load 2 --alter "$ALTER"
wake_sleepers
assert_rc 1 critical-load
assert_contains "$SHADE_ERR" "active backends > --critical-load 2: aborted during copy" \
    critical-load
assert_eq "$(pg_leftovers items)" "" "critical-load: leftovers"
pg_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "critical-load: the database changed"

# -- bad input: exit 2, one line, nothing changed -----------------------------
run_shade --dsn "$PG_DSN" --table items --execute --throttle-query 'SELECT v FROM nowhere' \
    --alter "$ALTER"
assert_rc 2 "failing query"
assert_one_line "failing query"
assert_contains "$SHADE_ERR" "--throttle-query failed:" "failing query"
run_shade --dsn "$PG_DSN" --table items --execute --max-lag 1 \
    --replica "host=$T_TMP/nowhere port=1 dbname=x user=$PG_USER" --alter "$ALTER"
assert_rc 2 "unreachable replica"
assert_one_line "unreachable replica"
assert_contains "$SHADE_ERR" "cannot reach replica #1" "unreachable replica"
pg_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "bad input: the database changed"

t_pass
