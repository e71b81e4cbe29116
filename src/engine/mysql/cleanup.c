/*
 * engine/mysql/cleanup.c - removing what shade made: after the swap the
 * state table, the capture triggers, the change log and the sentry's name
 * on the old table (and the old table, if asked); before it, on failure or
 * abort, the state, the triggers, the log and the shadow, leaving T
 * untouched.
 */
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
 * After the RENAME: the old table carries the sentry's name and the capture
 * triggers. Give it its proper name and drop the triggers; what fails here
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
	/* Nothing depends on the shadow or the sentry. */
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

/* Does table t exist (as a table: the sentry is one)? */
static int WARN_UNUSED
myeng_cleanup_exists(struct eng *e, const struct qname *t, bool *exists, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	int rc;

	myeng_param_str(&p, t->schema);
	myeng_param_str(&p, t->name);
	rc = myeng_query(e,
			 "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
			 &p, &res, err);
	*exists = rc == 0 && res.nrows > 0;
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

/* Which of the capture triggers are there. */
static int WARN_UNUSED
myeng_cleanup_triggers(struct eng *e, bool *any, struct shade_err *err)
{
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++) {
		struct myeng_params p = {0};
		struct myeng_res res = {0};
		int rc;

		myeng_param_str(&p, e->trg[i].schema);
		myeng_param_str(&p, e->trg[i].name);
		rc = myeng_query(e,
				 "SELECT 1 FROM information_schema.TRIGGERS"
				 " WHERE TRIGGER_SCHEMA = ? AND TRIGGER_NAME = ?",
				 &p, &res, err);
		e->trg_created[i] = rc == 0 && res.nrows > 0;
		*any |= e->trg_created[i];
		myeng_params_free(&p);
		myeng_res_free(&res);
		if (rc != 0)
			return -1;
	}
	return 0;
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
	bool state = false, log = false, shadow = false, sentry = false, old = false;
	bool trg = false;
	struct buf b = {0};
	int rc = -1;

	if (myeng_catalog_identify(e, table, out, err) != 0 || myeng_runlock_take(e, err) != 0 ||
	    myeng_cleanup_exists(e, &e->state, &state, err) != 0 ||
	    myeng_cleanup_exists(e, &e->log, &log, err) != 0 ||
	    myeng_cleanup_exists(e, &e->shadow, &shadow, err) != 0 ||
	    myeng_cleanup_exists(e, &e->sentry, &sentry, err) != 0 ||
	    myeng_cleanup_exists(e, &e->old, &old, err) != 0 ||
	    myeng_cleanup_triggers(e, &trg, err) != 0)
		goto out;
	*found = state || log || shadow || trg || (sentry && shadow);
	if (sentry && !shadow && !old) {
		myeng_rename_old_sql(&b, e);
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
		*found = true;
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
