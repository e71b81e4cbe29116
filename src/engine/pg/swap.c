/*
 * engine/pg/swap.c - the swap: the shadow takes T's name.
 *
 * One transaction with lock_timeout: LOCK TABLE T IN ACCESS EXCLUSIVE MODE,
 * drain the change log, then the statements carry.c builds (drop the
 * capture triggers, rename T to _T_old and the shadow to T, carry over what
 * belongs to T). A lock timeout rolls everything back and is retried by
 * the caller.
 *
 * Every writer of T queues behind the lock for as long as the swap holds
 * it, so nothing that can be done before is done under it: the catalog is
 * read and the statements are built first, and under the lock one query
 * checks that what they were built from has not changed meanwhile.
 */
#include "pgsql.h"

#include <stdlib.h>
#include <string.h>

/* The statement that takes the swap's lock. */
void
pgsql_swap_lock_statement(struct eng *e, struct buf *b)
{
	sql_build(b, SQL_PG, "LOCK TABLE %Q IN ACCESS EXCLUSIVE MODE", &e->orig);
}

/*
 * Under the lock: is the catalog still what the statements were built
 * from? If not (a trigger, a view, a policy ... changed while shade waited
 * for the lock), the attempt is retryable: the caller's next attempt reads
 * it again.
 */
static int WARN_UNUSED
pgsql_swap_check_catalog(struct eng *e, const char *before, struct shade_err *err)
{
	char *now = NULL;
	int rc = -1;

	if (pgsql_carry_fingerprint(e, &now, err) != 0)
		goto out;
	if (strcmp(now, before) != 0) {
		err_set(err, SHADE_FAILED,
			"the table's catalog changed while shade waited for its lock");
		err->retryable = true;
		goto out;
	}
	rc = 0;
out:
	free(now);
	return rc;
}

int
pgsql_swap(struct eng *e, struct shade_err *err)
{
	struct strlist tail = {0};
	struct buf b = {0};
	char *before = NULL;
	long long applied;
	int rc = -1;

	/*
	 * The fingerprint first, then the statements: a change that lands
	 * between the two, even one the statements already reflect, shows as
	 * a difference under the lock and costs one more attempt, never a
	 * statement built from a catalog that no longer holds.
	 */
	if (pgsql_carry_fingerprint(e, &before, err) != 0 ||
	    pgsql_carry_swap_statements(e, &tail, err) != 0)
		goto fail;
	if (pgsql_exec_run(e, "BEGIN", err) != 0 || pgsql_exec_set_lock_timeout(e, err) != 0 ||
	    pgsql_exec_run(e, "SET CONSTRAINTS ALL IMMEDIATE", err) != 0)
		goto fail;
	/*
	 * From here no writer can touch T, and every writer that did has
	 * committed (it held a lock we waited for): draining the log now
	 * leaves shadow = transform(T) for every key. T and its log stand
	 * still, so each statement sees the one state the apply's release
	 * argument needs (apply.c).
	 */
	pgsql_swap_lock_statement(e, &b);
	if (pgsql_exec_run_buf(e, &b, err) != 0) {
		/* Out of the failed transaction, then: who holds T? */
		pgsql_exec_reset_txn(e);
		pgsql_blockers_append(e, PGSQL_CONFLICTS_ACCESS_EXCLUSIVE, err);
		goto fail;
	}
	if (pgsql_swap_check_catalog(e, before, err) != 0)
		goto fail;
	do {
		if (pgsql_apply_in_txn(e, 10000, &applied, err) != 0)
			goto fail;
	} while (applied > 0);
	/* The apply's index on T's key, where the ALTER changes it (indexes.c). */
	if (e->key_index) {
		struct qname ki = {e->shadow.schema, e->key_index};

		sql_build(&b, SQL_PG, "DROP INDEX %Q", &ki);
		if (pgsql_exec_run_buf(e, &b, err) != 0)
			goto fail;
	}
	/* With the swap, nothing is left to resume: the state goes with it. */
	sql_build(&b, SQL_PG, "DROP TABLE %Q", &e->state);
	if (pgsql_carry_identity(e, err) != 0 || pgsql_exec_run_list(e, &tail, err) != 0 ||
	    pgsql_exec_run_buf(e, &b, err) != 0 || pgsql_exec_run(e, "COMMIT", err) != 0)
		goto fail;
	e->capture_created = false;
	rc = 0;
	goto out;
fail:
	pgsql_exec_reset_txn(e);
out:
	free(before);
	strlist_free(&tail);
	buf_free(&b);
	return rc;
}
