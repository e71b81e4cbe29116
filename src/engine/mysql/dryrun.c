/*
 * engine/mysql/dryrun.c - --dry-run. DDL cannot be rolled back on MySQL,
 * so the shadow is a TEMPORARY table, which only this session sees and
 * which goes with the session.
 */
#include <stdlib.h>

#include "myeng.h"

static void
myeng_plan(struct dry_run_report *out, const char *comment, const char *sql)
{
	if (comment)
		strlist_push_take(&out->plan, xasprintf("/* %s */ %s", comment, sql));
	else
		strlist_push(&out->plan, sql);
}

static void
myeng_plan_take(struct dry_run_report *out, const char *comment, char *sql)
{
	myeng_plan(out, comment, sql);
	free(sql);
}

/*
 * The dry run. DDL cannot be rolled back on MySQL, so the shadow is a
 * TEMPORARY table under the shadow's name: the server checks the ALTER on
 * it, a sample is copied into it with the real copy statements, the
 * deferred indexes are built on the sample, and it goes with the session.
 * Nobody else sees it. What would touch T (the triggers, the swap) is only
 * listed, never run.
 */
int
myeng_dryrun(struct eng *e, const char *alter_body, const struct alter_info *alter,
	     long sample_rows, struct dry_run_report *out, struct shade_err *err)
{
	struct keyval max = {0}, upper = {0};
	struct buf b = {0};
	char *sql[3], *log_sql;
	bool empty = true, last;
	double t0;
	int rc = -1;

	if (myeng_shadow_build(e, true, alter_body, alter, err) != 0)
		goto out;
	sql_build(&b, SQL_MYSQL, "CREATE TABLE %Q LIKE %Q", &e->shadow, &e->orig);
	myeng_plan_take(out, NULL, buf_take(&b));
	sql_build(&b, SQL_MYSQL, "ALTER TABLE %Q %A", &e->shadow, alter_body);
	myeng_plan_take(out, NULL, buf_take(&b));
	if (e->deferred.len > 0) {
		sql_build(&b, SQL_MYSQL, "ALTER TABLE %Q ", &e->shadow);
		for (size_t i = 0; i < e->deferred.len; i++) {
			char *name = myeng_shadow_index_name(e->deferred.items[i]);

			sql_build(&b, SQL_MYSQL, "%sDROP INDEX %I", i ? ", " : "", name);
			free(name);
		}
		if (e->ai_key)
			buf_append(&b, ", ADD KEY ...");
		myeng_plan_take(out, "set the secondary indexes aside", buf_take(&b));
	}

	myeng_capture_sql(e, &log_sql, sql);
	myeng_plan_take(out, NULL, log_sql);
	sql_build(&b, SQL_MYSQL, "LOCK TABLES %Q WRITE, %Q WRITE", &e->orig, &e->log);
	myeng_plan_take(out, NULL, buf_take(&b));
	for (size_t i = 0; i < ARRAY_LEN(sql); i++)
		myeng_plan_take(out, NULL, sql[i]);
	myeng_plan(out, NULL, "UNLOCK TABLES");

	myeng_plan(out, "the largest key", e->sql_max);
	myeng_plan(out, "each chunk: the keyset probe", e->sql_probe_first);
	myeng_plan(out, NULL, e->sql_copy_first);
	myeng_plan(out, "the next chunks", e->sql_probe_next);
	myeng_plan(out, NULL, e->sql_copy_next);
	myeng_plan(out, "between chunks, apply the change log", "START TRANSACTION");
	myeng_plan_take(out, NULL, myeng_apply_take_sql(e));
	myeng_apply_sql(e, 3, sql);
	for (size_t i = 0; i < ARRAY_LEN(sql); i++)
		myeng_plan_take(out, i == 0 ? "one ? per log row read" : NULL, sql[i]);
	myeng_plan(out, NULL, "COMMIT");

	/* The sample: the real copy statements, into the temporary shadow. */
	if (myeng_copy_bounds(e, &max, &empty, err) != 0)
		goto out;
	if (!empty) {
		t0 = now_seconds();
		if (myeng_copy_chunk(e, NULL, &max, sample_rows, &upper, &out->sample_rows, &last,
				     err) != 0)
			goto out;
		out->sample_seconds = now_seconds() - t0;
	}
	if (e->deferred.len > 0)
		myeng_plan_take(out, NULL, myeng_shadow_index_sql(e));
	if (myeng_shadow_build_indexes(e, err) != 0)
		goto out;
	sql_build(&b, SQL_MYSQL, "ANALYZE TABLE %Q", &e->shadow);
	myeng_plan_take(out, NULL, buf_take(&b));

	sql_build(&b, SQL_MYSQL,
		  "CREATE TABLE %Q (%I int) ENGINE=InnoDB COMMENT 'shade cut-over sentry'",
		  &e->sentry, "sentry");
	myeng_plan_take(out, "the swap", buf_take(&b));
	sql_build(&b, SQL_MYSQL, "LOCK TABLES %Q READ, %Q WRITE", &e->orig, &e->sentry);
	myeng_plan_take(out, "second connection", buf_take(&b));
	sql_build(&b, SQL_MYSQL, "ALTER TABLE %Q AUTO_INCREMENT = ?", &e->shadow);
	myeng_plan_take(out,
			"main connection: drain the change log (the apply statements above); "
			"then, if T's AUTO_INCREMENT is ahead, its value",
			buf_take(&b));
	for (size_t i = 0; i < e->nutrg; i++)
		myeng_plan_take(out, i == 0 ? "T's own triggers, on the shadow under temporary names" : NULL,
				myeng_carry_trigger_sql(e, &e->utrg[i], e->utrg[i].tmp,
							&e->shadow));
	sql_build(&b, SQL_MYSQL, "RENAME TABLE %Q TO %Q, %Q TO %Q", &e->orig, &e->sentry,
		  &e->shadow, &e->orig);
	myeng_plan_take(out, "third connection: queues behind the lock", buf_take(&b));
	sql_build(&b, SQL_MYSQL, "DROP TABLE %Q", &e->sentry);
	myeng_plan_take(out, "second connection, once the RENAME waits", buf_take(&b));
	myeng_plan(out, "second connection: the RENAME runs first", "UNLOCK TABLES");
	sql_build(&b, SQL_MYSQL, "RENAME TABLE %Q TO %Q", &e->sentry, &e->old);
	myeng_plan_take(out, "cleanup", buf_take(&b));
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++) {
		sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &e->trg[i]);
		myeng_plan_take(out, NULL, buf_take(&b));
	}
	if (e->nutrg > 0) {
		sql_build(&b, SQL_MYSQL, "LOCK TABLES %Q WRITE, %Q WRITE", &e->orig, &e->old);
		myeng_plan_take(out, "T's own triggers get their names back", buf_take(&b));
		for (size_t i = 0; i < e->nutrg; i++) {
			struct qname name = {e->orig.schema, e->utrg[i].name};
			struct qname tmp = {e->orig.schema, e->utrg[i].tmp};

			sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &name);
			myeng_plan_take(out, NULL, buf_take(&b));
			myeng_plan_take(out, NULL,
					myeng_carry_trigger_sql(e, &e->utrg[i], e->utrg[i].name,
								&e->orig));
			sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &tmp);
			myeng_plan_take(out, NULL, buf_take(&b));
		}
		myeng_plan(out, NULL, "UNLOCK TABLES");
	}
	sql_build(&b, SQL_MYSQL, "DROP TABLE IF EXISTS %Q", &e->log);
	myeng_plan_take(out, NULL, buf_take(&b));
	rc = 0;
out:
	if (e->shadow_temporary) {
		struct shade_err ignored = {0};

		sql_build(&b, SQL_MYSQL, "DROP TEMPORARY TABLE IF EXISTS %Q", &e->shadow);
		if (myeng_run_buf(e, &b, &ignored) == 0)
			e->shadow_temporary = false;
		err_clear(&ignored);
	}
	keyval_free(&max);
	keyval_free(&upper);
	buf_free(&b);
	return rc;
}
