/*
 * engine/pg/dryrun.c - --dry-run: the plan of a run and a timed sample,
 * with nothing kept. The plan is listed by the same functions that build
 * a run's statements, so it cannot drift from what a run does.
 */
#include "pgsql.h"

#include <stdio.h>

/* Change-log rows the sampled apply takes (one batch of a run's size). */
#define PGSQL_DRYRUN_APPLY_ROWS 2000

/*
 * After the sample's index builds (begun at t0): their time, the WAL the
 * copy and the builds wrote since wal0, then a sampled apply, which comes
 * after them so that the apply pays for every index, as in catch-up.
 * With wal_level minimal a table created in its own transaction writes no
 * WAL, in the dry run as in a run: then so be it, and said.
 */
static int WARN_UNUSED
pgsql_dryrun_measured(struct eng *e, double t0, long long wal0, struct dry_run_report *out,
		      struct shade_err *err)
{
	long long wal1;

	out->index_seconds = now_seconds() - t0;
	out->analyze_seconds = e->analyze_seconds;
	if (pgsql_drysample_wal(e, &wal1, err) != 0)
		return -1;
	if (wal0 >= 0 && wal1 >= wal0) {
		out->log_bytes = wal1 - wal0;
		out->log_note = xstrdup("the WAL the sample's copy and index builds wrote, scaled "
					"to the table; other sessions' WAL meanwhile included");
	}
	return pgsql_drysample_apply(e, PGSQL_DRYRUN_APPLY_ROWS, out, err);
}

/*
 * T's write rate: its counters read again, outside the transaction, at
 * least ENGINE_WRITE_WINDOW after the first reading (the dry run's own
 * work counts towards the window; it writes only to the shadow).
 */
static int WARN_UNUSED
pgsql_dryrun_write_rate(struct eng *e, long long writes0, double w0, struct dry_run_report *out,
			struct shade_err *err)
{
	long long writes1;
	double left = ENGINE_WRITE_WINDOW - (now_seconds() - w0);

	if (left > 0) {
		char secs[32];
		const char *params[1] = {secs};

		snprintf(secs, sizeof(secs), "%.3f", left);
		if (pgsql_exec(e, "SELECT pg_catalog.pg_sleep($1::float8)", 1, params, NULL, err) != 0)
			return -1;
		out->write_waited = left;
	}
	if (pgsql_drysample_writes(e, &writes1, err) != 0)
		return -1;
	out->write_window = now_seconds() - w0;
	if (writes0 >= 0 && writes1 >= writes0 && out->write_window > 0)
		out->write_rate = (double)(writes1 - writes0) / out->write_window;
	return 0;
}

/*
 * Everything a run would do, in a transaction that is rolled back: the
 * shadow and the ALTER for real (so the server checks them), a sample copy
 * timed on it, the indexes built on the sample as a run builds them. What would lock T
 * (the triggers, the swap) is only listed, never run.
 */
int
pgsql_dryrun(struct eng *e, const char *alter_body, const struct alter_info *alter,
	      long sample_rows, struct dry_run_report *out, struct shade_err *err)
{
	struct strlist pre = {0}, trg = {0}, tail = {0};
	struct keyval max = {0}, upper = {0};
	struct buf b = {0};
	bool empty = true, last;
	long long writes0 = -1, wal0 = -1;
	double t0, w0;
	int rc = -1;

	out->write_rate = -1;
	out->log_bytes = -1;
	if (pgsql_drysample_writes(e, &writes0, err) != 0)
		goto out;
	w0 = now_seconds();
	e->plan = &out->plan;
	if (pgsql_exec_run(e, "BEGIN", err) != 0 || pgsql_exec_set_lock_timeout(e, err) != 0 ||
	    pgsql_shadow_build(e, alter_body, alter, err) != 0 ||
	    pgsql_instant_check(e, alter, e->shadow_text, &out->instant, &out->instant_why,
				err) != 0 ||
	    pgsql_capture_statements(e, &pre, &trg, err) != 0)
		goto out;
	pgsql_exec_plan_list(e, &pre);
	pgsql_exec_plan_list(e, &trg);
	strlist_push(e->plan, e->sql_copy);

	/*
	 * With foreign keys the transaction holds a lock on the referenced
	 * tables that blocks their writers: keep it to milliseconds, no sample.
	 */
	out->sample_skipped = e->t_fks.len > 0;
	if (out->sample_skipped)
		out->sample_note = xstrdup("the shadow's foreign keys would lock the tables they "
					   "reference for as long as the dry run's transaction");
	if (!out->sample_skipped && pgsql_copy_bounds(e, &max, &empty, err) != 0)
		goto out;
	if (!empty) {
		if (pgsql_drysample_wal(e, &wal0, err) != 0)
			goto out;
		t0 = now_seconds();
		if (pgsql_copy_chunk(e, NULL, &max, sample_rows, &upper, &out->sample_rows, &last,
				     err) != 0)
			goto out;
		out->sample_seconds = now_seconds() - t0;
	}
	/* The key, the apply, then the other indexes (indexes.c). */
	t0 = now_seconds();
	if (out->sample_skipped)
		pgsql_indexes_plan(e, 'p');
	else if (pgsql_indexes_build_key(e, err) != 0)
		goto out;
	strlist_push(e->plan, "BEGIN ISOLATION LEVEL REPEATABLE READ");
	strlist_push(e->plan, e->sql_take_keys);
	strlist_push(e->plan, e->apply_upsert ? e->sql_apply_gone : e->sql_apply_delete);
	strlist_push(e->plan, e->apply_upsert ? e->sql_apply_upsert : e->sql_apply_insert);
	strlist_push(e->plan, "COMMIT");
	if (out->sample_skipped) {
		pgsql_indexes_plan(e, 'u');
		pgsql_indexes_plan(e, 'i');
	} else if (pgsql_indexes_build_rest(e, err) != 0) {
		goto out;
	}
	if (!empty && out->sample_rows > 0 &&
	    pgsql_dryrun_measured(e, t0, wal0, out, err) != 0)
		goto out;
	pgsql_swap_lock_statement(e, &b);
	strlist_push_take(e->plan, buf_take(&b));
	pgsql_carry_fingerprint_query(&b);
	strlist_push_take(e->plan, buf_take(&b));
	if (e->identity.len > 0)
		strlist_push(e->plan, pgsql_carry_setval_sql);
	if (pgsql_carry_swap_statements(e, &tail, err) != 0)
		goto out;
	pgsql_exec_plan_list(e, &tail);
	strlist_free(&tail);
	pgsql_exec_plan_list(e, &e->post_swap);
	pgsql_cleanup_statements(e, false, &tail);
	pgsql_exec_plan_list(e, &tail);
	e->plan = NULL;
	pgsql_exec_reset_txn(e);  /* the rollback: nothing of this stays */
	if (pgsql_dryrun_write_rate(e, writes0, w0, out, err) != 0 ||
	    pgsql_drywarn(e, &out->warnings, err) != 0)
		goto out;
	rc = 0;
out:
	e->plan = NULL;
	pgsql_exec_reset_txn(e);
	strlist_free(&pre);
	strlist_free(&trg);
	strlist_free(&tail);
	keyval_free(&max);
	keyval_free(&upper);
	buf_free(&b);
	return rc;
}
