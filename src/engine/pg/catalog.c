/*
 * engine/pg/catalog.c - preflight: what the catalog says about the table
 * before anything is changed.
 *
 * Resolve --table as the server would, require a primary key, refuse what
 * the swap cannot carry over and the leftovers of an earlier run, and name
 * the objects shade will create next to the table (see pgsql.h).
 */
#include "pgsql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
pgsql_catalog_name_in_schema(struct qname *q, const char *schema, char *name)
{
	q->schema = xstrdup(schema);
	q->name = name;
}

/*
 * What the swap cannot carry over yet, each as a count. A table with any of
 * them is refused before anything is changed, rather than swapped into a
 * state the operator did not expect.
 */
static const char sql_unsupported[] =
	"SELECT "
	" (SELECT count(*) FROM pg_catalog.pg_rewrite"
	"  WHERE ev_class = $1::pg_catalog.oid AND rulename <> '_RETURN'),"
	" (SELECT count(*) FROM pg_catalog.pg_inherits"
	"  WHERE inhrelid = $1::pg_catalog.oid OR inhparent = $1::pg_catalog.oid),"
	" (SELECT count(*) FROM pg_catalog.pg_publication_rel"
	"  WHERE prrelid = $1::pg_catalog.oid AND (prqual IS NOT NULL OR prattrs IS NOT NULL))";

static const char *const unsupported_what[] = {
	"rules",
	"inheritance or partitions",
	"a publication with a row filter or column list",
};

/*
 * Resolve the name as the server would: the search path if unqualified,
 * the user's (read at connect, before shade pinned its own). Fills e->orig
 * and e->orig_oid, and what the summary says of the table.
 */
static int WARN_UNUSED
pgsql_catalog_resolve(struct eng *e, const struct qname *table, struct table_summary *out,
		      struct shade_err *err)
{
	const char *params[2] = {table->name, table->schema ? table->schema : e->user_schemas};
	PGresult *res = NULL;
	int rc = -1;

	if (table->schema) {
		if (pgsql_exec(e,
			       "SELECT c.oid, n.nspname, c.relname, c.relkind, c.relpersistence,"
			       "  pg_catalog.pg_total_relation_size(c.oid),"
			       "  CASE WHEN c.reltuples < 0 THEN -1 ELSE c.reltuples::bigint END"
			       " FROM pg_catalog.pg_class c"
			       " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
			       " WHERE c.relname = $1 AND n.nspname = $2",
			       2, params, &res, err) != 0)
			goto out;
	} else if (pgsql_exec(e,
			      "SELECT c.oid, n.nspname, c.relname, c.relkind, c.relpersistence,"
			      "  pg_catalog.pg_total_relation_size(c.oid),"
			      "  CASE WHEN c.reltuples < 0 THEN -1 ELSE c.reltuples::bigint END"
			      " FROM pg_catalog.pg_class c"
			      " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
			      " WHERE c.relname = $1"
			      "   AND n.nspname::pg_catalog.text = ANY ($2::pg_catalog.text[])"
			      " ORDER BY pg_catalog.array_position($2::pg_catalog.text[],"
			      "   n.nspname::pg_catalog.text)"
			      " LIMIT 1",
			      2, params, &res, err) != 0) {
		goto out;
	}
	if (PQntuples(res) == 0) {
		err_set(err, SHADE_USAGE, "unknown table %s%s%s",
			table->schema ? table->schema : "", table->schema ? "." : "", table->name);
		goto out;
	}
	e->orig_oid = (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	e->orig.schema = xstrdup(PQgetvalue(res, 0, 1));
	e->orig.name = xstrdup(PQgetvalue(res, 0, 2));
	out->display = xasprintf("%s.%s", e->orig.schema, e->orig.name);
	out->rows_note = xstrdup("the table was never analyzed: ANALYZE it for an estimate");
	out->bytes = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	out->est_rows = strtoll(PQgetvalue(res, 0, 6), NULL, 10);
	if (PQgetvalue(res, 0, 3)[0] != 'r') {
		err_set(err, SHADE_USAGE, "%s is not a plain table (relkind %s)",
			out->display, PQgetvalue(res, 0, 3));
		goto out;
	}
	if (PQgetvalue(res, 0, 4)[0] == 't') {
		err_set(err, SHADE_USAGE, "%s is a temporary table, which no other session can see",
			out->display);
		goto out;
	}
	e->unlogged = PQgetvalue(res, 0, 4)[0] == 'u';
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* The names of what shade creates next to T, in T's schema. */
static void
pgsql_catalog_name_objects(struct eng *e, struct table_summary *out)
{
	const char *schema = e->orig.schema;
	struct buf b = {0};

	pgsql_catalog_name_in_schema(&e->shadow, schema, sql_derived_name(SQL_PG, e->orig.name, "_new"));
	pgsql_catalog_name_in_schema(&e->log, schema, sql_derived_name(SQL_PG, e->orig.name, "_log"));
	pgsql_catalog_name_in_schema(&e->old, schema, sql_derived_name(SQL_PG, e->orig.name, "_old"));
	out->old_display = xasprintf("%s.%s", schema, e->old.name);
	pgsql_catalog_name_in_schema(&e->fn, schema, sql_derived_name(SQL_PG, e->orig.name, "_shade_fn"));
	pgsql_catalog_name_in_schema(&e->state, schema, sql_derived_name(SQL_PG, e->orig.name, "_state"));
	out->leftovers = xasprintf("the change log %s.%s and the trigger function %s.%s()", schema,
				   e->log.name, schema, e->fn.name);
	e->trg = sql_derived_name(SQL_PG, e->orig.name, "_shade_trg");
	e->trg_trunc = sql_derived_name(SQL_PG, e->orig.name, "_shade_trunc");
	e->keys.schema = xstrdup("pg_temp");
	e->keys.name = xstrdup("_shade_keys");
	sql_build(&b, SQL_PG, "%Q", &e->orig);
	e->orig_text = buf_take(&b);
	sql_build(&b, SQL_PG, "%Q", &e->shadow);
	e->shadow_text = buf_take(&b);
}

/* The primary key, in key order. */
static int WARN_UNUSED
pgsql_catalog_primary_key(struct eng *e, const char *oid, struct table_summary *out,
			  struct shade_err *err)
{
	const char *params[1] = {oid};
	PGresult *res = NULL;
	int rc = -1;

	if (pgsql_exec(e,
		       "SELECT a.attname FROM pg_catalog.pg_index i,"
		       "  pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY AS k(attnum, ord),"
		       "  pg_catalog.pg_attribute a"
		       " WHERE i.indrelid = $1::pg_catalog.oid AND i.indisprimary"
		       "   AND a.attrelid = i.indrelid AND a.attnum = k.attnum"
		       " ORDER BY k.ord",
		       1, params, &res, err) != 0)
		goto out;
	if (PQntuples(res) == 0) {
		err_set(err, SHADE_USAGE,
			"%s has no primary key: shade needs one to copy in chunks and to apply changes",
			out->display);
		goto out;
	}
	for (int i = 0; i < PQntuples(res); i++)
		strlist_push(&e->pk, PQgetvalue(res, i, 0));
	out->npk = e->pk.len;
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/*
 * The schema of the operators that order T's key: the btree operator
 * family of each primary-key column's operator class. The session's
 * search_path is pinned to pg_catalog, where an unqualified `<=` on, say, a
 * citext key would resolve to text's (through citext's implicit cast) and
 * disagree with the key's own order: chunks would overlap or leave gaps.
 * So the key comparisons name their operators' schema (OPERATOR(s.<=));
 * one name must serve every key column, so the key's types must keep their
 * operators in one schema (pg_catalog for the built-in types).
 */
static int WARN_UNUSED
pgsql_catalog_key_operators(struct eng *e, const char *oid, const char *display,
			    struct shade_err *err)
{
	const char *params[1] = {oid};
	PGresult *res = NULL;
	int rc = -1;

	if (pgsql_exec(e,
		       "SELECT DISTINCT n.nspname"
		       " FROM pg_catalog.pg_index i,"
		       "  ROWS FROM (pg_catalog.unnest(i.indclass::pg_catalog.oid[])) AS k(opclass)"
		       " JOIN pg_catalog.pg_opclass oc ON oc.oid = k.opclass"
		       " JOIN pg_catalog.pg_amop ao ON ao.amopfamily = oc.opcfamily"
		       "   AND ao.amoplefttype = oc.opcintype AND ao.amoprighttype = oc.opcintype"
		       "   AND ao.amopstrategy = 1"
		       " JOIN pg_catalog.pg_operator o ON o.oid = ao.amopopr"
		       " JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace"
		       " WHERE i.indrelid = $1::pg_catalog.oid AND i.indisprimary"
		       " ORDER BY 1",
		       1, params, &res, err) != 0)
		goto out;
	if (PQntuples(res) != 1) {
		err_set(err, SHADE_USAGE,
			"the primary key of %s mixes types whose operators live in different schemas "
			"(%s and %s): shade cannot compare its keys safely yet",
			display, PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "?",
			PQntuples(res) > 1 ? PQgetvalue(res, 1, 0) : "?");
		goto out;
	}
	e->key_ops = xstrdup(PQgetvalue(res, 0, 0));
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* Refuse what the swap cannot carry over (sql_unsupported). */
static int WARN_UNUSED
pgsql_catalog_unsupported(struct eng *e, const char *oid, const char *display,
			  struct shade_err *err)
{
	const char *params[1] = {oid};
	PGresult *res = NULL;
	int rc = -1;

	if (pgsql_exec(e, sql_unsupported, 1, params, &res, err) != 0)
		goto out;
	for (size_t i = 0; i < ARRAY_LEN(unsupported_what); i++) {
		long n = strtol(PQgetvalue(res, 0, (int)i), NULL, 10);

		if (n > 0) {
			err_set(err, SHADE_USAGE,
				"%s has %s, which shade cannot carry over to the new table yet",
				display, unsupported_what[i]);
			goto out;
		}
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* Leftovers of an earlier run. */
static int WARN_UNUSED
pgsql_catalog_leftovers(struct eng *e, const char *display, bool *resumable,
			struct shade_err *err)
{
	const char *schema = e->orig.schema;
	const char *params[5] = {schema, e->shadow.name, e->log.name, e->old.name, e->state.name};
	PGresult *res = NULL;
	int rc = -1;

	/* The old table first: it blocks even a resume. */
	if (pgsql_exec(e,
		       "SELECT c.relname FROM pg_catalog.pg_class c"
		       " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		       " WHERE n.nspname = $1 AND c.relname IN ($2, $3, $4, $5)"
		       " ORDER BY c.relname = $4 DESC, c.relname = $5 DESC, c.relname",
		       5, params, &res, err) != 0)
		goto out;
	if (PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), e->state.name) == 0) {
		/* An interrupted run left its state: the migration may take it up. */
		*resumable = true;
		rc = 0;
		goto out;
	}
	if (PQntuples(res) > 0) {
		const char *name = PQgetvalue(res, 0, 0);

		if (strcmp(name, e->old.name) == 0)
			err_set(err, SHADE_USAGE,
				"%s.%s exists (the old table an earlier run kept): drop or rename it first",
				schema, name);
		else
			err_set(err, SHADE_USAGE,
				"leftovers of an earlier run that cannot be resumed: %s.%s exists; "
				"remove them with shade --cleanup --dsn ... --table %s and run again",
				schema, name, display);
		goto out;
	}
	PQclear(res);
	res = NULL;
	params[1] = e->fn.name;
	if (pgsql_exec(e,
		       "SELECT 1 FROM pg_catalog.pg_proc p"
		       " JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
		       " WHERE n.nspname = $1 AND p.proname = $2",
		       2, params, &res, err) != 0)
		goto out;
	if (PQntuples(res) > 0) {
		err_set(err, SHADE_USAGE,
			"leftovers of an earlier run that cannot be resumed: function %s.%s exists; "
			"remove them with shade --cleanup --dsn ... --table %s and run again",
			schema, e->fn.name, display);
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/*
 * The names the shadow and the swap give T's indexes for a while: their
 * twins on the shadow (_<index>_new) and T's own at the swap (_<index>_old).
 * A relation that holds one (say the indexes of an earlier run's old table,
 * kept under another name) would fail the migration at its end: refuse now.
 */
static int WARN_UNUSED
pgsql_catalog_index_names(struct eng *e, struct shade_err *err)
{
	const char *params[2] = {e->orig_text, NULL};
	PGresult *res = NULL;
	int rc = -1;

	if (pgsql_exec(e,
		       "SELECT ci.relname FROM pg_catalog.pg_index i"
		       " JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid"
		       " WHERE i.indrelid = $1::pg_catalog.regclass ORDER BY 1",
		       1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		static const char *const suffixes[] = {"_new", "_old"};

		for (size_t k = 0; k < ARRAY_LEN(suffixes); k++) {
			char *name = sql_derived_name(SQL_PG, PQgetvalue(res, i, 0), suffixes[k]);
			bool taken;

			if (pgsql_names_taken(e, name, &taken, err) != 0) {
				free(name);
				goto out;
			}
			if (taken) {
				err_set(err, SHADE_USAGE,
					"%s.%s exists, and shade needs that name for index %s of %s.%s "
					"(%s): drop or rename it first (an index of a kept _%s_old table?)",
					e->orig.schema, name, PQgetvalue(res, i, 0), e->orig.schema,
					e->orig.name, k == 0 ? "its copy on the new table" : "at the swap",
					e->orig.name);
				free(name);
				goto out;
			}
			free(name);
		}
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* Resolve the table and name shade's objects for it: all --cleanup needs. */
int
pgsql_catalog_identify(struct eng *e, const struct qname *table, struct table_summary *out,
		       struct shade_err *err)
{
	if (pgsql_catalog_resolve(e, table, out, err) != 0)
		return -1;
	pgsql_catalog_name_objects(e, out);
	return 0;
}

int
pgsql_catalog_preflight(struct eng *e, const struct qname *table, const struct alter_info *alter,
			struct table_summary *out, struct shade_err *err)
{
	char oid[16];

	(void)alter;
	if (pgsql_catalog_resolve(e, table, out, err) != 0)
		return -1;
	pgsql_catalog_name_objects(e, out);
	snprintf(oid, sizeof(oid), "%u", e->orig_oid);
	if (pgsql_catalog_primary_key(e, oid, out, err) != 0 ||
	    pgsql_catalog_key_operators(e, oid, out->display, err) != 0 ||
	    pgsql_catalog_unsupported(e, oid, out->display, err) != 0 ||
	    pgsql_runlock_take(e, err) != 0 ||
	    pgsql_catalog_leftovers(e, out->display, &out->resumable, err) != 0 ||
	    (!out->resumable && pgsql_catalog_index_names(e, err) != 0))
		return -1;
	return 0;
}
