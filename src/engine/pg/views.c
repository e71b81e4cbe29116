/*
 * engine/pg/views.c - views over T whose columns change type.
 *
 * The swap re-points the views that read T with CREATE OR REPLACE VIEW
 * (carry.c), which cannot change the type of a view's column; and the
 * plain ALTER TABLE refuses to change the type of a column a view reads.
 * shade does what an operator does by hand, in the swap's transaction:
 * when the ALTER changes the type, typmod or collation of a column of T
 * that a view reads, the swap drops every view that depends on T, directly
 * or through other views (dependants first), and creates them again after
 * the renames from the server's own definitions (pg_get_viewdef), in
 * dependency order, with their options (security_barrier, check_option,
 * security_invoker), owner, privileges, comments, column comments, column
 * defaults and triggers. Readers of the views wait for the swap's lock as
 * readers of T do; nobody sees a moment without them.
 *
 * What else depends on one of those views (a materialized view, a
 * function's SQL body, a rule other than the view's own) would have to go
 * with it: refused when the shadow is built, before anything is copied.
 */
#include "pgsql.h"

#include <stdlib.h>
#include <string.h>

/*
 * Does a view read column $3 of T ($1), which is column $4 of the shadow
 * ($2), and does the ALTER change its type, typmod or collation?
 */
static const char sql_view_column_retyped[] =
	"SELECT 1 FROM pg_catalog.pg_attribute o, pg_catalog.pg_attribute s"
	" WHERE o.attrelid = $1::pg_catalog.regclass AND o.attname = $3"
	"   AND s.attrelid = $2::pg_catalog.regclass AND s.attname = $4"
	"   AND (o.atttypid, o.atttypmod, o.attcollation)"
	"       IS DISTINCT FROM (s.atttypid, s.atttypmod, s.attcollation)"
	"   AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
	"     JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid"
	"     JOIN pg_catalog.pg_class v ON v.oid = r.ev_class"
	"     WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
	"       AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"       AND d.refobjid = o.attrelid AND d.refobjsubid = o.attnum AND v.relkind = 'v')";

/*
 * The views that depend on T ($1), directly or through other views, each
 * with its depth (the longest chain of views from T): created in
 * ascending depth, dropped in descending.
 */
#define SQL_VIEW_CLOSURE                                                                   \
	"WITH RECURSIVE dep(oid, depth) AS ("                                              \
	"  SELECT r.ev_class, 1 FROM pg_catalog.pg_depend d"                               \
	"  JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid"                                \
	"  JOIN pg_catalog.pg_class v ON v.oid = r.ev_class AND v.relkind = 'v'"           \
	"  WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"                 \
	"    AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"               \
	"    AND d.refobjid = $1::pg_catalog.regclass"                                     \
	"  UNION"                                                                          \
	"  SELECT r.ev_class, dep.depth + 1 FROM dep"                                      \
	"  JOIN pg_catalog.pg_depend d ON d.refobjid = dep.oid"                            \
	"   AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"                \
	"   AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"                 \
	"  JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid AND r.ev_class <> dep.oid"      \
	"  JOIN pg_catalog.pg_class v ON v.oid = r.ev_class AND v.relkind = 'v'),"         \
	" closure AS (SELECT oid, max(depth) AS depth FROM dep GROUP BY oid)"

static const char sql_views_closure[] =
	SQL_VIEW_CLOSURE
	" SELECT c.oid, c.oid::pg_catalog.regclass::pg_catalog.text FROM closure c"
	" JOIN pg_catalog.pg_class v ON v.oid = c.oid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = v.relnamespace"
	" ORDER BY c.depth, n.nspname, v.relname";

/*
 * What depends on a view of the closure and would not survive its drop:
 * anything but the views of the closure, the view's own rule and row
 * type, its column defaults and its triggers (which the swap recreates).
 */
static const char sql_views_blockers[] =
	SQL_VIEW_CLOSURE
	" SELECT c.oid::pg_catalog.regclass::pg_catalog.text,"
	"   pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid)"
	" FROM closure c JOIN pg_catalog.pg_depend d ON d.refobjid = c.oid"
	"  AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	" LEFT JOIN pg_catalog.pg_rewrite r ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
	"  AND r.oid = d.objid"
	" WHERE d.deptype IN ('n', 'a')"
	"   AND NOT (r.oid IS NOT NULL AND r.rulename = '_RETURN'"
	"            AND r.ev_class IN (SELECT oid FROM closure))"
	"   AND d.classid NOT IN ('pg_catalog.pg_attrdef'::pg_catalog.regclass,"
	"                         'pg_catalog.pg_trigger'::pg_catalog.regclass,"
	"                         'pg_catalog.pg_type'::pg_catalog.regclass)"
	" ORDER BY 1, 2 LIMIT 1";

/*
 * View $1 created again, as it is now, in order: CREATE VIEW with its
 * options, its owner (unless who runs shade), privileges on it and its
 * columns (the owner's own are the owner's by default), its comment and
 * its columns', column defaults, triggers and their enabled state. The
 * server writes each statement with format(), names as regclass text
 * under shade's search_path and values as literals.
 */
static const char sql_view_create[] =
	"SELECT s FROM ("
	" SELECT 1 AS k, 0 AS a, pg_catalog.format('CREATE VIEW %s%s AS %s',"
	"   v.oid::pg_catalog.regclass,"
	"   (SELECT ' WITH (' || pg_catalog.string_agg(pg_catalog.format('%I = %L',"
	"      o.option_name, o.option_value), ', ') || ')'"
	"    FROM pg_catalog.pg_options_to_table(v.reloptions) o),"
	"   pg_catalog.pg_get_viewdef(v.oid)) AS s"
	" FROM pg_catalog.pg_class v WHERE v.oid = $1::pg_catalog.oid"
	" UNION ALL"
	" SELECT 2, 0, pg_catalog.format('ALTER VIEW %s OWNER TO %I', v.oid::pg_catalog.regclass,"
	"   pg_catalog.pg_get_userbyid(v.relowner))"
	" FROM pg_catalog.pg_class v WHERE v.oid = $1::pg_catalog.oid"
	"   AND pg_catalog.pg_get_userbyid(v.relowner) <> current_user"
	" UNION ALL"
	" SELECT 3, 0, pg_catalog.format('GRANT %s ON %s TO %s%s', a.privilege_type,"
	"   v.oid::pg_catalog.regclass,"
	"   CASE WHEN a.grantee = 0 THEN 'PUBLIC'"
	"     ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,"
	"   CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)"
	" FROM pg_catalog.pg_class v, pg_catalog.aclexplode(v.relacl) a"
	" WHERE v.oid = $1::pg_catalog.oid AND a.grantee <> v.relowner"
	" UNION ALL"
	" SELECT 4, c.attnum, pg_catalog.format('GRANT %s (%I) ON %s TO %s%s', x.privilege_type,"
	"   c.attname, c.attrelid::pg_catalog.regclass,"
	"   CASE WHEN x.grantee = 0 THEN 'PUBLIC'"
	"     ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(x.grantee)) END,"
	"   CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)"
	" FROM pg_catalog.pg_attribute c, pg_catalog.aclexplode(c.attacl) x"
	" WHERE c.attrelid = $1::pg_catalog.oid AND c.attnum > 0 AND c.attacl IS NOT NULL"
	" UNION ALL"
	" SELECT 5, d.objsubid, CASE WHEN d.objsubid = 0"
	"   THEN pg_catalog.format('COMMENT ON VIEW %s IS %L', d.objoid::pg_catalog.regclass,"
	"     d.description)"
	"   ELSE pg_catalog.format('COMMENT ON COLUMN %s.%I IS %L', d.objoid::pg_catalog.regclass,"
	"     (SELECT attname FROM pg_catalog.pg_attribute"
	"      WHERE attrelid = d.objoid AND attnum = d.objsubid), d.description) END"
	" FROM pg_catalog.pg_description d"
	" WHERE d.objoid = $1::pg_catalog.oid"
	"   AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	" UNION ALL"
	" SELECT 6, f.adnum, pg_catalog.format('ALTER VIEW %s ALTER COLUMN %I SET DEFAULT %s',"
	"   f.adrelid::pg_catalog.regclass, c.attname, pg_catalog.pg_get_expr(f.adbin, f.adrelid))"
	" FROM pg_catalog.pg_attrdef f JOIN pg_catalog.pg_attribute c"
	"   ON c.attrelid = f.adrelid AND c.attnum = f.adnum"
	" WHERE f.adrelid = $1::pg_catalog.oid"
	" UNION ALL"
	" SELECT 7, t.oid::pg_catalog.int4, pg_catalog.pg_get_triggerdef(t.oid)"
	" FROM pg_catalog.pg_trigger t WHERE t.tgrelid = $1::pg_catalog.oid AND NOT t.tgisinternal"
	" UNION ALL"
	" SELECT 8, t.oid::pg_catalog.int4, pg_catalog.format('ALTER TABLE %s %s TRIGGER %I',"
	"   t.tgrelid::pg_catalog.regclass, CASE t.tgenabled WHEN 'D' THEN 'DISABLE'"
	"     WHEN 'R' THEN 'ENABLE REPLICA' ELSE 'ENABLE ALWAYS' END, t.tgname)"
	" FROM pg_catalog.pg_trigger t WHERE t.tgrelid = $1::pg_catalog.oid AND NOT t.tgisinternal"
	"   AND t.tgenabled <> 'O'"
	") x ORDER BY k, a, s";

/*
 * After the ALTER: must the swap recreate T's views (see the top)? Sets
 * e->views_recreate; refuses what the views' drop would take with it.
 */
int
pgsql_views_check(struct eng *e, struct shade_err *err)
{
	const char *params[4] = {e->orig_text, e->shadow_text, NULL, NULL};
	PGresult *res = NULL;
	int rc = -1;

	e->views_recreate = false;
	for (size_t i = 0; i < e->src.len && !e->views_recreate; i++) {
		params[2] = e->src.items[i];
		params[3] = e->dst.items[i];
		PQclear(res);
		if (pgsql_exec(e, sql_view_column_retyped, 4, params, &res, err) != 0)
			goto out;
		e->views_recreate = PQntuples(res) > 0;
	}
	if (!e->views_recreate) {
		rc = 0;
		goto out;
	}
	PQclear(res);
	if (pgsql_exec(e, sql_views_blockers, 1, params, &res, err) != 0)
		goto out;
	if (PQntuples(res) > 0) {
		err_set(err, SHADE_USAGE,
			"the ALTER changes the type of a column that view %s reads, so shade "
			"recreates the views over %s.%s at the swap, but %s depends on that view "
			"and would go with it; refused, nothing was changed",
			PQgetvalue(res, 0, 0), e->orig.schema, e->orig.name, PQgetvalue(res, 0, 1));
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/*
 * The swap's statements for the views, when they are recreated: the
 * drops into before (ahead of the renames), the creation into after.
 */
int
pgsql_views_swap_statements(struct eng *e, struct strlist *before, struct strlist *after,
			    struct shade_err *err)
{
	const char *params[1] = {e->orig_text};
	PGresult *res = NULL, *one = NULL;
	struct buf b = {0};
	int rc = -1;

	if (pgsql_exec(e, sql_views_closure, 1, params, &res, err) != 0)
		goto out;
	for (int i = PQntuples(res) - 1; i >= 0; i--) {
		/* regclass text the server wrote: a trusted name */
		sql_build(&b, SQL_PG, "DROP VIEW %s", PQgetvalue(res, i, 1));
		strlist_push_take(before, buf_take(&b));
	}
	for (int i = 0; i < PQntuples(res); i++) {
		const char *oid[1] = {PQgetvalue(res, i, 0)};

		PQclear(one);
		if (pgsql_exec(e, sql_view_create, 1, oid, &one, err) != 0)
			goto out;
		for (int k = 0; k < PQntuples(one); k++)
			strlist_push(after, PQgetvalue(one, k, 0));
	}
	rc = 0;
out:
	PQclear(res);
	PQclear(one);
	buf_free(&b);
	return rc;
}
