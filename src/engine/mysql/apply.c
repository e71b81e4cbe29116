/*
 * engine/mysql/apply.c - replaying the change log: batches of committed
 * log rows whose keys are re-copied from T (or deleted), then exactly those
 * log rows deleted; releasing the shadow's stale holders of unique values;
 * and the backlog estimate.
 *
 * Unique keys other than the primary key (DESIGN.md, "Why no write is
 * lost"): values move between rows of T, so a re-copied row may need a
 * value that a stale row of the shadow still holds. That holder is stale,
 * and T enforced the key, and every change to T is logged in its own
 * transaction: so the holder's key has a committed log row not consumed
 * yet. Deleting the keys of all pending log rows from the shadow (their log
 * rows stay, a later batch re-copies them) removes every such holder; a
 * conflict that survives a release that deleted nothing is a real one. The
 * re-copy that follows a release leaves out the keys logged again since
 * the batch was read, so that writers that keep moving values cannot keep
 * making new holders (myeng_apply_recopy).
 */
#include <stdlib.h>
#include <string.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "backoff.h"
#include "myeng.h"

/* A batch is one transaction. */
static const char sql_begin[] = "START TRANSACTION";
static const char sql_commit[] = "COMMIT";
/* The re-copy runs after a savepoint: a unique conflict goes back to it. */
static const char sql_savepoint[] = "SAVEPOINT shade_recopy";
static const char sql_back[] = "ROLLBACK TO SAVEPOINT shade_recopy";

/* Releases of holders for one re-copy before shade gives up on it. */
#define MYENG_RELEASE_TRIES 8

/* "t.`a` = u.`b` AND ..." joining a table's key to another's. */
static void
myeng_join_keys(struct buf *b, const struct qname *t, const struct strlist *tcols,
		const char *alias, const struct qname *u, const struct strlist *ucols)
{
	for (size_t i = 0; i < tcols->len; i++) {
		sql_build(b, SQL_MYSQL, "%s%Q.%I = ", i ? " AND " : "", t, tcols->items[i]);
		if (alias)
			sql_build(b, SQL_MYSQL, "%s.%I", alias, ucols->items[i]);
		else
			sql_build(b, SQL_MYSQL, "%Q.%I", u, ucols->items[i]);
	}
}

/* Delete from the shadow the keys of n log rows (their ids bound). */
static char *
myeng_apply_unshadow_sql(const struct eng *e, size_t n)
{
	struct buf b = {0}, in = {0};

	myeng_marks(&in, n);
	sql_build(&b, SQL_MYSQL, "DELETE %Q FROM %Q JOIN %Q ON ", &e->shadow, &e->shadow, &e->log);
	myeng_join_keys(&b, &e->shadow, &e->shadow_pk, NULL, &e->log, &e->pkcols);
	sql_build(&b, SQL_MYSQL, " WHERE %Q.%I IN (%s)", &e->log, e->seq, buf_str(&in));
	buf_free(&in);
	return buf_take(&b);
}

/* "l.`a`, l.`b`" or "l.`a` = n.`a` AND ...": the log's key under aliases. */
static void
myeng_alias_keys(const struct eng *e, struct buf *b, const char *l, const char *n)
{
	for (size_t i = 0; i < e->pkcols.len; i++) {
		const char *col = e->pkcols.items[i];

		if (n)
			sql_build(b, SQL_MYSQL, "%s%s.%I = %s.%I", i ? " AND " : "", l, col, n, col);
		else
			sql_build(b, SQL_MYSQL, "%s%s.%I", i ? ", " : "", l, col);
	}
}

/*
 * The re-copy of the keys of n log rows (their ids bound) from T. A retry
 * after a unique conflict (newer) leaves out every key that has a pending
 * log row besides these (its ids bound first): that row re-copies the key
 * later, and a key that changed after this batch was read is what keeps a
 * retry meeting new stale holders (see myeng_apply_recopy).
 */
static char *
myeng_apply_recopy_sql(const struct eng *e, size_t n, bool newer)
{
	struct buf b = {0}, in = {0};

	myeng_marks(&in, n);
	myeng_columns_insert(e, &b, true);
	sql_build(&b, SQL_MYSQL, " FROM %Q JOIN (SELECT DISTINCT ", &e->orig);
	if (newer) {
		myeng_alias_keys(e, &b, "l", NULL);
		sql_build(&b, SQL_MYSQL, " FROM %Q AS l LEFT JOIN (SELECT DISTINCT %L FROM %Q WHERE %I NOT IN (%s)) AS n ON ",
			  &e->log, &e->pkcols, &e->log, e->seq, buf_str(&in));
		myeng_alias_keys(e, &b, "l", "n");
		sql_build(&b, SQL_MYSQL, " WHERE l.%I IN (%s) AND n.%I IS NULL", e->seq, buf_str(&in),
			  e->pkcols.items[0]);
	} else {
		sql_build(&b, SQL_MYSQL, "%L FROM %Q WHERE %I IN (%s)", &e->pkcols, &e->log, e->seq,
			  buf_str(&in));
	}
	buf_append(&b, ") AS k ON ");
	myeng_join_keys(&b, &e->orig, &e->pkcols, "k", NULL, &e->pkcols);
	buf_free(&in);
	return buf_take(&b);
}

/*
 * Re-copy the keys of n log rows (their ids bound): delete them from the
 * shadow, then insert the current rows of T (a key gone from T stays
 * deleted), then delete exactly those log rows.
 */
static void
myeng_apply_sql(const struct eng *e, size_t n, char *sql[3])
{
	struct buf b = {0}, in = {0};

	myeng_marks(&in, n);
	sql[0] = myeng_apply_unshadow_sql(e, n);
	sql[1] = myeng_apply_recopy_sql(e, n, false);

	sql_build(&b, SQL_MYSQL, "DELETE FROM %Q WHERE %I IN (%s)", &e->log, e->seq, buf_str(&in));
	sql[2] = buf_take(&b);
	buf_free(&in);
}

/*
 * The statement that reads the pending log ids whose key is in the shadow
 * (a plain read, which takes no lock and sees this transaction's own
 * deletes): those a release deletes something for.
 */
static char *
myeng_apply_pending_sql(const struct eng *e)
{
	struct buf b = {0};

	sql_build(&b, SQL_MYSQL, "SELECT l.%I FROM %Q AS l JOIN %Q ON ", e->seq, &e->log,
		  &e->shadow);
	myeng_join_keys(&b, &e->shadow, &e->shadow_pk, "l", NULL, &e->pkcols);
	return buf_take(&b);
}

/*
 * Release the holders: delete from the shadow the key of every log row
 * pending now (found by one consistent read, no locks: it waits for no
 * writer), in chunks of ids; the log rows stay, and a later batch
 * re-copies those keys. *released: the shadow rows deleted. Any
 * transaction around it is the caller's.
 *
 * Why it removes every stale holder a statement met: the holder's log row
 * committed before that statement's snapshot (see the top of the file), so
 * this later read sees it, unless it was consumed, and consuming a key
 * re-copies it.
 */
int
myeng_apply_release(struct eng *e, unsigned long long *released, struct shade_err *err)
{
	struct myeng_params ids = {0};
	struct myeng_res res = {0};
	char *pending = myeng_apply_pending_sql(e), *sql = NULL;
	size_t nsql = 0;
	int rc = -1;

	*released = 0;
	if (myeng_query(e, pending, NULL, &res, err) != 0)
		goto out;
	for (size_t i = 0; i < res.nrows; i++) {
		unsigned long long n = 0;

		myeng_param_push(&ids, KIND_UNSIGNED, NULL, 0);
		ids.v[ids.n - 1].unum = strtoull(myeng_text(&res, i, 0), NULL, 10);
		if (ids.n < MYENG_IN_MAX && i + 1 < res.nrows)
			continue;
		if (ids.n != nsql) {
			free(sql);
			sql = myeng_apply_unshadow_sql(e, ids.n);
			nsql = ids.n;
		}
		if (myeng_exec(e, e->conn, sql, &ids, NULL, &n, err) != 0)
			goto out;
		*released += n;
		ids.n = 0;
	}
	rc = 0;
out:
	free(pending);
	free(sql);
	myeng_params_free(&ids);
	myeng_res_free(&res);
	return rc;
}

/* A dry run lists the release (it runs only when there is a change log). */
void
myeng_apply_release_plan(struct eng *e, const char *comment)
{
	myeng_dryrun_take(e, comment, myeng_apply_pending_sql(e));
	myeng_dryrun_take(e, "one ? per log row read, in chunks", myeng_apply_unshadow_sql(e, 3));
}

/*
 * A duplicate in a unique key other than the one the log records: what a
 * stale holder causes. That is any unique key but the primary key, and the
 * primary key too where the ALTER changes it (columns.c): a row of the
 * shadow under another old key may hold its value. (The server names the
 * key last: 'PRIMARY', or 'table.PRIMARY' on MySQL 8; ER_DUP_UNIQUE names
 * none.)
 */
static bool
myeng_apply_unique_conflict(const struct eng *e, const struct shade_err *err)
{
	size_t len = strlen(err->msg);

	if (err->cancelled || (err->server_errno != ER_DUP_ENTRY &&
			       err->server_errno != ER_DUP_ENTRY_WITH_KEY_NAME &&
			       err->server_errno != ER_DUP_UNIQUE))
		return false;
	return e->pk_changed || !((len >= 14 && strcmp(err->msg + len - 14, " key 'PRIMARY'") == 0) ||
		 (len >= 9 && strcmp(err->msg + len - 9, ".PRIMARY'") == 0));
}

/*
 * The re-copy (sql, ids bound), inside the batch's transaction, which read
 * its log ids at some moment b. A unique conflict goes back to the
 * savepoint, releases the holders and tries again, leaving out the keys
 * with a newer log row (myeng_apply_recopy_sql). A release that deletes
 * nothing leaves no stale holder: the conflict is T's own rows' (a new
 * unique key they do not fit): it fails as a row that does not fit.
 *
 * Why one release is enough. Say the retry, at snapshot s, copies key R
 * with value v, and the shadow's row H holds v too. R has no log row newer
 * than b (it would be left out), so R held v all through [b, s]; so H's
 * row, which holds v, was copied before b, and H's write that moved v away
 * from it committed before b: its log row was in this batch (H was deleted
 * with it), or consumed before b (H re-copied after it), or pending at b,
 * and the release, after b, saw and deleted it. So H is not stale: R and H
 * hold v in T at s, a real duplicate. A retry that still conflicts while
 * its release deletes rows is retried up to MYENG_RELEASE_TRIES times all
 * the same, and then fails with the server's message and what shade did.
 */
static int WARN_UNUSED
myeng_apply_recopy(struct eng *e, const char *sql, const struct myeng_params *ids,
		   struct shade_err *err)
{
	struct shade_err rerr = {0};
	struct myeng_params both = {0};
	char *retry = NULL;
	unsigned long long released = 0;
	int tries, rc = -1;

	for (tries = 0;; tries++) {
		/* Here, not before the loop: going back must keep the releases. */
		if (myeng_run(e, sql_savepoint, err) != 0)
			goto out;
		if (myeng_exec(e, e->conn, tries ? retry : sql, tries ? &both : ids, NULL, NULL,
			       err) == 0) {
			rc = 0;
			goto out;
		}
		if (!myeng_apply_unique_conflict(e, err) || tries == MYENG_RELEASE_TRIES)
			break;
		if (myeng_run(e, sql_back, &rerr) != 0 ||
		    myeng_apply_release(e, &released, &rerr) != 0) {
			err_clear(err);
			*err = rerr;
			goto out;
		}
		if (released == 0)
			break;
		if (retry == NULL) {
			retry = myeng_apply_recopy_sql(e, ids->n, true);
			for (size_t i = 0; i < 2 * ids->n; i++) {
				myeng_param_push(&both, KIND_UNSIGNED, NULL, 0);
				both.v[i].unum = ids->v[i % ids->n].unum;
			}
		}
	}
	if (err->cancelled || err->retryable || err->server_errno == 0 ||
	    err->server_errno >= CR_MIN_ERROR)
		goto out;
	if (tries == MYENG_RELEASE_TRIES && myeng_apply_unique_conflict(e, err))
		err_prefix(err, SHADE_FAILED,
			   "applying changes of %s: shade refreshed the rows changed meanwhile %d "
			   "times and the value was still held twice (writers keep moving it, or "
			   "two rows of the table hold it): ",
			   e->display, tries);
	else
		err_prefix(err, SHADE_FAILED,
			   "applying changes of %s: a changed row does not fit the new schema: ",
			   e->display);
out:
	free(retry);
	myeng_params_free(&both);
	return rc;
}

/* One sub-batch: the keys of ids re-copied, those log rows deleted. */
static int WARN_UNUSED
myeng_apply_ids(struct eng *e, const struct myeng_params *ids, struct shade_err *err)
{
	char *sql[3];
	int rc = -1;

	myeng_apply_sql(e, ids->n, sql);
	if (myeng_exec(e, e->conn, sql[0], ids, NULL, NULL, err) != 0)
		goto fail;
	/* The re-copy says itself what failed. */
	if (myeng_apply_recopy(e, sql[1], ids, err) != 0)
		goto out;
	if (myeng_exec(e, e->conn, sql[2], ids, NULL, NULL, err) != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	if (!err->cancelled && !err->retryable)
		err_prefix(err, SHADE_FAILED, "applying changes of %s: ", e->display);
out:
	for (size_t i = 0; i < ARRAY_LEN(sql); i++)
		free(sql[i]);
	return rc;
}

/* The statement that reads a batch of log ids. */
static char *
myeng_apply_take_sql(const struct eng *e)
{
	struct buf b = {0};

	sql_build(&b, SQL_MYSQL, "SELECT %I FROM %Q ORDER BY %I LIMIT ?", e->seq, &e->log, e->seq);
	return buf_take(&b);
}

/*
 * One batch: read up to limit committed log rows, re-copy their keys,
 * delete exactly the rows read (never "up to an id": a log row committed
 * late with a smaller id must not be skipped).
 */
static int WARN_UNUSED
myeng_apply_batch(struct eng *e, long limit, long long *applied, struct shade_err *err)
{
	struct myeng_params p = {0}, ids = {0};
	struct myeng_res res = {0};
	struct buf b = {0};
	char *take;
	int rc = -1;

	*applied = 0;
	take = myeng_apply_take_sql(e);
	buf_append(&b, take);
	free(take);
	myeng_param_int(&p, limit);
	if (myeng_query(e, buf_str(&b), &p, &res, err) != 0)
		goto out;
	for (size_t i = 0; i < res.nrows; i++) {
		myeng_param_push(&ids, KIND_UNSIGNED, NULL, 0);
		ids.v[ids.n - 1].unum = strtoull(myeng_text(&res, i, 0), NULL, 10);
		if (ids.n == MYENG_IN_MAX || i + 1 == res.nrows) {
			if (myeng_apply_ids(e, &ids, err) != 0)
				goto out;
			ids.n = 0;
		}
	}
	*applied = (long long)res.nrows;
	rc = 0;
out:
	myeng_params_free(&p);
	myeng_params_free(&ids);
	myeng_res_free(&res);
	buf_free(&b);
	return rc;
}

int
myeng_apply(struct eng *e, long limit, long long *applied, struct shade_err *err)
{
	struct backoff bo;

	/* A deadlock rolls the whole batch back: run it again, a few times. */
	backoff_init(&bo, 0.01, 0.05, 3);
	for (;;) {
		double pause;

		err_clear(err);
		if (myeng_run(e, sql_begin, err) == 0 && myeng_apply_batch(e, limit, applied, err) == 0 &&
		    myeng_run(e, sql_commit, err) == 0)
			return 0;
		myeng_rollback(e);
		if (err->server_errno != ER_LOCK_DEADLOCK || (pause = backoff_next(&bo)) < 0)
			return -1;
		dbwait_sleep(e->w, pause);
	}
}

/*
 * The dry run: list what one batch of myeng_apply runs, below a comment
 * (the log is empty in a dry run, so the batch is listed, never run). The
 * statements that re-copy keys are shown for three log rows.
 */
void
myeng_apply_plan(struct eng *e, const char *comment)
{
	char *sql[3];

	myeng_dryrun_add(e, comment, sql_begin);
	myeng_dryrun_take(e, NULL, myeng_apply_take_sql(e));
	myeng_apply_sql(e, 3, sql);
	myeng_dryrun_take(e, "one ? per log row read", sql[0]);
	myeng_dryrun_add(e, NULL, sql_savepoint);
	myeng_dryrun_take(e, NULL, sql[1]);
	myeng_dryrun_add(e, "only when the re-copy meets a duplicate in a unique key: back, "
			 "release the holders as before the unique indexes are built, and "
			 "re-copy the keys not logged again since",
			 sql_back);
	myeng_dryrun_take(e, NULL, myeng_apply_recopy_sql(e, 3, true));
	myeng_dryrun_take(e, NULL, sql[2]);
	myeng_dryrun_add(e, NULL, sql_commit);
}

int
myeng_apply_backlog(struct eng *e, long long *rows, struct shade_err *err)
{
	struct myeng_res res = {0};
	struct buf b = {0};
	int rc = -1;

	/* max - min + 1 reads two index ends; count only when it is small. */
	sql_build(&b, SQL_MYSQL, "SELECT IFNULL(MAX(%I) - MIN(%I) + 1, 0) FROM %Q", e->seq, e->seq,
		  &e->log);
	if (myeng_query(e, buf_str(&b), NULL, &res, err) != 0)
		goto out;
	*rows = strtoll(myeng_text(&res, 0, 0), NULL, 10);
	if (*rows > 0 && *rows <= 100000) {
		myeng_res_free(&res);
		buf_reset(&b);
		sql_build(&b, SQL_MYSQL, "SELECT COUNT(*) FROM %Q", &e->log);
		if (myeng_query(e, buf_str(&b), NULL, &res, err) != 0)
			goto out;
		*rows = strtoll(myeng_text(&res, 0, 0), NULL, 10);
	}
	rc = 0;
out:
	myeng_res_free(&res);
	buf_free(&b);
	return rc;
}
