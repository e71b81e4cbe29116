/*
 * engine/mysql/exec.c - sending statements and reading their results.
 *
 * Every statement goes through myeng_exec(): traced, sent with the
 * non-blocking calls (mysql_real_query_start, mysql_stmt_*_start) and
 * awaited through dbwait, so that signals are served while it runs and a
 * cancel request becomes KILL QUERY on a second connection. A statement
 * with values is prepared and the values bound (struct myeng_params); a
 * result comes back as text (struct myeng_res).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "myeng.h"

/* ---- parameters and results -------------------------------------------- */

void
myeng_param_push(struct myeng_params *p, enum myeng_kind kind, const char *str,
		 long long num)
{
	struct myeng_param *v;

	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 16;
		p->v = xreallocarray(p->v, p->cap, sizeof(*p->v));
	}
	v = &p->v[p->n++];
	memset(v, 0, sizeof(*v));
	v->kind = kind;
	v->str = str;
	v->num = num;
	v->unum = (unsigned long long)num;
}

void
myeng_param_str(struct myeng_params *p, const char *s)
{
	myeng_param_push(p, KIND_TEXT, s, 0);
}

void
myeng_param_int(struct myeng_params *p, long long v)
{
	myeng_param_push(p, KIND_SIGNED, NULL, v);
}

void
myeng_params_free(struct myeng_params *p)
{
	free(p->v);
	*p = (struct myeng_params){0};
}

/* "?, ?, ?" for n parameters. */
void
myeng_marks(struct buf *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_append(b, i ? ", ?" : "?");
}

const char *
myeng_cell(const struct myeng_res *r, size_t row, unsigned col)
{
	return r->cells[row * r->ncols + col];
}

/* The cell, or "" for NULL. */
const char *
myeng_text(const struct myeng_res *r, size_t row, unsigned col)
{
	const char *s = myeng_cell(r, row, col);

	return s ? s : "";
}

int
myeng_res_col(const struct myeng_res *r, const char *name)
{
	for (unsigned i = 0; r->names && i < r->ncols; i++)
		if (strcasecmp(r->names[i], name) == 0)
			return (int)i;
	return -1;
}

void
myeng_res_free(struct myeng_res *r)
{
	for (size_t i = 0; i < r->nrows * r->ncols; i++)
		free(r->cells[i]);
	free(r->cells);
	for (unsigned i = 0; r->names && i < r->ncols; i++)
		free(r->names[i]);
	free(r->names);
	*r = (struct myeng_res){0};
}

static void
myeng_res_add_row(struct myeng_res *r, size_t *cap)
{
	if (r->nrows == *cap) {
		*cap = *cap ? 2 * *cap : 8;
		r->cells = xreallocarray(r->cells, *cap * (r->ncols ? r->ncols : 1),
					 sizeof(char *));
	}
	r->nrows++;
}

/* ---- running statements ------------------------------------------------ */

static void
myeng_set_error(unsigned no, const char *msg, const char *state, const char *sql,
		bool cancel_sent, struct shade_err *err)
{
	err_set(err, SHADE_FAILED, "%s", msg && *msg ? msg : "lost the connection to the server");
	for (char *p = err->msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	err->server_errno = no;
	snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", state ? state : "");
	err_set_stmt(err, sql);
	err->retryable = no == ER_LOCK_WAIT_TIMEOUT || no == ER_LOCK_DEADLOCK;
	err->cancelled = cancel_sent &&
		(no == ER_QUERY_INTERRUPTED || no == CR_SERVER_LOST || no == ER_CONNECTION_KILLED);
	err->conn_lost = !err->cancelled &&
		(no == CR_SERVER_GONE_ERROR || no == CR_SERVER_LOST || no == ER_CONNECTION_KILLED ||
		 no == CR_CONNECTION_ERROR || no == CR_CONN_HOST_ERROR);
}

static void
myeng_conn_error(MYSQL *c, const char *sql, bool cancel_sent, struct shade_err *err)
{
	myeng_set_error(mysql_errno(c), mysql_error(c), mysql_sqlstate(c), sql, cancel_sent, err);
}

static void
myeng_stmt_error(MYSQL_STMT *st, const char *sql, bool cancel_sent, struct shade_err *err)
{
	myeng_set_error(mysql_stmt_errno(st), mysql_stmt_error(st), mysql_stmt_sqlstate(st), sql,
			cancel_sent, err);
}

/*
 * Cancel the statement running on c: KILL QUERY from another connection
 * (the protocol has no in-band cancel). The statement then ends with an
 * error, which its own wait collects. A failure here only means the
 * statement runs to its end.
 */
void
myeng_exec_kill(struct eng *e, MYSQL *c)
{
	struct shade_err kerr = {0};
	struct buf b = {0};

	if (e->killer == NULL && myeng_connect(e, &e->killer, false, &kerr) != 0) {
		myeng_disconnect(&e->killer);
		goto out;
	}
	sql_build(&b, SQL_MYSQL, "KILL QUERY %l", (long long)mysql_thread_id(c));
	if (myeng_exec(e, e->killer, buf_str(&b), NULL, NULL, NULL, &kerr) != 0)
		myeng_disconnect(&e->killer);
out:
	err_clear(&kerr);
	buf_free(&b);
}

/*
 * Wait for what the client library asked for (status: MYSQL_WAIT_*) and
 * return the events that happened, for the library's _cont call. A cancel
 * request kills the statement and keeps waiting for its error. max_s >= 0
 * caps the wait: when it passes, the library is told its wait timed out.
 */
int
myeng_exec_wait_max(struct eng *e, MYSQL *c, int status, double max_s, bool *cancel_sent)
{
	int fd = (int)mysql_get_socket(c);
	int events = 0;
	double timeout = -1;

	if (status & (MYSQL_WAIT_READ | MYSQL_WAIT_EXCEPT))
		events |= DBWAIT_READ;
	if (status & MYSQL_WAIT_WRITE)
		events |= DBWAIT_WRITE;
	if (status & MYSQL_WAIT_TIMEOUT)
		timeout = mysql_get_timeout_value_ms(c) / 1000.0;
	if (max_s >= 0 && (timeout < 0 || max_s < timeout))
		timeout = max_s;
	for (;;) {
		switch (dbwait_fd(e->w, fd, events, timeout, *cancel_sent)) {
		case DBWAIT_READY:
			return status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE | MYSQL_WAIT_EXCEPT);
		case DBWAIT_TIMEOUT:
			return MYSQL_WAIT_TIMEOUT;
		case DBWAIT_CANCEL:
			*cancel_sent = true;
			myeng_exec_kill(e, c);
			break;
		}
	}
}

static int
myeng_exec_wait(struct eng *e, MYSQL *c, int status, bool *cancel_sent)
{
	return myeng_exec_wait_max(e, c, status, -1, cancel_sent);
}

/* Send a text statement; myeng_exec_finish() collects its outcome. */
void
myeng_exec_send(struct eng *e, MYSQL *c, const char *sql, struct myeng_pending *pd)
{
	*pd = (struct myeng_pending){.c = c, .sql = sql, .cancel_sent = c == e->killer};
	if (e->opts && e->opts->trace)
		e->opts->trace(e->opts->trace_arg, sql);
	pd->status = mysql_real_query_start(&pd->ret, c, sql, strlen(sql));
}

int WARN_UNUSED
myeng_exec_finish(struct eng *e, struct myeng_pending *pd, struct shade_err *err)
{
	while (pd->status)
		pd->status = mysql_real_query_cont(
			&pd->ret, pd->c, myeng_exec_wait(e, pd->c, pd->status, &pd->cancel_sent));
	if (pd->ret != 0) {
		myeng_conn_error(pd->c, pd->sql, pd->cancel_sent, err);
		return -1;
	}
	return 0;
}

static void
myeng_res_from(struct myeng_res *res, MYSQL_RES *r)
{
	size_t cap = 0;
	MYSQL_ROW row;

	res->ncols = mysql_num_fields(r);
	res->names = xcalloc(res->ncols ? res->ncols : 1, sizeof(*res->names));
	for (unsigned i = 0; i < res->ncols; i++)
		res->names[i] = xstrdup(mysql_fetch_field_direct(r, i)->name);
	while ((row = mysql_fetch_row(r)) != NULL) {
		unsigned long *len = mysql_fetch_lengths(r);

		myeng_res_add_row(res, &cap);
		for (unsigned i = 0; i < res->ncols; i++)
			res->cells[(res->nrows - 1) * res->ncols + i] =
				row[i] ? xstrndup(row[i], len[i]) : NULL;
	}
}

/* The rest of a text statement: its results, after myeng_exec_send. */
static int WARN_UNUSED
myeng_exec_text(struct eng *e, struct myeng_pending *pd, struct myeng_res *res,
		unsigned long long *affected, struct shade_err *err)
{
	MYSQL *c = pd->c;
	bool got = false;
	int status, more;

	if (myeng_exec_finish(e, pd, err) != 0)
		return -1;
	for (;;) {
		MYSQL_RES *r = NULL;

		status = mysql_store_result_start(&r, c);
		while (status)
			status = mysql_store_result_cont(
				&r, c, myeng_exec_wait(e, c, status, &pd->cancel_sent));
		if (r == NULL) {
			if (mysql_field_count(c) != 0) {
				myeng_conn_error(c, pd->sql, pd->cancel_sent, err);
				return -1;
			}
			if (affected)
				*affected = mysql_affected_rows(c);
		} else {
			if (res && !got)
				myeng_res_from(res, r);
			got = true;
			mysql_free_result(r);
		}
		if (!mysql_more_results(c))
			break;
		status = mysql_next_result_start(&more, c);
		while (status)
			status = mysql_next_result_cont(
				&more, c, myeng_exec_wait(e, c, status, &pd->cancel_sent));
		if (more > 0) {
			myeng_conn_error(c, pd->sql, pd->cancel_sent, err);
			return -1;
		}
		if (more < 0)
			break;
	}
	return 0;
}

static int WARN_UNUSED
myeng_stmt_fetch_all(MYSQL_STMT *st, struct myeng_res *res, const char *sql,
		     struct shade_err *err)
{
	MYSQL_BIND *rb;
	unsigned long *len;
	my_bool *isnull;
	size_t cap = 0;
	int f, rc = -1;

	res->ncols = mysql_stmt_field_count(st);
	rb = xcalloc(res->ncols, sizeof(*rb));
	len = xcalloc(res->ncols, sizeof(*len));
	isnull = xcalloc(res->ncols, sizeof(*isnull));
	for (unsigned i = 0; i < res->ncols; i++) {
		rb[i].buffer_type = MYSQL_TYPE_STRING;
		rb[i].length = &len[i];
		rb[i].is_null = &isnull[i];
	}
	if (mysql_stmt_bind_result(st, rb)) {
		myeng_stmt_error(st, sql, false, err);
		goto out;
	}
	/* Rows are stored client-side already: fetching does no I/O. */
	while ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED) {
		myeng_res_add_row(res, &cap);
		for (unsigned i = 0; i < res->ncols; i++) {
			char **cell = &res->cells[(res->nrows - 1) * res->ncols + i];
			MYSQL_BIND one = {0};
			unsigned long got = 0;

			*cell = NULL;
			if (isnull[i])
				continue;
			*cell = xmalloc(len[i] + 1);
			one.buffer_type = MYSQL_TYPE_STRING;
			one.buffer = *cell;
			one.buffer_length = len[i] + 1;
			one.length = &got;
			if (len[i] > 0 && mysql_stmt_fetch_column(st, &one, i, 0)) {
				myeng_stmt_error(st, sql, false, err);
				goto out;
			}
			(*cell)[len[i]] = '\0';
		}
	}
	if (f != MYSQL_NO_DATA) {
		myeng_stmt_error(st, sql, false, err);
		goto out;
	}
	rc = 0;
out:
	free(rb);
	free(len);
	free(isnull);
	return rc;
}

/* A statement with parameters: prepared, bound, executed, results stored. */
static int WARN_UNUSED
myeng_exec_stmt(struct eng *e, MYSQL *c, const char *sql, const struct myeng_params *p,
		struct myeng_res *res, unsigned long long *affected, bool *cancel_sent,
		struct shade_err *err)
{
	MYSQL_STMT *st = mysql_stmt_init(c);
	MYSQL_BIND *b = xcalloc(p->n, sizeof(*b));
	unsigned long *len = xcalloc(p->n, sizeof(*len));
	int status, ret, rc = -1;

	if (st == NULL)
		die("out of memory");
	status = mysql_stmt_prepare_start(&ret, st, sql, strlen(sql));
	while (status)
		status = mysql_stmt_prepare_cont(&ret, st,
						 myeng_exec_wait(e, c, status, cancel_sent));
	if (ret != 0) {
		myeng_stmt_error(st, sql, *cancel_sent, err);
		goto out;
	}
	if (mysql_stmt_param_count(st) != p->n)
		die("internal error: %lu parameters for %zu values in: %s",
		    mysql_stmt_param_count(st), p->n, sql);
	for (size_t i = 0; i < p->n; i++) {
		const struct myeng_param *v = &p->v[i];

		switch (v->kind) {
		case KIND_SIGNED:
			b[i].buffer_type = MYSQL_TYPE_LONGLONG;
			b[i].buffer = (void *)&v->num;
			break;
		case KIND_UNSIGNED:
			b[i].buffer_type = MYSQL_TYPE_LONGLONG;
			b[i].buffer = (void *)&v->unum;
			b[i].is_unsigned = 1;
			break;
		case KIND_DECIMAL:
		case KIND_TEXT:
		case KIND_HEX:
			b[i].buffer_type = v->kind == KIND_DECIMAL ? MYSQL_TYPE_NEWDECIMAL
								   : MYSQL_TYPE_STRING;
			b[i].buffer = (void *)v->str;
			len[i] = strlen(v->str);
			b[i].buffer_length = len[i];
			b[i].length = &len[i];
			break;
		}
	}
	if (mysql_stmt_bind_param(st, b)) {
		myeng_stmt_error(st, sql, *cancel_sent, err);
		goto out;
	}
	status = mysql_stmt_execute_start(&ret, st);
	while (status)
		status = mysql_stmt_execute_cont(&ret, st,
						 myeng_exec_wait(e, c, status, cancel_sent));
	if (ret != 0) {
		myeng_stmt_error(st, sql, *cancel_sent, err);
		goto out;
	}
	if (mysql_stmt_field_count(st) > 0) {
		status = mysql_stmt_store_result_start(&ret, st);
		while (status)
			status = mysql_stmt_store_result_cont(
				&ret, st, myeng_exec_wait(e, c, status, cancel_sent));
		if (ret != 0) {
			myeng_stmt_error(st, sql, *cancel_sent, err);
			goto out;
		}
		if (res) {
			if (myeng_stmt_fetch_all(st, res, sql, err) != 0)
				goto out;
		}
	} else if (affected) {
		*affected = mysql_stmt_affected_rows(st);
	}
	rc = 0;
out:
	/* COM_STMT_CLOSE has no reply: closing does not wait. */
	mysql_stmt_close(st);
	free(b);
	free(len);
	return rc;
}

/*
 * Run one statement on connection c: text when there are no parameters,
 * else prepared with p bound. res (if not NULL) gets the first result set,
 * which the caller frees; affected the rows a DML statement changed. Waits
 * through dbwait: the loop keeps serving signals, and a cancel request
 * kills the statement. During a dry run (e->plan set) a statement for the
 * main connection is recorded as it is sent, its values as the ? they are.
 */
int WARN_UNUSED
myeng_exec(struct eng *e, MYSQL *c, const char *sql, const struct myeng_params *p,
	   struct myeng_res *res, unsigned long long *affected, struct shade_err *err)
{
	struct myeng_pending pd;
	bool cancel_sent = c == e->killer;
	int rc;

	if (res)
		*res = (struct myeng_res){0};
	if (affected)
		*affected = 0;
	if (e->plan && c == e->conn)
		strlist_push(e->plan, sql);
	if (p == NULL || p->n == 0) {
		myeng_exec_send(e, c, sql, &pd);
		rc = myeng_exec_text(e, &pd, res, affected, err);
	} else {
		if (e->opts && e->opts->trace)
			e->opts->trace(e->opts->trace_arg, sql);
		rc = myeng_exec_stmt(e, c, sql, p, res, affected, &cancel_sent, err);
	}
	if (rc != 0 && res)
		myeng_res_free(res);
	return rc;
}

int WARN_UNUSED
myeng_run(struct eng *e, const char *sql, struct shade_err *err)
{
	return myeng_exec(e, e->conn, sql, NULL, NULL, NULL, err);
}

/* Run a statement built in b, then empty b. */
int WARN_UNUSED
myeng_run_buf(struct eng *e, struct buf *b, struct shade_err *err)
{
	int rc = myeng_run(e, buf_str(b), err);

	buf_reset(b);
	return rc;
}

int WARN_UNUSED
myeng_query(struct eng *e, const char *sql, const struct myeng_params *p,
	    struct myeng_res *res, struct shade_err *err)
{
	return myeng_exec(e, e->conn, sql, p, res, NULL, err);
}

/* Roll back whatever transaction a failed statement left open. */
void
myeng_rollback(struct eng *e)
{
	struct shade_err ignored = {0};

	if (myeng_run(e, "ROLLBACK", &ignored) != 0) {
		/* Nothing more to do: the next statement reports the state. */
	}
	err_clear(&ignored);
}
