/*
 * engine/pg/instant.c - could PostgreSQL make the ALTER on T in its catalog
 * alone, and --attempt-instant, which then does so instead of a run.
 *
 * The clauses must all be of the kinds instant.c knows to be catalog-only;
 * an ADD COLUMN is so only when the server stores its default once (a
 * non-volatile default, PostgreSQL 11 and later) and nothing checks every
 * row: no domain type (its constraints, or a volatile default of its own,
 * would rewrite T) and no NOT NULL without a default. What the clause's
 * text cannot tell, the catalog of a copy of T's columns with the ALTER
 * applied can (the dry run's shadow, or --attempt-instant's temporary
 * probe, both in a transaction that is rolled back). Such a copy numbers
 * T's live columns 1..n as LIKE makes it: what the ALTER adds comes after.
 * Anything uncertain is "no": shade then does what it always does.
 */
#include "pgsql.h"

#include <stdlib.h>
#include <string.h>

#include "instant.h"

/*
 * rel's columns that the ALTER added: name, a domain type, NOT NULL without
 * a default, a default evaluated per row. ADD COLUMN stores a non-volatile
 * default's value once, in attmissingval (atthasmissing), on any table
 * with storage, empty or not; a default it did not store so is volatile,
 * and PostgreSQL rewrites the table to fill it. (A default that is NULL
 * has no pg_attrdef row: atthasdef is false.) The default's functions
 * cannot be read from pg_depend: built-in ones are pinned, never listed.
 */
static const char sql_new_columns[] =
	"SELECT a.attname, t.typtype = 'd', a.attnotnull AND NOT a.atthasdef,"
	"  a.atthasdef AND NOT a.atthasmissing"
	" FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
	" WHERE a.attrelid = $1::pg_catalog.regclass AND NOT a.attisdropped"
	"   AND a.attnum > (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute c"
	"     WHERE c.attrelid = $2::pg_catalog.regclass AND c.attnum > 0 AND NOT c.attisdropped)"
	" ORDER BY a.attnum";

/* The columns the ALTER added to rel (a copy of T's), as the catalog has them. */
static int WARN_UNUSED
pgsql_instant_columns(struct eng *e, const char *rel, bool *instant, char **why,
		      struct shade_err *err)
{
	static const char *const what[] = {
		NULL,
		"its type is a domain, whose constraints or default would make PostgreSQL "
		"rewrite or check every row",
		"it is NOT NULL without a default, which PostgreSQL checks against every row",
		"its default is volatile (every row gets a value of its own): PostgreSQL "
		"rewrites the table",
	};
	const char *params[2] = {rel, e->orig_text};
	PGresult *res = NULL;

	if (pgsql_exec(e, sql_new_columns, 2, params, &res, err) != 0)
		return -1;
	for (int i = 0; i < PQntuples(res) && *instant; i++) {
		for (int k = 1; k <= 3; k++) {
			if (strcmp(PQgetvalue(res, i, k), "t") != 0)
				continue;
			*instant = false;
			*why = xasprintf("column %s: %s", PQgetvalue(res, i, 0), what[k]);
			break;
		}
	}
	PQclear(res);
	return 0;
}

int
pgsql_instant_check(struct eng *e, const struct alter_info *alter, const char *rel,
		    bool *instant, char **why, struct shade_err *err)
{
	char text[1024];
	bool adds;

	free(*why);
	*why = NULL;
	*instant = instant_pg_clauses(alter, &adds, text, sizeof(text));
	if (!*instant) {
		*why = xstrdup(text);
		return 0;
	}
	if (adds && pgsql_instant_columns(e, rel, instant, why, err) != 0)
		return -1;
	if (*instant)
		*why = xstrdup("PostgreSQL makes this ALTER in its catalog alone, rewriting no "
			       "row: ALTER TABLE it directly (with a lock_timeout), or give "
			       "shade --attempt-instant");
	return 0;
}

/* The ALTER on T itself, in a transaction under the lock timeout. */
static int WARN_UNUSED
pgsql_instant_make(struct eng *e, const char *alter_body, struct shade_err *err)
{
	struct buf b = {0};
	int rc = -1;

	/* The ALTER-BODY is SQL by definition, with the user's search_path. */
	sql_build(&b, SQL_PG, "ALTER TABLE %Q %A", &e->orig, alter_body);
	if (pgsql_exec_run(e, "BEGIN", err) != 0 || pgsql_exec_set_lock_timeout(e, err) != 0 ||
	    pgsql_exec_user_path(e, err) != 0 || pgsql_exec_run_buf(e, &b, err) != 0 ||
	    pgsql_exec_pinned_path(e, err) != 0 || pgsql_exec_run(e, "COMMIT", err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		pgsql_exec_reset_txn(e);
	buf_free(&b);
	return rc;
}

/*
 * The check on a temporary copy of T's columns, with the ALTER applied,
 * in a transaction rolled back: nothing of it stays, nothing of the
 * engine's state changes (the run may go on to build its shadow).
 */
static int WARN_UNUSED
pgsql_instant_probe(struct eng *e, const char *alter_body, const struct alter_info *alter,
		    bool *instant, char **why, struct shade_err *err)
{
	static const char probe[] = "pg_temp._shade_instant";
	struct buf b = {0};
	int rc = -1;

	sql_build(&b, SQL_PG, "CREATE TEMPORARY TABLE pg_temp._shade_instant (LIKE %Q)", &e->orig);
	if (pgsql_exec_run(e, "BEGIN", err) != 0 || pgsql_exec_set_lock_timeout(e, err) != 0 ||
	    pgsql_exec_run_buf(e, &b, err) != 0)
		goto out;
	/* The ALTER-BODY is SQL by definition, with the user's search_path. */
	buf_reset(&b);
	sql_build(&b, SQL_PG, "ALTER TABLE %s %A", probe, alter_body);
	if (pgsql_exec_user_path(e, err) != 0 || pgsql_exec_run_buf(e, &b, err) != 0 ||
	    pgsql_exec_pinned_path(e, err) != 0 ||
	    pgsql_instant_check(e, alter, probe, instant, why, err) != 0)
		goto out;
	rc = 0;
out:
	pgsql_exec_reset_txn(e);  /* the probe goes: it only answered the question */
	buf_free(&b);
	return rc;
}

/*
 * --attempt-instant: the check on a probe, then, if it holds, the ALTER
 * on T. A probe that fails (an ALTER the server rejects among others) or
 * a failing ALTER (a lock timeout) leaves T as it was: the run goes on,
 * and says what it says of such an ALTER.
 */
int
pgsql_instant_attempt(struct eng *e, const char *alter_body, const struct alter_info *alter,
		      bool *done, char **why, struct shade_err *err)
{
	struct shade_err failed = {0};
	bool instant = false, adds;
	char text[1024];

	(void)err;
	*done = false;
	*why = NULL;
	if (!instant_pg_clauses(alter, &adds, text, sizeof(text))) {
		*why = xstrdup(text);
		return 0;
	}
	if (pgsql_instant_probe(e, alter_body, alter, &instant, why, &failed) != 0) {
		free(*why);
		*why = xasprintf("shade could not tell: %s", failed.msg);
		err_clear(&failed);
		return 0;
	}
	if (!instant)
		return 0;
	free(*why);
	*why = NULL;
	if (pgsql_instant_make(e, alter_body, &failed) != 0) {
		*why = xasprintf("the ALTER on %s failed, which left it as it was: %s",
				 e->orig.name, failed.msg);
		err_clear(&failed);
		return 0;
	}
	*done = true;
	return 0;
}
