/*
 * engine/pg/copy.c - the chunked copy of T into the shadow.
 *
 * Walk the primary key in disjoint chunks, so each key is copied at most
 * once: a keyset probe finds the chunk's upper bound (never OFFSET over the
 * whole table), then a plain INSERT ... SELECT copies (after, upper] on the
 * server into a shadow with no index (indexes.c); rows never travel through
 * the client. Each statement runs on a fresh READ COMMITTED snapshot and
 * takes no row locks. Until the shadow has its key again, nothing else
 * writes it: between chunks the log is only trimmed (pgsql_copy_trim).
 *
 * Why key ranges and not ctid ranges (which read the heap in order and
 * measured ~20% faster for a bare copy): an UPDATE moves a row to a new
 * ctid, maybe into a range still to come, so a ctid walk can copy a key
 * twice, and the key build would then fail. Key ranges copy each key at
 * most once, and tell the trim which log rows the copy will still read.
 */
#include "pgsql.h"

#include <stdio.h>
#include <stdlib.h>

/* "(col, col)" and "($n, $n+1)" for row comparisons on the key. */
static void
pgsql_copy_placeholders(struct buf *b, size_t n, int first)
{
	buf_append_char(b, '(');
	for (size_t i = 0; i < n; i++)
		buf_printf(b, "%s$%d", i ? ", " : "", first + (int)i);
	buf_append_char(b, ')');
}

/* Build the probe, copy and trim statements once the mapping is known. */
void
pgsql_copy_statements(struct eng *e)
{
	struct buf b = {0}, ph1 = {0}, ph2 = {0};
	size_t n = e->pk.len;

	pgsql_copy_placeholders(&ph1, n, 1);
	pgsql_copy_placeholders(&ph2, n, (int)n + 1);

	/*
	 * Keyset probes: the key `rows` rows on, never past the maximum. The
	 * comparisons name their operators (e->key_ops, see catalog.c): the
	 * copy runs with the user's search_path when it evaluates a USING
	 * expression, where an operator of theirs could stand in for them.
	 */
	sql_build(&b, SQL_PG,
		  "SELECT %L FROM %Q WHERE (%L) OPERATOR(%I.<=) %s ORDER BY %L LIMIT 1 OFFSET $%d",
		  &e->pk, &e->orig, &e->pk, e->key_ops, buf_str(&ph1), &e->pk, (int)n + 1);
	e->sql_probe_first = buf_take(&b);
	sql_build(&b, SQL_PG,
		  "SELECT %L FROM %Q WHERE (%L) OPERATOR(%I.>) %s AND (%L) OPERATOR(%I.<=) %s"
		  " ORDER BY %L LIMIT 1 OFFSET $%d",
		  &e->pk, &e->orig, &e->pk, e->key_ops, buf_str(&ph1), &e->pk, e->key_ops,
		  buf_str(&ph2), &e->pk, 2 * (int)n + 1);
	e->sql_probe_next = buf_take(&b);

	/*
	 * The chunk copy: a plain INSERT into a shadow with no index at all.
	 * The ranges are disjoint and nothing else writes the shadow before
	 * its key is built, so each key is written at most once; any
	 * violation (a valid check, NOT NULL, a failing cast) fails loudly.
	 */
	sql_build(&b, SQL_PG,
		  "INSERT INTO %Q (%L) OVERRIDING SYSTEM VALUE SELECT %s FROM %Q"
		  " WHERE (%L) OPERATOR(%I.<=) %s",
		  &e->shadow, &e->dst, e->select_list, &e->orig, &e->pk, e->key_ops, buf_str(&ph1));
	e->sql_copy_first = buf_take(&b);
	sql_build(&b, SQL_PG,
		  "INSERT INTO %Q (%L) OVERRIDING SYSTEM VALUE SELECT %s FROM %Q"
		  " WHERE (%L) OPERATOR(%I.>) %s AND (%L) OPERATOR(%I.<=) %s",
		  &e->shadow, &e->dst, e->select_list, &e->orig, &e->pk, e->key_ops, buf_str(&ph1),
		  &e->pk, e->key_ops, buf_str(&ph2));
	e->sql_copy_next = buf_take(&b);
	/* The trim: the log rows of keys the copy has yet to pass. */
	sql_build(&b, SQL_PG,
		  "DELETE FROM %Q WHERE (%L) OPERATOR(%I.>) %s AND (%L) OPERATOR(%I.<=) %s",
		  &e->log, &e->pk, e->key_ops, buf_str(&ph1), &e->pk, e->key_ops, buf_str(&ph2));
	e->sql_trim = buf_take(&b);

	buf_free(&ph1);
	buf_free(&ph2);
}

static void
pgsql_copy_keyval_from(PGresult *res, int row, struct keyval *k)
{
	keyval_free(k);
	k->n = (size_t)PQnfields(res);
	k->vals = xcalloc(k->n, sizeof(char *));
	for (size_t i = 0; i < k->n; i++)
		k->vals[i] = xstrdup(PQgetvalue(res, row, (int)i));
}

int
pgsql_copy_bounds(struct eng *e, struct keyval *max, bool *empty, struct shade_err *err)
{
	struct buf b = {0}, order = {0};
	PGresult *res = NULL;
	int rc = -1;

	for (size_t i = 0; i < e->pk.len; i++)
		sql_build(&order, SQL_PG, "%s%I DESC", i ? ", " : "", e->pk.items[i]);
	sql_build(&b, SQL_PG, "SELECT %L FROM %Q ORDER BY %s LIMIT 1", &e->pk, &e->orig,
		  buf_str(&order));
	if (pgsql_exec(e, buf_str(&b), 0, NULL, &res, err) != 0)
		goto out;
	*empty = PQntuples(res) == 0;
	if (!*empty)
		pgsql_copy_keyval_from(res, 0, max);
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	buf_free(&order);
	return rc;
}

/* Say which rows failed to copy: a row that does not fit the new schema. */
static void
pgsql_copy_context(struct eng *e, const struct keyval *after, const struct keyval *upper,
		   struct shade_err *err)
{
	struct buf b = {0};

	if (err->cancelled)
		return;
	buf_append(&b, "a row does not fit the new schema: copying rows with key (");
	for (size_t i = 0; i < e->pk.len; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", e->pk.items[i]);
	buf_append(&b, ") in (");
	for (size_t i = 0; after && i < after->n; i++)
		buf_printf(&b, "%s%.40s", i ? ", " : "", after->vals[i]);
	buf_append(&b, after ? "" : "start");
	buf_append(&b, "; ");
	for (size_t i = 0; i < upper->n; i++)
		buf_printf(&b, "%s%.40s", i ? ", " : "", upper->vals[i]);
	buf_append(&b, "] failed: ");
	/* Truncation is fine: the statement and detail are in err->stmt. */
	err_prefix(err, SHADE_FAILED, "%s", buf_str(&b));
	buf_free(&b);
}

/*
 * Run a chunk's INSERT. When the select list holds the operator's USING
 * expressions it runs with the user's search_path, which lasts until the
 * end of a transaction: one of its own, or, in the dry run's transaction,
 * until shade's own path is put back right after it. The common case runs
 * alone, as before.
 */
static int WARN_UNUSED
pgsql_copy_insert(struct eng *e, const char *sql, int nparams, const char *const *params,
		  PGresult **res, struct shade_err *err)
{
	bool own_txn;

	*res = NULL;
	if (!e->select_has_usings)
		return pgsql_exec(e, sql, nparams, params, res, err);
	own_txn = PQtransactionStatus(e->conn) == PQTRANS_IDLE;
	if (own_txn && pgsql_exec_run(e, "BEGIN", err) != 0)
		goto fail;
	if (pgsql_exec_user_path(e, err) != 0 || pgsql_exec(e, sql, nparams, params, res, err) != 0)
		goto fail;
	if ((own_txn ? pgsql_exec_run(e, "COMMIT", err) : pgsql_exec_pinned_path(e, err)) != 0)
		goto fail;
	return 0;
fail:
	PQclear(*res);
	*res = NULL;
	if (own_txn)
		pgsql_exec_reset_txn(e);
	return -1;
}

int
pgsql_copy_chunk(struct eng *e, const struct keyval *after, const struct keyval *max,
		 long rows, struct keyval *upper, long long *copied, bool *last,
		 struct shade_err *err)
{
	size_t n = e->pk.len, np = 0;
	const char **params = xcalloc(2 * n + 1, sizeof(char *));
	char offset[32];
	PGresult *res = NULL;
	int rc = -1;

	snprintf(offset, sizeof(offset), "%ld", rows > 1 ? rows - 1 : 0);
	if (after)
		for (size_t i = 0; i < n; i++)
			params[np++] = after->vals[i];
	for (size_t i = 0; i < n; i++)
		params[np++] = max->vals[i];
	params[np] = offset;
	if (pgsql_exec(e, after ? e->sql_probe_next : e->sql_probe_first, (int)np + 1, params,
		       &res, err) != 0)
		goto out;
	if (PQntuples(res) == 0) {
		keyval_copy(upper, max);
		*last = true;
	} else {
		pgsql_copy_keyval_from(res, 0, upper);
		*last = false;
	}
	PQclear(res);
	res = NULL;

	/* Copy (after, upper]: the same parameters with upper for max. */
	np = after ? n : 0;
	for (size_t i = 0; i < n; i++)
		params[np++] = upper->vals[i];
	if (pgsql_copy_insert(e, after ? e->sql_copy_next : e->sql_copy_first, (int)np, params,
			      &res, err) != 0) {
		pgsql_copy_context(e, after, upper, err);
		goto out;
	}
	*copied = strtoll(PQcmdTuples(res), NULL, 10);
	rc = 0;
out:
	PQclear(res);
	free(params);
	return rc;
}

/*
 * Between chunks, while the shadow has no key to apply by: delete the log
 * rows of keys in (after, max]. Each was committed before this statement,
 * so before the snapshot of the chunk that will copy its key, which then
 * reads the write it stands for (or finds the key gone). The log rows of
 * keys behind the copy, and beyond max (rows inserted since the copy
 * began), stay for the apply after build_key.
 */
int
pgsql_copy_trim(struct eng *e, const struct keyval *after, const struct keyval *max,
		long long *dropped, struct shade_err *err)
{
	size_t n = e->pk.len, np = 0;
	const char **params = xcalloc(2 * n, sizeof(char *));
	PGresult *res = NULL;
	int rc = -1;

	*dropped = 0;
	if (after == NULL) {
		free(params);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		params[np++] = after->vals[i];
	for (size_t i = 0; i < n; i++)
		params[np++] = max->vals[i];
	if (pgsql_exec(e, e->sql_trim, (int)np, params, &res, err) != 0)
		goto out;
	*dropped = strtoll(PQcmdTuples(res), NULL, 10);
	rc = 0;
out:
	PQclear(res);
	free(params);
	return rc;
}
