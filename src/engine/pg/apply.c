/*
 * engine/pg/apply.c - replaying the change log onto the shadow.
 *
 * Between chunks, consume the committed log rows in batches: for the
 * batch's distinct keys, delete those keys from the shadow and re-insert
 * the original's current rows, in one transaction. The log rows taken are
 * deleted by id, never by a high-water mark. The swap (swap.c) drains the
 * log with the same batch under its lock.
 */
#include "pgsql.h"

#include <stdio.h>
#include <stdlib.h>

/* Build the apply statements once the mapping is known. */
void
pgsql_apply_statements(struct eng *e)
{
	struct buf b = {0}, cond = {0};
	size_t n = e->pk.len;

	/*
	 * Apply: take exactly the committed log rows read (by id, never by a
	 * high-water mark: a row committed late with a smaller id is taken by
	 * a later batch), then replace their keys' rows in the shadow by the
	 * original's current rows; a key gone from T is just deleted.
	 */
	sql_build(&b, SQL_PG,
		  "WITH taken AS (DELETE FROM %Q WHERE %I IN"
		  " (SELECT %I FROM %Q ORDER BY %I LIMIT $1) RETURNING %L),"
		  " kept AS (INSERT INTO %Q SELECT DISTINCT %L FROM taken)"
		  " SELECT count(*) FROM taken",
		  &e->log, "_shade_id", "_shade_id", &e->log, "_shade_id", &e->pk, &e->keys, &e->pk);
	e->sql_take_keys = buf_take(&b);
	/* The key's own operators, named (see catalog.c and copy.c). */
	for (size_t i = 0; i < n; i++)
		sql_build(&cond, SQL_PG, "%ss.%I OPERATOR(%I.=) k.%I", i ? " AND " : "",
			  e->shadow_pk.items[i], e->key_ops, e->pk.items[i]);
	sql_build(&b, SQL_PG, "DELETE FROM %Q s USING %Q k WHERE %s", &e->shadow, &e->keys,
		  buf_str(&cond));
	e->sql_apply_delete = buf_take(&b);
	/*
	 * IN, not a join: a USING expression's bare names can only mean T's.
	 * Written as = ANY, the form of IN that takes a named operator.
	 */
	sql_build(&b, SQL_PG,
		  "INSERT INTO %Q (%L) OVERRIDING SYSTEM VALUE SELECT %s FROM %Q"
		  " WHERE (%L) OPERATOR(%I.=) ANY (SELECT %L FROM %Q)",
		  &e->shadow, &e->dst, e->select_list, &e->orig, &e->pk, e->key_ops, &e->pk, &e->keys);
	e->sql_apply_insert = buf_take(&b);

	buf_free(&cond);
}

/* One batch inside the caller's transaction. */
int
pgsql_apply_in_txn(struct eng *e, long limit, long long *applied, struct shade_err *err)
{
	char lim[32];
	const char *params[1] = {lim};
	PGresult *res = NULL;

	snprintf(lim, sizeof(lim), "%ld", limit);
	/* Take the batch: *applied counts the log rows consumed. */
	if (pgsql_exec(e, e->sql_take_keys, 1, params, &res, err) != 0)
		return -1;
	*applied = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (*applied == 0)
		return 0;
	if (pgsql_exec_run(e, e->sql_apply_delete, err) != 0)
		return -1;
	/*
	 * The operator's USING expressions run with the user's search_path,
	 * and only they: shade's own comes back at once, since the swap runs
	 * its DDL in the same transaction after the drain.
	 */
	if (e->select_has_usings && pgsql_exec_user_path(e, err) != 0)
		return -1;
	if (pgsql_exec_run(e, e->sql_apply_insert, err) != 0)
		return -1;
	if (e->select_has_usings && pgsql_exec_pinned_path(e, err) != 0)
		return -1;
	return 0;
}

int
pgsql_apply(struct eng *e, long limit, long long *applied, struct shade_err *err)
{
	if (pgsql_exec_run(e, "BEGIN", err) != 0 || pgsql_apply_in_txn(e, limit, applied, err) != 0 ||
	    pgsql_exec_run(e, "COMMIT", err) != 0) {
		pgsql_exec_reset_txn(e);
		return -1;
	}
	return 0;
}

int
pgsql_apply_backlog(struct eng *e, long long *rows, struct shade_err *err)
{
	struct buf b = {0};
	PGresult *res = NULL;
	int rc = -1;

	sql_build(&b, SQL_PG, "SELECT count(*) FROM %Q", &e->log);
	if (pgsql_exec(e, buf_str(&b), 0, NULL, &res, err) != 0)
		goto out;
	*rows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}
