/*
 * engine/mysql/copy.c - the chunk copy: the largest key, the keyset probe
 * that finds a chunk's upper bound, INSERT ... SELECT of the chunk into the
 * shadow in one transaction with the position after it (state.c), and,
 * when a chunk fails, a message naming the row that does not fit the new
 * schema.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "colmap.h"
#include "keyval.h"
#include "myeng.h"

/* The copy's statements, built once the column mapping is known. */
void
myeng_copy_build_sql(struct eng *e)
{
	struct buf b = {0}, keys = {0}, order = {0}, gt = {0}, le = {0};

	myeng_key_exprs(e, &keys);
	myeng_key_order(e, &order, false);
	myeng_key_cmp(e, &gt, true);
	myeng_key_cmp(e, &le, false);

	sql_build(&b, SQL_MYSQL, "SELECT %s FROM %Q FORCE INDEX (PRIMARY) ORDER BY ",
		  buf_str(&keys), &e->orig);
	myeng_key_order(e, &b, true);
	buf_append(&b, " LIMIT 1");
	e->sql_max = buf_take(&b);

	/* The keyset probe: the key `rows` rows on, never past the maximum. */
	sql_build(&b, SQL_MYSQL,
		  "SELECT %s FROM %Q FORCE INDEX (PRIMARY) WHERE %s ORDER BY %s LIMIT 1 OFFSET ?",
		  buf_str(&keys), &e->orig, buf_str(&le), buf_str(&order));
	e->sql_probe_first = buf_take(&b);
	sql_build(&b, SQL_MYSQL,
		  "SELECT %s FROM %Q FORCE INDEX (PRIMARY) WHERE %s AND %s ORDER BY %s LIMIT 1 OFFSET ?",
		  buf_str(&keys), &e->orig, buf_str(&gt), buf_str(&le), buf_str(&order));
	e->sql_probe_next = buf_take(&b);

	/*
	 * The chunk. The shadow has no unique key but the primary key during
	 * the copy, so ON DUPLICATE KEY UPDATE can only meet a row an apply
	 * already wrote (which is newer: keep it). Never INSERT IGNORE: it
	 * would turn a value that does not fit into a silently altered row;
	 * strict mode makes that an error instead. ORDER BY the key, so that
	 * "at row N" in an error names a row we can find again.
	 */
	for (int first = 1; first >= 0; first--) {
		myeng_columns_insert(e, &b, false);
		sql_build(&b, SQL_MYSQL, " FROM %Q FORCE INDEX (PRIMARY) WHERE ", &e->orig);
		if (!first)
			sql_build(&b, SQL_MYSQL, "%s AND ", buf_str(&gt));
		sql_build(&b, SQL_MYSQL, "%s ORDER BY %s ON DUPLICATE KEY UPDATE %Q.%I = %Q.%I",
			  buf_str(&le), buf_str(&order), &e->shadow, e->shadow_pk.items[0],
			  &e->shadow, e->shadow_pk.items[0]);
		if (first)
			e->sql_copy_first = buf_take(&b);
		else
			e->sql_copy_next = buf_take(&b);
	}
	buf_free(&keys);
	buf_free(&order);
	buf_free(&gt);
	buf_free(&le);
}

/* A chunk is one transaction with the position after it (state.c). */
static const char sql_begin[] = "START TRANSACTION";
static const char sql_commit[] = "COMMIT";

int
myeng_copy_bounds(struct eng *e, struct keyval *max, bool *empty, struct shade_err *err)
{
	struct myeng_res res = {0};
	char *at;
	int rc;

	if (myeng_query(e, e->sql_max, NULL, &res, err) != 0)
		return -1;
	*empty = res.nrows == 0;
	if (!*empty)
		myeng_key_from_res(&res, 0, max);
	myeng_res_free(&res);
	/* The dry run has no state table. */
	if (*empty || e->plan != NULL)
		return 0;
	at = keyval_encode(max);
	{
		const char *kv[] = {"max", at};

		rc = myeng_state_put(e, 1, kv, err);
	}
	free(at);
	return rc;
}

/* Find the key of the nth row (from 1) of (after, upper], for messages. */
static char *
myeng_nth_key(struct eng *e, const struct keyval *after, const struct keyval *upper, long nth)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	struct shade_err ignored = {0};
	struct keyval k = {0};
	char *text = NULL;

	if ((after && myeng_key_bind_cmp(e, &p, after, &ignored) != 0) ||
	    myeng_key_bind_cmp(e, &p, upper, &ignored) != 0)
		goto out;
	myeng_param_int(&p, nth - 1);
	if (myeng_query(e, after ? e->sql_probe_next : e->sql_probe_first, &p, &res, &ignored) != 0 ||
	    res.nrows == 0)
		goto out;
	myeng_key_from_res(&res, 0, &k);
	text = myeng_key_text(e, &k);
out:
	keyval_free(&k);
	myeng_params_free(&p);
	myeng_res_free(&res);
	err_clear(&ignored);
	return text;
}

/*
 * "Column 'c' cannot be null" names no row: find the first row of
 * (after, upper] whose source of shadow column c is NULL.
 */
static char *
myeng_null_key(struct eng *e, const struct keyval *after, const struct keyval *upper,
	       const char *msg)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	struct shade_err ignored = {0};
	struct buf b = {0}, col = {0};
	struct keyval k = {0};
	const char *q = strchr(msg, '\'');
	char *text = NULL;
	long at;

	if (q == NULL || strchr(q + 1, '\'') == NULL)
		goto out;
	buf_append_n(&col, q + 1, (size_t)(strchr(q + 1, '\'') - q - 1));
	if ((at = colmap_find(&e->dst, buf_str(&col), true)) < 0)
		goto out;
	sql_build(&b, SQL_MYSQL, "SELECT ");
	myeng_key_exprs(e, &b);
	sql_build(&b, SQL_MYSQL, " FROM %Q FORCE INDEX (PRIMARY) WHERE ", &e->orig);
	if (after) {
		myeng_key_cmp(e, &b, true);
		buf_append(&b, " AND ");
	}
	myeng_key_cmp(e, &b, false);
	sql_build(&b, SQL_MYSQL, " AND %I IS NULL ORDER BY ", e->src.items[at]);
	myeng_key_order(e, &b, false);
	buf_append(&b, " LIMIT 1");
	if ((after && myeng_key_bind_cmp(e, &p, after, &ignored) != 0) ||
	    myeng_key_bind_cmp(e, &p, upper, &ignored) != 0 ||
	    myeng_query(e, buf_str(&b), &p, &res, &ignored) != 0 || res.nrows == 0)
		goto out;
	myeng_key_from_res(&res, 0, &k);
	text = myeng_key_text(e, &k);
out:
	keyval_free(&k);
	myeng_params_free(&p);
	myeng_res_free(&res);
	buf_free(&b);
	buf_free(&col);
	err_clear(&ignored);
	return text;
}

/*
 * A chunk failed: a row that does not fit the new schema (strict mode),
 * most likely. Say which row, when the server said which.
 */
static void
myeng_copy_failed(struct eng *e, const struct keyval *after, const struct keyval *upper,
		  struct shade_err *err)
{
	char msg[sizeof(err->msg)];
	const char *at = strstr(err->msg, " at row ");
	char *key = NULL, *from = NULL, *to = NULL;
	long nth;

	/* Not a row's fault: a cancel, a lock, the client or the connection. */
	if (err->cancelled || err->retryable || err->server_errno == 0 ||
	    err->server_errno >= CR_MIN_ERROR)
		return;
	snprintf(msg, sizeof(msg), "%s", err->msg);
	if (at && (nth = strtol(at + 8, NULL, 10)) > 0)
		key = myeng_nth_key(e, after, upper, nth);
	else if (err->server_errno == ER_BAD_NULL_ERROR)
		key = myeng_null_key(e, after, upper, msg);
	if (key) {
		err_set(err, SHADE_FAILED, "the row with %s of %s does not fit the new schema: %s",
			key, e->display, msg);
	} else {
		from = after ? myeng_key_text(e, after) : NULL;
		to = myeng_key_text(e, upper);
		err_set(err, SHADE_FAILED,
			"copying the rows of %s with keys %s%s up to %s failed, a row does not fit the new schema: %s",
			e->display, from ? "after " : "from the first", from ? from : "", to, msg);
	}
	free(key);
	free(from);
	free(to);
}

/* The copy's position and count, in the chunk's transaction. */
static int WARN_UNUSED
myeng_copy_save(struct eng *e, const struct keyval *upper, long long total, struct shade_err *err)
{
	char *at = keyval_encode(upper), *n = xasprintf("%lld", total);
	const char *kv[] = {"cursor", at, "copied", n};
	int rc = myeng_state_put(e, 2, kv, err);

	free(at);
	free(n);
	return rc;
}

/*
 * Copy the rows of (after, upper] into the shadow, where upper is the key
 * `rows` rows on, never past max. The chunk and the position after it
 * commit together (state.c), but in the dry run, which has no state.
 */
int
myeng_copy_chunk(struct eng *e, const struct keyval *after, const struct keyval *max, long rows,
		 struct keyval *upper, long long *copied, bool *last, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	unsigned long long n = 0;
	bool txn = false;
	int rc = -1;

	if ((after && myeng_key_bind_cmp(e, &p, after, err) != 0) ||
	    myeng_key_bind_cmp(e, &p, max, err) != 0)
		goto out;
	myeng_param_int(&p, rows > 1 ? rows - 1 : 0);
	if (myeng_query(e, after ? e->sql_probe_next : e->sql_probe_first, &p, &res, err) != 0)
		goto out;
	if (res.nrows == 0) {
		keyval_copy(upper, max);
		*last = true;
	} else {
		myeng_key_from_res(&res, 0, upper);
		*last = true;
		for (size_t i = 0; i < upper->n; i++)
			if (strcmp(upper->vals[i], max->vals[i]) != 0)
				*last = false;
	}
	myeng_params_free(&p);
	if ((after && myeng_key_bind_cmp(e, &p, after, err) != 0) ||
	    myeng_key_bind_cmp(e, &p, upper, err) != 0)
		goto out;
	if (e->plan == NULL) {
		if (myeng_run(e, sql_begin, err) != 0)
			goto out;
		txn = true;
	}
	if (myeng_exec(e, e->conn, after ? e->sql_copy_next : e->sql_copy_first, &p, NULL, &n,
		       err) != 0) {
		myeng_copy_failed(e, after, upper, err);
		goto out;
	}
	if (txn && (myeng_copy_save(e, upper, e->copied_total + (long long)n, err) != 0 ||
		    myeng_run(e, sql_commit, err) != 0))
		goto out;
	txn = false;
	if (e->plan == NULL)
		e->copied_total += (long long)n;
	*copied = (long long)n;
	rc = 0;
out:
	if (txn)
		myeng_rollback(e);
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

/*
 * The dry run: list the chunk statements its sample did not run (the
 * first chunk's when there was no sample, the next chunks' always).
 */
void
myeng_copy_plan(struct eng *e, bool sampled)
{
	if (!sampled) {
		myeng_dryrun_add(e, "each chunk: the keyset probe, then the copy",
				 e->sql_probe_first);
		myeng_dryrun_add(e, NULL, e->sql_copy_first);
	}
	myeng_state_plan_put(e, "where the copy ends, for a later run", 1);
	myeng_dryrun_add(e, "the next chunks, each one transaction with its position",
			 e->sql_probe_next);
	myeng_dryrun_add(e, NULL, sql_begin);
	myeng_dryrun_add(e, NULL, e->sql_copy_next);
	myeng_state_plan_put(e, NULL, 2);
	myeng_dryrun_add(e, NULL, sql_commit);
}
