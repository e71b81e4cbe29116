#!/bin/sh
# pg_flags.sh - the flag files during a real migration, asserted on the
# database: the throttle file holds the copy (the shadow's row count stays
# still) until it is removed; the postpone file keeps the swap from
# happening (old schema, _items_new still there) until it is removed; the
# panic file aborts (exit 3) and leaves nothing behind.
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=${PG_FLAGS_ROWS:-400000}
THROTTLE_ROWS=${PG_FLAGS_THROTTLE_ROWS:-1000000}  # a copy long enough to catch mid-way
ALTER='ADD COLUMN flag int NOT NULL DEFAULT 0'
FLAG=$T_TMP/flag

pg_start
pg_newdb

make_table()
{
	pg_sql <<SQL
DROP TABLE IF EXISTS items, _items_old;
CREATE TABLE items (id bigint PRIMARY KEY, sku text NOT NULL, qty int NOT NULL);
CREATE INDEX items_sku_idx ON items (sku);
INSERT INTO items SELECT g, 'SKU-' || g, g % 1000 FROM generate_series(1, $1) g;
ANALYZE items;
SQL
}

has_flag_column()
{
	pg_val "SELECT count(*) FROM information_schema.columns
	    WHERE table_name = 'items' AND column_name = 'flag'"
}

# -- throttle: the copy stands still while the file exists -----------------
make_table "$THROTTLE_ROWS"
rm -f "$FLAG"
start_shade --dsn "$PG_DSN" --table items --execute --chunk-time 0.01 \
    --progress-interval 0.5 --throttle-flag-file "$FLAG" --alter "$ALTER"
# Small chunks (--chunk-time 0.01) keep the copy going long enough to be
# caught mid-way, also on a loaded machine.
pg_wait_for_copy throttle
: >"$FLAG"
wait_for_line throttle "throttled: flag file $FLAG"
_a=$(pg_val "SELECT count(*) FROM _items_new")
sleep 2
_b=$(pg_val "SELECT count(*) FROM _items_new")
note "throttle: the shadow held $_a rows, 2 s later $_b"
assert_eq "$_a" "$_b" "throttle: the copy went on while throttled"
[ "$_a" -lt "$THROTTLE_ROWS" ] || fail "throttle: the copy had ended before the throttle ($_a rows)"
rm -f "$FLAG"
wait_shade
assert_rc 0 "throttle"
assert_contains "$SHADE_ERR" "throttle ended: flag file $FLAG is gone" "throttle"
assert_eq "$(has_flag_column)" 1 "throttle: items lacks the new column"
assert_eq "$(pg_val "SELECT count(*) FROM items")" "$THROTTLE_ROWS" "throttle: rows lost"
assert_eq "$(pg_leftovers items)" "" "throttle: leftovers"

# -- postpone: no swap while the file exists --------------------------------
make_table 20000
: >"$FLAG"
start_shade --dsn "$PG_DSN" --table items --execute --progress-interval 0.5 \
    --postpone-flag-file "$FLAG" --alter "$ALTER"
wait_for_line postpone "postponed: flag file $FLAG exists"
pg_sql "INSERT INTO items VALUES (20001, 'late', 1)"
for _s in 1 2 3; do
	sleep 1
	kill -0 "$SHADE_PID" 2>/dev/null || { wait_shade; fail "postpone: shade ended"; }
	assert_eq "$(has_flag_column)" 0 "postpone: swapped while postponed"
	assert_eq "$(pg_val "SELECT to_regclass('_items_new') IS NOT NULL")" t \
	    "postpone: _items_new is gone"
done
rm -f "$FLAG"
wait_shade
assert_rc 0 "postpone"
assert_eq "$(grep -c "postponed: flag file $FLAG exists" "$SHADE_ERR")" 1 \
    "postpone: the postponed phase line is said once"
assert_contains "$SHADE_ERR" "catch-up (postponed):" "postpone: no progress while postponed"
assert_eq "$(has_flag_column)" 1 "postpone: items lacks the new column"
assert_eq "$(pg_val "SELECT sku FROM items WHERE id = 20001")" late \
    "postpone: a row written while postponed is lost"
assert_eq "$(pg_leftovers items)" "" "postpone: leftovers"

# -- panic: during the copy, and while postponed -----------------------------
panic_during()
{
	make_table "$ROWS"
	pg_fingerprint >"$T_TMP/before"
	rm -f "$FLAG" "$FLAG.p"
	[ "$1" = catch-up ] && : >"$FLAG.p"
	start_shade --dsn "$PG_DSN" --table items --execute --chunk-time 0.05 \
	    --postpone-flag-file "$FLAG.p" --panic-flag-file "$FLAG" --alter "$ALTER"
	if [ "$1" = copy ]; then
		pg_wait_for_copy "panic ($1)"
	else
		wait_for_line "panic ($1)" "postponed: flag file"
	fi
	: >"$FLAG"
	wait_shade
	assert_rc 3 "panic during $1"
	assert_contains "$SHADE_ERR" "panic flag file $FLAG" "panic during $1"
	pg_no_sessions "panic during $1"
	assert_eq "$(pg_leftovers items)" "" "panic during $1: leftovers"
	pg_fingerprint >"$T_TMP/after"
	assert_same_file "$T_TMP/before" "$T_TMP/after" "panic during $1: the database changed"
	rm -f "$FLAG" "$FLAG.p"
}

panic_during copy
panic_during catch-up

t_pass
