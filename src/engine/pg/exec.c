/*
 * engine/pg/exec.c - running statements on libpq's asynchronous API.
 *
 * Every statement goes through pgsql_exec(): sent with PQsendQueryParams
 * (the extended protocol, so one statement per call and values only as
 * parameters), traced, and awaited through dbwait so that signals are
 * served while it runs and a second abort request cancels it on the server.
 * Identifiers reach SQL only through sql_build()/sql_ident().
 */
#include "pgsql.h"

#include <stdio.h>
#include <string.h>

/* Fill err from a failed result (or the connection's message). */
void
pgsql_exec_set_error(struct eng *e, const PGresult *res, const char *sql,
		     bool cancel_sent, struct shade_err *err)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;

	if (msg == NULL) {
		msg = PQerrorMessage(e->conn);
		if (msg == NULL || *msg == '\0')
			msg = "lost the connection to the server";
	}
	err_set(err, SHADE_FAILED, "%.*s%s%s", (int)strcspn(msg, "\n"), msg,
		detail ? ": " : "", detail ? detail : "");
	/* Keep the one line one line. */
	for (char *p = err->msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", state ? state : "");
	err_set_stmt(err, sql);
	if (state && strcmp(state, SQLSTATE_LOCK_NOT_AVAILABLE) == 0)
		err->retryable = true;
	if (state && strcmp(state, SQLSTATE_QUERY_CANCELED) == 0 && cancel_sent)
		err->cancelled = true;
	/* Class 08 or an administrator's shutdown or termination (57P0x). */
	if (PQstatus(e->conn) != CONNECTION_OK || (state && strncmp(state, "08", 2) == 0) ||
	    (state && strncmp(state, "57P0", 4) == 0))
		err->conn_lost = true;
}

static void
pgsql_exec_cancel(struct eng *e)
{
	PGcancel *c = PQgetCancel(e->conn);
	char buf[256];

	if (c) {
		(void)PQcancel(c, buf, sizeof(buf));
		PQfreeCancel(c);
	}
}

/*
 * Run one statement with text parameters. On success *out (if not NULL)
 * gets the result, which the caller clears. Waits through dbwait: the loop
 * keeps serving signals, and a cancel request cancels the statement.
 */
int
pgsql_exec(struct eng *e, const char *sql, int nparams, const char *const *params,
	   PGresult **out, struct shade_err *err)
{
	PGresult *res, *failed = NULL, *last = NULL;
	bool cancel_sent = false;
	int sock = PQsocket(e->conn);
	int rc = -1;

	if (out)
		*out = NULL;
	if (e->opts && e->opts->trace)
		e->opts->trace(e->opts->trace_arg, sql);
	if (!PQsendQueryParams(e->conn, sql, nparams, NULL, params, NULL, NULL, 0)) {
		pgsql_exec_set_error(e, NULL, sql, false, err);
		return -1;
	}
	for (;;) {
		int f = PQflush(e->conn);

		if (f == 0)
			break;
		if (f < 0) {
			pgsql_exec_set_error(e, NULL, sql, false, err);
			return -1;
		}
		(void)dbwait_fd(e->w, sock, DBWAIT_READ | DBWAIT_WRITE, -1, true);
		if (!PQconsumeInput(e->conn)) {
			pgsql_exec_set_error(e, NULL, sql, false, err);
			return -1;
		}
	}
	for (;;) {
		while (PQisBusy(e->conn)) {
			enum dbwait_result wr = dbwait_fd(e->w, sock, DBWAIT_READ, -1, cancel_sent);

			if (wr == DBWAIT_CANCEL) {
				pgsql_exec_cancel(e);
				cancel_sent = true;
				continue;
			}
			if (!PQconsumeInput(e->conn)) {
				pgsql_exec_set_error(e, NULL, sql, cancel_sent, err);
				goto out;
			}
		}
		res = PQgetResult(e->conn);
		if (res == NULL)
			break;
		switch (PQresultStatus(res)) {
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			PQclear(last);
			last = res;
			break;
		default:
			if (failed == NULL)
				failed = res;
			else
				PQclear(res);
			break;
		}
	}
	if (failed) {
		pgsql_exec_set_error(e, failed, sql, cancel_sent, err);
		goto out;
	}
	if (last == NULL) {
		pgsql_exec_set_error(e, NULL, sql, cancel_sent, err);
		goto out;
	}
	if (out) {
		*out = last;
		last = NULL;
	}
	rc = 0;
out:
	PQclear(failed);
	PQclear(last);
	return rc;
}

/* Run a statement without parameters; a dry run records it in its plan. */
int
pgsql_exec_run(struct eng *e, const char *sql, struct shade_err *err)
{
	if (e->plan && strcmp(sql, "BEGIN") != 0 && strcmp(sql, "COMMIT") != 0)
		strlist_push(e->plan, sql);
	return pgsql_exec(e, sql, 0, NULL, NULL, err);
}

/* Run each statement of l in order. */
int
pgsql_exec_run_list(struct eng *e, const struct strlist *l, struct shade_err *err)
{
	for (size_t i = 0; i < l->len; i++)
		if (pgsql_exec_run(e, l->items[i], err) != 0)
			return -1;
	return 0;
}

/* Append l's statements to a dry run's plan. */
void
pgsql_exec_plan_list(struct eng *e, const struct strlist *l)
{
	for (size_t i = 0; i < l->len; i++)
		strlist_push(e->plan, l->items[i]);
}

/* Run a statement built in b, then empty b. */
int
pgsql_exec_run_buf(struct eng *e, struct buf *b, struct shade_err *err)
{
	int rc = pgsql_exec_run(e, buf_str(b), err);

	buf_reset(b);
	return rc;
}

/* Roll back whatever transaction a failed statement left open. */
void
pgsql_exec_reset_txn(struct eng *e)
{
	struct shade_err ignored = {0};

	if (PQstatus(e->conn) == CONNECTION_OK &&
	    PQtransactionStatus(e->conn) != PQTRANS_IDLE &&
	    pgsql_exec_run(e, "ROLLBACK", &ignored) != 0) {
		/* Nothing more to do: the next statement reports the state. */
	}
	err_clear(&ignored);
}

/* "SET LOCAL lock_timeout" for DDL on T: never queue the app behind us long. */
int
pgsql_exec_set_lock_timeout(struct eng *e, struct shade_err *err)
{
	char ms[32];
	const char *params[1] = {ms};

	snprintf(ms, sizeof(ms), "%ld", (long)(e->opts->lock_timeout * 1000 + 0.5));
	return pgsql_exec(e, "SELECT pg_catalog.set_config('lock_timeout', $1, true)",
			  1, params, NULL, err);
}

/*
 * The user's search_path until the end of the transaction, for the
 * operator's own SQL: its names mean what they mean to the operator. Only
 * inside a transaction (set_config's is_local), so that a failure that
 * rolls it back also ends it.
 */
int
pgsql_exec_user_path(struct eng *e, struct shade_err *err)
{
	const char *params[1] = {e->user_path};

	return pgsql_exec(e, "SELECT pg_catalog.set_config('search_path', $1, true)", 1, params,
			  NULL, err);
}

/* Back to shade's own search_path for the rest of the transaction. */
int
pgsql_exec_pinned_path(struct eng *e, struct shade_err *err)
{
	const char *params[1] = {PGSQL_PINNED_PATH};

	return pgsql_exec(e, "SELECT pg_catalog.set_config('search_path', $1, true)", 1, params,
			  NULL, err);
}
