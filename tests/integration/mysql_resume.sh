#!/bin/sh
# mysql_resume.sh - on MariaDB, a run killed with kill -9 is taken up by the
# same command, under a mirrored write load, and loses no write:
#   1. killed mid-copy: the second run says where it resumes (not at the
#      first key but after the state's cursor), finishes, and items equals
#      its mirror;
#   2. killed while its swap waits for the lock (a transaction holds T's
#      metadata lock; the state says catch-up, the sentry is left behind):
#      the second run resumes at catch-up, takes the sentry over and
#      finishes;
#   3. after a kill, a different ALTER is refused with exit 2, one line
#      saying what to do, and the database as the killed run left it; the
#      same command then resumes.
#   4. shade's connections killed mid-copy (KILL, as a failover would cut
#      them): shade reconnects, takes the run up where it was and finishes,
#      equal to the mirror;
#   5. --cleanup while a shade runs on the table is refused (exit 2); after
#      a kill -9 it removes everything the run left and leaves the database
#      as it was before the run; a second --cleanup finds nothing.
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=${MY_RESUME_ROWS:-200000}
COLS="id, sku, qty, price, note, updated_at"
ALTER='ADD COLUMN flag tinyint NOT NULL DEFAULT 0, MODIFY qty bigint NOT NULL'

my_start
my_newdb

make_items()
{
	my_sql >/dev/null <<EOF
DROP TABLE IF EXISTS items, items_mirror, _items_old;
CREATE TABLE items (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	sku VARCHAR(64) NOT NULL,
	qty INT NOT NULL,
	price DECIMAL(12,2),
	note TEXT,
	updated_at DATETIME(6) NOT NULL,
	KEY items_sku_idx (sku),
	UNIQUE KEY items_sku_qty_uq (sku, qty, id)
) ENGINE=InnoDB;
INSERT INTO items (id, sku, qty, price, note, updated_at)
SELECT seq, CONCAT('SKU-', seq), seq % 1000, (seq % 100000) / 100,
       CASE WHEN seq % 7 = 0 THEN NULL ELSE CONCAT('note ', seq) END,
       TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND
FROM seq_1_to_$ROWS;
CREATE TABLE items_mirror LIKE items;
INSERT INTO items_mirror SELECT * FROM items;
ANALYZE TABLE items;
EOF
}

has_state()
{
	my_val "SELECT COUNT(*) FROM information_schema.tables
	    WHERE table_schema = DATABASE() AND table_name = '_items_state'"
}

# A value of the state table (default $2 when there is none). The cursor
# is keyval_encode's text of one key column, "<length>:<id>": its id.
state_val()
{
	if [ "$(has_state)" = 1 ]; then
		my_val "SELECT IFNULL((SELECT v FROM _items_state WHERE k = '$1'), '$2')"
	else
		echo "$2"
	fi
}

state_cursor()
{
	state_val cursor 0:0 | sed 's/^[0-9]*://'
}

# The killed shade's sessions end (the server notices the closed socket
# once a running statement finishes): only then is what it left final.
shade_sessions_gone()
{
	_i=0
	while [ "$(my_val "SELECT COUNT(*) FROM performance_schema.session_connect_attrs
	    WHERE ATTR_NAME = 'program_name' AND ATTR_VALUE = 'shade'")" != 0 ]; do
		_i=$((_i + 1))
		[ "$_i" -lt 300 ] || fail "$1: the killed shade's sessions did not end within 30 s"
		sleep 0.1
	done
}

# start_loaded SEED SHADE-ARGS...: start shade with the writer going. The
# writer starts only once the capture triggers exist (MDEV-26048, see
# my_migrate_under_load in lib.sh): a reader delays the capture, shade is
# paused (SIGUSR1) meanwhile, and goes on (SIGUSR2) once the writer runs.
start_loaded()
{
	_seed=$1
	shift
	my_client -D "$MY_DB" -e "START TRANSACTION;
	    SELECT COUNT(*) FROM items; SELECT SLEEP(2); COMMIT" >/dev/null &
	_hold=$!
	bg_track "$_hold"
	sleep 0.3
	start_shade "$@"
	_i=0
	until grep -q capture "$SHADE_ERR"; do
		kill -0 "$SHADE_PID" 2>/dev/null || { wait_shade; fail "$_seed: shade ended early"; }
		_i=$((_i + 1))
		[ "$_i" -lt 1200 ] || fail "$_seed: shade did not reach the capture"
		sleep 0.05
	done
	kill -USR1 "$SHADE_PID"
	wait "$_hold" || true
	_i=0
	while [ "$(my_val "SELECT COUNT(*) FROM information_schema.triggers
	    WHERE trigger_schema = DATABASE() AND event_object_table = 'items'")" != 3 ]; do
		_i=$((_i + 1))
		[ "$_i" -lt 600 ] || fail "$_seed: no capture triggers after 60 s"
		sleep 0.1
	done
	start_writer --engine mysql --dsn "$MY_DSN" --table items --mirror items_mirror \
	    --workers 2 --seconds 600 --seed "$_seed" --rate 100
	sleep 1
	kill -USR2 "$SHADE_PID"
}

# What a finished migration must leave.
check_done()
{
	stop_writer --keep-going
	assert_rc 0 "$1: the resumed run"
	my_same_rows items items_mirror "$COLS" "$1"
	[ "$WRITER_RC" = 0 ] || fail "$1: the writer failed (exit $WRITER_RC)"
	_left=$(my_leftovers items)
	[ -z "$_left" ] || fail "$1: left behind: $_left"
	assert_eq "$(my_val "SELECT GROUP_CONCAT(table_name ORDER BY BINARY table_name)
	    FROM information_schema.tables WHERE table_schema = DATABASE()")" \
	    "_items_old,items,items_mirror" "$1: the tables"
	assert_eq "$(my_val "SELECT column_type FROM information_schema.columns
	    WHERE table_schema = DATABASE() AND table_name = 'items'
	      AND column_name = 'qty'")" "bigint(20)" "$1: qty's type"
	assert_eq "$(my_val "SELECT COUNT(*) FROM items WHERE flag <> 0")" 0 "$1: flag"
	assert_eq "$(my_val "SELECT GROUP_CONCAT(DISTINCT index_name ORDER BY index_name)
	    FROM information_schema.statistics
	    WHERE table_schema = DATABASE() AND table_name = 'items'")" \
	    "items_sku_idx,items_sku_qty_uq,PRIMARY" "$1: the indexes"
	assert_eq "$(my_val "SELECT COUNT(*) FROM information_schema.triggers
	    WHERE trigger_schema = DATABASE()")" 0 "$1: triggers"
}

# -- 1. kill -9 mid-copy, then the same command again ----------------------------

make_items
start_loaded 1 --dsn "$MY_DSN" --table items --alter "$ALTER" --execute --chunk-time 0.02
_i=0
while [ "$(state_cursor)" -lt $((ROWS / 10)) ]; do
	kill -0 "$SHADE_PID" 2>/dev/null || { wait_shade; fail "1: shade ended before it was killed"; }
	_i=$((_i + 1))
	[ "$_i" -lt 600 ] || fail "1: the copy did not get under way within 60 s"
	sleep 0.1
done
kill -9 "$SHADE_PID"
wait_shade || true
shade_sessions_gone 1
_at=$(state_cursor)
note "1: killed with the copy after key $_at of $ROWS"
[ "$_at" -gt 0 ] && [ "$_at" -lt "$ROWS" ] || fail "1: the copy's position is $_at"
assert_eq "$(state_val phase '')" copy "1: the state's phase"
# The triggers go on logging while no shade runs.
sleep 1
run_shade --dsn "$MY_DSN" --table items --alter "$ALTER" --execute --chunk-time 0.05
assert_contains "$SHADE_ERR" "resuming the interrupted run: copy from the key after" \
    "1: says it resumes"
_from=$(sed -n 's/.*copy from the key after \([0-9]*\).*/\1/p' "$SHADE_ERR" | head -n 1)
assert_eq "${_from:-?}" "$_at" "1: where the copy resumed"
check_done "1 (killed mid-copy)"

# -- 2. kill -9 while the swap waits for its lock ----------------------------------

# A transaction that wrote T (an UPDATE of no row: no row lock, so the
# writer goes on) holds its metadata lock, which the swap's LOCK TABLES
# READ waits for; a transaction that only read T would not stop it.
hold_writes()
{
	my_client -D "$MY_DB" -e "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;
	    START TRANSACTION; UPDATE items SET qty = qty WHERE id = 0;
	    SELECT SLEEP(120); COMMIT" >/dev/null 2>&1 &
	HOLD_PID=$!
	bg_track "$HOLD_PID"
}

make_items
start_loaded 2 --dsn "$MY_DSN" --table items --alter "$ALTER" --execute --chunk-time 0.05 \
    --lock-timeout 0.2 --lock-retries 100
HOLD_PID=
_i=0
until [ "$(state_val phase '')" = catch-up ]; do
	kill -0 "$SHADE_PID" 2>/dev/null || { wait_shade; fail "2: shade ended before catch-up"; }
	_i=$((_i + 1))
	[ "$_i" -lt 2400 ] || fail "2: no catch-up within 120 s"
	# Hold T as soon as the copy is done, so the swap has to wait.
	if [ -z "$HOLD_PID" ] && [ "$(state_val phase copy)" != copy ]; then
		hold_writes
	fi
	sleep 0.05
done
[ -n "$HOLD_PID" ] || hold_writes
# Killed in an attempt (its LOCK TABLES waiting), after one that failed:
# the sentry is there (a failed attempt drops it, the next makes it again).
_i=0
until grep -q "swap: could not lock" "$SHADE_ERR" &&
    [ "$(my_val "SELECT COUNT(*) FROM information_schema.processlist
	WHERE INFO LIKE 'LOCK TABLES%'")" != 0 ]; do
	kill -0 "$SHADE_PID" 2>/dev/null || { wait_shade; fail "2: shade ended before the swap waited"; }
	_i=$((_i + 1))
	[ "$_i" -lt 600 ] || fail "2: the swap never waited for its lock"
	sleep 0.05
done
kill -9 "$SHADE_PID"
wait_shade || true
for _id in $(my_val "SELECT ID FROM information_schema.processlist
    WHERE INFO LIKE 'SELECT SLEEP(120)%'"); do
	my_sql "KILL $_id"
done
wait "$HOLD_PID" 2>/dev/null || true
shade_sessions_gone 2
assert_eq "$(state_val phase '')" catch-up "2: the state's phase"
assert_eq "$(my_val "SELECT COUNT(*) FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name = 'items_shade_cut'")" 1 \
    "2: the killed swap's sentry"
run_shade --dsn "$MY_DSN" --table items --alter "$ALTER" --execute --chunk-time 0.05
assert_contains "$SHADE_ERR" "resuming the interrupted run at its catch-up phase" \
    "2: says it resumes at catch-up"
check_done "2 (killed waiting for the swap)"

# -- 3. a different ALTER on the leftovers of a killed run -------------------------

make_items
start_shade --dsn "$MY_DSN" --table items --alter "$ALTER" --execute --chunk-time 0.02
_i=0
until [ "$(state_cursor)" -gt 0 ]; do
	kill -0 "$SHADE_PID" 2>/dev/null || { wait_shade; fail "3: shade ended before it was killed"; }
	_i=$((_i + 1))
	[ "$_i" -lt 600 ] || fail "3: the copy did not get under way"
	sleep 0.1
done
kill -9 "$SHADE_PID"
wait_shade || true
shade_sessions_gone 3
my_fingerprint >"$T_TMP/before"
run_shade --dsn "$MY_DSN" --table items --alter 'ADD COLUMN other int' --execute
assert_rc 2 "3: a different ALTER"
assert_one_line "3: a different ALTER"
assert_contains "$SHADE_ERR" "run that same command again to resume it" "3: says what to do"
my_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "3: the database changed"
# And the same command still resumes it.
run_shade --dsn "$MY_DSN" --table items --alter "$ALTER" --execute
assert_rc 0 "3: the same command after the refusal"
assert_contains "$SHADE_ERR" "resuming the interrupted run" "3: says it resumes"
my_same_rows items items_mirror "$COLS" "3"
_left=$(my_leftovers items)
[ -z "$_left" ] || fail "3: left behind: $_left"

# -- 4. shade's connections killed mid-copy ------------------------------------

make_items
start_loaded 4 --dsn "$MY_DSN" --table items --alter "$ALTER" --execute --chunk-time 0.02
_i=0
while [ "$(state_cursor)" -lt $((ROWS / 10)) ]; do
	kill -0 "$SHADE_PID" 2>/dev/null || { wait_shade; fail "4: shade ended too soon"; }
	_i=$((_i + 1))
	[ "$_i" -lt 600 ] || fail "4: the copy did not get under way within 60 s"
	sleep 0.1
done
_ids=$(my_val "SELECT GROUP_CONCAT(PROCESSLIST_ID) FROM performance_schema.session_connect_attrs
    WHERE ATTR_NAME = 'program_name' AND ATTR_VALUE = 'shade'")
[ -n "$_ids" ] && [ "$_ids" != NULL ] || fail "4: found no connection of shade's"
for _id in $(echo "$_ids" | tr ',' ' '); do
	my_sql "KILL $_id" || true
done
note "4: killed shade's connections $_ids"
wait_shade
assert_contains "$SHADE_ERR" "lost the connection to the server during copy" "4: says so"
assert_contains "$SHADE_ERR" "reconnected" "4: reconnected"
assert_contains "$SHADE_ERR" "resuming the interrupted run: copy from the key after" "4: resumed"
check_done "4 (connections killed mid-copy)"

# -- 5. --cleanup --------------------------------------------------------------------

make_items
my_fingerprint >"$T_TMP/before"
start_shade --dsn "$MY_DSN" --table items --alter "$ALTER" --execute --chunk-time 0.02
_i=0
while [ "$(state_cursor)" -lt 1000 ]; do
	kill -0 "$SHADE_PID" 2>/dev/null || { wait_shade; fail "5: shade ended too soon"; }
	_i=$((_i + 1))
	[ "$_i" -lt 600 ] || fail "5: the copy did not get under way"
	sleep 0.1
done
kill -STOP "$SHADE_PID"
run_shade --dsn "$MY_DSN" --table items --cleanup
assert_rc 2 "5: --cleanup while a shade runs"
assert_contains "$SHADE_ERR" "another shade is running" "5: says why"
kill -9 "$SHADE_PID"
kill -CONT "$SHADE_PID" 2>/dev/null || true
wait_shade || true
shade_sessions_gone 5
run_shade --dsn "$MY_DSN" --table items --cleanup
assert_rc 0 "5: --cleanup"
assert_contains "$SHADE_ERR" "removed what an interrupted run left" "5: says what it did"
_left=$(my_leftovers items)
[ -z "$_left" ] || fail "5: left behind: $_left"
my_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "5: the database is not as before the run"
run_shade --dsn "$MY_DSN" --table items --cleanup
assert_rc 0 "5: a second --cleanup"
assert_contains "$SHADE_ERR" "nothing of shade's is left" "5: finds nothing"

t_pass
