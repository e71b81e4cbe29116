#!/bin/sh
# pg_apply_inplace.sh - the PostgreSQL apply that writes a key the shadow
# already has over it in place (INSERT ... ON CONFLICT (key) DO UPDATE),
# asserted on the database. While the swap is postponed, transactions
# write the table and a mirror alike:
#   - updates of every kind of column, a generated column's input among
#     them (the generated value must follow);
#   - a numeric key moved to an equal value with another scale (1.5 to
#     1.50: the row must carry the new key's own digits, not keep the old);
#   - two rows swapping their UNIQUE values in one transaction (both keys
#     in one batch: each is the other's stale holder);
#   - deletes, and inserts of keys the copy never saw;
# then the cut-over. The table must equal its mirror column for column,
# the ALTER's new column must hold its default on every row, and a table
# with an identity column or a DEFERRABLE key (which keep the delete and
# re-insert) must come out the same way.
set -eu
. "$(dirname "$0")/../lib.sh"
. "$SHADE_ROOT/tests/socket.sh"

pg_start
pg_newdb

# make TABLE KEYDEF: the table and its mirror, 5,000 rows each.
make()
{
	pg_sql >/dev/null <<SQL
DROP TABLE IF EXISTS $1, ${1}_mirror, _${1}_old;
CREATE TABLE $1 ($2, email text UNIQUE, qty int NOT NULL,
    doubled int GENERATED ALWAYS AS (qty * 2) STORED, note text);
INSERT INTO $1 (id, email, qty, note)
SELECT g + 0.5, 'u' || g || '@x', g % 100, CASE WHEN g % 3 = 0 THEN NULL ELSE md5(g::text) END
FROM generate_series(1, 5000) g;
CREATE TABLE ${1}_mirror (id numeric PRIMARY KEY, email text UNIQUE, qty int NOT NULL,
    doubled int GENERATED ALWAYS AS (qty * 2) STORED, note text);
INSERT INTO ${1}_mirror (id, email, qty, note) SELECT id, email, qty, note FROM $1;
SQL
}

# both TABLE SQL: run SQL (with T for the table) on the table and the
# mirror, in one transaction.
both()
{
	_t=$(echo "$2" | sed "s/\bT\b/$1/g")
	_m=$(echo "$2" | sed "s/\bT\b/${1}_mirror/g")
	pg_sql "BEGIN; $_t; $_m; COMMIT" >/dev/null
}

# writes TABLE: the changes listed at the top, while shade waits to swap.
writes()
{
	both "$1" "UPDATE T SET qty = qty + 7, note = 'n' || id WHERE id BETWEEN 10 AND 400"
	both "$1" "UPDATE T SET id = 1.50 WHERE id = 1.5"
	both "$1" "UPDATE T SET email = 'tmp' WHERE id = 20.5;
	    UPDATE T SET email = 'u20@x' WHERE id = 21.5;
	    UPDATE T SET email = 'u21@x' WHERE id = 20.5"
	both "$1" "UPDATE T SET email = NULL WHERE id = 30.5;
	    UPDATE T SET email = 'u30@x' WHERE id = 31.5"
	both "$1" "DELETE FROM T WHERE id BETWEEN 500 AND 600"
	both "$1" "INSERT INTO T (id, email, qty, note) SELECT g + 0.25, 'new' || g, g, 'fresh'
	    FROM generate_series(1, 50) g"
	both "$1" "UPDATE T SET qty = qty + 1 WHERE id BETWEEN 2 AND 5000"
}

# check TABLE: equal to the mirror, every column; the new column filled.
check()
{
	_q="SELECT id::text, email, qty, doubled, note FROM"
	_d=$(pg_val "SELECT count(*) FROM (($_q $1 EXCEPT ALL $_q ${1}_mirror)
	    UNION ALL ($_q ${1}_mirror EXCEPT ALL $_q $1)) d")
	assert_eq "$_d" 0 "$1: rows that differ from the mirror"
	assert_eq "$(pg_val "SELECT id::text FROM $1 WHERE id = 1.5")" 1.50 \
	    "$1: the key moved to 1.5 carries its new digits"
	assert_eq "$(pg_val "SELECT count(*) FROM $1 WHERE tag IS DISTINCT FROM 'new'")" 0 \
	    "$1: the new column's default"
	assert_eq "$(pg_val "SELECT count(*) FROM $1 WHERE doubled <> qty * 2")" 0 \
	    "$1: the generated column follows its input"
	assert_eq "$(pg_leftovers "$1")" "" "$1: leftovers"
}

# run TABLE: shade with the swap postponed, the writes, the cut-over.
run()
{
	start_shade --dsn "$PG_DSN" --table "$1" --execute --postpone-cut-over \
	    --control-socket "$SOCK" --alter "ADD COLUMN tag text DEFAULT 'new',
	    ALTER COLUMN note TYPE varchar(100)"
	wait_for_status "$1" phase postponed
	writes "$1"
	sleep 1
	assert_eq "$(ctl_nc cut-over)" "ok: the swap goes on" "$1: cut-over"
	wait_shade
	assert_rc 0 "$1: the migration"
	check "$1"
}

make acc "id numeric PRIMARY KEY"
run acc
make accd "id numeric PRIMARY KEY DEFERRABLE"
run accd
make acci "id numeric PRIMARY KEY, seq bigint GENERATED ALWAYS AS IDENTITY"
run acci

t_pass
