/*
 * engine/mysql.c - the MySQL/MariaDB engine, on MariaDB Connector/C's
 * non-blocking API.
 *
 * Every statement goes through myeng_exec(): traced, sent with the
 * non-blocking calls (mysql_real_query_start, mysql_stmt_*_start) and
 * awaited through dbwait, so that signals are served while it runs and a
 * cancel request becomes KILL QUERY on a second connection. Values are bound
 * parameters of prepared statements; identifiers reach SQL only through
 * sql_build()/sql_ident(). Multi-statements stay off, so a second statement
 * smuggled into the ALTER-BODY is a syntax error.
 *
 * Objects shade creates next to table T, in T's database:
 *   _T_new                    the shadow: LIKE T, then the ALTER-BODY; its
 *                             secondary indexes are dropped and rebuilt once
 *                             after the copy (so that the only unique key
 *                             during the copy is the primary key: see copy)
 *   _T_log                    the change log: an auto-increment id plus T's
 *                             key columns with T's types
 *   _T_shade_ins/_upd/_del    AFTER row triggers on T writing the log
 *   T_shade_cut               the swap's sentry (a name that sorts after T)
 *   _<trigger>_shade_tmp      T's own triggers on the shadow, from the swap
 *                             until they get their names back right after
 *   _T_old                    T after the swap, kept unless --drop-old
 * The dry run builds the shadow as a TEMPORARY table, which only its
 * session sees: MySQL cannot roll DDL back.
 *
 * The swap. MariaDB refuses RENAME TABLE under LOCK TABLES, and renaming in
 * two ALTER TABLE ... RENAME steps lets a waiting writer find no table in
 * between. So the cut-over is gh-ost's, adapted: one connection locks T
 * (writers queue, readers go on) and the sentry, the main connection drains
 * the log, a third sends RENAME TABLE T TO T_shade_cut, _T_new TO T, which
 * queues behind the lock; the lock holder drops the sentry and unlocks, and
 * the RENAME runs before the queued writers. Details at myeng_swap().
 */
#include "engine.h"

#include <errno.h>
#include <math.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <errmsg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "backoff.h"
#include "colmap.h"
#include "ident.h"
#include "tty.h"

/*
 * Strict: a row that does not fit the new schema is an error, never a
 * truncated or defaulted value. NO_AUTO_VALUE_ON_ZERO: a row whose
 * AUTO_INCREMENT column holds 0 is copied as 0, not given a new number.
 */
#define MYENG_SQL_MODE \
	"STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO," \
	"NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO"

/* Log rows per transaction while the swap drains the log under its lock. */
#define MYENG_DRAIN_BATCH 10000
/* Most ids bound in one IN list (the protocol allows 65535 parameters). */
#define MYENG_IN_MAX 5000

/* How a key column's values travel as text and are bound. */
enum myeng_kind {
	KIND_SIGNED,    /* integer types: bound as a 64-bit integer */
	KIND_UNSIGNED,
	KIND_DECIMAL,   /* bound as a decimal */
	KIND_TEXT,      /* character strings, dates and times: bound as a string */
	KIND_HEX,       /* binary strings: read with HEX(), bound with UNHEX(?) */
};

struct myeng_key {
	char *name;        /* the column on T and on the log */
	char *shadow_name; /* its name on the shadow */
	char *type;        /* COLUMN_TYPE as the server writes it */
	char *charset;     /* character strings only, else NULL */
	char *collation;
	enum myeng_kind kind;
};

/* One bound parameter. Strings are borrowed and must outlive the statement. */
struct myeng_param {
	enum myeng_kind kind;
	long long num;
	unsigned long long unum;
	const char *str;
};

struct myeng_params {
	struct myeng_param *v;
	size_t n, cap;
};

/* A result set as text; cells row by row, NULL for SQL NULL. */
struct myeng_res {
	size_t nrows;
	unsigned ncols;
	char **cells;
};

/* A text statement sent but not yet finished (the swap's RENAME). */
struct myeng_pending {
	MYSQL *c;
	const char *sql;
	int status;        /* what the client library waits for; 0: done */
	int ret;
	bool cancel_sent;
};

/* A trigger of T's own, carried over to the new table at the swap. */
struct myeng_trigger {
	char *name;
	char *tmp;        /* its name on the shadow until the swap frees name */
	char *timing;     /* BEFORE or AFTER */
	char *event;      /* INSERT, UPDATE or DELETE */
	char *body;       /* ACTION_STATEMENT, as the server keeps it */
	char *definer;    /* `user`@`host` */
	char *sql_mode;   /* the mode it was created (and must run) under */
};

struct eng {
	MYSQL *conn;
	MYSQL *killer;     /* opened on the first cancel: runs KILL QUERY */
	MYSQL *locker;     /* the swap's lock holder */
	MYSQL *renamer;    /* the swap's RENAME */
	struct dbwait *w;
	const struct engine_opts *opts;
	struct dsn dsn;    /* a copy, for the extra connections */
	bool mariadb;
	int lctn;          /* lower_case_table_names */

	struct qname orig;      /* T, database-qualified */
	struct qname shadow;    /* _T_new */
	struct qname log;       /* _T_log */
	struct qname old;       /* _T_old */
	struct qname sentry;    /* T_shade_cut: the swap's sentry, then T */
	struct qname trg[3];    /* _T_shade_ins, _upd, _del */
	char *seq;              /* the log's id column */
	char *display;

	struct myeng_key *pk;
	size_t npk;
	struct strlist pkcols;      /* the key columns on T, in order */
	struct strlist shadow_pk;   /* their names on the shadow */
	struct strlist src;         /* copy mapping: T's column ... */
	struct strlist dst;         /* ... goes into the shadow's column */
	struct strlist deferred;    /* index definitions to add after the copy */
	struct myeng_trigger *utrg; /* T's own triggers, in firing order */
	size_t nutrg;
	size_t utrg_on_shadow;      /* of them created on the shadow (tmp names) */
	bool utrg_named;            /* they carry their own names on the new T */
	char *ai_key;               /* temporary index kept for AUTO_INCREMENT */

	bool shadow_created;
	bool shadow_temporary;      /* the dry run's shadow */
	bool log_created;
	bool trg_created[3];
	bool sentry_created;
	bool locked;                /* the locker holds LOCK TABLES */
	bool swapped;
	bool old_named;             /* the old table is called _T_old */

	/* Statements built once the shadow exists. */
	char *sql_max;
	char *sql_probe_first;
	char *sql_probe_next;
	char *sql_copy_first;
	char *sql_copy_next;
};

static const char *const trg_suffix[3] = {"_shade_ins", "_shade_upd", "_shade_del"};

/* ---- parameters and results -------------------------------------------- */

static void
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

static void
myeng_param_str(struct myeng_params *p, const char *s)
{
	myeng_param_push(p, KIND_TEXT, s, 0);
}

static void
myeng_param_int(struct myeng_params *p, long long v)
{
	myeng_param_push(p, KIND_SIGNED, NULL, v);
}

/* A key value, typed as its column: integers bind as integers. */
static int WARN_UNUSED
myeng_param_key(struct myeng_params *p, const struct myeng_key *k, const char *val,
		struct shade_err *err)
{
	char *end;

	errno = 0;
	switch (k->kind) {
	case KIND_SIGNED:
		myeng_param_push(p, KIND_SIGNED, NULL, strtoll(val, &end, 10));
		break;
	case KIND_UNSIGNED:
		myeng_param_push(p, KIND_UNSIGNED, NULL, 0);
		p->v[p->n - 1].unum = strtoull(val, &end, 10);
		break;
	default:
		myeng_param_push(p, k->kind, val, 0);
		return 0;
	}
	if (errno != 0 || end == val || *end != '\0') {
		err_set(err, SHADE_FAILED, "internal error: key value \"%s\" of %s is not an integer",
			val, k->name);
		return -1;
	}
	return 0;
}

static void
myeng_params_free(struct myeng_params *p)
{
	free(p->v);
	*p = (struct myeng_params){0};
}

/* "?, ?, ?" for n parameters. */
static void
myeng_marks(struct buf *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_append(b, i ? ", ?" : "?");
}

static const char *
myeng_cell(const struct myeng_res *r, size_t row, unsigned col)
{
	return r->cells[row * r->ncols + col];
}

/* The cell, or "" for NULL. */
static const char *
myeng_text(const struct myeng_res *r, size_t row, unsigned col)
{
	const char *s = myeng_cell(r, row, col);

	return s ? s : "";
}

static void
myeng_res_free(struct myeng_res *r)
{
	for (size_t i = 0; i < r->nrows * r->ncols; i++)
		free(r->cells[i]);
	free(r->cells);
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

static int WARN_UNUSED myeng_connect(struct eng *e, MYSQL **out, bool setup,
				     struct shade_err *err);
static int WARN_UNUSED myeng_exec(struct eng *e, MYSQL *c, const char *sql,
				  const struct myeng_params *p, struct myeng_res *res,
				  unsigned long long *affected, struct shade_err *err);

static void
myeng_close_conn(MYSQL **c)
{
	if (*c) {
		mysql_close(*c);
		*c = NULL;
	}
}

/*
 * Cancel the statement running on c: KILL QUERY from another connection
 * (the protocol has no in-band cancel). The statement then ends with an
 * error, which its own wait collects. A failure here only means the
 * statement runs to its end.
 */
static void
myeng_kill(struct eng *e, MYSQL *c)
{
	struct shade_err kerr = {0};
	struct buf b = {0};

	if (e->killer == NULL && myeng_connect(e, &e->killer, false, &kerr) != 0) {
		myeng_close_conn(&e->killer);
		goto out;
	}
	sql_build(&b, SQL_MYSQL, "KILL QUERY %l", (long long)mysql_thread_id(c));
	if (myeng_exec(e, e->killer, buf_str(&b), NULL, NULL, NULL, &kerr) != 0)
		myeng_close_conn(&e->killer);
out:
	err_clear(&kerr);
	buf_free(&b);
}

/*
 * Wait for what the client library asked for (status: MYSQL_WAIT_*) and
 * return the events that happened, for the library's _cont call. A cancel
 * request kills the statement and keeps waiting for its error.
 */
static int
myeng_wait(struct eng *e, MYSQL *c, int status, bool *cancel_sent)
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
	for (;;) {
		switch (dbwait_fd(e->w, fd, events, timeout, *cancel_sent)) {
		case DBWAIT_READY:
			return status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE | MYSQL_WAIT_EXCEPT);
		case DBWAIT_TIMEOUT:
			return MYSQL_WAIT_TIMEOUT;
		case DBWAIT_CANCEL:
			*cancel_sent = true;
			myeng_kill(e, c);
			break;
		}
	}
}

/* Send a text statement; myeng_finish() collects its outcome. */
static void
myeng_send(struct eng *e, MYSQL *c, const char *sql, struct myeng_pending *pd)
{
	*pd = (struct myeng_pending){.c = c, .sql = sql, .cancel_sent = c == e->killer};
	if (e->opts && e->opts->trace)
		e->opts->trace(e->opts->trace_arg, sql);
	pd->status = mysql_real_query_start(&pd->ret, c, sql, strlen(sql));
}

static int WARN_UNUSED
myeng_finish(struct eng *e, struct myeng_pending *pd, struct shade_err *err)
{
	while (pd->status)
		pd->status = mysql_real_query_cont(&pd->ret, pd->c,
						   myeng_wait(e, pd->c, pd->status, &pd->cancel_sent));
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
	while ((row = mysql_fetch_row(r)) != NULL) {
		unsigned long *len = mysql_fetch_lengths(r);

		myeng_res_add_row(res, &cap);
		for (unsigned i = 0; i < res->ncols; i++)
			res->cells[(res->nrows - 1) * res->ncols + i] =
				row[i] ? xstrndup(row[i], len[i]) : NULL;
	}
}

/* The rest of a text statement: its results, after myeng_send. */
static int WARN_UNUSED
myeng_exec_text(struct eng *e, struct myeng_pending *pd, struct myeng_res *res,
		unsigned long long *affected, struct shade_err *err)
{
	MYSQL *c = pd->c;
	bool got = false;
	int status, more;

	if (myeng_finish(e, pd, err) != 0)
		return -1;
	for (;;) {
		MYSQL_RES *r = NULL;

		status = mysql_store_result_start(&r, c);
		while (status)
			status = mysql_store_result_cont(&r, c, myeng_wait(e, c, status, &pd->cancel_sent));
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
			status = mysql_next_result_cont(&more, c, myeng_wait(e, c, status, &pd->cancel_sent));
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
		status = mysql_stmt_prepare_cont(&ret, st, myeng_wait(e, c, status, cancel_sent));
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
		status = mysql_stmt_execute_cont(&ret, st, myeng_wait(e, c, status, cancel_sent));
	if (ret != 0) {
		myeng_stmt_error(st, sql, *cancel_sent, err);
		goto out;
	}
	if (mysql_stmt_field_count(st) > 0) {
		status = mysql_stmt_store_result_start(&ret, st);
		while (status)
			status = mysql_stmt_store_result_cont(&ret, st,
							      myeng_wait(e, c, status, cancel_sent));
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
 * kills the statement.
 */
static int WARN_UNUSED
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
	if (p == NULL || p->n == 0) {
		myeng_send(e, c, sql, &pd);
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

static int WARN_UNUSED
myeng_run(struct eng *e, const char *sql, struct shade_err *err)
{
	return myeng_exec(e, e->conn, sql, NULL, NULL, NULL, err);
}

/* Run a statement built in b, then empty b. */
static int WARN_UNUSED
myeng_run_buf(struct eng *e, struct buf *b, struct shade_err *err)
{
	int rc = myeng_run(e, buf_str(b), err);

	buf_reset(b);
	return rc;
}

static int WARN_UNUSED
myeng_query(struct eng *e, const char *sql, const struct myeng_params *p,
	    struct myeng_res *res, struct shade_err *err)
{
	return myeng_exec(e, e->conn, sql, p, res, NULL, err);
}

/* Roll back whatever transaction a failed statement left open. */
static void
myeng_rollback(struct eng *e)
{
	struct shade_err ignored = {0};

	if (myeng_run(e, "ROLLBACK", &ignored) != 0) {
		/* Nothing more to do: the next statement reports the state. */
	}
	err_clear(&ignored);
}

/* ---- connecting -------------------------------------------------------- */

static MYSQL *
myeng_init_conn(void)
{
	MYSQL *c = mysql_init(NULL);
	unsigned timeout = 10;

	if (c == NULL)
		die("out of memory");
	/* ~/.my.cnf and the system option files, [client] group. */
	mysql_options(c, MYSQL_READ_DEFAULT_GROUP, "client");
	mysql_options(c, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(c, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(c, MYSQL_OPT_NONBLOCK, 0);
	return c;
}

/* One connection attempt with password pw (NULL: the option files'). */
static int
myeng_connect_once(struct eng *e, MYSQL *c, const char *pw)
{
	const struct dsn *d = &e->dsn;
	bool no_cancel = true;  /* the connect timeout bounds the wait */
	MYSQL *ret = NULL;
	int status;

	status = mysql_real_connect_start(&ret, c, d->host, d->user, pw, d->database, d->port,
					  d->socket, 0);
	while (status)
		status = mysql_real_connect_cont(&ret, c, myeng_wait(e, c, status, &no_cancel));
	return ret == NULL ? -1 : 0;
}

/*
 * Connect a session as shade needs it. setup: the session settings every
 * statement of the migration relies on (the killer needs none).
 */
static int WARN_UNUSED
myeng_connect(struct eng *e, MYSQL **out, bool setup, struct shade_err *err)
{
	const char *pw = e->dsn.password;
	char *typed = NULL;
	struct buf b = {0};
	MYSQL *c = myeng_init_conn();
	int rc = -1;

	/* MYSQL_PWD is the client tools' convention; the library ignores it. */
	if (pw == NULL)
		pw = getenv("MYSQL_PWD");
	if (myeng_connect_once(e, c, pw) != 0) {
		bool aborted = false;

		if (mysql_errno(c) != ER_ACCESS_DENIED_ERROR || pw != NULL ||
		    !isatty(STDIN_FILENO) ||
		    (typed = tty_read_secret(e->w, "Password: ", &aborted)) == NULL) {
			err_set(err, SHADE_FAILED, "cannot connect to MySQL: %s", mysql_error(c));
			err->server_errno = mysql_errno(c);
			if (aborted) {
				err_set(err, SHADE_ABORTED, "aborted at the password prompt");
				err->cancelled = true;
			}
			goto out;
		}
		mysql_close(c);
		c = myeng_init_conn();
		if (myeng_connect_once(e, c, typed) != 0) {
			err_set(err, SHADE_FAILED, "cannot connect to MySQL: %s", mysql_error(c));
			err->server_errno = mysql_errno(c);
			goto out;
		}
		/* Keep it for the extra connections. */
		e->dsn.password = typed;
		typed = NULL;
	}
	*out = c;
	if (!setup) {
		rc = 0;
		goto out;
	}
	/*
	 * READ COMMITTED: every statement sees the writes committed before it
	 * (the no-lost-write argument needs that) and INSERT ... SELECT reads
	 * without locking rows. lock_wait_timeout bounds every wait for a
	 * metadata lock on T (triggers, the swap), so the application never
	 * queues long behind shade. UTC, so that TIMESTAMP key values survive
	 * the trip through text unchanged (no DST ambiguity).
	 */
	sql_build(&b, SQL_MYSQL,
		  "SET SESSION sql_mode = '" MYENG_SQL_MODE "', SESSION time_zone = '+00:00',"
		  " SESSION lock_wait_timeout = %l, SESSION sql_quote_show_create = 1",
		  (long long)(e->opts->lock_timeout > 1 ? ceil(e->opts->lock_timeout) : 1));
	if (myeng_exec(e, c, buf_str(&b), NULL, NULL, NULL, err) != 0 ||
	    myeng_exec(e, c, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", NULL, NULL,
		       NULL, err) != 0)
		goto out;
	/* No statement time limit: an index build may take long. */
	if (strstr(mysql_get_server_info(c), "MariaDB") != NULL &&
	    myeng_exec(e, c, "SET SESSION max_statement_time = 0", NULL, NULL, NULL, err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0) {
		mysql_close(c);
		if (*out == c)
			*out = NULL;
	}
	if (typed) {
		explicit_bzero(typed, strlen(typed));
		free(typed);
	}
	buf_free(&b);
	return rc;
}

static int
myeng_open(struct eng **out, const struct dsn *dsn, struct dbwait *w,
	   const struct engine_opts *opts, struct shade_err *err)
{
	struct eng *e = xcalloc(1, sizeof(*e));
	struct myeng_res res = {0};
	unsigned long ver;
	int rc = -1;

	e->w = w;
	e->opts = opts;
	*out = e;
	e->dsn.kind = DSN_MYSQL;
	e->dsn.user = dsn->user ? xstrdup(dsn->user) : NULL;
	e->dsn.password = dsn->password ? xstrdup(dsn->password) : NULL;
	e->dsn.host = dsn->host ? xstrdup(dsn->host) : NULL;
	e->dsn.port = dsn->port;
	e->dsn.socket = dsn->socket ? xstrdup(dsn->socket) : NULL;
	e->dsn.database = dsn->database ? xstrdup(dsn->database) : NULL;
	if (myeng_connect(e, &e->conn, true, err) != 0)
		goto out;
	e->mariadb = strstr(mysql_get_server_info(e->conn), "MariaDB") != NULL;
	ver = mysql_get_server_version(e->conn);
	if ((e->mariadb && ver < 100300) || (!e->mariadb && ver < 50700)) {
		err_set(err, SHADE_USAGE, "%s %s is too old: shade needs MariaDB 10.3 or MySQL 5.7 or later",
			e->mariadb ? "MariaDB" : "MySQL", mysql_get_server_info(e->conn));
		goto out;
	}
	if (myeng_query(e, "SELECT @@lower_case_table_names", NULL, &res, err) != 0)
		goto out;
	e->lctn = (int)strtol(myeng_text(&res, 0, 0), NULL, 10);
	rc = 0;
out:
	myeng_res_free(&res);
	return rc;
}

static void
myeng_key_free(struct myeng_key *k)
{
	free(k->name);
	free(k->shadow_name);
	free(k->type);
	free(k->charset);
	free(k->collation);
}

static void
myeng_close(struct eng *e)
{
	if (e == NULL)
		return;
	myeng_close_conn(&e->conn);
	myeng_close_conn(&e->killer);
	myeng_close_conn(&e->locker);
	myeng_close_conn(&e->renamer);
	if (e->dsn.password)
		explicit_bzero(e->dsn.password, strlen(e->dsn.password));
	dsn_free(&e->dsn);
	qname_free(&e->orig);
	qname_free(&e->shadow);
	qname_free(&e->log);
	qname_free(&e->old);
	qname_free(&e->sentry);
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++)
		qname_free(&e->trg[i]);
	free(e->seq);
	free(e->display);
	for (size_t i = 0; i < e->npk; i++)
		myeng_key_free(&e->pk[i]);
	free(e->pk);
	strlist_free(&e->pkcols);
	strlist_free(&e->shadow_pk);
	strlist_free(&e->src);
	strlist_free(&e->dst);
	strlist_free(&e->deferred);
	for (size_t i = 0; i < e->nutrg; i++) {
		struct myeng_trigger *t = &e->utrg[i];

		free(t->name);
		free(t->tmp);
		free(t->timing);
		free(t->event);
		free(t->body);
		free(t->definer);
		free(t->sql_mode);
	}
	free(e->utrg);
	free(e->ai_key);
	free(e->sql_max);
	free(e->sql_probe_first);
	free(e->sql_probe_next);
	free(e->sql_copy_first);
	free(e->sql_copy_next);
	free(e);
	mysql_library_end();
}

/* ---- preflight --------------------------------------------------------- */

static void
myeng_name_in_db(struct qname *q, const char *db, char *name)
{
	q->schema = xstrdup(db);
	q->name = name;
}

/* How a key column of this DATA_TYPE travels; -1: it cannot be a copy key. */
static int
myeng_kind_of(const char *type, const char *coltype)
{
	static const char *const ints[] = {"tinyint", "smallint", "mediumint", "int", "bigint",
					   "year"};
	static const char *const texts[] = {"char", "varchar", "date", "datetime", "timestamp",
					    "time", "uuid", "inet4", "inet6"};

	for (size_t i = 0; i < ARRAY_LEN(ints); i++)
		if (strcasecmp(type, ints[i]) == 0)
			return strstr(coltype, "unsigned") ? KIND_UNSIGNED : KIND_SIGNED;
	if (strcasecmp(type, "decimal") == 0 || strcasecmp(type, "numeric") == 0)
		return KIND_DECIMAL;
	for (size_t i = 0; i < ARRAY_LEN(texts); i++)
		if (strcasecmp(type, texts[i]) == 0)
			return KIND_TEXT;
	if (strcasecmp(type, "binary") == 0 || strcasecmp(type, "varbinary") == 0)
		return KIND_HEX;
	return -1;
}

/* Read T's primary key: names, types and how the values travel. */
static int WARN_UNUSED
myeng_read_pk(struct eng *e, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	int rc = -1;

	myeng_param_str(&p, e->orig.schema);
	myeng_param_str(&p, e->orig.name);
	myeng_param_str(&p, e->orig.name);
	if (myeng_query(e,
			"SELECT s.COLUMN_NAME, s.SUB_PART, c.DATA_TYPE, c.COLUMN_TYPE,"
			"  c.CHARACTER_SET_NAME, c.COLLATION_NAME"
			" FROM information_schema.STATISTICS s"
			" JOIN information_schema.COLUMNS c"
			"   ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME"
			"  AND c.COLUMN_NAME = s.COLUMN_NAME"
			" WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND BINARY s.TABLE_NAME = ?"
			"   AND s.INDEX_NAME = 'PRIMARY'"
			" ORDER BY s.SEQ_IN_INDEX",
			&p, &res, err) != 0)
		goto out;
	if (res.nrows == 0) {
		err_set(err, SHADE_USAGE,
			"%s has no primary key: shade needs one to copy in chunks and to apply changes",
			e->display);
		goto out;
	}
	e->npk = res.nrows;
	e->pk = xcalloc(e->npk, sizeof(*e->pk));
	for (size_t i = 0; i < res.nrows; i++) {
		struct myeng_key *k = &e->pk[i];
		int kind = myeng_kind_of(myeng_text(&res, i, 2), myeng_text(&res, i, 3));

		k->name = xstrdup(myeng_text(&res, i, 0));
		k->type = xstrdup(myeng_text(&res, i, 3));
		if (myeng_cell(&res, i, 4))
			k->charset = xstrdup(myeng_cell(&res, i, 4));
		if (myeng_cell(&res, i, 5))
			k->collation = xstrdup(myeng_cell(&res, i, 5));
		strlist_push(&e->pkcols, k->name);
		if (myeng_cell(&res, i, 1) != NULL) {
			err_set(err, SHADE_USAGE,
				"the primary key of %s uses a prefix of column %s, which shade cannot walk in order",
				e->display, k->name);
			goto out;
		}
		if (kind < 0) {
			err_set(err, SHADE_USAGE,
				"the primary key of %s has column %s of type %s, which shade cannot use as a copy key",
				e->display, k->name, k->type);
			goto out;
		}
		k->kind = (enum myeng_kind)kind;
	}
	/* The log's id column must not clash with a key column. */
	e->seq = xstrdup("_shade_seq");
	while (colmap_find(&e->pkcols, e->seq, true) >= 0) {
		char *longer = xasprintf("%s_", e->seq);

		free(e->seq);
		e->seq = longer;
	}
	rc = 0;
out:
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

/* Foreign keys on table name in db, either way; NULL when there are none. */
static int WARN_UNUSED
myeng_find_fk(struct eng *e, const char *db, const char *name, char **what,
	      struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	int rc = -1;

	*what = NULL;
	myeng_param_str(&p, db);
	myeng_param_str(&p, name);
	myeng_param_str(&p, db);
	myeng_param_str(&p, name);
	if (myeng_query(e,
			"SELECT CONSTRAINT_NAME, TABLE_NAME, REFERENCED_TABLE_NAME"
			" FROM information_schema.REFERENTIAL_CONSTRAINTS"
			" WHERE (CONSTRAINT_SCHEMA = ? AND BINARY TABLE_NAME = ?)"
			"    OR (UNIQUE_CONSTRAINT_SCHEMA = ? AND BINARY REFERENCED_TABLE_NAME = ?)"
			" ORDER BY 1 LIMIT 1",
			&p, &res, err) != 0)
		goto out;
	if (res.nrows > 0)
		*what = xasprintf("foreign key %s (from %s to %s)", myeng_text(&res, 0, 0),
				  myeng_text(&res, 0, 1), myeng_text(&res, 0, 2));
	rc = 0;
out:
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

/* Leftovers of an earlier run: shade's tables or triggers. */
static int WARN_UNUSED
myeng_check_leftovers(struct eng *e, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	const char *db = e->orig.schema;
	int rc = -1;

	myeng_param_str(&p, db);
	myeng_param_str(&p, e->shadow.name);
	myeng_param_str(&p, e->log.name);
	myeng_param_str(&p, e->old.name);
	myeng_param_str(&p, e->sentry.name);
	if (myeng_query(e,
			"SELECT TABLE_NAME FROM information_schema.TABLES"
			" WHERE TABLE_SCHEMA = ? AND BINARY TABLE_NAME IN (?, ?, ?, ?)"
			" ORDER BY TABLE_NAME",
			&p, &res, err) != 0)
		goto out;
	if (res.nrows > 0) {
		const char *name = myeng_text(&res, 0, 0);

		if (strcmp(name, e->old.name) == 0)
			err_set(err, SHADE_USAGE,
				"%s.%s exists (the old table an earlier run kept): drop or rename it first",
				db, name);
		else
			err_set(err, SHADE_USAGE,
				"leftovers of an earlier run: %s.%s exists; if no shade is running on %s, "
				"remove them (DROP TRIGGER IF EXISTS %s.%s; DROP TRIGGER IF EXISTS %s.%s; "
				"DROP TRIGGER IF EXISTS %s.%s; DROP TABLE IF EXISTS %s.%s, %s.%s, %s.%s) and run again",
				db, name, e->display, db, e->trg[0].name, db, e->trg[1].name, db,
				e->trg[2].name, db, e->shadow.name, db, e->log.name, db, e->sentry.name);
		goto out;
	}
	myeng_res_free(&res);
	myeng_params_free(&p);
	myeng_param_str(&p, db);
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++)
		myeng_param_str(&p, e->trg[i].name);
	if (myeng_query(e,
			"SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS"
			" WHERE TRIGGER_SCHEMA = ? AND BINARY TRIGGER_NAME IN (?, ?, ?)",
			&p, &res, err) != 0)
		goto out;
	if (res.nrows > 0) {
		err_set(err, SHADE_USAGE,
			"leftovers of an earlier run: trigger %s.%s exists on %s; if no shade is running on %s, "
			"remove it (DROP TRIGGER %s.%s) and run again",
			db, myeng_text(&res, 0, 0), myeng_text(&res, 0, 1), e->display, db,
			myeng_text(&res, 0, 0));
		goto out;
	}
	rc = 0;
out:
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

/*
 * The swap's sentry: a name that sorts after T byte by byte (see
 * myeng_swap), T_shade_cut when that fits the 64-character limit, else a
 * prefix of T followed by "~" and a hash. NULL if T allows neither.
 */
static char *
myeng_sentry_name(const char *t)
{
	static const char suffix[] = "_shade_cut";
	size_t chars = sql_ident_len(SQL_MYSQL, t, strlen(t)), keep = 0, at = 0;
	struct buf b = {0};

	if (chars + strlen(suffix) <= sql_ident_max(SQL_MYSQL))
		return xasprintf("%s%s", t, suffix);
	/* prefix + "~" + 8 hex + "_cut": the prefix may keep 51 characters. */
	chars = 0;
	for (const char *p = t; *p && chars <= 51; p++) {
		if (((unsigned char)*p & 0xC0) == 0x80)
			continue;
		if ((unsigned char)*p < '~') {
			keep = chars;
			at = (size_t)(p - t);
		}
		chars++;
	}
	if (keep == 0 && (unsigned char)t[0] >= '~')
		return NULL;
	buf_append_n(&b, t, at);
	buf_printf(&b, "~%08x_cut", sql_name_hash(t));
	return buf_take(&b);
}

/*
 * T's own triggers, in the order they fire, to carry over at the swap (the
 * RENAME would leave them on the old table). The temporary names they have
 * on the shadow must be free.
 */
static int WARN_UNUSED
myeng_read_triggers(struct eng *e, struct shade_err *err)
{
	static const char *const timings[] = {"BEFORE", "AFTER"};
	static const char *const events[] = {"INSERT", "UPDATE", "DELETE"};
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	int rc = -1;

	myeng_param_str(&p, e->orig.schema);
	myeng_param_str(&p, e->orig.name);
	if (myeng_query(e,
			"SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT,"
			"  DEFINER, SQL_MODE"
			" FROM information_schema.TRIGGERS"
			" WHERE EVENT_OBJECT_SCHEMA = ? AND BINARY EVENT_OBJECT_TABLE = ?"
			" ORDER BY EVENT_MANIPULATION, ACTION_TIMING, ACTION_ORDER",
			&p, &res, err) != 0)
		goto out;
	e->nutrg = res.nrows;
	e->utrg = xcalloc(res.nrows, sizeof(*e->utrg));
	for (size_t i = 0; i < res.nrows; i++) {
		struct myeng_trigger *t = &e->utrg[i];
		const char *definer = myeng_text(&res, i, 4);
		const char *at = strrchr(definer, '@');
		struct buf b = {0};
		bool ok_timing = false, ok_event = false;

		t->name = xstrdup(myeng_text(&res, i, 0));
		t->tmp = sql_derived_name(SQL_MYSQL, t->name, "_shade_tmp");
		t->timing = xstrdup(myeng_text(&res, i, 1));
		t->event = xstrdup(myeng_text(&res, i, 2));
		t->body = xstrdup(myeng_text(&res, i, 3));
		t->sql_mode = xstrdup(myeng_text(&res, i, 5));
		for (size_t j = 0; j < ARRAY_LEN(timings); j++)
			ok_timing |= strcmp(t->timing, timings[j]) == 0;
		for (size_t j = 0; j < ARRAY_LEN(events); j++)
			ok_event |= strcmp(t->event, events[j]) == 0;
		if (!ok_timing || !ok_event || at == NULL || at == definer || at[1] == '\0') {
			err_set(err, SHADE_USAGE,
				"cannot read trigger %s of %s (%s %s, definer %s) to carry it over",
				t->name, e->display, t->timing, t->event, definer);
			goto out;
		}
		{
			char *user = xstrndup(definer, (size_t)(at - definer));

			sql_build(&b, SQL_MYSQL, "%I@%I", user, at + 1);
			free(user);
		}
		t->definer = buf_take(&b);
	}
	myeng_res_free(&res);
	myeng_params_free(&p);
	if (e->nutrg == 0) {
		rc = 0;
		goto out;
	}
	myeng_param_str(&p, e->orig.schema);
	for (size_t i = 0; i < e->nutrg; i++)
		myeng_param_str(&p, e->utrg[i].tmp);
	{
		struct buf q = {0};

		buf_append(&q, "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS"
			       " WHERE TRIGGER_SCHEMA = ? AND BINARY TRIGGER_NAME IN (");
		myeng_marks(&q, e->nutrg);
		buf_append(&q, ")");
		if (myeng_query(e, buf_str(&q), &p, &res, err) != 0) {
			buf_free(&q);
			goto out;
		}
		buf_free(&q);
	}
	if (res.nrows > 0) {
		err_set(err, SHADE_USAGE,
			"leftovers of an earlier run: trigger %s.%s exists; if no shade is running on %s, "
			"remove it (DROP TRIGGER %s.%s) and run again",
			e->orig.schema, myeng_text(&res, 0, 0), e->display, e->orig.schema,
			myeng_text(&res, 0, 0));
		goto out;
	}
	rc = 0;
out:
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

static int
myeng_preflight(struct eng *e, const struct qname *table, const struct alter_info *alter,
		struct table_summary *out, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	const char *db = table->schema ? table->schema : e->dsn.database;
	char *fk = NULL;
	size_t pick;
	int rc = -1;

	(void)alter;
	if (db == NULL) {
		if (myeng_query(e, "SELECT DATABASE()", NULL, &res, err) != 0)
			goto out;
		db = myeng_cell(&res, 0, 0);
		if (db == NULL) {
			err_set(err, SHADE_USAGE,
				"no database: name one in the DSN (mysql://user@host/DB) or write --table DB.TABLE");
			goto out;
		}
		e->orig.schema = xstrdup(db);
		myeng_res_free(&res);
	} else {
		e->orig.schema = xstrdup(db);
	}
	db = e->orig.schema;

	/* Resolve the name as the server would (case rules differ). */
	myeng_param_str(&p, db);
	myeng_param_str(&p, table->name);
	if (myeng_query(e,
			"SELECT TABLE_NAME, TABLE_TYPE, ENGINE, IFNULL(TABLE_ROWS, 0),"
			"  IFNULL(DATA_LENGTH, 0) + IFNULL(INDEX_LENGTH, 0)"
			" FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
			&p, &res, err) != 0)
		goto out;
	for (pick = 0; pick < res.nrows; pick++)
		if (strcmp(myeng_text(&res, pick, 0), table->name) == 0)
			break;
	if (pick == res.nrows && e->lctn != 0 && res.nrows == 1)
		pick = 0;
	if (pick == res.nrows) {
		err_set(err, SHADE_USAGE, "unknown table %s.%s", db, table->name);
		goto out;
	}
	e->orig.name = xstrdup(myeng_text(&res, pick, 0));
	e->display = xasprintf("%s.%s", db, e->orig.name);
	out->display = xstrdup(e->display);
	out->est_rows = strtoll(myeng_text(&res, pick, 3), NULL, 10);
	out->bytes = strtoll(myeng_text(&res, pick, 4), NULL, 10);
	if (strcmp(myeng_text(&res, pick, 1), "BASE TABLE") != 0) {
		err_set(err, SHADE_USAGE, "%s is not a base table (%s)", e->display,
			myeng_text(&res, pick, 1));
		goto out;
	}
	if (strcasecmp(myeng_text(&res, pick, 2), "InnoDB") != 0) {
		err_set(err, SHADE_USAGE,
			"%s uses the %s storage engine: shade needs InnoDB (transactions, row locks)",
			e->display, myeng_text(&res, pick, 2));
		goto out;
	}
	myeng_res_free(&res);
	myeng_params_free(&p);

	myeng_name_in_db(&e->shadow, db, sql_derived_name(SQL_MYSQL, e->orig.name, "_new"));
	myeng_name_in_db(&e->log, db, sql_derived_name(SQL_MYSQL, e->orig.name, "_log"));
	myeng_name_in_db(&e->old, db, sql_derived_name(SQL_MYSQL, e->orig.name, "_old"));
	out->old_display = xasprintf("%s.%s", db, e->old.name);
	out->leftovers = xasprintf("the change log %s.%s", db, e->log.name);
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++)
		myeng_name_in_db(&e->trg[i], db,
				 sql_derived_name(SQL_MYSQL, e->orig.name, trg_suffix[i]));
	e->sentry.name = myeng_sentry_name(e->orig.name);
	if (e->sentry.name == NULL) {
		err_set(err, SHADE_USAGE, "the name of %s is too long and too exotic for shade's swap",
			e->display);
		goto out;
	}
	e->sentry.schema = xstrdup(db);

	if (myeng_read_pk(e, err) != 0)
		goto out;
	out->npk = e->npk;

	if (myeng_find_fk(e, db, e->orig.name, &fk, err) != 0)
		goto out;
	if (fk) {
		err_set(err, SHADE_USAGE,
			"%s has a %s, which shade cannot carry over to the new table yet",
			e->display, fk);
		goto out;
	}
	if (myeng_check_leftovers(e, err) != 0)
		goto out;

	if (myeng_read_triggers(e, err) != 0)
		goto out;

	/*
	 * INSERT ... SELECT under READ COMMITTED can only be logged row by row;
	 * with statement-based logging the server would refuse every chunk.
	 */
	if (myeng_query(e, "SELECT @@log_bin, @@binlog_format", NULL, &res, err) != 0)
		goto out;
	if (strcmp(myeng_text(&res, 0, 0), "1") == 0 &&
	    strcasecmp(myeng_text(&res, 0, 1), "STATEMENT") == 0 &&
	    myeng_run(e, "SET SESSION binlog_format = 'ROW'", err) != 0) {
		err_prefix(err, SHADE_USAGE,
			   "binlog_format is STATEMENT and shade may not switch its session to ROW "
			   "(grant it the privilege or set binlog_format=ROW or MIXED): ");
		goto out;
	}
	rc = 0;
out:
	free(fk);
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

/* ---- shadow ------------------------------------------------------------ */

/* The key columns as the copy reads them: HEX() for binary strings. */
static void
myeng_key_exprs(const struct eng *e, struct buf *b)
{
	for (size_t i = 0; i < e->npk; i++) {
		if (i > 0)
			buf_append(b, ", ");
		if (e->pk[i].kind == KIND_HEX)
			sql_build(b, SQL_MYSQL, "HEX(%I)", e->pk[i].name);
		else
			sql_build(b, SQL_MYSQL, "%I", e->pk[i].name);
	}
}

static const char *
myeng_placeholder(const struct myeng_key *k)
{
	return k->kind == KIND_HEX ? "UNHEX(?)" : "?";
}

static void
myeng_key_order(const struct eng *e, struct buf *b, bool desc)
{
	for (size_t i = 0; i < e->npk; i++)
		sql_build(b, SQL_MYSQL, "%s%I%s", i ? ", " : "", e->pk[i].name, desc ? " DESC" : "");
}

/*
 * key > after (greater) or key <= upper, over the key columns. A composite
 * key is spelled out, (a > ?) OR (a = ? AND b > ?), which the range
 * optimizer turns into ranges on the primary key, with a leading bound on
 * the first column for good measure. myeng_bind_cmp binds in this order.
 */
static void
myeng_key_cmp(const struct eng *e, struct buf *b, bool greater)
{
	size_t n = e->npk;

	if (n > 1)
		sql_build(b, SQL_MYSQL, "%I %s %s AND (", e->pk[0].name, greater ? ">=" : "<=",
			  myeng_placeholder(&e->pk[0]));
	for (size_t i = 0; i < n; i++) {
		const char *op = greater ? ">" : i + 1 < n ? "<" : "<=";

		if (i > 0)
			buf_append(b, " OR ");
		if (n > 1)
			buf_append(b, "(");
		for (size_t j = 0; j < i; j++)
			sql_build(b, SQL_MYSQL, "%I = %s AND ", e->pk[j].name,
				  myeng_placeholder(&e->pk[j]));
		sql_build(b, SQL_MYSQL, "%I %s %s", e->pk[i].name, op, myeng_placeholder(&e->pk[i]));
		if (n > 1)
			buf_append(b, ")");
	}
	if (n > 1)
		buf_append(b, ")");
}

static int WARN_UNUSED
myeng_bind_cmp(const struct eng *e, struct myeng_params *p, const struct keyval *k,
	       struct shade_err *err)
{
	size_t n = e->npk;

	if (k->n != n)
		die("internal error: a key of %zu values for %zu columns", k->n, n);
	if (n > 1 && myeng_param_key(p, &e->pk[0], k->vals[0], err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j <= i; j++)
			if (myeng_param_key(p, &e->pk[j], k->vals[j], err) != 0)
				return -1;
	return 0;
}

/* The copy's statements, built once the column mapping is known. */
static void
myeng_build_copy_sql(struct eng *e)
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
		sql_build(&b, SQL_MYSQL, "INSERT INTO %Q (%L) SELECT %L FROM %Q FORCE INDEX (PRIMARY) WHERE ",
			  &e->shadow, &e->dst, &e->src, &e->orig);
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

/*
 * The shadow is read with SHOW statements, not information_schema: the dry
 * run's shadow is a TEMPORARY table, which information_schema does not show.
 */

/* SHOW FULL COLUMNS: column names, and which are generated. */
static int WARN_UNUSED
myeng_columns(struct eng *e, const struct qname *t, struct strlist *names,
	      struct strlist *generated, char **auto_inc, struct shade_err *err)
{
	struct myeng_res res = {0};
	struct buf b = {0};
	int rc = -1;

	sql_build(&b, SQL_MYSQL, "SHOW FULL COLUMNS FROM %Q", t);
	if (myeng_query(e, buf_str(&b), NULL, &res, err) != 0)
		goto out;
	for (size_t i = 0; i < res.nrows && res.ncols >= 7; i++) {
		const char *extra = myeng_text(&res, i, 6);

		if (strstr(extra, "VIRTUAL") || strstr(extra, "STORED") ||
		    strstr(extra, "PERSISTENT"))
			strlist_push(generated, myeng_text(&res, i, 0));
		else
			strlist_push(names, myeng_text(&res, i, 0));
		if (auto_inc && *auto_inc == NULL && strstr(extra, "auto_increment"))
			*auto_inc = xstrdup(myeng_text(&res, i, 0));
	}
	rc = 0;
out:
	myeng_res_free(&res);
	buf_free(&b);
	return rc;
}

/*
 * After the ALTER: the column mapping (same name, or renamed by the ALTER;
 * generated columns compute themselves) and the check that the primary key
 * is still the same columns.
 */
static int WARN_UNUSED
myeng_map_columns(struct eng *e, const struct alter_info *alter, struct shade_err *err)
{
	struct myeng_res res = {0};
	struct strlist orig_cols = {0}, orig_gen = {0}, cols = {0}, gen = {0}, key = {0};
	struct buf b = {0};
	int rc = -1;

	if (myeng_columns(e, &e->orig, &orig_cols, &orig_gen, NULL, err) != 0 ||
	    myeng_columns(e, &e->shadow, &cols, &gen, NULL, err) != 0)
		goto out;
	/* A column generated on T but stored on the shadow takes T's values. */
	for (size_t i = 0; i < orig_gen.len; i++)
		strlist_push(&orig_cols, orig_gen.items[i]);
	colmap_build(&orig_cols, &cols, alter, true, &e->src, &e->dst);

	/* The shadow's key must be T's key, column for column, no prefixes. */
	sql_build(&b, SQL_MYSQL, "SHOW INDEX FROM %Q WHERE Key_name = 'PRIMARY'", &e->shadow);
	if (myeng_query(e, buf_str(&b), NULL, &res, err) != 0)
		goto out;
	for (size_t i = 0; i < res.nrows && res.ncols >= 8; i++) {
		if (strtoul(myeng_text(&res, i, 3), NULL, 10) != i + 1 ||
		    myeng_cell(&res, i, 7) != NULL)
			goto changed_key;
		strlist_push(&key, myeng_text(&res, i, 4));
	}
	if (key.len != res.nrows || !colmap_same_key(&e->src, &e->dst, &e->pkcols, &key, true))
		goto changed_key;
	for (size_t i = 0; i < key.len; i++) {
		const char *col = e->dst.items[colmap_find(&e->dst, key.items[i], true)];

		strlist_push(&e->shadow_pk, col);
		e->pk[i].shadow_name = xstrdup(col);
	}
	rc = 0;
	goto out;
changed_key:
	err_set(err, SHADE_USAGE,
		"the ALTER changes the primary key of %s, which shade cannot do online yet",
		e->display);
out:
	myeng_res_free(&res);
	strlist_free(&orig_cols);
	strlist_free(&orig_gen);
	strlist_free(&cols);
	strlist_free(&gen);
	strlist_free(&key);
	buf_free(&b);
	return rc;
}

/* The index name of a SHOW CREATE TABLE line "KEY `name` (...)". */
static char *
myeng_index_name(const char *def)
{
	const char *p = strchr(def, '`');

	return p ? ident_unquote(p, &p) : NULL;
}

/*
 * What SHOW CREATE TABLE says of the shadow: its storage engine, whether it
 * has foreign keys, and its secondary index definitions as the server
 * writes them ("KEY `a` (`b`)", "UNIQUE KEY ...", "FULLTEXT KEY ...").
 */
static int WARN_UNUSED
myeng_read_shadow(struct eng *e, char **engine, bool *has_fk, struct strlist *indexes,
		  struct shade_err *err)
{
	static const char *const kinds[] = {"  KEY ", "  UNIQUE KEY ", "  FULLTEXT KEY ",
					    "  SPATIAL KEY "};
	struct myeng_res res = {0};
	struct buf b = {0};
	char *create = NULL, *line, *save = NULL;
	int rc = -1;

	*engine = NULL;
	*has_fk = false;
	sql_build(&b, SQL_MYSQL, "SHOW CREATE TABLE %Q", &e->shadow);
	if (myeng_query(e, buf_str(&b), NULL, &res, err) != 0)
		goto out;
	if (res.nrows != 1 || res.ncols < 2) {
		err_set(err, SHADE_FAILED, "SHOW CREATE TABLE %s returned no definition",
			e->shadow.name);
		goto out;
	}
	create = xstrdup(myeng_text(&res, 0, 1));
	for (line = strtok_r(create, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);
		const char *eng = strstr(line, " ENGINE=");

		if (line[0] == ')' && eng && *engine == NULL) {
			eng += strlen(" ENGINE=");
			*engine = xstrndup(eng, strcspn(eng, " "));
			continue;
		}
		if (strncmp(line, "  CONSTRAINT ", 13) == 0 && strstr(line, " FOREIGN KEY "))
			*has_fk = true;
		for (size_t i = 0; i < ARRAY_LEN(kinds); i++) {
			if (strncmp(line, kinds[i], strlen(kinds[i])) != 0)
				continue;
			if (len > 0 && line[len - 1] == ',')
				line[--len] = '\0';
			strlist_push(indexes, line + 2);
			break;
		}
	}
	rc = 0;
out:
	free(create);
	myeng_res_free(&res);
	buf_free(&b);
	return rc;
}

/*
 * Set the secondary indexes aside: keep their definitions as the server
 * writes them and drop them, to build each once after the copy. Besides
 * speed, this leaves the primary key as the shadow's only unique key while
 * chunks are copied, which ON DUPLICATE KEY UPDATE needs (a second unique
 * key would make it update some other row instead of failing). An
 * AUTO_INCREMENT column must lead some index: it gets a plain temporary one
 * while the copy runs.
 */
static int WARN_UNUSED
myeng_defer_indexes(struct eng *e, struct strlist *indexes, struct shade_err *err)
{
	struct strlist cols = {0}, gen = {0};
	struct buf b = {0}, stmt = {0};
	char *ai_col = NULL;
	int rc = -1;

	if (indexes->len == 0)
		return 0;
	if (myeng_columns(e, &e->shadow, &cols, &gen, &ai_col, err) != 0)
		goto out;
	if (ai_col && strcasecmp(ai_col, e->shadow_pk.items[0]) == 0) {
		free(ai_col);
		ai_col = NULL;
	}
	for (size_t i = 0; i < indexes->len; i++) {
		char *name = myeng_index_name(indexes->items[i]);

		if (name == NULL) {
			err_set(err, SHADE_FAILED, "cannot read an index definition of %s: %s",
				e->shadow.name, indexes->items[i]);
			goto out;
		}
		sql_build(&b, SQL_MYSQL, "%sDROP INDEX %I", i ? ", " : "", name);
		free(name);
		strlist_push(&e->deferred, indexes->items[i]);
	}
	if (ai_col) {
		e->ai_key = sql_derived_name(SQL_MYSQL, ai_col, "_shade_ai");
		sql_build(&b, SQL_MYSQL, ", ADD KEY %I (%I)", e->ai_key, ai_col);
	}
	sql_build(&stmt, SQL_MYSQL, "ALTER TABLE %Q %s", &e->shadow, buf_str(&b));
	rc = myeng_run_buf(e, &stmt, err);
out:
	free(ai_col);
	strlist_free(&cols);
	strlist_free(&gen);
	buf_free(&b);
	buf_free(&stmt);
	return rc;
}

/*
 * Create the shadow (a TEMPORARY table for the dry run: only this session
 * sees it, and it goes with the session), apply the ALTER-BODY, check it,
 * map the columns, set the indexes aside, build the copy's statements. On
 * failure the shadow is dropped again.
 */
static int WARN_UNUSED
myeng_build_shadow(struct eng *e, bool temporary, const char *alter_body,
		   const struct alter_info *alter, struct shade_err *err)
{
	struct strlist indexes = {0};
	struct buf b = {0};
	char *engine = NULL;
	bool has_fk;
	int rc = -1;

	/* LIKE keeps columns, indexes, AUTO_INCREMENT, options and partitions. */
	sql_build(&b, SQL_MYSQL, "CREATE %sTABLE %Q LIKE %Q", temporary ? "TEMPORARY " : "",
		  &e->shadow, &e->orig);
	if (myeng_run_buf(e, &b, err) != 0) {
		if (temporary && !err->cancelled)
			err_prefix(err, SHADE_USAGE,
				   "--dry-run checks the ALTER on a temporary copy of %s, which the server "
				   "refuses (nothing was changed): ",
				   e->display);
		goto out;
	}
	e->shadow_created = !temporary;
	e->shadow_temporary = temporary;

	/* The ALTER-BODY is SQL by definition: it goes in as the user wrote it. */
	sql_build(&b, SQL_MYSQL, "ALTER TABLE %Q %A", &e->shadow, alter_body);
	if (myeng_run_buf(e, &b, err) != 0) {
		if (err->cancelled)
			goto fail;
		err_prefix(err, SHADE_USAGE, "the ALTER fails on a copy of %s: ", e->display);
		err->retryable = false;
		goto fail;
	}
	if (myeng_read_shadow(e, &engine, &has_fk, &indexes, err) != 0)
		goto fail;
	if (engine == NULL || strcasecmp(engine, "InnoDB") != 0) {
		err_set(err, SHADE_USAGE,
			"the ALTER makes %s use the %s storage engine: shade needs InnoDB",
			e->display, engine ? engine : "?");
		goto fail;
	}
	if (has_fk) {
		err_set(err, SHADE_USAGE,
			"the ALTER adds a foreign key, which shade cannot carry over yet");
		goto fail;
	}
	if (myeng_map_columns(e, alter, err) != 0 || myeng_defer_indexes(e, &indexes, err) != 0)
		goto fail;
	myeng_build_copy_sql(e);
	rc = 0;
	goto out;
fail:
	/* A failed shadow leaves nothing behind. */
	{
		struct shade_err ignored = {0};

		sql_build(&b, SQL_MYSQL, "DROP %sTABLE IF EXISTS %Q", temporary ? "TEMPORARY " : "",
			  &e->shadow);
		if (myeng_run_buf(e, &b, &ignored) == 0)
			e->shadow_created = e->shadow_temporary = false;
		err_clear(&ignored);
	}
out:
	free(engine);
	strlist_free(&indexes);
	buf_free(&b);
	return rc;
}

static int
myeng_create_shadow(struct eng *e, const char *alter_body, const struct alter_info *alter,
		    struct shade_err *err)
{
	return myeng_build_shadow(e, false, alter_body, alter, err);
}

/* ---- capture ----------------------------------------------------------- */

/* "NEW.`a`, NEW.`b`" */
static void
myeng_row_keys(const struct eng *e, struct buf *b, const char *row)
{
	for (size_t i = 0; i < e->npk; i++)
		sql_build(b, SQL_MYSQL, "%s%s.%I", i ? ", " : "", row, e->pk[i].name);
}

/*
 * The capture's statements: the log (an id, and the key columns with T's
 * own types) and the three triggers. An UPDATE logs the old key, and the
 * new one too when the key changed, so both rows get re-read.
 */
static void
myeng_capture_sql(const struct eng *e, char **log_sql, char *trg_sql[3])
{
	struct buf b = {0}, oldk = {0}, newk = {0}, same = {0};

	sql_build(&b, SQL_MYSQL, "CREATE TABLE %Q (%I bigint unsigned NOT NULL AUTO_INCREMENT",
		  &e->log, e->seq);
	for (size_t i = 0; i < e->npk; i++) {
		const struct myeng_key *k = &e->pk[i];

		sql_build(&b, SQL_MYSQL, ", %I %s", k->name, k->type);
		if (k->charset && k->collation)
			sql_build(&b, SQL_MYSQL, " CHARACTER SET %s COLLATE %s", k->charset,
				  k->collation);
		buf_append(&b, " NULL");
	}
	sql_build(&b, SQL_MYSQL, ", PRIMARY KEY (%I)) ENGINE=InnoDB", e->seq);
	*log_sql = buf_take(&b);

	myeng_row_keys(e, &oldk, "OLD");
	myeng_row_keys(e, &newk, "NEW");
	for (size_t i = 0; i < e->npk; i++)
		sql_build(&same, SQL_MYSQL, "%sNEW.%I <=> OLD.%I", i ? " AND " : "", e->pk[i].name,
			  e->pk[i].name);
	sql_build(&b, SQL_MYSQL,
		  "CREATE TRIGGER %Q AFTER INSERT ON %Q FOR EACH ROW INSERT INTO %Q (%L) VALUES (%s)",
		  &e->trg[0], &e->orig, &e->log, &e->pkcols, buf_str(&newk));
	trg_sql[0] = buf_take(&b);
	sql_build(&b, SQL_MYSQL,
		  "CREATE TRIGGER %Q AFTER UPDATE ON %Q FOR EACH ROW BEGIN"
		  " INSERT INTO %Q (%L) VALUES (%s);"
		  " IF NOT (%s) THEN INSERT INTO %Q (%L) VALUES (%s); END IF;"
		  " END",
		  &e->trg[1], &e->orig, &e->log, &e->pkcols, buf_str(&oldk), buf_str(&same),
		  &e->log, &e->pkcols, buf_str(&newk));
	trg_sql[1] = buf_take(&b);
	sql_build(&b, SQL_MYSQL,
		  "CREATE TRIGGER %Q AFTER DELETE ON %Q FOR EACH ROW INSERT INTO %Q (%L) VALUES (%s)",
		  &e->trg[2], &e->orig, &e->log, &e->pkcols, buf_str(&oldk));
	trg_sql[2] = buf_take(&b);
	buf_free(&oldk);
	buf_free(&newk);
	buf_free(&same);
}

static int
myeng_create_capture(struct eng *e, struct shade_err *err)
{
	char *log_sql, *trg_sql[3];
	struct buf b = {0};
	int rc = -1;

	myeng_capture_sql(e, &log_sql, trg_sql);
	if (!e->log_created) {
		if (myeng_run(e, log_sql, err) != 0)
			goto out;
		e->log_created = true;
	}
	/*
	 * All three appear at once, under LOCK TABLES T WRITE: the lock waits
	 * for running transactions on T and makes new ones wait behind it, so
	 * it is bounded by lock_wait_timeout and retried by the caller. (It
	 * also narrows a MariaDB bug, MDEV-26048: a statement prepared before
	 * T had triggers may fail with "table doesn't exist" when run after.)
	 * One that exists already (an earlier attempt) is not created again.
	 */
	sql_build(&b, SQL_MYSQL, "LOCK TABLES %Q WRITE, %Q WRITE", &e->orig, &e->log);
	if (myeng_run_buf(e, &b, err) != 0)
		goto out;
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++) {
		if (e->trg_created[i])
			continue;
		if (myeng_run(e, trg_sql[i], err) != 0) {
			struct shade_err ignored = {0};

			if (myeng_run(e, "UNLOCK TABLES", &ignored) != 0) {
				/* The next statement reports the state. */
			}
			err_clear(&ignored);
			goto out;
		}
		e->trg_created[i] = true;
	}
	if (myeng_run(e, "UNLOCK TABLES", err) != 0)
		goto out;
	rc = 0;
out:
	free(log_sql);
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++)
		free(trg_sql[i]);
	buf_free(&b);
	return rc;
}

/* ---- copy -------------------------------------------------------------- */

static void
myeng_keyval_from(const struct myeng_res *res, size_t row, struct keyval *k)
{
	keyval_free(k);
	k->n = res->ncols;
	k->vals = xcalloc(k->n, sizeof(char *));
	for (size_t i = 0; i < k->n; i++)
		k->vals[i] = xstrdup(myeng_text(res, row, (unsigned)i));
}

/* "id=42" or "a=1, b=x": a key for messages (binary keys in hex). */
static char *
myeng_key_text(const struct eng *e, const struct keyval *k)
{
	struct buf b = {0};

	for (size_t i = 0; i < e->npk && i < k->n; i++)
		buf_printf(&b, "%s%s=%s%s", i ? ", " : "", e->pk[i].name,
			   e->pk[i].kind == KIND_HEX ? "0x" : "", k->vals[i]);
	return buf_take(&b);
}

static int
myeng_copy_bounds(struct eng *e, struct keyval *max, bool *empty, struct shade_err *err)
{
	struct myeng_res res = {0};

	if (myeng_query(e, e->sql_max, NULL, &res, err) != 0)
		return -1;
	*empty = res.nrows == 0;
	if (!*empty)
		myeng_keyval_from(&res, 0, max);
	myeng_res_free(&res);
	return 0;
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

	if ((after && myeng_bind_cmp(e, &p, after, &ignored) != 0) ||
	    myeng_bind_cmp(e, &p, upper, &ignored) != 0)
		goto out;
	myeng_param_int(&p, nth - 1);
	if (myeng_query(e, after ? e->sql_probe_next : e->sql_probe_first, &p, &res, &ignored) != 0 ||
	    res.nrows == 0)
		goto out;
	myeng_keyval_from(&res, 0, &k);
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
	if ((after && myeng_bind_cmp(e, &p, after, &ignored) != 0) ||
	    myeng_bind_cmp(e, &p, upper, &ignored) != 0 ||
	    myeng_query(e, buf_str(&b), &p, &res, &ignored) != 0 || res.nrows == 0)
		goto out;
	myeng_keyval_from(&res, 0, &k);
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

static int
myeng_copy_chunk(struct eng *e, const struct keyval *after, const struct keyval *max, long rows,
		 struct keyval *upper, long long *copied, bool *last, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	unsigned long long n = 0;
	int rc = -1;

	if ((after && myeng_bind_cmp(e, &p, after, err) != 0) ||
	    myeng_bind_cmp(e, &p, max, err) != 0)
		goto out;
	myeng_param_int(&p, rows > 1 ? rows - 1 : 0);
	if (myeng_query(e, after ? e->sql_probe_next : e->sql_probe_first, &p, &res, err) != 0)
		goto out;
	if (res.nrows == 0) {
		keyval_copy(upper, max);
		*last = true;
	} else {
		myeng_keyval_from(&res, 0, upper);
		*last = true;
		for (size_t i = 0; i < upper->n; i++)
			if (strcmp(upper->vals[i], max->vals[i]) != 0)
				*last = false;
	}
	myeng_params_free(&p);
	if ((after && myeng_bind_cmp(e, &p, after, err) != 0) ||
	    myeng_bind_cmp(e, &p, upper, err) != 0)
		goto out;
	if (myeng_exec(e, e->conn, after ? e->sql_copy_next : e->sql_copy_first, &p, NULL, &n,
		       err) != 0) {
		myeng_copy_failed(e, after, upper, err);
		goto out;
	}
	*copied = (long long)n;
	rc = 0;
out:
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

/* ---- apply ------------------------------------------------------------- */

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

	sql_build(&b, SQL_MYSQL, "INSERT INTO %Q (%L) SELECT ", &e->shadow, &e->dst);
	for (size_t i = 0; i < e->src.len; i++)
		sql_build(&b, SQL_MYSQL, "%s%Q.%I", i ? ", " : "", &e->orig, e->src.items[i]);
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
myeng_take_sql(const struct eng *e)
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
	take = myeng_take_sql(e);
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

static int
myeng_apply(struct eng *e, long limit, long long *applied, struct shade_err *err)
{
	struct backoff bo;

	/* A deadlock rolls the whole batch back: run it again, a few times. */
	backoff_init(&bo, 0.01, 0.05, 3);
	for (;;) {
		double pause;

		err_clear(err);
		if (myeng_run(e, "START TRANSACTION", err) == 0 &&
		    myeng_apply_batch(e, limit, applied, err) == 0 && myeng_run(e, "COMMIT", err) == 0)
			return 0;
		myeng_rollback(e);
		if (err->server_errno != ER_LOCK_DEADLOCK || (pause = backoff_next(&bo)) < 0)
			return -1;
		dbwait_sleep(e->w, pause);
	}
}

static int
myeng_backlog(struct eng *e, long long *rows, struct shade_err *err)
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

/* ---- indexes ----------------------------------------------------------- */

/* The ALTER that builds the deferred indexes (NULL: there are none). */
static char *
myeng_index_sql(const struct eng *e)
{
	struct buf b = {0};

	if (e->deferred.len == 0)
		return NULL;
	sql_build(&b, SQL_MYSQL, "ALTER TABLE %Q ", &e->shadow);
	for (size_t i = 0; i < e->deferred.len; i++)
		sql_build(&b, SQL_MYSQL, "%sADD %s", i ? ", " : "", e->deferred.items[i]);
	if (e->ai_key)
		sql_build(&b, SQL_MYSQL, ", DROP INDEX %I", e->ai_key);
	return buf_take(&b);
}

static int
myeng_build_indexes(struct eng *e, struct shade_err *err)
{
	struct myeng_res res = {0};
	struct buf b = {0};
	char *sql = myeng_index_sql(e);
	int rc = -1;

	/* One ALTER builds them all in one pass, under their own names. */
	if (sql != NULL) {
		if (myeng_run(e, sql, err) != 0) {
			if (!err->cancelled && err->server_errno == ER_DUP_ENTRY)
				err_prefix(err, SHADE_FAILED,
					   "the rows of %s do not fit a unique key of the new schema: ",
					   e->display);
			goto out;
		}
		free(e->ai_key);
		e->ai_key = NULL;
	}
	/* A new table's statistics are empty: the optimizer needs them. */
	sql_build(&b, SQL_MYSQL, "ANALYZE TABLE %Q", &e->shadow);
	if (myeng_query(e, buf_str(&b), NULL, &res, err) != 0)
		goto out;
	for (size_t i = 0; i < res.nrows; i++) {
		if (res.ncols >= 4 && strcasecmp(myeng_text(&res, i, 2), "error") == 0) {
			err_set(err, SHADE_FAILED, "ANALYZE TABLE %s: %s", e->shadow.name,
				myeng_text(&res, i, 3));
			goto out;
		}
	}
	rc = 0;
out:
	free(sql);
	myeng_res_free(&res);
	buf_free(&b);
	return rc;
}

/* ---- swap -------------------------------------------------------------- */

/* Make the new table's AUTO_INCREMENT continue where T's stands. */
static int WARN_UNUSED
myeng_carry_auto_increment(struct eng *e, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	struct buf b = {0};
	long long t_next = -1, s_next = -1;
	int rc = -1;

	myeng_param_str(&p, e->orig.schema);
	myeng_param_str(&p, e->orig.name);
	myeng_param_str(&p, e->shadow.name);
	if (myeng_query(e,
			"SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES"
			" WHERE TABLE_SCHEMA = ? AND BINARY TABLE_NAME IN (?, ?)",
			&p, &res, err) != 0)
		goto out;
	for (size_t i = 0; i < res.nrows; i++) {
		long long v = myeng_cell(&res, i, 1) ? strtoll(myeng_text(&res, i, 1), NULL, 10) : -1;

		if (strcmp(myeng_text(&res, i, 0), e->orig.name) == 0)
			t_next = v;
		else
			s_next = v;
	}
	if (t_next > 0 && s_next >= 0 && t_next > s_next) {
		sql_build(&b, SQL_MYSQL, "ALTER TABLE %Q AUTO_INCREMENT = %l", &e->shadow, t_next);
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
	}
	rc = 0;
out:
	myeng_params_free(&p);
	myeng_res_free(&res);
	buf_free(&b);
	return rc;
}

/* CREATE TRIGGER for one of T's own triggers, named name on table. */
static char *
myeng_trigger_sql(const struct eng *e, const struct myeng_trigger *t, const char *name,
		  const struct qname *table)
{
	struct qname q = {e->orig.schema, (char *)name};
	struct buf b = {0};

	sql_build(&b, SQL_MYSQL, "CREATE DEFINER=%s TRIGGER %Q %s %s ON %Q FOR EACH ROW %s",
		  t->definer, &q, t->timing, t->event, table, t->body);
	return buf_take(&b);
}

/* Create it under the sql_mode it was created with; then back to ours. */
static int WARN_UNUSED
myeng_create_trigger(struct eng *e, const struct myeng_trigger *t, const char *name,
		     const struct qname *table, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct shade_err ignored = {0};
	char *sql = myeng_trigger_sql(e, t, name, table);
	int rc = -1;

	myeng_param_str(&p, t->sql_mode);
	if (myeng_query(e, "SET SESSION sql_mode = ?", &p, NULL, err) == 0 &&
	    myeng_run(e, sql, err) == 0)
		rc = 0;
	if (myeng_run(e, "SET SESSION sql_mode = '" MYENG_SQL_MODE "'", rc ? &ignored : err) != 0)
		rc = -1;
	err_clear(&ignored);
	myeng_params_free(&p);
	free(sql);
	return rc;
}

/* Drop the copies of T's triggers from the shadow (a swap that failed). */
static void
myeng_drop_shadow_triggers(struct eng *e)
{
	struct buf b = {0};

	while (e->utrg_on_shadow > 0) {
		struct myeng_trigger *t = &e->utrg[e->utrg_on_shadow - 1];
		struct qname q = {e->orig.schema, t->tmp};
		struct shade_err ignored = {0};
		int rc;

		sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &q);
		rc = myeng_run_buf(e, &b, &ignored);
		err_clear(&ignored);
		if (rc != 0)
			break;
		e->utrg_on_shadow--;
	}
	buf_free(&b);
}

/*
 * After the swap T's own triggers run on the new table under their
 * temporary names (the old table had their names). Give them their names
 * back: under a brief LOCK TABLES, so that no write passes while a trigger
 * is being replaced, drop each from the old table, create it on T, drop the
 * temporary one; the firing order stays. Retried like any lock.
 */
static int WARN_UNUSED
myeng_restore_triggers(struct eng *e, struct shade_err *err)
{
	const struct qname *old = e->old_named ? &e->old : &e->sentry;
	struct backoff bo;
	struct buf b = {0};
	int rc = -1;

	backoff_init(&bo, 0.25, 4, e->opts->lock_retries > 10 ? e->opts->lock_retries : 10);
	for (;;) {
		double pause;

		err_clear(err);
		sql_build(&b, SQL_MYSQL, "LOCK TABLES %Q WRITE, %Q WRITE", &e->orig, old);
		if (myeng_run_buf(e, &b, err) == 0)
			break;
		if (!err->retryable || (pause = backoff_next(&bo)) < 0)
			goto fail;
		dbwait_sleep(e->w, pause);
	}
	for (size_t i = 0; i < e->nutrg; i++) {
		const struct myeng_trigger *t = &e->utrg[i];
		struct qname name = {e->orig.schema, t->name}, tmp = {e->orig.schema, t->tmp};

		sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &name);
		if (myeng_run_buf(e, &b, err) != 0 ||
		    myeng_create_trigger(e, t, t->name, &e->orig, err) != 0)
			goto unlock;
		sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &tmp);
		if (myeng_run_buf(e, &b, err) != 0)
			goto unlock;
	}
	if (myeng_run(e, "UNLOCK TABLES", err) != 0)
		goto fail;
	e->utrg_named = true;
	rc = 0;
	goto out;
unlock:
	{
		struct shade_err ignored = {0};

		if (myeng_run(e, "UNLOCK TABLES", &ignored) != 0) {
			/* The next statement reports the state. */
		}
		err_clear(&ignored);
	}
fail:
	err_prefix(err, SHADE_FAILED,
		   "%s has the new schema and its triggers work, but some still carry the "
		   "temporary names _<name>_shade_tmp: recreate them under their own names: ",
		   e->display);
out:
	buf_free(&b);
	return rc;
}

/*
 * After the RENAME: the old table carries the sentry's name and the capture
 * triggers. Give it its proper name and drop the triggers; what fails here
 * finish() does again.
 */
static void
myeng_after_swap(struct eng *e)
{
	struct shade_err ignored = {0};
	struct buf b = {0};

	sql_build(&b, SQL_MYSQL, "RENAME TABLE %Q TO %Q", &e->sentry, &e->old);
	if (myeng_run_buf(e, &b, &ignored) == 0)
		e->old_named = true;
	err_clear(&ignored);
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++) {
		sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &e->trg[i]);
		if (myeng_run_buf(e, &b, &ignored) == 0)
			e->trg_created[i] = false;
		err_clear(&ignored);
	}
	buf_free(&b);
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
		if (myeng_query(e,
				"SELECT STATE FROM information_schema.PROCESSLIST"
				" WHERE ID = ? AND INFO LIKE 'RENAME TABLE%'",
				&p, &res, err) != 0) {
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
static int
myeng_swap(struct eng *e, struct shade_err *err)
{
	struct buf b = {0}, rename = {0};
	struct myeng_pending pd = {0};
	struct shade_err rerr = {0};
	bool sent = false;
	long long applied;
	int rc = -1;

	if ((e->locker == NULL && myeng_connect(e, &e->locker, true, err) != 0) ||
	    (e->renamer == NULL && myeng_connect(e, &e->renamer, true, err) != 0))
		goto out;
	if (!e->sentry_created) {
		sql_build(&b, SQL_MYSQL,
			  "CREATE TABLE %Q (%I int) ENGINE=InnoDB COMMENT 'shade cut-over sentry'",
			  &e->sentry, "sentry");
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
		e->sentry_created = true;
	}
	/*
	 * Once the locker holds T, every transaction that wrote T has ended,
	 * so its log rows are committed and visible; no new ones come. A lock
	 * timeout (lock_wait_timeout) is retried by the caller.
	 */
	sql_build(&b, SQL_MYSQL, "LOCK TABLES %Q READ, %Q WRITE", &e->orig, &e->sentry);
	if (myeng_lock_run(e, &b, err) != 0)
		goto fail;
	e->locked = true;
	do {
		if (myeng_apply(e, MYENG_DRAIN_BATCH, &applied, err) != 0)
			goto fail;
	} while (applied > 0);
	if (myeng_carry_auto_increment(e, err) != 0)
		goto fail;
	/*
	 * T's own triggers, on the shadow under temporary names, now that
	 * nothing writes the shadow any more (they would fire on the copy):
	 * the RENAME takes them along, so no write reaches the new table
	 * without them.
	 */
	for (; e->utrg_on_shadow < e->nutrg; e->utrg_on_shadow++) {
		const struct myeng_trigger *t = &e->utrg[e->utrg_on_shadow];

		if (myeng_create_trigger(e, t, t->tmp, &e->shadow, err) != 0)
			goto fail;
	}

	sql_build(&rename, SQL_MYSQL, "RENAME TABLE %Q TO %Q, %Q TO %Q", &e->orig, &e->sentry,
		  &e->shadow, &e->orig);
	myeng_send(e, e->renamer, buf_str(&rename), &pd);
	sent = true;
	switch (myeng_rename_queued(e, &pd, err)) {
	case 1:
		break;
	case 0:
		err_set(err, SHADE_FAILED, "the RENAME did not queue behind the lock on %s", e->display);
		err->retryable = true;
		/* FALLTHROUGH */
	default:
		goto fail;
	}
	/* The point of no return: the RENAME runs when the locker lets go. */
	sql_build(&b, SQL_MYSQL, "DROP TABLE %Q", &e->sentry);
	if (myeng_lock_run(e, &b, err) != 0)
		goto fail;
	e->sentry_created = false;
	sql_build(&b, SQL_MYSQL, "UNLOCK TABLES");
	if (myeng_lock_run(e, &b, err) != 0)
		goto fail;
	e->locked = false;
	if (myeng_finish(e, &pd, &rerr) != 0) {
		/* Nothing was renamed; the capture goes on. */
		err_set(err, SHADE_FAILED, "the RENAME of %s failed: %s", e->display, rerr.msg);
		err->server_errno = rerr.server_errno;
		err->retryable = rerr.retryable;
		err_set_stmt(err, rerr.stmt);
		myeng_drop_shadow_triggers(e);
		goto out;
	}
	e->swapped = true;
	e->shadow_created = false;
	myeng_after_swap(e);
	rc = 0;
	goto out;
fail:
	{
		struct shade_err ignored = {0};

		/* The RENAME must end before the lock goes. */
		if (sent && pd.status) {
			myeng_kill(e, e->renamer);
			if (myeng_finish(e, &pd, &ignored) == 0)
				e->swapped = true;  /* it ran after all */
			err_clear(&ignored);
		}
		if (e->locked) {
			sql_build(&b, SQL_MYSQL, "UNLOCK TABLES");
			if (myeng_lock_run(e, &b, &ignored) == 0)
				e->locked = false;
			else
				myeng_close_conn(&e->locker);  /* that unlocks too */
			e->locked = false;
			err_clear(&ignored);
		}
		if (e->swapped) {
			/* Past the RENAME nothing may fail the swap. */
			err_clear(err);
			e->shadow_created = false;
			myeng_after_swap(e);
			rc = 0;
		} else {
			myeng_drop_shadow_triggers(e);
			if (e->sentry_created) {
				sql_build(&b, SQL_MYSQL, "DROP TABLE IF EXISTS %Q", &e->sentry);
				if (myeng_run_buf(e, &b, &ignored) == 0)
					e->sentry_created = false;
				err_clear(&ignored);
			}
		}
	}
out:
	err_clear(&rerr);
	buf_free(&b);
	buf_free(&rename);
	return rc;
}

/* ---- dry run ----------------------------------------------------------- */

static void
myeng_plan(struct dry_run_report *out, const char *comment, const char *sql)
{
	if (comment)
		strlist_push_take(&out->plan, xasprintf("/* %s */ %s", comment, sql));
	else
		strlist_push(&out->plan, sql);
}

static void
myeng_plan_take(struct dry_run_report *out, const char *comment, char *sql)
{
	myeng_plan(out, comment, sql);
	free(sql);
}

/*
 * The dry run. DDL cannot be rolled back on MySQL, so the shadow is a
 * TEMPORARY table under the shadow's name: the server checks the ALTER on
 * it, a sample is copied into it with the real copy statements, the
 * deferred indexes are built on the sample, and it goes with the session.
 * Nobody else sees it. What would touch T (the triggers, the swap) is only
 * listed, never run.
 */
static int
myeng_dry_run(struct eng *e, const char *alter_body, const struct alter_info *alter,
	      long sample_rows, struct dry_run_report *out, struct shade_err *err)
{
	struct keyval max = {0}, upper = {0};
	struct buf b = {0};
	char *sql[3], *log_sql;
	bool empty = true, last;
	double t0;
	int rc = -1;

	if (myeng_build_shadow(e, true, alter_body, alter, err) != 0)
		goto out;
	sql_build(&b, SQL_MYSQL, "CREATE TABLE %Q LIKE %Q", &e->shadow, &e->orig);
	myeng_plan_take(out, NULL, buf_take(&b));
	sql_build(&b, SQL_MYSQL, "ALTER TABLE %Q %A", &e->shadow, alter_body);
	myeng_plan_take(out, NULL, buf_take(&b));
	if (e->deferred.len > 0) {
		sql_build(&b, SQL_MYSQL, "ALTER TABLE %Q ", &e->shadow);
		for (size_t i = 0; i < e->deferred.len; i++) {
			char *name = myeng_index_name(e->deferred.items[i]);

			sql_build(&b, SQL_MYSQL, "%sDROP INDEX %I", i ? ", " : "", name);
			free(name);
		}
		if (e->ai_key)
			buf_append(&b, ", ADD KEY ...");
		myeng_plan_take(out, "set the secondary indexes aside", buf_take(&b));
	}

	myeng_capture_sql(e, &log_sql, sql);
	myeng_plan_take(out, NULL, log_sql);
	sql_build(&b, SQL_MYSQL, "LOCK TABLES %Q WRITE, %Q WRITE", &e->orig, &e->log);
	myeng_plan_take(out, NULL, buf_take(&b));
	for (size_t i = 0; i < ARRAY_LEN(sql); i++)
		myeng_plan_take(out, NULL, sql[i]);
	myeng_plan(out, NULL, "UNLOCK TABLES");

	myeng_plan(out, "the largest key", e->sql_max);
	myeng_plan(out, "each chunk: the keyset probe", e->sql_probe_first);
	myeng_plan(out, NULL, e->sql_copy_first);
	myeng_plan(out, "the next chunks", e->sql_probe_next);
	myeng_plan(out, NULL, e->sql_copy_next);
	myeng_plan(out, "between chunks, apply the change log", "START TRANSACTION");
	myeng_plan_take(out, NULL, myeng_take_sql(e));
	myeng_apply_sql(e, 3, sql);
	for (size_t i = 0; i < ARRAY_LEN(sql); i++)
		myeng_plan_take(out, i == 0 ? "one ? per log row read" : NULL, sql[i]);
	myeng_plan(out, NULL, "COMMIT");

	/* The sample: the real copy statements, into the temporary shadow. */
	if (myeng_copy_bounds(e, &max, &empty, err) != 0)
		goto out;
	if (!empty) {
		t0 = now_seconds();
		if (myeng_copy_chunk(e, NULL, &max, sample_rows, &upper, &out->sample_rows, &last,
				     err) != 0)
			goto out;
		out->sample_seconds = now_seconds() - t0;
	}
	if (e->deferred.len > 0)
		myeng_plan_take(out, NULL, myeng_index_sql(e));
	if (myeng_build_indexes(e, err) != 0)
		goto out;
	sql_build(&b, SQL_MYSQL, "ANALYZE TABLE %Q", &e->shadow);
	myeng_plan_take(out, NULL, buf_take(&b));

	sql_build(&b, SQL_MYSQL,
		  "CREATE TABLE %Q (%I int) ENGINE=InnoDB COMMENT 'shade cut-over sentry'",
		  &e->sentry, "sentry");
	myeng_plan_take(out, "the swap", buf_take(&b));
	sql_build(&b, SQL_MYSQL, "LOCK TABLES %Q READ, %Q WRITE", &e->orig, &e->sentry);
	myeng_plan_take(out, "second connection", buf_take(&b));
	sql_build(&b, SQL_MYSQL, "ALTER TABLE %Q AUTO_INCREMENT = ?", &e->shadow);
	myeng_plan_take(out,
			"main connection: drain the change log (the apply statements above); "
			"then, if T's AUTO_INCREMENT is ahead, its value",
			buf_take(&b));
	for (size_t i = 0; i < e->nutrg; i++)
		myeng_plan_take(out, i == 0 ? "T's own triggers, on the shadow under temporary names" : NULL,
				myeng_trigger_sql(e, &e->utrg[i], e->utrg[i].tmp, &e->shadow));
	sql_build(&b, SQL_MYSQL, "RENAME TABLE %Q TO %Q, %Q TO %Q", &e->orig, &e->sentry,
		  &e->shadow, &e->orig);
	myeng_plan_take(out, "third connection: queues behind the lock", buf_take(&b));
	sql_build(&b, SQL_MYSQL, "DROP TABLE %Q", &e->sentry);
	myeng_plan_take(out, "second connection, once the RENAME waits", buf_take(&b));
	myeng_plan(out, "second connection: the RENAME runs first", "UNLOCK TABLES");
	sql_build(&b, SQL_MYSQL, "RENAME TABLE %Q TO %Q", &e->sentry, &e->old);
	myeng_plan_take(out, "cleanup", buf_take(&b));
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++) {
		sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &e->trg[i]);
		myeng_plan_take(out, NULL, buf_take(&b));
	}
	if (e->nutrg > 0) {
		sql_build(&b, SQL_MYSQL, "LOCK TABLES %Q WRITE, %Q WRITE", &e->orig, &e->old);
		myeng_plan_take(out, "T's own triggers get their names back", buf_take(&b));
		for (size_t i = 0; i < e->nutrg; i++) {
			struct qname name = {e->orig.schema, e->utrg[i].name};
			struct qname tmp = {e->orig.schema, e->utrg[i].tmp};

			sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &name);
			myeng_plan_take(out, NULL, buf_take(&b));
			myeng_plan_take(out, NULL,
					myeng_trigger_sql(e, &e->utrg[i], e->utrg[i].name, &e->orig));
			sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &tmp);
			myeng_plan_take(out, NULL, buf_take(&b));
		}
		myeng_plan(out, NULL, "UNLOCK TABLES");
	}
	sql_build(&b, SQL_MYSQL, "DROP TABLE IF EXISTS %Q", &e->log);
	myeng_plan_take(out, NULL, buf_take(&b));
	rc = 0;
out:
	if (e->shadow_temporary) {
		struct shade_err ignored = {0};

		sql_build(&b, SQL_MYSQL, "DROP TEMPORARY TABLE IF EXISTS %Q", &e->shadow);
		if (myeng_run_buf(e, &b, &ignored) == 0)
			e->shadow_temporary = false;
		err_clear(&ignored);
	}
	keyval_free(&max);
	keyval_free(&upper);
	buf_free(&b);
	return rc;
}

/* ---- cleanup ----------------------------------------------------------- */

static int
myeng_finish_cleanup(struct eng *e, bool drop_old, struct shade_err *err)
{
	struct buf b = {0};
	int rc = -1;

	if (e->nutrg > 0 && !e->utrg_named && myeng_restore_triggers(e, err) != 0)
		goto out;
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++) {
		sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &e->trg[i]);
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
		e->trg_created[i] = false;
	}
	sql_build(&b, SQL_MYSQL, "DROP TABLE IF EXISTS %Q", &e->log);
	if (myeng_run_buf(e, &b, err) != 0)
		goto out;
	e->log_created = false;
	if (!e->old_named) {
		sql_build(&b, SQL_MYSQL, "RENAME TABLE %Q TO %Q", &e->sentry, &e->old);
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
		e->old_named = true;
	}
	if (drop_old) {
		sql_build(&b, SQL_MYSQL, "DROP TABLE %Q", &e->old);
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
	}
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

static int
myeng_undo(struct eng *e, struct shade_err *err)
{
	struct buf b = {0};
	int tries = e->opts->lock_retries > 10 ? e->opts->lock_retries : 10;
	int rc = -1;

	if (e->swapped) {
		err_set(err, SHADE_FAILED, "internal error: undo after the swap");
		return -1;
	}
	if (e->conn == NULL) {
		err_set(err, SHADE_FAILED,
			"lost the connection; remove triggers %s.%s, %s.%s, %s.%s and tables %s.%s, %s.%s by hand",
			e->orig.schema, e->trg[0].name, e->orig.schema, e->trg[1].name, e->orig.schema,
			e->trg[2].name, e->orig.schema, e->shadow.name, e->orig.schema, e->log.name);
		goto out;
	}
	myeng_rollback(e);
	/* Nothing depends on the shadow or the sentry. */
	sql_build(&b, SQL_MYSQL, "DROP TABLE IF EXISTS %Q", &e->shadow);
	if (myeng_run_buf(e, &b, err) != 0)
		goto out;
	e->shadow_created = false;
	if (e->sentry_created) {
		sql_build(&b, SQL_MYSQL, "DROP TABLE IF EXISTS %Q", &e->sentry);
		if (myeng_run_buf(e, &b, err) != 0)
			goto out;
		e->sentry_created = false;
	}
	/*
	 * The triggers, then the log: with the log gone, triggers left behind
	 * would fail every write to T. Dropping a trigger needs T's exclusive
	 * lock, each attempt bounded by lock_wait_timeout so the application
	 * waits at most that long; between attempts it runs freely. A cleanup
	 * is worth more patience than a swap.
	 */
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++) {
		struct backoff bo;
		double pause;

		backoff_init(&bo, 0.25, 4, tries);
		while (e->trg_created[i]) {
			err_clear(err);
			sql_build(&b, SQL_MYSQL, "DROP TRIGGER IF EXISTS %Q", &e->trg[i]);
			if (myeng_run_buf(e, &b, err) == 0) {
				e->trg_created[i] = false;
				break;
			}
			if (!err->retryable || (pause = backoff_next(&bo)) < 0) {
				err_append(err,
					   "; the capture triggers are still on %s: DROP TRIGGER %s.%s, "
					   "%s.%s and %s.%s, then DROP TABLE %s.%s",
					   e->display, e->orig.schema, e->trg[0].name, e->orig.schema,
					   e->trg[1].name, e->orig.schema, e->trg[2].name, e->orig.schema,
					   e->log.name);
				err->status = SHADE_FAILED;
				goto out;
			}
			dbwait_sleep(e->w, pause);
		}
	}
	sql_build(&b, SQL_MYSQL, "DROP TABLE IF EXISTS %Q", &e->log);
	if (myeng_run_buf(e, &b, err) != 0)
		goto out;
	e->log_created = false;
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

const struct engine engine_mysql = {
	.name = "MySQL",
	.dialect = SQL_MYSQL,
	.open = myeng_open,
	.close = myeng_close,
	.preflight = myeng_preflight,
	.create_shadow = myeng_create_shadow,
	.dry_run = myeng_dry_run,
	.create_capture = myeng_create_capture,
	.copy_bounds = myeng_copy_bounds,
	.copy_chunk = myeng_copy_chunk,
	.apply = myeng_apply,
	.backlog = myeng_backlog,
	.build_indexes = myeng_build_indexes,
	.swap = myeng_swap,
	.finish = myeng_finish_cleanup,
	.undo = myeng_undo,
};
