/*
 * engine/pg/shadow.c - the shadow table: T's structure, then the ALTER-BODY.
 *
 * The shadow is created LIKE T INCLUDING ALL in one transaction, its
 * indexes paired with T's and renamed so the swap finds them again, T's
 * constraints put on it in T's state (constraints.c) and what LIKE does
 * not copy (carry.c), the ALTER-BODY applied, the column mapping derived
 * (columns.c); then all its indexes come off it for the copy (indexes.c
 * builds them once afterwards), and so do the constraints the copy must
 * not check (constraints.c).
 */
#include "pgsql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Pair each of T's indexes with its twin on a fresh LIKE copy: the same
 * definition after "USING", the same uniqueness and constraint kind.
 * Duplicate definitions pair up in name order, which is as good as any.
 */
static const char sql_index_twins[] =
	"WITH ix AS ("
	"  SELECT i.indrelid, ci.relname AS name, i.indisunique, i.indisprimary,"
	"    COALESCE(con.contype, '-') AS ct,"
	"    pg_catalog.substr(pg_catalog.pg_get_indexdef(i.indexrelid),"
	"      pg_catalog.length('CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END"
	"        || 'INDEX ' || pg_catalog.quote_ident(ci.relname) || ' ON '"
	"        || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(ct.relname)"
	"        || ' ') + 1) AS def"
	"  FROM pg_catalog.pg_index i"
	"  JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid"
	"  JOIN pg_catalog.pg_class ct ON ct.oid = i.indrelid"
	"  JOIN pg_catalog.pg_namespace n ON n.oid = ct.relnamespace"
	"  LEFT JOIN pg_catalog.pg_constraint con"
	"    ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid"
	"   AND con.contype IN ('p', 'u', 'x')" /* not a self-reference's FK */
	"  WHERE i.indrelid IN ($1::pg_catalog.regclass, $2::pg_catalog.regclass)),"
	" r AS (SELECT *, row_number() OVER (PARTITION BY indrelid, def, indisunique,"
	"          indisprimary, ct ORDER BY name) AS rn FROM ix)"
	" SELECT o.name, s.name, o.def LIKE 'USING %', o.ct <> '-'"
	" FROM r o FULL JOIN r s"
	"   ON s.indrelid = $2::pg_catalog.regclass AND o.def = s.def"
	"  AND o.indisunique = s.indisunique AND o.indisprimary = s.indisprimary"
	"  AND o.ct = s.ct AND o.rn = s.rn"
	" WHERE (o.indrelid = $1::pg_catalog.regclass OR o.indrelid IS NULL)"
	"   AND (s.indrelid = $2::pg_catalog.regclass OR s.indrelid IS NULL)";

static int WARN_UNUSED
pgsql_shadow_pair_indexes(struct eng *e, struct shade_err *err)
{
	const char *params[2] = {e->orig_text, e->shadow_text};
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	if (pgsql_exec(e, sql_index_twins, 2, params, &res, err) != 0)
		goto out;
	e->nipairs = (size_t)PQntuples(res);
	e->ipairs = xcalloc(e->nipairs, sizeof(*e->ipairs));
	for (int i = 0; i < PQntuples(res); i++) {
		if (PQgetisnull(res, i, 0) || PQgetisnull(res, i, 1) ||
		    strcmp(PQgetvalue(res, i, 2), "t") != 0) {
			err_set(err, SHADE_FAILED,
				"cannot match the indexes of %s with those of its copy %s",
				e->orig.name, e->shadow.name);
			goto out;
		}
		e->ipairs[i].orig = xstrdup(PQgetvalue(res, i, 0));
		e->ipairs[i].shadow = sql_derived_name(SQL_PG, e->ipairs[i].orig, "_new");
		e->ipairs[i].constraint = PQgetvalue(res, i, 3)[0] == 't';
	}
	/* Give each twin a name the swap can find again after the ALTER. */
	for (size_t i = 0; i < e->nipairs; i++) {
		struct qname cur = {e->shadow.schema, PQgetvalue(res, (int)i, 1)};

		sql_build(&b, SQL_PG, "ALTER INDEX %Q RENAME TO %I", &cur, e->ipairs[i].shadow);
		if (pgsql_exec_run_buf(e, &b, err) != 0)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/*
 * What LIKE does not copy of T's indexes: the CLUSTER ON mark and the
 * comments on the constraints behind them. Put on the twins before the
 * ALTER, so that what the ALTER does to them (SET WITHOUT CLUSTER, DROP
 * CONSTRAINT) means what it means on T, and the index build after the
 * copy keeps what the ALTER left (indexes.c).
 */
static const char sql_index_marks[] =
	"SELECT ci.relname, i.indisclustered, CASE WHEN d.description IS NOT NULL THEN"
	"    pg_catalog.format('COMMENT ON CONSTRAINT %I ON %s IS %L',"
	"      $2::pg_catalog.text, $3::pg_catalog.regclass, d.description) END"
	" FROM pg_catalog.pg_index i"
	" JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid"
	" LEFT JOIN pg_catalog.pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid"
	"   AND c.contype IN ('p', 'u', 'x')"
	" LEFT JOIN pg_catalog.pg_description d ON d.objoid = c.oid"
	"   AND d.classoid = 'pg_catalog.pg_constraint'::pg_catalog.regclass"
	" WHERE i.indrelid = $1::pg_catalog.regclass AND ci.relname = $4"
	"   AND (i.indisclustered OR d.description IS NOT NULL)";

static int WARN_UNUSED
pgsql_shadow_index_marks(struct eng *e, struct shade_err *err)
{
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	for (size_t i = 0; i < e->nipairs; i++) {
		const char *params[4] = {e->orig_text, e->ipairs[i].shadow, e->shadow_text,
					 e->ipairs[i].orig};

		PQclear(res);
		if (pgsql_exec(e, sql_index_marks, 4, params, &res, err) != 0)
			goto out;
		if (PQntuples(res) != 1)
			continue;
		if (PQgetvalue(res, 0, 1)[0] == 't') {
			sql_build(&b, SQL_PG, "ALTER TABLE %Q CLUSTER ON %I", &e->shadow,
				  e->ipairs[i].shadow);
			if (pgsql_exec_run_buf(e, &b, err) != 0)
				goto out;
		}
		if (!PQgetisnull(res, 0, 2) && pgsql_exec_run(e, PQgetvalue(res, 0, 2), err) != 0)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

/*
 * The ALTER names T's indexes, and the constraints behind them, by their
 * names on T; on the shadow their twins answer to other names until the
 * swap. So the statement that runs on the shadow names the twins instead
 * (alter_map_names: only where the server reads an index or constraint
 * name, the rest of the text as written). What the ALTER does to a twin
 * is then what it does to T's index: dropped, it is gone at the swap;
 * renamed, it keeps its new name (the swap only renames twins still
 * called so); an ADD CONSTRAINT under one of T's names makes a twin-named
 * index that takes T's name at the swap, as on T.
 */
static int WARN_UNUSED
pgsql_shadow_map_names(struct eng *e, struct buf *b, struct shade_err *err)
{
	struct alter_name_map *map = xcalloc(e->nipairs ? e->nipairs : 1, sizeof(*map));
	struct buf mapped = {0};
	int rc = -1;

	for (size_t i = 0; i < e->nipairs; i++)
		map[i] = (struct alter_name_map){e->ipairs[i].orig, e->ipairs[i].shadow,
						 e->ipairs[i].constraint};
	if (alter_map_names(buf_str(b), SQL_PG, map, e->nipairs, &mapped, err) != 0)
		goto out;
	buf_reset(b);
	buf_append(b, buf_str(&mapped));
	rc = 0;
out:
	free(map);
	buf_free(&mapped);
	return rc;
}

/*
 * The ALTER failed on the shadow: the server's message says why, naming
 * the twins it met under their names on the shadow. Give the operator T's
 * names back, quoted as the server quotes them.
 */
static void
pgsql_shadow_alter_failed(struct eng *e, struct shade_err *err)
{
	for (size_t i = 0; i < e->nipairs; i++) {
		const char *twin = e->ipairs[i].shadow;
		size_t n = strlen(twin);
		char *p = err->msg;

		while ((p = strstr(p, twin)) != NULL) {
			struct buf b = {0};

			if (p == err->msg || p[-1] != '"' || p[n] != '"') {
				p++;
				continue;
			}
			buf_append_n(&b, err->msg, (size_t)(p - err->msg));
			buf_append(&b, e->ipairs[i].orig);
			buf_append(&b, p + n);
			snprintf(err->msg, sizeof(err->msg), "%s", buf_str(&b));
			p = err->msg + (p - err->msg) + strlen(e->ipairs[i].orig);
			buf_free(&b);
		}
	}
	err_prefix(err, SHADE_USAGE, "the ALTER fails on the shadow table: ");
}

/* Build the shadow inside the caller's transaction. */
int
pgsql_shadow_build(struct eng *e, const char *alter_body, const struct alter_info *alter,
		    struct shade_err *err)
{
	struct buf b = {0};
	int rc = -1;

	e->alter = alter;
	if (pgsql_triggers_check(e, alter, err) != 0)
		goto out;
	sql_build(&b, SQL_PG, "CREATE %sTABLE %Q (LIKE %Q INCLUDING ALL)",
		  e->unlogged ? "UNLOGGED " : "", &e->shadow, &e->orig);
	if (pgsql_exec_run_buf(e, &b, err) != 0 || pgsql_shadow_pair_indexes(e, err) != 0 ||
	    pgsql_shadow_index_marks(e, err) != 0 ||
	    pgsql_constraints_before(e, err) != 0 || pgsql_carry_onto_shadow(e, err) != 0)
		goto out;

	/*
	 * The user's ALTER-BODY, as written: it is SQL by definition. The
	 * extended protocol runs exactly one statement, and alter_parse()
	 * already refused a ';' outside quotes. It runs with the user's
	 * search_path, so its names mean what they mean to the operator;
	 * shade's own comes back right after it, before the definitions
	 * below are read from the catalog (the server writes them for the
	 * path they are read under, and they run under shade's). Without its
	 * trigger-state clauses (triggers.c): there may be nothing left.
	 */
	pgsql_triggers_alter_sql(e, alter, alter_body, &b);
	if (pgsql_shadow_map_names(e, &b, err) != 0 || pgsql_exec_user_path(e, err) != 0)
		goto out;
	if (b.len > 0 && pgsql_exec_run_buf(e, &b, err) != 0) {
		if (!err->cancelled)
			pgsql_shadow_alter_failed(e, err);
		goto out;
	}
	if (pgsql_exec_pinned_path(e, err) != 0 ||
	    pgsql_names_constraints(e, err) != 0 ||
	    pgsql_columns_map(e, alter, err) != 0 || pgsql_views_check(e, err) != 0 ||
	    pgsql_matviews_check(e, err) != 0 ||
	    /* a foreign key to the shadow itself needs its index: it goes first */
	    pgsql_constraints_set_aside(e, err) != 0 || pgsql_indexes_set_aside(e, err) != 0 ||
	    pgsql_carry_unforce(e, err) != 0)
		goto out;
	pgsql_copy_statements(e);
	pgsql_apply_statements(e);
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

int
pgsql_shadow_create(struct eng *e, const char *alter_body, const struct alter_info *alter,
		    struct shade_err *err)
{
	/*
	 * One transaction: a failure anywhere leaves nothing behind, and
	 * lock_timeout bounds the locks the ALTER may take on other tables
	 * (a foreign key locks the table it references).
	 */
	free(e->alter_body);
	e->alter_body = xstrdup(alter_body);
	if (pgsql_exec_run(e, "BEGIN", err) != 0 || pgsql_exec_set_lock_timeout(e, err) != 0 ||
	    pgsql_shadow_build(e, alter_body, alter, err) != 0 ||
	    pgsql_exec_run(e, "COMMIT", err) != 0) {
		pgsql_exec_reset_txn(e);  /* rolls the shadow back: nothing is left */
		return -1;
	}
	return 0;
}
