#!/bin/sh
# mysql_misfit.sh - an ALTER that is fine on the empty shadow but that one
# row cannot take (a value too long for a narrower column, a value out of
# range, a string that is no number, NULL into NOT NULL, a CHECK one row
# violates, a new UNIQUE key with one duplicate): shade exits 1 naming the
# problem, removes everything it created, and the database is exactly as it
# was. The bad rows sit late in the table, so several chunks have been
# copied when the copy fails: no row may be silently truncated, defaulted or
# skipped (the INSERT IGNORE trap). Last, a bad row written during the
# migration, past the copy's end, fails the apply the same way.
set -eu
. "$(dirname "$0")/../lib.sh"

my_start
my_newdb

my_sql <<'EOF'
CREATE TABLE items (
	id INT PRIMARY KEY,
	sku VARCHAR(40) NOT NULL,
	qty INT NOT NULL,
	code VARCHAR(20) NOT NULL,
	note VARCHAR(50),
	KEY items_sku_idx (sku)
) ENGINE=InnoDB;
INSERT INTO items
SELECT seq, CONCAT('SKU-', seq), seq % 1000, CAST(seq * 7 AS CHAR), 'ok'
FROM seq_1_to_30000;
UPDATE items SET note = 'this note is too long' WHERE id = 24000;
UPDATE items SET qty = 5000 WHERE id = 25000;
UPDATE items SET code = 'x12' WHERE id = 25500;
UPDATE items SET note = NULL WHERE id = 26000;
UPDATE items SET sku = 'SKU-1' WHERE id = 27000;
UPDATE items SET qty = 100000 WHERE id = 28000;
ANALYZE TABLE items;
EOF

my_fingerprint >"$T_TMP/before"

# nothing_left WHAT: no shade object and no old table.
nothing_left()
{
	_left=$(my_leftovers items)
	[ -z "$_left" ] || fail "$1: left behind: $_left"
	assert_eq "$(my_val "SELECT count(*) FROM information_schema.tables
	    WHERE table_schema = DATABASE()
	      AND table_name IN ('_items_old', 'items_shade_cut')")" 0 \
	    "$1: no _items_old or sentry"
	assert_eq "$(my_val "SELECT count(*) FROM information_schema.triggers
	    WHERE trigger_schema = DATABASE()")" 0 "$1: triggers"
}

# misfit WHAT ALTER TEXT...: exit 1, each TEXT on stderr, nothing changed.
misfit()
{
	_what=$1 _alter=$2
	shift 2
	run_shade --dsn "$MY_DSN" --table items --execute --chunk-time 0.02 \
	    --alter "$_alter"
	assert_rc 1 "$_what"
	for _text in "$@"; do
		assert_contains "$SHADE_ERR" "$_text" "$_what: the reason"
	done
	nothing_left "$_what"
	my_fingerprint >"$T_TMP/after"
	assert_same_file "$T_TMP/before" "$T_TMP/after" \
	    "$_what: the database changed"
}

misfit "a value too long" 'MODIFY note VARCHAR(5)' \
    "Data too long for column 'note'" "id=24000"
misfit "a value out of range" 'MODIFY qty SMALLINT NOT NULL' \
    "Out of range value for column 'qty'" "id=28000"
misfit "a string that is no number" 'MODIFY code INT NOT NULL' \
    "x12" "id=25500"
misfit "NULL into NOT NULL" 'MODIFY note VARCHAR(50) NOT NULL' \
    "'note'" "id=26000"
misfit "a CHECK one row violates" 'ADD CONSTRAINT qty_small CHECK (qty < 1000)' \
    "qty_small"
misfit "a new UNIQUE key with a duplicate" 'ADD UNIQUE KEY sku_uniq (sku)' \
    "Duplicate entry 'SKU-1'" "sku_uniq"

# A bad row that arrives during the migration, with a key past the copy's
# end: it can only reach the shadow through the change log. Shade is paused
# once the capture exists, the row goes in, shade resumes.
my_sql "UPDATE items SET note = 'ok' WHERE id = 24000"
my_fingerprint >"$T_TMP/before"
start_shade --dsn "$MY_DSN" --table items --execute --chunk-time 0.02 \
    --alter 'MODIFY note VARCHAR(5)'
i=0
while [ "$(my_val "SELECT count(*) FROM information_schema.triggers
    WHERE trigger_schema = DATABASE() AND event_object_table = 'items'")" != 3 ]; do
	kill -0 "$SHADE_PID" 2>/dev/null || break
	i=$((i + 1))
	[ "$i" -lt 600 ] || fail "late row: no capture triggers after 60 s"
	sleep 0.1
done
kill -USR1 "$SHADE_PID" 2>/dev/null || true
my_sql "INSERT INTO items VALUES (40000, 'SKU-40000', 1, '7', 'much too long')"
sleep 0.5
kill -USR2 "$SHADE_PID" 2>/dev/null || true
wait_shade
assert_rc 1 "late row"
assert_contains "$SHADE_ERR" "Data too long for column 'note'" "late row: the reason"
nothing_left "late row"
my_sql "DELETE FROM items WHERE id = 40000"
my_fingerprint >"$T_TMP/after"
# The row came and went: only AUTO_INCREMENT-free data and the schema count.
assert_same_file "$T_TMP/before" "$T_TMP/after" "late row: the database changed"

t_pass
