#!/bin/sh
# mysql_mirror.sh - no write is lost while shade migrates a busy MariaDB table.
#
# items (~60k rows, AUTO_INCREMENT key, a secondary and a unique index) and
# items_mirror start identical. The writer (4 processes) applies every
# insert, update, key update and delete to both in the same transaction from
# the capture to the end of the migration, with small chunks so that copy and
# apply interleave many times. Afterwards items must equal the mirror row for row on every
# original column, have the new schema, keep its index names, its
# AUTO_INCREMENT must continue above the old counter, and nothing of shade
# may be left but _items_old. Two migrations in a row.
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=${MY_MIRROR_ROWS:-60000}
COLS="id, sku, qty, price, note, updated_at"
# The writer's fresh keys stay far below this: an id the table hands out
# after the migration shows that its AUTO_INCREMENT was carried over.
AI_START=5000000000

my_start
my_newdb

my_sql <<EOF
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
       CASE WHEN seq % 7 = 0 THEN NULL
            WHEN seq % 11 = 0 THEN CONCAT('it''s "quoted" \\\\ 🦆 ünïcödé ', seq)
            ELSE CONCAT('note ', seq) END,
       TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND
FROM seq_1_to_$ROWS;
CREATE TABLE items_mirror LIKE items;
INSERT INTO items_mirror SELECT * FROM items;
ALTER TABLE items AUTO_INCREMENT = $AI_START;
ANALYZE TABLE items;
EOF

coltype()
{
	my_val "SELECT column_type FROM information_schema.columns
	    WHERE table_schema = DATABASE() AND table_name = '$1'
	      AND column_name = '$2'"
}

# migrate SEED ALTER [shade options...]: one migration under write load.
migrate()
{
	_seed=$1 _alter=$2
	shift 2
	LOAD_ARGS="--engine mysql --dsn $MY_DSN --table items --mirror items_mirror
	    --workers 4 --seconds 600 --seed $_seed --rate 150"
	my_migrate_under_load items --dsn "$MY_DSN" --table items --alter "$_alter" \
	    --execute --chunk-time 0.05 "$@"
	assert_rc 0 "migration $_seed"
	[ "$WRITER_COMMITS" -gt 100 ] ||
	    fail "migration $_seed: the writer committed only $WRITER_COMMITS"
	note "migration $_seed: the writer committed $WRITER_COMMITS transactions"
}

# What every successful migration must leave.
check_after()
{
	_run=$1
	_left=$(my_leftovers items)
	[ -z "$_left" ] || fail "$_run: left behind: $_left"
	my_same_rows items items_mirror "$COLS" "$_run"
	assert_eq "$(my_val "SELECT GROUP_CONCAT(DISTINCT index_name
	    ORDER BY index_name) FROM information_schema.statistics
	    WHERE table_schema = DATABASE() AND table_name = 'items'")" \
	    "items_sku_idx,items_sku_qty_uq,PRIMARY" "$_run: index names"
	assert_eq "$(my_val "SELECT non_unique FROM information_schema.statistics
	    WHERE table_schema = DATABASE() AND table_name = 'items'
	      AND index_name = 'items_sku_qty_uq' AND seq_in_index = 1")" 0 \
	    "$_run: items_sku_qty_uq is unique"
	assert_eq "$(my_val "SELECT count(*) FROM information_schema.triggers
	    WHERE trigger_schema = DATABASE()")" 0 "$_run: triggers in the database"
	assert_eq "$(my_val "SELECT engine FROM information_schema.tables
	    WHERE table_schema = DATABASE() AND table_name = 'items'")" InnoDB \
	    "$_run: engine"
	# AUTO_INCREMENT hands out ids above the old counter.
	_new=$(my_val "INSERT INTO items (sku, qty, updated_at)
	    VALUES ('after', 1, NOW()); SELECT LAST_INSERT_ID()")
	[ "$_new" -ge "$AI_START" ] ||
	    fail "$_run: AUTO_INCREMENT handed out $_new, below $AI_START"
	my_sql "DELETE FROM items WHERE id = $_new"
}

# 1: add a column, widen another; keep _items_old.
migrate 1 'ADD COLUMN flag tinyint NOT NULL DEFAULT 0, MODIFY qty bigint NOT NULL'
check_after "migration 1"
assert_eq "$(coltype items qty)" "bigint(20)" "migration 1: type of qty"
assert_eq "$(coltype items flag)" "tinyint(4)" "migration 1: type of flag"
assert_eq "$(my_val "SELECT is_nullable FROM information_schema.columns
    WHERE table_schema = DATABASE() AND table_name = 'items'
      AND column_name = 'flag'")" NO "migration 1: flag NOT NULL"
assert_eq "$(my_val "SELECT count(*) FROM items WHERE flag <> 0")" 0 \
    "migration 1: rows with flag <> 0"
assert_eq "$(my_val "SELECT count(*) FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name = '_items_old'")" 1 \
    "migration 1: _items_old exists"
assert_eq "$(coltype _items_old qty)" "int(11)" \
    "migration 1: _items_old keeps the old schema"

# 2: the other way round, dropping the old table.
my_sql "DROP TABLE _items_old"
migrate 2 "DROP COLUMN flag, MODIFY price DECIMAL(14,3), ADD COLUMN extra VARCHAR(10) NOT NULL DEFAULT 'x'" \
    --drop-old
check_after "migration 2"
assert_eq "$(coltype items price)" "decimal(14,3)" "migration 2: type of price"
assert_eq "$(coltype items flag)" "" "migration 2: flag is gone"
assert_eq "$(my_val "SELECT count(*) FROM items WHERE extra <> 'x'")" 0 \
    "migration 2: rows with extra <> 'x'"
assert_eq "$(my_val "SELECT count(*) FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name = '_items_old'")" 0 \
    "migration 2: _items_old dropped (--drop-old)"

t_pass
