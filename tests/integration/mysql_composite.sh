#!/bin/sh
# mysql_composite.sh - a composite primary key (a, b) under write load on
# MariaDB.
#
# The copy walks (a, b) in key order: chunk boundaries fall inside a run of
# equal a values, so the keyset comparison must be a row comparison
# ((a > ?) OR (a = ? AND b > ?)), and it must use the primary key (checked
# with EXPLAIN). The writer (--composite) inserts, updates, moves and deletes
# rows in lines and lines_mirror in the same transactions while shade
# migrates lines (a reserved word in MariaDB: every name shade writes must
# be quoted).
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=${MY_COMPOSITE_ROWS:-50000}
COLS="a, b, sku, qty, price, note, updated_at"

my_start
my_newdb

my_sql <<EOF
CREATE TABLE \`lines\` (
	a INT NOT NULL,
	b INT NOT NULL,
	sku VARCHAR(64) NOT NULL,
	qty INT NOT NULL,
	price DECIMAL(12,2),
	note TEXT,
	updated_at DATETIME(6) NOT NULL,
	PRIMARY KEY (a, b),
	KEY lines_qty_sku_idx (qty, sku)
) ENGINE=InnoDB;
INSERT INTO \`lines\`
SELECT seq DIV 50 + 1, seq MOD 50 + 1, CONCAT('SKU-', seq), seq MOD 997,
       (seq MOD 5000) / 100,
       CASE WHEN seq MOD 5 = 0 THEN NULL
            ELSE CONCAT('line ', seq, ' 🚀 "q" ''s') END,
       TIMESTAMP '2024-06-01 00:00:00' + INTERVAL seq MINUTE
FROM seq_0_to_$((ROWS - 1));
CREATE TABLE lines_mirror LIKE \`lines\`;
INSERT INTO lines_mirror SELECT * FROM \`lines\`;
ANALYZE TABLE \`lines\`;
EOF

# The keyset conditions shade builds must be ranges on the primary key.
plan=$(my_val "EXPLAIN SELECT a, b FROM \`lines\` FORCE INDEX (PRIMARY)
    WHERE a >= 10 AND ((a > 10) OR (a = 10 AND b > 7))
      AND a <= 20 AND ((a < 20) OR (a = 20 AND b <= 3))
    ORDER BY a, b LIMIT 1 OFFSET 99")
case $plan in
*range*PRIMARY*) ;;
*) fail "the keyset condition is not a range on the primary key: $plan" ;;
esac

LOAD_ARGS="--engine mysql --dsn $MY_DSN --table lines --mirror lines_mirror
    --workers 4 --seconds 600 --seed 11 --composite --rate 150"
my_migrate_under_load lines --dsn "$MY_DSN" --table lines --execute \
    --chunk-time 0.05 \
    --alter 'ADD COLUMN flag TINYINT NOT NULL DEFAULT 0, MODIFY sku VARCHAR(40) NOT NULL'

assert_rc 0 "migration"
[ "$WRITER_COMMITS" -gt 100 ] ||
    fail "the writer committed only $WRITER_COMMITS transactions"

left=$(my_leftovers lines)
[ -z "$left" ] || fail "left behind: $left"
my_same_rows '`lines`' lines_mirror "$COLS" "after the migration"
assert_eq "$(my_val "SELECT column_type FROM information_schema.columns
    WHERE table_schema = DATABASE() AND table_name = 'lines'
      AND column_name = 'sku'")" "varchar(40)" "type of sku"
assert_eq "$(my_val "SELECT count(*) FROM \`lines\` WHERE flag <> 0")" 0 \
    "rows with flag set"
assert_eq "$(my_val "SELECT GROUP_CONCAT(column_name ORDER BY seq_in_index)
    FROM information_schema.statistics WHERE table_schema = DATABASE()
      AND table_name = 'lines' AND index_name = 'PRIMARY'")" "a,b" \
    "primary key"
assert_eq "$(my_val "SELECT GROUP_CONCAT(column_name ORDER BY seq_in_index)
    FROM information_schema.statistics WHERE table_schema = DATABASE()
      AND table_name = 'lines' AND index_name = 'lines_qty_sku_idx'")" \
    "qty,sku" "index lines_qty_sku_idx"
assert_eq "$(my_val "SELECT count(*) FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name = '_lines_old'")" 1 \
    "_lines_old exists"
assert_eq "$(my_val "SELECT count(*) FROM information_schema.triggers
    WHERE trigger_schema = DATABASE()")" 0 "triggers in the database"

t_pass
