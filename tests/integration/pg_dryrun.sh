#!/bin/sh
# pg_dryrun.sh - --dry-run exits 0, prints a plan that names the shadow
# table, and changes nothing at all (catalog and data fingerprint, no
# leftovers), also when the ALTER is applied to the shadow inside a
# rolled-back transaction.
set -eu
. "$(dirname "$0")/../lib.sh"

pg_start
pg_newdb

pg_sql <<'EOF'
CREATE TABLE items (
	id bigserial PRIMARY KEY,
	sku text NOT NULL,
	qty int NOT NULL
);
CREATE INDEX items_sku_idx ON items (sku);
INSERT INTO items (sku, qty) SELECT 'SKU-' || g, g % 100
FROM generate_series(1, 20000) g;
ANALYZE items;
EOF
pg_fingerprint >"$T_TMP/before"

run_shade --dsn "$PG_DSN" --table items --dry-run \
    --alter 'ADD COLUMN flag int NOT NULL DEFAULT 0, ALTER COLUMN qty TYPE bigint'
assert_rc 0 "dry run"
cat "$SHADE_OUT" "$SHADE_ERR" >"$T_TMP/all"
assert_contains "$T_TMP/all" "_items_new" "dry run: the plan"
left=$(pg_leftovers items)
[ -z "$left" ] || fail "dry run: left behind: $left"
pg_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "dry run: the database changed"

# A DEFERRABLE primary key: the dry run copies its sample too (it used to
# exit 1: ON CONFLICT cannot arbitrate on a deferrable key).
pg_sql "CREATE TABLE dkey (id int PRIMARY KEY DEFERRABLE, v text);
    INSERT INTO dkey SELECT g, 'v' || g FROM generate_series(1, 500) g"
pg_fingerprint >"$T_TMP/before"
run_shade --dsn "$PG_DSN" --table dkey --dry-run --alter 'ADD COLUMN flag int'
assert_rc 0 "dry run, deferrable key"
assert_contains "$SHADE_OUT" "sample copy:    500 rows" "dry run, deferrable key: the sample"
pg_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "dry run, deferrable key: the database changed"

t_pass
