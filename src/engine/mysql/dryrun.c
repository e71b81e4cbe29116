/*
 * engine/mysql/dryrun.c - --dry-run. DDL cannot be rolled back on MySQL,
 * so the shadow is a TEMPORARY table, which only this session sees and
 * which goes with the session.
 *
 * The plan is what the real code sends, never a second copy of it: while
 * e->plan is set, myeng_exec records every statement the main connection
 * runs (the shadow, the ALTER, the index deferral, the sample copy, the
 * index build, and the catalog reads among them), and for the steps that
 * would touch T (the capture, the swap, the cleanup) the file that runs
 * them lists them with its myeng_<file>_plan function, from the same
 * builders its real path uses.
 */
#include <stdlib.h>

#include "myeng.h"

void
myeng_dryrun_add(struct eng *e, const char *comment, const char *sql)
{
	if (comment)
		strlist_push_take(e->plan, xasprintf("/* %s */ %s", comment, sql));
	else
		strlist_push(e->plan, sql);
}

void
myeng_dryrun_take(struct eng *e, const char *comment, char *sql)
{
	myeng_dryrun_add(e, comment, sql);
	free(sql);
}

/* Change-log rows the sampled apply takes (one batch of a run's size). */
#define MYENG_DRYRUN_APPLY_ROWS 2000

/* The sample: the real copy statements, into the temporary shadow. */
static int WARN_UNUSED
myeng_dryrun_sample(struct eng *e, long sample_rows, struct dry_run_report *out, bool *sampled,
		    struct shade_err *err)
{
	struct keyval max = {0}, upper = {0};
	bool empty = true, last;
	double t0;
	int rc = -1;

	*sampled = false;
	if (myeng_copy_bounds(e, &max, &empty, err) != 0)
		goto out;
	if (!empty) {
		t0 = now_seconds();
		if (myeng_copy_chunk(e, NULL, &max, sample_rows, &upper, &out->sample_rows, &last,
				     err) != 0)
			goto out;
		out->sample_seconds = now_seconds() - t0;
		*sampled = true;
	}
	rc = 0;
out:
	keyval_free(&max);
	keyval_free(&upper);
	return rc;
}

/*
 * The dry run: the server checks the ALTER on a TEMPORARY shadow under the
 * shadow's name, a sample is copied into it with the real copy statements,
 * the deferred indexes are built on the sample, and it goes with the
 * session. Nobody else sees it. What would touch T (the triggers, the swap)
 * is only listed, never run, in the order a run sends it.
 */
int
myeng_dryrun(struct eng *e, const char *alter_body, const struct alter_info *alter,
	     long sample_rows, struct dry_run_report *out, struct shade_err *err)
{
	struct buf b = {0};
	bool sampled = false;
	double t0;
	int rc = -1;

	out->log_bytes = -1;
	e->plan = &out->plan;
	/* The ALTER first: bad input is said at once, as --execute says it. */
	if (myeng_shadow_build(e, true, alter_body, alter, err) != 0 ||
	    myeng_drysample_writes(e, out, err) != 0)
		goto out;
	myeng_capture_plan(e);
	if (myeng_dryrun_sample(e, sample_rows, out, &sampled, err) != 0)
		goto out;
	myeng_copy_plan(e, sampled);
	myeng_apply_plan(e, "between chunks, apply the change log");
	t0 = now_seconds();
	if (myeng_shadow_build_indexes(e, err) != 0)
		goto out;
	/* After the builds, so that the apply pays for every index, as in catch-up. */
	if (sampled) {
		out->index_seconds = now_seconds() - t0;
		out->analyze_seconds = e->analyze_seconds;
		if (myeng_drysample_apply(e, MYENG_DRYRUN_APPLY_ROWS, out, err) != 0)
			goto out;
	}
	if (myeng_drysample_binlog(e, out, err) != 0 || myeng_drywarn(e, &out->warnings, err) != 0)
		goto out;
	myeng_swap_plan(e);
	myeng_cleanup_plan_finish(e);
	rc = 0;
out:
	/* The temporary shadow goes now: no part of a run. */
	e->plan = NULL;
	if (e->shadow_temporary) {
		struct shade_err ignored = {0};

		sql_build(&b, SQL_MYSQL, "DROP TEMPORARY TABLE IF EXISTS %Q", &e->shadow);
		if (myeng_run_buf(e, &b, &ignored) == 0)
			e->shadow_temporary = false;
		err_clear(&ignored);
	}
	/* With the temporary shadow gone, its name is free for the probe. */
	if (rc == 0 && !e->shadow_temporary &&
	    myeng_instant_probe(e, alter_body, &out->instant, &out->instant_why, err) != 0)
		rc = -1;
	buf_free(&b);
	return rc;
}
