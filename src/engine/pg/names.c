/*
 * engine/pg/names.c - the names the server makes up for what the ALTER
 * creates, as it would make them up on T.
 *
 * An unnamed constraint, index or identity sequence that the ALTER adds is
 * named by the server after the table it is added to: on the shadow
 * "_t_new_c_check" where the plain ALTER gives "t_c_check". So is the
 * sequence of an identity column LIKE copies ("_t_new_id_seq" for T's
 * "t_id_seq"). A later ALTER ... DROP CONSTRAINT t_c_check must find it,
 * so such names get T's prefix back: a check or foreign key right after
 * the ALTER (constraint names are per table: nothing can clash), an index
 * or sequence at the swap, once T's own have moved aside (their names are
 * per schema). A name the server truncated or numbered to keep it unique
 * is only given back where the result is free; otherwise it stays.
 */
#include "pgsql.h"

#include <stdlib.h>
#include <string.h>

/* The shadow's constraints: name, and whether it is a check or foreign key. */
static const char sql_shadow_constraint_names[] =
	"SELECT conname, contype IN ('c', 'f') FROM pg_catalog.pg_constraint"
	" WHERE conrelid = $1::pg_catalog.regclass ORDER BY conname";

/* Is there a relation called name in T's schema? */
int
pgsql_names_taken(struct eng *e, const char *name, bool *taken, struct shade_err *err)
{
	const char *params[2] = {e->orig.schema, name};
	PGresult *res = NULL;

	if (pgsql_exec(e,
		       "SELECT 1 FROM pg_catalog.pg_class c"
		       " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		       " WHERE n.nspname = $1 AND c.relname = $2",
		       2, params, &res, err) != 0)
		return -1;
	*taken = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

/* name with the shadow's prefix replaced by T's, or NULL if it has none. */
static char *
pgsql_names_for_t(const struct eng *e, const char *name)
{
	size_t n = strlen(e->shadow.name);

	if (strncmp(name, e->shadow.name, n) != 0 || name[n] != '_')
		return NULL;
	return xasprintf("%s%s", e->orig.name, name + n);
}

/*
 * to, or the first of to1, to2, ... that names no constraint in taken:
 * where a name is taken the server numbers the new one so. NULL when
 * none fits the identifier limit.
 */
static char *
pgsql_names_free(const struct strlist *taken, char *to)
{
	for (int n = 0; n < 100; n++) {
		char *name = n ? xasprintf("%s%d", to, n) : xstrdup(to);

		if (sql_ident_len(SQL_PG, name, strlen(name)) <= sql_ident_max(SQL_PG) &&
		    strlist_find(taken, name) < 0) {
			free(to);
			return name;
		}
		free(name);
	}
	free(to);
	return NULL;
}

/* The name on T of the index whose twin is called name, or NULL. */
static const char *
pgsql_names_twin_of(const struct eng *e, const char *name)
{
	for (size_t i = 0; i < e->nipairs; i++)
		if (strcmp(e->ipairs[i].shadow, name) == 0)
			return e->ipairs[i].orig;
	return NULL;
}

int
pgsql_names_constraints(struct eng *e, struct shade_err *err)
{
	const char *params[1] = {e->shadow_text};
	struct strlist taken = {0};
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	if (pgsql_exec(e, sql_shadow_constraint_names, 1, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++)
		strlist_push(&taken, PQgetvalue(res, i, 0));
	for (int i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);
		const char *t_name;
		char *to;

		if (PQgetvalue(res, i, 1)[0] != 't')
			continue;
		if ((t_name = pgsql_names_twin_of(e, name)) != NULL) {
			/*
			 * ADD CONSTRAINT under one of T's index names, mapped
			 * to its twin's (shadow.c): T's name, on the shadow
			 * now (constraint names are per table).
			 */
			sql_build(&b, SQL_PG, "ALTER TABLE %Q RENAME CONSTRAINT %I TO %I",
				  &e->shadow, name, t_name);
			if (pgsql_exec_run_buf(e, &b, err) != 0)
				goto out;
			continue;
		}
		if ((to = pgsql_names_for_t(e, name)) == NULL)
			continue;
		if ((to = pgsql_names_free(&taken, to)) == NULL)
			continue;
		sql_build(&b, SQL_PG, "ALTER TABLE %Q RENAME CONSTRAINT %I TO %I", &e->shadow, name,
			  to);
		strlist_push_take(&taken, to);
		if (pgsql_exec_run_buf(e, &b, err) != 0)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	strlist_free(&taken);
	buf_free(&b);
	return rc;
}

/* Was name one of T's indexes (they move aside at the swap)? */
static bool
pgsql_names_t_index(const struct eng *e, const char *name)
{
	for (size_t i = 0; i < e->nipairs; i++)
		if (strcmp(e->ipairs[i].orig, name) == 0)
			return true;
	return false;
}

/* The shadow's indexes and the sequences its columns own, named after it. */
static const char sql_shadow_named_relations[] =
	"SELECT c.relname, c.relkind FROM pg_catalog.pg_class c"
	" WHERE pg_catalog.starts_with(c.relname, $2) AND c.oid IN ("
	"   SELECT indexrelid FROM pg_catalog.pg_index WHERE indrelid = $1::pg_catalog.regclass"
	"   UNION ALL SELECT d.objid FROM pg_catalog.pg_depend d"
	"   WHERE d.refobjid = $1::pg_catalog.regclass AND d.deptype IN ('a', 'i')"
	"     AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass)"
	" ORDER BY 1";

/* Is name a sequence one of T's columns owns (it stays with the old table)? */
static int WARN_UNUSED
pgsql_names_t_sequence(struct eng *e, const char *name, bool *owned, struct shade_err *err)
{
	const char *params[2] = {e->orig_text, name};
	PGresult *res = NULL;

	if (pgsql_exec(e,
		       "SELECT 1 FROM pg_catalog.pg_depend d"
		       " JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
		       " WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
		       "   AND d.refobjid = $1::pg_catalog.regclass AND d.deptype IN ('a', 'i')"
		       "   AND s.relname = $2",
		       2, params, &res, err) != 0)
		return -1;
	*owned = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

/* Is name the twin of one of T's indexes (the swap names those itself)? */
static bool
pgsql_names_twin(const struct eng *e, const char *name)
{
	for (size_t i = 0; i < e->nipairs; i++)
		if (strcmp(e->ipairs[i].shadow, name) == 0)
			return true;
	return false;
}

/* The renames of one index or sequence named after the shadow, if any. */
static int WARN_UNUSED
pgsql_names_one(struct eng *e, const char *name, char kind, struct strlist *out,
		struct shade_err *err)
{
	char *to = pgsql_names_for_t(e, name);
	struct qname from = {e->orig.schema, (char *)name}, held = {e->orig.schema, to};
	bool taken = false, t_seq = false;
	struct buf b = {0};
	int rc = -1;

	if (to == NULL || sql_ident_len(SQL_PG, to, strlen(to)) > sql_ident_max(SQL_PG) ||
	    pgsql_names_twin(e, name)) {
		rc = 0;
		goto out;
	}
	if (!(kind == 'i' && pgsql_names_t_index(e, to)) &&
	    pgsql_names_taken(e, to, &taken, err) != 0)
		goto out;
	if (taken && kind == 'S' && pgsql_names_t_sequence(e, to, &t_seq, err) != 0)
		goto out;
	if (taken && !t_seq) {
		rc = 0;  /* somebody else's name: keep the one the server gave */
		goto out;
	}
	if (t_seq) {
		char *aside = sql_derived_name(SQL_PG, to, "_old");

		sql_build(&b, SQL_PG, "ALTER SEQUENCE %Q RENAME TO %I", &held, aside);
		strlist_push_take(out, buf_take(&b));
		free(aside);
	}
	sql_build(&b, SQL_PG, "ALTER %s %Q RENAME TO %I", kind == 'S' ? "SEQUENCE" : "INDEX",
		  &from, to);
	strlist_push_take(out, buf_take(&b));
	rc = 0;
out:
	free(to);
	buf_free(&b);
	return rc;
}

/*
 * At the swap, after the renames: the shadow's indexes the ALTER made and
 * its own sequences get T's prefix. A sequence of T's that holds the name
 * (an identity column's, which stays with the old table) moves aside
 * first.
 */
int
pgsql_names_swap(struct eng *e, struct strlist *out, struct shade_err *err)
{
	char *prefix = xasprintf("%s_", e->shadow.name);
	const char *params[2] = {e->shadow_text, prefix};
	PGresult *res = NULL;
	int rc = -1;

	if (pgsql_exec(e, sql_shadow_named_relations, 2, params, &res, err) != 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++)
		if (pgsql_names_one(e, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)[0], out, err) != 0)
			goto out;
	rc = 0;
out:
	PQclear(res);
	free(prefix);
	return rc;
}
