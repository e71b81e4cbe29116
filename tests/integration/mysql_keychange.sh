#!/bin/sh
# mysql_keychange.sh - the primary-key changes shade allows, each under write
# load on MariaDB: int to bigint, a longer varchar, a rename with CHANGE.
#
# The copy walks T's key and skips keys already in the shadow; the apply
# joins the shadow's key (new type, maybe new name) to the change log's
# (T's type and name). A change that keeps every two keys apart keeps both
# right. As in mysql_mirror.sh, the writer (4 processes) applies every
# insert, update, key update and delete to the table and to its mirror in
# the same transactions, from the capture to the end, with small chunks so
# that copy and apply interleave; afterwards the table must equal the mirror
# row for row, with the key column's new type (and name), and nothing of
# shade may be left behind.
#
# The writer binds every value as a string: against the varchar key it
# writes decimal numbers as text. The table holds 1 to 9999 so that the
# range it reads (MIN and MAX, compared as strings) is also the numeric one
# and its fresh keys (10000 and up) collide with none. For the rename it is
# told the new name (--renamed-key): a worker whose statement finds no
# column id after the swap writes item_id from then on; the mirror keeps id.
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=${MY_KEYCHANGE_ROWS:-30000}
COLS="id, sku, qty, price, note, updated_at"

my_start
my_newdb

# make_table NAME KEY-TYPE ROWS: NAME and NAME_mirror, identical.
make_table()
{
	my_sql <<EOF
CREATE TABLE $1 (
	id $2 NOT NULL PRIMARY KEY,
	sku VARCHAR(64) NOT NULL,
	qty INT NOT NULL,
	price DECIMAL(12,2),
	note TEXT,
	updated_at DATETIME(6) NOT NULL,
	KEY ${1}_sku_idx (sku)
) ENGINE=InnoDB;
INSERT INTO $1 (id, sku, qty, price, note, updated_at)
SELECT seq, CONCAT('SKU-', seq), seq % 1000, (seq % 100000) / 100,
       CASE WHEN seq % 7 = 0 THEN NULL
            WHEN seq % 11 = 0 THEN CONCAT('it''s "quoted" \\\\ 🦆 ', seq)
            ELSE CONCAT('note ', seq) END,
       TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND
FROM seq_1_to_$3;
CREATE TABLE ${1}_mirror LIKE $1;
INSERT INTO ${1}_mirror SELECT * FROM $1;
ANALYZE TABLE $1;
EOF
}

# migrate TABLE SEED ALTER [writer options...]: one migration under load.
migrate()
{
	_t=$1 _seed=$2 _alter=$3
	shift 3
	LOAD_ARGS="--engine mysql --dsn $MY_DSN --table $_t --mirror ${_t}_mirror
	    --workers 4 --seconds 600 --seed $_seed --rate 150 $*"
	my_migrate_under_load "$_t" --dsn "$MY_DSN" --table "$_t" --alter "$_alter" \
	    --execute --chunk-time 0.05 --drop-old
	assert_rc 0 "$_t"
	[ "$WRITER_COMMITS" -gt 100 ] ||
	    fail "$_t: the writer committed only $WRITER_COMMITS"
	note "$_t: the writer committed $WRITER_COMMITS transactions"
	_left=$(my_leftovers "$_t")
	[ -z "$_left" ] || fail "$_t: left behind: $_left"
}

# key_is TABLE COLUMN TYPE: the primary key is COLUMN alone, of TYPE.
key_is()
{
	assert_eq "$(my_val "SELECT GROUP_CONCAT(column_name ORDER BY seq_in_index)
	    FROM information_schema.statistics WHERE table_schema = DATABASE()
	      AND table_name = '$1' AND index_name = 'PRIMARY'")" "$2" \
	    "$1: the primary key's columns"
	assert_eq "$(my_val "SELECT column_type FROM information_schema.columns
	    WHERE table_schema = DATABASE() AND table_name = '$1'
	      AND column_name = '$2'")" "$3" "$1: the type of $2"
	assert_eq "$(my_val "SELECT count(*) FROM information_schema.statistics
	    WHERE table_schema = DATABASE() AND table_name = '$1'
	      AND index_name = '${1}_sku_idx'")" 1 "$1: its secondary index"
}

# 1: int to bigint.
make_table k_int INT "$ROWS"
migrate k_int 21 'MODIFY id BIGINT NOT NULL'
my_same_rows k_int k_int_mirror "$COLS" "int to bigint"
key_is k_int id "bigint(20)"

# 2: a longer varchar (keys 1 to 9999 as text, see the top).
make_table k_vc "VARCHAR(20)" 9999
migrate k_vc 22 'MODIFY id VARCHAR(40) NOT NULL'
my_same_rows k_vc k_vc_mirror "$COLS" "varchar(20) to varchar(40)"
key_is k_vc id "varchar(40)"

# 3: the key column renamed; the writer goes on a second after the swap,
# under the new name.
make_table k_ren INT "$ROWS"
LOAD_AFTER=1
migrate k_ren 23 'CHANGE id item_id INT NOT NULL' --renamed-key item_id
LOAD_AFTER=0
my_same_rows "(SELECT item_id AS id, sku, qty, price, note, updated_at FROM k_ren) AS r" \
    k_ren_mirror "$COLS" "id renamed to item_id"
key_is k_ren item_id "int(11)"
assert_eq "$(my_val "SELECT count(*) FROM information_schema.columns
    WHERE table_schema = DATABASE() AND table_name = 'k_ren'
      AND column_name = 'id'")" 0 "k_ren: no column id"

t_pass
