#!/bin/sh
# pg_failure.sh - an ALTER that is fine on the empty shadow but fails on a
# row met during the copy (a CHECK one row violates, a type change one value
# does not fit (int -> smallint), NOT NULL on a column with one NULL, UNIQUE on a column with
# one duplicate): shade exits 1 with the server's reason, removes everything
# it created, and the original is exactly as it was. The bad rows sit late
# in the table, so several chunks have been copied when the copy fails: no
# row may be silently skipped (the INSERT IGNORE trap).
set -eu
. "$(dirname "$0")/../lib.sh"

pg_start
pg_newdb

pg_sql <<'EOF'
CREATE TABLE items (
	id int PRIMARY KEY,
	sku text NOT NULL,
	qty int NOT NULL,
	code text NOT NULL,
	note text
);
INSERT INTO items
SELECT g, 'SKU-' || g, g % 1000, (g * 7)::text, 'note ' || g
FROM generate_series(1, 30000) g;
UPDATE items SET qty = 5000 WHERE id = 25000;
UPDATE items SET code = 'x12' WHERE id = 25500;
UPDATE items SET qty = 100000 WHERE id = 25600;
UPDATE items SET note = NULL WHERE id = 26000;
UPDATE items SET sku = 'SKU-1' WHERE id = 27000;
ANALYZE items;
EOF
pg_fingerprint >"$T_TMP/before"

# failure WHAT ALTER TEXT: exit 1, TEXT on stderr, nothing changed.
failure1()
{
	run_shade --dsn "$PG_DSN" --table items --execute --chunk-time 0.02 \
	    --alter "$2"
	assert_rc 1 "$1"
	assert_contains "$SHADE_ERR" "$3" "$1: the reason"
	pg_no_sessions "$1"
	_left=$(pg_leftovers items)
	[ -z "$_left" ] || fail "$1: left behind: $_left"
	assert_eq "$(pg_val "SELECT to_regclass('_items_old') IS NULL")" t \
	    "$1: no _items_old"
	pg_fingerprint >"$T_TMP/after"
	assert_same_file "$T_TMP/before" "$T_TMP/after" \
	    "$1: the database changed"
}

failure()
{
	t_check "$1" failure1 "$@"
	pg_fingerprint >"$T_TMP/before"
}

failure "CHECK violated by one row" \
    'ADD CONSTRAINT qty_small CHECK (qty < 1000)' qty_small
failure "type change one value does not fit" \
    'ALTER COLUMN qty TYPE smallint' 'smallint out of range'
failure "type change with USING one value cannot take" \
    'ALTER COLUMN code TYPE int USING code::int' x12
failure "NOT NULL on a column with a NULL" \
    'ALTER COLUMN note SET NOT NULL' note
failure "UNIQUE on a column with a duplicate" \
    'ADD CONSTRAINT sku_uniq UNIQUE (sku)' sku_uniq

t_done
