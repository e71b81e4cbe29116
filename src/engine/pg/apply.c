/*
 * engine/pg/apply.c - replaying the change log onto the shadow.
 *
 * Once the shadow has its primary key (indexes.c), consume the committed
 * log rows in batches: for the batch's distinct keys, delete those keys
 * from the shadow and re-insert the original's current rows (or, where
 * the key can arbitrate, delete the keys T no longer has and write T's
 * rows over the shadow's in place: pgsql_apply_in_txn), in one
 * REPEATABLE READ transaction, so that every statement of the batch sees
 * one snapshot S. The log rows taken are deleted by id, never by a
 * high-water mark. The swap (swap.c) drains the log with the same batch
 * under its lock.
 *
 * Unique values move between T's rows while shade runs, so the shadow may
 * hold a stale row whose unique value a re-inserted row now needs. Such a
 * holder is stale for a reason the log knows: T enforced the constraint at
 * S, and every change is logged in its own transaction, so the holder's
 * change committed before S with a log row visible at S, not consumed yet.
 * When the insert meets a unique or exclusion violation, the batch rolls
 * back to before it, releases every row whose key has a log row waiting
 * (deletes it from the shadow; its log row brings it back later), and
 * inserts again. Every row left in the shadow then equals T's row at S, so
 * a second violation is a duplicate T itself held at S (a new unique key
 * over duplicate data): it fails with the server's message.
 */
#include "pgsql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The in-place apply (see pgsql_apply_in_txn), made of the plain one's
 * statements: the delete keeps only the keys T no longer has, and the
 * insert writes over a row the shadow already has, every column from T's
 * and its new columns their defaults again, as a re-insert would. Only
 * where the key can arbitrate (not DEFERRABLE) and no identity column
 * refuses the update.
 */
static void
pgsql_apply_upsert_statements(struct eng *e)
{
	struct buf b = {0};

	e->apply_upsert = e->identity.len == 0 && (e->pk_changed || !e->key_deferrable);
	if (!e->apply_upsert)
		return;
	buf_printf(&b, "%s AND NOT EXISTS (SELECT 1 FROM ", e->sql_apply_delete);
	sql_build(&b, SQL_PG, "%Q o WHERE ", &e->orig);
	for (size_t i = 0; i < e->pk.len; i++)
		sql_build(&b, SQL_PG, "%so.%I OPERATOR(%I.=) k.%I", i ? " AND " : "",
			  e->pk.items[i], e->key_ops, e->pk.items[i]);
	buf_append(&b, ")");
	e->sql_apply_gone = buf_take(&b);
	buf_printf(&b, "%s ON CONFLICT (", e->sql_apply_insert);
	sql_build(&b, SQL_PG, "%L) DO UPDATE SET ", &e->shadow_pk);
	for (size_t i = 0; i < e->dst.len; i++)
		sql_build(&b, SQL_PG, "%s%I = EXCLUDED.%I", i ? ", " : "", e->dst.items[i],
			  e->dst.items[i]);
	for (size_t i = 0; i < e->fresh.len; i++)
		sql_build(&b, SQL_PG, ", %I = DEFAULT", e->fresh.items[i]);
	e->sql_apply_upsert = buf_take(&b);
}

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

	/* The release: the shadow's rows whose keys have a log row waiting. */
	buf_reset(&cond);
	for (size_t i = 0; i < n; i++)
		sql_build(&cond, SQL_PG, "%ss.%I OPERATOR(%I.=) l.%I", i ? " AND " : "",
			  e->shadow_pk.items[i], e->key_ops, e->pk.items[i]);
	sql_build(&b, SQL_PG, "DELETE FROM %Q s USING %Q l WHERE %s", &e->shadow, &e->log,
		  buf_str(&cond));
	e->sql_release = buf_take(&b);
	buf_free(&cond);
	pgsql_apply_upsert_statements(e);
}

/*
 * Release the rows of the shadow whose keys have a log row waiting: each
 * was read before its key's last change and comes back with that log row.
 */
int
pgsql_apply_release(struct eng *e, long long *released, struct shade_err *err)
{
	PGresult *res = NULL;

	if (pgsql_exec(e, e->sql_release, 0, NULL, &res, err) != 0)
		return -1;
	*released = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

/* The re-insert of the batch's keys (sql), with the user's path for USING. */
static int WARN_UNUSED
pgsql_apply_insert(struct eng *e, const char *sql, struct shade_err *err)
{
	/*
	 * The operator's USING expressions run with the user's search_path,
	 * and only they: shade's own comes back at once, since the swap runs
	 * its DDL in the same transaction after the drain.
	 */
	if (e->select_has_usings && pgsql_exec_user_path(e, err) != 0)
		return -1;
	if (pgsql_exec_run(e, sql, err) != 0)
		return -1;
	if (e->select_has_usings && pgsql_exec_pinned_path(e, err) != 0)
		return -1;
	return 0;
}

/* A violation a stale holder may explain: unique or exclusion. */
static bool
pgsql_apply_holder_conflict(const struct shade_err *err)
{
	return strcmp(err->sqlstate, "23505") == 0 || strcmp(err->sqlstate, "23P01") == 0;
}

/*
 * The insert, and when a unique value is held by a stale row, the release
 * and the insert again (see the top of this file). The in-place insert
 * (upsert) meets one more kind of holder: a key of the batch itself, whose
 * stale row still holds a value another key of the batch now needs (two
 * rows that swapped values), and whose own log row the batch has just
 * consumed. So its second try is the plain one: every key of the batch
 * deleted, the release, the re-insert.
 */
static int WARN_UNUSED
pgsql_apply_insert_releasing(struct eng *e, bool upsert, struct shade_err *err)
{
	const char *first = upsert ? e->sql_apply_upsert : e->sql_apply_insert;
	long long released;

	if (!e->unique_built)
		return pgsql_apply_insert(e, first, err);
	if (pgsql_exec_run(e, "SAVEPOINT shade_apply", err) != 0)
		return -1;
	if (pgsql_apply_insert(e, first, err) == 0)
		return pgsql_exec_run(e, "RELEASE SAVEPOINT shade_apply", err);
	if (!pgsql_apply_holder_conflict(err))
		return -1;
	err_clear(err);
	if (pgsql_exec_run(e, "ROLLBACK TO SAVEPOINT shade_apply", err) != 0 ||
	    (e->select_has_usings && pgsql_exec_pinned_path(e, err) != 0) ||
	    (upsert && pgsql_exec_run(e, e->sql_apply_delete, err) != 0) ||
	    pgsql_apply_release(e, &released, err) != 0)
		return -1;
	if (pgsql_apply_insert(e, e->sql_apply_insert, err) != 0) {
		if (pgsql_apply_holder_conflict(err))
			err_prefix(err, SHADE_FAILED, "%s.%s holds rows the new schema rejects: ",
				   e->orig.schema, e->orig.name);
		return -1;
	}
	return 0;
}

/*
 * One batch inside the caller's transaction, which sees one snapshot
 * (REPEATABLE READ, or the swap's lock on T). Either the batch's keys are
 * deleted from the shadow and T's rows for them inserted, or (apply_upsert)
 * the keys T no longer has are deleted and T's rows for the others
 * inserted or, where the shadow has the key, written over it in place:
 * every column from T's row, the new ones their defaults. Both leave each
 * key of the batch as T has it at the snapshot; in place, a row whose
 * indexed columns did not change is a HOT update, with no index entry to
 * add (2.4 times cheaper for 5,000 updated keys of 1M, README.md).
 */
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
	if (pgsql_exec_run(e, e->apply_upsert ? e->sql_apply_gone : e->sql_apply_delete, err) != 0)
		return -1;
	return pgsql_apply_insert_releasing(e, e->apply_upsert, err);
}

int
pgsql_apply(struct eng *e, long limit, long long *applied, struct shade_err *err)
{
	/*
	 * One snapshot for the batch; a deferrable unique constraint checked
	 * at each statement, where the release can answer it.
	 */
	if (pgsql_exec_run(e, "BEGIN ISOLATION LEVEL REPEATABLE READ", err) != 0 ||
	    pgsql_exec_run(e, "SET CONSTRAINTS ALL IMMEDIATE", err) != 0 ||
	    pgsql_apply_in_txn(e, limit, applied, err) != 0 ||
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
