#!/bin/sh
# pg_refuse.sh - bad input is refused with exit 2, one line on stderr, and
# the database left exactly as it was (catalog and data fingerprint):
# a table without a primary key, an unknown table, SQL pasted as a table
# name, an ALTER the server rejects on the shadow (its message shown), a
# second statement after the ALTER, leftovers of an earlier run, a missing or
# doubled --execute/--dry-run, missing options and a password in the DSN
# (never printed).
set -eu
. "$(dirname "$0")/../lib.sh"

pg_start
pg_newdb

pg_sql <<'EOF'
CREATE TABLE items (id int PRIMARY KEY, sku text NOT NULL, qty int);
INSERT INTO items SELECT g, 'SKU-' || g, g % 100 FROM generate_series(1, 1000) g;
CREATE INDEX items_sku_idx ON items (sku);
CREATE TABLE nopk (x int, y text);
INSERT INTO nopk SELECT g, 'y' || g FROM generate_series(1, 100) g;
CREATE TABLE x (a int);
EOF

pg_fingerprint >"$T_TMP/before"

# refuse NAME ARGS...: shade must exit 2 with one line and change nothing.
refuse1()
{
	_what=$1
	shift
	run_shade "$@"
	cp "$SHADE_ERR" "$T_TMP/last.err"
	cp "$SHADE_OUT" "$T_TMP/last.out"
	assert_rc 2 "$_what"
	assert_one_line "$_what"
	pg_fingerprint >"$T_TMP/after"
	assert_same_file "$T_TMP/before" "$T_TMP/after" \
	    "$_what: the database changed"
}

refuse()
{
	t_check "$1" refuse1 "$@"
	# A failed check may have left the database changed: compare from
	# here on against what it is now.
	pg_fingerprint >"$T_TMP/before"
}

# expect_err WHAT TEXT: the last refusal's stderr says TEXT.
expect_err()
{
	t_check "$1: message has '$2'" assert_contains "$T_TMP/last.err" "$2" "$1"
}

refuse "no primary key" --dsn "$PG_DSN" --table nopk \
    --alter 'ADD COLUMN z int' --execute
refuse "unknown table" --dsn "$PG_DSN" --table nosuch \
    --alter 'ADD COLUMN z int' --execute
refuse "SQL as a table name" --dsn "$PG_DSN" --table 'items; DROP TABLE x' \
    --alter 'ADD COLUMN z int' --execute
refuse "quote in a table name" --dsn "$PG_DSN" --table 'items"; DROP TABLE x; --' \
    --alter 'ADD COLUMN z int' --execute

refuse "ALTER the server rejects" --dsn "$PG_DSN" --table items \
    --alter 'ALTER COLUMN nosuch TYPE int' --execute
expect_err "ALTER the server rejects" 'column "nosuch"'
expect_err "ALTER the server rejects" 'does not exist'
refuse "ALTER with a bad type" --dsn "$PG_DSN" --table items \
    --alter 'ADD COLUMN z nosuchtype' --execute
expect_err "ALTER with a bad type" 'nosuchtype'

refuse "a second statement" --dsn "$PG_DSN" --table items \
    --alter 'ADD COLUMN a int; DROP TABLE items' --execute
refuse "a second statement in --dry-run" --dsn "$PG_DSN" --table items \
    --alter 'ADD COLUMN a int; DROP TABLE x' --dry-run
refuse "an empty ALTER" --dsn "$PG_DSN" --table items --alter '' --execute
refuse "renaming the table" --dsn "$PG_DSN" --table items \
    --alter 'RENAME TO other' --execute

# Leftovers of an earlier run: each alone.
for obj in _items_new _items_log; do
	pg_sql "CREATE TABLE $obj (id int)"
	pg_fingerprint >"$T_TMP/before"
	refuse "leftover $obj" --dsn "$PG_DSN" --table items \
	    --alter 'ADD COLUMN z int' --execute
	pg_sql "DROP TABLE $obj"
done
pg_fingerprint >"$T_TMP/before"

refuse "neither --execute nor --dry-run" --dsn "$PG_DSN" --table items \
    --alter 'ADD COLUMN z int'
refuse "both --execute and --dry-run" --dsn "$PG_DSN" --table items \
    --alter 'ADD COLUMN z int' --execute --dry-run
refuse "no --table" --dsn "$PG_DSN" --alter 'ADD COLUMN z int' --execute
refuse "no --alter" --dsn "$PG_DSN" --table items --execute
refuse "no --dsn" --table items --alter 'ADD COLUMN z int' --execute
refuse "an unknown option" --dsn "$PG_DSN" --table items \
    --alter 'ADD COLUMN z int' --execute --frobnicate
refuse "a bad --chunk-time" --dsn "$PG_DSN" --table items \
    --alter 'ADD COLUMN z int' --execute --chunk-time banana

# A password in the DSN is never shown, not even in an error.
refuse "password in the DSN" --dsn "$PG_DSN password=s3cr3t-pw" \
    --table nosuch --alter 'ADD COLUMN z int' --execute
if grep -q 's3cr3t-pw' "$T_TMP/last.err" "$T_TMP/last.out"; then
	fail "the password from the DSN was printed"
fi
# ... nor in the statements --verbose prints.
run_shade --dsn "postgres://$PG_USER:s3cr3t-pw@/$PG_DB?host=$PG_SOCKDIR&port=$PG_PORT" \
    --table nosuch --alter 'ADD COLUMN z int' --execute --verbose
t_check "password in a URI, --verbose" assert_rc 2 "password in a URI, --verbose"
if grep -q 's3cr3t-pw' "$SHADE_ERR" "$SHADE_OUT"; then
	fail "the password from the URI was printed"
fi

t_done
