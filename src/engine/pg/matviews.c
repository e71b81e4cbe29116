/*
 * engine/pg/matviews.c - materialized views over T.
 *
 * A materialized view over T is tied to T's oid: after the swap it would
 * read _T_old, and keep it from being dropped. So it is built again over
 * the new table, under a name of its own (_<mv>_new), and takes its
 * place once it is populated:
 *   - in the swap, after the renames: CREATE MATERIALIZED VIEW _<mv>_new
 *     ... WITH NO DATA from the server's definition (pg_get_viewdef), with
 *     its options, indexes, owner, privileges and comments. No data: a
 *     refresh there would hold the swap's ACCESS EXCLUSIVE lock on T, and
 *     every writer with it, for as long as the query runs. A definition
 *     the new table cannot serve (a column the ALTER dropped) fails the
 *     swap there, with T intact, as the plain ALTER fails on it;
 *   - after the commit: REFRESH MATERIALIZED VIEW _<mv>_new (if the
 *     original was populated), which reads the new T under a lock that
 *     lets writers go on; then one short transaction drops the original
 *     and gives the new one its name and its indexes theirs.
 * Until then readers of the materialized view read the original, as stale
 * as a materialized view always is, never an unpopulated one. Something
 * that depends on the materialized view (a view over it) would go with
 * it: refused when the shadow is built.
 */
#include "pgsql.h"

#include <stdlib.h>
#include <string.h>

/* The materialized views that read T ($1): oid, schema, name, populated. */
static const char sql_matviews[] =
	"SELECT DISTINCT m.oid, n.nspname, m.relname, m.relispopulated"
	" FROM pg_catalog.pg_depend d"
	" JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid"
	" JOIN pg_catalog.pg_class m ON m.oid = r.ev_class AND m.relkind = 'm'"
	" JOIN pg_catalog.pg_namespace n ON n.oid = m.relnamespace"
	" WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
	"   AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"   AND d.refobjid = $1::pg_catalog.regclass"
	" ORDER BY 2, 3";

/*
 * What depends on materialized view $1 but its own rule, row type and
 * indexes (which are built again with it).
 */
static const char sql_matview_blockers[] =
	"SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid)"
	" FROM pg_catalog.pg_depend d"
	" WHERE d.refobjid = $1::pg_catalog.oid"
	"   AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"   AND d.deptype IN ('n', 'a')"
	"   AND NOT (d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
	"        AND d.objid IN (SELECT oid FROM pg_catalog.pg_rewrite"
	"                        WHERE ev_class = $1::pg_catalog.oid AND rulename = '_RETURN'))"
	"   AND NOT (d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"        AND d.objid IN (SELECT indexrelid FROM pg_catalog.pg_index"
	"                        WHERE indrelid = $1::pg_catalog.oid))"
	" ORDER BY 1 LIMIT 1";

/*
 * Materialized view $1 built again as $2, empty, in order: CREATE with its
 * options, its indexes (under temporary names: _<index oid>$3), owner (unless who runs shade), privileges, comments. Then the
 * temporary index names and the final ones, for the renames after.
 */
static const char sql_matview_create[] =
	"SELECT k, s, t, f FROM ("
	" SELECT 1 AS k, 0 AS a, pg_catalog.format('CREATE MATERIALIZED VIEW %s%s AS %s WITH NO DATA',"
	"   $2::pg_catalog.text,"
	"   (SELECT ' WITH (' || pg_catalog.string_agg(pg_catalog.format('%I = %L',"
	"      o.option_name, o.option_value), ', ') || ')'"
	"    FROM pg_catalog.pg_options_to_table(m.reloptions) o),"
	"   pg_catalog.rtrim(pg_catalog.pg_get_viewdef(m.oid), ';')) AS s,"
	"   NULL::pg_catalog.text AS t, NULL::pg_catalog.text AS f"
	" FROM pg_catalog.pg_class m WHERE m.oid = $1::pg_catalog.oid"
	" UNION ALL"
	" SELECT 2, i.indexrelid::pg_catalog.int4, pg_catalog.format('CREATE %sINDEX %I ON %s %s',"
	"   CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END,"
	"   '_' || i.indexrelid::pg_catalog.text || $3, $2::pg_catalog.text,"
	"   pg_catalog.substr(pg_catalog.pg_get_indexdef(i.indexrelid),"
	"     pg_catalog.strpos(pg_catalog.pg_get_indexdef(i.indexrelid), ' USING ') + 1)),"
	"   '_' || i.indexrelid::pg_catalog.text || $3, ci.relname"
	" FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid"
	" WHERE i.indrelid = $1::pg_catalog.oid"
	" UNION ALL"
	" SELECT 3, 0, pg_catalog.format('ALTER MATERIALIZED VIEW %s OWNER TO %I', $2::pg_catalog.text,"
	"   pg_catalog.pg_get_userbyid(m.relowner)), NULL, NULL"
	" FROM pg_catalog.pg_class m WHERE m.oid = $1::pg_catalog.oid"
	"   AND pg_catalog.pg_get_userbyid(m.relowner) <> current_user"
	" UNION ALL"
	" SELECT 4, 0, pg_catalog.format('GRANT %s ON %s TO %s%s', a.privilege_type,"
	"   $2::pg_catalog.text,"
	"   CASE WHEN a.grantee = 0 THEN 'PUBLIC'"
	"     ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,"
	"   CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END), NULL, NULL"
	" FROM pg_catalog.pg_class m, pg_catalog.aclexplode(m.relacl) a"
	" WHERE m.oid = $1::pg_catalog.oid AND a.grantee <> m.relowner"
	" UNION ALL"
	" SELECT 5, d.objsubid, CASE WHEN d.objsubid = 0"
	"   THEN pg_catalog.format('COMMENT ON MATERIALIZED VIEW %s IS %L', $2::pg_catalog.text,"
	"     d.description)"
	"   ELSE pg_catalog.format('COMMENT ON COLUMN %s.%I IS %L', $2::pg_catalog.text,"
	"     (SELECT attname FROM pg_catalog.pg_attribute"
	"      WHERE attrelid = d.objoid AND attnum = d.objsubid), d.description) END, NULL, NULL"
	" FROM pg_catalog.pg_description d"
	" WHERE d.objoid = $1::pg_catalog.oid"
	"   AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	") x ORDER BY k, a, s";

/*
 * When the shadow is built: refuse a materialized view over T that
 * something else depends on, or whose temporary name is taken.
 */
int
pgsql_matviews_check(struct eng *e, struct shade_err *err)
{
	const char *params[1] = {e->orig_text};
	PGresult *res = NULL, *dep = NULL;
	int rc = -1;

	if (pgsql_exec(e, sql_matviews, 1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *oid[1] = {PQgetvalue(res, i, 0)};
		char *tmp = sql_derived_name(SQL_PG, PQgetvalue(res, i, 2), "_new");
		bool taken = false;

		PQclear(dep);
		if (pgsql_exec(e, sql_matview_blockers, 1, oid, &dep, err) != 0 ||
		    pgsql_names_taken(e, tmp, &taken, err) != 0) {
			free(tmp);
			goto out;
		}
		if (PQntuples(dep) > 0 || taken) {
			err_set(err, SHADE_USAGE,
				"materialized view %s.%s over %s.%s is built again at the swap, but "
				"%s %s; refused, nothing was changed",
				PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), e->orig.schema,
				e->orig.name, taken ? "the name it is built under is taken:" :
				"this depends on it and would go with it:",
				taken ? tmp : PQgetvalue(dep, 0, 0));
			free(tmp);
			goto out;
		}
		free(tmp);
	}
	rc = 0;
out:
	PQclear(res);
	PQclear(dep);
	return rc;
}

/* One materialized view's statements (see the top). */
static int WARN_UNUSED
pgsql_matviews_one(struct eng *e, PGresult *mv, int row, struct strlist *after,
		   struct shade_err *err)
{
	struct qname name = {PQgetvalue(mv, row, 1), PQgetvalue(mv, row, 2)};
	struct qname tmp = {name.schema, sql_derived_name(SQL_PG, name.name, "_new")};
	char *suffix = xasprintf("_%x_new", sql_name_hash(name.name));
	struct strlist renames = {0};
	PGresult *res = NULL;
	struct buf b = {0};
	const char *params[3] = {PQgetvalue(mv, row, 0), NULL, suffix};
	int rc = -1;

	sql_build(&b, SQL_PG, "%Q", &tmp);
	params[1] = buf_str(&b);
	if (pgsql_exec(e, sql_matview_create, 3, params, &res, err) != 0)
		goto out;
	buf_reset(&b);
	for (int i = 0; i < PQntuples(res); i++) {
		strlist_push(after, PQgetvalue(res, i, 1));
		if (PQgetisnull(res, i, 2))
			continue;
		struct qname ix = {name.schema, PQgetvalue(res, i, 2)};

		sql_build(&b, SQL_PG, "ALTER INDEX %Q RENAME TO %I", &ix, PQgetvalue(res, i, 3));
		strlist_push_take(&renames, buf_take(&b));
	}
	if (PQgetvalue(mv, row, 3)[0] == 't') {
		sql_build(&b, SQL_PG, "REFRESH MATERIALIZED VIEW %Q", &tmp);
		strlist_push_take(&e->post_swap, buf_take(&b));
	}
	strlist_push(&e->post_swap, "BEGIN");
	sql_build(&b, SQL_PG, "DROP MATERIALIZED VIEW %Q", &name);
	strlist_push_take(&e->post_swap, buf_take(&b));
	sql_build(&b, SQL_PG, "ALTER MATERIALIZED VIEW %Q RENAME TO %I", &tmp, name.name);
	strlist_push_take(&e->post_swap, buf_take(&b));
	for (size_t i = 0; i < renames.len; i++)
		strlist_push(&e->post_swap, renames.items[i]);
	strlist_push(&e->post_swap, "COMMIT");
	rc = 0;
out:
	PQclear(res);
	strlist_free(&renames);
	buf_free(&b);
	free(tmp.name);
	free(suffix);
	return rc;
}

/*
 * The swap's statements for T's materialized views: into after (once the
 * new table has T's name), and what follows the commit into e->post_swap.
 */
int
pgsql_matviews_swap_statements(struct eng *e, struct strlist *after, struct shade_err *err)
{
	const char *params[1] = {e->orig_text};
	PGresult *res = NULL;
	int rc = -1;

	if (pgsql_exec(e, sql_matviews, 1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++)
		if (pgsql_matviews_one(e, res, i, after, err) != 0)
			goto out;
	rc = 0;
out:
	PQclear(res);
	return rc;
}
