/*
 * engine/pg/drywarn.c - the dry run's warnings about T that only the
 * server can tell: transactions that would keep the swap waiting, foreign
 * keys on either side of T, T's own triggers. Read after the dry run's
 * transaction, on its connection; each is one short catalog query.
 */
#include "pgsql.h"

#include <stdio.h>
#include <stdlib.h>

/* Foreign keys of other tables that reference T: "public.orders (orders_item_fk)". */
static const char sql_fk_in[] =
	"SELECT pg_catalog.string_agg(pg_catalog.format('%s.%s (%s)', n.nspname, c.relname,"
	"    k.conname), ', ' ORDER BY n.nspname, c.relname, k.conname), pg_catalog.count(*)"
	" FROM pg_catalog.pg_constraint k"
	" JOIN pg_catalog.pg_class c ON c.oid = k.conrelid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" WHERE k.contype = 'f' AND k.confrelid = $1::pg_catalog.regclass"
	"   AND k.conrelid <> k.confrelid";

/* T's own triggers (not the internal ones of constraints). */
static const char sql_user_triggers[] =
	"SELECT pg_catalog.string_agg(tgname, ', ' ORDER BY tgname), pg_catalog.count(*)"
	" FROM pg_catalog.pg_trigger"
	" WHERE tgrelid = $1::pg_catalog.regclass AND NOT tgisinternal";

/* A list and its length from one of the queries above; NULL when none. */
static int WARN_UNUSED
pgsql_drywarn_list(struct eng *e, const char *sql, char **list, long *n, struct shade_err *err)
{
	const char *params[1] = {e->orig_text};
	PGresult *res = NULL;

	*list = NULL;
	if (pgsql_exec(e, sql, 1, params, &res, err) != 0)
		return -1;
	*n = atol(PQgetvalue(res, 0, 1));
	if (*n > 0)
		*list = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* Who holds T now, in a transaction older than the lock timeout. */
static int WARN_UNUSED
pgsql_drywarn_holders(struct eng *e, struct strlist *out, struct shade_err *err)
{
	struct buf list = {0};
	int n = pgsql_blockers_list(e, PGSQL_CONFLICTS_ACCESS_EXCLUSIVE, &list, err);

	if (n > 0)
		strlist_push_take(out, xasprintf("long-running transactions hold %s.%s and would "
						 "keep the swap waiting (each attempt waits %.1f s, "
						 "then retries): %s", e->orig.schema, e->orig.name,
						 e->opts->lock_timeout, buf_str(&list)));
	buf_free(&list);
	return n < 0 ? -1 : 0;
}

int
pgsql_drywarn(struct eng *e, struct strlist *out, struct shade_err *err)
{
	char *list = NULL;
	long n = 0;
	int rc = -1;

	if (pgsql_drywarn_holders(e, out, err) != 0)
		goto out;
	if (e->t_fks.len > 0) {
		struct buf b = {0};

		for (size_t i = 0; i < e->t_fks.len; i++)
			buf_printf(&b, "%s%s", i ? ", " : "", e->t_fks.items[i]);
		strlist_push_take(out, xasprintf("%s.%s has foreign keys (%s): the copy does not check "
						 "them (the table enforces them); the new table gets them "
						 "NOT VALID and validates them after the swap",
						 e->orig.schema, e->orig.name, buf_str(&b)));
		buf_free(&b);
	}
	if (pgsql_drywarn_list(e, sql_fk_in, &list, &n, err) != 0)
		goto out;
	if (list)
		strlist_push_take(out, xasprintf("%ld foreign key%s of other tables reference%s %s.%s "
						 "(%s): the swap moves each to the new table, "
						 "locking those tables too, and validates them after",
						 n, n == 1 ? "" : "s", n == 1 ? "s" : "",
						 e->orig.schema, e->orig.name, list));
	free(list);
	if (pgsql_drywarn_list(e, sql_user_triggers, &list, &n, err) != 0)
		goto out;
	if (list)
		strlist_push_take(out, xasprintf("%s.%s has %ld trigger%s of its own (%s): they go on "
						 "firing for the application's writes, the copy and "
						 "the apply do not fire them, the new table gets "
						 "them at the swap", e->orig.schema, e->orig.name, n,
						 n == 1 ? "" : "s", list));
	rc = 0;
out:
	free(list);
	return rc;
}
