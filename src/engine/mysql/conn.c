/*
 * engine/mysql/conn.c - connecting: the session settings every statement
 * relies on, the password prompt, the server version check; opening and
 * closing the engine.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mysqld_error.h>

#include "myeng.h"
#include "tty.h"

void
myeng_disconnect(MYSQL **c)
{
	if (*c) {
		mysql_close(*c);
		*c = NULL;
	}
}

/* The connect timeout in whole seconds, as the client library takes it. */
static unsigned
myeng_connect_timeout(const struct eng *e)
{
	double t = e->opts->connect_timeout;

	return t > 1 ? (unsigned)ceil(t) : 1;
}

/*
 * A connection handle with shade's options, or -1 when the client library
 * refuses one: every option matters (without MYSQL_OPT_NONBLOCK the engine
 * cannot work at all: it waits for the server only through the event loop).
 */
static int WARN_UNUSED
myeng_init_conn(struct eng *e, MYSQL **out, struct shade_err *err)
{
	MYSQL *c = mysql_init(NULL);
	unsigned timeout = myeng_connect_timeout(e);
	const char *what = NULL;

	if (c == NULL)
		die("out of memory");
	/* ~/.my.cnf and the system option files, [client] group. */
	if (mysql_options(c, MYSQL_READ_DEFAULT_GROUP, "client") != 0)
		what = "read the option files' [client] group";
	else if (mysql_options(c, MYSQL_SET_CHARSET_NAME, "utf8mb4") != 0)
		what = "use the utf8mb4 character set";
	else if (mysql_options(c, MYSQL_OPT_CONNECT_TIMEOUT, &timeout) != 0)
		what = "set the connect timeout";
	else if (mysql_options(c, MYSQL_OPT_NONBLOCK, 0) != 0)
		what = "work without blocking, which shade needs";
	/* How a DBA tells shade's sessions (performance_schema.session_connect_attrs). */
	else if (mysql_optionsv(c, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", "shade") != 0)
		what = "set the connection attribute program_name";
	if (what != NULL) {
		err_set(err, SHADE_FAILED, "cannot connect to MySQL: the client library cannot %s",
			what);
		mysql_close(c);
		return -1;
	}
	*out = c;
	return 0;
}

/*
 * One connection attempt with password pw (NULL: the option files'),
 * within the connect timeout as a whole. The library bounds each of its
 * waits by it, but a server that answers a byte at a time renews those
 * waits forever; at the deadline every wait is reported timed out, which
 * ends the attempt (and should the library ask again and again, it is
 * abandoned: the caller closes c). *timed_out: the deadline passed.
 */
static int
myeng_connect_once(struct eng *e, MYSQL *c, const char *pw, bool *timed_out)
{
	const struct dsn *d = &e->dsn;
	double deadline = now_seconds() + myeng_connect_timeout(e);
	bool no_cancel = true;  /* the deadline bounds the wait */
	MYSQL *ret = NULL;
	int status, late = 0;

	status = mysql_real_connect_start(&ret, c, d->host, d->user, pw, d->database, d->port,
					  d->socket, 0);
	while (status) {
		double left = deadline - now_seconds();
		int events = MYSQL_WAIT_TIMEOUT;

		if (left > 0)
			events = myeng_exec_wait_max(e, c, status, left, &no_cancel);
		else if (++late > 3)
			break;
		status = mysql_real_connect_cont(&ret, c, events);
	}
	*timed_out = ret == NULL && now_seconds() >= deadline;
	return ret == NULL ? -1 : 0;
}

/* The message of a failed connection attempt. */
static void
myeng_connect_failed(struct eng *e, MYSQL *c, bool timed_out, struct shade_err *err)
{
	const char *msg = mysql_error(c);

	if (timed_out)
		err_set(err, SHADE_FAILED,
			"cannot connect to MySQL: no answer within %u s (--connect-timeout): %s",
			myeng_connect_timeout(e),
			*msg ? msg : "the server does not complete the handshake");
	else
		err_set(err, SHADE_FAILED, "cannot connect to MySQL: %s", msg);
	err->server_errno = mysql_errno(c);
}

/* Does sql_mode (flags separated by commas) hold flag? */
bool
myeng_sql_mode_has(const char *mode, const char *flag)
{
	size_t n = strlen(flag);

	for (const char *p = mode; *p; p += strcspn(p, ","), p += *p == ',') {
		if (strncmp(p, flag, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	}
	return false;
}

/*
 * The sql_mode of shade's sessions, from the one the server gives the
 * first (the plain ALTER's): MYENG_SQL_MODE and those of its flags that
 * say what a date or time value is (MYENG_SQL_MODE_KEPT).
 */
static int WARN_UNUSED
myeng_session_mode(struct eng *e, MYSQL *c, struct shade_err *err)
{
	static const char kept[] = MYENG_SQL_MODE_KEPT;
	struct myeng_res res = {0};
	struct buf b = {0};

	if (myeng_exec(e, c, "SELECT @@SESSION.sql_mode", NULL, &res, NULL, err) != 0)
		return -1;
	e->server_sql_mode = xstrdup(res.nrows ? myeng_text(&res, 0, 0) : "");
	myeng_res_free(&res);
	buf_append(&b, MYENG_SQL_MODE);
	for (const char *p = kept; *p; p += strcspn(p, ","), p += *p == ',') {
		char *flag = xstrndup(p, strcspn(p, ","));

		if (myeng_sql_mode_has(e->server_sql_mode, flag))
			buf_printf(&b, ",%s", flag);
		free(flag);
	}
	e->sql_mode = buf_take(&b);
	return 0;
}

/*
 * Connect a session as shade needs it. setup: the session settings every
 * statement of the migration relies on (the killer needs none).
 */
int WARN_UNUSED
myeng_connect(struct eng *e, MYSQL **out, bool setup, struct shade_err *err)
{
	const char *pw = e->dsn.password;
	char *typed = NULL;
	struct myeng_params p = {0};
	struct buf b = {0};
	MYSQL *c = NULL;
	bool timed_out;
	int rc = -1;

	if (myeng_init_conn(e, &c, err) != 0)
		return -1;
	/* MYSQL_PWD is the client tools' convention; the library ignores it. */
	if (pw == NULL)
		pw = getenv("MYSQL_PWD");
	if (myeng_connect_once(e, c, pw, &timed_out) != 0) {
		bool aborted = false;

		if (mysql_errno(c) != ER_ACCESS_DENIED_ERROR || pw != NULL ||
		    !isatty(STDIN_FILENO) ||
		    (typed = tty_read_secret(e->w, "Password: ", &aborted)) == NULL) {
			myeng_connect_failed(e, c, timed_out, err);
			if (aborted) {
				err_set(err, SHADE_ABORTED, "aborted at the password prompt");
				err->cancelled = true;
			}
			goto out;
		}
		mysql_close(c);
		c = NULL;
		if (myeng_init_conn(e, &c, err) != 0)
			goto out;
		if (myeng_connect_once(e, c, typed, &timed_out) != 0) {
			myeng_connect_failed(e, c, timed_out, err);
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
	 * queues long behind shade. The time zone stays the server's: the
	 * plain ALTER converts between TIMESTAMP and other types, and fills
	 * current-time defaults, in it (preflight refuses TIMESTAMP keys where
	 * it has daylight saving time).
	 */
	if (e->sql_mode == NULL && myeng_session_mode(e, c, err) != 0)
		goto out;
	myeng_param_str(&p, e->sql_mode);
	sql_build(&b, SQL_MYSQL,
		  "SET SESSION lock_wait_timeout = %l, SESSION sql_quote_show_create = 1",
		  (long long)(e->opts->lock_timeout > 1 ? ceil(e->opts->lock_timeout) : 1));
	if (myeng_exec(e, c, "SET SESSION sql_mode = ?", &p, NULL, NULL, err) != 0 ||
	    myeng_exec(e, c, buf_str(&b), NULL, NULL, NULL, err) != 0 ||
	    myeng_exec(e, c, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", NULL, NULL,
		       NULL, err) != 0)
		goto out;
	/* No statement time limit: an index build may take long. */
	if (strstr(mysql_get_server_info(c), "MariaDB") != NULL &&
	    myeng_exec(e, c, "SET SESSION max_statement_time = 0", NULL, NULL, NULL, err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0 && c != NULL) {
		mysql_close(c);
		if (*out == c)
			*out = NULL;
	}
	if (typed) {
		explicit_bzero(typed, strlen(typed));
		free(typed);
	}
	myeng_params_free(&p);
	buf_free(&b);
	return rc;
}

int
myeng_conn_open(struct eng **out, const struct dsn *dsn, struct dbwait *w,
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

void
myeng_conn_close(struct eng *e)
{
	if (e == NULL)
		return;
	myeng_disconnect(&e->conn);
	myeng_disconnect(&e->killer);
	myeng_disconnect(&e->locker);
	myeng_disconnect(&e->renamer);
	myeng_disconnect(&e->fence);
	if (e->dsn.password)
		explicit_bzero(e->dsn.password, strlen(e->dsn.password));
	dsn_free(&e->dsn);
	qname_free(&e->orig);
	qname_free(&e->shadow);
	qname_free(&e->log);
	qname_free(&e->old);
	qname_free(&e->sentry);
	qname_free(&e->state);
	free(e->alter_body);
	for (size_t i = 0; i < ARRAY_LEN(e->trg); i++)
		qname_free(&e->trg[i]);
	free(e->seq);
	free(e->display);
	free(e->server_sql_mode);
	free(e->sql_mode);
	for (size_t i = 0; i < e->npk; i++)
		myeng_key_free(&e->pk[i]);
	free(e->pk);
	strlist_free(&e->pkcols);
	strlist_free(&e->shadow_pk);
	strlist_free(&e->src);
	strlist_free(&e->dst);
	strlist_free(&e->fill);
	strlist_free(&e->fill_values);
	free(e->ai_col);
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
	myeng_fk_free(e);
	free(e->ai_key);
	free(e->new_pk_def);
	free(e->sql_max);
	free(e->sql_probe_first);
	free(e->sql_probe_next);
	free(e->sql_copy_first);
	free(e->sql_copy_next);
	free(e);
	mysql_library_end();
}
