#!/bin/sh
# pg_views.sh - views over a column whose type changes.
#
# The plain ALTER TABLE refuses to retype a column a view reads; by hand an
# operator drops the views, alters, and creates them again. shade does that
# inside its swap. The same objects are built in two schemas: in r the
# reference is made by hand (drop the views, ALTER, create them again with
# what they had), in s shade runs, under a writer. Afterwards the views of
# s must be described exactly as those of r (definitions, column types,
# options, owner, privileges, comments, defaults, triggers), return the
# right rows, let a grantee read, enforce their check option, and new rows
# must get fresh ids. A materialized view over one of the views is refused
# (exit 2, nothing changed).
set -eu
. "$(dirname "$0")/../lib.sh"

pg_start
pg_newdb

pg_sql >/dev/null <<'EOF'
CREATE ROLE views_app;
CREATE ROLE views_reader;
CREATE FUNCTION public.no_delete() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RETURN NULL; END $$;
EOF

# setup SCHEMA: the table and its views in SCHEMA.
setup()
{
	pg_sql >/dev/null <<EOF
CREATE SCHEMA $1;
GRANT USAGE ON SCHEMA $1 TO views_app, views_reader;
SET search_path = $1;
CREATE TABLE orders (id serial PRIMARY KEY, amount numeric(10,2) NOT NULL, note text);
INSERT INTO orders (amount, note) SELECT g % 100 + 0.25, 'n' || g FROM generate_series(1, 5000) g;
GRANT SELECT, INSERT, UPDATE, DELETE ON orders TO views_app;
GRANT USAGE ON SEQUENCE orders_id_seq TO views_app;
CREATE VIEW v_orders WITH (security_barrier = true) AS
    SELECT id, amount, amount * 2 AS twice, note FROM orders;
ALTER VIEW v_orders OWNER TO views_app;
ALTER VIEW v_orders ALTER COLUMN note SET DEFAULT 'from the view';
GRANT SELECT ON v_orders TO views_reader;
GRANT UPDATE (note) ON v_orders TO views_reader;
COMMENT ON VIEW v_orders IS 'orders, doubled';
COMMENT ON COLUMN v_orders.twice IS 'twice the amount';
CREATE VIEW v_big AS SELECT id, amount, note FROM v_orders WHERE amount > 50
    WITH CHECK OPTION;
CREATE TRIGGER v_big_keep INSTEAD OF DELETE ON v_big FOR EACH ROW EXECUTE FUNCTION public.no_delete();
CREATE VIEW v_notes AS SELECT id, note FROM orders;
CREATE VIEW v_total AS SELECT sum(amount) AS total, count(*) AS n FROM v_big;
EOF
}

# describe SCHEMA: the views of SCHEMA, as the server describes them with
# the schema's name taken out.
describe()
{
	pg_sql "SET search_path = $1;
	SELECT c.relname || ' owner=' || pg_get_userbyid(c.relowner)
	    || ' opts=' || coalesce(c.reloptions::text, '-') || ' acl=' || coalesce(c.relacl::text, '-')
	    || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '-')
	    || ' def=' || pg_get_viewdef(c.oid)
	FROM pg_class c WHERE c.relnamespace = '$1'::regnamespace AND c.relkind = 'v'
	UNION ALL
	SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
	    || ' acl=' || coalesce(a.attacl::text, '-')
	    || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
	    || ' comment=' || coalesce(col_description(c.oid, a.attnum), '-')
	FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
	LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
	WHERE c.relnamespace = '$1'::regnamespace AND c.relkind = 'v'
	UNION ALL
	SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' ' || t.tgenabled::text
	FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
	WHERE c.relnamespace = '$1'::regnamespace AND c.relkind = 'v'
	ORDER BY 1" | sed "s/\b$1\.//g"
}

setup r
setup s

# The reference, by hand: what the views had, dropped, ALTER, created again.
pg_sql >/dev/null <<'EOF'
SET search_path = r;
DROP VIEW v_total, v_big, v_notes, v_orders;
ALTER TABLE orders ALTER COLUMN amount TYPE numeric(14,2);
CREATE VIEW v_orders WITH (security_barrier = true) AS
    SELECT id, amount, amount * 2 AS twice, note FROM orders;
ALTER VIEW v_orders OWNER TO views_app;
ALTER VIEW v_orders ALTER COLUMN note SET DEFAULT 'from the view';
GRANT SELECT ON v_orders TO views_reader;
GRANT UPDATE (note) ON v_orders TO views_reader;
COMMENT ON VIEW v_orders IS 'orders, doubled';
COMMENT ON COLUMN v_orders.twice IS 'twice the amount';
CREATE VIEW v_big AS SELECT id, amount, note FROM v_orders WHERE amount > 50
    WITH CHECK OPTION;
CREATE TRIGGER v_big_keep INSTEAD OF DELETE ON v_big FOR EACH ROW EXECUTE FUNCTION public.no_delete();
CREATE VIEW v_notes AS SELECT id, note FROM orders;
CREATE VIEW v_total AS SELECT sum(amount) AS total, count(*) AS n FROM v_big;
EOF

# The plain ALTER indeed refuses.
out=$(pg_try "ALTER TABLE s.orders ALTER COLUMN amount TYPE numeric(14,2)" || true)
case $out in
*"cannot alter type of a column used by a view"*) ;;
*) fail "the plain ALTER did not refuse: $out" ;;
esac

# A matview over one of the views would go with it: refused, nothing changed.
pg_sql "CREATE MATERIALIZED VIEW s.mv AS SELECT total FROM s.v_total" >/dev/null
before=$(pg_fingerprint)
run_shade --dsn "$PG_DSN" --table s.orders --execute \
    --alter "ALTER COLUMN amount TYPE numeric(14,2)"
assert_rc 2 "a materialized view over the views"
assert_one_line "a materialized view over the views"
assert_contains "$SHADE_ERR" "materialized view s.mv" "the refusal names the matview"
assert_eq "$(pg_fingerprint)" "$before" "the refusal changed nothing"
pg_sql "DROP MATERIALIZED VIEW s.mv" >/dev/null

# A writer inserts through the view during the migration.
STOP=$T_TMP/stop
yes "INSERT INTO s.v_orders (amount) VALUES (77.5);" | head -n 200 >"$T_TMP/ins.sql"
(
	while [ ! -f "$STOP" ]; do
		pg_psql -v ON_ERROR_STOP=0 -f "$T_TMP/ins.sql" >/dev/null 2>&1 || true
	done
) &
WPID=$!
bg_track "$WPID"
run_shade --dsn "$PG_DSN" --table s.orders --execute --drop-old --chunk-time 0.01 \
    --alter "ALTER COLUMN amount TYPE numeric(14,2)"
: >"$STOP"
wait "$WPID" || true
assert_rc 0 "the migration"

describe s >"$T_TMP/views.s"
describe r >"$T_TMP/views.r"
assert_same_file "$T_TMP/views.r" "$T_TMP/views.s" "the views are those made by hand"
assert_contains "$T_TMP/views.s" "v_orders owner=views_app opts={security_barrier=true} acl={" \
    "the view's options, owner and privileges"
assert_contains "$T_TMP/views.s" "v_big owner=postgres opts={check_option=cascaded}" \
    "the check option"
assert_contains "$T_TMP/views.s" "trigger CREATE TRIGGER v_big_keep INSTEAD OF DELETE" \
    "the view's trigger"
assert_contains "$T_TMP/views.s" "v_orders.twice numeric acl=- default=- comment=twice the amount" \
    "a view column's comment"
assert_eq "$(pg_val "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
    WHERE attrelid = 's.v_orders'::regclass AND attname = 'amount'")" "numeric(14,2)" \
    "the view's column has the new type"
inserted=$(pg_val "SELECT count(*) FROM s.orders WHERE note = 'from the view'")
[ "$inserted" -gt 0 ] || fail "the writer inserted nothing through the view"
note "the writer inserted $inserted rows through the view"
assert_eq "$(pg_val "SELECT count(*) FROM s.orders")" "$((5000 + inserted))" "no insert lost"
assert_eq "$(pg_val "SELECT (SELECT sum(amount) FROM s.orders WHERE amount > 50) = total
    AND (SELECT count(*) FROM s.orders WHERE amount > 50) = n FROM s.v_total")" t \
    "the views return the right rows"
assert_eq "$(pg_val "SET ROLE views_reader; SELECT count(*) FROM s.v_orders")" "$((5000 + inserted))" \
    "a grantee reads the view"
pg_try "INSERT INTO s.v_big (amount) VALUES (1)" >"$T_TMP/check" || true
assert_contains "$T_TMP/check" "violates check option" "the check option holds"
max=$(pg_val "SELECT max(id) FROM s.orders")
id=$(pg_val "INSERT INTO s.v_orders (amount) VALUES (99.99) RETURNING id")
[ "$id" -gt "$max" ] || fail "a new row got id $id, not above $max"
assert_eq "$(pg_val "SELECT note FROM s.orders WHERE id = $id")" "from the view" \
    "the view's default holds"
assert_eq "$(pg_leftovers orders | grep -v no_delete || true)" "" "nothing of shade left"

t_pass
