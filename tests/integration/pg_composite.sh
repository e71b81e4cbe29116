#!/bin/sh
# pg_composite.sh - a composite primary key (a, b) under write load.
#
# The copy walks (a, b) in key order: chunk boundaries fall inside a run of
# equal a values, so the keyset comparison must be a row comparison. The
# writer (--composite) inserts, updates, moves and deletes rows in lines and
# lines_mirror in the same transactions while shade migrates lines.
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=${PG_COMPOSITE_ROWS:-60000}
COLS="a, b, sku, qty, price, note, updated_at"

pg_start
pg_newdb

pg_sql <<EOF
CREATE TABLE lines (
	a int,
	b int,
	sku text NOT NULL,
	qty int NOT NULL,
	price numeric(12,2),
	note text,
	updated_at timestamp NOT NULL,
	PRIMARY KEY (a, b)
);
CREATE INDEX lines_qty_sku_idx ON lines (qty, sku);
INSERT INTO lines
SELECT g / 50 + 1, g % 50 + 1, 'SKU-' || g, g % 997, (g % 5000) / 100.0,
       CASE WHEN g % 5 = 0 THEN NULL ELSE 'line ' || g || ' 🚀 "q" ''s' END,
       timestamp '2024-06-01' + g * interval '1 minute'
FROM generate_series(0, $ROWS - 1) g;
CREATE TABLE lines_mirror (LIKE lines);
ALTER TABLE lines_mirror ADD PRIMARY KEY (a, b);
INSERT INTO lines_mirror SELECT * FROM lines;
ANALYZE lines;
EOF

start_writer --engine pg --dsn "$PG_DSN" --table lines --mirror lines_mirror \
    --workers 4 --seconds 600 --seed 11 --composite --rate 150
sleep 1
run_shade --dsn "$PG_DSN" --table lines --execute --chunk-time 0.05 \
    --alter 'ADD COLUMN flag boolean NOT NULL DEFAULT false, ALTER COLUMN sku TYPE varchar(40)'
stop_writer --keep-going
assert_rc 0 "migration"
pg_same_rows lines lines_mirror "$COLS" "after the migration"
[ "$WRITER_RC" = 0 ] || fail "the writer failed (exit $WRITER_RC)"
[ "$WRITER_COMMITS" -gt 100 ] ||
    fail "the writer committed only $WRITER_COMMITS transactions"

left=$(pg_leftovers lines)
[ -z "$left" ] || fail "left behind: $left"
pg_same_rows lines lines_mirror "$COLS" "after the migration"
assert_eq "$(pg_val "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
    WHERE attrelid = 'lines'::regclass AND attname = 'sku'")" \
    "character varying(40)" "type of sku"
assert_eq "$(pg_val "SELECT count(*) FROM lines WHERE flag")" 0 \
    "rows with flag set"
assert_eq "$(pg_val "SELECT pg_get_constraintdef(oid) FROM pg_constraint
    WHERE conrelid = 'lines'::regclass AND contype = 'p'")" \
    "PRIMARY KEY (a, b)" "primary key"
assert_eq "$(pg_val "SELECT indrelid::regclass FROM pg_index
    WHERE indexrelid = to_regclass('lines_qty_sku_idx')")" lines \
    "index lines_qty_sku_idx belongs to"
assert_eq "$(pg_val "SELECT to_regclass('_lines_old') IS NOT NULL")" t \
    "_lines_old exists"

t_pass
