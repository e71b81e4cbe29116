/*
 * engine/mysql/cleanup.c - removing what shade made: after the swap the
 * capture triggers, the change log and the sentry's name on the old table
 * (and the old table, if asked); before it, on failure or abort, the
 * triggers, the log and the shadow, leaving T untouched.
 */
#include "backoff.h"
#include "myeng.h"

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

	sql_build(&b, SQL_MYSQL, "RENAME TABLE %Q TO %Q", &e->sentry, &e->old);
	if (myeng_run_buf(e, &b, &ignored) == 0)
		e->old_named = true;
	err_clear(&ignored);
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++) {
		sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &e->trg[i]);
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

	if (e->nutrg > 0 && !e->utrg_named && myeng_carry_restore_triggers(e, err) != 0)
		goto out;
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++) {
		sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &e->trg[i]);
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
		e->trg_created[i] = false;
	}
	sql_build(&b, SQL_MYSQL, "DROP TABLE IF EXISTS %Q", &e->log);
	if (myeng_run_buf(e, &b, err) != 0)
		goto out;
	e->log_created = false;
	if (!e->old_named) {
		sql_build(&b, SQL_MYSQL, "RENAME TABLE %Q TO %Q", &e->sentry, &e->old);
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
		e->old_named = true;
	}
	if (drop_old) {
		sql_build(&b, SQL_MYSQL, "DROP TABLE %Q", &e->old);
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
			"lost the connection; remove triggers %s.%s, %s.%s, %s.%s and tables %s.%s, %s.%s by hand",
			e->orig.schema, e->trg[0].name, e->orig.schema, e->trg[1].name, e->orig.schema,
			e->trg[2].name, e->orig.schema, e->shadow.name, e->orig.schema, e->log.name);
		goto out;
	}
	myeng_rollback(e);
	/* Nothing depends on the shadow or the sentry. */
	sql_build(&b, SQL_MYSQL, "DROP TABLE IF EXISTS %Q", &e->shadow);
	if (myeng_run_buf(e, &b, err) != 0)
		goto out;
	e->shadow_created = false;
	if (e->sentry_created) {
		sql_build(&b, SQL_MYSQL, "DROP TABLE IF EXISTS %Q", &e->sentry);
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
			sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &e->trg[i]);
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
	sql_build(&b, SQL_MYSQL, "DROP TABLE IF EXISTS %Q", &e->log);
	if (myeng_run_buf(e, &b, err) != 0)
		goto out;
	e->log_created = false;
	rc = 0;
out:
	buf_free(&b);
	return rc;
}
