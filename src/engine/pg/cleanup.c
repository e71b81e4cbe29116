/*
 * engine/pg/cleanup.c - what happens after the swap, or instead of it.
 *
 * After the swap: validate the foreign keys added back NOT VALID, drop the
 * change log and the trigger function, and the old table if asked. On
 * failure or abort before the swap: drop the triggers (patiently: they lock
 * T), the trigger function, the change log and the shadow; T is untouched.
 */
#include "pgsql.h"

#include <string.h>

#include "backoff.h"

/* The statements that end a run after the swap. */
void
pgsql_cleanup_statements(struct eng *e, bool drop_old, struct strlist *out)
{
	struct buf b = {0};

	sql_build(&b, SQL_PG, "DROP TABLE IF EXISTS %Q", &e->log);
	strlist_push_take(out, buf_take(&b));
	sql_build(&b, SQL_PG, "DROP FUNCTION IF EXISTS %Q()", &e->fn);
	strlist_push_take(out, buf_take(&b));
	if (drop_old) {
		sql_build(&b, SQL_PG, "DROP TABLE %Q", &e->old);
		strlist_push_take(out, buf_take(&b));
	}
}

/* One attempt at the statements sql[0, n) in a transaction under lock_timeout. */
static int WARN_UNUSED
pgsql_cleanup_locked_once(struct eng *e, char *const *sql, size_t n, struct shade_err *err)
{
	if (pgsql_exec_run(e, "BEGIN", err) != 0 || pgsql_exec_set_lock_timeout(e, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (pgsql_exec_run(e, sql[i], err) != 0)
			return -1;
	return pgsql_exec_run(e, "COMMIT", err);
}

/*
 * The statements sql[0, n) in one transaction that locks what the
 * application uses: each attempt is bounded by lock_timeout, so the
 * application never queues behind it for longer than one attempt, and a
 * lock timeout is retried after a back-off (0.5 s, doubling up to 5 s),
 * tries attempts in all.
 */
static int WARN_UNUSED
pgsql_cleanup_locked(struct eng *e, char *const *sql, size_t n, int tries, struct shade_err *err)
{
	struct backoff bo;

	backoff_init(&bo, 0.5, 5, tries);
	for (;;) {
		double pause;

		err_clear(err);
		if (pgsql_cleanup_locked_once(e, sql, n, err) == 0)
			return 0;
		pgsql_exec_reset_txn(e);
		if (!err->retryable || (pause = backoff_next(&bo)) < 0)
			return -1;
		dbwait_sleep(e->w, pause);
	}
}

/*
 * What follows the swap's commit (e->post_swap): statements that run
 * alone (validating a foreign key reads the whole table but takes only a
 * SHARE UPDATE EXCLUSIVE lock: writers go on meanwhile; refreshing a
 * materialized view nobody reads yet), and BEGIN ... COMMIT transactions,
 * retried on a lock timeout.
 */
static int WARN_UNUSED
pgsql_cleanup_post_swap(struct eng *e, struct shade_err *err)
{
	const struct strlist *l = &e->post_swap;

	for (size_t i = 0; i < l->len; i++) {
		size_t end = i;

		if (strcmp(l->items[i], "BEGIN") != 0) {
			if (pgsql_exec_run(e, l->items[i], err) != 0)
				return -1;
			continue;
		}
		while (end < l->len && strcmp(l->items[end], "COMMIT") != 0)
			end++;
		if (end == l->len) {
			err_set(err, SHADE_FAILED, "internal error: a transaction after the swap has no COMMIT");
			return -1;
		}
		/* A materialized view taking its place: it locks what readers read. */
		if (pgsql_cleanup_locked(e, &l->items[i + 1], end - i - 1, e->opts->lock_retries,
					 err) != 0) {
			if (!err->cancelled)
				err_prefix(err, SHADE_FAILED,
					   "a rebuilt materialized view could not take its place "
					   "(%s): ", l->items[i + 1]);
			return -1;
		}
		i = end;
	}
	return 0;
}

int
pgsql_cleanup_finish(struct eng *e, bool drop_old, struct shade_err *err)
{
	struct strlist l = {0};
	int rc;

	pgsql_cleanup_statements(e, drop_old, &l);
	rc = pgsql_cleanup_post_swap(e, err) == 0 ? pgsql_exec_run_list(e, &l, err) : -1;
	strlist_free(&l);
	return rc;
}

int
pgsql_cleanup_undo(struct eng *e, struct shade_err *err)
{
	struct strlist trg = {0};
	struct buf b = {0};
	int rc = -1;

	if (PQstatus(e->conn) != CONNECTION_OK) {
		err_set(err, SHADE_FAILED,
			"lost the connection; remove %s.%s, %s.%s, function %s.%s() and triggers %s, %s on %s.%s by hand",
			e->shadow.schema, e->shadow.name, e->log.schema, e->log.name, e->fn.schema,
			e->fn.name, e->trg, e->trg_trunc, e->orig.schema, e->orig.name);
		goto out;
	}
	pgsql_exec_reset_txn(e);
	/* The state first: half a clean-up must never look resumable. */
	sql_build(&b, SQL_PG, "DROP TABLE IF EXISTS %Q", &e->state);
	if (pgsql_exec_run_buf(e, &b, err) != 0)
		goto out;
	/*
	 * Dropping the triggers locks T, each attempt bounded by lock_timeout
	 * so the application never queues behind us for long. Undo is more
	 * patient than the capture and the swap (at least 20 attempts, backing
	 * off to 5 s, about a minute and a half): the usual reason to be here
	 * is that a long transaction kept the swap from its lock, and giving
	 * up now would leave the triggers writing the log for nobody.
	 */
	if (e->capture_created) {
		sql_build(&b, SQL_PG, "DROP TRIGGER IF EXISTS %I ON %Q", e->trg, &e->orig);
		strlist_push_take(&trg, buf_take(&b));
		sql_build(&b, SQL_PG, "DROP TRIGGER IF EXISTS %I ON %Q", e->trg_trunc, &e->orig);
		strlist_push_take(&trg, buf_take(&b));
		if (pgsql_cleanup_locked(e, trg.items, trg.len,
					 e->opts->lock_retries > 20 ? e->opts->lock_retries : 20, err) != 0)
			goto out;
		e->capture_created = false;
	}
	sql_build(&b, SQL_PG, "DROP FUNCTION IF EXISTS %Q()", &e->fn);
	if (pgsql_exec_run_buf(e, &b, err) != 0)
		goto out;
	sql_build(&b, SQL_PG, "DROP TABLE IF EXISTS %Q", &e->log);
	if (pgsql_exec_run_buf(e, &b, err) != 0)
		goto out;
	sql_build(&b, SQL_PG, "DROP TABLE IF EXISTS %Q", &e->shadow);
	if (pgsql_exec_run_buf(e, &b, err) != 0)
		goto out;
	rc = 0;
out:
	strlist_free(&trg);
	buf_free(&b);
	return rc;
}

/*
 * --cleanup: remove what an abandoned run left on T (its state, triggers,
 * function, change log and new table), never T nor an old table a
 * finished run kept. Under the run lock, so never under a running shade.
 */
int
pgsql_cleanup_abandoned(struct eng *e, const struct qname *table, struct table_summary *out,
			bool *found, struct shade_err *err)
{
	const char *params[7] = {NULL};
	struct buf b[4] = {{0}};
	PGresult *res = NULL;
	int rc = -1;

	if (pgsql_catalog_identify(e, table, out, err) != 0 || pgsql_runlock_take(e, err) != 0)
		goto out;
	params[0] = e->orig_text;
	params[1] = e->trg;
	params[2] = e->trg_trunc;
	sql_build(&b[0], SQL_PG, "%Q", &e->state);
	sql_build(&b[1], SQL_PG, "%Q", &e->log);
	sql_build(&b[2], SQL_PG, "%Q", &e->shadow);
	sql_build(&b[3], SQL_PG, "%Q()", &e->fn);
	for (int i = 0; i < 4; i++)
		params[3 + i] = buf_str(&b[i]);
	if (pgsql_exec(e,
		       "SELECT (SELECT count(*) FROM pg_catalog.pg_trigger"
		       "  WHERE tgrelid = $1::pg_catalog.regclass AND tgname IN ($2, $3))"
		       " + (pg_catalog.to_regclass($4) IS NOT NULL)::int"
		       " + (pg_catalog.to_regclass($5) IS NOT NULL)::int"
		       " + (pg_catalog.to_regclass($6) IS NOT NULL)::int"
		       " + (pg_catalog.to_regprocedure($7) IS NOT NULL)::int",
		       7, params, &res, err) != 0)
		goto out;
	*found = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
	if (*found) {
		e->capture_created = true;
		if (pgsql_cleanup_undo(e, err) != 0)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	for (int i = 0; i < 4; i++)
		buf_free(&b[i]);
	return rc;
}
