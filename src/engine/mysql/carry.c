/*
 * engine/mysql/carry.c - what the RENAME would leave behind on the old
 * table, carried over to the new one: T's own triggers (on the shadow under
 * temporary names before the swap, under their own names right after it)
 * and the AUTO_INCREMENT counter.
 */
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "myeng.h"

/* The AUTO_INCREMENT of T and of the shadow (bound: db, T, shadow). */
static const char sql_auto_increment[] =
	"SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES"
	" WHERE TABLE_SCHEMA = ? AND BINARY TABLE_NAME IN (?, ?)";

/* A trigger is created under its own sql_mode (bound), then ours again. */
static const char sql_mode_set[] = "SET SESSION sql_mode = ?";

/*
 * ALTER TABLE shadow AUTO_INCREMENT = next. next < 0 writes a ?: the dry
 * run's plan, which cannot know the value the swap will read.
 */
static void
myeng_auto_increment_sql(struct buf *b, const struct eng *e, long long next)
{
	if (next < 0)
		sql_build(b, SQL_MYSQL, "ALTER TABLE %Q AUTO_INCREMENT = ?", &e->shadow);
	else
		sql_build(b, SQL_MYSQL, "ALTER TABLE %Q AUTO_INCREMENT = %l", &e->shadow, next);
}

/*
 * Make the new table's AUTO_INCREMENT continue where T's stands. A column
 * the ALTER made AUTO_INCREMENT that no column of T fills has no counter
 * on T to continue: the plain ALTER numbers the rows and leaves the counter
 * right after the largest number (or where the ALTER set it, if higher),
 * while INSERT ... SELECT reserves numbers in batches and leaves it further
 * on. A counter set at or below the largest number in the column becomes
 * that number plus one, so setting the shadow's counter from before the
 * copy gives the plain ALTER's.
 */
int WARN_UNUSED
myeng_carry_auto_increment(struct eng *e, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	struct buf b = {0};
	long long t_next = -1, s_next = -1;
	int rc = -1;

	if (e->ai_new) {
		myeng_auto_increment_sql(&b, e, e->ai_start);
		rc = myeng_run_buf(e, &b, err);
		goto out;
	}
	myeng_param_str(&p, e->orig.schema);
	myeng_param_str(&p, e->orig.name);
	myeng_param_str(&p, e->shadow.name);
	if (myeng_query(e, sql_auto_increment, &p, &res, err) != 0)
		goto out;
	for (size_t i = 0; i < res.nrows; i++) {
		long long v = myeng_cell(&res, i, 1) ? strtoll(myeng_text(&res, i, 1), NULL, 10) : -1;

		if (strcmp(myeng_text(&res, i, 0), e->orig.name) == 0)
			t_next = v;
		else
			s_next = v;
	}
	if (t_next > 0 && s_next >= 0 && t_next > s_next) {
		myeng_auto_increment_sql(&b, e, t_next);
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
	}
	rc = 0;
out:
	myeng_params_free(&p);
	myeng_res_free(&res);
	buf_free(&b);
	return rc;
}

/* CREATE TRIGGER for one of T's own triggers, named name on table. */
static char *
myeng_carry_trigger_sql(const struct eng *e, const struct myeng_trigger *t, const char *name,
			const struct qname *table)
{
	struct qname q = {e->orig.schema, (char *)name};
	struct buf b = {0};

	sql_build(&b, SQL_MYSQL, "CREATE DEFINER=%s TRIGGER %Q %s %s ON %Q FOR EACH ROW %s",
		  t->definer, &q, t->timing, t->event, table, t->body);
	return buf_take(&b);
}

/* Create it under the sql_mode it was created with; then back to ours. */
static int WARN_UNUSED
myeng_carry_create_trigger(struct eng *e, const struct myeng_trigger *t, const char *name,
			   const struct qname *table, struct shade_err *err)
{
	struct myeng_params p = {0}, ours = {0};
	struct shade_err ignored = {0};
	char *sql = myeng_carry_trigger_sql(e, t, name, table);
	int rc = -1;

	myeng_param_str(&p, t->sql_mode);
	myeng_param_str(&ours, e->sql_mode);
	if (myeng_query(e, sql_mode_set, &p, NULL, err) == 0 && myeng_run(e, sql, err) == 0)
		rc = 0;
	if (myeng_query(e, sql_mode_set, &ours, NULL, rc ? &ignored : err) != 0)
		rc = -1;
	err_clear(&ignored);
	myeng_params_free(&p);
	myeng_params_free(&ours);
	free(sql);
	return rc;
}

/*
 * T's own triggers on the shadow, under their temporary names; one that an
 * earlier attempt created is not created again.
 */
int WARN_UNUSED
myeng_carry_triggers_to_shadow(struct eng *e, struct shade_err *err)
{
	for (; e->utrg_on_shadow < e->nutrg; e->utrg_on_shadow++) {
		const struct myeng_trigger *t = &e->utrg[e->utrg_on_shadow];

		if (myeng_carry_create_trigger(e, t, t->tmp, &e->shadow, err) != 0)
			return -1;
	}
	return 0;
}

/* Drop the copies of T's triggers from the shadow (a swap that failed). */
void
myeng_carry_drop_shadow_triggers(struct eng *e)
{
	struct buf b = {0};

	while (e->utrg_on_shadow > 0) {
		struct myeng_trigger *t = &e->utrg[e->utrg_on_shadow - 1];
		struct qname q = {e->orig.schema, t->tmp};
		struct shade_err ignored = {0};
		int rc;

		myeng_cleanup_drop_trigger_sql(&b, &q);
		rc = myeng_run_buf(e, &b, &ignored);
		err_clear(&ignored);
		if (rc != 0)
			break;
		e->utrg_on_shadow--;
	}
	buf_free(&b);
}

/* LOCK TABLES T WRITE, old WRITE: the trigger restore's lock. */
static void
myeng_restore_lock_sql(struct buf *b, const struct eng *e, const struct qname *old)
{
	sql_build(b, SQL_MYSQL, "LOCK TABLES %Q WRITE, %Q WRITE", &e->orig, old);
}

/*
 * After the swap T's own triggers run on the new table under their
 * temporary names (the old table had their names). Give them their names
 * back: under a brief LOCK TABLES, so that no write passes while a trigger
 * is being replaced, drop each from the old table, create it on T, drop the
 * temporary one; the firing order stays. Retried like any lock.
 */
int WARN_UNUSED
myeng_carry_restore_triggers(struct eng *e, struct shade_err *err)
{
	const struct qname *old = e->old_named ? &e->old : &e->sentry;
	struct backoff bo;
	struct buf b = {0};
	int rc = -1;

	backoff_init(&bo, 0.25, 4, e->opts->lock_retries > 10 ? e->opts->lock_retries : 10);
	for (;;) {
		double pause;

		err_clear(err);
		myeng_restore_lock_sql(&b, e, old);
		if (myeng_run_buf(e, &b, err) == 0)
			break;
		if (!err->retryable || (pause = backoff_next(&bo)) < 0)
			goto fail;
		dbwait_sleep(e->w, pause);
	}
	for (size_t i = 0; i < e->nutrg; i++) {
		const struct myeng_trigger *t = &e->utrg[i];
		struct qname name = {e->orig.schema, t->name}, tmp = {e->orig.schema, t->tmp};

		myeng_cleanup_drop_trigger_sql(&b, &name);
		if (myeng_run_buf(e, &b, err) != 0 ||
		    myeng_carry_create_trigger(e, t, t->name, &e->orig, err) != 0)
			goto unlock;
		myeng_cleanup_drop_trigger_sql(&b, &tmp);
		if (myeng_run_buf(e, &b, err) != 0)
			goto unlock;
	}
	if (myeng_run(e, MYENG_UNLOCK, err) != 0)
		goto fail;
	e->utrg_named = true;
	rc = 0;
	goto out;
unlock:
	{
		struct shade_err ignored = {0};

		if (myeng_run(e, MYENG_UNLOCK, &ignored) != 0) {
			/* The next statement reports the state. */
		}
		err_clear(&ignored);
	}
fail:
	err_prefix(err, SHADE_FAILED,
		   "%s has the new schema and its triggers work, but some still carry the "
		   "temporary names _<name>_shade_tmp: recreate them under their own names: ",
		   e->display);
out:
	buf_free(&b);
	return rc;
}

/* ---- the dry run's plan ------------------------------------------------ */

/* What myeng_carry_auto_increment runs. */
void
myeng_carry_plan_auto_increment(struct eng *e)
{
	struct buf b = {0};

	if (e->ai_new) {
		myeng_auto_increment_sql(&b, e, e->ai_start);
		myeng_dryrun_take(e, "main connection: the new AUTO_INCREMENT column's counter",
				  buf_take(&b));
		return;
	}
	myeng_dryrun_add(e, "main connection: T's AUTO_INCREMENT", sql_auto_increment);
	myeng_auto_increment_sql(&b, e, -1);
	myeng_dryrun_take(e, "if it is ahead of the shadow's", buf_take(&b));
}

/* What myeng_carry_create_trigger runs. */
static void
myeng_plan_trigger(struct eng *e, const char *comment, const struct myeng_trigger *t,
		   const char *name, const struct qname *table)
{
	myeng_dryrun_add(e, comment, sql_mode_set);
	myeng_dryrun_take(e, NULL, myeng_carry_trigger_sql(e, t, name, table));
	myeng_dryrun_add(e, NULL, sql_mode_set);
}

/* What myeng_carry_triggers_to_shadow runs. */
void
myeng_carry_plan_shadow_triggers(struct eng *e)
{
	for (size_t i = 0; i < e->nutrg; i++)
		myeng_plan_trigger(e, i ? NULL : "main connection: T's own triggers on the shadow",
				   &e->utrg[i], e->utrg[i].tmp, &e->shadow);
}

/* What myeng_carry_restore_triggers runs, once the old table is _T_old. */
void
myeng_carry_plan_restore(struct eng *e)
{
	struct buf b = {0};

	if (e->nutrg == 0)
		return;
	myeng_restore_lock_sql(&b, e, &e->old);
	myeng_dryrun_take(e, "T's own triggers get their names back", buf_take(&b));
	for (size_t i = 0; i < e->nutrg; i++) {
		const struct myeng_trigger *t = &e->utrg[i];
		struct qname name = {e->orig.schema, t->name}, tmp = {e->orig.schema, t->tmp};

		myeng_cleanup_drop_trigger_sql(&b, &name);
		myeng_dryrun_take(e, NULL, buf_take(&b));
		myeng_plan_trigger(e, NULL, t, t->name, &e->orig);
		myeng_cleanup_drop_trigger_sql(&b, &tmp);
		myeng_dryrun_take(e, NULL, buf_take(&b));
	}
	myeng_dryrun_add(e, NULL, MYENG_UNLOCK);
}
