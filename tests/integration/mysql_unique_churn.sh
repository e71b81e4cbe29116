#!/bin/sh
# mysql_unique_churn.sh - values of a UNIQUE column move between rows while
# shade migrates a busy MariaDB table (issue 15).
#
# items (~40k rows: a key, a secondary index and UNIQUE KEY (u)) and
# items_mirror start identical. The writer (4 processes, --unique-churn)
# runs the usual insert, update, key update and delete mix and, in a third
# of its transactions, moves values of u: two rows swap theirs through a
# temporary value, one row hands its value to another, one transaction
# frees a value and a later one takes it. Each goes to both tables in the
# same transaction. So the shadow often holds a stale row whose value
# another row now needs: shade must refresh it, not report the table's data
# as violating the key. Small chunks make copy and apply interleave.
#
# 1. Two migrations in a row, each building the unique key on the shadow
#    after the copy and keeping it through the catch-up and the swap's
#    drain: exit 0, items equals the mirror row for row, the unique key is
#    there, nothing of shade is left but _items_old (the first time).
# 2. A new unique key over data that repeats (qty), under the same load: a
#    real violation. Exit 1 with the server's "Duplicate entry" message,
#    items as it was (its definition; its rows equal the mirror's), nothing
#    of shade left.
#
# The writer starts once the capture triggers exist (MDEV-26048, see
# my_migrate_under_load in tests/lib.sh) and goes on LOAD_AFTER seconds
# after shade ends; a row written before the capture is copied like any
# other, so what counts is what it writes while shade runs. Half of its
# moves pick among a few hot rows, which makes them meet the rows shade is
# re-copying: without the release of stale holders (engine/mysql/apply.c),
# most runs fail in migration 1 or 2.
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=${MY_UNIQUE_CHURN_ROWS:-40000}
COLS="id, sku, qty, price, note, updated_at, u"
LOAD_AFTER=1

my_start
my_newdb

my_sql <<EOF
CREATE TABLE items (
	id BIGINT NOT NULL PRIMARY KEY,
	sku VARCHAR(64) NOT NULL,
	qty INT NOT NULL,
	price DECIMAL(12,2),
	note TEXT,
	updated_at DATETIME(6) NOT NULL,
	u INT NULL,
	KEY items_sku_idx (sku),
	UNIQUE KEY items_u_uq (u)
) ENGINE=InnoDB;
INSERT INTO items (id, sku, qty, price, note, updated_at, u)
SELECT seq, CONCAT('SKU-', seq), seq % 1000, (seq % 100000) / 100,
       CASE WHEN seq % 7 = 0 THEN NULL ELSE CONCAT('note ', seq) END,
       TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND,
       CASE WHEN seq % 13 = 0 THEN NULL ELSE seq END
FROM seq_1_to_$ROWS;
CREATE TABLE items_mirror LIKE items;
INSERT INTO items_mirror SELECT * FROM items;
ANALYZE TABLE items;
EOF

# migrate SEED ALTER [shade options...]: one migration under the churn. As
# my_migrate_under_load (tests/lib.sh), but without making the capture wait:
# the writer starts once the triggers exist, with the copy paused meanwhile
# so that the load overlaps it; it goes on LOAD_AFTER seconds after shade.
migrate()
{
	_seed=$1 _alter=$2
	shift 2
	start_shade --dsn "$MY_DSN" --table items --alter "$_alter" --execute \
	    --chunk-time 0.02 "$@"
	_i=0
	while [ "$(my_val "SELECT count(*) FROM information_schema.triggers
	    WHERE trigger_schema = DATABASE() AND event_object_table = 'items'")" != 3 ]; do
		kill -0 "$SHADE_PID" 2>/dev/null || break
		_i=$((_i + 1))
		[ "$_i" -lt 600 ] || fail "migration $_seed: no capture triggers after 60 s"
		sleep 0.05
	done
	kill -USR1 "$SHADE_PID" 2>/dev/null || true
	start_writer --engine mysql --dsn "$MY_DSN" --table items --mirror items_mirror \
	    --workers 4 --seconds 600 --seed "$_seed" --rate 1000 --unique-churn
	sleep 1
	kill -USR2 "$SHADE_PID" 2>/dev/null || true
	wait_shade
	sleep "$LOAD_AFTER"
	stop_writer
	[ "$WRITER_COMMITS" -gt 100 ] ||
	    fail "migration $_seed: the writer committed only $WRITER_COMMITS"
	_moves=$(sed -n 's/^writer: unique churn: \([0-9]*\) moves.*/\1/p' "$WRITER_LOG")
	[ "${_moves:-0}" -gt 50 ] ||
	    fail "migration $_seed: the writer moved values of u only ${_moves:-0} times"
	note "migration $_seed: $WRITER_COMMITS transactions, $_moves moves of u"
}

tables()
{
	my_val "SELECT GROUP_CONCAT(table_name ORDER BY table_name)
	    FROM information_schema.tables WHERE table_schema = DATABASE()"
}

# check_after WHAT TABLES: what every successful migration must leave; TABLES
# are the database's tables then, in order, comma-separated.
check_after()
{
	_run=$1
	assert_rc 0 "$_run"
	! grep -q 'does not fit' "$SHADE_ERR" || fail "$_run: shade blamed the data"
	_left=$(my_leftovers items)
	[ -z "$_left" ] || fail "$_run: left behind: $_left"
	assert_eq "$(tables)" "$2" "$_run: the tables"
	my_same_rows items items_mirror "$COLS" "$_run"
	assert_eq "$(my_val "SELECT GROUP_CONCAT(DISTINCT index_name
	    ORDER BY index_name) FROM information_schema.statistics
	    WHERE table_schema = DATABASE() AND table_name = 'items'")" \
	    "items_sku_idx,items_u_uq,PRIMARY" "$_run: index names"
	assert_eq "$(my_val "SELECT non_unique FROM information_schema.statistics
	    WHERE table_schema = DATABASE() AND table_name = 'items'
	      AND index_name = 'items_u_uq'")" 0 "$_run: items_u_uq is unique"
	assert_eq "$(my_val "SELECT count(*) FROM information_schema.triggers
	    WHERE trigger_schema = DATABASE()")" 0 "$_run: triggers in the database"
}

coltype()
{
	my_val "SELECT column_type FROM information_schema.columns
	    WHERE table_schema = DATABASE() AND table_name = 'items'
	      AND column_name = '$1'"
}

# 1: two migrations in a row.
migrate 1 'ADD COLUMN flag INT NOT NULL DEFAULT 0, MODIFY qty BIGINT NOT NULL'
check_after "migration 1" "items,items_mirror,_items_old"
assert_eq "$(coltype qty)" "bigint(20)" "migration 1: type of qty"
assert_eq "$(my_val "SELECT count(*) FROM items WHERE flag <> 0")" 0 \
    "migration 1: rows with flag <> 0"

my_sql "DROP TABLE _items_old"
migrate 2 'DROP COLUMN flag, MODIFY price DECIMAL(14,3)' --drop-old
check_after "migration 2" "items,items_mirror"
assert_eq "$(coltype price)" "decimal(14,3)" "migration 2: type of price"
assert_eq "$(coltype flag)" "" "migration 2: flag is gone"

# 2: a unique key the data violates fails loudly and changes nothing.
definition()
{
	my_val "SHOW CREATE TABLE items" | sed 's/\\n/\n/g'
	my_val "SELECT CONCAT_WS(' ', index_name, seq_in_index, column_name, non_unique)
	    FROM information_schema.statistics
	    WHERE table_schema = DATABASE() AND table_name = 'items' ORDER BY 1"
}
definition >"$T_TMP/before"
migrate 3 'ADD UNIQUE KEY items_qty_uq (qty)'
assert_rc 1 "a unique key over duplicates"
assert_contains "$SHADE_ERR" "Duplicate entry" "a unique key over duplicates: the server's message"
assert_contains "$SHADE_ERR" "items_qty_uq" "a unique key over duplicates: the key"
_left=$(my_leftovers items)
[ -z "$_left" ] || fail "a unique key over duplicates: left behind: $_left"
assert_eq "$(tables)" "items,items_mirror" "a unique key over duplicates: the tables"
definition >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" \
    "a unique key over duplicates: the definition of items changed"
my_same_rows items items_mirror "$COLS" "a unique key over duplicates"

t_pass
