#!/bin/sh
# pg_matviews.sh - materialized views over the table.
#
# A materialized view over T is built again over the new table: empty in
# the swap, refreshed after it, then put in the original's place (see
# src/engine/pg/matviews.c). Afterwards it must read the new table (the
# old one drops), hold exactly what its query returns, keep its column
# types as the new table's, its unique index (REFRESH ... CONCURRENTLY
# still works), options, owner, privileges and comments; an unpopulated
# one stays unpopulated. A view over a materialized view would go with it:
# refused, nothing changed. A long reader of it delays its replacement
# (retried under --lock-timeout), never the readers that come after it.
set -eu
. "$(dirname "$0")/../lib.sh"

pg_start
pg_newdb

pg_sql >/dev/null <<'SQL'
CREATE ROLE mv_app;
CREATE ROLE mv_reader;
CREATE TABLE orders (id serial PRIMARY KEY, region text NOT NULL, amount numeric(10,2) NOT NULL);
INSERT INTO orders (region, amount)
SELECT 'r' || g % 7, g % 100 + 0.5 FROM generate_series(1, 20000) g;
GRANT SELECT ON orders TO mv_app;
CREATE MATERIALIZED VIEW by_region WITH (fillfactor = 70) AS
    SELECT region, sum(amount) AS total, count(*) AS n FROM orders GROUP BY region;
CREATE UNIQUE INDEX by_region_key ON by_region (region);
CREATE INDEX by_region_total_idx ON by_region (total DESC);
ALTER MATERIALIZED VIEW by_region OWNER TO mv_app;
GRANT SELECT ON by_region TO mv_reader;
COMMENT ON MATERIALIZED VIEW by_region IS 'totals per region';
COMMENT ON COLUMN by_region.total IS 'sum of amounts';
CREATE MATERIALIZED VIEW big AS SELECT id, amount FROM orders WHERE amount > 90 WITH NO DATA;
SQL

# mv_state NAME: how the server describes materialized view NAME.
mv_state()
{
	pg_val "SELECT c.relname || ' owner=' || pg_get_userbyid(c.relowner)
	    || ' populated=' || c.relispopulated || ' opts=' || coalesce(c.reloptions::text, '-')
	    || ' acl=' || coalesce(c.relacl::text, '-')
	    || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '-')
	    || ' reads=' || (SELECT string_agg(DISTINCT d.refobjid::regclass::text, ',')
	        FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
	        WHERE r.ev_class = c.oid AND d.refclassid = 'pg_class'::regclass
	          AND d.refobjid <> c.oid)
	    FROM pg_class c WHERE c.oid = '$1'::regclass"
}

# Refused first: a view over the materialized view.
pg_sql "CREATE VIEW top AS SELECT region FROM by_region ORDER BY total DESC LIMIT 3" >/dev/null
before=$(pg_fingerprint)
run_shade --dsn "$PG_DSN" --table orders --execute --alter "ADD COLUMN note text"
assert_rc 2 "a view over the materialized view"
assert_one_line "a view over the materialized view"
assert_contains "$SHADE_ERR" "materialized view public.by_region over public.orders" \
    "the refusal names the materialized view"
assert_eq "$(pg_fingerprint)" "$before" "the refusal changed nothing"
pg_sql "DROP VIEW top" >/dev/null

state_by_region=$(mv_state by_region)
state_big=$(mv_state big)
before_indexes=$(pg_val "SELECT string_agg(replace(pg_get_indexdef(indexrelid), ' ON public.by_region', ''), '; ' ORDER BY 1)
    FROM pg_index WHERE indrelid = 'by_region'::regclass")
run_shade --dsn "$PG_DSN" --table orders --execute --drop-old \
    --alter "ALTER COLUMN amount TYPE numeric(14,2), ADD COLUMN note text"
assert_rc 0 "the migration"
echo "$state_by_region" >"$T_TMP/mv.before"
assert_contains "$T_TMP/mv.before" "by_region owner=mv_app populated=true opts={fillfactor=70} acl={" \
    "the state before"
assert_eq "$(mv_state by_region)" "$state_by_region" \
    "the materialized view reads the new table (the old is dropped), as it was"
assert_eq "$(mv_state big)" "$state_big" "an unpopulated materialized view stays so"
case $state_big in *populated=false*) ;; *) fail "big was populated: $state_big" ;; esac
assert_eq "$(pg_val "SELECT col_description('by_region'::regclass, 2)")" "sum of amounts" \
    "the column comment"
assert_eq "$(pg_val "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
    WHERE attrelid = 'big'::regclass AND attname = 'amount'")" "numeric(14,2)" \
    "the materialized view's column has the new type"
assert_eq "$(pg_val "SELECT string_agg(replace(pg_get_indexdef(indexrelid), ' ON public.by_region', ''), '; ' ORDER BY 1)
    FROM pg_index WHERE indrelid = 'by_region'::regclass")" "$before_indexes" \
    "the indexes, by their names"
assert_eq "$(pg_val "SELECT count(*) FROM (SELECT * FROM by_region EXCEPT
    SELECT region, sum(amount), count(*) FROM orders GROUP BY region) d")" 0 \
    "the materialized view holds what its query returns"
pg_sql "INSERT INTO orders (region, amount) VALUES ('r0', 1000)" >/dev/null
pg_sql "REFRESH MATERIALIZED VIEW CONCURRENTLY by_region" >/dev/null
assert_eq "$(pg_val "SET ROLE mv_reader; SELECT n FROM by_region WHERE region = 'r0'")" \
    "$(pg_val "SELECT count(*) FROM orders WHERE region = 'r0'")" "a grantee reads it, refreshed"
assert_eq "$(pg_val "SELECT count(*) FROM pg_class WHERE relname LIKE '\_%new'")" 0 \
    "no temporary name left"
assert_eq "$(pg_leftovers orders)" "" "nothing of shade left"

# A long reader of the materialized view when the rebuilt one takes its
# place: the DROP waits at most --lock-timeout per attempt and is retried,
# so other readers never queue behind it for long, and the run ends once
# the reader has gone.
pg_hold by_region 6
start_shade --dsn "$PG_DSN" --table orders --execute --drop-old \
    --lock-timeout 0.3 --lock-retries 12 --alter "ADD COLUMN tag text"
i=0
until [ "$(pg_val "SELECT count(*) FROM pg_stat_activity
    WHERE query LIKE 'DROP MATERIALIZED VIEW%by_region%'")" != 0 ]; do
	i=$((i + 1))
	[ "$i" -lt 300 ] || fail "shade never tried to put the rebuilt by_region in place"
	sleep 0.02
done
n=$(pg_val "SET statement_timeout = '2s'; SELECT count(*) FROM by_region") ||
    fail "a reader of by_region queued behind shade for 2 s"
assert_eq "$n" 7 "a reader of by_region while shade waits for its lock"
wait_shade
assert_rc 0 "the migration with a long reader of the materialized view"
assert_eq "$(mv_state by_region)" "$state_by_region" "by_region took its place after the reader"
assert_eq "$(pg_leftovers orders)" "" "nothing of shade left after the wait"

t_pass
