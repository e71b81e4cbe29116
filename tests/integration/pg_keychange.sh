#!/bin/sh
# pg_keychange.sh - the key-changing ALTERs shade allows, under a mirrored
# write load: no write is lost and the key gets its new type.
#
# shade refuses a change to a primary-key column that could merge two keys
# (tests/equiv/pg.cases); what it allows must hold under writers that
# insert, update, move keys and delete while it runs. The writer applies
# every change to the table and to a mirror in the same transaction; the
# table must equal the mirror afterwards.
#   1. int -> bigint on a single-column key (the key log's type is T's, the
#      shadow's is bigint: the apply compares the two);
#   2. int -> bigint on one column of a composite key (a, b);
#   3. the key refused (numeric -> int): exit 2, nothing changed, under
#      the same load.
set -eu
. "$(dirname "$0")/../lib.sh"

ROWS=${PG_KEYCHANGE_ROWS:-30000}
COLS="sku, qty, price, note, updated_at"

pg_start
pg_newdb

# mk TABLE KEYDEF KEYCOLS: the writer's schema with the given key.
mk()
{
	pg_sql >/dev/null <<SQL
CREATE TABLE $1 ($2, sku text NOT NULL, qty int NOT NULL, price numeric(12,2),
    note text, updated_at timestamp NOT NULL DEFAULT now(), PRIMARY KEY ($3));
INSERT INTO $1 SELECT $(if [ "$3" = id ]; then echo g; else echo "g % 100, g / 100"; fi),
    'SKU-' || g, g % 1000, (g % 100000) / 100.0,
    CASE WHEN g % 7 = 0 THEN NULL ELSE 'note ' || g END,
    timestamp '2024-01-01' + g * interval '1 second'
FROM generate_series(1, $ROWS) g;
CREATE TABLE ${1}_mirror (LIKE $1 INCLUDING ALL);
INSERT INTO ${1}_mirror SELECT * FROM $1;
ANALYZE $1;
SQL
}

coltype()
{
	pg_val "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
	    WHERE attrelid = '$1'::regclass AND attname = '$2' AND NOT attisdropped"
}

# under TABLE SEED WRITER-ARGS -- SHADE-ARGS: shade under the mirrored load.
under()
{
	_t=$1 _seed=$2
	shift 2
	_w=
	while [ "$1" != -- ]; do _w="$_w $1"; shift; done
	shift
	# shellcheck disable=SC2086
	start_writer --engine pg --dsn "$PG_DSN" --table "$_t" --mirror "${_t}_mirror" \
	    --workers 4 --seconds 600 --seed "$_seed" --rate 150 $_w
	sleep 1
	run_shade --dsn "$PG_DSN" --table "$_t" --execute --chunk-time 0.05 "$@"
	stop_writer --keep-going
	[ "$WRITER_RC" = 0 ] || fail "$_t: the writer failed (exit $WRITER_RC)"
	[ "$WRITER_COMMITS" -gt 100 ] || fail "$_t: the writer committed only $WRITER_COMMITS"
	note "$_t: the writer committed $WRITER_COMMITS transactions"
}

# 1. int -> bigint, single key.
mk single "id int" id
under single 21 -- --alter 'ALTER COLUMN id TYPE bigint' --drop-old
assert_rc 0 "single: migration"
pg_same_rows single single_mirror "id, $COLS" "single"
assert_eq "$(coltype single id)" bigint "single: type of id"
[ -z "$(pg_leftovers single)" ] || fail "single: left behind: $(pg_leftovers single)"

# 2. int -> bigint on one column of a composite key.
mk pair "a int, b int" "a, b"
under pair 22 --composite -- --alter 'ALTER COLUMN b TYPE bigint' --drop-old
assert_rc 0 "pair: migration"
pg_same_rows pair pair_mirror "a, b, $COLS" "pair"
assert_eq "$(coltype pair b)" bigint "pair: type of b"

# 3. A key change that could merge keys is refused, under the same load.
mk refused "id numeric" id
pg_fingerprint >"$T_TMP/before"
run_shade --dsn "$PG_DSN" --table refused --execute --alter 'ALTER COLUMN id TYPE int'
assert_rc 2 "refused: numeric -> int key"
assert_one_line "$SHADE_ERR" "refused"
assert_contains "$SHADE_ERR" "primary-key column id" "refused: the reason"
pg_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "refused: the database changed"

t_pass
