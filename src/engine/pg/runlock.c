/*
 * engine/pg/runlock.c - one shade per table: a session-level advisory lock
 * on the main connection, taken at preflight and held until the session
 * ends (shade exits, or its connection dies: the server releases it then).
 *
 * The key is two int4s (pg_try_advisory_lock(int4, int4)): a constant of
 * shade's own, and hashtext() of T's schema-qualified name as sql_build's
 * %Q writes it ("public"."items"). The name, not T's oid: the swap gives the name to another
 * relation (the shadow), and a second shade on that name before the first
 * has finished its clean-up must still be refused. Advisory locks belong
 * to one database, like the tables. Two names that share a hash (one in
 * 2^32) would refuse each other: the message names the holder, so the
 * operator can tell.
 *
 * A dry run takes the lock too (preflight does not know it is one), and is
 * refused while a migration runs, as it already was for the migration's
 * objects; it holds the lock for as long as it takes, a second or so.
 */
#include "pgsql.h"

#include <stdlib.h>
#include <string.h>

/* The first key: "shde" in ASCII, so that the lock reads as shade's. */
#define PGSQL_RUNLOCK_CLASS "1936221285"

static const char sql_try[] =
	"SELECT pg_catalog.pg_try_advisory_lock($1::pg_catalog.int4, pg_catalog.hashtext($2))";

/*
 * Who holds the lock: pg_locks shows the two int4 keys as oids (classid,
 * objid, objsubid 2). pg_stat_activity hides a client address from a user
 * who may not see another role's sessions, but never the user or the
 * application_name.
 */
static const char sql_holder[] =
	"SELECT l.pid, a.usename, a.application_name,"
	"  CASE WHEN a.client_port = -1 THEN 'local socket'"
	"   WHEN a.client_addr IS NOT NULL"
	"   THEN pg_catalog.host(a.client_addr) || ':' || a.client_port END"
	" FROM pg_catalog.pg_locks l"
	" LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid"
	" WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2"
	"   AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d"
	"                      WHERE d.datname = pg_catalog.current_database())"
	"   AND l.classid = $1::pg_catalog.int8::pg_catalog.oid"
	"   AND l.objid = (pg_catalog.hashtext($2)::pg_catalog.int8 & 4294967295)::pg_catalog.oid"
	"   AND l.pid <> pg_catalog.pg_backend_pid()"
	" LIMIT 1";

/* One attempt; *taken says whether this session holds the lock now. */
static int WARN_UNUSED
pgsql_runlock_try(struct eng *e, bool *taken, struct shade_err *err)
{
	const char *params[2] = {PGSQL_RUNLOCK_CLASS, e->orig_text};
	PGresult *res = NULL;

	if (pgsql_exec(e, sql_try, 2, params, &res, err) != 0)
		return -1;
	*taken = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

/*
 * The refusal, naming the holder. *found is false when no session holds
 * the lock any more (it ended between the attempt and this look).
 */
static int WARN_UNUSED
pgsql_runlock_refuse(struct eng *e, bool *found, struct shade_err *err)
{
	const char *params[2] = {PGSQL_RUNLOCK_CLASS, e->orig_text};
	PGresult *res = NULL;
	char *display;

	if (pgsql_exec(e, sql_holder, 2, params, &res, err) != 0)
		return -1;
	*found = PQntuples(res) > 0;
	display = xasprintf("%s.%s", e->orig.schema, e->orig.name);
	if (!*found) {
		err_set(err, SHADE_USAGE,
			"another shade is running on %s (PostgreSQL backend pid unknown: it has "
			"just ended)",
			display);
	} else {
		err_set(err, SHADE_USAGE,
			"another shade is running on %s (PostgreSQL backend pid %s", display,
			PQgetvalue(res, 0, 0));
		if (!PQgetisnull(res, 0, 1))
			err_append(err, ", user %s", PQgetvalue(res, 0, 1));
		if (!PQgetisnull(res, 0, 2) && PQgetvalue(res, 0, 2)[0] != '\0')
			err_append(err, ", application_name %s", PQgetvalue(res, 0, 2));
		if (!PQgetisnull(res, 0, 3))
			err_append(err, ", client %s", PQgetvalue(res, 0, 3));
		err_append(err, ")");
	}
	free(display);
	PQclear(res);
	return 0;
}

/*
 * Take the run lock on e's connection, or refuse with SHADE_USAGE naming
 * the session that holds it. Needs e->orig and e->orig_text (preflight
 * sets them). Call it again on a new connection after a reconnect: the
 * lock went with the old session. Taking it twice in one session is
 * harmless (the server counts).
 */
int
pgsql_runlock_take(struct eng *e, struct shade_err *err)
{
	/* A holder that ends between the attempt and the look: try again. */
	for (int attempt = 0; attempt < 2; attempt++) {
		bool taken = false, found = false;

		if (pgsql_runlock_try(e, &taken, err) != 0)
			return -1;
		if (taken)
			return 0;
		if (pgsql_runlock_refuse(e, &found, err) != 0)
			return -1;
		if (found)
			return -1;
	}
	return -1;
}
