#!/bin/sh
# pg_ctid.sh - the copy walks T's heap in block ranges (src/engine/pg/copy.c):
# what a row that moves, or a table that is rewritten, does to it.
#
#   1. Rows the copy has read move to blocks it has yet to read (an UPDATE
#      of an indexed column puts the new version where there is room: at
#      the end of the table, freed by a DELETE and VACUUM before the run).
#      The copy meets those keys twice. shade, paused after its first
#      chunk while the rows move, must still finish with exit 0 and every
#      row equal to the mirror, updated in the same transactions: the
#      release before the key build removes the doubles, the apply brings
#      them back from T.
#   2. VACUUM FULL rewrites the table while shade is paused in its copy:
#      every row moves without a write the triggers see. shade must notice
#      at its next chunk and fail (exit 1) with the original untouched and
#      nothing of its own left.
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=${PG_CTID_ROWS:-200000}
COLS="id, sku, qty"

pg_start
pg_newdb

pg_sql >/dev/null <<EOF
CREATE TABLE items (id bigint PRIMARY KEY, sku text NOT NULL, qty int NOT NULL);
CREATE INDEX items_sku_idx ON items (sku);
INSERT INTO items SELECT g, 'SKU-' || g, g % 100 FROM generate_series(1, $ROWS) g;
-- Room near the end of the heap (the last rows stay, so VACUUM keeps the
-- pages): where an updated row's new version goes.
DELETE FROM items WHERE id > $ROWS - 20000 AND id <= $ROWS - 1000;
VACUUM items;
CREATE TABLE items_mirror (LIKE items INCLUDING ALL);
INSERT INTO items_mirror SELECT * FROM items;
EOF

# paused_after_first_chunk ALTER: start shade and pause it once it has
# copied a chunk (the first progress line comes right after it).
paused_after_first_chunk()
{
	start_shade --dsn "$PG_DSN" --table items --execute --chunk-time 0.01 \
	    --progress-interval 0.1 --alter "$1"
	_i=0
	until grep -q "copy: [1-9]" "$SHADE_ERR"; do
		kill -0 "$SHADE_PID" 2>/dev/null || { wait_shade; fail "shade ended before its copy"; }
		_i=$((_i + 1))
		[ "$_i" -lt 3000 ] || fail "shade did not start its copy"
		sleep 0.01
	done
	kill -USR1 "$SHADE_PID"
	_i=0
	until grep -q "paused" "$SHADE_ERR"; do
		kill -0 "$SHADE_PID" 2>/dev/null || { wait_shade; fail "shade ended before it paused"; }
		_i=$((_i + 1))
		[ "$_i" -lt 600 ] || fail "shade did not pause in its copy"
		sleep 0.01
	done
	grep -q "copy: $ROWS/" "$SHADE_ERR" && fail "shade paused after its copy"
	return 0
}

# 1. Rows move behind the copy's back, into blocks it has yet to read.
paused_after_first_chunk 'ADD COLUMN flag int NOT NULL DEFAULT 0'
moved=$(pg_val "SELECT count(*) FROM items WHERE ctid < '(20,0)'::tid")
[ "$moved" -gt 100 ] || fail "too few rows in the first blocks: $moved"
pg_sql >/dev/null <<EOF
BEGIN;
UPDATE items SET sku = sku || '-moved' WHERE ctid < '(20,0)'::tid;
UPDATE items_mirror m SET sku = i.sku FROM items i WHERE i.id = m.id AND i.sku <> m.sku;
COMMIT;
EOF
[ "$(pg_val "SELECT count(*) FROM items WHERE sku LIKE '%-moved'
    AND ctid > (SELECT ctid FROM items WHERE id = 1)")" -gt 0 ] ||
    fail "no row moved to a later block"
kill -USR2 "$SHADE_PID"
wait_shade
assert_rc 0 "rows moved during the copy"
pg_same_rows items items_mirror "$COLS" "rows moved during the copy"
assert_eq "$(pg_val "SELECT count(*) FROM items WHERE sku LIKE '%-moved'")" "$moved" \
    "the moved rows"
_left=$(pg_leftovers items)
[ -z "$_left" ] || fail "left behind: $_left"
pg_sql "DROP TABLE _items_old"

# 2. The table is rewritten during the copy.
# (VACUUM FULL keeps every oid and row: the fingerprint does not see it.)
pg_fingerprint >"$T_TMP/before"
paused_after_first_chunk 'ADD COLUMN other int'
pg_sql "VACUUM FULL items"
kill -USR2 "$SHADE_PID"
wait_shade
assert_rc 1 "a rewrite during the copy"
assert_contains "$SHADE_ERR" "was rewritten while shade copied it" "the message"
pg_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "the failed run changed the database"
pg_same_rows items items_mirror "$COLS" "after the rewrite"

t_pass
