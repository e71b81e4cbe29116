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

# Warnings: a transaction older than the lock timeout that holds items
# (it would keep the swap waiting), a table whose foreign key references
# items, and items' own trigger; nothing of it changes.
pg_sql "CREATE TABLE orders (id int PRIMARY KEY, item bigint REFERENCES items (id));
    CREATE FUNCTION items_touch() RETURNS trigger LANGUAGE plpgsql
        AS 'BEGIN RETURN NEW; END';
    CREATE TRIGGER items_touch BEFORE UPDATE ON items
        FOR EACH ROW EXECUTE FUNCTION items_touch()"
pg_fingerprint >"$T_TMP/before"
pg_hold items 20
sleep 1.5
run_shade --dsn "$PG_DSN" --table items --dry-run --log-format json --lock-timeout 1 \
    --alter 'ALTER COLUMN qty TYPE bigint'
pg_unhold items
assert_rc 0 "dry run with warnings"
tail -n 1 "$SHADE_OUT" >"$T_TMP/report"
jq -e '(.warnings | map(select(test("^long-running transactions hold public.items.*pid [0-9]+ .*transaction open"))) | length) == 1
    and (.warnings | map(select(test("1 foreign key of other tables references public.items \\(public.orders \\(orders_item_fkey\\)\\)"))) | length) == 1
    and (.warnings | map(select(test("has 1 trigger of its own \\(items_touch\\)"))) | length) == 1
    and .instant == false and (.instant_why | test("TYPE bigint"))' \
    "$T_TMP/report" >/dev/null || fail "dry run with warnings: $(jq -c '.warnings, .instant_why' "$T_TMP/report")"
pg_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "dry run with warnings: the database changed"

# instant: what PostgreSQL makes in its catalog alone, and what not.
pg_sql "CREATE DOMAIN posint AS int CHECK (VALUE > 0)"
pg_fingerprint >"$T_TMP/before"
instant_case()
{
	run_shade --dsn "$PG_DSN" --table items --dry-run --log-format json --alter "$1"
	assert_rc 0 "dry run: $1"
	tail -n 1 "$SHADE_OUT" >"$T_TMP/report"
	jq -e --argjson want "$2" --arg why "$3" '.instant == $want and (.instant_why | test($why))
	    and ((.warnings | map(select(startswith("shade is not needed"))) | length)
	         == (if $want then 1 else 0 end))' "$T_TMP/report" >/dev/null ||
	    fail "dry run: $1: $(jq -c '{instant, instant_why}' "$T_TMP/report")"
}
instant_case 'ADD COLUMN flag int NOT NULL DEFAULT 0, ALTER COLUMN qty DROP NOT NULL' true \
    'catalog alone'
instant_case 'RENAME COLUMN qty TO quantity' true 'catalog alone'
instant_case 'DROP COLUMN qty, ALTER COLUMN sku SET DEFAULT now()::text' true 'catalog alone'
instant_case 'ADD COLUMN u uuid DEFAULT gen_random_uuid()' false 'column u: its default is volatile'
instant_case 'ADD COLUMN s bigserial' false 'column s: its default is volatile'
instant_case 'ADD COLUMN p posint DEFAULT 1' false 'column p: its type is a domain'
pg_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "instant dry runs: the database changed"

# --attempt-instant: the ALTER made on items itself (the same table, the
# same file: nothing was copied), as the plain ALTER makes it on a twin.
pg_sql "CREATE TABLE twin (LIKE items INCLUDING ALL); INSERT INTO twin SELECT * FROM items;
    ALTER TABLE twin ADD COLUMN flag int NOT NULL DEFAULT 7, DROP COLUMN qty"
oid=$(pg_val "SELECT 'items'::regclass::oid || ' ' || pg_relation_filenode('items')")
run_shade --dsn "$PG_DSN" --table items --execute --attempt-instant \
    --alter 'ADD COLUMN flag int NOT NULL DEFAULT 7, DROP COLUMN qty'
assert_rc 0 "attempt-instant"
assert_contains "$SHADE_ERR" "made the ALTER in place" "attempt-instant: said"
assert_eq "$(pg_val "SELECT 'items'::regclass::oid || ' ' || pg_relation_filenode('items')")" \
    "$oid" "attempt-instant: items is the same table, not rewritten"
cols="SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || ' '
    || attnotnull || ' ' || coalesce(pg_get_expr(adbin, adrelid), '-'), ', ' ORDER BY attnum)
    FROM pg_attribute LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
    WHERE attrelid = '%s'::regclass AND attnum > 0 AND NOT attisdropped"
assert_eq "$(pg_val "$(printf "$cols" items)")" "$(pg_val "$(printf "$cols" twin)")" \
    "attempt-instant: the plain ALTER's columns"
assert_eq "$(pg_val "SELECT count(*) FROM items WHERE flag = 7")" 20000 "attempt-instant: rows"
left=$(pg_leftovers items | grep -vx 'function items_touch()\|trigger items_touch on items' || true)
[ -z "$left" ] || fail "attempt-instant: left behind: $left"

# Not instant: shade says why and copies as usual (a new table).
oid=$(pg_val "SELECT 'items'::regclass::oid")
run_shade --dsn "$PG_DSN" --table items --execute --attempt-instant --drop-old \
    --alter 'ALTER COLUMN flag TYPE bigint'
assert_rc 0 "attempt-instant, not instant"
assert_contains "$SHADE_ERR" "not in place" "attempt-instant, not instant: said"
[ "$(pg_val "SELECT 'items'::regclass::oid")" != "$oid" ] ||
    fail "attempt-instant, not instant: items was not copied"
assert_eq "$(pg_val "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
    WHERE attrelid = 'items'::regclass AND attname = 'flag'")" bigint \
    "attempt-instant, not instant: the ALTER"

# An instant ALTER that cannot get its lock in time: T as it was, then the
# run, whose swap waits for the reader to end (it is ended once shade has
# said so, whatever the machine's speed).
pg_hold items 120
start_shade --dsn "$PG_DSN" --table items --execute --attempt-instant --drop-old \
    --lock-timeout 0.5 --lock-retries 30 --alter 'ADD COLUMN late int'
i=0
until grep -q 'not in place' "$SHADE_ERR"; do
	kill -0 "$SHADE_PID" 2>/dev/null || break
	i=$((i + 1))
	[ "$i" -lt 1200 ] || fail "attempt-instant under a lock: shade did not say so"
	sleep 0.1
done
pg_unhold items
wait_shade
assert_rc 0 "attempt-instant under a lock"
assert_contains "$SHADE_ERR" "lock timeout" "attempt-instant under a lock: why"
assert_contains "$SHADE_ERR" "not in place" "attempt-instant under a lock: the run"
assert_eq "$(pg_val "SELECT count(*) FROM pg_attribute WHERE attrelid = 'items'::regclass
    AND attname = 'late'")" 1 "attempt-instant under a lock: the ALTER"

t_pass
