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

/*
 * One attempt at the transaction post_swap[from, to) (BEGIN ... COMMIT
 * included), each lock bounded by lock_timeout.
 */
static int WARN_UNUSED
pgsql_cleanup_txn_once(struct eng *e, size_t from, size_t to, struct shade_err *err)
{
	if (pgsql_exec_run(e, e->post_swap.items[from], err) != 0 ||
	    pgsql_exec_set_lock_timeout(e, err) != 0)
		return -1;
	for (size_t i = from + 1; i < to; i++)
		if (pgsql_exec_run(e, e->post_swap.items[i], err) != 0)
			return -1;
	return 0;
}

/*
 * A transaction of e->post_swap (a materialized view taking its place):
 * it locks what the application reads, so each attempt is bounded by
 * lock_timeout, and a lock timeout is retried after a back-off as the
 * swap's is; readers never queue behind it for longer than one attempt.
 */
static int WARN_UNUSED
pgsql_cleanup_txn(struct eng *e, size_t from, size_t to, struct shade_err *err)
{
	struct backoff bo;

	backoff_init(&bo, 0.5, 5, e->opts->lock_retries);
	for (;;) {
		double pause;

		err_clear(err);
		if (pgsql_cleanup_txn_once(e, from, to, err) == 0)
			return 0;
		pgsql_exec_reset_txn(e);
		if (!err->retryable || (pause = backoff_next(&bo)) < 0) {
			if (!err->cancelled)
				err_prefix(err, SHADE_FAILED,
					   "a rebuilt materialized view could not take its place "
					   "(%s): ", e->post_swap.items[from + 1]);
			return -1;
		}
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
		if (pgsql_cleanup_txn(e, i, end + 1, err) != 0)
			return -1;
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

/* One attempt at dropping the capture triggers, in one transaction. */
static int WARN_UNUSED
pgsql_cleanup_drop_triggers(struct eng *e, struct buf *b, struct shade_err *err)
{
	if (pgsql_exec_run(e, "BEGIN", err) != 0 || pgsql_exec_set_lock_timeout(e, err) != 0)
		return -1;
	sql_build(b, SQL_PG, "DROP TRIGGER IF EXISTS %I ON %Q", e->trg, &e->orig);
	if (pgsql_exec_run_buf(e, b, err) != 0)
		return -1;
	sql_build(b, SQL_PG, "DROP TRIGGER IF EXISTS %I ON %Q", e->trg_trunc, &e->orig);
	if (pgsql_exec_run_buf(e, b, err) != 0)
		return -1;
	return pgsql_exec_run(e, "COMMIT", err);
}

int
pgsql_cleanup_undo(struct eng *e, struct shade_err *err)
{
	struct backoff bo;
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
	backoff_init(&bo, 0.5, 5, e->opts->lock_retries > 20 ? e->opts->lock_retries : 20);
	while (e->capture_created) {
		double pause;

		err_clear(err);
		if (pgsql_cleanup_drop_triggers(e, &b, err) == 0) {
			e->capture_created = false;
			break;
		}
		buf_reset(&b);
		pgsql_exec_reset_txn(e);
		if (!err->retryable || (pause = backoff_next(&bo)) < 0)
			goto out;
		dbwait_sleep(e->w, pause);
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
