#!/bin/sh
# mysql_triggers.sh - a table's own triggers are carried over to the new
# table at the swap, under their own names, in their firing order, with
# their sql_mode, and no write ever reaches the new table without them.
#
# items has a BEFORE INSERT trigger that fills a column (with || as the
# concatenation its PIPES_AS_CONCAT sql_mode makes it), and two AFTER
# INSERT and one AFTER DELETE trigger that write an audit table, the second
# AFTER INSERT one FOLLOWS the first. A loop inserts and deletes rows for the
# whole migration, one statement at a time: afterwards the audit table must
# hold exactly one 'a' and one 'b' row per inserted row (in that order), and
# one 'd' row per deleted row, across the swap. (items has triggers before
# the capture adds its own, so the load does not meet MariaDB's MDEV-26048:
# see mysql_mirror.sh.)
set -eu
. "$(dirname "$0")/../lib.sh"

my_start
my_newdb

my_sql <<'EOF'
CREATE TABLE items (id INT PRIMARY KEY, v INT, src VARCHAR(10)) ENGINE=InnoDB;
INSERT INTO items (id, v) SELECT seq, seq FROM seq_1_to_30000;
CREATE TABLE audit (n BIGINT AUTO_INCREMENT PRIMARY KEY, what CHAR(1),
	id INT) ENGINE=InnoDB;
SET SESSION sql_mode = 'PIPES_AS_CONCAT,STRICT_ALL_TABLES';
CREATE TRIGGER items_bi BEFORE INSERT ON items FOR EACH ROW
	SET NEW.src = 'trig' || 'ger';
SET SESSION sql_mode = DEFAULT;
CREATE TRIGGER items_ai_a AFTER INSERT ON items FOR EACH ROW
	INSERT INTO audit (what, id) VALUES ('a', NEW.id);
DELIMITER //
CREATE TRIGGER items_ai_b AFTER INSERT ON items FOR EACH ROW FOLLOWS items_ai_a
	BEGIN
		INSERT INTO audit (what, id) VALUES ('b', NEW.id);
	END//
DELIMITER ;
CREATE TRIGGER items_ad AFTER DELETE ON items FOR EACH ROW
	INSERT INTO audit (what, id) VALUES ('d', OLD.id);
EOF
triggers_before=$(my_val "SELECT GROUP_CONCAT(CONCAT_WS(':', trigger_name,
    action_timing, event_manipulation, action_order, sql_mode, MD5(action_statement))
    ORDER BY trigger_name SEPARATOR ' ')
    FROM information_schema.triggers WHERE trigger_schema = DATABASE()")

# The load: one insert and one delete at a time until told to stop.
stop=$T_TMP/load.stop
(
	i=100000
	while [ ! -e "$stop" ]; do
		my_client -D "$MY_DB" -e "INSERT INTO items (id, v) VALUES ($i, 1);
		    DELETE FROM items WHERE id = $((i - 99990))" 2>>"$T_TMP/load.err" ||
		    echo "failed at $i" >>"$T_TMP/load.err"
		i=$((i + 1))
	done
) &
load=$!
bg_track "$load"
sleep 1
run_shade --dsn "$MY_DSN" --table items --execute --chunk-time 0.02 \
    --alter 'ADD COLUMN w INT, MODIFY v BIGINT'
sleep 1
: >"$stop"
wait "$load" || true
assert_rc 0 "migration"
if [ -s "$T_TMP/load.err" ]; then
	cat "$T_TMP/load.err" >&2
	fail "the load saw errors"
fi

assert_eq "$(my_val "SELECT GROUP_CONCAT(CONCAT_WS(':', trigger_name,
    action_timing, event_manipulation, action_order, sql_mode, MD5(action_statement))
    ORDER BY trigger_name SEPARATOR ' ')
    FROM information_schema.triggers WHERE trigger_schema = DATABASE()")" \
    "$triggers_before" "the triggers after the swap"
assert_eq "$(my_val "SELECT count(DISTINCT event_object_table)
    FROM information_schema.triggers WHERE trigger_schema = DATABASE()")" 1 \
    "the triggers are on one table"
assert_eq "$(my_val "SELECT DISTINCT event_object_table
    FROM information_schema.triggers WHERE trigger_schema = DATABASE()")" items \
    "the triggers are on items"
inserted=$(my_val "SELECT count(*) FROM items WHERE id >= 100000")
deleted=$((30000 - $(my_val "SELECT count(*) FROM items WHERE id < 100000")))
[ "$inserted" -gt 20 ] || fail "the load inserted only $inserted rows"
assert_eq "$(my_val "SELECT count(*) FROM audit WHERE what = 'a'")" \
    "$inserted" "one 'a' per inserted row"
assert_eq "$(my_val "SELECT count(*) FROM audit WHERE what = 'b'")" \
    "$inserted" "one 'b' per inserted row"
assert_eq "$(my_val "SELECT count(*) FROM audit WHERE what = 'd'")" \
    "$deleted" "one 'd' per deleted row"
assert_eq "$(my_val "SELECT count(*) FROM audit a JOIN audit b
    ON b.id = a.id AND b.what = 'b' AND b.n < a.n WHERE a.what = 'a'")" 0 \
    "'a' before 'b'"
assert_eq "$(my_val "SELECT count(*) FROM items
    WHERE id >= 100000 AND (src IS NULL OR src <> 'trigger')")" 0 \
    "the BEFORE trigger filled src"
assert_eq "$(my_val "SELECT count(*) FROM audit WHERE what = 'd'
    AND id NOT BETWEEN 10 AND 30000")" 0 "only original rows were deleted"
assert_eq "$(my_val "SELECT count(*) FROM information_schema.tables
    WHERE table_schema = DATABASE()
      AND table_name IN ('_items_new', '_items_log', 'items_shade_cut')")" 0 \
    "no shadow, change log or sentry left"
assert_eq "$(my_val "SELECT count(*) FROM information_schema.triggers
    WHERE trigger_schema = DATABASE() AND trigger_name LIKE '%shade%'")" 0 \
    "no temporary trigger names left"

t_pass
