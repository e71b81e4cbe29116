/*
 * engine/pg/copy.c - the chunked copy of T into the shadow.
 *
 * Walk the primary key in disjoint chunks, so each key is copied at most
 * once: a keyset probe finds the chunk's upper bound (never OFFSET over the
 * whole table), then INSERT ... SELECT copies (after, upper] on the server;
 * rows never travel through the client. Each statement runs on a fresh READ
 * COMMITTED snapshot and takes no row locks.
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

/* Build the probe and copy statements once the mapping is known. */
/*
 * The copy's ON CONFLICT needs a non-deferrable unique index on the key to
 * arbitrate. When the shadow's primary key is DEFERRABLE, a unique
 * constraint on the same columns stands in for it until the swap drops it
 * (carry.c); the key itself stays as the ALTER leaves it.
 */
int
pgsql_copy_arbiter(struct eng *e, struct shade_err *err)
{
	const char *params[1] = {e->shadow_text};
	PGresult *res = NULL;
	struct buf b = {0};
	int rc = -1;

	if (pgsql_exec(e,
		       "SELECT condeferrable FROM pg_catalog.pg_constraint"
		       " WHERE conrelid = $1::pg_catalog.regclass AND contype = 'p'",
		       1, params, &res, err) != 0)
		goto out;
	if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't') {
		e->key_arbiter = sql_derived_name(SQL_PG, e->orig.name, "_shade_key");
		sql_build(&b, SQL_PG, "ALTER TABLE %Q ADD CONSTRAINT %I UNIQUE (%L)", &e->shadow,
			  e->key_arbiter, &e->shadow_pk);
		if (pgsql_exec_run_buf(e, &b, err) != 0)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&b);
	return rc;
}

void
pgsql_copy_statements(struct eng *e)
{
	struct buf b = {0}, ph1 = {0}, ph2 = {0}, arb = {0};
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
	 * The chunk copy. ON CONFLICT on the key only: a row an apply already
	 * wrote is newer than this snapshot's and must stay; any other
	 * violation (a new unique key, NOT NULL, a failing cast) fails loudly.
	 */
	/*
	 * A DEFERRABLE key cannot be an ON CONFLICT arbiter: the shadow then
	 * has a plain unique constraint on the same columns for the copy
	 * (pgsql_copy_arbiter), named here, and dropped at the swap.
	 */
	if (e->key_arbiter)
		sql_build(&arb, SQL_PG, "ON CONFLICT ON CONSTRAINT %I DO NOTHING", e->key_arbiter);
	else
		sql_build(&arb, SQL_PG, "ON CONFLICT (%L) DO NOTHING", &e->shadow_pk);
	sql_build(&b, SQL_PG,
		  "INSERT INTO %Q (%L) OVERRIDING SYSTEM VALUE SELECT %s FROM %Q"
		  " WHERE (%L) OPERATOR(%I.<=) %s %s",
		  &e->shadow, &e->dst, e->select_list, &e->orig, &e->pk, e->key_ops, buf_str(&ph1),
		  buf_str(&arb));
	e->sql_copy_first = buf_take(&b);
	sql_build(&b, SQL_PG,
		  "INSERT INTO %Q (%L) OVERRIDING SYSTEM VALUE SELECT %s FROM %Q"
		  " WHERE (%L) OPERATOR(%I.>) %s AND (%L) OPERATOR(%I.<=) %s %s",
		  &e->shadow, &e->dst, e->select_list, &e->orig, &e->pk, e->key_ops, buf_str(&ph1),
		  &e->pk, e->key_ops, buf_str(&ph2), buf_str(&arb));
	e->sql_copy_next = buf_take(&b);
	buf_free(&arb);

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
