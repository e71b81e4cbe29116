/*
 * engine/pg/dryrun.c - --dry-run: the plan of a run and a timed sample,
 * with nothing kept. The plan is listed by the same functions that build
 * a run's statements, so it cannot drift from what a run does.
 */
#include "pgsql.h"

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
	double t0;
	int rc = -1;

	e->plan = &out->plan;
	if (pgsql_exec_run(e, "BEGIN", err) != 0 || pgsql_exec_set_lock_timeout(e, err) != 0 ||
	    pgsql_shadow_build(e, alter_body, alter, err) != 0 ||
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
		t0 = now_seconds();
		if (pgsql_copy_chunk(e, NULL, &max, sample_rows, &upper, &out->sample_rows, &last,
				     err) != 0)
			goto out;
		out->sample_seconds = now_seconds() - t0;
	}
	/* The key, the apply, then the other indexes (indexes.c). */
	if (out->sample_skipped)
		pgsql_indexes_plan(e, 'p');
	else if (pgsql_indexes_build_key(e, err) != 0)
		goto out;
	strlist_push(e->plan, "BEGIN ISOLATION LEVEL REPEATABLE READ");
	strlist_push(e->plan, e->sql_take_keys);
	strlist_push(e->plan, e->sql_apply_delete);
	strlist_push(e->plan, e->sql_apply_insert);
	strlist_push(e->plan, "COMMIT");
	if (out->sample_skipped) {
		pgsql_indexes_plan(e, 'u');
		pgsql_indexes_plan(e, 'i');
	} else if (pgsql_indexes_build_rest(e, err) != 0) {
		goto out;
	}
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
	rc = 0;
out:
	e->plan = NULL;
	pgsql_exec_reset_txn(e);  /* the rollback: nothing of this stays */
	strlist_free(&pre);
	strlist_free(&trg);
	strlist_free(&tail);
	keyval_free(&max);
	keyval_free(&upper);
	buf_free(&b);
	return rc;
}
