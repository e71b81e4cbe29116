/*
 * engine/mysql/swap.c - the cut-over.
 *
 * MariaDB refuses RENAME TABLE under LOCK TABLES, and renaming in two
 * ALTER TABLE ... RENAME steps lets a waiting writer find no table in
 * between. So the cut-over is gh-ost's, adapted: one connection locks T
 * (writers queue, readers go on) and the sentry, the main connection drains
 * the log, a third sends RENAME TABLE T TO T_shade_cut, _T_new TO T, which
 * queues behind the lock; the lock holder drops the sentry and unlocks, and
 * the RENAME runs before the queued writers. Details at myeng_swap().
 *
 * The state table (state.c) stays until the cleanup: a run killed at any
 * point before the RENAME is taken up again (a later run takes the sentry
 * over), and the RENAME itself, which makes the shadow T, is what tells a
 * later run that there is nothing to take up.
 */
#include <string.h>

#include "myeng.h"

/* Is the RENAME (its connection id bound) waiting, and for what? */
static const char sql_rename_state[] =
	"SELECT STATE FROM information_schema.PROCESSLIST"
	" WHERE ID = ? AND INFO LIKE 'RENAME TABLE%'";

/* The sentry: a table of the name the RENAME gives T (see myeng_swap). */
static void
myeng_sentry_sql(struct buf *b, const struct eng *e)
{
	sql_build(b, SQL_MYSQL,
		  "CREATE TABLE %Q (%I int) ENGINE=InnoDB COMMENT '" MYENG_SENTRY_COMMENT "'",
		  &e->sentry, "sentry");
}

/*
 * The locker's lock: T for reading (writers queue), the sentry, and the
 * parents of T's foreign keys for reading. A writer of a parent opens its
 * children, the shadow among them once it has T's keys (fk.c): with the
 * parents locked, no such writer holds the shadow, so the RENAME, which
 * locks the shadow first when its name sorts first, cannot wait there.
 */
static void
myeng_lock_sql(struct buf *b, const struct eng *e)
{
	sql_build(b, SQL_MYSQL, "LOCK TABLES %Q READ, %Q WRITE", &e->orig, &e->sentry);
	myeng_fk_lock_sql(b, e);
}

/* The renamer's statement: T becomes the sentry, the shadow T. */
static void
myeng_rename_sql(struct buf *b, const struct eng *e)
{
	sql_build(b, SQL_MYSQL, "RENAME TABLE %Q TO %Q, %Q TO %Q", &e->orig, &e->sentry,
		  &e->shadow, &e->orig);
}

/*
 * Wait until the RENAME sent on the renamer connection is queued behind the
 * locker's lock on T (the server shows it waiting for a metadata lock: T is
 * the only name in it that anybody holds). Returns 1 when it waits, 0 when
 * it is not seen waiting in time or has ended (then it failed: it cannot
 * pass the lock), -1 on error.
 */
static int WARN_UNUSED
myeng_rename_queued(struct eng *e, struct myeng_pending *pd, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	/* Well within the RENAME's own lock_wait_timeout (at least 1 s). */
	double deadline = now_seconds() + 0.8;
	int rc = 0;

	myeng_param_int(&p, (long long)mysql_thread_id(pd->c));
	while (now_seconds() < deadline) {
		if (myeng_query(e, sql_rename_state, &p, &res, err) != 0) {
			rc = -1;
			break;
		}
		if (res.nrows > 0 && strstr(myeng_text(&res, 0, 0), "metadata lock") != NULL) {
			rc = 1;
			break;
		}
		myeng_res_free(&res);
		if (dbwait_fd(e->w, (int)mysql_get_socket(pd->c), DBWAIT_READ, 0.02, true) ==
		    DBWAIT_READY)
			break;
	}
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

/* Run a statement on the locker connection. */
static int WARN_UNUSED
myeng_lock_run(struct eng *e, struct buf *b, struct shade_err *err)
{
	int rc = myeng_exec(e, e->locker, buf_str(b), NULL, NULL, NULL, err);

	buf_reset(b);
	return rc;
}

/* The extra connections and the sentry, before anything is locked. */
static int WARN_UNUSED
myeng_swap_prepare(struct eng *e, struct shade_err *err)
{
	struct buf b = {0};
	int rc = -1;

	if ((e->locker == NULL && myeng_connect(e, &e->locker, true, err) != 0))
		goto out;
	if (e->renamer == NULL) {
		if (myeng_connect(e, &e->renamer, true, err) != 0)
			goto out;
		/*
		 * Renaming a table that children reference waits in InnoDB (not
		 * for a metadata lock) for their transactions that checked rows
		 * of it, holding T: as short a wait as any other of the swap's.
		 */
		sql_build(&b, SQL_MYSQL, "SET SESSION innodb_lock_wait_timeout = %l",
			  (long long)(e->opts->lock_timeout > 1 ? e->opts->lock_timeout + 0.999 : 1));
		if (myeng_exec(e, e->renamer, buf_str(&b), NULL, NULL, NULL, err) != 0)
			goto out;
		buf_reset(&b);
	}
	if (!e->sentry_created) {
		myeng_sentry_sql(&b, e);
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
		e->sentry_created = true;
	}
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

/*
 * Lock the tables referencing T, on the fence (see myeng_fk_fence_sql):
 * their writers queue until the RENAME is done.
 */
static int WARN_UNUSED
myeng_swap_fence(struct eng *e, struct shade_err *err)
{
	struct buf b = {0};
	int rc = -1;

	if (!myeng_fk_fence_sql(&b, e)) {
		rc = 0;
		goto out;
	}
	if (e->fence == NULL && myeng_connect(e, &e->fence, true, err) != 0)
		goto out;
	if (myeng_exec(e, e->fence, buf_str(&b), NULL, NULL, NULL, err) != 0)
		goto out;
	e->fenced = true;
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

/* Unlock the fence; should that fail, closing the connection unlocks. */
static void
myeng_swap_unfence(struct eng *e)
{
	struct shade_err ignored = {0};

	if (!e->fenced)
		return;
	if (myeng_exec(e, e->fence, MYENG_UNLOCK, NULL, NULL, NULL, &ignored) != 0)
		myeng_disconnect(&e->fence);
	err_clear(&ignored);
	e->fenced = false;
}

/*
 * Lock T on the locker, then make the shadow ready to be T: drain the log,
 * carry AUTO_INCREMENT and T's own triggers over.
 */
static int WARN_UNUSED
myeng_swap_lock(struct eng *e, struct shade_err *err)
{
	struct buf b = {0};
	long long applied;
	int rc = -1;

	/*
	 * Once the locker holds T, every transaction that wrote T has ended,
	 * so its log rows are committed and visible; no new ones come. A lock
	 * timeout (lock_wait_timeout) is retried by the caller.
	 */
	myeng_lock_sql(&b, e);
	if (myeng_lock_run(e, &b, err) != 0) {
		myeng_blockers_append(e, MYENG_CONFLICTS_READ, err);
		goto out;
	}
	e->locked = true;
	do {
		if (myeng_apply(e, MYENG_DRAIN_BATCH, &applied, err) != 0)
			goto out;
	} while (applied > 0);
	if (myeng_carry_auto_increment(e, err) != 0)
		goto out;
	/*
	 * T's own triggers, on the shadow under temporary names, now that
	 * nothing writes the shadow any more (they would fire on the copy):
	 * the RENAME takes them along, so no write reaches the new table
	 * without them.
	 */
	if (myeng_carry_triggers_to_shadow(e, err) != 0)
		goto out;
	/*
	 * T's foreign keys, both ways, now that the shadow holds exactly T's
	 * rows and T takes no write (fk.c).
	 */
	if (myeng_fk_to_shadow(e, err) != 0 || myeng_swap_fence(e, err) != 0)
		goto out;
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

/*
 * Once the RENAME waits behind the lock: drop the sentry and unlock, on
 * the locker. From the DROP on, the RENAME runs when the locker lets go.
 */
static int WARN_UNUSED
myeng_swap_release(struct eng *e, struct myeng_pending *pd, struct shade_err *err)
{
	struct buf b = {0};
	int rc = -1;

	switch (myeng_rename_queued(e, pd, err)) {
	case 1:
		break;
	case 0:
		err_set(err, SHADE_FAILED, "the RENAME did not queue behind the lock on %s", e->display);
		err->retryable = true;
		/* FALLTHROUGH */
	default:
		goto out;
	}
	/* The point of no return: the RENAME runs when the locker lets go. */
	myeng_cleanup_drop_table_sql(&b, &e->sentry, false);
	if (myeng_lock_run(e, &b, err) != 0)
		goto out;
	e->sentry_created = false;
	buf_append(&b, MYENG_UNLOCK);
	if (myeng_lock_run(e, &b, err) != 0)
		goto out;
	e->locked = false;
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

/*
 * A swap that failed before its RENAME: the foreign keys go back to T.
 * Should that fail, children would go on referencing the shadow, which no
 * longer follows T: the run must stop (its undo tries again), not retry.
 */
static void
myeng_swap_unshadow(struct eng *e, struct shade_err *err)
{
	struct shade_err ferr = {0};

	if (e->nfk_out == 0 && e->nfk_in == 0)
		return;
	if (myeng_fk_unshadow(e, &ferr) != 0) {
		err_set(err, SHADE_FAILED,
			"the swap of %s failed, and so did putting its foreign keys back: %s",
			e->display, ferr.msg);
		err->retryable = false;
	}
	err_clear(&ferr);
}

/*
 * An attempt failed on the way: end the RENAME (if sent) before the lock
 * goes, unlock, and remove what the attempt made. Returns 0 when the
 * RENAME ran after all: then the swap is done and nothing may fail it.
 */
static int
myeng_swap_abandon(struct eng *e, struct myeng_pending *pd, struct shade_err *err)
{
	struct shade_err ignored = {0};
	struct buf b = {0};
	int rc = -1;

	/* The RENAME must end before the lock goes. */
	if (pd->status) {
		myeng_exec_kill(e, e->renamer);
		if (myeng_exec_finish(e, pd, &ignored) == 0)
			e->swapped = true;  /* it ran after all */
		err_clear(&ignored);
	}
	/*
	 * The foreign keys go back to T while T is still locked: T's writers
	 * must never run while children reference the shadow.
	 */
	myeng_swap_unfence(e);
	if (!e->swapped)
		myeng_swap_unshadow(e, err);
	if (e->locked) {
		buf_append(&b, MYENG_UNLOCK);
		if (myeng_lock_run(e, &b, &ignored) == 0)
			e->locked = false;
		else
			myeng_disconnect(&e->locker);  /* that unlocks too */
		e->locked = false;
		err_clear(&ignored);
	}
	if (e->swapped) {
		/* Past the RENAME nothing may fail the swap. */
		err_clear(err);
		e->shadow_created = false;
		myeng_cleanup_after_swap(e);
		rc = 0;
	} else {
		myeng_carry_drop_shadow_triggers(e);
		if (e->sentry_created) {
			myeng_cleanup_drop_table_sql(&b, &e->sentry, true);
			if (myeng_run_buf(e, &b, &ignored) == 0)
				e->sentry_created = false;
			err_clear(&ignored);
		}
	}
	buf_free(&b);
	return rc;
}

/*
 * The cut-over (see the top of the file). Three connections:
 *   locker   LOCK TABLES T READ, sentry WRITE: writers of T queue at T's
 *            metadata lock (they have not opened T, so after the RENAME they
 *            open the new table); readers go on
 *   main     drains the log in ordinary transactions (it may read T), sets
 *            the shadow's AUTO_INCREMENT, watches the RENAME queue
 *   renamer  RENAME TABLE T TO sentry, _T_new TO T
 * MariaDB takes a RENAME's metadata locks in name order and waits at the
 * first one held. The sentry's name is T plus a suffix, so it sorts after T,
 * and nobody holds _T_new: the RENAME can only be waiting at T, where an
 * exclusive request goes before the writers queued there. The locker drops
 * the sentry and unlocks; the RENAME runs first. Had the locker died before
 * dropping the sentry, the RENAME would fail (the sentry exists), and the
 * RENAME is only sent once the log is drained under the lock.
 */
int
myeng_swap(struct eng *e, struct shade_err *err)
{
	struct buf rename = {0};
	struct myeng_pending pd = {0};
	struct shade_err rerr = {0};
	int rc = -1;

	if (myeng_swap_prepare(e, err) != 0)
		goto out;
	if (myeng_swap_lock(e, err) != 0)
		goto fail;
	myeng_rename_sql(&rename, e);
	myeng_exec_send(e, e->renamer, buf_str(&rename), &pd);
	if (myeng_swap_release(e, &pd, err) != 0)
		goto fail;
	if (myeng_exec_finish(e, &pd, &rerr) != 0) {
		/*
		 * Nothing was renamed; the capture goes on. (With the fence
		 * held only a locker that died first gets here.)
		 */
		myeng_swap_unfence(e);
		err_set(err, SHADE_FAILED, "the RENAME of %s failed: %s", e->display, rerr.msg);
		err->server_errno = rerr.server_errno;
		err->retryable = rerr.retryable;
		err_set_stmt(err, rerr.stmt);
		myeng_carry_drop_shadow_triggers(e);
		myeng_swap_unshadow(e, err);
		goto out;
	}
	e->swapped = true;
	e->shadow_created = false;
	myeng_swap_unfence(e);
	myeng_cleanup_after_swap(e);
	rc = 0;
	goto out;
fail:
	rc = myeng_swap_abandon(e, &pd, err);
out:
	err_clear(&rerr);
	buf_free(&rename);
	return rc;
}

/*
 * The dry run: list what myeng_swap runs, connection by connection, in
 * the order it runs (it would lock T and replace it).
 */
void
myeng_swap_plan(struct eng *e)
{
	struct buf b = {0};

	myeng_sentry_sql(&b, e);
	myeng_dryrun_take(e, "the swap, main connection", buf_take(&b));
	myeng_lock_sql(&b, e);
	myeng_dryrun_take(e, "second connection: writers of T queue", buf_take(&b));
	myeng_apply_plan(e, "main connection: drain the change log, batch after batch");
	myeng_carry_plan_auto_increment(e);
	myeng_carry_plan_shadow_triggers(e);
	myeng_fk_plan_to_shadow(e);
	if (myeng_fk_fence_sql(&b, e))
		myeng_dryrun_take(e, "fourth connection: writers of the children queue",
				  buf_take(&b));
	myeng_rename_sql(&b, e);
	myeng_dryrun_take(e, "third connection: queues behind the lock", buf_take(&b));
	myeng_dryrun_add(e, "main connection: until the RENAME waits", sql_rename_state);
	myeng_cleanup_drop_table_sql(&b, &e->sentry, false);
	myeng_dryrun_take(e, "second connection", buf_take(&b));
	myeng_dryrun_add(e, "second connection: the RENAME runs first", MYENG_UNLOCK);
	if (e->nfk_in > 0)
		myeng_dryrun_add(e, "fourth connection, once the RENAME is done", MYENG_UNLOCK);
	myeng_cleanup_plan_after_swap(e);
}
