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

/* Make the new table's AUTO_INCREMENT continue where T's stands. */
int WARN_UNUSED
myeng_carry_auto_increment(struct eng *e, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	struct buf b = {0};
	long long t_next = -1, s_next = -1;
	int rc = -1;

	myeng_param_str(&p, e->orig.schema);
	myeng_param_str(&p, e->orig.name);
	myeng_param_str(&p, e->shadow.name);
	if (myeng_query(e,
			"SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES"
			" WHERE TABLE_SCHEMA = ? AND BINARY TABLE_NAME IN (?, ?)",
			&p, &res, err) != 0)
		goto out;
	for (size_t i = 0; i < res.nrows; i++) {
		long long v = myeng_cell(&res, i, 1) ? strtoll(myeng_text(&res, i, 1), NULL, 10) : -1;

		if (strcmp(myeng_text(&res, i, 0), e->orig.name) == 0)
			t_next = v;
		else
			s_next = v;
	}
	if (t_next > 0 && s_next >= 0 && t_next > s_next) {
		sql_build(&b, SQL_MYSQL, "ALTER TABLE %Q AUTO_INCREMENT = %l", &e->shadow, t_next);
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
char *
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
int WARN_UNUSED
myeng_carry_create_trigger(struct eng *e, const struct myeng_trigger *t, const char *name,
			   const struct qname *table, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct shade_err ignored = {0};
	char *sql = myeng_carry_trigger_sql(e, t, name, table);
	int rc = -1;

	myeng_param_str(&p, t->sql_mode);
	if (myeng_query(e, "SET SESSION sql_mode = ?", &p, NULL, err) == 0 &&
	    myeng_run(e, sql, err) == 0)
		rc = 0;
	if (myeng_run(e, "SET SESSION sql_mode = '" MYENG_SQL_MODE "'", rc ? &ignored : err) != 0)
		rc = -1;
	err_clear(&ignored);
	myeng_params_free(&p);
	free(sql);
	return rc;
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

		sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &q);
		rc = myeng_run_buf(e, &b, &ignored);
		err_clear(&ignored);
		if (rc != 0)
			break;
		e->utrg_on_shadow--;
	}
	buf_free(&b);
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
		sql_build(&b, SQL_MYSQL, "LOCK TABLES %Q WRITE, %Q WRITE", &e->orig, old);
		if (myeng_run_buf(e, &b, err) == 0)
			break;
		if (!err->retryable || (pause = backoff_next(&bo)) < 0)
			goto fail;
		dbwait_sleep(e->w, pause);
	}
	for (size_t i = 0; i < e->nutrg; i++) {
		const struct myeng_trigger *t = &e->utrg[i];
		struct qname name = {e->orig.schema, t->name}, tmp = {e->orig.schema, t->tmp};

		sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &name);
		if (myeng_run_buf(e, &b, err) != 0 ||
		    myeng_carry_create_trigger(e, t, t->name, &e->orig, err) != 0)
			goto unlock;
		sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &tmp);
		if (myeng_run_buf(e, &b, err) != 0)
			goto unlock;
	}
	if (myeng_run(e, "UNLOCK TABLES", err) != 0)
		goto fail;
	e->utrg_named = true;
	rc = 0;
	goto out;
unlock:
	{
		struct shade_err ignored = {0};

		if (myeng_run(e, "UNLOCK TABLES", &ignored) != 0) {
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
