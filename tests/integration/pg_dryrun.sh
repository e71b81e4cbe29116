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

# The JSON report: the last line on stdout is one object with every field,
# with sane values; nothing writes items, so its write rate is 0 (the
# server's counters moved by no row) and the apply converges.
run_shade --dsn "$PG_DSN" --table items --dry-run --log-format json \
    --alter 'ADD COLUMN flag int NOT NULL DEFAULT 0, ALTER COLUMN qty TYPE bigint'
assert_rc 0 "dry run, json"
tail -n 1 "$SHADE_OUT" >"$T_TMP/report"
dry_json_fields "$T_TMP/report" wal_bytes
jq -e '.rows == 20000 and .write_rate == 0 and .converges == true
    and .write_rate_scope == "table" and .write_rate_window >= 2
    and .wal_bytes > 0 and .instant == false
    and (.plan | map(select(test("_items_new"))) | length) > 0' \
    "$T_TMP/report" >/dev/null || fail "dry run, json: $(cat "$T_TMP/report")"
pg_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "dry run, json: the database changed"

# Writes to items while the dry run reads its counters: a write rate > 0,
# read from pg_stat_all_tables (each psql's backend flushes its counts
# when it exits).
(while :; do pg_sql "UPDATE items SET qty = qty + 1 WHERE id = 7" >/dev/null 2>&1 || exit 0
    done) &
loop=$!
run_shade --dsn "$PG_DSN" --table items --dry-run --log-format json \
    --alter 'ADD COLUMN flag int'
kill "$loop" 2>/dev/null || true
wait "$loop" 2>/dev/null || true
assert_rc 0 "dry run under writes"
tail -n 1 "$SHADE_OUT" >"$T_TMP/report"
jq -e '.write_rate > 0 and .apply_rate > 0' "$T_TMP/report" >/dev/null ||
    fail "dry run under writes: $(jq -c '{write_rate, apply_rate}' "$T_TMP/report")"
pg_fingerprint >"$T_TMP/before"

# A preflight failure: the same exit 2 and the same one line as --execute.
pg_sql "CREATE TABLE nokey (a int, b text)"
pg_fingerprint >"$T_TMP/before"
for what in "--table nokey --alter 'ADD COLUMN c int'" \
    "--table nosuch --alter 'ADD COLUMN c int'" \
    "--table items --alter 'ALTER COLUMN nosuch TYPE int'"; do
	eval "run_shade --dsn \"\$PG_DSN\" $what --execute"
	assert_rc 2 "execute: $what"
	cp "$SHADE_ERR" "$T_TMP/exec.err"
	eval "run_shade --dsn \"\$PG_DSN\" $what --dry-run"
	assert_rc 2 "dry run: $what"
	assert_one_line "dry run: $what"
	assert_same_file "$T_TMP/exec.err" "$SHADE_ERR" "dry run and execute differ: $what"
done
pg_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "preflight failures: the database changed"

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
