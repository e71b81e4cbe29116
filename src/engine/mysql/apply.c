/*
 * engine/mysql/apply.c - replaying the change log: batches of committed
 * log rows whose keys are re-copied from T (or deleted), then exactly those
 * log rows deleted; and the backlog estimate.
 */
#include <stdlib.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "backoff.h"
#include "myeng.h"

/* A batch is one transaction. */
static const char sql_begin[] = "START TRANSACTION";
static const char sql_commit[] = "COMMIT";

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
	sql_build(&b, SQL_MYSQL, "DELETE %Q FROM %Q JOIN %Q ON ", &e->shadow, &e->shadow, &e->log);
	myeng_join_keys(&b, &e->shadow, &e->shadow_pk, NULL, &e->log, &e->pkcols);
	sql_build(&b, SQL_MYSQL, " WHERE %Q.%I IN (%s)", &e->log, e->seq, buf_str(&in));
	sql[0] = buf_take(&b);

	myeng_columns_insert(e, &b, true);
	sql_build(&b, SQL_MYSQL, " FROM %Q JOIN (SELECT DISTINCT %L FROM %Q WHERE %I IN (%s)) AS k ON ",
		  &e->orig, &e->pkcols, &e->log, e->seq, buf_str(&in));
	myeng_join_keys(&b, &e->orig, &e->pkcols, "k", NULL, &e->pkcols);
	sql[1] = buf_take(&b);

	sql_build(&b, SQL_MYSQL, "DELETE FROM %Q WHERE %I IN (%s)", &e->log, e->seq, buf_str(&in));
	sql[2] = buf_take(&b);
	buf_free(&in);
}

static int WARN_UNUSED
myeng_apply_ids(struct eng *e, const struct myeng_params *ids, struct shade_err *err)
{
	char *sql[3];
	int rc = 0;

	myeng_apply_sql(e, ids->n, sql);
	for (size_t i = 0; i < ARRAY_LEN(sql) && rc == 0; i++)
		rc = myeng_exec(e, e->conn, sql[i], ids, NULL, NULL, err);
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
			if (myeng_apply_ids(e, &ids, err) != 0) {
				if (!err->cancelled && !err->retryable && err->server_errno != 0 &&
				    err->server_errno < CR_MIN_ERROR) {
					err_prefix(err, SHADE_FAILED,
						   "applying changes of %s: a changed row does not fit the new schema: ",
						   e->display);
				}
				goto out;
			}
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
	for (size_t i = 0; i < ARRAY_LEN(sql); i++)
		myeng_dryrun_take(e, i == 0 ? "one ? per log row read" : NULL, sql[i]);
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
