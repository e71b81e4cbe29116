/*
 * engine/pg/swap.c - the swap: the shadow takes T's name.
 *
 * One transaction with lock_timeout: LOCK TABLE T IN ACCESS EXCLUSIVE MODE,
 * drain the change log, then the statements carry.c builds (drop the
 * capture triggers, rename T to _T_old and the shadow to T, carry over what
 * belongs to T). A lock timeout rolls everything back and is retried by
 * the caller.
 */
#include "pgsql.h"

/* The statement that takes the swap's lock. */
void
pgsql_swap_lock_statement(struct eng *e, struct buf *b)
{
	sql_build(b, SQL_PG, "LOCK TABLE %Q IN ACCESS EXCLUSIVE MODE", &e->orig);
}

int
pgsql_swap(struct eng *e, struct shade_err *err)
{
	struct strlist tail = {0};
	struct buf b = {0};
	long long applied;
	int rc = -1;

	if (pgsql_exec_run(e, "BEGIN", err) != 0 || pgsql_exec_set_lock_timeout(e, err) != 0)
		goto fail;
	/*
	 * From here no writer can touch T, and every writer that did has
	 * committed (it held a lock we waited for): draining the log now
	 * leaves shadow = transform(T) for every key.
	 */
	pgsql_swap_lock_statement(e, &b);
	if (pgsql_exec_run_buf(e, &b, err) != 0)
		goto fail;
	do {
		if (pgsql_apply_in_txn(e, 10000, &applied, err) != 0)
			goto fail;
	} while (applied > 0);
	if (pgsql_carry_identity(e, err) != 0 || pgsql_carry_swap_statements(e, &tail, err) != 0 ||
	    pgsql_exec_run_list(e, &tail, err) != 0 || pgsql_exec_run(e, "COMMIT", err) != 0)
		goto fail;
	e->capture_created = false;
	rc = 0;
	goto out;
fail:
	pgsql_exec_reset_txn(e);
out:
	strlist_free(&tail);
	buf_free(&b);
	return rc;
}
