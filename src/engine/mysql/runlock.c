/*
 * engine/mysql/runlock.c - one shade per table: a named user lock
 * (GET_LOCK) on the main connection, taken at preflight and held until the
 * session ends (shade exits, or its connection dies: the server releases
 * it then; the client library never reconnects behind shade's back).
 *
 * The name is "shade:" and T's database-qualified name as sql_build's %Q
 * quotes it, "shade:`db`.`t`", so that a dot in a name cannot make two
 * tables one. MySQL refuses a lock name longer than 64 characters: a longer
 * one becomes "shade:" and the SHA1 of the quoted name, which the server
 * computes, so that every shade agrees on it. Lock names compare as the
 * server's own: exactly on MariaDB, case-insensitively on MySQL 5.7 and
 * later (there two tables whose names differ only in case would refuse
 * each other; the message names the holder).
 *
 * A dry run takes the lock too (preflight does not know it is one), and is
 * refused while a migration runs, as it already was for the migration's
 * objects; it holds the lock for as long as it takes, a second or so.
 */
#include <stdlib.h>
#include <string.h>

#include "myeng.h"

/*
 * One attempt: whether it was taken, and who holds the lock now (this
 * connection when taken; NULL when nobody does any more).
 */
static const char sql_try[] =
	"SELECT GET_LOCK(n, 0), IS_USED_LOCK(n)"
	" FROM (SELECT IF(CHAR_LENGTH(CONCAT('shade:', x)) <= 64, CONCAT('shade:', x),"
	"                 CONCAT('shade:', SHA1(x))) AS n"
	"       FROM (SELECT ? AS x) q) l";

/*
 * What the server says about the holder's connection, appended to the
 * message; best effort: the processlist shows another user's sessions only
 * to a user with PROCESS, and performance_schema (off, or not granted) may
 * say nothing.
 */
static void
myeng_runlock_holder(struct eng *e, const char *id, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	struct shade_err ignored = {0};

	myeng_param_int(&p, strtoll(id, NULL, 10));
	if (myeng_query(e, "SELECT USER, HOST FROM information_schema.PROCESSLIST WHERE ID = ?", &p,
			&res, &ignored) == 0 &&
	    res.nrows > 0)
		err_append(err, ", user %s@%s", myeng_text(&res, 0, 0), myeng_text(&res, 0, 1));
	myeng_res_free(&res);
	err_clear(&ignored);
	if (myeng_query(e,
			"SELECT ATTR_NAME, ATTR_VALUE FROM performance_schema.session_connect_attrs"
			" WHERE PROCESSLIST_ID = ? AND ATTR_NAME IN ('program_name', '_pid')"
			" ORDER BY ATTR_NAME DESC",
			&p, &res, &ignored) == 0) {
		for (size_t i = 0; i < res.nrows; i++) {
			bool pid = strcmp(myeng_text(&res, i, 0), "_pid") == 0;

			err_append(err, ", %s %s", pid ? "client pid" : "program",
				   myeng_text(&res, i, 1));
		}
	}
	myeng_res_free(&res);
	err_clear(&ignored);
	myeng_params_free(&p);
}

/*
 * One attempt. 0 with *taken when this connection holds the lock now; 0
 * and not *taken with err filled (the refusal) when another connection
 * does, *gone when none does any more (the holder ended meanwhile).
 */
static int WARN_UNUSED
myeng_runlock_try(struct eng *e, const char *name, bool *taken, bool *gone, struct shade_err *err)
{
	struct myeng_params p = {0};
	struct myeng_res res = {0};
	const char *got, *holder;
	int rc = -1;

	myeng_param_str(&p, name);
	if (myeng_query(e, sql_try, &p, &res, err) != 0)
		goto out;
	got = myeng_cell(&res, 0, 0);
	holder = myeng_cell(&res, 0, 1);
	if (got == NULL) {
		err_set(err, SHADE_FAILED, "cannot take shade's lock on %s: GET_LOCK returned NULL",
			e->display);
		goto out;
	}
	*taken = strcmp(got, "1") == 0;
	*gone = !*taken && holder == NULL;
	if (!*taken) {
		err_set(err, SHADE_USAGE, "another shade is running on %s (%s connection id %s",
			e->display, e->mariadb ? "MariaDB" : "MySQL", holder ? holder : "unknown");
		if (holder)
			myeng_runlock_holder(e, holder, err);
		err_append(err, ")");
	}
	rc = 0;
out:
	myeng_params_free(&p);
	myeng_res_free(&res);
	return rc;
}

/*
 * Take the run lock on e->conn, or refuse with SHADE_USAGE naming the
 * connection that holds it. Needs e->orig and e->display (preflight sets
 * them). Call it again on a new connection after a reconnect: the lock
 * went with the old session. Taking it twice in one session is harmless.
 */
int
myeng_runlock_take(struct eng *e, struct shade_err *err)
{
	struct buf b = {0};
	int rc = -1;

	sql_build(&b, SQL_MYSQL, "%Q", &e->orig);
	/* A holder that ends between GET_LOCK and IS_USED_LOCK: try again. */
	for (int attempt = 0; attempt < 2; attempt++) {
		bool taken = false, gone = false;

		if (myeng_runlock_try(e, buf_str(&b), &taken, &gone, err) != 0)
			goto out;
		if (taken) {
			rc = 0;
			goto out;
		}
		if (!gone)
			goto out;
	}
out:
	buf_free(&b);
	return rc;
}
