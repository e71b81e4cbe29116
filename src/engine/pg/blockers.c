/*
 * engine/pg/blockers.c - who kept shade from its lock on T.
 *
 * When a statement that locks T (the swap's LOCK TABLE) runs into
 * lock_timeout, the caller retries after a pause, and the operator wants
 * to know whom shade is waiting for. pg_locks shows which sessions hold a
 * granted lock on T in a mode that conflicts with the one shade asked
 * for; pg_stat_activity who they are, since when their transaction runs
 * and their current statement (or, idle in the transaction, their last).
 * That goes at the end of the error's message, after ERR_BLOCKED_BY
 * (util.h), where the retry note finds it.
 *
 * It is read a moment after the timeout, once the failed transaction is
 * rolled back: a holder that has finished meanwhile is not named, and when
 * none is left nothing is said. Only granted locks count, as the lock
 * queue's order is not shown; shade's own session is never named (it
 * holds nothing on T here anyway). The lookup is a courtesy: when it
 * fails, the error stays as it was.
 */
#include "pgsql.h"

#include <stdio.h>
#include <string.h>

/* Holders named; the others are counted. */
#define PGSQL_BLOCKERS_SHOWN 3
/* The longest a statement's text is shown, in bytes. */
#define PGSQL_BLOCKERS_QUERY_MAX 200
/* Room left in the message for the context a caller adds after this. */
#define PGSQL_BLOCKERS_RESERVE 128

/*
 * $1 T's oid, $2 the conflicting modes (a text[]), $3 lock_timeout in
 * seconds. A session whose transaction began after shade asked for its
 * lock (now less the timeout, or a little later) has not kept shade
 * waiting: it queued behind shade's request, and got its lock when shade
 * gave up. Writers of T are such sessions, and they would crowd out the
 * one to blame. (pg_stat_activity hides another role's xact_start from a
 * role without pg_read_all_stats: such a session stays.) The oldest
 * transaction first: the likeliest to be the one to end. A holder without
 * a user (autovacuum) has its backend type instead. The statement loses
 * its final semicolons, which would run into the ";" between two holders.
 */
static const char sql_blockers[] =
	"SELECT a.pid, a.usename, a.backend_type,"
	"  pg_catalog.floor(pg_catalog.date_part('epoch',"
	"    pg_catalog.now() - a.xact_start))::pg_catalog.int8,"
	"  pg_catalog.rtrim(a.query, E'; \\t\\n\\r'), a.state LIKE 'idle%'"
	" FROM pg_catalog.pg_stat_activity a"
	" WHERE a.pid IN (SELECT l.pid FROM pg_catalog.pg_locks l"
	"   WHERE l.locktype = 'relation' AND l.granted"
	"     AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d"
	"                        WHERE d.datname = pg_catalog.current_database())"
	"     AND l.relation = $1::pg_catalog.oid"
	"     AND l.mode = ANY ($2::pg_catalog.text[]))"
	"   AND a.pid <> pg_catalog.pg_backend_pid()"
	"   AND (a.xact_start IS NULL OR a.xact_start <"
	"        pg_catalog.now() - pg_catalog.make_interval(secs => $3::pg_catalog.float8))"
	" ORDER BY a.xact_start NULLS LAST, a.pid";

/* One holder: "pid 12 (user app, transaction open 8 s, idle): UPDATE ...". */
static void
pgsql_blockers_describe(const PGresult *res, int row, struct buf *b)
{
	struct buf info = {0};

	if (!PQgetisnull(res, row, 1))
		buf_printf(&info, "user %s", PQgetvalue(res, row, 1));
	else if (!PQgetisnull(res, row, 2))
		buf_append(&info, PQgetvalue(res, row, 2));
	if (!PQgetisnull(res, row, 3))
		buf_printf(&info, "%stransaction open %s s", info.len ? ", " : "",
			   PQgetvalue(res, row, 3));
	/* Idle in its transaction: the statement shown is its last. */
	if (strcmp(PQgetvalue(res, row, 5), "t") == 0)
		buf_printf(&info, "%sidle", info.len ? ", " : "");
	buf_printf(b, "pid %s", PQgetvalue(res, row, 0));
	if (info.len)
		buf_printf(b, " (%s)", buf_str(&info));
	if (*PQgetvalue(res, row, 4)) {
		buf_append(b, ": ");
		buf_append_line(b, PQgetvalue(res, row, 4), PGSQL_BLOCKERS_QUERY_MAX);
	}
	buf_free(&info);
}

int
pgsql_blockers_list(struct eng *e, const char *modes, struct buf *list, struct shade_err *err)
{
	PGresult *res = NULL;
	char oid[16], timeout[32];
	const char *params[3] = {oid, modes, timeout};
	int n;

	snprintf(oid, sizeof(oid), "%u", e->orig_oid);
	snprintf(timeout, sizeof(timeout), "%.3f", e->opts->lock_timeout);
	if (pgsql_exec(e, sql_blockers, 3, params, &res, err) != 0)
		return -1;
	n = PQntuples(res);
	for (int i = 0; i < n && i < PGSQL_BLOCKERS_SHOWN; i++) {
		if (i > 0)
			buf_append(list, "; ");
		pgsql_blockers_describe(res, i, list);
	}
	if (n > PGSQL_BLOCKERS_SHOWN)
		buf_printf(list, "; and %d more", n - PGSQL_BLOCKERS_SHOWN);
	PQclear(res);
	return n;
}

void
pgsql_blockers_append(struct eng *e, const char *modes, struct shade_err *err)
{
	struct shade_err ignored = {0};
	struct buf list = {0}, line = {0};
	size_t used = strlen(err->msg), room;

	if (!err->retryable || strcmp(err->sqlstate, SQLSTATE_LOCK_NOT_AVAILABLE) != 0)
		return;
	buf_append(&list, ERR_BLOCKED_BY " ");
	if (pgsql_blockers_list(e, modes, &list, &ignored) <= 0)
		goto out;
	/* Cut to what the message has room for, leaving the caller some. */
	room = sizeof(err->msg) - 1 - used;
	if (room < PGSQL_BLOCKERS_RESERVE + 32)
		goto out;
	room -= PGSQL_BLOCKERS_RESERVE;
	buf_append_line(&line, buf_str(&list), room);
	err_append(err, "%s", buf_str(&line));
out:
	err_clear(&ignored);
	buf_free(&list);
	buf_free(&line);
}
