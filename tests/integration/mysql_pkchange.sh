#!/bin/sh
# mysql_pkchange.sh - primary-key changes under a mirrored write load: no
# write is lost, the new table has the new key, and new rows still get
# fresh ids.
#
# shade logs and copies by the old key (id), which the shadow keeps as its
# primary key during the copy; the new key replaces it after the copy
# (README, "Why no write is lost"). The writer inserts, updates every
# non-key column (qty and sku are in the new keys), moves rows to new ids
# and deletes, in the table and a mirror in the same transaction.
#   1. more columns in the key: (id) -> (id, qty), qty updated all the time;
#   2. a different key, the old one kept UNIQUE: (id) -> (sku, id), the
#      apply finding its rows by the unique key on id once the new key is
#      built;
#   3. a new key over duplicate data (qty) fails like the plain ALTER:
#      exit 1, the table as it was.
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=${MY_PKCHANGE_ROWS:-20000}
COLS="id, sku, qty, price, note, updated_at"

my_start
my_newdb

# make_table NAME: NAME and NAME_mirror, identical, id AUTO_INCREMENT.
make_table()
{
	my_sql <<EOF
CREATE TABLE $1 (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	sku VARCHAR(64) NOT NULL,
	qty INT NOT NULL,
	price DECIMAL(12,2),
	note TEXT,
	updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB;
INSERT INTO $1 (id, sku, qty, price, note, updated_at)
SELECT seq, CONCAT('SKU-', seq), seq % 1000, (seq % 100000) / 100,
       CASE WHEN seq % 7 = 0 THEN NULL ELSE CONCAT('note ', seq) END,
       TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND
FROM seq_1_to_$ROWS;
CREATE TABLE ${1}_mirror LIKE $1;
INSERT INTO ${1}_mirror SELECT * FROM $1;
ANALYZE TABLE $1;
EOF
}

# migrate TABLE SEED ALTER: one migration under load (tests/lib.sh's
# my_migrate_under_load: the writer starts once the triggers exist, as the
# README says of MDEV-26048, and runs through the swap).
migrate()
{
	_t=$1 _seed=$2 _alter=$3
	LOAD_ARGS="--engine mysql --dsn $MY_DSN --table $_t --mirror ${_t}_mirror
	    --workers 4 --seconds 600 --seed $_seed --rate 150"
	my_migrate_under_load "$_t" --dsn "$MY_DSN" --table "$_t" --alter "$_alter" \
	    --execute --chunk-time 0.05 --drop-old
	assert_rc 0 "$_t"
	[ "$WRITER_COMMITS" -gt 100 ] ||
	    fail "$_t: the writer committed only $WRITER_COMMITS"
	note "$_t: the writer committed $WRITER_COMMITS transactions"
	_left=$(my_leftovers "$_t")
	[ -z "$_left" ] || fail "$_t: left behind: $_left"
	my_same_rows "$_t" "${_t}_mirror" "$COLS" "$_t"
}

# key_cols TABLE: the primary key's columns, in order.
key_cols()
{
	my_val "SELECT GROUP_CONCAT(column_name ORDER BY seq_in_index)
	    FROM information_schema.statistics WHERE table_schema = DATABASE()
	    AND table_name = '$1' AND index_name = 'PRIMARY'"
}

# fresh_id TABLE: a row inserted without an id gets one above every id.
fresh_id()
{
	_max=$(my_val "SELECT MAX(id) FROM $1")
	my_sql "INSERT INTO $1 (sku, qty, updated_at) VALUES ('fresh', 1, NOW())"
	_new=$(my_val "SELECT id FROM $1 WHERE sku = 'fresh'")
	[ "$_new" -gt "$_max" ] || fail "$1: a new row got id $_new, not above $_max"
}

# 1. More columns in the key.
make_table wider
migrate wider 41 'DROP PRIMARY KEY, ADD PRIMARY KEY (id, qty)'
assert_eq "$(key_cols wider)" "id,qty" "wider: the new key"
fresh_id wider

# 2. A different key; the old one stays UNIQUE (and finds the apply's rows).
make_table other
migrate other 42 'DROP PRIMARY KEY, ADD PRIMARY KEY (sku, id), ADD UNIQUE KEY id (id)'
assert_eq "$(key_cols other)" "sku,id" "other: the new key"
assert_eq "$(my_val "SELECT non_unique FROM information_schema.statistics
    WHERE table_schema = DATABASE() AND table_name = 'other' AND index_name = 'id'")" 0 \
    "other: id is unique"
fresh_id other

# 3. A new key the data does not fit: the plain ALTER's failure, T intact.
make_table dup
_before=$(my_val "SELECT COUNT(*), SUM(qty) FROM dup")
run_shade --dsn "$MY_DSN" --table dup --execute \
    --alter 'DROP PRIMARY KEY, ADD PRIMARY KEY (qty), ADD KEY id (id)'
assert_rc 1 "dup: a new key over duplicate values"
assert_contains "$SHADE_ERR" "Duplicate entry" "dup: the server's message"
assert_eq "$(key_cols dup)" id "dup: the key is as it was"
assert_eq "$(my_val "SELECT COUNT(*), SUM(qty) FROM dup")" "$_before" "dup: the rows"
_left=$(my_leftovers dup)
[ -z "$_left" ] || fail "dup: left behind: $_left"
