#!/bin/sh
# mysql_dryrun.sh - --dry-run on MariaDB exits 0, prints a plan that names
# the shadow, the change log, the triggers and the swap, times a sample copy,
# and changes nothing at all (catalog and data fingerprint, no leftovers):
# the ALTER is checked on a TEMPORARY copy only this session sees. An ALTER
# the server rejects is exit 2 with its message; so is a table the server
# cannot copy temporarily (partitions), and that also changes nothing.
set -eu
. "$(dirname "$0")/../lib.sh"

my_start
my_newdb

my_sql <<'EOF'
CREATE TABLE items (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	sku VARCHAR(40) NOT NULL,
	qty INT NOT NULL,
	KEY items_sku_idx (sku)
) ENGINE=InnoDB;
INSERT INTO items (sku, qty) SELECT CONCAT('SKU-', seq), seq % 100 FROM seq_1_to_20000;
CREATE TABLE parts (id INT PRIMARY KEY, v INT) ENGINE=InnoDB
	PARTITION BY HASH (id) PARTITIONS 2;
ANALYZE TABLE items;
EOF
my_fingerprint >"$T_TMP/before"

# unchanged WHAT: the database is as before, nothing of shade left.
unchanged()
{
	_left=$(my_leftovers items)
	[ -z "$_left" ] || fail "$1: left behind: $_left"
	my_fingerprint >"$T_TMP/after"
	assert_same_file "$T_TMP/before" "$T_TMP/after" "$1: the database changed"
}

run_shade --dsn "$MY_DSN" --table items --dry-run \
    --alter 'ADD COLUMN flag TINYINT NOT NULL DEFAULT 0, MODIFY qty BIGINT NOT NULL'
assert_rc 0 "dry run"
cat "$SHADE_OUT" "$SHADE_ERR" >"$T_TMP/all"
for text in "nothing was changed" "sample copy:" "_items_new" "_items_log" \
    "CREATE TRIGGER" "_items_shade_upd" "RENAME TABLE" "items_shade_cut" \
    "ADD KEY \`items_sku_idx\`" "_items_old"; do
	assert_contains "$T_TMP/all" "$text" "dry run: the report"
done
unchanged "dry run"

run_shade --dsn "$MY_DSN" --table items --dry-run --alter 'MODIFY nosuch INT'
assert_rc 2 "dry run of a bad ALTER"
assert_one_line "dry run of a bad ALTER"
assert_contains "$SHADE_ERR" "Unknown column 'nosuch'" \
    "dry run of a bad ALTER: MariaDB's message"
unchanged "dry run of a bad ALTER"

run_shade --dsn "$MY_DSN" --table parts --dry-run --alter 'ADD COLUMN w INT'
assert_rc 2 "dry run of a partitioned table"
assert_one_line "dry run of a partitioned table"
assert_contains "$SHADE_ERR" "temporary copy" "dry run of a partitioned table: the reason"
unchanged "dry run of a partitioned table"

t_pass
