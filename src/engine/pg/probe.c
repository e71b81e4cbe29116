/*
 * engine/pg/probe.c - the throttle's probes on PostgreSQL (throttle.h),
 * each one short statement on a connection of the probes' own:
 *
 *   load      backends running a statement now (pg_stat_activity);
 *   lag       on a standby (--replica): how far its replay is behind;
 *   replicas  on the primary: each standby in pg_stat_replication;
 *   query     the operator's --throttle-query.
 *
 * pg_stat_replication's replay_lag does not grow while a standby's replay
 * stands still (it is measured when a position is replayed, so a paused
 * replay keeps its last value, and an idle one reads NULL): the primary's
 * view is timed here instead, from when this connection saw the primary's
 * WAL pass the standby's replay position.
 */
#include "pgsql.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A cell as a number; false when it is NULL or no number. */
static bool
pgsql_probe_number(const PGresult *res, int row, int col, double *out)
{
	const char *s;
	char *end;

	if (PQgetisnull(res, row, col))
		return false;
	s = PQgetvalue(res, row, col);
	*out = strtod(s, &end);
	return end != s && *end == '\0' && isfinite(*out);
}

int
pgsql_probe_load(struct eng *e, long *load, struct shade_err *err)
{
	PGresult *res = NULL;

	/*
	 * shade's own sessions are idle while a probe runs (the probes run
	 * between the migration's statements): only this one is left out.
	 */
	if (pgsql_exec(e,
		       "SELECT count(*) FROM pg_catalog.pg_stat_activity"
		       " WHERE state = 'active' AND backend_type = 'client backend'"
		       "   AND pid <> pg_catalog.pg_backend_pid()",
		       0, NULL, &res, err) != 0)
		return -1;
	*load = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

/*
 * On a standby: 0 when it has replayed all it received, else the age of
 * the last transaction it replayed (which grows while replay stands
 * still and the primary writes on).
 */
int
pgsql_probe_lag(struct eng *e, double *seconds, char *why, size_t len, struct shade_err *err)
{
	PGresult *res = NULL;

	*seconds = -1;
	if (pgsql_exec(e,
		       "SELECT pg_catalog.pg_is_in_recovery(),"
		       "  pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(),"
		       "    pg_catalog.pg_last_wal_replay_lsn()) <= 0,"
		       "  extract(epoch FROM pg_catalog.now()"
		       "    - pg_catalog.pg_last_xact_replay_timestamp())",
		       0, NULL, &res, err) != 0)
		return -1;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		snprintf(why, len, "it is not a standby (pg_is_in_recovery() is false)");
	else if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
		*seconds = 0;
	else if (!pgsql_probe_number(res, 0, 2, seconds))
		snprintf(why, len, "it has replayed no transaction yet");
	else if (*seconds < 0)
		*seconds = 0;  /* clocks a little apart */
	PQclear(res);
	return 0;
}

/* Remember that the primary's WAL was at lsn at time now. */
static void
pgsql_probe_saw(struct eng *e, double now, double lsn)
{
	if (e->nwal_seen > 0 && e->wal_seen[e->nwal_seen - 1].lsn >= lsn)
		return;  /* no new WAL: the older sample times it better */
	if (e->nwal_seen == PGSQL_WAL_SEEN) {
		/* Full: keep every other one, so the oldest stay (coarser). */
		for (size_t i = 0; i < PGSQL_WAL_SEEN / 2; i++)
			e->wal_seen[i] = e->wal_seen[2 * i];
		e->nwal_seen = PGSQL_WAL_SEEN / 2;
	}
	e->wal_seen[e->nwal_seen++] = (struct pgsql_wal_seen){.at = now, .lsn = lsn};
}

/*
 * How long the WAL after replay has waited: since this connection first
 * saw the primary's WAL past it. A lower bound (the write came between
 * two probes), never a guess upward.
 */
static double
pgsql_probe_waited(const struct eng *e, double now, double replay)
{
	for (size_t i = 0; i < e->nwal_seen; i++)
		if (e->wal_seen[i].lsn > replay)
			return now - e->wal_seen[i].at;
	return 0;
}

/* Lag of each standby (and of a logical walsender) the primary serves. */
int
pgsql_probe_replicas(struct eng *e, struct throttle_lags *out, struct shade_err *err)
{
	PGresult *res = NULL;
	double now = now_seconds(), cur = 0;

	if (pgsql_exec(e,
		       "SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), '0/0'),"
		       "  r.pid, r.application_name, coalesce(pg_catalog.host(r.client_addr),"
		       "  'local socket'), pg_catalog.pg_wal_lsn_diff(r.replay_lsn, '0/0'),"
		       "  extract(epoch FROM r.replay_lag), r.state"
		       " FROM pg_catalog.pg_stat_replication r RIGHT JOIN (SELECT) c ON true",
		       0, NULL, &res, err) != 0)
		return -1;
	if (!pgsql_probe_number(res, 0, 0, &cur)) {
		err_set(err, SHADE_FAILED, "pg_current_wal_lsn() gave no position");
		PQclear(res);
		return -1;
	}
	pgsql_probe_saw(e, now, cur);
	for (int i = 0; i < PQntuples(res); i++) {
		double replay, lag = 0;
		char name[200], why[200];

		if (PQgetisnull(res, i, 1))
			continue;  /* no standby at all */
		snprintf(name, sizeof(name), "standby %s from %s", PQgetvalue(res, i, 2),
			 PQgetvalue(res, i, 3));
		if (!pgsql_probe_number(res, i, 4, &replay)) {
			snprintf(why, sizeof(why), "no replay position yet (state %s)",
				 PQgetvalue(res, i, 6));
			throttle_lags_push(out, name, -1, why);
			continue;
		}
		if (replay < cur) {
			lag = pgsql_probe_waited(e, now, replay);
			double reported;

			if (pgsql_probe_number(res, i, 5, &reported) && reported > lag)
				lag = reported;
		}
		throttle_lags_push(out, name, lag, NULL);
	}
	PQclear(res);
	return 0;
}

/* A cell's text as the query's verdict: a number, or a boolean. */
static int
pgsql_probe_verdict(const PGresult *res, double *value, struct shade_err *err)
{
	const char *s;

	*value = 0;
	if (PQnfields(res) < 1) {
		err_set(err, SHADE_FAILED, "it returned no column");
		return -1;
	}
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
		return 0;
	s = PQgetvalue(res, 0, 0);
	if (strcmp(s, "t") == 0 || strcmp(s, "f") == 0) {
		*value = s[0] == 't';
		return 0;
	}
	if (!pgsql_probe_number(res, 0, 0, value)) {
		err_set(err, SHADE_FAILED, "it returned \"%.60s\", not a number", s);
		return -1;
	}
	return 0;
}

/*
 * The operator's query, with the operator's search_path, in a read-only
 * transaction: a monitoring query has nothing to write.
 */
int
pgsql_probe_query(struct eng *e, const char *sql, double *value, struct shade_err *err)
{
	PGresult *res = NULL;
	int rc = -1;

	if (pgsql_exec_run(e, "BEGIN READ ONLY", err) != 0 || pgsql_exec_user_path(e, err) != 0 ||
	    pgsql_exec(e, sql, 0, NULL, &res, err) != 0 || pgsql_probe_verdict(res, value, err) != 0)
		goto out;
	rc = 0;
out:
	PQclear(res);
	pgsql_exec_reset_txn(e);
	return rc;
}

void
pgsql_probe_name(struct eng *e, char *out, size_t len)
{
	const char *host = PQhost(e->conn);

	snprintf(out, len, "host=%s port=%s", host && *host ? host : "localhost",
		 PQport(e->conn) ? PQport(e->conn) : "5432");
}
