#!/bin/sh
# pg_unique_churn.sh - unique values moving between rows while shade runs.
#
# items has a UNIQUE column u (and a unique index on an expression of it).
# The writer (4 processes, --unique-churn) keeps moving values of u between
# rows: two rows swap theirs through a temporary value, one row hands its
# value to another, a value one transaction frees a later one takes; with
# inserts, updates, key-changing updates and deletes alongside, all written
# to items_mirror in the same transactions. The original never violates the
# constraint, so the migration must not fail on it either (a stale copy of
# a row in the shadow holding a value another row now holds is shade's own
# race, never the data's): exit 0, items equal to the mirror, the unique
# constraint and index in place. Twice, with small chunks so that copy and
# apply interleave, and the second with a catch-up long enough to meet
# the churn under the unique indexes.
#
# Then a new unique key over duplicate data, under the same load: exit 1,
# the server's duplicate message, and items untouched (still equal to the
# mirror, nothing of shade left).
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=${PG_CHURN_ROWS:-50000}
COLS="id, sku, qty, price, note, updated_at, u"

pg_start
pg_newdb

pg_sql >/dev/null <<EOF
CREATE TABLE items (
	id bigint PRIMARY KEY,
	sku text NOT NULL,
	qty int NOT NULL,
	price numeric(12,2),
	note text,
	updated_at timestamp NOT NULL DEFAULT now(),
	u int UNIQUE
);
CREATE INDEX items_sku_idx ON items (sku);
CREATE UNIQUE INDEX items_u_neg_idx ON items ((-u));
INSERT INTO items (id, sku, qty, price, note, updated_at, u)
SELECT g, 'SKU-' || g, g % 1000, (g % 100000) / 100.0,
       CASE WHEN g % 7 = 0 THEN NULL ELSE 'note ' || g END,
       timestamp '2024-01-01' + g * interval '1 second',
       CASE WHEN g % 13 = 0 THEN NULL ELSE g END
FROM generate_series(1, $ROWS) g;
CREATE TABLE items_mirror (LIKE items INCLUDING ALL);
INSERT INTO items_mirror SELECT * FROM items;
ANALYZE items;
EOF

# migrate SEED ALTER [shade options...]: one migration under the churn.
migrate()
{
	_seed=$1 _alter=$2
	shift 2
	start_writer --engine pg --dsn "$PG_DSN" --table items \
	    --mirror items_mirror --workers 4 --seconds 600 --seed "$_seed" \
	    --unique-churn
	sleep 1
	run_shade --dsn "$PG_DSN" --table items --alter "$_alter" --execute "$@"
	stop_writer --keep-going
}

# The writer's own verdict, and that it did move values.
writer_ok()
{
	[ "$WRITER_RC" = 0 ] || fail "$1: the writer failed (exit $WRITER_RC)"
	[ "$WRITER_COMMITS" -gt 100 ] ||
	    fail "$1: the writer committed only $WRITER_COMMITS"
	grep -q "moves of u" "$WRITER_LOG" || fail "$1: the writer moved no values of u"
	note "$1: $(grep "moves of u" "$WRITER_LOG")"
}

check_after()
{
	_run=$1
	assert_rc 0 "$_run"
	pg_same_rows items items_mirror "$COLS" "$_run"
	writer_ok "$_run"
	_left=$(pg_leftovers items)
	[ -z "$_left" ] || fail "$_run: left behind: $_left"
	assert_eq "$(pg_val "SELECT pg_get_constraintdef(oid) FROM pg_constraint
	    WHERE conrelid = 'items'::regclass AND conname = 'items_u_key'")" \
	    "UNIQUE (u)" "$_run: the unique constraint"
	assert_eq "$(pg_val "SELECT indisunique FROM pg_index
	    WHERE indexrelid = 'items_u_neg_idx'::regclass
	      AND indrelid = 'items'::regclass")" t "$_run: the unique index"
}

migrate 1 'ADD COLUMN flag int NOT NULL DEFAULT 0, ALTER COLUMN qty TYPE bigint' \
    --chunk-time 0.05
check_after "migration 1"
pg_sql "DROP TABLE _items_old"

# Bigger chunks, and the table's rows twice over: a longer copy, a longer
# apply of the log under the unique indexes.
migrate 2 'DROP COLUMN flag, ALTER COLUMN price TYPE numeric(14,3)' --drop-old
check_after "migration 2"

# A new unique key over duplicate data fails, under the same load, and
# leaves items as it was (equal to the mirror, no shadow, no triggers).
before=$(pg_val "SELECT pg_get_constraintdef(oid) FROM pg_constraint
    WHERE conrelid = 'items'::regclass ORDER BY 1" | tr '\n' ' ')
migrate 3 'ADD CONSTRAINT items_qty_key UNIQUE (qty)' --chunk-time 0.05
assert_rc 1 "a unique key over duplicates"
assert_contains "$SHADE_ERR" "could not create unique index" "the server's message"
assert_contains "$SHADE_ERR" "is duplicated" "the duplicated key"
pg_same_rows items items_mirror "$COLS" "after the failed migration"
writer_ok "migration 3"
_left=$(pg_leftovers items)
[ -z "$_left" ] || fail "after the failed migration: left behind: $_left"
assert_eq "$(pg_val "SELECT pg_get_constraintdef(oid) FROM pg_constraint
    WHERE conrelid = 'items'::regclass ORDER BY 1" | tr '\n' ' ')" "$before" \
    "the constraints after the failed migration"

t_pass
