#!/bin/sh
# mysql_cleanup.sh - on MariaDB, a lost connection and --cleanup:
#   1. shade's connections killed mid-copy (KILL, as a failover would cut
#      them), under a mirrored write load: shade reconnects, takes the run
#      up where it was and finishes, equal to the mirror;
#   2. --cleanup while a shade runs on the table is refused (exit 2); after
#      a kill -9 it removes everything the run left and leaves the database
#      as it was before the run; a second --cleanup finds nothing.
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=${MY_CLEANUP_ROWS:-200000}
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

# -- 1. shade's connections killed mid-copy ------------------------------------

make_items
start_loaded 1 --dsn "$MY_DSN" --table items --alter "$ALTER" --execute --chunk-time 0.02
_i=0
while [ "$(state_cursor)" -lt $((ROWS / 10)) ]; do
	kill -0 "$SHADE_PID" 2>/dev/null || { wait_shade; fail "1: shade ended too soon"; }
	_i=$((_i + 1))
	[ "$_i" -lt 600 ] || fail "1: the copy did not get under way within 60 s"
	sleep 0.1
done
_ids=$(my_val "SELECT GROUP_CONCAT(PROCESSLIST_ID) FROM performance_schema.session_connect_attrs
    WHERE ATTR_NAME = 'program_name' AND ATTR_VALUE = 'shade'")
[ -n "$_ids" ] && [ "$_ids" != NULL ] || fail "1: found no connection of shade's"
for _id in $(echo "$_ids" | tr ',' ' '); do
	my_sql "KILL $_id" || true
done
note "1: killed shade's connections $_ids"
wait_shade
assert_contains "$SHADE_ERR" "lost the connection to the server during copy" "1: says so"
assert_contains "$SHADE_ERR" "reconnected" "1: reconnected"
assert_contains "$SHADE_ERR" "resuming the interrupted run: copy from the key after" "1: resumed"
check_done "1 (connections killed mid-copy)"

# -- 2. --cleanup --------------------------------------------------------------------

make_items
my_fingerprint >"$T_TMP/before"
start_shade --dsn "$MY_DSN" --table items --alter "$ALTER" --execute --chunk-time 0.02
_i=0
while [ "$(state_cursor)" -lt 1000 ]; do
	kill -0 "$SHADE_PID" 2>/dev/null || { wait_shade; fail "2: shade ended too soon"; }
	_i=$((_i + 1))
	[ "$_i" -lt 600 ] || fail "2: the copy did not get under way"
	sleep 0.1
done
kill -STOP "$SHADE_PID"
run_shade --dsn "$MY_DSN" --table items --cleanup
assert_rc 2 "2: --cleanup while a shade runs"
assert_contains "$SHADE_ERR" "another shade is running" "2: says why"
kill -9 "$SHADE_PID"
kill -CONT "$SHADE_PID" 2>/dev/null || true
wait_shade || true
shade_sessions_gone 2
run_shade --dsn "$MY_DSN" --table items --cleanup
assert_rc 0 "2: --cleanup"
assert_contains "$SHADE_ERR" "removed what an interrupted run left" "2: says what it did"
_left=$(my_leftovers items)
[ -z "$_left" ] || fail "2: left behind: $_left"
my_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "2: the database is not as before the run"
run_shade --dsn "$MY_DSN" --table items --cleanup
assert_rc 0 "2: a second --cleanup"
assert_contains "$SHADE_ERR" "nothing of shade's is left" "2: finds nothing"

t_pass
