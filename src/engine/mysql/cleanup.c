/*
 * engine/mysql/cleanup.c - removing what shade made: after the swap the
 * state table, the capture triggers, the change log, the sentry's name on
 * the old table and the temporary names of T's foreign keys (and the old
 * table, if asked); before it, on failure or abort, the state, the
 * triggers, the log and the shadow (the foreign keys moved to it back on
 * T first), leaving T untouched.
 */
#include <string.h>

#include "backoff.h"
#include "myeng.h"

/* DROP TRIGGER IF EXISTS trg */
void
myeng_cleanup_drop_trigger_sql(struct buf *b, const struct qname *trg)
{
	sql_build(b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", trg);
}

/* DROP TABLE [IF EXISTS] t */
void
myeng_cleanup_drop_table_sql(struct buf *b, const struct qname *t, bool if_exists)
{
	sql_build(b, SQL_MYSQL, "DROP TABLE %s%Q", if_exists ? "IF EXISTS " : "", t);
}

/* The old table, named for the swap's sentry by the RENAME, gets its own name. */
static void
myeng_rename_old_sql(struct buf *b, const struct eng *e)
{
	sql_build(b, SQL_MYSQL, "RENAME TABLE %Q TO %Q", &e->sentry, &e->old);
}

/*
 * After the RENAME: the old table carries the sentry's name, the capture
 * triggers and the names of T's foreign keys. Give it its proper name,
 * give the keys theirs back (fk.c) and drop the triggers; what fails here
 * finish() does again.
 */
void
myeng_cleanup_after_swap(struct eng *e)
{
	struct shade_err ignored = {0};
	struct buf b = {0};

	myeng_rename_old_sql(&b, e);
	if (myeng_run_buf(e, &b, &ignored) == 0)
		e->old_named = true;
	err_clear(&ignored);
	if (e->nfk_out > 0 && myeng_fk_finish(e, &ignored) != 0) {
		/* finish() tries again */
	}
	err_clear(&ignored);
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++) {
		myeng_cleanup_drop_trigger_sql(&b, &e->trg[i]);
		if (myeng_run_buf(e, &b, &ignored) == 0)
			e->trg_created[i] = false;
		err_clear(&ignored);
	}
	buf_free(&b);
}

int
myeng_cleanup_finish(struct eng *e, bool drop_old, struct shade_err *err)
{
	struct buf b = {0};
	int rc = -1;

	/* Nothing is left to resume: the shadow is T (see state.c). */
	myeng_cleanup_drop_table_sql(&b, &e->state, true);
	if (myeng_run_buf(e, &b, err) != 0)
		goto out;
	e->state_created = false;
	if (e->nutrg > 0 && !e->utrg_named && myeng_carry_restore_triggers(e, err) != 0)
		goto out;
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++) {
		myeng_cleanup_drop_trigger_sql(&b, &e->trg[i]);
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
		e->trg_created[i] = false;
	}
	myeng_cleanup_drop_table_sql(&b, &e->log, true);
	if (myeng_run_buf(e, &b, err) != 0)
		goto out;
	e->log_created = false;
	if (!e->old_named) {
		myeng_rename_old_sql(&b, e);
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
		e->old_named = true;
	}
	if (e->nfk_out > 0 && !e->fk_named && myeng_fk_finish(e, err) != 0)
		goto out;
	if (drop_old) {
		myeng_cleanup_drop_table_sql(&b, &e->old, false);
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
	}
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

int
myeng_cleanup_undo(struct eng *e, struct shade_err *err)
{
	struct buf b = {0};
	int tries = e->opts->lock_retries > 10 ? e->opts->lock_retries : 10;
	int rc = -1;

	if (e->swapped) {
		err_set(err, SHADE_FAILED, "internal error: undo after the swap");
		return -1;
	}
	if (e->conn == NULL) {
		err_set(err, SHADE_FAILED,
			"lost the connection; remove triggers %s.%s, %s.%s, %s.%s and tables %s.%s, %s.%s, %s.%s by hand",
			e->orig.schema, e->trg[0].name, e->orig.schema, e->trg[1].name, e->orig.schema,
			e->trg[2].name, e->orig.schema, e->state.name, e->orig.schema, e->shadow.name,
			e->orig.schema, e->log.name);
		goto out;
	}
	myeng_rollback(e);
	/* The state first: half a clean-up must never look resumable. */
	myeng_cleanup_drop_table_sql(&b, &e->state, true);
	if (myeng_run_buf(e, &b, err) != 0)
		goto out;
	e->state_created = false;
	/*
	 * Nothing depends on the shadow or the sentry, once the foreign keys
	 * a swap that failed or was killed moved to the shadow are back on T.
	 */
	if (e->shadow_created && myeng_fk_unshadow(e, err) != 0)
		goto out;
	myeng_cleanup_drop_table_sql(&b, &e->shadow, true);
	if (myeng_run_buf(e, &b, err) != 0)
		goto out;
	e->shadow_created = false;
	if (e->sentry_created) {
		myeng_cleanup_drop_table_sql(&b, &e->sentry, true);
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
		e->sentry_created = false;
	}
	/*
	 * The triggers, then the log: with the log gone, triggers left behind
	 * would fail every write to T. Dropping a trigger needs T's exclusive
	 * lock, each attempt bounded by lock_wait_timeout so the application
	 * waits at most that long; between attempts it runs freely. A cleanup
	 * is worth more patience than a swap.
	 */
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++) {
		struct backoff bo;
		double pause;

		backoff_init(&bo, 0.25, 4, tries);
		while (e->trg_created[i]) {
			err_clear(err);
			myeng_cleanup_drop_trigger_sql(&b, &e->trg[i]);
			if (myeng_run_buf(e, &b, err) == 0) {
				e->trg_created[i] = false;
				break;
			}
			if (!err->retryable || (pause = backoff_next(&bo)) < 0) {
				err_append(err,
					   "; the capture triggers are still on %s: DROP TRIGGER %s.%s, "
					   "%s.%s and %s.%s, then DROP TABLE %s.%s",
					   e->display, e->orig.schema, e->trg[0].name, e->orig.schema,
					   e->trg[1].name, e->orig.schema, e->trg[2].name, e->orig.schema,
					   e->log.name);
				err->status = SHADE_FAILED;
				goto out;
			}
			dbwait_sleep(e->w, pause);
		}
	}
	myeng_cleanup_drop_table_sql(&b, &e->log, true);
	if (myeng_run_buf(e, &b, err) != 0)
		goto out;
	e->log_created = false;
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

/* ---- the dry run's plan ------------------------------------------------ */

/* What myeng_cleanup_after_swap runs. */
void
myeng_cleanup_plan_after_swap(struct eng *e)
{
	struct buf b = {0};

	myeng_rename_old_sql(&b, e);
	myeng_dryrun_take(e, "main connection, after the swap", buf_take(&b));
	myeng_fk_plan_finish(e);
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++) {
		myeng_cleanup_drop_trigger_sql(&b, &e->trg[i]);
		myeng_dryrun_take(e, NULL, buf_take(&b));
	}
}

/*
 * What myeng_cleanup_finish runs after a swap whose after-swap statements
 * succeeded (the old table has its name).
 */
void
myeng_cleanup_plan_finish(struct eng *e)
{
	struct buf b = {0};

	myeng_cleanup_drop_table_sql(&b, &e->state, true);
	myeng_dryrun_take(e, "cleanup", buf_take(&b));
	myeng_carry_plan_restore(e);
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++) {
		myeng_cleanup_drop_trigger_sql(&b, &e->trg[i]);
		myeng_dryrun_take(e, NULL, buf_take(&b));
	}
	myeng_cleanup_drop_table_sql(&b, &e->log, true);
	myeng_dryrun_take(e, NULL, buf_take(&b));
	myeng_cleanup_drop_table_sql(&b, &e->old, false);
	myeng_dryrun_take(e, "with --drop-old", buf_take(&b));
}

/*
 * Which of shade's tables for T exist (the sentry is one), and which of the
 * capture triggers: one query each, names compared exactly, as the
 * leftovers check of preflight does.
 */
static int WARN_UNUSED
myeng_cleanup_find(struct eng *e, const struct qname *const *t, bool *exists, size_t n,
		   bool *trg, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	int rc = -1;

	myeng_param_str(&p, e->orig.schema);
	for (size_t i = 0; i < n; i++)
		myeng_param_str(&p, t[i]->name);
	if (myeng_query(e,
			"SELECT TABLE_NAME FROM information_schema.TABLES"
			" WHERE TABLE_SCHEMA = ? AND BINARY TABLE_NAME IN (?, ?, ?, ?, ?)",
			&p, &res, err) != 0)
		goto out;
	for (size_t r = 0; r < res.nrows; r++)
		for (size_t i = 0; i < n; i++)
			exists[i] |= strcmp(myeng_text(&res, r, 0), t[i]->name) == 0;
	myeng_res_free(&res);
	myeng_params_free(&p);
	myeng_param_str(&p, e->orig.schema);
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++)
		myeng_param_str(&p, e->trg[i].name);
	if (myeng_query(e,
			"SELECT TRIGGER_NAME FROM information_schema.TRIGGERS"
			" WHERE TRIGGER_SCHEMA = ? AND BINARY TRIGGER_NAME IN (?, ?, ?)",
			&p, &res, err) != 0)
		goto out;
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++) {
		e->trg_created[i] = false;
		for (size_t r = 0; r < res.nrows; r++)
			e->trg_created[i] |= strcmp(myeng_text(&res, r, 0), e->trg[i].name) == 0;
		*trg |= e->trg_created[i];
	}
	rc = 0;
out:
	myeng_res_free(&res);
	myeng_params_free(&p);
	return rc;
}

/*
 * --cleanup: remove what an abandoned run left on T (its state, triggers,
 * change log and new table), under the run lock. Never T, never an old
 * table: when the shadow is gone but the sentry's name is taken, the swap's
 * RENAME happened and that table is the old one, so it gets the old
 * table's name, as the clean-up after a swap would give it.
 */
int
myeng_cleanup_abandoned(struct eng *e, const struct qname *table, struct table_summary *out,
			bool *found, struct shade_err *err)
{
	const struct qname *t[5] = {&e->state, &e->log, &e->shadow, &e->sentry, &e->old};
	bool exists[5] = {false}, trg = false;
	bool state, log, shadow, sentry, old;
	struct buf b = {0};
	int rc = -1;

	if (myeng_catalog_identify(e, table, out, err) != 0 || myeng_runlock_take(e, err) != 0 ||
	    myeng_cleanup_find(e, t, exists, ARRAY_LEN(t), &trg, err) != 0)
		goto out;
	state = exists[0], log = exists[1], shadow = exists[2], sentry = exists[3], old = exists[4];
	*found = state || log || shadow || trg || (sentry && shadow);
	if (sentry && !shadow && !old) {
		myeng_rename_old_sql(&b, e);
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
		*found = true;
		old = true;
	}
	/* A swap killed before T's foreign keys had their names back. */
	if (!shadow && old) {
		e->old_named = true;
		if (myeng_fk_finish(e, err) != 0)
			goto out;
	}
	if (*found) {
		e->state_created = state;
		e->log_created = log;
		e->shadow_created = shadow;
		e->sentry_created = sentry && shadow;
		if (myeng_cleanup_undo(e, err) != 0)
			goto out;
	}
	rc = 0;
out:
	buf_free(&b);
	return rc;
}
