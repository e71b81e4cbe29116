/*
 * engine/mysql/blockers.c - who kept shade from its lock on T.
 *
 * When a LOCK TABLES on T (the swap's locker) runs into lock_wait_timeout,
 * the caller retries after a pause, and the operator wants to know whom
 * shade is waiting for: the sessions that hold a metadata lock on T of a
 * type that conflicts with the one shade asked for. That goes at the end
 * of the error's message, after ERR_BLOCKED_BY (util.h), where the retry
 * note finds it: the thread id (KILL takes it), the user, since when its
 * transaction runs, and its current statement, if it is running one.
 *
 * performance_schema.metadata_locks shows the holders, but only when the
 * server runs with performance_schema on and its MDL instrument
 * (wait/lock/metadata/sql/mdl) enabled, which MariaDB leaves off by
 * default; reading it takes the SELECT privilege on performance_schema.
 * Without it, the likely blockers are the transactions open in T's
 * database (information_schema.INNODB_TRX, PROCESSLIST) that have locked a
 * table, or for a lock that readers block too, all of them: the message
 * says "probably". PROCESSLIST shows other users' sessions, and INNODB_TRX
 * anything, only with the PROCESS privilege.
 *
 * It is read a moment after the timeout: a holder that has finished
 * meanwhile is not named, and when none is left nothing is said. shade's
 * own connections are never named. The lookup is a courtesy: when it
 * fails, the error stays as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysqld_error.h>

#include "myeng.h"

/* Holders named; the others are counted. */
#define MYENG_BLOCKERS_SHOWN 3
/* The longest a statement's text is shown, in bytes. */
#define MYENG_BLOCKERS_QUERY_MAX 200
/* Room left in the message for the context a caller adds after this. */
#define MYENG_BLOCKERS_RESERVE 128

/* Does the server show metadata locks? */
static const char sql_mdl_shown[] =
	"SELECT @@performance_schema AND ENABLED = 'YES'"
	" FROM performance_schema.setup_instruments"
	" WHERE NAME = 'wait/lock/metadata/sql/mdl'";

/*
 * The holders of T's metadata lock of a type in a list (FIND_IN_SET's
 * comma list); bound: T's database, T, the list, shade's four connection
 * ids. The oldest transaction first: the likeliest to be the one to end.
 * Columns: id, user, seconds the transaction is open (NULL: none),
 * statement (NULL: none), idle.
 */
static const char sql_mdl_holders[] =
	"SELECT p.ID, p.USER, TIMESTAMPDIFF(SECOND, x.trx_started, NOW()), p.INFO,"
	"  p.COMMAND = 'Sleep'"
	" FROM information_schema.PROCESSLIST p"
	" LEFT JOIN information_schema.INNODB_TRX x ON x.trx_mysql_thread_id = p.ID"
	" WHERE p.ID IN (SELECT h.PROCESSLIST_ID"
	"   FROM performance_schema.metadata_locks m"
	"   JOIN performance_schema.threads h ON h.THREAD_ID = m.OWNER_THREAD_ID"
	"   WHERE m.OBJECT_TYPE = 'TABLE' AND m.OBJECT_SCHEMA = ? AND m.OBJECT_NAME = ?"
	"     AND m.LOCK_STATUS = 'GRANTED' AND FIND_IN_SET(m.LOCK_TYPE, ?) > 0)"
	"   AND p.ID NOT IN (?, ?, ?, ?)"
	" ORDER BY x.trx_started IS NULL, x.trx_started, p.ID";

/*
 * Without the metadata locks: the transactions open in T's database. One
 * that has locked no table yet has only read, which matters only when the
 * list holds SHARED_READ (readers block the lock). Bound: T's database,
 * the list, shade's four connection ids; the same columns.
 */
static const char sql_open_trx[] =
	"SELECT p.ID, p.USER, TIMESTAMPDIFF(SECOND, x.trx_started, NOW()), p.INFO,"
	"  p.COMMAND = 'Sleep'"
	" FROM information_schema.INNODB_TRX x"
	" JOIN information_schema.PROCESSLIST p ON p.ID = x.trx_mysql_thread_id"
	" WHERE p.DB = ? AND (x.trx_tables_locked > 0 OR FIND_IN_SET('SHARED_READ', ?) > 0)"
	"   AND p.ID NOT IN (?, ?, ?, ?)"
	" ORDER BY x.trx_started, p.ID";

/* Whether performance_schema shows metadata locks here (false on error). */
static bool
myeng_blockers_mdl_shown(struct eng *e)
{
	struct shade_err ignored = {0};
	struct myeng_res res = {0};
	bool shown = myeng_query(e, sql_mdl_shown, NULL, &res, &ignored) == 0 && res.nrows == 1 &&
		     strcmp(myeng_text(&res, 0, 0), "1") == 0;

	myeng_res_free(&res);
	err_clear(&ignored);
	return shown;
}

/* Bind shade's own connections' ids, 0 for one that is not open. */
static void
myeng_blockers_bind_own(struct eng *e, struct myeng_params *p)
{
	MYSQL *own[4] = {e->conn, e->locker, e->renamer, e->killer};

	for (size_t i = 0; i < ARRAY_LEN(own); i++)
		myeng_param_int(p, own[i] ? (long long)mysql_thread_id(own[i]) : 0);
}

/* One holder: "thread 12 (user app, transaction open 8 s): UPDATE ...". */
static void
myeng_blockers_describe(const struct myeng_res *res, size_t row, struct buf *b)
{
	const char *user = myeng_cell(res, row, 1), *age = myeng_cell(res, row, 2);
	const char *query = myeng_cell(res, row, 3);
	struct buf info = {0};

	if (user)
		buf_printf(&info, "user %s", user);
	if (age)
		buf_printf(&info, "%stransaction open %s s", info.len ? ", " : "", age);
	if (strcmp(myeng_text(res, row, 4), "1") == 0)
		buf_printf(&info, "%sidle", info.len ? ", " : "");
	buf_printf(b, "thread %s", myeng_text(res, row, 0));
	if (info.len)
		buf_printf(b, " (%s)", buf_str(&info));
	if (query && *query) {
		buf_append(b, ": ");
		buf_append_line(b, query, MYENG_BLOCKERS_QUERY_MAX);
	}
	buf_free(&info);
}

/*
 * The holders in res whose transaction is open at least min_age seconds
 * (0: all), appended to list; how many.
 */
static size_t
myeng_blockers_names(const struct myeng_res *res, double min_age, struct buf *list)
{
	size_t n = 0;

	for (size_t i = 0; i < res->nrows; i++) {
		const char *age = myeng_cell(res, i, 2);

		if (min_age > 0 && (age == NULL || strtod(age, NULL) < min_age))
			continue;
		if (n > 0 && n < MYENG_BLOCKERS_SHOWN)
			buf_append(list, "; ");
		if (n < MYENG_BLOCKERS_SHOWN)
			myeng_blockers_describe(res, i, list);
		n++;
	}
	if (n > MYENG_BLOCKERS_SHOWN)
		buf_printf(list, "; and %zu more", n - MYENG_BLOCKERS_SHOWN);
	return n;
}

/* Append the holders in res to err, as pgsql_blockers_append does. */
static void
myeng_blockers_say(const struct myeng_res *res, bool probably, struct shade_err *err)
{
	struct buf list = {0}, line = {0};
	size_t room = sizeof(err->msg) - 1 - strlen(err->msg);

	if (res->nrows == 0 || room < MYENG_BLOCKERS_RESERVE + 32)
		return;
	buf_append(&list, ERR_BLOCKED_BY " ");
	if (probably)
		buf_append(&list, "(probably) ");
	myeng_blockers_names(res, 0, &list);
	/* Cut to what the message has room for, leaving the caller some. */
	buf_append_line(&line, buf_str(&list), room - MYENG_BLOCKERS_RESERVE);
	err_append(err, "%s", buf_str(&line));
	buf_free(&list);
	buf_free(&line);
}

/* Bind the parameters of the holders' query, mdl or not. */
static void
myeng_blockers_bind(struct eng *e, bool mdl, const char *lock_types, struct myeng_params *p)
{
	myeng_param_str(p, e->orig.schema);
	if (mdl)
		myeng_param_str(p, e->orig.name);
	myeng_param_str(p, lock_types);
	myeng_blockers_bind_own(e, p);
}

int
myeng_blockers_list(struct eng *e, const char *lock_types, double min_age, struct buf *list,
		    bool *probably, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	bool mdl = myeng_blockers_mdl_shown(e);
	int n = -1;

	*probably = !mdl;
	myeng_blockers_bind(e, mdl, lock_types, &p);
	if (myeng_query(e, mdl ? sql_mdl_holders : sql_open_trx, &p, &res, err) == 0)
		n = (int)myeng_blockers_names(&res, min_age, list);
	myeng_params_free(&p);
	myeng_res_free(&res);
	return n;
}

void
myeng_blockers_append(struct eng *e, const char *lock_types, struct shade_err *err)
{
	struct shade_err ignored = {0};
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	bool mdl;

	if (!err->retryable || err->server_errno != ER_LOCK_WAIT_TIMEOUT)
		return;
	mdl = myeng_blockers_mdl_shown(e);
	myeng_blockers_bind(e, mdl, lock_types, &p);
	if (myeng_query(e, mdl ? sql_mdl_holders : sql_open_trx, &p, &res, &ignored) == 0)
		myeng_blockers_say(&res, !mdl, err);
	myeng_params_free(&p);
	myeng_res_free(&res);
	err_clear(&ignored);
}
