/*
 * writer/db.c - the write load's side of the conversation with the server:
 * connecting, running a statement with bound text values on PostgreSQL
 * (libpq) or MariaDB (prepared statements), and sorting its errors into
 * those to retry, those that end the worker, and (--unique-churn) unique
 * violations, which are races between workers for a value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "writer.h"

#define WRITER_MAX_ERRORS_SHOWN 5

void
writer_report(struct writer *w, const char *what, const char *sql)
{
	if (w->errors_shown++ >= WRITER_MAX_ERRORS_SHOWN)
		return;
	fprintf(stderr, "writer[%d]: %s%s%s\n", w->id, what,
	    sql ? " in: " : "", sql ? sql : "");
}

static enum writer_res
writer_pg_result(struct writer *w, PGresult *res, const char *sql,
		 long long *affected)
{
	ExecStatusType st = PQresultStatus(res);
	const char *state;
	enum writer_res r;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (affected)
			*affected = strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		return WRES_OK;
	}
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state && strcmp(state, "42703") == 0 && w->o->renamed_key && !w->renamed) {
		PQclear(res);
		return WRES_RENAMED;  /* undefined_column */
	}
	if (PQstatus(w->pg) != CONNECTION_OK)
		r = WRES_FATAL;
	else if (state && (strcmp(state, "40P01") == 0 ||
	    strcmp(state, "40001") == 0 || strcmp(state, "55P03") == 0))
		r = WRES_RETRY;
	else if (state && strcmp(state, "23505") == 0 && w->o->churn)
		r = WRES_DUP;
	else
		r = WRES_ERROR;
	if (r != WRES_RETRY && r != WRES_DUP) {
		char msg[600];

		snprintf(msg, sizeof(msg), "%s (SQLSTATE %s)",
		    res ? PQresultErrorMessage(res) : PQerrorMessage(w->pg),
		    state ? state : "none");
		msg[strcspn(msg, "\n")] = '\0';
		writer_report(w, msg, sql);
	}
	PQclear(res);
	return r;
}

static bool
writer_my_retryable(unsigned e)
{
	/* deadlock, lock wait timeout, record changed since last read */
	return e == 1213 || e == 1205 || e == 1020;
}

static bool
writer_my_fatal(unsigned e)
{
	/* server gone, lost connection, can't connect */
	return e == 2006 || e == 2013 || e == 2002 || e == 2003 || e == 2055;
}

static enum writer_res
writer_my_error(struct writer *w, unsigned e, const char *msg, const char *sql)
{
	char line[600];

	if (writer_my_retryable(e))
		return WRES_RETRY;
	if (e == 1054 && w->o->renamed_key && !w->renamed)
		return WRES_RENAMED;  /* unknown column */
	if (e == 1062 && w->o->churn)
		return WRES_DUP;
	snprintf(line, sizeof(line), "%s (errno %u)", msg, e);
	writer_report(w, line, sql);
	return writer_my_fatal(e) ? WRES_FATAL : WRES_ERROR;
}

/* Run a statement without parameters (BEGIN, COMMIT, ROLLBACK). */
enum writer_res
writer_simple(struct writer *w, const char *sql)
{
	if (w->pg)
		return writer_pg_result(w, PQexec(w->pg, sql), sql, NULL);
	if (mysql_query(w->my, sql) != 0)
		return writer_my_error(w, mysql_errno(w->my), mysql_error(w->my),
		    sql);
	return WRES_OK;
}

/* The first row's first column of a statement's result into cell. */
static void
writer_pg_cell(PGresult *res, struct writer_cell *cell)
{
	memset(cell, 0, sizeof(*cell));
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) == 0)
		return;
	cell->found = true;
	cell->null = PQgetisnull(res, 0, 0);
	snprintf(cell->v, sizeof(cell->v), "%s", PQgetvalue(res, 0, 0));
}

static int
writer_my_cell(MYSQL_STMT *st, struct writer_cell *cell)
{
	MYSQL_BIND rb;
	unsigned long len = 0;
	my_bool isnull = 0;
	int f;

	memset(cell, 0, sizeof(*cell));
	memset(&rb, 0, sizeof(rb));
	rb.buffer_type = MYSQL_TYPE_STRING;
	rb.buffer = cell->v;
	rb.buffer_length = sizeof(cell->v) - 1;
	rb.length = &len;
	rb.is_null = &isnull;
	if (mysql_stmt_bind_result(st, &rb) != 0 || mysql_stmt_store_result(st) != 0)
		return -1;
	f = mysql_stmt_fetch(st);
	if (f == 1)
		return -1;
	cell->found = f != MYSQL_NO_DATA;
	cell->null = cell->found && isnull;
	return 0;
}

/*
 * Run sql with text parameters (NULL: SQL NULL); *affected rows. cell
 * (not NULL): the statement is a SELECT of one column, and cell gets the
 * value of its first row.
 */
enum writer_res
writer_exec(struct writer *w, const char *sql, int n, const char *const *params,
	    long long *affected, struct writer_cell *cell)
{
	MYSQL_STMT *st;
	MYSQL_BIND bind[WRITER_MAX_PARAMS];
	unsigned long lens[WRITER_MAX_PARAMS];
	my_bool nulls[WRITER_MAX_PARAMS];
	enum writer_res r = WRES_OK;

	if (w->pg) {
		PGresult *res = PQexecParams(w->pg, sql, n, NULL, params, NULL, NULL, 0);

		if (cell)
			writer_pg_cell(res, cell);
		return writer_pg_result(w, res, sql, affected);
	}

	/*
	 * Prepared afresh each time: the table may have been swapped under
	 * its name since the last statement.
	 */
	st = mysql_stmt_init(w->my);
	if (st == NULL)
		return writer_my_error(w, mysql_errno(w->my), mysql_error(w->my),
		    sql);
	memset(bind, 0, sizeof(bind));
	for (int i = 0; i < n; i++) {
		lens[i] = params[i] ? (unsigned long)strlen(params[i]) : 0;
		nulls[i] = params[i] == NULL;
		bind[i].buffer_type = MYSQL_TYPE_STRING;
		bind[i].buffer = (void *)(uintptr_t)(params[i] ? params[i] : "");
		bind[i].buffer_length = lens[i];
		bind[i].length = &lens[i];
		bind[i].is_null = &nulls[i];
	}
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0 ||
	    mysql_stmt_bind_param(st, bind) != 0 ||
	    mysql_stmt_execute(st) != 0 ||
	    (cell && writer_my_cell(st, cell) != 0)) {
		r = writer_my_error(w, mysql_stmt_errno(st), mysql_stmt_error(st),
		    sql);
		goto out;
	}
	*affected = (long long)mysql_stmt_affected_rows(st);
out:
	mysql_stmt_close(st);
	return r;
}

int
writer_connect(struct writer *w, struct shade_err *err)
{
	const struct writer_opts *o = w->o;

	if (o->dialect == SQL_PG) {
		const char *keys[] = {"dbname", "application_name",
		    "client_encoding", NULL};
		const char *vals[] = {o->dsn, "shade-writer", "UTF8", NULL};

		w->pg = PQconnectdbParams(keys, vals, 1);
		if (PQstatus(w->pg) != CONNECTION_OK) {
			err_set(err, SHADE_FAILED, "cannot connect: %s",
			    PQerrorMessage(w->pg));
			return -1;
		}
		return 0;
	} else {
		struct dsn d = {0};
		int rc = -1;

		if (dsn_parse(o->dsn, &d, err) != 0)
			return -1;
		w->my = mysql_init(NULL);
		if (w->my == NULL) {
			err_set(err, SHADE_FAILED, "mysql_init failed");
			goto out;
		}
		mysql_options(w->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
		if (mysql_real_connect(w->my, d.host, d.user, d.password,
		    d.database, d.port, d.socket, CLIENT_FOUND_ROWS) == NULL) {
			err_set(err, SHADE_FAILED, "cannot connect: %s",
			    mysql_error(w->my));
			goto out;
		}
		rc = 0;
	out:
		dsn_free(&d);
		return rc;
	}
}

void
writer_disconnect(struct writer *w)
{
	if (w->pg)
		PQfinish(w->pg);
	if (w->my)
		mysql_close(w->my);
	w->pg = NULL;
	w->my = NULL;
}

/* Read the key range of the table (before forking). */
int
writer_read_range(struct writer *w, const struct qname *t, struct shade_err *err)
{
	struct buf b = {0};
	const char *cols = w->o->composite ?
	    "min(a), max(a), min(b), max(b)" : "min(id), max(id)";
	int nk = w->o->composite ? 4 : 2;
	int ncols = nk + w->o->churn;
	char *v[5] = {NULL, NULL, NULL, NULL, NULL};
	int rc = -1;

	/* --unique-churn: fresh values of u go below the smallest there is. */
	sql_build(&b, w->o->dialect, "SELECT %s%s FROM %Q", cols,
	    w->o->churn ? ", min(u)" : "", t);
	if (w->pg) {
		PGresult *res = PQexec(w->pg, buf_str(&b));

		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			err_set(err, SHADE_FAILED, "%s", PQresultErrorMessage(res));
			PQclear(res);
			goto out;
		}
		for (int i = 0; i < ncols; i++)
			if (!PQgetisnull(res, 0, i))
				v[i] = xstrdup(PQgetvalue(res, 0, i));
		PQclear(res);
	} else {
		MYSQL_RES *res;
		MYSQL_ROW row;

		if (mysql_query(w->my, buf_str(&b)) != 0 ||
		    (res = mysql_store_result(w->my)) == NULL) {
			err_set(err, SHADE_FAILED, "%s", mysql_error(w->my));
			goto out;
		}
		row = mysql_fetch_row(res);
		for (int i = 0; row && i < ncols; i++)
			if (row[i])
				v[i] = xstrdup(row[i]);
		mysql_free_result(res);
	}
	w->r.empty = v[0] == NULL;
	for (int i = 0; i < nk / 2; i++) {
		w->r.min[i] = v[2 * i] ? strtoll(v[2 * i], NULL, 10) : 1;
		w->r.max[i] = v[2 * i + 1] ?
		    strtoll(v[2 * i + 1], NULL, 10) : 0;
	}
	w->r.umin = v[nk] ? strtoll(v[nk], NULL, 10) : 0;
	if (w->r.umin > 0)
		w->r.umin = 0;
	rc = 0;
out:
	for (int i = 0; i < 5; i++)
		free(v[i]);
	buf_free(&b);
	return rc;
}
