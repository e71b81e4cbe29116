#!/bin/sh
# pg_oldnames.sh - a kept old table renamed away still holds its indexes'
# names (_<index>_old): the next run must refuse in preflight (exit 2, with
# --execute and --dry-run alike), not copy everything and fail at the swap.
set -eu
. "$(dirname "$0")/../lib.sh"

pg_start
pg_newdb

pg_sql "CREATE TABLE t (id int PRIMARY KEY, v text);
    CREATE INDEX t_v_idx ON t (v);
    INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g"
run_shade --dsn "$PG_DSN" --table t --execute --alter 'ADD COLUMN a int'
assert_rc 0 "first run"
# As the README suggests: keep the old table under another name.
pg_sql "ALTER TABLE _t_old RENAME TO t_archive"
assert_eq "$(pg_val "SELECT to_regclass('_t_pkey_old') IS NOT NULL")" t \
    "the archived table keeps its index _t_pkey_old"

pg_fingerprint >"$T_TMP/before"
for mode in --dry-run --execute; do
	run_shade --dsn "$PG_DSN" --table t "$mode" --alter 'ADD COLUMN b int'
	assert_rc 2 "second run $mode"
	assert_one_line "$SHADE_ERR" "second run $mode"
	assert_contains "$SHADE_ERR" "_t_pkey_old exists" "second run $mode: the reason"
	pg_fingerprint >"$T_TMP/after"
	assert_same_file "$T_TMP/before" "$T_TMP/after" "second run $mode: the database changed"
done

# With the name free again, it works.
pg_sql "ALTER INDEX _t_pkey_old RENAME TO t_archive_pkey;
    ALTER INDEX _t_v_idx_old RENAME TO t_archive_v_idx"
run_shade --dsn "$PG_DSN" --table t --execute --alter 'ADD COLUMN b int'
assert_rc 0 "third run"
t_pass
