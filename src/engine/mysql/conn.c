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
		status = mysql_real_connect_cont(&ret, c,
						 myeng_exec_wait(e, c, status, &no_cancel));
	return ret == NULL ? -1 : 0;
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
