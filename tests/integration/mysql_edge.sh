#!/bin/sh
# mysql_edge.sh - names and values that break naive quoting, and odd tables,
# on MariaDB:
#   1. `Order Items`: a table name with a space and capitals, columns named
#      Qty "x", we`ird (a backquote inside) and Ünïcode ✓, utf8mb4 values
#      with emoji, quotes, backslashes, NULLs, empty strings and big values,
#      generated columns (computed, never copied), a BIGINT AUTO_INCREMENT key
#   2. a table with zero rows
#   3. a utf8mb4 text primary key (binary collation: emoji, quotes, case)
#   4. a binary primary key holding NUL and 0xFF bytes
#   5. a composite DATE + DECIMAL key, and a BIGINT UNSIGNED key above 2^63
#   6. an AUTO_INCREMENT column that is not the key (it must lead an index
#      while the secondary indexes are set aside)
#   7. a partitioned table
#   8. a table name at the 64-character limit
#   9. DB.TABLE in another database than the DSN's, next to a table of the
#      same name that must stay untouched
# Each migration must exit 0, produce the new schema, keep every row and
# leave nothing of shade but the old table.
set -eu
. "$(dirname "$0")/../lib.sh"

my_start
my_newdb

# check TABLE SNAP COLS WHAT: rows kept, nothing left, the old table exists.
check()
{
	_t=$1 _snap=$2 _cols=$3 _what=$4
	_q=\`$(printf '%s' "$_t" | sed 's/`/``/g')\`
	my_same_rows "$_q" "$_snap" "$_cols" "$_what"
	_left=$(my_leftovers "$_t")
	[ -z "$_left" ] || fail "$_what: left behind: $_left"
	assert_eq "$(my_val "SELECT count(*) FROM information_schema.triggers
	    WHERE trigger_schema = DATABASE()")" 0 "$_what: triggers"
	assert_eq "$(my_val "SELECT count(*) FROM information_schema.tables
	    WHERE table_schema = DATABASE()
	      AND table_name LIKE '%shade%cut'")" 0 "$_what: sentry left"
}

coltype()
{
	my_val "SELECT column_type FROM information_schema.columns
	    WHERE table_schema = DATABASE() AND table_name = '$1'
	      AND column_name = '$2'"
}

# -- 1. `Order Items` ---------------------------------------------------------

my_sql <<'EOF'
CREATE TABLE `Order Items` (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	`Qty "x"` INT,
	`we``ird` VARCHAR(20),
	`Ünïcode ✓` VARCHAR(200),
	note MEDIUMTEXT,
	created DATE,
	qty2 BIGINT AS (`Qty "x"` * 2) VIRTUAL,
	len INT AS (CHAR_LENGTH(`Ünïcode ✓`)) STORED,
	KEY `Order Items ✓ idx` (`Ünïcode ✓`(50)),
	KEY `we``ird idx` (`we``ird`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='items of orders';
INSERT INTO `Order Items` (`Qty "x"`, `we``ird`, `Ünïcode ✓`, note, created)
SELECT CASE WHEN seq % 10 = 0 THEN NULL ELSE seq END,
       CASE WHEN seq % 3 = 0 THEN '' ELSE CONCAT('w`', seq) END,
       CASE seq % 6 WHEN 0 THEN NULL
                    WHEN 1 THEN CONCAT('emoji 🦆🚀 ', seq)
                    WHEN 2 THEN CONCAT('it''s "double" and ''single'' ', seq)
                    WHEN 3 THEN CONCAT('back\\slash \\\\ \\n not a newline ', seq)
                    WHEN 4 THEN ''
                    ELSE CONCAT('ÆØÅ 中文 ünïcödé ', seq) END,
       CASE WHEN seq % 500 = 0 THEN REPEAT(CONCAT('big ', seq, ' 🦆 '), 5000)
            WHEN seq % 3 = 0 THEN NULL
            ELSE CONCAT('tab\there\nnewline ', seq) END,
       CASE WHEN seq % 4 = 0 THEN NULL ELSE DATE '2020-02-29' + INTERVAL seq DAY END
FROM seq_1_to_5000;
INSERT INTO `Order Items` () VALUES ();
CREATE TABLE order_items_snap AS SELECT * FROM `Order Items`;
EOF
OI_COLS='id, `Qty "x"`, `we``ird`, `Ünïcode ✓`, note, created, qty2, len'
max=$(my_val 'SELECT MAX(id) FROM `Order Items`')

run_shade --dsn "$MY_DSN" --table '`Order Items`' --execute --chunk-time 0.05 \
    --alter 'ADD COLUMN `Flag ⚑` INT NOT NULL DEFAULT 7, MODIFY `Qty "x"` BIGINT'
assert_rc 0 '`Order Items`'
check "Order Items" order_items_snap "$OI_COLS" '`Order Items`'
assert_eq "$(coltype 'Order Items' 'Qty "x"')" "bigint(20)" \
    '`Order Items`: type of Qty "x"'
assert_eq "$(my_val 'SELECT count(*) FROM `Order Items` WHERE `Flag ⚑` = 7')" \
    "$(my_val 'SELECT count(*) FROM order_items_snap')" \
    '`Order Items`: rows with `Flag ⚑` = 7'
assert_eq "$(my_val "SELECT table_comment FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name = 'Order Items'")" \
    "items of orders" '`Order Items`: table comment'
assert_eq "$(my_val "SELECT GROUP_CONCAT(DISTINCT index_name ORDER BY index_name
    SEPARATOR '|') FROM information_schema.statistics
    WHERE table_schema = DATABASE() AND table_name = 'Order Items'")" \
    'Order Items ✓ idx|PRIMARY|we`ird idx' '`Order Items`: index names'
assert_eq "$(my_val "SELECT count(*) FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name = '_Order Items_old'")" 1 \
    '`Order Items`: `_Order Items_old` exists'
new=$(my_val 'INSERT INTO `Order Items` () VALUES (); SELECT LAST_INSERT_ID()')
[ "$new" -gt "$max" ] ||
    fail "\`Order Items\`: AUTO_INCREMENT handed out $new, max(id) was $max"

# -- 2. zero rows -------------------------------------------------------------

my_sql "CREATE TABLE empty (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB"
run_shade --dsn "$MY_DSN" --table empty --execute --alter 'ADD COLUMN w INT DEFAULT 1'
assert_rc 0 "empty table"
assert_eq "$(my_val "SELECT count(*) FROM empty")" 0 "empty table: rows"
assert_eq "$(coltype empty w)" "int(11)" "empty table: column w added"
check empty _empty_old "id, v" "empty table"

# -- 3. a utf8mb4 text key ----------------------------------------------------

my_sql <<'EOF'
CREATE TABLE tk (k VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
	PRIMARY KEY, v INT) ENGINE=InnoDB;
INSERT INTO tk VALUES ('', 0), ('a', 1), ('A', 2), ('ä', 3), ('🦆', 4),
	('🦆🦆', 5), ('it''s', 6), ('"q"', 7), ('back\\slash', 8), ('`tick`', 9),
	(CONCAT('z', REPEAT('z', 90)), 10);
INSERT INTO tk SELECT CONCAT('k', seq, CASE seq % 3 WHEN 0 THEN 'ü'
	WHEN 1 THEN '🚀' ELSE '' END), seq FROM seq_1_to_3000;
CREATE TABLE tk_snap AS SELECT * FROM tk;
EOF
run_shade --dsn "$MY_DSN" --table tk --execute --chunk-time 0.02 \
    --alter 'MODIFY v BIGINT'
assert_rc 0 "text key"
check tk tk_snap "k, v" "text key"

# -- 4. a binary key ----------------------------------------------------------

my_sql <<'EOF'
CREATE TABLE bk (k VARBINARY(16) PRIMARY KEY, v INT) ENGINE=InnoDB;
INSERT INTO bk VALUES (X'00', 1), (X'0000', 2), (X'FF', 3), (X'00FF00', 4),
	(X'', 5), (X'27', 6), (X'5C', 7), (X'60', 8);
INSERT INTO bk SELECT UNHEX(MD5(seq)), seq FROM seq_1_to_4000;
CREATE TABLE bk_snap AS SELECT * FROM bk;
EOF
run_shade --dsn "$MY_DSN" --table bk --execute --chunk-time 0.02 \
    --alter 'ADD COLUMN w INT'
assert_rc 0 "binary key"
check bk bk_snap "k, v" "binary key"

# -- 5. DATE + DECIMAL key, BIGINT UNSIGNED key -------------------------------

my_sql <<'EOF'
CREATE TABLE dk (d DATE, amount DECIMAL(10,2), v INT,
	PRIMARY KEY (d, amount)) ENGINE=InnoDB;
INSERT INTO dk SELECT DATE '2024-01-01' + INTERVAL (seq DIV 7) DAY,
	(seq MOD 7) * 1.25 - 3, seq FROM seq_0_to_3999;
CREATE TABLE dk_snap AS SELECT * FROM dk;
CREATE TABLE uk (id BIGINT UNSIGNED PRIMARY KEY, v INT) ENGINE=InnoDB;
INSERT INTO uk SELECT 18446744073709551615 - seq * 1000003, seq FROM seq_0_to_2999;
INSERT INTO uk VALUES (0, -1), (9223372036854775807, -2),
	(9223372036854775808, -3);
CREATE TABLE uk_snap AS SELECT * FROM uk;
EOF
run_shade --dsn "$MY_DSN" --table dk --execute --chunk-time 0.02 \
    --alter 'ADD COLUMN w INT'
assert_rc 0 "date and decimal key"
check dk dk_snap "d, amount, v" "date and decimal key"
run_shade --dsn "$MY_DSN" --table uk --execute --chunk-time 0.02 \
    --alter 'MODIFY v BIGINT'
assert_rc 0 "unsigned key"
check uk uk_snap "id, v" "unsigned key"

# -- 6. AUTO_INCREMENT off the key ----------------------------------------------

my_sql <<'EOF'
CREATE TABLE ai (code VARCHAR(20) PRIMARY KEY, n INT NOT NULL AUTO_INCREMENT,
	v INT, UNIQUE KEY ai_n (n), KEY ai_v (v)) ENGINE=InnoDB;
INSERT INTO ai (code, v) SELECT CONCAT('c', seq), seq % 10 FROM seq_1_to_3000;
CREATE TABLE ai_snap AS SELECT * FROM ai;
EOF
ai_max=$(my_val "SELECT MAX(n) FROM ai")
run_shade --dsn "$MY_DSN" --table ai --execute --chunk-time 0.02 \
    --alter 'ADD COLUMN w INT'
assert_rc 0 "AUTO_INCREMENT off the key"
check ai ai_snap "code, n, v" "AUTO_INCREMENT off the key"
assert_eq "$(my_val "SELECT GROUP_CONCAT(DISTINCT CONCAT(index_name, ':', non_unique)
    ORDER BY index_name) FROM information_schema.statistics
    WHERE table_schema = DATABASE() AND table_name = 'ai'")" \
    "ai_n:0,ai_v:1,PRIMARY:0" "AUTO_INCREMENT off the key: indexes"
new=$(my_val "INSERT INTO ai (code) VALUES ('new'); SELECT LAST_INSERT_ID()")
[ "$new" -gt "$ai_max" ] ||
    fail "AUTO_INCREMENT off the key: handed out $new, max was $ai_max"

# -- 7. partitions ------------------------------------------------------------------

my_sql <<'EOF'
CREATE TABLE parts (id INT PRIMARY KEY, v VARCHAR(20), KEY parts_v (v))
	ENGINE=InnoDB PARTITION BY HASH (id) PARTITIONS 4;
INSERT INTO parts SELECT seq, CONCAT('v', seq) FROM seq_1_to_4000;
CREATE TABLE parts_snap AS SELECT * FROM parts;
EOF
run_shade --dsn "$MY_DSN" --table parts --execute --chunk-time 0.02 \
    --alter 'ADD COLUMN w INT'
assert_rc 0 "partitions"
check parts parts_snap "id, v" "partitions"
assert_eq "$(my_val "SELECT count(*) FROM information_schema.partitions
    WHERE table_schema = DATABASE() AND table_name = 'parts'")" 4 \
    "partitions: still 4"

# -- 8. a name at the identifier limit ------------------------------------------------

long=t_$(printf '%062d' 0 | tr 0 x)   # 64 characters
my_sql "CREATE TABLE $long (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB;
    INSERT INTO $long SELECT seq, CONCAT('v', seq) FROM seq_1_to_1000;
    CREATE TABLE long_snap AS SELECT * FROM $long"
run_shade --dsn "$MY_DSN" --table "$long" --execute --alter 'ADD COLUMN w INT'
assert_rc 0 "long name"
my_same_rows "$long" long_snap "id, v" "long name"
assert_eq "$(coltype "$long" w)" "int(11)" "long name: column w added"
# Exactly one more table: the old one, whatever its shortened name.
assert_eq "$(my_val "SELECT count(*) FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name LIKE '\\_t\\_xxx%'
      AND table_name LIKE '%old'")" 1 "long name: one old table"
assert_eq "$(my_val "SELECT count(*) FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name LIKE '%t\\_xxx%'
      AND table_name NOT LIKE '%old' AND table_name <> '$long'")" 0 \
    "long name: no shadow, change log or sentry left"
assert_eq "$(my_val "SELECT count(*) FROM information_schema.triggers
    WHERE trigger_schema = DATABASE()")" 0 "long name: triggers"

# -- 9. another database --------------------------------------------------------------

other=${MY_DB}_other
my_sql "DROP DATABASE IF EXISTS \`$other\`;
    CREATE DATABASE \`$other\` CHARACTER SET utf8mb4;
    CREATE TABLE \`$other\`.items (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB;
    INSERT INTO \`$other\`.items SELECT seq, CONCAT('other ', seq) FROM seq_1_to_2000;
    CREATE TABLE \`$other\`.items_snap AS SELECT * FROM \`$other\`.items"
my_sql "CREATE TABLE items (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB;
    INSERT INTO items SELECT seq, CONCAT('mine ', seq) FROM seq_1_to_100"
mine_before=$(my_val "CHECKSUM TABLE items" | cut -f2)
run_shade --dsn "$MY_DSN" --table "$other.items" --execute \
    --alter 'ADD COLUMN w INT'
assert_rc 0 "another database"
my_same_rows "\`$other\`.items" "\`$other\`.items_snap" "id, v" "another database"
assert_eq "$(my_val "SELECT count(*) FROM information_schema.columns
    WHERE table_schema = '$other' AND table_name = 'items'
      AND column_name = 'w'")" 1 "another database: column w added"
assert_eq "$(my_val "SELECT count(*) FROM information_schema.tables
    WHERE table_schema = '$other' AND table_name = '_items_old'")" 1 \
    "another database: _items_old there"
assert_eq "$(my_val "SELECT count(*) FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name LIKE '\\_items%'")" 0 \
    "another database: nothing created in the DSN's database"
assert_eq "$(my_val "CHECKSUM TABLE items" | cut -f2)" "$mine_before" \
    "another database: the DSN's items untouched"
my_client -e "DROP DATABASE \`$other\`"

t_pass
