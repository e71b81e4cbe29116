#!/bin/sh
# pg_locks.sh - a long transaction on the table (a reader holding its
# ACCESS SHARE lock) keeps the swap from its lock. shade must never queue
# the application behind it for longer than --lock-timeout per attempt:
#   - with enough retries it waits the reader out and swaps (exit 0, rows
#     right, nothing left behind);
#   - with too few it gives up (exit 1) and removes everything it built once
#     the reader has gone (its undo needs the same lock), leaving the
#     database exactly as it was.
set -eu
. "$(dirname "$0")/../lib.sh"

pg_start
pg_newdb

mk()
{
	pg_sql "CREATE TABLE $1 (id bigserial PRIMARY KEY, sku text NOT NULL, qty int);
	    CREATE INDEX ${1}_sku_idx ON $1 (sku);
	    INSERT INTO $1 (sku, qty) SELECT 'SKU-' || g, g % 100
	    FROM generate_series(1, 20000) g;
	    CREATE TABLE ${1}_snap AS SELECT * FROM $1"
}

# 1. The reader goes away after 4 s; ten attempts outlast it.
mk waits
pg_hold waits 4
run_shade --dsn "$PG_DSN" --table waits --execute --lock-timeout 0.2 \
    --alter 'ADD COLUMN flag int NOT NULL DEFAULT 0'
wait "$HOLD_PID" || true
assert_rc 0 "waits: migration"
assert_contains "$SHADE_ERR" "could not lock" "waits: the swap waited"
pg_same_rows waits waits_snap 'id, sku, qty' "waits"
left=$(pg_leftovers waits)
[ -z "$left" ] || fail "waits: left behind: $left"

# 2. The reader stays 8 s; two attempts give up, undo waits for it.
mk gives_up
pg_fingerprint >"$T_TMP/before"
pg_hold gives_up 8
run_shade --dsn "$PG_DSN" --table gives_up --execute --lock-timeout 0.2 \
    --lock-retries 2 --alter 'ADD COLUMN flag int NOT NULL DEFAULT 0'
wait "$HOLD_PID" || true
assert_rc 1 "gives_up: migration"
assert_contains "$SHADE_ERR" "gave up after 2 attempts" "gives_up: the reason"
left=$(pg_leftovers gives_up)
[ -z "$left" ] || fail "gives_up: left behind: $left"
pg_fingerprint >"$T_TMP/after"
assert_same_file "$T_TMP/before" "$T_TMP/after" "gives_up: the database changed"

t_pass
